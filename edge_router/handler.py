"""Lambda@Edge entry point for CloudFront viewer-request or origin-request events (the
deployment's ``edge_trigger``, ``infra/distribution.py``; one zip serves both).

An I/O shell over ``normalize``: it reads ``Records[0].cf.request``, rewrites ``uri`` to the
canonical key and clears ``querystring``, or answers a generated 400 with a short
Cache-Control. A forwarded request also carries imgedge's trace headers (``X-Imgedge-Trace``
and the edge's own timing, see ``shared.trace_context``); a viewer's ``X-Amzn-Trace-Id`` is
read only when the configuration trusts it (``trust_viewer_trace``).

On a viewer request the rewritten URI is the cache key. On an origin request the cache key
was the viewer's URI and query string; the rewrite only chooses what S3 and the resizer are
asked for. Two rules hold there:

- ``f=auto`` is refused (400): the origin request carries no Accept (nothing forwards it)
  and the cache key has none, so the first viewer's format would be served to every other.
- The function may run twice for one miss: when the primary origin (S3) answers a failover
  status, CloudFront sends "the same request" to the secondary origin and triggers the
  function again (CloudFront Developer Guide, "Use origin failover with Lambda@Edge
  functions"). Whether "the same request" is the viewer's or the one this function
  returned is not said, so both are handled: the viewer's is normalized again, to the same
  key; the returned one carries the edge's timing header (which no policy forwards from a
  viewer in this deployment) and is passed on unchanged. Normalizing it again would not be
  safe: a signed size off the allow-list has lost its ``sig`` with the query string.

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
from shared.errors import ImgedgeError, InvalidRequest
from shared.trace_context import AWS_TRACE_HEADER, EDGE_TIMING_HEADER, EdgeTiming
from shared.viewer_query import AUTO, read_query

Event = dict[str, Any]
Handler = Callable[[Event, Any], Event]

MAX_MESSAGE_CHARS = 200  # generated responses must stay far below Lambda@Edge's 40 KB
VIEWER_REQUEST, ORIGIN_REQUEST = "viewer-request", "origin-request"
NO_AUTO_AT_ORIGIN = (
    "f=auto is not served by this deployment (its cache does not key on Accept): "
    "name the format, f=avif or f=webp, in a <picture> source"
)


def make_handler(config: Config) -> Handler:
    """A handler bound to one configuration (the local stack and tests pass their own)."""

    def handler(event: Event, context: Any) -> Event:
        started = time.time()
        cf = event["Records"][0]["cf"]
        request: Event = cf["request"]
        event_type = cf["config"].get("eventType", VIEWER_REQUEST)
        at_origin = event_type == ORIGIN_REQUEST
        if at_origin and EdgeTiming.parse(first_header(request, EDGE_TIMING_HEADER)):
            return request  # rewritten by this function for the primary origin: failover
        querystring = request.get("querystring", "")
        try:
            result = normalize(request["uri"], querystring, first_header(request, "accept"), config)
            if at_origin and read_query(querystring, config)[0].get("f") == AUTO:
                raise InvalidRequest(NO_AUTO_AT_ORIGIN)
        except ImgedgeError as error:
            return generated_response(error, config)
        request["uri"] = result.uri
        request["querystring"] = ""
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
            # applies to a response a request trigger generates.
            "x-content-type-options": [{"key": "X-Content-Type-Options", "value": "nosniff"}],
            "content-security-policy": [
                {"key": "Content-Security-Policy", "value": "default-src 'none'"}
            ],
        },
        "body": message + "\n",
    }


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}

handler = make_handler(load_config())
