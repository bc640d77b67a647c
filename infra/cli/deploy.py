"""``imgedge deploy``: package, then ``cdk deploy --all``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from infra.cli.deployment import add_cdk_options, run_cdk

if TYPE_CHECKING:
    from infra.cli.command import Commands


def register(commands: Commands) -> None:
    deploy = commands.add_parser(
        "deploy",
        help="package and deploy both stacks with the CDK CLI",
        description="Package (unless --no-package), then `cdk deploy --all` through npx "
        "(the CDK CLI from npm at a pinned version). The stack outputs (the distribution "
        "URL, the originals bucket) go to DIST/outputs.json. Needs AWS credentials.",
    )
    add_cdk_options(deploy)
    deploy.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_cdk(args, "deploy")
