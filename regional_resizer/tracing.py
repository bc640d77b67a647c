"""Tracing for the resizer, behind one small interface (the only module that knows X-Ray).

The handler asks for an ``Invocation`` and wraps its phases in ``span(name)``. Each span is
timed for the ``Server-Timing`` header whether or not the request is sampled, and, when it
is, becomes an X-Ray subsegment. S3 calls are recorded as they end (``record_s3_call``, the
observer of the functions' S3 client): each one an ``s3`` subsegment of namespace ``aws``
with its operation, region, bucket, key, request ids and status, as aws-xray-sdk's botocore
patch would record it, on the request's top entity, whatever thread made the call.
aws-xray-sdk is imported only once a request is sampled (it loads botocore): a cold start
and every request the edge did not sample load neither. aws-xray-sdk is in maintenance
mode: moving to OpenTelemetry means rewriting this module only. Every backend call is
guarded; a tracing failure never fails a request.

Which request an S3 call belongs to: the one started (``start``) in the calling thread's
context (``contextvars``; a thread run in a copy of that context belongs to it too), else
the process's one request in progress, if there is exactly one (Lambda runs one request at
a time in an execution environment).

Two traces may meet here. The edge's (root, its segment's id, its sampling decision) comes
in imgedge's own header, ``X-Imgedge-Trace`` (``shared/trace_context.py``). Lambda's is the
one the invocation runs in: ``_X_AMZN_TRACE_ID``, which Lambda sets for each invocation
(Lambda Developer Guide, "Defined runtime environment variables",
https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime;
"Propagate the tracing header" in "Building a custom runtime",
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html), else the
``X-Amzn-Trace-Id`` of the function URL event. No AWS document says a function URL adopts
an incoming ``X-Amzn-Trace-Id`` as the invocation's trace, so nothing here relies on it:

- Lambda's root differs from the edge's (the pessimistic case, and the local stack's): the
  edge's segment is written into Lambda's trace, as the first segment there, and the edge's
  own root is kept as the annotation ``edge_trace_id`` (annotations are indexed for filter
  expressions: X-Ray Developer Guide, "X-Ray segment documents",
  https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html) on it
  and on the resizer's work. One trace holds edge -> resizer -> S3.
- they agree, or Lambda's is unknown: everything is in the edge's trace.
- on AWS Lambda, when Lambda itself did not sample the invocation, nothing of the resizer
  is recorded, and the edge's segment stays in the edge's own trace.

Where the resizer's segment comes from:
- on AWS Lambda (active tracing), Lambda's own segment is the invocation's and the SDK adds
  subsegments to it; annotations go on a top-level ``imgedge`` subsegment, since Lambda's
  segment is read-only. Lambda's segment cannot be re-parented, so on AWS the edge's
  segment sits beside it in the trace, earlier, rather than above it.
- elsewhere (the local stack), this module begins the segment itself, in the trace above,
  with the edge segment as parent.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from shared.trace_context import (
    AWS_TRACE_HEADER,
    EDGE_TIMING_HEADER,
    EDGE_TRACE_HEADER,
    EdgeTiming,
    TraceHeader,
)

if TYPE_CHECKING:
    from regional_resizer.s3 import Call

log = logging.getLogger("imgedge.tracing")

SERVICE_NAME = "imgedge-resizer"
EDGE_SEGMENT_NAME = "imgedge-edge"
DAEMON_ADDRESS_ENV = "AWS_XRAY_DAEMON_ADDRESS"
LAMBDA_TRACE_ENV = "_X_AMZN_TRACE_ID"
EDGE_ROOT_ANNOTATION = "edge_trace_id"
BOTOCORE_ANNOTATION = "botocore_version"
"""The runtime's botocore (loaded with aws-xray-sdk): what the purge function's CloudFront
client runs on; the S3 calls are imgedge's own client's."""
S3_SUBSEGMENT = "s3"
DAEMON_HEADER = b'{"format": "json", "version": 1}\n'

_recorder: Any = None  # aws_xray_sdk's global recorder, once configured
_current: ContextVar[Invocation | None] = ContextVar("imgedge_invocation", default=None)
_in_progress: list[Invocation] = []  # started, not finished, in this process
_in_progress_lock = threading.Lock()


def _botocore_version() -> str:
    import botocore

    return str(botocore.__version__)


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
        from aws_xray_sdk.core import xray_recorder

        xray_recorder.configure(
            service=SERVICE_NAME,
            context_missing="IGNORE_ERROR",
            sampling=False,  # the edge decided; the SDK only follows the header
            plugins=(),
        )
        logging.getLogger("aws_xray_sdk").setLevel(logging.ERROR)
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


def lambda_trace(headers: Mapping[str, str]) -> TraceHeader | None:
    """The trace Lambda runs this invocation in: ``_X_AMZN_TRACE_ID``, else the event's
    ``X-Amzn-Trace-Id``; None when neither is a trace header."""
    return TraceHeader.parse(os.environ.get(LAMBDA_TRACE_ENV)) or TraceHeader.parse(
        headers.get(AWS_TRACE_HEADER)
    )


def edge_segment(
    trace: TraceHeader, edge: EdgeTiming, *, into: str | None = None
) -> dict[str, Any]:
    """The edge router's segment, as X-Ray's PutTraceSegments accepts it: in the edge's
    trace, or written ``into`` another (Lambda's), with the edge's root as an annotation."""
    annotations: dict[str, str] = {
        "event_type": edge.event_type,
        "cloudfront_request_id": edge.request_id,
    }
    document: dict[str, Any] = {
        "name": EDGE_SEGMENT_NAME,
        "id": edge.segment_id,
        "trace_id": into or trace.root,
        "start_time": edge.start,
        "end_time": edge.end,
        "annotations": annotations,
        "metadata": {"imgedge": {"stage": "edge_router", "runtime": "Lambda@Edge"}},
    }
    if into and into != trace.root:
        annotations[EDGE_ROOT_ANNOTATION] = trace.root
    elif edge.parent:  # the viewer's parent lives in the edge's trace only
        document["parent_id"] = edge.parent
    return document


class Invocation:
    """One request's trace: spans, annotations, outcome, and the Server-Timing header."""

    def __init__(
        self,
        trace: TraceHeader | None,
        edge: EdgeTiming | None,
        lambda_trace: TraceHeader | None = None,
    ) -> None:
        self.trace = trace  # the edge's
        self.edge = edge
        self.sampled = bool(trace and trace.sampled)
        # The trace this invocation writes into: Lambda's when it is another one (and, on
        # Lambda, one Lambda records), else the edge's.
        self.root: str | None = trace.root if trace else None
        if (
            trace is not None
            and lambda_trace is not None
            and lambda_trace.root != trace.root
            and not (_in_lambda() and lambda_trace.sampled is False)
        ):
            self.root = lambda_trace.root
        self.timings: list[tuple[str, float]] = []
        self._entity: Any = None  # where annotations go: our segment or top subsegment
        self._owns_segment = False

    # --- lifecycle ---------------------------------------------------------------------

    def finish(self, status: int) -> None:
        """Close the trace with the response's status (4xx: error, 5xx: fault)."""
        with _in_progress_lock:
            if self in _in_progress:
                _in_progress.remove(self)
        if _current.get() is self:
            _current.set(None)
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
                SERVICE_NAME, traceid=self.root, parent_id=trace.parent, sampling=1
            )
            self._owns_segment = True
        if self.joined:
            self._entity.put_annotation(EDGE_ROOT_ANNOTATION, trace.root)
        # For `imgedge smoke`, which reads it from the trace (no viewer ever sees it).
        self._entity.put_annotation(BOTOCORE_ANNOTATION, _botocore_version())

    @property
    def joined(self) -> bool:
        """Whether the edge's trace was written into another (Lambda's)."""
        return self.trace is not None and self.root != self.trace.root

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
            send_segment(edge_segment(self.trace, self.edge, into=self.root))

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

    def record_s3(self, call: Call) -> None:
        """``call`` as an ``s3`` subsegment of this request's top entity, when sampled."""
        entity = self._entity
        if entity is None:
            return
        from aws_xray_sdk.core.models.subsegment import Subsegment

        segment = getattr(entity, "parent_segment", entity)
        sub = Subsegment(S3_SUBSEGMENT, "aws", segment)
        sub.start_time = call.start
        entity.add_subsegment(sub)
        try:
            aws: dict[str, Any] = {"operation": call.operation, "region": call.region}
            aws["bucket_name"] = call.bucket
            if call.key is not None:
                aws["key"] = call.key
            if call.request_id:
                aws["request_id"] = call.request_id
            if call.id_2:
                aws["id_2"] = call.id_2
            if call.attempts > 1:
                aws["retries"] = call.attempts - 1
            sub.set_aws(aws)
            if call.status is not None:
                sub.put_http_meta("status", call.status)  # 4xx error, 429 throttle, 5xx fault
            if call.error_code in ("SlowDown", "Throttling", "ThrottlingException"):
                sub.add_throttle_flag()
            if call.exception is not None:
                sub.add_exception(call.exception, [], remote=True)  # no answer: a fault
        finally:
            sub.close(call.end)

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
    """Begin tracing one request from its (lower-cased) headers and Lambda's trace for the
    invocation; never raises."""
    current = Invocation(
        TraceHeader.parse(headers.get(EDGE_TRACE_HEADER)),
        EdgeTiming.parse(headers.get(EDGE_TIMING_HEADER)),
        lambda_trace(headers),
    )
    _guarded("begin", current._begin)
    _current.set(current)
    with _in_progress_lock:
        _in_progress.append(current)
    return current


def current() -> Invocation | None:
    """The request the calling code runs for (module docstring), if any."""
    found = _current.get()
    if found is not None:
        return found
    with _in_progress_lock:
        return _in_progress[0] if len(_in_progress) == 1 else None


def record_s3_call(call: Call) -> None:
    """The S3 client's observer: ``call`` in the trace of the request it was made for."""
    invocation = current()
    if invocation is not None and invocation._entity is not None:
        _guarded("record s3 call", lambda: invocation.record_s3(call))
