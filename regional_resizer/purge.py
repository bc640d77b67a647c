"""Purge on change: an S3 event handler for the originals bucket.

When an original is overwritten (ObjectCreated) or deleted (ObjectRemoved), every stored
derivative of it is deleted - found through its marker index (``shared.layout``), never by
scanning the bucket - and, on AWS, their CloudFront paths are invalidated in batches, so
the next request renders from the new original (or 404s). A copy of an original onto
itself with new metadata (a new stored focal point) is an ObjectCreated event too.

Any key of the originals bucket may be a watermark's overlay: the derivatives that carry
it, whatever their original, are found through its overlay markers (one more listing per
changed key) and purged alike.

The order makes a failed purge safe to run again with the same event:

1. list the original's markers and delete the objects they name (objects first, so no
   edge can fetch an old derivative again once the invalidation is under way);
2. invalidate their paths, retrying TooManyInvalidationsInProgress and throttling with
   backoff while the invocation has time; past that, raise. S3 invokes this function
   asynchronously, so Lambda runs a failed event twice more (one, then two minutes later)
   and then sends it to the dead-letter queue
   (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html);
3. only then, and only for a deleted original, delete the markers.

A retried event therefore finds the same markers and invalidates the same paths, although
the first attempt already deleted the objects. An overwritten original keeps its markers:
its derivatives are rendered again under the same keys, and a resize that wrote its marker
while this purge ran must not lose it (a derivative without a marker would escape the next
purge). A marker whose object is gone costs one more path at the next purge. A deleted
original's markers do go, after the invalidation: if the original is uploaded again and
rendered while that invalidation is still being retried, that render's marker goes too.

Each batch's CallerReference is derived from the event's records and the batch's paths, so
a retried or duplicated event resubmits the same batch and CloudFront answers with the
invalidation it made the first time instead of a new one
(https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateInvalidation.html).

Events come from every originals bucket: the default one and those ``originals_buckets``
maps prefixes to. An object key is the original's key as it is (the prefix is part of
it), and an event is acted on only where its bucket is the one its key maps to
(``shared.originals``); any other object is no original, and its event is ignored.

Environment: ORIGINALS_BUCKET, DERIVATIVES_BUCKET, optionally IMGEDGE_CONFIG (its
``originals_buckets``), DISTRIBUTION_ID (no invalidation without it) and
AWS_ENDPOINT_URL_CLOUDFRONT (the local stack's emulator).
Deployed from the same zip as the resizer, handler ``regional_resizer.purge.handler``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import ClientError

from regional_resizer.storage import Storage
from shared.contract import ORIGINAL_PREFIX, uri_of
from shared.layout import carrying_key, index_prefix, overlay_prefix, stored_key
from shared.originals import OriginalsBuckets

log = logging.getLogger("imgedge.purge")
log.setLevel(logging.INFO)

INVALIDATION_BATCH = 1000  # paths per CreateInvalidation call
EDGE_TRIGGER_ENV = "EDGE_TRIGGER"  # the distribution's edge trigger, set by the deployment
ORIGIN_REQUEST = "origin-request"
PURGING_EVENTS = ("ObjectCreated:", "ObjectRemoved:")
# CloudFront's answers that mean "later": the in-progress quota (3,000 file paths per
# distribution) and throttling; botocore retries only the latter, and only briefly.
RETRYABLE = frozenset(
    {
        "TooManyInvalidationsInProgress",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
    }
)
FIRST_BACKOFF_S = 1.0  # doubled after each refusal, up to MAX_BACKOFF_S, with jitter
MAX_BACKOFF_S = 20.0
RESERVE_S = 5.0  # kept from the budget for the markers' deletion and the answer
BUDGET_WITHOUT_CONTEXT_S = 60.0  # a direct call (no Lambda context)


def invalidation_paths(key: str) -> tuple[str, ...]:
    """The paths that invalidate ``key``'s cached copy: its canonical URI, the cache key
    the edge makes. A key with a '+' has it escaped there (S3 would read a '+' as a space),
    which CloudFront's rule for invalidation paths does not ask for: the same path with '+'
    unescaped goes too, so that the cached copy goes whether CloudFront compares the two
    strings as they are or its own spelling of them (docs/derivatives.md)."""
    uri = uri_of(key)
    # '%' starts an escape and nothing else (a literal '%' is '%25'): each "%2B" is a '+'.
    return (uri, uri.replace("%2B", "+")) if "%2B" in uri else (uri,)


def viewer_wildcards(purged: Sequence[str]) -> list[str]:
    """With the edge on origin requests, CloudFront caches under the viewer's URL (path and
    query), not the canonical key: one wildcard path per original invalidates all of them
    ("Specifying the objects to invalidate": a trailing ``*`` matches every query string).
    A wildcard counts against CloudFront's 15 wildcard paths in progress, whose refusals
    ``invalidate`` waits out like the others."""
    sources = {key.split("/", 1)[1] if key.startswith(f"{ORIGINAL_PREFIX}/") else
               key.split("/", 2)[2] for key in purged}  # fmt: skip
    return sorted(uri_of(source) + "*" for source in sources)


@cache
def storage() -> Storage:
    return Storage.from_environment()


@cache
def cloudfront() -> Any:
    return boto3.client("cloudfront")


@dataclass(frozen=True)
class Change:
    source: str  # the original's key
    removed: bool  # ObjectRemoved: its markers go too, once its paths are invalidated
    markers: tuple[str, ...]
    overlay_markers: tuple[str, ...] = ()  # of derivatives that carry it as a watermark

    @property
    def stored(self) -> list[str]:
        return [stored_key(marker, self.source) for marker in self.markers] + [
            carrying_key(marker, self.source) for marker in self.overlay_markers
        ]

    @property
    def all_markers(self) -> tuple[str, ...]:
        return self.markers + self.overlay_markers


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Purge the derivatives of every original named in an S3 event notification."""
    remaining_s = (
        context.get_remaining_time_in_millis() / 1000
        if context is not None
        else BUDGET_WITHOUT_CONTEXT_S
    )
    deadline = time.monotonic() + remaining_s - RESERVE_S
    records = purging_records(event)
    changes = [
        Change(
            source=source,
            removed=str(record["eventName"]).startswith("ObjectRemoved:"),
            markers=tuple(storage().list_keys(index_prefix(source))),
            overlay_markers=tuple(storage().list_keys(overlay_prefix(source))),
        )
        for record, source in records
    ]
    purged = list(dict.fromkeys(key for change in changes for key in change.stored))
    storage().delete_keys(purged)  # objects first: a marker must outlive its object
    invalidations: list[str] = []
    distribution = os.environ.get("DISTRIBUTION_ID")
    if distribution and purged:
        paths = sorted({path for key in purged for path in invalidation_paths(key)})
        if os.environ.get(EDGE_TRIGGER_ENV) == ORIGIN_REQUEST:
            paths = sorted({*paths, *viewer_wildcards(purged)})
        identity = json.dumps([record for record, _ in records], sort_keys=True)
        invalidations = invalidate(cloudfront(), distribution, paths, identity, deadline)
    # ... and a marker must outlive its object's invalidation: a retry needs it.
    storage().delete_keys(
        [marker for change in changes if change.removed for marker in change.all_markers]
    )
    log.info(json.dumps({"purged": len(purged), "invalidations": invalidations}))
    return {"purged": purged, "invalidations": invalidations}


