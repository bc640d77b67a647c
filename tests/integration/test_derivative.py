"""The resizer's core (``make_derivative``) on its own, against the embedded S3 server: what
it stores, in which order, and what it takes back. The handler's answers built on it are in
test_resizer_handler.py."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from PIL import Image

from regional_resizer import derivative
from regional_resizer.derivative import Deadline, make_derivative
from regional_resizer.pipeline import Rendition, render
from regional_resizer.storage import Original, Storage, Version, s3_client
from shared.config import Config, Watermark
from shared.contract import ImageRequest
from shared.errors import DeadlineExceeded, SourceNotFound, UnsupportedImage, UpstreamError
from shared.layout import index_key, overlay_marker_key
from tests.conftest import Buckets
from tests.integration.test_resizer_handler import jpeg_bytes, keys

pytestmark = pytest.mark.integration

CONFIG = Config()
T = TypeVar("T")


@pytest.fixture
def storage(buckets: Buckets, s3_endpoint: str) -> Storage:
    return Storage(s3_client(s3_endpoint), buckets.originals, buckets.derivatives)


def later() -> Deadline:
    return Deadline.within(60)


def test_makes_stores_and_indexes_a_derivative(storage: Storage, s3: Any) -> None:
    s3.put_object(Bucket=storage.originals_bucket, Key="p/cat.jpg", Body=jpeg_bytes())
    request = ImageRequest.parse("256x256/webp/p/cat.jpg", CONFIG)

    made = make_derivative(request, CONFIG, storage, later())

    assert made.kept and made.content_type == "image/webp"
    with Image.open(io.BytesIO(made.body)) as image:
        assert (image.format, image.size) == ("WEBP", (256, 256))
    stored = s3.get_object(Bucket=storage.derivatives_bucket, Key=request.key)
    assert stored["Body"].read() == made.body
    assert stored["ContentType"] == "image/webp"
    assert stored["CacheControl"] == "public, max-age=31536000, immutable"
    assert set(keys(s3, storage.derivatives_bucket)) == {request.key, index_key(request)}
    assert storage.has_derivative(request.key)


def test_the_original_prefix_keeps_the_bytes(storage: Storage, s3: Any) -> None:
    original = jpeg_bytes()
    s3.put_object(Bucket=storage.originals_bucket, Key="a.jpg", Body=original)
    made = make_derivative(ImageRequest.parse("original/a.jpg", CONFIG), CONFIG, storage, later())
    assert (made.body, made.content_type, made.kept) == (original, "image/jpeg", True)


@pytest.mark.parametrize(
    ("body", "error"), [(None, SourceNotFound), (b"not an image\n", UnsupportedImage)]
)
def test_a_refusal_is_an_imgedge_error_and_stores_nothing(
    storage: Storage, s3: Any, body: bytes | None, error: type[Exception]
) -> None:
    if body is not None:
        s3.put_object(Bucket=storage.originals_bucket, Key="x.jpg", Body=body)
    with pytest.raises(error):
        make_derivative(ImageRequest.parse("64x/png/x.jpg", CONFIG), CONFIG, storage, later())
    assert keys(s3, storage.derivatives_bucket) == {}


def test_a_passed_deadline_stores_nothing(storage: Storage, s3: Any) -> None:
    s3.put_object(Bucket=storage.originals_bucket, Key="d.jpg", Body=jpeg_bytes())
    request = ImageRequest.parse("64x/png/d.jpg", CONFIG)
    with pytest.raises(DeadlineExceeded):
        make_derivative(request, CONFIG, storage, Deadline(time.monotonic()))
    assert keys(s3, storage.derivatives_bucket) == {}


def test_a_derivative_whose_original_changed_meanwhile_is_taken_back(
    storage: Storage, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=storage.originals_bucket, Key="race.jpg", Body=jpeg_bytes())

    def render_then_replace(*args: Any, **kwargs: Any) -> Rendition:
        rendition = render(*args, **kwargs)
        s3.put_object(Bucket=storage.originals_bucket, Key="race.jpg", Body=jpeg_bytes((30, 20)))
        return rendition

    monkeypatch.setattr(derivative, "render", render_then_replace)
    request = ImageRequest.parse("128x/jpeg/race.jpg", CONFIG)
    made = make_derivative(request, CONFIG, storage, later())
    assert not made.kept
    assert Image.open(io.BytesIO(made.body)).size == (128, 96)  # made of the one it read
    # Taken back; its marker stays, as after any purge of an overwritten original.
    assert set(keys(s3, storage.derivatives_bucket)) == {index_key(request)}
    assert not storage.has_derivative(request.key)


# --- what overlaps and what must not ------------------------------------------------------

SLOW_S = 0.3  # longer than any of the calls it is compared with, on a loaded machine


class Recording(Storage):
    """The storage, through its public methods only, logging when each call starts and
    ends (``time.monotonic``), and slowed where a test asks."""

    def __init__(self, storage: Storage, slow: dict[str, float] | None = None) -> None:
        super().__init__(storage._s3, storage.originals_bucket, storage.derivatives_bucket)
        self.slow = slow or {}
        self.calls: list[tuple[str, str, float, float]] = []  # name, key, start, end
        self._lock = threading.Lock()

    def _timed(self, name: str, key: str, call: Callable[[], T]) -> T:
        started = time.monotonic()
        try:
            time.sleep(self.slow.get(name, 0.0))
            return call()
        finally:
            with self._lock:
                self.calls.append((name, key, started, time.monotonic()))

    def get_original(self, key: str, max_bytes: int) -> Original:
        return self._timed(
            "get_original", key, lambda: super(Recording, self).get_original(key, max_bytes)
        )

    def put_marker(self, key: str) -> None:
        self._timed("put_marker", key, lambda: super(Recording, self).put_marker(key))

    def put_derivative(
        self, key: str, body: bytes, content_type: str, cache_control: str, source_etag: str
    ) -> bool:
        return self._timed(
            "put_derivative",
            key,
            lambda: super(Recording, self).put_derivative(
                key, body, content_type, cache_control, source_etag
            ),
        )

    def original_version(self, key: str) -> Version | None:
        return self._timed(
            "original_version", key, lambda: super(Recording, self).original_version(key)
        )

    def named(self, name: str) -> list[tuple[str, float, float]]:
        return [(key, start, end) for call, key, start, end in self.calls if call == name]


def rendering(spans: list[tuple[float, float]], fail_at: str = "") -> Callable[..., Rendition]:
    """``render``, noting when it ran; each phase after decoding takes ``SLOW_S`` more, and
    the phase ``fail_at`` raises UnsupportedImage when it begins."""

    def timed(data: bytes, request: ImageRequest, config: Config, **kwargs: Any) -> Rendition:
        phase = kwargs.pop("phase")

        def phases(name: str) -> Any:
            if name == fail_at:
                raise UnsupportedImage("cannot encode")
            if name != "decode":
                time.sleep(SLOW_S / 2)
            return phase(name)

        started = time.monotonic()
        try:
            return render(data, request, config, phase=phases, **kwargs)
        finally:
            spans.append((started, time.monotonic()))

    return timed


def test_the_markers_are_written_while_it_renders_and_before_the_derivative(
    storage: Storage, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=storage.originals_bucket, Key="o/cat.jpg", Body=jpeg_bytes())
    spans: list[tuple[float, float]] = []
    monkeypatch.setattr(derivative, "render", rendering(spans))
    recording = Recording(storage, slow={"put_marker": SLOW_S})
    request = ImageRequest.parse("256x/webp/o/cat.jpg", CONFIG)

    assert make_derivative(request, CONFIG, recording, later()).kept

    [(marker, marker_start, marker_end)] = recording.named("put_marker")
    [(key, put_start, _)] = recording.named("put_derivative")
    [(render_start, render_end)] = spans
    assert (marker, key) == (index_key(request), request.key)
    assert render_start < marker_start < render_end  # overlapped with the render
    assert marker_end <= put_start  # and written before the derivative, slow as it was


def test_the_versions_are_read_only_once_the_write_completed(storage: Storage, s3: Any) -> None:
    mark = Watermark(key="brand/logo.png", gravity="nw", margin=0.0, scale=0.5)
    config = Config(watermarks={"logo": mark})
    overlay = io.BytesIO()
    Image.new("RGBA", (40, 40), (255, 0, 0, 255)).save(overlay, "PNG")
    s3.put_object(Bucket=storage.originals_bucket, Key=mark.key, Body=overlay.getvalue())
    s3.put_object(Bucket=storage.originals_bucket, Key="o/dog.jpg", Body=jpeg_bytes())
    recording = Recording(storage, slow={"put_derivative": SLOW_S, "get_original": SLOW_S})
    request = ImageRequest.parse("128x-wmlogo/png/o/dog.jpg", config)

    assert make_derivative(request, config, recording, later()).kept

    [(_, _, put_end)] = recording.named("put_derivative")
    versions = recording.named("original_version")
    assert sorted(key for key, _, _ in versions) == sorted([mark.key, "o/dog.jpg"])
    assert all(start >= put_end for _, start, _ in versions)  # none before the write ended
    # The two reads of originals overlapped, and so did the two version checks.
    (_, a_start, a_end), (_, b_start, b_end) = recording.named("get_original")
    assert a_start < b_end and b_start < a_end
    (_, c_start, c_end), (_, d_start, d_end) = versions
    assert c_start < d_end and d_start < c_end
    markers = {key for key, _, _ in recording.named("put_marker")}
    assert markers == {index_key(request), overlay_marker_key(mark.key, request)}


def test_a_failed_marker_stores_no_derivative(
    storage: Storage, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=storage.originals_bucket, Key="o/m.jpg", Body=jpeg_bytes())

    def failing(self: Storage, key: str) -> None:
        raise UpstreamError()

    monkeypatch.setattr(Storage, "put_marker", failing)
    with pytest.raises(UpstreamError):
        make_derivative(ImageRequest.parse("64x/png/o/m.jpg", CONFIG), CONFIG, storage, later())
    assert keys(s3, storage.derivatives_bucket) == {}


def test_a_render_failing_after_decoding_leaves_at_most_its_marker(
    storage: Storage, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A marker without its object is harmless (the next purge lists one more path); the
    derivative is never stored, and nothing runs on once make_derivative has raised."""
    s3.put_object(Bucket=storage.originals_bucket, Key="o/e.jpg", Body=jpeg_bytes())

    monkeypatch.setattr(derivative, "render", rendering([], fail_at="encode"))
    recording = Recording(storage, slow={"put_marker": SLOW_S})
    request = ImageRequest.parse("64x/png/o/e.jpg", CONFIG)
    with pytest.raises(UnsupportedImage):
        make_derivative(request, CONFIG, recording, later())
    raised = time.monotonic()
    [(_, _, marker_end)] = recording.named("put_marker")
    assert marker_end <= raised  # finished before make_derivative raised
    assert set(keys(s3, storage.derivatives_bucket)) == {index_key(request)}
