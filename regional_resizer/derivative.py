"""The resizer's core: make one derivative and store it.

``make_derivative`` is the one way a derivative comes to be, whoever asks: the function URL
handler for a viewer's miss, precompute (on one machine or as the batch function), tests.

1. read the original, refused unread past ``max_source_bytes``, with its metadata (the
   stored focal point, ``stored_focal_point``); for a watermark, read its overlay from the
   originals bucket too, at the same time (``watermark``: missing or unreadable, a 500,
   nothing stored);
2. render it (``pipeline.render``, within the pixel and frame limits), or, for the
   ``original/`` prefix, keep its bytes as they are;
3. write the original's index marker (and for a watermark, the overlay's marker, so that
   replacing the overlay purges it), then the derivative with ``If-None-Match: *`` (a
   concurrent miss for the same key may have written the same output first);
4. read the original's version (ETag and focal point) again, and the overlay's: if either
   changed meanwhile, a purge that ran while this rendered cannot have seen the
   derivative, so it is deleted and reported as not kept.

What may overlap does, in background threads (``BACKGROUND``), and what must not cannot:

- the overlay is read while the original is;
- the markers are written while the render runs, from the moment it has decoded the
  original (a refused original, not an image or over the limits, leaves nothing stored);
  the derivative's write waits for them, and is not made if one failed. A render that
  fails after that point (the deadline, an encoder's error) leaves its markers without
  their object: harmless, as after any purge of an overwritten original (the next purge
  of that original lists one more path);
- the versions of the original and of the overlay are read at the same time, both only
  once the derivative's write has completed: a read begun earlier could answer before a
  purge that has not seen the derivative.

Nothing runs in the background once ``make_derivative`` has returned or raised. The
background threads call ``Storage``'s methods while this thread calls others: a
``Storage`` must be safe to use from several threads at once.

The deadline is checked after the original is read, between the render's phases and frames,
and before the derivative is stored; once it has passed, ``DeadlineExceeded`` is raised and
no derivative is stored. Any other refusal is an ``ImgedgeError`` (``shared.errors``) with
its HTTP status.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from typing import Any, NamedTuple, TypeVar

from regional_resizer import responses, tracing
from regional_resizer.media_types import sniff
from regional_resizer.pipeline import decode_overlay, render
from regional_resizer.storage import FOCAL_POINT, Original, Storage
from regional_resizer.watermark import Overlay, OverlayUnavailable
from shared.config import Config, Watermark
from shared.contract import ImageRequest, Point
from shared.errors import DeadlineExceeded, ImgedgeError
from shared.layout import index_key, overlay_marker_key

log = logging.getLogger("imgedge.resizer")

DEADLINE_MARGIN_S = 2.0
"""Kept back from the time Lambda gives: the step that is running when the deadline passes
finishes (one frame, or an encode), then the answer is built and returned."""
DEFAULT_TIMEOUT_S = 25.0
"""The budget when there is no Lambda context (precompute's local workers, tests): the
deployed function's default timeout."""
BACKGROUND_THREADS = 2
BACKGROUND = ThreadPoolExecutor(BACKGROUND_THREADS, thread_name_prefix="imgedge-s3")
"""The S3 calls that overlap others: at most two at once (the overlay's read; the two
markers of a watermarked derivative; the overlay's version). A forked child gets a pool of
its own: the parent's threads are not in it."""


def _fresh_background() -> None:
    global BACKGROUND  # noqa: PLW0603
    BACKGROUND = ThreadPoolExecutor(BACKGROUND_THREADS, thread_name_prefix="imgedge-s3")


os.register_at_fork(after_in_child=_fresh_background)

T = TypeVar("T")


class Deadline(NamedTuple):
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


class Derivative(NamedTuple):
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
    """Make ``request``'s derivative from its original and store it with its markers."""
    trace = trace or tracing.Invocation(None, None)
    trace.annotate(cache_key=request.key)
    mark = config.watermarks[request.watermark] if request.watermark is not None else None
    markers = [index_key(request)]
    if mark is not None:
        # The contract leaves room in S3's key limit for it (OVERLAY_MARKER_BYTES).
        markers.append(overlay_marker_key(mark.key, request))
    with _background() as started:
        # S3 calls are traced on their own, those of the background threads too (they run
        # in a copy of this thread's context): the spans here time them only.
        overlay_read = started(read_overlay, mark, config, storage) if mark else None
        with trace.span("s3-get", subsegment=False):
            original = storage.get_original(request.source, config.max_source_bytes)
        trace.annotate(source_bytes=len(original.body))
        deadline.check()
        overlay: tuple[Overlay, Original] | None = None
        if overlay_read is not None:
            with trace.span("s3-get-overlay", subsegment=False):
                overlay = overlay_read.result()
            deadline.check()

        written = _Markers(storage, markers, started)
        if request.is_original:
            body, content_type = original.body, sniff(original.body, original.content_type)
        else:
            rendition = render(
                original.body,
                request,
                config,
                phase=written.starting_after_decode(trace.phase),
                check_deadline=deadline.check,
                focal_point=stored_focal_point(original.metadata, request.source),
                overlay=overlay[0] if overlay is not None else None,
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
        deadline.check()  # the last one: past it, the derivative goes through

        with trace.span("s3-put", subsegment=False):
            written.join()  # first: a stored object always has its markers
            storage.put_derivative(
                request.key,
                body,
                content_type,
                responses.derivative_cache_control(config),
                original.etag,
            )
            # A purge that ran while this rendered cannot have seen this derivative: if
            # what it is made of changed meanwhile, take it back. Every read starts now,
            # after the write has completed.
            made_of = [(request.source, original)]
            if overlay is not None:
                made_of.append((overlay[0].mark.key, overlay[1]))
            if _changed(storage, made_of, started):
                storage.delete_keys([request.key])
                return Derivative(body, content_type, kept=False)
    return Derivative(body, content_type, kept=True)


def render_fallback(
    request: ImageRequest,
    config: Config,
    storage: Storage,
    deadline: Deadline,
    trace: tracing.Invocation | None = None,
) -> tuple[bytes, str]:
    """The configured fallback image rendered as ``request`` asks (its size, format and
    options), never stored: it stands in for an original that is missing or unusable."""
    trace = trace or tracing.Invocation(None, None)
    stand_in = replace(request, source=config.fallback_image)
    mark = config.watermarks[request.watermark] if request.watermark is not None else None
    with trace.span("s3-get-fallback", subsegment=False):
        original = storage.get_original(stand_in.source, config.max_source_bytes)
        overlay = read_overlay(mark, config, storage)[0] if mark is not None else None
    deadline.check()
    if stand_in.is_original:
        return original.body, sniff(original.body, original.content_type)
    rendition = render(
        original.body,
        stand_in,
        config,
        phase=trace.phase,
        check_deadline=deadline.check,
        focal_point=stored_focal_point(original.metadata, stand_in.source),
        overlay=overlay,
    )
    return rendition.body, rendition.content_type


Started = Callable[..., "Future[Any]"]
"""Runs a call in a background thread; its ``Future``."""


@contextmanager
def _background() -> Iterator[Started]:
    """Background calls that never outlive the block: on the way out, however it is left,
    it waits for every call started in it (their failures are the caller's to read from
    their futures; one the caller no longer reads is dropped). Each runs in a copy of the
    caller's context (``contextvars``), as the request it belongs to."""
    futures: list[Future[Any]] = []

    def started(call: Callable[..., T], *args: Any) -> Future[T]:
        future = BACKGROUND.submit(contextvars.copy_context().run, call, *args)
        futures.append(future)
        return future

    try:
        yield started
    finally:
        wait(futures)


class _Markers:
    """The derivative's markers: written in the background from the render's first phase
    after decoding, or at ``join`` at the latest, which returns once all are written (and
    raises if one could not be)."""

    def __init__(self, storage: Storage, keys: Sequence[str], started: Started) -> None:
        self._storage = storage
        self._keys = keys
        self._started = started
        self._writes: list[Future[None]] = []

    def start(self) -> None:
        if not self._writes:
            self._writes = [self._started(self._storage.put_marker, key) for key in self._keys]

    def starting_after_decode(
        self, phase: Callable[[str], AbstractContextManager[None]]
    ) -> Callable[[str], AbstractContextManager[None]]:
        """``phase``, which also starts the writes when a phase other than decoding begins
        (the original is then an image within the limits)."""

        def starting(name: str) -> AbstractContextManager[None]:
            if name != "decode":
                self.start()
            return phase(name)

        return starting

    def join(self) -> None:
        self.start()
        for write in self._writes:
            write.result()


def _changed(storage: Storage, made_of: Sequence[tuple[str, Original]], started: Started) -> bool:
    """Whether any of the originals read has another version now; the reads run at once."""
    later = [started(storage.original_version, key) for key, _ in made_of[1:]]
    now = [storage.original_version(made_of[0][0]), *(read.result() for read in later)]
    return any(version != read.version for version, (_, read) in zip(now, made_of, strict=True))


def read_overlay(mark: Watermark, config: Config, storage: Storage) -> tuple[Overlay, Original]:
    """The watermark's overlay, decoded, and the object it was read from. Missing, too
    large or not an image imgedge decodes: ``OverlayUnavailable`` (the operator's mistake,
    a 500); S3 failing stays ``UpstreamError``."""
    try:
        read = storage.get_original(mark.key, config.max_source_bytes)
        image = decode_overlay(read.body, config)
    except ImgedgeError as error:
        if not error.is_client_error:
            raise
        log.error(json.dumps({"watermark_overlay_unavailable": mark.key, "why": error.message}))
        raise OverlayUnavailable() from error
    return Overlay(image, mark), read


def stored_focal_point(metadata: Mapping[str, str], source: str) -> Point | None:
    """The focal point stored with the original (``focal-point: X,Y``, fractions of the
    upright original). Malformed or outside 0..1: ignored (a centred crop) and logged,
    never an error."""
    raw = metadata.get(FOCAL_POINT)
    if raw is None:
        return None
    parts = raw.split(",")
    try:
        x, y = (float(part) for part in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        x = y = math.nan
    if not (0 <= x <= 1 and 0 <= y <= 1):  # NaN fails too
        log.warning(json.dumps({"ignored_focal_point": raw, "source": source}))
        return None
    return x, y
