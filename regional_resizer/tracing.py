"""Tracing for the resizer, behind one small interface (the only module that knows X-Ray).

The handler asks for an ``Invocation`` and wraps its phases in ``span(name)``. Each span is
timed for the ``Server-Timing`` header whether or not the request is sampled, and, when it
is, becomes an X-Ray subsegment (boto3 is patched, so S3 calls appear on their own).
aws-xray-sdk is in maintenance mode: moving to OpenTelemetry means rewriting this module
only. Every backend call is guarded; a tracing failure never fails a request.

Where the segment comes from:
- on AWS Lambda (active tracing), Lambda's own segment continues the incoming
  ``X-Amzn-Trace-Id`` (its parent is the edge segment) and the SDK adds subsegments to it;
  annotations go on a top-level ``imgedge`` subsegment, since Lambda's segment is read-only.
- elsewhere (the local stack), this module begins the segment itself, with the incoming
  Root as trace id and the edge segment as parent.
In both, the edge router's segment (from its timing header) is sent to the daemon as a
segment of its own, so X-Ray shows edge -> resizer -> S3 as one trace.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from shared.trace_context import EDGE_TIMING_HEADER, TRACE_HEADER, EdgeTiming, TraceHeader

log = logging.getLogger("imgedge.tracing")

SERVICE_NAME = "imgedge-resizer"
EDGE_SEGMENT_NAME = "imgedge-edge"
DAEMON_ADDRESS_ENV = "AWS_XRAY_DAEMON_ADDRESS"
DAEMON_HEADER = b'{"format": "json", "version": 1}\n'

_recorder: Any = None  # aws_xray_sdk's global recorder, once configured


def _in_lambda() -> bool:
    return bool(os.environ.get("LAMBDA_TASK_ROOT"))


def _guarded(what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception:  # a trace must never fail a request
        log.debug("tracing: %s failed", what, exc_info=True)
        return None


def _configure() -> Any:
    """Configure the SDK once per process (lazily: cold starts that never trace skip it)."""
    global _recorder  # noqa: PLW0603
    if _recorder is None:
        from aws_xray_sdk.core import patch, xray_recorder

        xray_recorder.configure(
            service=SERVICE_NAME,
            context_missing="IGNORE_ERROR",
            sampling=False,  # the edge decided; the SDK only follows the header
            plugins=(),
        )
        logging.getLogger("aws_xray_sdk").setLevel(logging.ERROR)
        patch(("botocore",))
        _recorder = xray_recorder
    return _recorder


def daemon_address() -> tuple[str, int]:
    """The daemon's UDP address from AWS_XRAY_DAEMON_ADDRESS ("host:port" or
    "tcp:host:port udp:host:port"), default 127.0.0.1:2000."""
    value = os.environ.get(DAEMON_ADDRESS_ENV, "127.0.0.1:2000")
    for part in value.split():
        if part.startswith("udp:") or (":" in part and not part.startswith("tcp:")):
            host, _, port = part.removeprefix("udp:").rpartition(":")
            return host, int(port)
    return "127.0.0.1", 2000


def send_segment(document: Mapping[str, Any]) -> None:
    """One segment document to the daemon, in its UDP wire format."""
    payload = DAEMON_HEADER + json.dumps(document, separators=(",", ":")).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(payload, daemon_address())


def edge_segment(trace: TraceHeader, edge: EdgeTiming) -> dict[str, Any]:
    """The edge router's segment, as X-Ray's PutTraceSegments accepts it."""
    document: dict[str, Any] = {
        "name": EDGE_SEGMENT_NAME,
        "id": edge.segment_id,
        "trace_id": trace.root,
        "start_time": edge.start,
        "end_time": edge.end,
        "annotations": {"event_type": edge.event_type, "cloudfront_request_id": edge.request_id},
        "metadata": {"imgedge": {"stage": "edge_router", "runtime": "Lambda@Edge"}},
    }
    if edge.parent:
        document["parent_id"] = edge.parent
    return document


class Invocation:
    """One request's trace: spans, annotations, outcome, and the Server-Timing header."""

    def __init__(self, trace: TraceHeader | None, edge: EdgeTiming | None) -> None:
        self.trace = trace
        self.edge = edge
        self.sampled = bool(trace and trace.sampled)
        self.timings: list[tuple[str, float]] = []
        self._entity: Any = None  # where annotations go: our segment or top subsegment
        self._owns_segment = False

    # --- lifecycle ---------------------------------------------------------------------

    def finish(self, status: int) -> None:
        """Close the trace with the response's status (4xx: error, 5xx: fault)."""
        _guarded("end", lambda: self._end(status))

    def _begin(self) -> None:
        if not self.sampled or self.trace is None:
            return
        recorder = _configure()
        trace = self.trace
        if _in_lambda():
            self._entity = recorder.begin_subsegment("imgedge")
        else:
            self._entity = recorder.begin_segment(
                SERVICE_NAME, traceid=trace.root, parent_id=trace.parent, sampling=1
            )
            self._owns_segment = True

    def _end(self, status: int) -> None:
        if self._entity is None:
            return
        entity, recorder = self._entity, _configure()
        entity.put_http_meta("status", status)
        if 400 <= status < 500:
            entity.add_error_flag()
        elif status >= 500:
            entity.add_fault_flag()
        if self._owns_segment:
            recorder.end_segment()
        else:
            recorder.end_subsegment()
        self._entity = None
        if self.edge is not None and self.trace is not None:
            send_segment(edge_segment(self.trace, self.edge))

    # --- what the handler uses ---------------------------------------------------------

    @contextmanager
    def span(self, name: str, *, subsegment: bool = True) -> Iterator[None]:
        """Time ``name`` for Server-Timing; when sampled, also an X-Ray subsegment."""
        recorder = _configure() if subsegment and self._entity is not None else None
        sub = None
        if recorder is not None:
            sub = _guarded("begin_subsegment", lambda: recorder.begin_subsegment(name))
        started = time.perf_counter()
        try:
            yield
        except Exception:
            if sub is not None:
                _guarded("mark error", sub.add_error_flag)
            raise
        finally:
            self.timings.append((name, (time.perf_counter() - started) * 1000))
            if recorder is not None and sub is not None:
                _guarded("end_subsegment", recorder.end_subsegment)

    def phase(self, name: str) -> AbstractContextManager[None]:
        """``span`` with the signature the render pipeline's phase hook expects."""
        return self.span(name)

    def annotate(self, **values: str | int | float | bool) -> None:
        entity = self._entity
        if entity is not None:
            _guarded("annotate", lambda: [entity.put_annotation(k, v) for k, v in values.items()])

    def server_timing(self) -> str:
        """``Server-Timing``: the edge's time first, then this stage's phases in order."""
        entries = [("edge", self.edge.duration_ms)] if self.edge else []
        entries += self.timings
        return ", ".join(f"{name};dur={ms:.1f}" for name, ms in entries)


def start(headers: Mapping[str, str]) -> Invocation:
    """Begin tracing one request from its (lower-cased) headers; never raises."""
    current = Invocation(
        TraceHeader.parse(headers.get(TRACE_HEADER)),
        EdgeTiming.parse(headers.get(EDGE_TIMING_HEADER)),
    )
    _guarded("begin", current._begin)
    return current
