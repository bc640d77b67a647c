"""Lambda@Edge entry point for CloudFront viewer-request (and origin-request) events.

An I/O shell over ``normalize``: it reads ``Records[0].cf.request``, rewrites ``uri`` to the
canonical key and clears ``querystring`` (so the cache key is the URI alone), or answers a
generated 400 with a short Cache-Control. A forwarded request also carries imgedge's trace
headers (``X-Imgedge-Trace`` and the edge's own timing, see ``shared.trace_context``); a
viewer's ``X-Amzn-Trace-Id`` is read only when the configuration trusts it
(``trust_viewer_trace``).
Lambda@Edge allows no environment variables: the configuration is the file baked into the
zip, read once per container.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from edge_router.normalize import normalize
from edge_router.trace import start_trace
from shared.config import Config, load_config
from shared.errors import ImgedgeError
from shared.trace_context import AWS_TRACE_HEADER, EDGE_TIMING_HEADER, EdgeTiming

Event = dict[str, Any]
Handler = Callable[[Event, Any], Event]

MAX_MESSAGE_CHARS = 200  # generated responses must stay far below Lambda@Edge's 40 KB


def make_handler(config: Config) -> Handler:
    """A handler bound to one configuration (the local stack and tests pass their own)."""

    def handler(event: Event, context: Any) -> Event:
        started = time.time()
        cf = event["Records"][0]["cf"]
        request: Event = cf["request"]
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
        event_type = cf["config"].get("eventType", "viewer-request")
        already_traced = EdgeTiming.parse(first_header(request, EDGE_TIMING_HEADER))
        if event_type == "origin-request" and already_traced:
            return request  # the viewer-request trigger started the trace
        # An untrusted viewer neither picks the root nor forces (or refuses) sampling.
        viewer = first_header(request, AWS_TRACE_HEADER) if config.trust_viewer_trace else None
        trace, segment_id, viewer_parent = start_trace(
            viewer, config.trace_sampling_rate, now=started
        )
        set_header(request, "X-Imgedge-Trace", trace.format())
        timing = EdgeTiming(
            segment_id=segment_id,
            start=started,
            end=time.time(),
            event_type=event_type,
            request_id=cf["config"].get("requestId") or "unknown",
            parent=viewer_parent,
        )
        set_header(request, "X-Imgedge-Edge", timing.format())
        return request

    return handler


def first_header(request: Event, name: str) -> str | None:
    """A header's first value from CloudFront's ``{"name": [{"key", "value"}]}`` shape."""
    values = request.get("headers", {}).get(name)
    return values[0]["value"] if values else None


def set_header(request: Event, name: str, value: str) -> None:
    request.setdefault("headers", {})[name.lower()] = [{"key": name, "value": value}]


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
            # Its own, not the response headers policy's: no AWS page says the policy
            # applies to a response a viewer-request function generates.
            "x-content-type-options": [{"key": "X-Content-Type-Options", "value": "nosniff"}],
            "content-security-policy": [
                {"key": "Content-Security-Policy", "value": "default-src 'none'"}
            ],
        },
        "body": message + "\n",
    }


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}

handler = make_handler(load_config())
