"""The events AWS hands to the two handlers, built from plain HTTP requests.

- ``viewer_request_event``: what CloudFront passes to a Lambda@Edge viewer-request trigger
  (CloudFront Developer Guide, "Lambda@Edge event structure", example viewer request).
- ``function_url_event``: what a Lambda function URL passes to its function (Lambda
  Developer Guide, "Invoking Lambda function URLs", request payload format 2.0).

The example events from those pages are in ``tests/events/`` and the tests compare shapes.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

Event = dict[str, Any]
CfHeaders = dict[str, list[dict[str, str]]]
Headers = list[tuple[str, str]]

DISTRIBUTION_ID = "EIMGEDGELOCAL"
DISTRIBUTION_DOMAIN = "d111111imgedge.cloudfront.net"
ACCOUNT_ID_NO_AUTH = "anonymous"  # what function URLs with auth type NONE report
ACCOUNT_ID = "123456789012"  # the emulated account that owns the functions

# Hop-by-hop headers (RFC 9110 7.6.1): a proxy consumes them, a function never sees them.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
     "upgrade"}
)  # fmt: skip

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


def new_edge_request_id() -> str:
    """An id shaped like CloudFront's (56 characters of URL-safe base64, ending '==')."""
    return base64.urlsafe_b64encode(os.urandom(40)).decode("ascii")


def new_trace_id(now: float | None = None) -> str:
    """An X-Ray trace header value: Root=1-{epoch seconds hex}-{96 random bits hex}."""
    epoch = int(time.time() if now is None else now)
    return f"Root=1-{epoch:08x}-{os.urandom(12).hex()}"


# --- CloudFront ----------------------------------------------------------------------------


def to_cf_headers(headers: Iterable[tuple[str, str]]) -> CfHeaders:
    """``{"lower-name": [{"key": "As-Sent", "value": v}, ...]}``, one entry per occurrence."""
    shaped: CfHeaders = {}
    for name, value in headers:
        shaped.setdefault(name.lower(), []).append({"key": name, "value": value})
    return shaped


def from_cf_headers(headers: Mapping[str, Any]) -> Headers:
    """Back to (name, value) pairs; a missing ``key`` falls back to the lower-case name."""
    pairs: Headers = []
    for lower, entries in headers.items():
        for entry in entries:
            pairs.append((str(entry.get("key") or lower), str(entry["value"])))
    return pairs


def viewer_request_event(
    *,
    method: str,
    uri: str,
    querystring: str,
    headers: Iterable[tuple[str, str]],
    client_ip: str,
    request_id: str,
    distribution_id: str = DISTRIBUTION_ID,
    distribution_domain: str = DISTRIBUTION_DOMAIN,
) -> Event:
    return {
        "Records": [
            {
                "cf": {
                    "config": {
                        "distributionDomainName": distribution_domain,
                        "distributionId": distribution_id,
                        "eventType": "viewer-request",
                        "requestId": request_id,
                    },
                    "request": {
                        "clientIp": client_ip,
                        "headers": to_cf_headers(
                            (n, v) for n, v in headers if n.lower() not in HOP_BY_HOP
                        ),
                        "method": method,
                        "querystring": querystring,
                        "uri": uri,
                    },
                }
            }
        ]
    }


# --- Lambda function URL -------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def clf_time(epoch: float) -> str:
    """Common Log Format time in UTC, e.g. ``12/Mar/2020:19:03:58 +0000`` (no locale)."""
    t = time.gmtime(epoch)
    day = f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}"
    return f"{day}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def function_url_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    source_ip: str,
    domain_name: str,
    request_id: str | None = None,
    protocol: str = "HTTP/1.1",
    now: float | None = None,
    iam: Mapping[str, Any] | None = None,
    account_id: str = ACCOUNT_ID,
) -> Event:
    """Payload format 2.0 as function URLs build it: header names lower-cased and repeated
    values comma-joined, cookies moved out of the headers into ``cookies``, repeated query
    parameters comma-joined, keys absent (not null) when there is nothing to put in them.

    Without ``iam`` it is the event of auth type ``NONE`` (``accountId`` "anonymous", no
    authorizer). With ``iam`` (the caller's ``requestContext.authorizer.iam``) it is the
    event of auth type ``AWS_IAM``, as in the documented example: ``accountId`` is the
    function owner's (``account_id``), ``authentication`` is null ("Function URLs don't use
    this parameter. Lambda sets this to null.") and ``authorizer`` holds ``iam``."""
    now = time.time() if now is None else now
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            continue
        if lower == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        joined[lower] = f"{joined[lower]},{value}" if lower in joined else value

    event: Event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if raw_query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    domain_prefix = domain_name.split(".", 1)[0]
    context: Event = {"accountId": ACCOUNT_ID_NO_AUTH, "apiId": domain_prefix}
    if iam is not None:
        context = {
            "accountId": account_id,
            "apiId": domain_prefix,
            "authentication": None,
            "authorizer": {"iam": dict(iam)},
        }
    event["requestContext"] = {
        **context,
        "domainName": domain_name,
        "domainPrefix": domain_prefix,
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": request_id or str(uuid.uuid4()),
        "routeKey": "$default",
        "stage": "$default",
        "time": clf_time(now),
        "timeEpoch": int(now * 1000),
    }
    if body:
        content_type = joined.get("content-type", "")
        if content_type.startswith(_TEXT_TYPES):
            try:
                event["body"] = body.decode("utf-8")
                event["isBase64Encoded"] = False
                return event
            except UnicodeDecodeError:
                pass
        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event
