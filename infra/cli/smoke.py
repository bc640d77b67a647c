"""``imgedge smoke``: a deployed distribution (or the local stack) checked end to end
(``infra/smoke.py``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli.command import CommandError

if TYPE_CHECKING:
    from infra.cli.command import Commands


def register(commands: Commands) -> None:
    smoke = commands.add_parser(
        "smoke",
        help="check a deployed distribution (or the local stack) end to end",
        description="Request a fresh variant (a miss), the same again (a hit), another "
        "spelling of it (the same cache entry), a missing original (404) and a bad "
        "parameter (400); print the miss and hit latencies. Exit 1 if a check fails.",
    )
    smoke.add_argument(
        "url",
        nargs="?",
        metavar="URL",
        help="https://<distribution>.cloudfront.net (default: from DIST/outputs.json)",
    )
    smoke.add_argument(
        "--key",
        default="sample.png",
        metavar="KEY",
        help="an original in the originals bucket (default: sample.png)",
    )
    smoke.add_argument("--dist", type=Path, default=Path("dist"), metavar="DIR")
    smoke.set_defaults(handler=run)


def distribution_url(dist: Path) -> str:
    """The distribution's URL from the outputs `imgedge deploy` wrote."""
    from infra.aws.toolkit import OUTPUTS_FILE

    outputs = dist / OUTPUTS_FILE
    try:
        stacks = json.loads(outputs.read_text())
        url: str = next(o["DistributionUrl"] for o in stacks.values() if "DistributionUrl" in o)
    except (OSError, ValueError, StopIteration):
        raise CommandError(f"give a URL (no distribution in {outputs})") from None
    return url


def run(args: argparse.Namespace) -> int:
    from infra.smoke import run as smoke

    url = args.url or distribution_url(args.dist)
    try:
        report = smoke(url, args.key)
    except ValueError as error:  # not an http(s) URL
        raise CommandError(str(error)) from error
    return 0 if report.ok else 1
