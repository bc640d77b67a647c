"""The resizer's core: make one derivative and store it.

``make_derivative`` is the one way a derivative comes to be, whoever asks: the function URL
handler for a viewer's miss, precompute (on one machine or as the batch function), tests.

1. read the original, refused unread past ``max_source_bytes``;
2. render it (``pipeline.render``, within the pixel and frame limits), or, for the
   ``original/`` prefix, keep its bytes as they are;
3. write the original's index marker, then the derivative with ``If-None-Match: *`` (a
   concurrent miss for the same key may have written the same output first);
4. read the original's ETag again: if it changed meanwhile, a purge that ran while this
   rendered cannot have seen the derivative, so it is deleted and reported as not kept.

The deadline is checked after the original is read, between the render's phases and frames,
and before anything is stored; once it has passed, ``DeadlineExceeded`` is raised and
nothing is stored. Any other refusal is an ``ImgedgeError`` (``shared.errors``) with its
HTTP status.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from regional_resizer import responses, tracing
from regional_resizer.media_types import sniff
from regional_resizer.pipeline import render
from regional_resizer.storage import Storage
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import DeadlineExceeded
from shared.layout import index_key

DEADLINE_MARGIN_S = 2.0
"""Kept back from the time Lambda gives: the step that is running when the deadline passes
finishes (one frame, or an encode), then the answer is built and returned."""
DEFAULT_TIMEOUT_S = 25.0
"""The budget when there is no Lambda context (precompute's local workers, tests): the
deployed function's default timeout."""


@dataclass(frozen=True)
class Deadline:
    """When making a derivative must stop: a ``time.monotonic()`` value."""

    at: float

    @classmethod
    def within(cls, seconds: float, margin_s: float = DEADLINE_MARGIN_S) -> Deadline:
        """``seconds`` from now, less the margin."""
        return cls(time.monotonic() + seconds - margin_s)

    @classmethod
    def of(cls, context: Any, margin_s: float = DEADLINE_MARGIN_S) -> Deadline:
        """From a Lambda context's remaining time (``DEFAULT_TIMEOUT_S`` without one)."""
        remaining_s = DEFAULT_TIMEOUT_S
        remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        if callable(remaining_ms):
            remaining_s = float(remaining_ms()) / 1000
        return cls.within(remaining_s, margin_s)

    def check(self) -> None:
        """Raise ``DeadlineExceeded`` once the deadline has passed."""
        if time.monotonic() >= self.at:
            raise DeadlineExceeded()


@dataclass(frozen=True)
class Derivative:
    """What was made for a request, and whether it stays stored."""

    body: bytes
    content_type: str
    kept: bool
    """False: the original changed while it was made, and the stored copy was taken back
    (an answer made of it must not be cached)."""


def make_derivative(
    request: ImageRequest,
    config: Config,
    storage: Storage,
    deadline: Deadline,
    trace: tracing.Invocation | None = None,
) -> Derivative:
    """Make ``request``'s derivative from its original and store it with its marker."""
    trace = trace or tracing.Invocation(None, None)
    trace.annotate(cache_key=request.key)
    # S3 calls are X-Ray subsegments of their own (boto3 is patched): time them only.
    with trace.span("s3-get", subsegment=False):
        original = storage.get_original(request.source, config.max_source_bytes)
    trace.annotate(source_bytes=len(original.body))
    deadline.check()

    if request.is_original:
        body, content_type = original.body, sniff(original.body, original.content_type)
    else:
        rendition = render(
            original.body, request, config, phase=trace.phase, check_deadline=deadline.check
        )
        body, content_type = rendition.body, rendition.content_type
        trace.annotate(
            source_format=rendition.source_format,
            source_pixels=rendition.source_width * rendition.source_height,
            output_format=rendition.format,
            output_width=rendition.width,
            output_height=rendition.height,
        )
    trace.annotate(output_bytes=len(body))
    deadline.check()  # the last one: once the marker is written, the derivative goes through

    with trace.span("s3-put", subsegment=False):
        storage.put_marker(index_key(request))  # first: a stored object always has one
        storage.put_derivative(
            request.key,
            body,
            content_type,
            responses.derivative_cache_control(config),
            original.etag,
        )
        # A purge that ran while this rendered cannot have seen this derivative: if the
        # original changed meanwhile, take it back.
        if storage.original_etag(request.source) != original.etag:
            storage.delete_keys([request.key])
            return Derivative(body, content_type, kept=False)
    return Derivative(body, content_type, kept=True)
