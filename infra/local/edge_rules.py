"""What CloudFront checks of a Lambda@Edge viewer-request or origin-request function: the
headers it may see, and the result it may return. A result that breaks a rule is
CloudFront's 502 (LambdaValidationError).

From the CloudFront Developer Guide:
- "Restrictions on all edge functions", HTTP headers: the disallowed headers are not
  exposed to a function, and a function may not add them; the read-only headers of the
  event (``READ_ONLY_HEADERS``, one list per event type) may be read but not added,
  changed or removed.
- "Quotas", Lambda@Edge: the URI and query string a function returns must be under
  8,192 characters; a response a function generates (status, headers and body) is at most
  40 KB on a viewer request, 1 MB on an origin request (the caller passes the limit from
  ``infra/distribution.py``).
- "Lambda@Edge event structure": headers are ``{"lower-case name": [{"key", "value"}]}``,
  and ``key``, when present, must be the same name in any case.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.local.events import Headers

MAX_URI_AND_QUERY_CHARS = 8192  # the returned uri + "?" + querystring must be shorter

DISALLOWED_HEADERS = frozenset(
    {
        "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization",
        "proxy-connection", "trailer", "upgrade", "x-accel-buffering", "x-accel-charset",
        "x-accel-limit-rate", "x-accel-redirect", "x-amzn-auth", "x-amzn-cf-billing",
        "x-amzn-cf-id", "x-amzn-cf-xff", "x-amzn-errortype", "x-amzn-fle-profile",
        "x-amzn-header-count", "x-amzn-header-order", "x-amzn-lambda-integration-tag",
        "x-amzn-requestid", "x-cache", "x-forwarded-proto", "x-real-ip",
        "cloudfront-viewer-cert-pem", "client-cert", "client-cert-chain",
    }
)  # fmt: skip
DISALLOWED_PREFIXES = ("x-amz-cf-", "x-edge-")
# Read-only per event type ("Restrictions on all edge functions", Read-only headers). CDN-Loop
# is held read-only in both too, the stricter reading.
READ_ONLY_HEADERS = {
    "viewer-request": frozenset({"content-length", "host", "transfer-encoding", "via", "cdn-loop"}),
    "origin-request": frozenset(
        {
            "accept-encoding", "content-length", "if-modified-since", "if-none-match",
            "if-range", "if-unmodified-since", "transfer-encoding", "via", "cdn-loop",
        }
    ),
}  # fmt: skip


class EdgeValidationError(ValueError):
    """The function's result is not one CloudFront accepts (the viewer gets a 502)."""


def is_disallowed(name: str) -> bool:
    lower = name.lower()
    return lower in DISALLOWED_HEADERS or lower.startswith(DISALLOWED_PREFIXES)


def exposed(headers: Headers) -> Headers:
    """The viewer's headers as a function sees them: the disallowed ones are not there."""
    return [(name, value) for name, value in headers if not is_disallowed(name)]


def _headers(value: Any) -> dict[str, list[tuple[str, str]]]:
    """CloudFront's header shape, checked: lower-case names, entries with a string value
    and, if given, a key that is the same name."""
    if not isinstance(value, Mapping):
        raise EdgeValidationError("headers must be an object")
    checked: dict[str, list[tuple[str, str]]] = {}
    for name, entries in value.items():
        if not isinstance(name, str) or name != name.lower() or not isinstance(entries, list):
            raise EdgeValidationError(f"header {name!r}: not a lower-case name with a list")
        for entry in entries:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("value"), str):
                raise EdgeValidationError(f"header {name!r}: an entry without a string value")
            key = entry.get("key", name)
            if not isinstance(key, str) or key.lower() != name:
                raise EdgeValidationError(f"header {name!r}: key {key!r} is another name")
            checked.setdefault(name, []).append((key, entry["value"]))
    return checked


def _no_disallowed(headers: Mapping[str, Any]) -> None:
    added = sorted(name for name in headers if is_disallowed(name))
    if added:
        raise EdgeValidationError(f"disallowed header(s) added: {', '.join(added)}")


def check_request(
    sent: Mapping[str, Any], returned: Any, event_type: str = "viewer-request"
) -> tuple[str, str, Headers]:
    """The request a function of ``event_type`` returned, as (uri, querystring, headers), if
    CloudFront accepts it given the request it was sent; else EdgeValidationError."""
    if not isinstance(returned, Mapping):
        raise EdgeValidationError(f"result is a {type(returned).__name__}, not an object")
    uri, querystring = returned.get("uri"), returned.get("querystring", "")
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise EdgeValidationError(f"uri {uri!r} is not an absolute path")
    if not isinstance(querystring, str):
        raise EdgeValidationError("querystring must be a string")
    if len(uri) + (len(querystring) + 1 if querystring else 0) >= MAX_URI_AND_QUERY_CHARS:
        raise EdgeValidationError("uri and query string are 8,192 characters or more")
    headers = _headers(returned.get("headers", {}))
    _no_disallowed(headers)
    before = _headers(sent.get("headers", {}))
    changed = sorted(
        name
        for name in READ_ONLY_HEADERS[event_type]
        if before.get(name, []) != headers.get(name, [])
    )
    if changed:
        raise EdgeValidationError(f"read-only header(s) changed: {', '.join(changed)}")
    if returned.get("method", sent.get("method")) != sent.get("method"):
        raise EdgeValidationError("the method is read-only")
    return uri, querystring, _pairs(headers)


def _pairs(headers: Mapping[str, list[tuple[str, str]]]) -> Headers:
    return [pair for entries in headers.values() for pair in entries]


@dataclass(frozen=True)
class GeneratedResponse:
    status: int
    reason: str
    headers: Headers
    body: bytes


def check_response(response: Mapping[str, Any], max_bytes: int) -> GeneratedResponse:
    """A response the function generated, if CloudFront accepts it; else
    EdgeValidationError. ``max_bytes`` bounds status line, headers and body together."""
    try:
        status = int(response["status"])
    except (KeyError, TypeError, ValueError):
        raise EdgeValidationError("status is not a number") from None
    if not 200 <= status <= 599:
        raise EdgeValidationError(f"status {status} is out of range")
    reason = response.get("statusDescription") or ""
    if not isinstance(reason, str):
        raise EdgeValidationError("statusDescription must be a string")
    headers = _headers(response.get("headers", {}))
    _no_disallowed(headers)
    body = response.get("body", "")
    if not isinstance(body, str):
        raise EdgeValidationError("body must be a string")
    encoding = response.get("bodyEncoding", "text")
    if encoding == "base64":
        try:
            data = base64.b64decode(body, validate=True)
        except binascii.Error:
            raise EdgeValidationError("body is not valid base64") from None
    elif encoding == "text":
        data = body.encode("utf-8")
    else:
        raise EdgeValidationError(f"bodyEncoding {encoding!r} is neither text nor base64")
    pairs = _pairs(headers)
    size = len(str(status)) + len(reason) + len(data)
    size += sum(len(key) + len(value) for key, value in pairs)
    if size > max_bytes:
        raise EdgeValidationError(f"generated response is {size} bytes, over {max_bytes}")
    return GeneratedResponse(status, reason, pairs, data)
