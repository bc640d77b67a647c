"""The edge starts (or joins) the X-Ray trace and records its own timing in headers.

Lambda@Edge has no X-Ray and no daemon, so nothing is sent from here: imgedge's headers
travel with the origin request (CloudFront's origin request policy must forward them) and
the regional resizer emits the edge's segment into the trace its own work is in.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from shared.trace_context import TraceHeader, new_segment_id, new_trace_root


def start_trace(
    viewer_header: str | None,
    sampling_rate: float,
    *,
    now: float,
    chance: Callable[[], float] = random.random,
) -> tuple[TraceHeader, str, str | None]:
    """The trace header for the origin, the edge segment's id, and the viewer's parent id.

    A trace header given here (its Root, and its Sampled decision when it made one) is
    honoured; otherwise a new trace starts, sampled at ``sampling_rate``. The handler passes
    the viewer's header only when the configuration trusts it (``trust_viewer_trace``):
    X-Ray's own guide suggests removing X-Amzn-Trace-Id from incoming requests "to avoid
    issues caused by users adding trace IDs or sampling decisions to their requests" (X-Ray
    Developer Guide, "Concepts", Tracing header,
    https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader)."""
    viewer = TraceHeader.parse(viewer_header)
    segment_id = new_segment_id()
    if viewer is None:
        root, sampled, parent = new_trace_root(now), None, None
    else:
        root, sampled, parent = viewer.root, viewer.sampled, viewer.parent
    if sampled is None:
        sampled = chance() < sampling_rate
    return TraceHeader(root=root, parent=segment_id, sampled=sampled), segment_id, parent
