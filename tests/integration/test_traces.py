"""One X-Ray trace follows a request across both stages, through the local stack: the
edge router's segment, the resizer's segment (parented on it) and its subsegments, as the
embedded daemon received them and `imgedge traces --json` prints them.

The local function URL gives every invocation a fresh trace root, whatever the request
carries (the pessimistic reading of Lambda), and the stack does not trust a viewer's
X-Amzn-Trace-Id (the default): so a trace is found by its edge segment's CloudFront request
id (the response's X-Amz-Cf-Id), as one would find it in X-Ray with an annotation filter,
and it is one trace only because the resizer wrote the edge's segment into Lambda's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, make_s3_client
from tests.integration.stack_client import Served, fetch, jpeg, put_original, start_serve

pytestmark = pytest.mark.integration

TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
SEGMENT_ID = re.compile(r"[0-9a-f]{16}")
NAME = re.compile(r"[\w\s_.:/%&#=+\\\-@]{1,200}")
ANNOTATION_KEY = re.compile(r"[A-Za-z0-9_]{1,500}")
EPSILON_S = 0.005  # clocks of two processes on one machine


def check_entity(doc: dict[str, Any], *, top_level: bool) -> None:
    """The fields of a segment or subsegment document as X-Ray's API accepts them."""
    assert NAME.fullmatch(doc["name"]), doc["name"]
    assert SEGMENT_ID.fullmatch(doc["id"]), doc["id"]
    if top_level:
        assert TRACE_ID.fullmatch(doc["trace_id"]), doc["trace_id"]
    if "parent_id" in doc:
        assert SEGMENT_ID.fullmatch(doc["parent_id"])
    assert isinstance(doc["start_time"], float | int)
    assert isinstance(doc["end_time"], float | int)
    assert doc["start_time"] <= doc["end_time"]
    assert not doc.get("in_progress", False)
    for key, value in doc.get("annotations", {}).items():
        assert ANNOTATION_KEY.fullmatch(key), key
        assert isinstance(value, str | int | float | bool)
    for flag in ("error", "fault", "throttle"):
        assert isinstance(doc.get(flag, False), bool)
    for child in doc.get("subsegments", []):
        check_entity(child, top_level=False)
        assert child["start_time"] >= doc["start_time"] - EPSILON_S
        assert child["end_time"] <= doc["end_time"] + EPSILON_S
    assert len(json.dumps(doc)) < 64 * 1024


def traces(data_dir: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "infra.cli", "traces", "--json", "--limit", "0",
         "--data-dir", str(data_dir)],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    result: list[dict[str, Any]] = json.loads(out)
    return result


def cf_request_id(trace: dict[str, Any]) -> str | None:
    """The CloudFront request id of a trace's edge segment, if it has one."""
    for segment in trace["segments"]:
        if segment["name"] == "imgedge-edge":
            return str(segment.get("annotations", {}).get("cloudfront_request_id"))
    return None


def trace_of(data_dir: Path, cf_id: str, names: set[str]) -> dict[str, Any]:
    """The trace whose edge segment served CloudFront request ``cf_id``, once segments with
    all ``names`` have arrived (UDP is async)."""
    deadline = time.monotonic() + 10
    while True:
        found = [t for t in traces(data_dir) if cf_request_id(t) == cf_id]
        if found and names <= {s["name"] for s in found[0]["segments"]}:
            assert len(found) == 1, found
            return found[0]
        if time.monotonic() > deadline:
            pytest.fail(f"no trace of request {cf_id} held {names}: {found}")
        time.sleep(0.1)


def assert_one_trace_in_lambdas_root(trace: dict[str, Any], viewer_root: str) -> None:
    """Every segment is in one trace, Lambda's (not the edge's own root, kept as the edge
    segment's annotation), and nothing is in the root the viewer asked for."""
    edge = next(s for s in trace["segments"] if s["name"] == "imgedge-edge")
    edge_root = edge["annotations"]["edge_trace_id"]
    assert TRACE_ID.fullmatch(edge_root)
    assert trace["trace_id"] not in (edge_root, viewer_root)
    for doc in trace["segments"]:
        assert doc["trace_id"] == trace["trace_id"]
    assert viewer_root not in json.dumps(trace)


