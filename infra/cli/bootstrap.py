"""``imgedge bootstrap``: ``cdk bootstrap`` for the app's two environments."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from infra.cli.deployment import add_cdk_options, run_cdk

if TYPE_CHECKING:
    from infra.cli.command import Commands


def register(commands: Commands) -> None:
    bootstrap = commands.add_parser(
        "bootstrap",
        help="prepare your account for deploying (once per account)",
        description="Run `cdk bootstrap` for the app's environments: the home region and "
        "us-east-1 (where Lambda@Edge functions live). Needs AWS credentials and Node.js.",
    )
    add_cdk_options(bootstrap)
    bootstrap.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_cdk(args, "bootstrap")
