"""Viewer-request functions for the CloudFront emulator's tests, run in its edge workers.

``handler`` dispatches on the URI's first segment: ``/pass/...`` returns the request as it
came (query string included); each other name breaks one of CloudFront's rules."""

from __future__ import annotations

import time
from typing import Any

Event = dict[str, Any]
MIB = 1024 * 1024


def _header(request: Event, name: str, value: str) -> Event:
    request["headers"][name.lower()] = [{"key": name, "value": value}]
    return request


def _pass(request: Event) -> Event:
    return request


def _add_x_cache(request: Event) -> Event:
    return _header(request, "X-Cache", "Hit from cloudfront")


def _change_host(request: Event) -> Event:
    return _header(request, "Host", "elsewhere.example")


def _long_uri(request: Event) -> Event:
    request["uri"] = "/" + "a" * 8999
    return request


def _sleep(request: Event) -> Event:
    time.sleep(6)
    return request


def _allocate(request: Event) -> Event:
    hog = b"\x01" * (200 * MIB)  # written, so resident
    request["headers"]["x-size"] = [{"key": "X-Size", "value": str(len(hog))}]
    return request


def _raise(request: Event) -> Event:
    raise RuntimeError("the function failed")


def _big_response(request: Event) -> Event:
    return {"status": "200", "body": "x" * (41 * 1024)}


def _small_response(request: Event) -> Event:
    return {"status": "418", "statusDescription": "I'm a teapot", "body": "short"}


BEHAVIOURS = {
    "pass": _pass,
    "add-x-cache": _add_x_cache,
    "change-host": _change_host,
    "long-uri": _long_uri,
    "sleep": _sleep,
    "allocate": _allocate,
    "raise": _raise,
    "big-response": _big_response,
    "small-response": _small_response,
}


def handler(event: Event, context: Any) -> Event:
    request: Event = event["Records"][0]["cf"]["request"]
    return BEHAVIOURS[request["uri"].split("/")[1]](request)
