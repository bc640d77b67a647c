"""The Lambda@Edge handler, given CloudFront's real viewer- and origin-request events."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from edge_router.handler import handler, make_handler
from shared.config import Config
from shared.trace_context import EdgeTiming, TraceHeader
from tests.conftest import EVENTS

VIEWER_REQUEST: dict[str, Any] = json.loads((EVENTS / "viewer_request.json").read_text())


def cf_event(uri: str, query: str, accept: str | None = None, kind: str = "viewer-request") -> Any:
    event = copy.deepcopy(VIEWER_REQUEST)
    event["Records"][0]["cf"]["config"]["eventType"] = kind
    request = event["Records"][0]["cf"]["request"]
    request["uri"], request["querystring"] = uri, query
    if accept is None:
        request["headers"].pop("accept")
    else:
        request["headers"]["accept"] = [{"key": "Accept", "value": accept}]
    return event


def test_rewrites_uri_and_clears_query() -> None:
    result = handler(cf_event("/sample.png", "s=256x256&f=webp"), None)
    assert result["uri"] == "/256x256/webp/sample.png"
    assert result["querystring"] == ""
    # everything else in the request is passed on untouched
    assert result["headers"]["host"] == [{"key": "Host", "value": "d111111abcdef8.cloudfront.net"}]
    assert result["method"] == "GET"


def test_accept_header_decides_auto() -> None:
    chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
    assert handler(cf_event("/a.jpg", "f=auto", chrome), None)["uri"] == "/full/avif/a.jpg"
    assert handler(cf_event("/a.jpg", "f=auto", "*/*"), None)["uri"] == "/full/jpeg/a.jpg"
    assert handler(cf_event("/a.png", "f=auto"), None)["uri"] == "/full/png/a.png"


def test_viewer_then_origin_request_is_idempotent() -> None:
    first = handler(cf_event("/p/c.jpg", "fit=contain&s=640x480&q=50"), None)
    second = handler(cf_event(first["uri"], first["querystring"], kind="origin-request"), None)
    assert first["uri"] == second["uri"] == "/640x480-contain-q50/jpeg/p/c.jpg"


@pytest.mark.parametrize(
    ("uri", "query"),
    [("/a.jpg", "s=0x0"), ("/a.jpg", "f=tiff"), ("/a/../b.jpg", "s=10x"), ("/a.jpg", "s=1&s=2")],
)
def test_bad_parameters_get_a_generated_400(uri: str, query: str) -> None:
    result = handler(cf_event(uri, query), None)
    assert result["status"] == "400"
    assert result["statusDescription"] == "Bad Request"
    assert result["headers"]["cache-control"] == [
        {"key": "Cache-Control", "value": "public, max-age=60"}
    ]
    assert result["headers"]["content-type"][0]["value"].startswith("text/plain")
    assert result["body"].startswith("invalid request")
    assert len(json.dumps(result).encode()) < 40_000  # Lambda@Edge's generated-response cap


def test_overlong_hostile_input_still_gets_a_small_400() -> None:
    result = handler(cf_event("/" + "a" * 5000, "s=" + "9" * 900), None)
    assert result["status"] == "400"
    assert len(result["body"]) < 300


def test_configuration_is_bound_per_handler() -> None:
    only_webp = make_handler(Config(sizes=(100, 200), formats=("webp",)))
    assert only_webp(cf_event("/a.jpg", "s=150x"), None)["uri"] == "/200x/webp/a.jpg"
    assert only_webp(cf_event("/a.jpg", "f=avif"), None)["status"] == "400"


def test_forwarded_request_starts_a_trace_and_records_edge_timing() -> None:
    event = cf_event("/sample.png", "s=256x256&f=webp")
    result = make_handler(Config(trace_sampling_rate=1.0))(event, None)
    trace = TraceHeader.parse(result["headers"]["x-imgedge-trace"][0]["value"])
    timing = EdgeTiming.parse(result["headers"]["x-imgedge-edge"][0]["value"])
    assert "x-amzn-trace-id" not in result["headers"]  # imgedge's own headers only
    assert trace is not None and timing is not None
    assert trace.sampled is True
    assert trace.parent == timing.segment_id
    assert timing.event_type == "viewer-request"
    assert timing.request_id == event["Records"][0]["cf"]["config"]["requestId"]
    assert 0 <= timing.duration_ms < 100


def test_viewer_cannot_forge_edge_timing_and_origin_request_keeps_the_trace() -> None:
    forged = cf_event("/a.jpg", "s=64x")
    forged["Records"][0]["cf"]["request"]["headers"]["x-imgedge-edge"] = [
        {"key": "X-Imgedge-Edge", "value": "id=0000000000000000;start=1;end=2;event=x;request=y"}
    ]
    viewer = handler(forged, None)
    timing = viewer["headers"]["x-imgedge-edge"][0]["value"]
    assert not timing.startswith("id=0000000000000000")
    origin_event = cf_event(viewer["uri"], "", kind="origin-request")
    origin_event["Records"][0]["cf"]["request"]["headers"].update(
        {k: viewer["headers"][k] for k in ("x-imgedge-edge", "x-imgedge-trace")}
    )
    origin = handler(origin_event, None)
    assert origin["headers"]["x-imgedge-edge"][0]["value"] == timing
    assert origin["headers"]["x-imgedge-trace"] == viewer["headers"]["x-imgedge-trace"]


def test_generated_400_carries_no_trace() -> None:
    result = handler(cf_event("/a.jpg", "s=0x"), None)
    assert "x-amzn-trace-id" not in result["headers"]
    assert "x-imgedge-trace" not in result["headers"]
