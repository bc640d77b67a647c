"""``imgedge package``: the two Lambda zips (``infra/package.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli.deployment import add_deployment_files, package_for

if TYPE_CHECKING:
    from infra.cli.command import Commands


def register(commands: Commands) -> None:
    package = commands.add_parser(
        "package",
        help="build the two Lambda zips",
        description="Build edge_router.zip (stdlib and project code, the configuration "
        "baked in) and regional_resizer.zip (project code, configuration, and manylinux "
        "wheels for the target Python and architecture, without boto3), without Docker. "
        "Needs PyPI the first time for a target; later builds reuse the cache.",
    )
    package.add_argument(
        "--arch",
        choices=("x86_64", "arm64"),
        help="the resizer's architecture (default: the settings', arm64)",
    )
    package.add_argument(
        "--python", metavar="X.Y", help="the Lambda Python (default: the settings', 3.12)"
    )
    package.add_argument(
        "--out", type=Path, default=Path("dist"), metavar="DIR", help="default: dist"
    )
    add_deployment_files(package, dist=False)
    package.add_argument(
        "--refresh", action="store_true", help="resolve the dependencies again (newer wheels)"
    )
    package.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    package_for(args, args.out, args.arch, args.python)
    return 0
