"""Precompute: render the configured presets of originals ahead of viewers.

What to make, and making it, for both ways precompute runs: ``imgedge precompute`` on one
machine (worker processes), and the batch function of the AWS deployment's state machine
(``handler`` below, deployed from the resizer's zip).

- The plan: each preset's query normalized exactly as the edge would normalize it into the
  canonical key (``edge_router.normalize``); a preset with ``f=auto`` stands for every
  format ``auto`` can yield: avif, webp and the source's own family (png for png/gif
  sources, else jpeg), as far as the configuration enables them.
- Each job: skipped if the derivatives bucket holds its key (HeadObject), else made by the
  resizer's core (``make_derivative``), which writes the derivative and its index marker
  as for a viewer's miss. A refusal (a 415 for a text file) is the job's outcome, with the
  status and message a viewer would have got.

The batch function is a function of its own, not an invocation of the resizer: precompute
never takes the resizer's concurrency from viewers, and runs one render at a time. Each
render is given the resizer's own time (``RENDER_TIMEOUT_S``, the resizer's timeout). Before
each, the time left must cover one more render and a margin; when it does not, the batch
raises ``BatchUnfinished`` and the state machine runs it again, which skips what is now
stored.

Input:  {"Items": [{"key": "photos/cat.jpg"}, ...],
         "BatchInput": {"presets": ["thumb"], "bucket": "acme-products", "prefix": "p/"}}
        (no presets, or an empty list: every configured preset). The items were listed
        from ``bucket`` (default: the default originals bucket): only those that are
        originals there (``shared.originals``) and under ``prefix`` (default: all) are
        rendered; the others are not counted.
Output: {"made": 3, "skipped": 1, "failed": 1,
         "failures": [{"status": 415, "key": "256x256/webp/notes.txt", "preset": "thumb",
                       "message": "unsupported image format"}]}
Environment: ORIGINALS_BUCKET, DERIVATIVES_BUCKET, RENDER_TIMEOUT_S, optionally
IMGEDGE_CONFIG.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol
from urllib.parse import quote

from edge_router.normalize import normalize
from regional_resizer.derivative import Deadline, make_derivative
from regional_resizer.storage import Storage
from shared import formats
from shared.config import Config, load_config
from shared.contract import ImageRequest
from shared.errors import ImgedgeError, InternalError, InvalidRequest

log = logging.getLogger("imgedge.precompute")
log.setLevel(logging.INFO)

MADE, SKIPPED, FAILED = "made", "skipped", "failed"
COUNTED = (MADE, SKIPPED, FAILED)

# f=auto in a preset: one Accept per format that auto can yield (the last: the family).
AUTO_ACCEPTS = (*(fmt.media_type for fmt in formats.AUTO_PREFERENCE), "")

RENDER_TIMEOUT_ENV = "RENDER_TIMEOUT_S"
DEFAULT_RENDER_TIMEOUT_S = 25  # the resizer_timeout_s default; the stack always sets it
MARGIN_MS = 5_000  # the skip check and the bookkeeping around one render
FAILURES_LISTED = 200  # per batch: its output must stay far below Step Functions' 256 KiB
MESSAGE_CHARS = 200


@dataclass(frozen=True)
class Job:
    """One derivative to make: ``request`` for ``source``, or why the preset cannot name
    one (``error``: a key the contract refuses)."""

    source: str
    preset: str
    request: ImageRequest | None
    error: str = ""

    @property
    def key(self) -> str:
        return self.request.key if self.request is not None else ""


@dataclass(frozen=True)
class Outcome:
    job: Job
    result: str  # MADE, SKIPPED or FAILED
    status: int = 0
    message: str = ""


# --- what to make --------------------------------------------------------------------------


def preset_requests(source: str, query: str, config: Config) -> list[ImageRequest]:
    """The canonical requests a preset's query names for ``source``: one, or with ``f=auto``
    one per format that auto can yield."""
    uri = "/" + quote(source)
    found: dict[str, ImageRequest] = {}
    for accept in AUTO_ACCEPTS:
        request = normalize(uri, query, accept, config)
        found.setdefault(request.key, request)
    return list(found.values())


def plan(sources: Iterable[str], presets: Sequence[tuple[str, str]], config: Config) -> list[Job]:
    """Every job for these sources and presets, each canonical key once."""
    jobs: list[Job] = []
    for source in sources:
        seen: set[str] = set()
        for name, query in presets:
            try:
                requests = preset_requests(source, query, config)
            except InvalidRequest as error:
                jobs.append(Job(source, name, None, error.message))
                continue
            for request in requests:
                if request.key not in seen:
                    seen.add(request.key)
                    jobs.append(Job(source, name, request))
    return jobs


def chosen_presets(config: Config, names: Sequence[str] | None) -> list[tuple[str, str]]:
    """(name, query) of the named presets, all of them by default; unknown names raise."""
    presets = dict(config.presets)
    if not names:
        return list(presets.items())
    unknown = [name for name in names if name not in presets]
    if unknown:
        known = ", ".join(sorted(presets)) or "none"
        raise ValueError(f"unknown preset(s) {', '.join(unknown)} (configured: {known})")
    return [(name, presets[name]) for name in dict.fromkeys(names)]


# --- making one ----------------------------------------------------------------------------


def make(
    request: ImageRequest, config: Config, storage: Storage, deadline: Deadline
) -> tuple[str, int, str]:
    """(result, status, message) for one derivative: SKIPPED if stored, else MADE by the
    resizer's core, else FAILED with the status and message a viewer's miss would get."""
    try:
        if storage.has_derivative(request.key):
            return SKIPPED, 200, ""
        make_derivative(request, config, storage, deadline)
    except ImgedgeError as error:
        return FAILED, error.status, error.message
    except Exception:
        log.exception("unexpected failure for %s", request.key)
        return FAILED, InternalError.status, InternalError().message
    return MADE, 200, ""


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


# --- the batch function --------------------------------------------------------------------


class BatchUnfinished(Exception):
    """Time ran out before every derivative of the batch was made. The state machine
    retries on this error (by its name); the next attempt skips what is stored."""


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@cache
def config() -> Config:
    return load_config()


@cache
def storage() -> Storage:
    return Storage.from_environment(config())


def render_timeout_s() -> int:
    return int(os.environ.get(RENDER_TIMEOUT_ENV) or DEFAULT_RENDER_TIMEOUT_S)


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch_input = event.get("BatchInput") or {}
    names = batch_input.get("presets") or None
    originals = storage().originals
    bucket = str(batch_input.get("bucket") or originals.default)
    prefix = str(batch_input.get("prefix") or "")
    sources = [
        key
        for key in (str(item["key"]) for item in event.get("Items", []))
        if key.startswith(prefix) and originals.holds(bucket, key)
    ]
    settings = config()
    jobs = plan(sources, chosen_presets(settings, names), settings)  # unknown preset: raises
    render_s = render_timeout_s()
    outcomes: list[Outcome] = []
    for done, job in enumerate(jobs):
        if job.request is None:
            outcomes.append(Outcome(job, FAILED, 400, job.error))
            continue
        if context.get_remaining_time_in_millis() < render_s * 1000 + MARGIN_MS:
            raise BatchUnfinished(
                f"{len(jobs) - done} of {len(jobs)} derivatives left when time ran out"
            )
        deadline = Deadline.within(render_s)  # as if it ran in the resizer
        outcomes.append(Outcome(job, *make(job.request, settings, storage(), deadline)))
    result = report(outcomes)
    log.info(json.dumps({"originals": len(sources), **{k: result[k] for k in COUNTED}}))
    return result