def walk(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for child in doc.get("subsegments", []):
        yield child
        yield from walk(child)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traced") / "data"


@pytest.fixture(scope="module")
def stack(data_dir: Path) -> Iterator[Served]:
    served = start_serve(data_dir, "--no-samples")
    yield served
    assert served.stop() == 0


@pytest.fixture(scope="module")
def s3(stack: Served) -> Any:
    return make_s3_client(stack.s3)


def viewer_trace() -> tuple[str, dict[str, str]]:
    root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    return root, {"X-Amzn-Trace-Id": f"Root={root};Sampled=1"}


def test_a_miss_is_one_trace_across_both_stages(stack: Served, s3: Any, data_dir: Path) -> None:
    put_original(s3, "traced/cat.jpg", jpeg())
    root, headers = viewer_trace()
    reply = fetch(f"{stack.edge}/traced/cat.jpg?s=256x256&f=webp", headers=headers)
    assert reply.status == 200

    trace = trace_of(data_dir, reply.headers["X-Amz-Cf-Id"], {"imgedge-edge", "imgedge-resizer"})
    for doc in trace["segments"]:
        check_entity(doc, top_level=True)
        assert doc["trace_id"] == trace["trace_id"]
    assert_one_trace_in_lambdas_root(trace, root)
    edge = next(s for s in trace["segments"] if s["name"] == "imgedge-edge")
    resizer = next(s for s in trace["segments"] if s["name"] == "imgedge-resizer")
    assert resizer["parent_id"] == edge["id"]
    assert "parent_id" not in edge  # the first segment of the trace
    assert resizer["annotations"]["edge_trace_id"] == edge["annotations"]["edge_trace_id"]
    assert edge["start_time"] <= resizer["start_time"] + EPSILON_S
    assert edge["annotations"]["event_type"] == "viewer-request"
    assert resizer["annotations"]["cache_key"] == "256x256/webp/traced/cat.jpg"
    assert resizer["annotations"]["output_format"] == "webp"
    assert resizer["annotations"]["source_pixels"] == 1200 * 800
    assert resizer["http"]["response"]["status"] == 200
    assert not resizer.get("error") and not resizer.get("fault")

    subsegments = list(walk(resizer))
    names = [s["name"] for s in subsegments]
    for phase in ("decode", "resize", "encode"):
        assert names.count(phase) == 1, names
    operations = {
        s.get("aws", {}).get("operation") for s in subsegments if s["name"].lower() == "s3"
    }
    assert {"GetObject", "PutObject"} <= operations, subsegments

    timing = reply.headers["Server-Timing"]
    assert [entry.split(";")[0] for entry in timing.split(", ")] == [
        "edge", "s3-get", "decode", "resize", "encode", "s3-put",
    ]  # fmt: skip


def test_a_hit_adds_no_resizer_segment(stack: Served, s3: Any, data_dir: Path) -> None:
    put_original(s3, "traced/hit.jpg", jpeg())
    assert fetch(f"{stack.edge}/traced/hit.jpg?s=128x").status == 200
    time.sleep(0.5)
    before = sum(len(t["segments"]) for t in traces(data_dir))
    root, headers = viewer_trace()
    reply = fetch(f"{stack.edge}/traced/hit.jpg?s=128x", headers=headers)
    assert reply.headers["X-Cache"] == "Hit from cloudfront"
    time.sleep(0.5)
    after = traces(data_dir)
    assert sum(len(t["segments"]) for t in after) == before
    assert root not in {t["trace_id"] for t in after}
    assert reply.headers["X-Amz-Cf-Id"] not in {cf_request_id(t) for t in after}


@pytest.mark.parametrize(
    ("key", "body", "status"),
    [("traced/missing.jpg", None, 404), ("traced/text.jpg", b"not an image\n", 415)],
)
def test_failures_are_error_segments(
    stack: Served, s3: Any, data_dir: Path, key: str, body: bytes | None, status: int
) -> None:
    if body is not None:
        put_original(s3, key, body)
    root, headers = viewer_trace()
    reply = fetch(f"{stack.edge}/{key}?s=64x&f=png", headers=headers)
    assert reply.status == status
    trace = trace_of(data_dir, reply.headers["X-Amz-Cf-Id"], {"imgedge-edge", "imgedge-resizer"})
    assert_one_trace_in_lambdas_root(trace, root)
    resizer = next(s for s in trace["segments"] if s["name"] == "imgedge-resizer")
    check_entity(resizer, top_level=True)
    assert resizer["error"] is True
    assert not resizer.get("fault")
    assert resizer["http"]["response"]["status"] == status


def test_unsampled_requests_send_nothing_but_still_time(stack: Served, s3: Any) -> None:
    put_original(s3, "traced/quiet.jpg", jpeg())
    root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    reply = fetch(
        f"{stack.edge}/traced/quiet.jpg?s=64x",
        headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=0"},
    )
    assert reply.status == 200
    assert "decode;dur=" in reply.headers["Server-Timing"]


def test_an_untrusted_viewer_cannot_refuse_sampling_or_choose_the_root(
    stack: Served, s3: Any, data_dir: Path
) -> None:
    """The local stack samples every request and trusts no viewer (the default): a viewer's
    Sampled=0 is ignored, and so is its Root."""
    put_original(s3, "traced/refused.jpg", jpeg())
    root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    reply = fetch(
        f"{stack.edge}/traced/refused.jpg?s=64x",
        headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=0"},
    )
    assert reply.status == 200
    trace = trace_of(data_dir, reply.headers["X-Amz-Cf-Id"], {"imgedge-edge", "imgedge-resizer"})
    assert_one_trace_in_lambdas_root(trace, root)


def test_the_resizer_never_relies_on_an_incoming_x_amzn_trace_id(
    stack: Served, s3: Any, data_dir: Path
) -> None:
    """The function URL gives each invocation a fresh root whatever arrives in
    X-Amzn-Trace-Id (the edge sends none; a viewer's is not forwarded): edge and resizer are
    still one trace, the edge's root kept as an annotation, because the resizer read the
    edge's context from X-Imgedge-Trace and wrote it into Lambda's trace. Two requests are
    two traces, each with its own edge root."""
    put_original(s3, "traced/fresh.jpg", jpeg())
    root, headers = viewer_trace()
    seen = []
    for size in ("48x", "96x"):
        reply = fetch(f"{stack.edge}/traced/fresh.jpg?s={size}", headers=headers)
        assert reply.status == 200
        trace = trace_of(
            data_dir, reply.headers["X-Amz-Cf-Id"], {"imgedge-edge", "imgedge-resizer"}
        )
        assert_one_trace_in_lambdas_root(trace, root)
        edge = next(s for s in trace["segments"] if s["name"] == "imgedge-edge")
        resizer = next(s for s in trace["segments"] if s["name"] == "imgedge-resizer")
        assert resizer["parent_id"] == edge["id"]
        assert resizer["annotations"]["edge_trace_id"] == edge["annotations"]["edge_trace_id"]
        seen.append((trace["trace_id"], edge["annotations"]["edge_trace_id"]))
    assert len({tid for pair in seen for tid in pair}) == 4


def test_waterfall_is_readable(stack: Served, data_dir: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "infra.cli", "traces", "--data-dir", str(data_dir)],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert "imgedge-edge" in out
    assert "imgedge-resizer" in out
    assert re.search(r"^trace 1-[0-9a-f]{8}-[0-9a-f]{24} \(edge root 1-[0-9a-f]{8}-", out, re.M)
    assert "s3 GetObject" in out
    assert re.search(r"decode\s+[\d.]+ ms\s+[\d.]+ ms \|", out)
