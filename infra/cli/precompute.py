"""``imgedge precompute``: render the presets before viewers ask (``infra/precompute.py``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
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
    from infra import precompute

    parser = commands.add_parser(
        "precompute",
        help="render every original's presets before viewers ask",
        description="Render the presets of every original under a prefix, skipping "
        "derivatives that exist, with the regional resizer's own handler (local worker "
        "processes) or the deployed function (--function).",
    )
    precompute.add_arguments(parser)
    add_data_dir(parser)
    defer_bucket_defaults(parser)
    parser.epilog = LOCAL_STACK_EPILOG
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from infra import precompute
    from shared.config import CONFIG_ENV

    stack = use_local_s3(args, "precompute", on_aws=bool(args.function))
    # The presets of the stack's own configuration, unless another one is named.
    if stack is not None and stack.config and not (args.config or os.environ.get(CONFIG_ENV)):
        args.config = Path(stack.config)
    status: int = precompute.run(args)
    return status
