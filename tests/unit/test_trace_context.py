"""The trace headers both stages share: parsers are total, formats round-trip."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from edge_router.trace import start_trace
from shared.trace_context import EdgeTiming, TraceHeader, new_segment_id, new_trace_root

ROOT = "1-5759e988-bd862e3fe1be46a994272793"


def test_trace_header_round_trip() -> None:
    header = TraceHeader(root=ROOT, parent="53995c3f42cd8ad8", sampled=True)
    assert header.format() == f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"
    assert TraceHeader.parse(header.format()) == header


def test_trace_header_as_aws_writes_it() -> None:
    parsed = TraceHeader.parse(f"Root={ROOT};Sampled=0;Lineage=a87bd80c:1")
    assert parsed == TraceHeader(root=ROOT, parent=None, sampled=False)
    assert TraceHeader.parse(f"Root={ROOT};Sampled=?") == TraceHeader(root=ROOT)


def test_new_ids_have_xray_shapes() -> None:
    now = time.time()
    root = new_trace_root(now)
    assert TraceHeader.parse(f"Root={root}") is not None
    assert int(root.split("-")[1], 16) == int(now)
    assert len(new_segment_id()) == 16
    assert int(new_segment_id(), 16) >= 0


def test_edge_timing_round_trip_with_cloudfront_request_id() -> None:
    timing = EdgeTiming(
        "0123456789abcdef", 1700000000.25, 1700000000.2504, "viewer-request",
        "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==", "fedcba9876543210",
    )  # fmt: skip
    parsed = EdgeTiming.parse(timing.format())
    assert parsed is not None
    assert parsed.request_id == timing.request_id
    assert parsed.segment_id == timing.segment_id
    assert abs(parsed.duration_ms - 0.4) < 0.01


def test_implausible_timings_are_ignored() -> None:
    base = "id=0123456789abcdef;event=viewer-request;request=abc"
    assert EdgeTiming.parse(base + ";start=10;end=5") is None  # ends before it starts
    assert EdgeTiming.parse(base + ";start=10;end=1000") is None  # longer than any edge
    assert EdgeTiming.parse(base + ";start=x;end=5") is None
    assert EdgeTiming.parse("id=zz;start=1;end=1;event=v;request=r") is None


@given(st.text(max_size=300))
def test_parsers_are_total(value: str) -> None:
    header = TraceHeader.parse(value)
    assert header is None or TraceHeader.parse(header.format()) == header
    timing = EdgeTiming.parse(value)
    assert timing is None or timing.start <= timing.end


def test_edge_honours_the_viewers_decision_and_root() -> None:
    viewer = f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"
    trace, segment_id, parent = start_trace(viewer, 0.0, now=time.time(), chance=lambda: 0.99)
    assert (trace.root, trace.sampled, trace.parent) == (ROOT, True, segment_id)
    assert parent == "53995c3f42cd8ad8"
    unsampled = start_trace(f"Root={ROOT};Sampled=0", 1.0, now=time.time())[0]
    assert unsampled.sampled is False


def test_edge_samples_new_traces_at_the_configured_rate() -> None:
    now = time.time()
    assert start_trace(None, 0.05, now=now, chance=lambda: 0.04)[0].sampled is True
    assert start_trace(None, 0.05, now=now, chance=lambda: 0.06)[0].sampled is False
    assert start_trace("garbage", 1.0, now=now)[0].root != ROOT


def test_a_new_trace_is_sampled_only_below_the_rate() -> None:
    now = time.time()
    assert start_trace(None, 0.05, now=now, chance=lambda: 0.05)[0].sampled is False
    assert start_trace(None, 0.0, now=now, chance=lambda: 0.0)[0].sampled is False
    assert start_trace(None, 1.0, now=now, chance=lambda: 0.999)[0].sampled is True
