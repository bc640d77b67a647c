"""``imgedge traces``: the traces the local stack's X-Ray daemon recorded."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.cli.command import Commands


def register(commands: Commands) -> None:
    traces = commands.add_parser(
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
    traces.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from infra.local.traces import read_traces, waterfall

    traces = read_traces(args.data_dir, args.limit or None)
    if args.json:
        print(json.dumps(traces, indent=2))
    elif not traces:
        print(f"no traces recorded under {args.data_dir}")
    else:
        print("\n\n".join(waterfall(trace) for trace in traces))
    return 0
