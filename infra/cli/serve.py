"""``imgedge serve``: the whole pipeline on this machine (``infra/local/stack.py``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli.command import CommandError
from infra.distribution import EDGE_TRIGGERS
from infra.local.credentials import DATA_DIR, DERIVATIVES_BUCKET, ORIGINALS_BUCKET

if TYPE_CHECKING:
    from infra.aws.settings import DeploySettings
    from infra.cli.command import Commands
    from infra.local.stack import StackOptions


def port(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535 (0: any free port)")
    return number


def register(commands: Commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the whole pipeline on this machine",
        description="Run the whole pipeline locally: an embedded S3 server (or --s3-endpoint), "
        "a CloudFront emulator with the edge router, and the regional resizer behind a "
        "function URL emulator. Stops on Ctrl-C or SIGTERM. While it runs, DIR/stack.json "
        "tells `imgedge env`, `ls`, `precompute` and `traces` where it is.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=port, default=8080, metavar="PORT", help="edge port (0: any free port)"
    )
    serve.add_argument(
        "--s3-port",
        type=port,
        default=9000,
        metavar="S3PORT",
        help="embedded S3 port (0: any free port)",
    )
    serve.add_argument(
        "--s3-endpoint", metavar="URL", help="use this S3 endpoint instead of an embedded one"
    )
    serve.add_argument("--originals-bucket", default=ORIGINALS_BUCKET, metavar="NAME")
    serve.add_argument("--derivatives-bucket", default=DERIVATIVES_BUCKET, metavar="NAME")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        metavar="DIR",
        help="where logs go (created if missing)",
    )
    serve.add_argument(
        "--no-samples", dest="samples", action="store_false", help="upload no sample images"
    )
    serve.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="an imgedge configuration file (default: $IMGEDGE_CONFIG)",
    )
    serve.add_argument(
        "--edge-trigger",
        choices=EDGE_TRIGGERS,
        help="the CloudFront event the edge router runs on, as deployed (default: the "
        "settings file's edge_trigger, else viewer-request; docs/deploying.md)",
    )
    serve.add_argument(
        "--settings",
        type=Path,
        metavar="FILE",
        help="the deployment settings file: its edge_trigger (unless --edge-trigger says "
        "otherwise), and the resizer's memory and timeout",
    )
    serve.add_argument(
        "--xray-daemon",
        metavar="HOST:PORT",
        help="send traces to this X-Ray daemon (UDP) instead of an embedded one",
    )
    serve.set_defaults(handler=run)


def deployment(args: argparse.Namespace) -> DeploySettings:
    """The deployment settings file's, or the defaults without ``--settings``."""
    from infra.aws.settings import load_settings

    try:
        return load_settings(args.settings)
    except (OSError, ValueError) as error:  # ValueError: TOML or settings
        raise CommandError(f"--settings {args.settings}: {error}") from error


def edge_trigger(args: argparse.Namespace, settings: DeploySettings) -> str:
    """--edge-trigger, else the settings' edge_trigger (viewer-request by default)."""
    return str(args.edge_trigger) if args.edge_trigger else settings.edge_trigger


def stack_options(args: argparse.Namespace) -> StackOptions:
    """The local stack ``args`` describe, the resizer's memory and timeout as deployed."""
    from infra.local.stack import StackOptions

    settings = deployment(args)
    return StackOptions(
        host=args.host,
        port=args.port,
        s3_port=args.s3_port,
        s3_endpoint=args.s3_endpoint,
        originals_bucket=args.originals_bucket,
        derivatives_bucket=args.derivatives_bucket,
        data_dir=args.data_dir,
        samples=args.samples,
        config_path=args.config,
        edge_trigger=edge_trigger(args, settings),
        resizer_memory_mb=settings.resizer_memory_mb,
        resizer_timeout_s=settings.resizer_timeout_s,
        xray_daemon=args.xray_daemon,
    )


def run(args: argparse.Namespace) -> int:
    from infra.local.stack import serve

    options = stack_options(args)
    try:
        return serve(options)
    except (RuntimeError, ImportError) as error:  # a piece that would not start; no moto
        raise CommandError(str(error)) from error
