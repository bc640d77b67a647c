"""``imgedge precompute``: render the presets before viewers ask (``infra/precompute.py``).

Progress on stderr, the summary on stdout. Exit 0 if nothing failed, 1 if anything did or
the originals cannot be listed, 2 for an unknown preset or a bad configuration."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli.command import EXIT_FAILURE, CommandError
from infra.cli.discovery import (
    LOCAL_STACK_EPILOG,
    add_bucket_arguments,
    add_data_dir,
    defer_bucket_defaults,
    use_local_s3,
)

if TYPE_CHECKING:
    from infra.cli.command import Commands
    from infra.precompute import WorkerSettings

EXIT_USAGE = 2  # as argparse's: an unknown preset or a bad configuration, nothing tried


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "precompute",
        help="render every original's presets before viewers ask",
        description="Render the configured presets of every original under a prefix, "
        "skipping those already stored. Locally (default, or with --s3-endpoint) worker "
        "processes run the resizer's core; with --function NAME the deployed function is "
        "invoked.",
    )
    parser.add_argument("--prefix", default="", metavar="P", help="only originals under P")
    parser.add_argument(
        "--preset",
        action="append",
        metavar="NAME",
        help="a configured preset (repeatable; default: every preset)",
    )
    add_bucket_arguments(parser)
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="an imgedge configuration file (default: $IMGEDGE_CONFIG)",
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="parallel renders (default: processes = cores; invocations = 16)",
    )
    parser.add_argument(
        "--function",
        metavar="NAME",
        help="invoke this deployed regional function (lambda.invoke) instead of local workers",
    )
    add_data_dir(parser)
    defer_bucket_defaults(parser)
    parser.epilog = LOCAL_STACK_EPILOG
    parser.set_defaults(handler=run)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def run(args: argparse.Namespace) -> int:
    from shared.config import CONFIG_ENV

    stack = use_local_s3(args, "precompute", on_aws=bool(args.function))
    # The presets of the stack's own configuration, unless another one is named.
    if stack is not None and stack.config and not (args.config or os.environ.get(CONFIG_ENV)):
        args.config = Path(stack.config)
    return render(args)


def render(args: argparse.Namespace) -> int:
    """Precompute what ``args`` say, their S3 endpoint and buckets settled."""
    from botocore.exceptions import BotoCoreError, ClientError

    from infra import precompute
    from infra.inventory import Inventory, s3_client
    from regional_resizer.precompute import FAILED, chosen_presets, plan
    from shared.config import ConfigError, load_config

    try:
        config = load_config(args.config)
        presets = chosen_presets(config, args.preset)  # an unknown name: ValueError
    except (OSError, ConfigError, ValueError) as error:
        raise CommandError(str(error), EXIT_USAGE) from error
    inventory = Inventory(
        s3_client(args.s3_endpoint),
        config.originals(args.originals_bucket),  # and originals_buckets'
        args.derivatives_bucket,
    )
    try:
        sources = [original.key for original in inventory.originals(args.prefix)]
    except (ClientError, BotoCoreError) as error:
        raise CommandError(f"cannot list originals: {error}", EXIT_FAILURE) from error
    jobs = plan(sources, presets, config)

    progress = precompute.Progress(len(jobs), sys.stderr)
    outcomes = precompute.render(
        jobs,
        worker_settings(args),
        workers=args.workers,
        function=args.function,
        on_outcome=progress.add,
    )
    progress.finish()
    print(precompute.summary(outcomes))
    return EXIT_FAILURE if any(o.result == FAILED for o in outcomes) else 0


def worker_settings(args: argparse.Namespace) -> WorkerSettings:
    from infra.precompute import WorkerSettings

    return WorkerSettings(
        args.s3_endpoint,
        args.originals_bucket,
        args.derivatives_bucket,
        str(Path(args.config).resolve()) if args.config else None,
    )
