"""``imgedge ls``: the originals, or one original's derivatives (``infra/inventory.py``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.cli.command import Commands


def register(commands: Commands) -> None:
    from infra import inventory

    ls = commands.add_parser(
        "ls",
        help="list originals, or one original's derivatives",
        description="List the originals, or one original's stored derivatives (found "
        "through its marker index) with format, dimensions, bytes and saving.",
    )
    inventory.add_arguments(ls)
    ls.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from infra import inventory

    status: int = inventory.run(args)
    return status
