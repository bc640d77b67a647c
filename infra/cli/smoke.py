"""``imgedge smoke``: a deployed distribution (or the local stack) checked end to end
(``infra/smoke.py``)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from infra.cli.command import CommandError
from infra.cli.discovery import add_data_dir, running_stack

if TYPE_CHECKING:
    from infra.cli.command import Commands
    from infra.local.state import StackState
    from infra.smoke import Options


def register(commands: Commands) -> None:
    smoke = commands.add_parser(
        "smoke",
        help="check a deployed distribution (or the local stack) end to end",
        description="One line per check, PASS, FAIL or SKIP (with the reason): a miss then "
        "a hit, another spelling (the same cache entry), a HEAD of a new size then a GET of "
        "it, a missing original (404), a bad parameter (400); with write access to the "
        "originals bucket, a purge of a replaced original and (with a signing key) a signed "
        "output over the inline limit followed to 200; with the traces (X-Ray, or the local "
        "stack's), the edge's and the resizer's segments in one trace and the resizer's "
        "botocore version. Exit 1 if a check fails. Against a running `imgedge serve` "
        "(its URL, or no URL and no DIST/outputs.json) the stack's bucket, configuration "
        "and traces are used.",
    )
    smoke.add_argument(
        "url",
        nargs="?",
        metavar="URL",
        help="https://<distribution>.cloudfront.net (default: from DIST/outputs.json, else "
        "the running local stack)",
    )
    smoke.add_argument(
        "--key",
        default="sample.png",
        metavar="KEY",
        help="an original in the originals bucket (default: sample.png)",
    )
    smoke.add_argument("--dist", type=Path, default=Path("dist"), metavar="DIR")
    smoke.add_argument(
        "--originals-bucket",
        metavar="NAME",
        help="the originals bucket, for the purge and signed checks (default: "
        "OriginalsBucket in DIST/outputs.json, or the local stack's)",
    )
    smoke.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the imgedge configuration whose signing_keys sign (default: $IMGEDGE_CONFIG, "
        "or the local stack's)",
    )
    smoke.add_argument("--signing-key-id", metavar="ID", help="a key id of signing_keys")
    smoke.add_argument(
        "--signing-secret",
        metavar="SECRET",
        help="its secret (default: $IMGEDGE_SIGNING_SECRET, or from --config)",
    )
    smoke.add_argument(
        "--purge-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long a replaced original may take to be served (default: 300)",
    )
    smoke.add_argument(
        "--trace-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for the trace to reach X-Ray (default: 120)",
    )
    add_data_dir(smoke)
    smoke.set_defaults(handler=run)


def _outputs(dist: Path) -> dict[str, str]:
    from infra.aws.toolkit import OUTPUTS_FILE

    try:
        stacks = json.loads((dist / OUTPUTS_FILE).read_text())
        return {k: str(v) for o in stacks.values() for k, v in o.items()}
    except (OSError, ValueError, AttributeError):
        return {}


def distribution_url(dist: Path) -> str:
    """The distribution's URL from the outputs `imgedge deploy` wrote."""
    from infra.aws.toolkit import OUTPUTS_FILE

    url = _outputs(dist).get("DistributionUrl")
    if url is None:
        raise CommandError(f"give a URL (no distribution in {dist / OUTPUTS_FILE})")
    return url


def _same_origin(a: str, b: str) -> bool:
    def origin(url: str) -> str:
        parts = urlsplit(url if "://" in url else "https://" + url)
        host = "127.0.0.1" if parts.hostname in ("localhost", "127.0.0.1") else parts.hostname
        return f"{parts.scheme}://{host}:{parts.port}"

    return origin(a) == origin(b)


def _signing_key(args: argparse.Namespace, config: Path | None) -> tuple[str, str] | None:
    """(key id, secret) from the flags, else the last of the configuration's signing_keys."""
    secret = args.signing_secret or os.environ.get("IMGEDGE_SIGNING_SECRET")
    if args.signing_key_id and secret:
        return args.signing_key_id, secret
    if config is None:
        return None
    from shared.config import load_config

    keys = dict(load_config(config).signing_keys)
    if args.signing_key_id:
        return (
            (args.signing_key_id, keys[args.signing_key_id])
            if args.signing_key_id in keys
            else None
        )
    return list(keys.items())[-1] if keys else None


def options(args: argparse.Namespace, url: str, stack: StackState | None) -> Options:
    """What the checks beyond HTTP get: the stack's when ``url`` is the local stack's,
    else the flags, the deployment's outputs and the AWS credentials."""
    from infra.smoke import LocalTraces, Options, Originals, XRayTraces

    chosen = Options(
        key=args.key, purge_timeout_s=args.purge_timeout, trace_timeout_s=args.trace_timeout
    )
    env_config = os.environ.get("IMGEDGE_CONFIG")
    config = args.config or (Path(env_config) if env_config else None)
    if stack is not None:
        from infra.local.credentials import client_settings
        from regional_resizer.storage import s3_client

        chosen.originals = Originals(
            s3_client(stack.s3_endpoint, **client_settings()),
            args.originals_bucket or stack.originals_bucket,
        )
        config = config or (Path(stack.config) if stack.config else None)
        if stack.traces_dir:
            chosen.traces = LocalTraces(Path(stack.traces_dir))
            chosen.extra_traced_requests = (
                0 if stack.config is None else chosen.extra_traced_requests
            )
        else:
            chosen.no_traces = "the local stack sends its traces to a daemon of its own"
        chosen.trace_timeout_s = min(chosen.trace_timeout_s, 15.0)
    else:
        import boto3

        bucket = args.originals_bucket or _outputs(args.dist).get("OriginalsBucket")
        session = boto3.Session()
        credentials = session.get_credentials()
        if credentials is None:
            chosen.no_originals = chosen.no_traces = "no AWS credentials"
        elif bucket is None:
            chosen.no_originals = "no --originals-bucket (nor OriginalsBucket in DIST/outputs.json)"
        else:
            from regional_resizer.storage import s3_client

            chosen.originals = Originals(s3_client(), bucket)
        if credentials is not None:
            try:
                chosen.traces = XRayTraces(session.client("xray"))
            except Exception as error:
                chosen.no_traces = f"no X-Ray client: {error}"
    try:
        chosen.signing_key = _signing_key(args, config)
    except Exception as error:
        raise CommandError(f"cannot read the signing keys of {config}: {error}") from error
    return chosen


def run(args: argparse.Namespace) -> int:
    from infra.smoke import run as smoke

    stack = running_stack(args.data_dir)
    if args.url:
        url = args.url
    elif stack is not None and not _outputs(args.dist).get("DistributionUrl"):
        url = stack.edge
    else:
        url = distribution_url(args.dist)
    if stack is not None and not _same_origin(url, stack.edge):
        stack = None
    try:
        report = smoke(url, options(args, url, stack))
    except ValueError as error:  # not an http(s) URL
        raise CommandError(str(error)) from error
    return report.exit_status
