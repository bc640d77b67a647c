"""Function URL (payload 2.0) responses: images, redirects and errors."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from shared.config import Config
from shared.errors import ImgedgeError

Response = dict[str, Any]

# A buffered function URL response is at most 6 MB, and base64 costs a third: larger
# outputs are stored and answered with a redirect the edge routes to S3 (handler.py).
MAX_INLINE_BYTES = 4_400_000
NO_STORE = "no-store"
# Originals may be anything (SVG with script included): never let a browser run them.
SAFE_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'",
}


def derivative_cache_control(config: Config) -> str:
    return f"public, max-age={config.derivative_max_age}, immutable"


def image(
    body: bytes, content_type: str, config: Config, *, head: bool = False, cacheable: bool = True
) -> Response:
    return {
        "statusCode": 200,
        "headers": {
            "content-type": content_type,
            "cache-control": derivative_cache_control(config) if cacheable else NO_STORE,
            "etag": '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"',
            **SAFE_HEADERS,
        },
        "body": "" if head else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": not head,
    }


def fallback(body: bytes, content_type: str, config: Config, *, head: bool = False) -> Response:
    """The fallback image in place of an original that is missing or unusable: the status
    the configuration says, cached as briefly as an error, so the real image shows once it
    is there (and a 404 stays cached no longer than any other)."""
    response = image(body, content_type, config, head=head)
    response["statusCode"] = config.fallback_status
    response["headers"]["cache-control"] = f"public, max-age={config.error_max_age}"
    return response


def redirect_to_stored(location: str) -> Response:
    """The output is too large to return inline: send the viewer to ``location``, a URL the
    edge routes to the stored derivative. Not cacheable, so the next request reaches the
    origin group and S3 answers it."""
    return {
        "statusCode": 302,
        "headers": {"location": location, "cache-control": NO_STORE, **SAFE_HEADERS},
        "body": "",
        "isBase64Encoded": False,
    }


def without_body(response: Response) -> Response:
    """The answer to a HEAD: no body, and never cacheable. A cached body-less answer might
    otherwise serve a later GET (no AWS page says CloudFront never does so)."""
    headers = {**response["headers"], "cache-control": NO_STORE}
    return {**response, "headers": headers, "body": "", "isBase64Encoded": False}


def error(err: ImgedgeError, config: Config) -> Response:
    """4xx: cached briefly (the viewer's mistake stays a mistake); 5xx: never cached."""
    cache = f"public, max-age={config.error_max_age}" if err.is_client_error else NO_STORE
    return {
        "statusCode": err.status,
        "headers": {
            "content-type": "text/plain; charset=utf-8",
            "cache-control": cache,
            **SAFE_HEADERS,
        },
        "body": err.message + "\n",
        "isBase64Encoded": False,
    }
