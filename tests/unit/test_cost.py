"""bench.cost: the bill's arithmetic against a case worked by hand, the JSON it writes, and
the provenance of every price it bills."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bench import cost
from edge_router.handler import make_handler
from shared.config import Config

GIB = 1024**3
MEASURED = cost.Measured(
    edge_viewer_ms=0.05, edge_origin_ms=0.05, render_ms=(100.0,), sharp_render_ms=(110.0,)
)
TRAFFIC = cost.Traffic(requests=1e6, hit_ratio=0.9, mean_bytes=100_000, render_share=0.5)


def test_billed_duration_scales_below_one_vcpu_and_rounds_up_to_the_millisecond() -> None:
    assert cost.billed_ms(0.05, 128) == 1  # 0.69 ms at 128 MB: at least 1 ms
    assert cost.billed_ms(100.0, 1769) == 100  # one full vCPU: as measured
    assert cost.billed_ms(100.0, 3008) == 100  # a single thread gains nothing above it
    assert cost.billed_ms(100.0, 1024) == 173  # 100 x 1769 / 1024 = 172.75
    assert cost.billed_ms(10.2, 1769) == 11


def test_origin_request_bill_matches_a_case_worked_by_hand() -> None:
    design = cost.Design(
        "imgedge-origin-request",
        "lambda@edge",
        "origin-request",
        "pillow",
        memory_mb=1769,
        architecture="arm64",
        stores=True,
        retention_days=365,
        s3_gets_per_render=2,
        s3_puts_per_render=2,
    )
    got = cost.bill(design, TRAFFIC, cost.Prices.load(), MEASURED)
    # 1e6 requests, 1e5 misses, 5e4 renders; the edge runs on each miss and again on each
    # failover to the resizer: 1.5e5 invocations of 1 ms at 128 MB.
    want = {
        "cloudfront_requests": 1e6 / 10_000 * 0.01,
        "cloudfront_transfer": 1e6 * 100_000 / GIB * 0.085,
        "edge_requests": 1.5e5 * 0.60 / 1e6,
        "edge_duration": 1.5e5 * 0.001 * 0.125 * 0.00005001,
        "renderer_requests": 5e4 * 0.20 / 1e6,
        "renderer_duration": 5e4 * 0.100 * 1769 / 1024 * 0.0000133334,
        "api_gateway": 0.0,
        "origin_shield": 0.0,
        "s3_get": (1e5 + 5e4 * 2) * 0.0004 / 1000,
        "s3_put": 5e4 * 2 * 0.005 / 1000,
        "s3_storage": 5e4 * 365 / (365.25 / 12) * 100_000 / GIB * 0.023,
    }
    assert got["lines"] == pytest.approx(want, rel=1e-9)
    assert got["edge_usd"] == pytest.approx(want["edge_requests"] + want["edge_duration"])
    assert got["total_usd"] == pytest.approx(sum(want.values()))
    assert got["edge_invocations"] == pytest.approx(1.5e5)


def test_stateless_design_renders_every_miss_behind_api_gateway() -> None:
    design = cost.designs()["dynamic-image-transformation"]
    got = cost.bill(design, TRAFFIC, cost.Prices.load(), MEASURED)
    assert got["renders"] == pytest.approx(1e5)
    assert got["lines"]["edge_requests"] == pytest.approx(1e6 * 0.10 / 1e6)
    assert got["lines"]["api_gateway"] == pytest.approx(1e5 * 3.50 / 1e6)
    # 110 ms of sharp at 1,024 MB: 110 x 1769 / 1024 = 190.03 -> 191 ms on x86_64.
    assert got["lines"]["renderer_duration"] == pytest.approx(
        1e5 * 0.191 * 1024 / 1024 * 0.0000166667
    )
    assert got["lines"]["s3_put"] == 0 and got["lines"]["s3_storage"] == 0


def test_origin_request_edge_share_is_within_the_cloudfront_function_share() -> None:
    traffic = cost.Traffic(requests=1e7, hit_ratio=0.9, mean_bytes=50_000, render_share=0.2)
    designs, prices = cost.designs(), cost.Prices.load()
    origin = cost.bill(designs["imgedge-origin-request"], traffic, prices, MEASURED)
    samples = cost.bill(designs["aws-samples"], traffic, prices, MEASURED)
    viewer = cost.bill(designs["imgedge-viewer-request"], traffic, prices, MEASURED)
    assert origin["edge_share"] <= samples["edge_share"] < viewer["edge_share"]


def test_json_has_the_four_designs_with_edge_and_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    detail = {"render_ms": {"a": 100.0}, "sharp_render_ms": {"a": 110.0}}
    monkeypatch.setattr(cost, "measure", lambda cases, reps: (MEASURED, detail))
    out = tmp_path / "cost.json"
    cost.main(["--requests", "1e6", "--hit-ratio", "0.9", "--mean-bytes", "5e4", "--cases", "a"])
    cost.main(
        ["--requests", "1e6", "--hit-ratio", "0.9", "--mean-bytes", "5e4", "--json", str(out)]
    )
    data: dict[str, Any] = json.loads(out.read_text())
    assert list(data) == ["designs"]
    assert set(data["designs"]) == {
        "imgedge-viewer-request",
        "imgedge-origin-request",
        "aws-samples",
        "dynamic-image-transformation",
    }
    for entry in data["designs"].values():
        assert isinstance(entry["edge_usd"], float) and isinstance(entry["total_usd"], float)
        assert 0 < entry["edge_usd"] < entry["total_usd"]


def test_every_price_names_its_aws_page_and_the_day_it_was_read() -> None:
    data = json.loads(cost.PRICES.read_text())
    date.fromisoformat(data["read"])
    url = re.compile(r"^https?://[^\s/]+\.[^\s/]+/\S*$")
    assert data["prices"]
    for name, price in data["prices"].items():
        assert url.match(price["source"]), name
        assert "amazon" in price["source"], f"{name}: the source is AWS's own page"
        date.fromisoformat(price["read"])
        assert isinstance(price["seen_on_source"], bool), name
        if not price["seen_on_source"]:
            assert price.get("corroborated_by") or price.get("note"), name
        for other in price.get("corroborated_by", []):
            assert url.match(other), name
    cost.Prices.load()  # every price the model bills is there


def test_edge_events_are_ones_the_router_rewrites() -> None:
    handler = make_handler(Config())
    for event_type, event in cost.edge_events("/photos/cat.jpg", "s=256x256&f=webp").items():
        assert event["Records"][0]["cf"]["config"]["eventType"] == event_type
        request = handler(json.loads(json.dumps(event)), None)
        assert request["uri"] == "/256x256/webp/photos/cat.jpg"
        assert request["querystring"] == ""
        assert cost.time_edge(event, 5) > 0