def purging_records(
    event: dict[str, Any], originals: OriginalsBuckets | None = None
) -> list[tuple[dict[str, Any], str]]:
    """The event's records that change an original, each with the original's key.
    ``originals``: the storage's, by default."""
    originals = originals or storage().originals
    found = []
    for record in event.get("Records", []):
        s3 = record.get("s3", {})
        if not str(record.get("eventName", "")).startswith(PURGING_EVENTS):
            continue
        bucket = s3.get("bucket", {}).get("name")
        if bucket not in originals.buckets:
            log.warning("ignoring an event for bucket %s", bucket)
            continue
        key = unquote_plus(s3["object"]["key"])  # S3 form-encodes keys
        if not originals.holds(bucket, key):
            log.warning("ignoring an event for %s in %s, not its originals bucket", key, bucket)
            continue
        found.append((record, key))
    return found


def invalidate(
    client: Any,
    distribution_id: str,
    paths: Sequence[str],
    identity: str,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Invalidate ``paths`` in batches; the invalidations' IDs. A batch CloudFront refuses
    for now is retried with backoff until ``deadline`` (``time.monotonic()``), after which
    the refusal is raised. ``identity`` names the change: the same identity and paths make
    the same CallerReferences, so a resubmission creates nothing new."""
    ids = []
    for start in range(0, len(paths), INVALIDATION_BATCH):
        batch = list(paths[start : start + INVALIDATION_BATCH])
        digest = hashlib.sha256("\n".join([identity, *batch]).encode()).hexdigest()[:40]
        request = {
            "DistributionId": distribution_id,
            "InvalidationBatch": {
                "Paths": {"Quantity": len(batch), "Items": batch},
                "CallerReference": f"imgedge-purge-{digest}",
            },
        }
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                ids.append(str(client.create_invalidation(**request)["Invalidation"]["Id"]))
                break
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", ""))
                pause = random.uniform(backoff / 2, backoff)
                if code not in RETRYABLE or time.monotonic() + pause > deadline:
                    log.error(json.dumps({"invalidation_failed": code, "paths": len(batch)}))
                    raise
                log.warning(json.dumps({"invalidation_refused": code, "retry_in_s": pause}))
                sleep(pause)
                backoff = min(2 * backoff, MAX_BACKOFF_S)
    return ids
