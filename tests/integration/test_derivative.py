"""The resizer's core (``make_derivative``) on its own, against the embedded S3 server: what
it stores, in which order, and what it takes back. The handler's answers built on it are in
test_resizer_handler.py."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from PIL import Image

from regional_resizer import derivative
from regional_resizer.derivative import Deadline, make_derivative
from regional_resizer.pipeline import Rendition, render
from regional_resizer.storage import Storage, s3_client
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import DeadlineExceeded, SourceNotFound, UnsupportedImage
from shared.layout import index_key
from tests.conftest import Buckets
from tests.integration.test_resizer_handler import jpeg_bytes, keys

pytestmark = pytest.mark.integration

CONFIG = Config()


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
