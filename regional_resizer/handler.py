"""Regional Lambda entry point: a function URL (payload 2.0) request for one canonical key.

CloudFront's origin group sends a request here only when the derivatives bucket has no
object for the key. This is a thin shell over the resizer's core
(``regional_resizer.derivative``): the key is parsed again from the path (the URI is never
trusted), the core makes and stores the derivative, and the answer is an image, a redirect
(too large to return inline), or an error (``responses``).

A redirect leads to a URL the edge routes to the stored derivative (``stored_location``):
the canonical URI where the edge accepts it unsigned, else (a size only a signature
unlocks) a viewer URL signed again with the configuration's signing key. It is never
cached, so the viewer's next request misses and S3 answers it.

A HEAD answer has no body, and no AWS page says whether CloudFront's cached answer to a HEAD
can serve a later GET: every HEAD answer is ``no-store`` (the derivative is stored all the
same, and the next GET finds it in S3).

Every request has a deadline below the function's timeout (``Deadline``): the remaining
time Lambda's context reports, less ``DEADLINE_MARGIN_S``. Once it has passed, the request
stops and answers 503 (``DeadlineExceeded``, no-store, Retry-After) and stores nothing.
Lambda's own timeout would instead end the process (the function URL answers 502, the
next request pays a cold start).

Environment: ORIGINALS_BUCKET, DERIVATIVES_BUCKET, optionally IMGEDGE_CONFIG (a config
file) and AWS_ENDPOINT_URL_S3 (another S3 endpoint, as the local stack uses). Where they are
set (a deployed function), the S3 client (``regional_resizer.s3``) is made at init. The init
imports no AWS SDK: S3 calls go through imgedge's own client, and aws-xray-sdk is loaded
only for a request the edge sampled (``tracing``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from functools import cache
from typing import Any
from urllib.parse import unquote

from regional_resizer import responses, tracing
from regional_resizer.derivative import Deadline, make_derivative, render_fallback
from regional_resizer.storage import Storage
from shared.config import Config, load_config
from shared.contract import METADATA, ImageRequest
from shared.errors import (
    CorruptImage,
    DeadlineExceeded,
    ImgedgeError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    SourceNotFound,
    SourceTooLarge,
    TooManyPixels,
    UnsupportedImage,
)
from shared.signing import SIGNATURE_PARAM, signature
from shared.urls import viewer_path

log = logging.getLogger("imgedge.resizer")
log.setLevel(logging.INFO)

RETRY_AFTER_S = 2


@cache
def config() -> Config:
    return load_config()


@cache
def storage() -> Storage:
    return Storage.from_environment(config())  # the configuration read once, at init


if os.environ.get("ORIGINALS_BUCKET") and os.environ.get("DERIVATIVES_BUCKET"):
    storage()  # at init: the client and its bucket routing, off the first request


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    deadline = Deadline.of(context)
    key = event.get("rawPath", "")
    trace = tracing.start(event.get("headers") or {})
    try:
        response = serve(event, config(), storage(), trace, deadline)
    except ImgedgeError as error:
        response = responses.error(error, config())
        if isinstance(error, DeadlineExceeded):
            response["headers"]["retry-after"] = str(RETRY_AFTER_S)
    except Exception:
        log.exception("unexpected failure for %s", key)
        response = responses.error(InternalError(), config())
    if _method(event) == "HEAD":
        response = responses.without_body(response)
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
    deadline: Deadline,
) -> dict[str, Any]:
    method = _method(event)
    if method not in ("GET", "HEAD"):
        raise MethodNotAllowed()
    head = method == "HEAD"
    # Sizes off the allow-list reach here only through a signed URL: the edge never routes
    # them otherwise, and only CloudFront can call this function (OAC, AWS_IAM auth).
    request = ImageRequest.parse(_key_of(event["rawPath"]), config, signed=True)
    try:
        made = make_derivative(request, config, storage, deadline, trace)
    except ORIGINAL_UNUSABLE as error:
        if not config.fallback_image or request.source == config.fallback_image:
            raise
        if request.format == METADATA:  # a description of the stand-in would mislead
            raise
        log.info(json.dumps({"fallback_for": request.source, "why": error.message}))
        body, content_type = render_fallback(request, config, storage, deadline, trace)
        return responses.fallback(body, content_type, config, head=head)
    if len(made.body) > responses.MAX_INLINE_BYTES:
        # Kept: S3 answers the viewer's next request. Taken back (its original changed
        # meanwhile): the next request renders the new original.
        return responses.redirect_to_stored(stored_location(request, config))
    if not made.kept:  # its original changed meanwhile: answer, but without caching
        return responses.image(made.body, made.content_type, config, head=head, cacheable=False)
    return responses.image(made.body, made.content_type, config, head=head)


ORIGINAL_UNUSABLE = (SourceNotFound, SourceTooLarge, UnsupportedImage, TooManyPixels, CorruptImage)
"""An original missing or unusable: where the configured fallback image stands in."""


def stored_location(request: ImageRequest, config: Config) -> str:
    """A URL the edge routes to ``request``'s stored derivative. The canonical URI if the
    edge takes it unsigned (it keeps a canonical key as it is); a size off the allow-list
    only a signature unlocks, so then the viewer URL that names the same key, signed with
    the last key id ``signing_keys`` lists. Without any key, the canonical URI all the
    same (only a caller with the function's IAM access gets here unsigned)."""
    try:
        if ImageRequest.parse(request.key, config) == request:
            return request.uri
    except InvalidRequest:
        pass
    if not config.signing_keys:
        log.warning("no signing key to redirect %s to a signed URL", request.key)
        return request.uri
    key_id, secret = list(config.signing_keys.items())[-1]
    sig = signature(request.key, key_id, secret)
    return f"{viewer_path(request, config)}&{SIGNATURE_PARAM}={sig}"


def _method(event: dict[str, Any]) -> str:
    return str(event.get("requestContext", {}).get("http", {}).get("method", ""))


def _key_of(raw_path: str) -> str:
    """Function URLs deliver the path percent-encoded: decode it exactly once."""
    if not raw_path.startswith("/"):
        raise InvalidRequest("path must start with '/'")
    try:
        return unquote(raw_path[1:], errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequest("path is not valid UTF-8") from None
