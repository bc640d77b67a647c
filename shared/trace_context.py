"""The headers that carry one trace across both stages (stdlib only).

Lambda@Edge cannot talk to X-Ray, so the edge router starts the trace and hands it on in
imgedge's own headers, never in ``X-Amzn-Trace-Id``:

    X-Imgedge-Trace: Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex edge segment id>;Sampled=1
    X-Imgedge-Edge:  id=<16 hex>;start=<epoch s>;end=<epoch s>;event=viewer-request;
                     request=<CloudFront request id>[;parent=<viewer's parent id>]

``X-Amzn-Trace-Id`` (``AWS_TRACE_HEADER``) is left to AWS: no AWS document says which
headers CloudFront's origin access control signs, AWS front ends rewrite this one, and no
AWS document says a Lambda function URL adopts an incoming one as the invocation's trace.
The first header uses the X-Ray tracing header's syntax (X-Ray Developer Guide, "Concepts",
https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader),
so one parser reads both. The regional resizer joins the edge's context to whatever trace
Lambda gave the invocation (``regional_resizer/tracing.py``) and emits the edge segment
from the second header. Both parsers are total: a malformed header is ignored (None), never
an error, because a trace must never fail a request.

Dependency: CloudFront forwards a header to an origin only if the origin request policy
names it. The distribution's policy (``infra/distribution.py``, which both the CDK app and
the local emulator read) must forward EDGE_TRACE_HEADER and EDGE_TIMING_HEADER to the
function URL origin, or the resizer's work is not joined to the edge's trace.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass

AWS_TRACE_HEADER = "x-amzn-trace-id"
"""AWS's tracing header: a viewer's (trusted only if the configuration says so) and the one
Lambda puts in a function URL event."""
EDGE_TRACE_HEADER = "x-imgedge-trace"
"""The edge's trace: its root, its segment's id (as Parent) and its sampling decision."""
EDGE_TIMING_HEADER = "x-imgedge-edge"
"""The edge's own timing, for the resizer to emit as the edge's segment."""

_ROOT = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_ID = re.compile(r"[0-9a-f]{16}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9_=+/.-]{1,128}")
_EVENT = re.compile(r"[a-z-]{1,32}")
MAX_HEADER_CHARS = 512


def new_trace_root(now: float | None = None) -> str:
    epoch = int(time.time() if now is None else now)
    return f"1-{epoch:08x}-{os.urandom(12).hex()}"  # os: cheaper to import than secrets


def new_segment_id() -> str:
    return os.urandom(8).hex()


def _fields(value: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in value[:MAX_HEADER_CHARS].split(";"):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields.setdefault(key.strip().lower(), val.strip())
    return fields


@dataclass(frozen=True)
class TraceHeader:
    root: str
    parent: str | None = None
    sampled: bool | None = None  # None: the sender left the decision to us

    @classmethod
    def parse(cls, value: str | None) -> TraceHeader | None:
        if not value:
            return None
        fields = _fields(value)
        root = fields.get("root", "").lower()
        if not _ROOT.fullmatch(root):
            return None
        parent = fields.get("parent", "").lower()
        sampled = {"1": True, "0": False}.get(fields.get("sampled", ""))
        return cls(root=root, parent=parent if _ID.fullmatch(parent) else None, sampled=sampled)

    def format(self) -> str:
        parts = [f"Root={self.root}"]
        if self.parent:
            parts.append(f"Parent={self.parent}")
        if self.sampled is not None:
            parts.append(f"Sampled={int(self.sampled)}")
        return ";".join(parts)


@dataclass(frozen=True)
class EdgeTiming:
    """What the edge router measured of itself, for the resizer to emit as its segment."""

    segment_id: str
    start: float
    end: float
    event_type: str
    request_id: str
    parent: str | None = None  # the viewer's own parent segment, if it sent one

    @classmethod
    def parse(cls, value: str | None) -> EdgeTiming | None:
        if not value:
            return None
        fields = _fields(value)
        try:
            start, end = float(fields["start"]), float(fields["end"])
        except (KeyError, ValueError):
            return None
        segment_id = fields.get("id", "")
        parent = fields.get("parent") or None
        if (
            not _ID.fullmatch(segment_id)
            or not 0 < start <= end < start + 60
            or not _EVENT.fullmatch(fields.get("event", ""))
            or not _REQUEST_ID.fullmatch(fields.get("request", ""))
            or (parent is not None and not _ID.fullmatch(parent))
        ):
            return None
        return cls(segment_id, start, end, fields["event"], fields["request"], parent)

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) * 1000

    def format(self) -> str:
        value = (
            f"id={self.segment_id};start={self.start:.6f};end={self.end:.6f};"
            f"event={self.event_type};request={self.request_id}"
        )
        return value + (f";parent={self.parent}" if self.parent else "")
