"""Origin-request functions for the CloudFront emulator's tests, run in its edge workers.

``handler`` dispatches on the URI's first segment. Each run leaves a trace in headers the
origin receives: ``X-Runs`` (how many runs this request has been through), ``X-Origins``
(the origin each run was for) and ``X-Query`` (the query string the first run saw)."""

from __future__ import annotations

from typing import Any

Event = dict[str, Any]


def _header(request: Event, name: str) -> str:
    values = request["headers"].get(name.lower())
    return str(values[0]["value"]) if values else ""


def _set(request: Event, name: str, value: str) -> None:
    request["headers"][name.lower()] = [{"key": name, "value": value}]


def _record(request: Event) -> Event:
    origin = request["origin"]
    kind = next(iter(origin))
    runs = _header(request, "X-Runs")
    _set(request, "X-Runs", str(int(runs or 0) + 1))
    seen = _header(request, "X-Origins")
    _set(request, "X-Origins", ",".join(filter(None, [seen, origin[kind]["domainName"]])))
    if not runs:
        _set(request, "X-Query", request["querystring"] or "-")
        request["uri"] = "/rewritten" + request["uri"]
        request["querystring"] = ""
    return request


def _add_via(request: Event) -> Event:
    _set(request, "Via", "1.1 elsewhere")
    return request


def _change_host(request: Event) -> Event:
    _set(request, "Host", "elsewhere.example")
    return _record(request)


def _generated(size: int) -> Event:
    return {
        "status": "200",
        "headers": {"cache-control": [{"key": "Cache-Control", "value": "max-age=300"}]},
        "body": "x" * size,
    }


def _generate_41k(request: Event) -> Event:
    return _generated(41 * 1024)


def _generate_2m(request: Event) -> Event:
    return _generated(2 * 1024 * 1024)


BEHAVIOURS = {
    "record": _record,
    "add-via": _add_via,
    "change-host": _change_host,
    "generate-41k": _generate_41k,
    "generate-2m": _generate_2m,
}


def handler(event: Event, context: Any) -> Event:
    assert event["Records"][0]["cf"]["config"]["eventType"] == "origin-request"
    request: Event = event["Records"][0]["cf"]["request"]
    if _header(request, "X-Runs"):  # the failover's run: the request returned before
        return _record(request)
    return BEHAVIOURS[request["uri"].split("/")[1]](request)
