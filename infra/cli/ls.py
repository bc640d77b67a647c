"""``imgedge ls``: the originals, or one original's derivatives (``infra/inventory.py``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from infra.cli.discovery import (
    LOCAL_STACK_EPILOG,
    add_data_dir,
    defer_bucket_defaults,
    use_local_s3,
)

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
    add_data_dir(ls)
    defer_bucket_defaults(ls)
    ls.epilog = LOCAL_STACK_EPILOG
    ls.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from infra import inventory

    use_local_s3(args, "ls")
    status: int = inventory.run(args)
    return status
