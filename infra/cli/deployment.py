"""What ``imgedge package``, ``synth``, ``bootstrap`` and ``deploy`` share: the files a
deployment is built from, packaging them, and running the CDK CLI."""

from __future__ import annotations

import argparse
from pathlib import Path

from infra.cli.command import CommandError


def add_deployment_files(parser: argparse.ArgumentParser, *, dist: bool = True) -> None:
    """The options every AWS subcommand shares: what to build, with what, where."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the imgedge configuration, as `imgedge serve --config` reads it "
        "(default: $IMGEDGE_CONFIG, else the defaults); baked into both zips",
    )
    parser.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="the deployment settings (region, memory, buckets...; see infra/aws/settings.py)",
    )
    if dist:
        parser.add_argument(
            "--dist",
            type=Path,
            default=Path("dist"),
            metavar="DIR",
            help="where `imgedge package` puts the zips (default: dist)",
        )
        parser.add_argument(
            "--no-package",
            dest="package",
            action="store_false",
            help="use the zips already in --dist instead of packaging first",
        )
    parser.add_argument(
        "--cache-dir", type=Path, metavar="DIR", help="the wheel cache (default: ~/.cache/imgedge)"
    )


def package_for(args: argparse.Namespace, out: Path, arch: str | None, python: str | None) -> None:
    """Build both zips into ``out`` for the configuration and settings ``args`` name."""
    from infra.aws.settings import load_settings
    from infra.package import Target, package
    from shared.config import load_config

    config = load_config(args.config)
    settings = load_settings(args.settings)
    target = Target(arch or settings.resizer_architecture, python or settings.python)
    package(config, target, out, args.cache_dir, refresh=getattr(args, "refresh", False))


def add_cdk_options(parser: argparse.ArgumentParser) -> None:
    add_deployment_files(parser)
    parser.add_argument("--profile", metavar="NAME", help="the AWS profile the CDK CLI uses")
    parser.add_argument(
        "--out", type=Path, default=Path("cdk.out"), metavar="DIR", help="default: cdk.out"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the CDK CLI command instead of running it"
    )
    parser.add_argument(
        "cdk_args", nargs=argparse.REMAINDER, metavar="-- CDK_ARGS", help="passed to the CDK CLI"
    )


def run_cdk(args: argparse.Namespace, action: str) -> int:
    """Package (unless --no-package), then run ``cdk <action>``; its exit status."""
    import shlex
    import shutil
    import subprocess

    from infra.aws.toolkit import cdk_command

    extra = args.cdk_args[1:] if args.cdk_args[:1] == ["--"] else args.cdk_args
    command = cdk_command(
        action,
        dist=args.dist,
        config=args.config,
        settings=args.settings,
        output=args.out,
        profile=args.profile,
        extra=extra,
    )
    if args.dry_run:
        print(shlex.join(command))
        return 0
    if shutil.which("npx") is None:
        raise CommandError("needs Node.js (npx) for the CDK CLI")
    if args.package:
        package_for(args, args.dist, None, None)
    return subprocess.run(command, check=False).returncode
