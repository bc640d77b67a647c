"""Purge on change: an S3 event handler for the originals bucket.

When an original is overwritten (ObjectCreated) or deleted (ObjectRemoved), every stored
derivative of it is deleted - found through its marker index (``shared.layout``), never by
scanning the bucket - and, on AWS, their CloudFront paths are invalidated in batches, so
the next request renders from the new original (or 404s).

Environment: ORIGINALS_BUCKET, DERIVATIVES_BUCKET, optionally DISTRIBUTION_ID (no
invalidation without it) and AWS_ENDPOINT_URL_CLOUDFRONT (the local stack's emulator).
Deployed from the same zip as the resizer, handler ``regional_resizer.purge.handler``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

import boto3

from regional_resizer.handler import S3_CLIENT_CONFIG
from regional_resizer.storage import Storage
from shared.contract import uri_of
from shared.layout import index_prefix, stored_key

log = logging.getLogger("imgedge.purge")
log.setLevel(logging.INFO)

INVALIDATION_BATCH = 1000  # paths per CreateInvalidation call
PURGING_EVENTS = ("ObjectCreated:", "ObjectRemoved:")


@cache
def storage() -> Storage:
    client = boto3.client("s3", config=S3_CLIENT_CONFIG)
    return Storage(client, os.environ["ORIGINALS_BUCKET"], os.environ["DERIVATIVES_BUCKET"])


@cache
def cloudfront() -> Any:
    return boto3.client("cloudfront")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Purge the derivatives of every original named in an S3 event notification."""
    originals_bucket = os.environ["ORIGINALS_BUCKET"]
    purged: list[str] = []
    for record in event.get("Records", []):
        s3 = record.get("s3", {})
        if not str(record.get("eventName", "")).startswith(PURGING_EVENTS):
            continue
        if s3.get("bucket", {}).get("name") != originals_bucket:
            log.warning("ignoring an event for bucket %s", s3.get("bucket", {}).get("name"))
            continue
        source = unquote_plus(s3["object"]["key"])  # S3 events form-encode keys
        purged += purge(storage(), source)
    distribution = os.environ.get("DISTRIBUTION_ID")
    if distribution and purged:
        invalidate(cloudfront(), distribution, [uri_of(key) for key in purged])
    log.info(json.dumps({"purged": len(purged)}))
    return {"purged": purged}


def purge(storage: Storage, source: str) -> list[str]:
    """Delete every stored object of ``source`` and its markers; the keys deleted."""
    markers = list(storage.list_keys(index_prefix(source)))
    stored = [stored_key(marker, source) for marker in markers]
    storage.delete_keys(stored)  # objects first: a marker must outlive its object
    storage.delete_keys(markers)
    return stored


def invalidate(client: Any, distribution_id: str, paths: Sequence[str]) -> None:
    for start in range(0, len(paths), INVALIDATION_BATCH):
        batch = list(paths[start : start + INVALIDATION_BATCH])
        client.create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(batch), "Items": batch},
                "CallerReference": f"imgedge-purge-{time.time_ns()}-{start}",
            },
        )
