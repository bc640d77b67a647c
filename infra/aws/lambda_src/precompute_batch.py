"""One batch of ``imgedge precompute`` on AWS: the child workflow of the precompute state
machine (``infra/aws/precompute.py``) hands it a slice of the originals bucket's listing.

For each original it makes what ``imgedge precompute`` makes, with the same code: the plan
(``infra/precompute.py``: each preset normalized as the edge would, ``f=auto`` expanded into
every format it can yield), the skip of what is stored (HeadObject), and the regional
resizer's own handler given the same HEAD event of a miss, in this process, so derivatives
and their index markers are written by the production code path. It is a function of its
own, not an invocation of the resizer: precompute never takes the resizer's concurrency
from viewers, and runs at most one render per batch at a time.

Renders run one after another, each given the resizer's own time (``RENDER_TIMEOUT_S``, the
resizer's timeout) as its Lambda context's remaining time, as if it ran in the resizer.
Before each, the time left must cover one more render and a margin; when it does not, the
batch raises ``BatchUnfinished`` and the state machine runs it again, which skips what is
now stored.

Input:  {"Items": [{"key": "photos/cat.jpg"}, ...], "BatchInput": {"presets": ["thumb"]}}
        (no presets, or an empty list: every configured preset)
Output: {"made": 3, "skipped": 1, "failed": 1,
         "failures": [{"status": 415, "key": "256x256/webp/notes.txt", "preset": "thumb",
                       "message": "unsupported image format"}]}
Environment: ORIGINALS_BUCKET, DERIVATIVES_BUCKET, RENDER_TIMEOUT_S.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from infra.inventory import Inventory
from infra.precompute import (
    FAILED,
    MADE,
    SKIPPED,
    Job,
    Outcome,
    chosen_presets,
    classify,
    plan,
    resizer_event,
)
from regional_resizer.handler import config
from regional_resizer.handler import handler as resizer_handler
from regional_resizer.storage import s3_client

log = logging.getLogger("imgedge.precompute")
log.setLevel(logging.INFO)

RENDER_TIMEOUT_ENV = "RENDER_TIMEOUT_S"
DEFAULT_RENDER_TIMEOUT_S = 25  # the resizer_timeout_s default; the stack always sets it
MARGIN_MS = 5_000  # the skip check and the bookkeeping around one render
FAILURES_LISTED = 200  # per batch: its output must stay far below Step Functions' 256 KiB
MESSAGE_CHARS = 200
COUNTED = (MADE, SKIPPED, FAILED)


class BatchUnfinished(Exception):
    """Time ran out before every derivative of the batch was made. The state machine
    retries on this error (by its name); the next attempt skips what is stored."""


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class RenderContext:
    """What the resizer's handler is told of its Lambda context: one render's time."""

    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@cache
def inventory() -> Inventory:
    return Inventory(s3_client(), os.environ["ORIGINALS_BUCKET"], os.environ["DERIVATIVES_BUCKET"])


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sources = [str(item["key"]) for item in event.get("Items", [])]
    names = (event.get("BatchInput") or {}).get("presets") or None
    settings = config()
    jobs = plan(sources, chosen_presets(settings, names), settings)  # unknown preset: raises
    render = RenderContext(render_timeout_s() * 1000)
    outcomes: list[Outcome] = []
    for done, job in enumerate(jobs):
        left_ms = context.get_remaining_time_in_millis()
        if job.request is not None and left_ms < render.remaining_ms + MARGIN_MS:
            raise BatchUnfinished(
                f"{len(jobs) - done} of {len(jobs)} derivatives left when time ran out"
            )
        outcomes.append(make(job, render))
    result = report(outcomes)
    log.info(json.dumps({"originals": len(sources), **{k: result[k] for k in COUNTED}}))
    return result


def render_timeout_s() -> int:
    return int(os.environ.get(RENDER_TIMEOUT_ENV) or DEFAULT_RENDER_TIMEOUT_S)


def make(job: Job, render: RenderContext) -> Outcome:
    """``job``'s outcome: skipped if stored, else rendered by the resizer's handler."""
    if job.request is None:
        return Outcome(job, FAILED, 400, job.error)
    try:
        if inventory().exists(job.request.key):
            return Outcome(job, SKIPPED, 200)
    except (ClientError, BotoCoreError) as error:
        return Outcome(job, FAILED, 502, f"{type(error).__name__}: {error}")
    response = resizer_handler(resizer_event(job.request), render)
    body = "" if response.get("isBase64Encoded") else str(response.get("body") or "")
    return Outcome(job, *classify(int(response["statusCode"]), body))


def report(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The counts, and the first failures: status, key, preset, message."""
    failures = [o for o in outcomes if o.result == FAILED]
    result: dict[str, Any] = {
        name: sum(1 for o in outcomes if o.result == name) for name in COUNTED
    }
    result["failures"] = [
        {
            "status": o.status,
            "key": o.job.key or o.job.source,
            "preset": o.job.preset,
            "message": o.message[:MESSAGE_CHARS],
        }
        for o in failures[:FAILURES_LISTED]
    ]
    return result
