"""How ``imgedge env``, ``ls``, ``precompute`` and ``traces`` find the running local stack.

``imgedge serve`` leaves ``stack.json`` in its data directory while it runs
(``infra/local/state.py``). A command looks in ``--data-dir`` if given, else in ``.imgedge``
of the current directory or its nearest parent that has a running stack. What the user
says wins: ``--s3-endpoint``, or an endpoint in the environment (``AWS_ENDPOINT_URL_S3``,
``AWS_ENDPOINT_URL``) other than the stack's, means that endpoint, and bucket options mean
those buckets. With no running stack and no endpoint, the commands talk to AWS.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from infra.cli.command import CommandError
from infra.local.credentials import DERIVATIVES_BUCKET, ORIGINALS_BUCKET

if TYPE_CHECKING:
    from infra.local.state import StackState

ENDPOINT_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")  # botocore's order for S3
BUCKET_OPTIONS = ("originals_bucket", "derivatives_bucket")
LOCAL_STACK_EPILOG = (
    "Without --s3-endpoint (or AWS_ENDPOINT_URL_S3), the S3 and buckets of the running "
    "`imgedge serve` found through --data-dir, else AWS."
)


def add_bucket_arguments(parser: argparse.ArgumentParser) -> None:
    """The S3 options ``ls`` and ``precompute`` share."""
    parser.add_argument(
        "--s3-endpoint",
        metavar="URL",
        help="an S3-compatible endpoint, e.g. the local stack's (default: AWS)",
    )
    parser.add_argument("--originals-bucket", default=ORIGINALS_BUCKET, metavar="NAME")
    parser.add_argument("--derivatives-bucket", default=DERIVATIVES_BUCKET, metavar="NAME")


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="the data directory of the running `imgedge serve` to use "
        "(default: .imgedge here or in a parent directory)",
    )


def running_stack(data_dir: Path | None) -> StackState | None:
    """The running stack in ``data_dir`` (which must have one), else the one found."""
    from infra.local.state import find_running

    stack = find_running(data_dir)
    if stack is None and data_dir is not None:
        raise CommandError(f"no local stack is running in {data_dir} (start `imgedge serve`)")
    return stack


def defer_bucket_defaults(parser: argparse.ArgumentParser) -> None:
    """Let a running stack name the buckets: the options' own defaults (kept aside) apply
    only when neither the command line nor a stack does."""
    kept = {dest: parser.get_default(dest) for dest in BUCKET_OPTIONS}
    parser.set_defaults(bucket_defaults=kept, **dict.fromkeys(BUCKET_OPTIONS))


def _same(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def use_local_s3(
    args: argparse.Namespace, command: str, *, on_aws: bool = False
) -> StackState | None:
    """Fill in ``args.s3_endpoint`` and the buckets from the running local stack where the
    user gave none; the stack used, if any. ``on_aws``: the command was told to work on AWS
    (precompute's ``--function`` without an endpoint); only ``--data-dir`` overrides that."""
    endpoint = args.s3_endpoint or next(
        (os.environ[name] for name in ENDPOINT_ENV if os.environ.get(name)), None
    )
    stack = None
    if not (on_aws and args.data_dir is None):
        stack = running_stack(args.data_dir)
    if stack is not None and endpoint is not None and not _same(endpoint, stack.s3_endpoint):
        if args.data_dir is not None:
            raise CommandError(
                f"the local stack in {args.data_dir} serves S3 at {stack.s3_endpoint}, "
                f"not {endpoint}"
            )
        stack = None  # another endpoint was asked for
    if stack is not None and not args.s3_endpoint:
        args.s3_endpoint = stack.s3_endpoint
        print(
            f"imgedge {command}: the local stack's S3 at {stack.s3_endpoint} "
            f"({Path(stack.data_dir) / 'stack.json'})",
            file=sys.stderr,
            flush=True,
        )
    for dest in BUCKET_OPTIONS:
        if getattr(args, dest) is None:
            chosen = getattr(stack, dest) if stack is not None else args.bucket_defaults[dest]
            setattr(args, dest, chosen)
    return stack
