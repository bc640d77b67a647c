"""Regional Lambda entry point: a function URL (payload 2.0) request for one canonical key.

CloudFront's origin group sends a request here only when the derivatives bucket has no
object for the key. The key is parsed again (the URI is never trusted), the original is
read from the originals bucket, rendered, stored in the derivatives bucket and returned.

Every request has a deadline below the function's timeout (``Deadline``): the remaining
time Lambda's context reports, less ``DEADLINE_MARGIN_S``. It is checked after the
original is read, between the render's phases and frames, and before anything is stored;
once it has passed, the request stops and answers 503 (``DeadlineExceeded``, no-store,
Retry-After) and stores nothing. Lambda's own timeout would instead end the process (the
function URL answers 502, the next request pays a cold start).

Environment: ORIGINALS_BUCKET, DERIVATIVES_BUCKET, optionally IMGEDGE_CONFIG (a config
file) and AWS_ENDPOINT_URL_S3 (another S3 endpoint, as the local stack uses).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

from regional_resizer import responses, tracing
from regional_resizer.media_types import sniff
from regional_resizer.pipeline import NO_DEADLINE, DeadlineCheck, render
from regional_resizer.storage import Storage
from shared.config import Config, load_config
from shared.contract import ImageRequest
from shared.errors import (
    DeadlineExceeded,
    ImgedgeError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
)
from shared.layout import index_key

log = logging.getLogger("imgedge.resizer")
log.setLevel(logging.INFO)

DEADLINE_MARGIN_S = 2.0
"""Kept back from the time Lambda gives: the step that is running when the deadline passes
finishes (one frame, or an encode), then the 503 is built and returned."""
DEFAULT_TIMEOUT_S = 25.0
"""The budget when there is no Lambda context (precompute's local workers, tests): the
deployed function's default timeout."""
RETRY_AFTER_S = 2


@dataclass(frozen=True)
class Deadline:
    """When this request must stop working: a ``time.monotonic()`` value."""

    at: float

    @classmethod
    def of(cls, context: Any, margin_s: float = DEADLINE_MARGIN_S) -> Deadline:
        """From a Lambda context's remaining time (``DEFAULT_TIMEOUT_S`` without one)."""
        remaining_s = DEFAULT_TIMEOUT_S
        remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining_ms):
            remaining_s = float(remaining_ms()) / 1000
        return cls(time.monotonic() + remaining_s - margin_s)

    def check(self) -> None:
        """Raise ``DeadlineExceeded`` once the deadline has passed."""
        if time.monotonic() >= self.at:
            raise DeadlineExceeded()


@cache
def config() -> Config:
    return load_config()


@cache
def storage() -> Storage:
    return Storage.from_environment()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    deadline = Deadline.of(context)
    key = event.get("rawPath", "")
    trace = tracing.start(event.get("headers") or {})
    try:
        response = serve(event, config(), storage(), trace, deadline.check)
    except ImgedgeError as error:
        response = responses.error(error, config())
        if isinstance(error, DeadlineExceeded):
            response["headers"]["retry-after"] = str(RETRY_AFTER_S)
    except Exception:
        log.exception("unexpected failure for %s", key)
        response = responses.error(InternalError(), config())
    response["headers"]["server-timing"] = trace.server_timing()
    trace.finish(response["statusCode"])
    log.info(
        json.dumps(
            {
                "path": key,
                "status": response["statusCode"],
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )
    )
    return response


def serve(
    event: dict[str, Any],
    config: Config,
    storage: Storage,
    trace: tracing.Invocation,
    check_deadline: DeadlineCheck = NO_DEADLINE,
) -> dict[str, Any]:
    method = event["requestContext"]["http"]["method"]
    if method not in ("GET", "HEAD"):
        raise MethodNotAllowed()
    head = method == "HEAD"
    # Sizes off the allow-list reach here only through a signed URL: the edge never routes
    # them otherwise, and only CloudFront can call this function (OAC, AWS_IAM auth).
    request = ImageRequest.parse(_key_of(event["rawPath"]), config, any_size=True)
    trace.annotate(cache_key=request.key)
    # S3 calls are X-Ray subsegments of their own (boto3 is patched): time them only.
    with trace.span("s3-get", subsegment=False):
        original = storage.get_original(request.source, config.max_source_bytes)
    trace.annotate(source_bytes=len(original.body))
    check_deadline()

    if request.is_original:
        body, content_type = original.body, sniff(original.body, original.content_type)
    else:
        rendition = render(
            original.body, request, config, phase=trace.phase, check_deadline=check_deadline
        )
        body, content_type = rendition.body, rendition.content_type
        trace.annotate(
            source_format=rendition.source_format,
            source_pixels=rendition.source_width * rendition.source_height,
            output_format=rendition.format,
            output_width=rendition.width,
            output_height=rendition.height,
        )
    trace.annotate(output_bytes=len(body))
    check_deadline()  # the last one: once the marker is written, the request goes through

    with trace.span("s3-put", subsegment=False):
        storage.put_marker(index_key(request))  # first: a stored object always has one
        storage.put_derivative(
            request.key,
            body,
            content_type,
            responses.derivative_cache_control(config),
            original.etag,
        )
        # A purge that ran while we rendered cannot have seen this derivative: if the
        # original changed meanwhile, take it back and answer without caching.
        if storage.original_etag(request.source) != original.etag:
            storage.delete_keys([request.key])
            return responses.image(body, content_type, config, head=head, cacheable=False)
    if len(body) > responses.MAX_INLINE_BYTES:
        return responses.redirect_to_stored(request.uri)
    return responses.image(body, content_type, config, head=head)


def _key_of(raw_path: str) -> str:
    """Function URLs deliver the path percent-encoded: decode it exactly once."""
    if not raw_path.startswith("/"):
        raise InvalidRequest("path must start with '/'")
    try:
        return unquote(raw_path[1:], errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequest("path is not valid UTF-8") from None
