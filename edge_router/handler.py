"""Lambda@Edge entry point for CloudFront viewer-request (and origin-request) events.

An I/O shell over ``normalize``: it reads ``Records[0].cf.request``, rewrites ``uri`` to the
canonical key and clears ``querystring`` (so the cache key is the URI alone), or answers a
generated 400 with a short Cache-Control. Lambda@Edge allows no environment variables: the
configuration is the file baked into the zip, read once per container.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge_router.normalize import normalize
from shared.config import Config, load_config
from shared.errors import ImgedgeError

Event = dict[str, Any]
Handler = Callable[[Event, Any], Event]

MAX_MESSAGE_CHARS = 200  # generated responses must stay far below Lambda@Edge's 40 KB


def make_handler(config: Config) -> Handler:
    """A handler bound to one configuration (the local stack and tests pass their own)."""

    def handler(event: Event, context: Any) -> Event:
        request: Event = event["Records"][0]["cf"]["request"]
        try:
            result = normalize(
                request["uri"],
                request.get("querystring", ""),
                first_header(request, "accept"),
                config,
            )
        except ImgedgeError as error:
            return generated_response(error, config)
        request["uri"] = result.uri
        request["querystring"] = ""
        return request

    return handler


def first_header(request: Event, name: str) -> str | None:
    """A header's first value from CloudFront's ``{"name": [{"key", "value"}]}`` shape."""
    values = request.get("headers", {}).get(name)
    return values[0]["value"] if values else None


def generated_response(error: ImgedgeError, config: Config) -> Event:
    message = error.message[:MAX_MESSAGE_CHARS]
    return {
        "status": str(error.status),
        "statusDescription": _REASONS.get(error.status, "Error"),
        "headers": {
            "content-type": [{"key": "Content-Type", "value": "text/plain; charset=utf-8"}],
            "cache-control": [
                {"key": "Cache-Control", "value": f"public, max-age={config.error_max_age}"}
            ],
            "x-content-type-options": [{"key": "X-Content-Type-Options", "value": "nosniff"}],
        },
        "body": message + "\n",
    }


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}

handler = make_handler(load_config())
