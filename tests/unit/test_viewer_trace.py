"""A viewer's X-Amzn-Trace-Id steers nothing unless the configuration trusts it
(``trust_viewer_trace``): not the root, not the sampling decision, not the parent. Either
way the edge hands its trace on in imgedge's own header, never in X-Amzn-Trace-Id."""

from __future__ import annotations

from typing import Any

import pytest

from edge_router.handler import make_handler
from shared.config import Config, ConfigError
from shared.trace_context import EdgeTiming, TraceHeader
from tests.unit.test_edge_handler import cf_event

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
VIEWER_PARENT = "53995c3f42cd8ad8"


def forwarded(config: Config, viewer_header: str) -> tuple[TraceHeader, EdgeTiming, Any]:
    event = cf_event("/a.jpg", "s=64x")
    event["Records"][0]["cf"]["request"]["headers"]["x-amzn-trace-id"] = [
        {"key": "X-Amzn-Trace-Id", "value": viewer_header}
    ]
    result = make_handler(config)(event, None)
    trace = TraceHeader.parse(result["headers"]["x-imgedge-trace"][0]["value"])
    timing = EdgeTiming.parse(result["headers"]["x-imgedge-edge"][0]["value"])
    assert trace is not None and timing is not None
    return trace, timing, result


def test_the_default_is_not_to_trust_the_viewer() -> None:
    assert Config().trust_viewer_trace is False
    assert Config.from_mapping({"trust_viewer_trace": True}).trust_viewer_trace is True


@pytest.mark.parametrize("value", ["true", 1, 0, None])
def test_trust_viewer_trace_must_be_a_boolean(value: object) -> None:
    with pytest.raises(ConfigError, match="trust_viewer_trace: must be true or false"):
        Config.from_mapping({"trust_viewer_trace": value})


def test_an_untrusted_viewer_cannot_force_sampling_or_choose_the_root() -> None:
    config = Config(trace_sampling_rate=0.0)
    trace, timing, result = forwarded(config, f"Root={ROOT};Parent={VIEWER_PARENT};Sampled=1")
    assert trace.sampled is False  # the rate decides: 0
    assert trace.root != ROOT
    assert trace.parent == timing.segment_id
    assert timing.parent is None  # the viewer's parent is not the edge's
    # CloudFront's policy does not forward it; the edge leaves the viewer's header alone.
    assert result["headers"]["x-amzn-trace-id"][0]["value"].startswith(f"Root={ROOT}")


def test_an_untrusted_viewer_cannot_refuse_sampling() -> None:
    trace, _, _ = forwarded(Config(trace_sampling_rate=1.0), f"Root={ROOT};Sampled=0")
    assert trace.sampled is True
    assert trace.root != ROOT


def test_a_trusted_viewer_chooses_the_root_and_the_sampling() -> None:
    config = Config(trace_sampling_rate=0.0, trust_viewer_trace=True)
    trace, timing, _ = forwarded(config, f"Root={ROOT};Parent={VIEWER_PARENT};Sampled=1")
    assert (trace.root, trace.sampled, trace.parent) == (ROOT, True, timing.segment_id)
    assert timing.parent == VIEWER_PARENT
    unsampled, _, _ = forwarded(
        Config(trace_sampling_rate=1.0, trust_viewer_trace=True), f"Root={ROOT};Sampled=0"
    )
    assert (unsampled.root, unsampled.sampled) == (ROOT, False)


def test_a_trusted_viewer_without_a_decision_is_sampled_at_the_rate() -> None:
    config = Config(trace_sampling_rate=0.0, trust_viewer_trace=True)
    trace, _, _ = forwarded(config, f"Root={ROOT}")
    assert (trace.root, trace.sampled) == (ROOT, False)


def test_a_viewer_cannot_forge_the_edges_trace_header() -> None:
    event = cf_event("/a.jpg", "s=64x")
    event["Records"][0]["cf"]["request"]["headers"]["x-imgedge-trace"] = [
        {"key": "X-Imgedge-Trace", "value": f"Root={ROOT};Parent={VIEWER_PARENT};Sampled=1"}
    ]
    result = make_handler(Config(trace_sampling_rate=0.0))(event, None)
    trace = TraceHeader.parse(result["headers"]["x-imgedge-trace"][0]["value"])
    assert trace is not None and trace.root != ROOT and trace.sampled is False
