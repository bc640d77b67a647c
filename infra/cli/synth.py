"""``imgedge synth``: the CloudFormation templates, offline (``infra/aws/app.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli.command import CommandError
from infra.cli.deployment import add_deployment_files, package_for

if TYPE_CHECKING:
    from infra.cli.command import Commands


def register(commands: Commands) -> None:
    synth = commands.add_parser(
        "synth",
        help="write the CloudFormation templates (offline)",
        description="Package (unless --no-package), then synthesize the CDK app: the main "
        "stack and the edge function's stack (us-east-1) as CloudFormation templates in "
        "--out, with cdk-nag's AWS Solutions and Serverless checks. Needs no AWS "
        "credentials, no Docker and no CDK CLI (Node.js runs aws-cdk-lib).",
    )
    add_deployment_files(synth)
    synth.add_argument(
        "--out", type=Path, default=Path("cdk.out"), metavar="DIR", help="default: cdk.out"
    )
    synth.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from infra.aws.settings import load_settings
    from shared.config import load_config

    if args.package:
        package_for(args, args.dist, None, None)
    config, settings = load_config(args.config), load_settings(args.settings)

    from aws_cdk import App

    from infra.aws.app import build
    from infra.aws.toolkit import feature_flags

    try:
        app = App(outdir=str(args.out), context=feature_flags())
        build(app, config, settings, args.dist)
        assembly = app.synth()
    except (RuntimeError, ValueError) as error:  # ours (dist/, region) and jsii's (cdk-nag)
        raise CommandError(str(error)) from error
    for stack in assembly.stacks:
        print(f"{stack.stack_name} ({stack.environment.region}): {stack.template_full_path}")
    return 0
