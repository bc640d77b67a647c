"""``imgedge traces``: the traces the local stack's X-Ray daemon recorded."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli.command import CommandError

if TYPE_CHECKING:
    from infra.cli.command import Commands


def register(commands: Commands) -> None:
    traces = commands.add_parser(
        "traces",
        help="show the traces the local stack recorded",
        description="Print the recent X-Ray traces recorded by `imgedge serve`'s embedded "
        "daemon, as a waterfall (default) or as JSON.",
    )
    traces.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the stack's data directory (default: the running stack's, else .imgedge)",
    )
    traces.add_argument("--json", action="store_true", help="print a JSON array of traces")
    traces.add_argument(
        "--limit", type=int, default=10, metavar="N", help="the last N traces (0: all)"
    )
    traces.set_defaults(handler=run)


def traces_dir(data_dir: Path | None) -> Path:
    """``data_dir`` if given; else the running stack's; else ``.imgedge``."""
    from infra.local.state import DEFAULT_DATA_DIR, find_running

    if data_dir is not None:
        return data_dir
    stack = find_running()
    if stack is None:
        return DEFAULT_DATA_DIR
    if stack.traces_dir is None:
        raise CommandError(
            f"the local stack sends its traces to the X-Ray daemon at {stack.xray_daemon}, "
            "which keeps them"
        )
    return Path(stack.traces_dir)


def run(args: argparse.Namespace) -> int:
    from infra.local.traces import read_traces, waterfall

    data_dir = traces_dir(args.data_dir)
    traces = read_traces(data_dir, args.limit or None)
    if args.json:
        print(json.dumps(traces, indent=2))
    elif not traces:
        print(f"no traces recorded under {data_dir}")
    else:
        print("\n\n".join(waterfall(trace) for trace in traces))
    return 0
