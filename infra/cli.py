"""The ``imgedge`` command. One subcommand per job; each is a ``_cmd_*`` function that gets
the parsed arguments and returns the exit status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from shared.config import ConfigError


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535 (0: any free port)")
    return port


def _add_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the whole pipeline on this machine",
        description="Run the whole pipeline locally: an embedded S3 server (or --s3-endpoint), "
        "a CloudFront emulator with the edge router, and the regional resizer behind a "
        "function URL emulator. Stops on Ctrl-C or SIGTERM.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=_port, default=8080, metavar="PORT", help="edge port (0: any free port)"
    )
    serve.add_argument(
        "--s3-port",
        type=_port,
        default=9000,
        metavar="S3PORT",
        help="embedded S3 port (0: any free port)",
    )
    serve.add_argument(
        "--s3-endpoint", metavar="URL", help="use this S3 endpoint instead of an embedded one"
    )
    serve.add_argument("--originals-bucket", default="originals", metavar="NAME")
    serve.add_argument("--derivatives-bucket", default="derivatives", metavar="NAME")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".imgedge"),
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
        "--xray-daemon",
        metavar="HOST:PORT",
        help="send traces to this X-Ray daemon (UDP) instead of an embedded one",
    )
    serve.set_defaults(func=_cmd_serve)


def _add_traces(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    traces = subparsers.add_parser(
        "traces",
        help="show the traces the local stack recorded",
        description="Print the recent X-Ray traces recorded by `imgedge serve`'s embedded "
        "daemon, as a waterfall (default) or as JSON.",
    )
    traces.add_argument("--data-dir", type=Path, default=Path(".imgedge"), metavar="DIR")
    traces.add_argument("--json", action="store_true", help="print a JSON array of traces")
    traces.add_argument(
        "--limit", type=int, default=10, metavar="N", help="the last N traces (0: all)"
    )
    traces.set_defaults(func=_cmd_traces)


def _cmd_traces(args: argparse.Namespace) -> int:
    import json

    from infra.local.traces import read_traces, waterfall

    traces = read_traces(args.data_dir, args.limit or None)
    if args.json:
        print(json.dumps(traces, indent=2))
    elif not traces:
        print(f"no traces recorded under {args.data_dir}")
    else:
        print("\n\n".join(waterfall(trace) for trace in traces))
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from infra.local.stack import StackOptions, serve

    options = StackOptions(
        host=args.host,
        port=args.port,
        s3_port=args.s3_port,
        s3_endpoint=args.s3_endpoint,
        originals_bucket=args.originals_bucket,
        derivatives_bucket=args.derivatives_bucket,
        data_dir=args.data_dir,
        samples=args.samples,
        config_path=args.config,
        xray_daemon=args.xray_daemon,
    )
    try:
        return serve(options)
    except (OSError, RuntimeError, ImportError, ConfigError, ClientError, BotoCoreError) as error:
        print(f"imgedge serve: {error}", file=sys.stderr, flush=True)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgedge", description="On-the-fly image resizing behind CloudFront."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(subparsers)
    _add_traces(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
