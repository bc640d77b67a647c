"""Watermarks end to end: the overlay is read from the originals bucket and drawn on the
output; every derivative that carries it has a marker under the overlay's prefix, so
replacing the overlay purges them all, whatever their original, and the next request shows
the new overlay. A missing overlay is the operator's mistake: a 500 that is never cached,
and nothing is stored. The resizer's core takes back a derivative whose overlay changed
while it was made."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from infra.local.stack import LocalStack
from regional_resizer import derivative
from regional_resizer.derivative import Deadline, make_derivative
from regional_resizer.pipeline import Rendition, render
from regional_resizer.storage import Storage, s3_client
from regional_resizer.watermark import OverlayUnavailable
from shared.config import Config, Watermark
from shared.contract import ImageRequest
from shared.errors import InvalidRequest
from shared.layout import index_key, overlay_marker_key, overlay_prefix
from tests.conftest import Buckets, make_s3_client
from tests.integration.stack_client import fetch
from tests.integration.test_focal_point import (
    colour_at,
    invalidation_ids,
    near,
    new_invalidation,
    stored_and_cached,
)
from tests.integration.test_purge import (
    cloudfront_client,
    edge_url,
    eventually,
    keys,
    start_stack,
    wait_completed,
)

pytestmark = pytest.mark.integration

GRAY, RED, BLUE = (128, 128, 128), (230, 20, 20), (20, 20, 230)
LOGO = "brand/logo.png"
CONFIG_TOML = f"""
[watermarks.logo]
key = "{LOGO}"
gravity = "se"
margin = 0.0
scale = 0.25

[watermarks.ghost]
key = "brand/missing.png"
"""


def picture(colour: tuple[int, int, int], size: tuple[int, int], fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("watermark")
    config = root / "imgedge.toml"
    config.write_text(CONFIG_TOML)
    local = start_stack(root / "data", config_path=config)
    yield local
    local.stop()


@pytest.fixture(scope="module")
def stack_s3(stack: LocalStack) -> Any:
    return make_s3_client(stack.s3_endpoint)


def test_replacing_the_overlay_purges_every_derivative_that_carries_it(
    stack: LocalStack, stack_s3: Any
) -> None:
    s3, cloudfront, edge = stack_s3, cloudfront_client(stack), edge_url(stack)
    s3.put_object(Bucket="originals", Key=LOGO, Body=picture(RED, (100, 100)))
    for name in ("a.jpg", "b.jpg"):
        s3.put_object(Bucket="originals", Key=f"wm/{name}", Body=picture(GRAY, (400, 200), "JPEG"))
    marked = [f"{edge}/wm/a.jpg?s=200x100&f=png&wm=logo", f"{edge}/wm/b.jpg?s=128x&f=png&wm=logo"]
    plain = f"{edge}/wm/a.jpg?s=200x100&f=png"
    # 200x100 snaps to 256x128: the logo is a quarter of 256 wide, 64x64 in the corner
    reply = fetch(marked[0])
    assert near(colour_at(reply, 224, 96), RED) and near(colour_at(reply, 100, 50), GRAY)
    assert near(colour_at(fetch(marked[1]), 112, 48), RED)  # 32x32 on 128x64
    assert near(colour_at(fetch(plain), 224, 96), GRAY)
    carrying = {"256x128-wmlogo/png/wm/a.jpg", "128x-wmlogo/png/wm/b.jpg"}
    # The plain one too: the upload's own purge may come after its first render.
    stored_and_cached(s3, [*marked, plain], carrying | {"256x128/png/wm/a.jpg"})
    before = invalidation_ids(cloudfront)
    assert {
        key.removeprefix(overlay_prefix(LOGO))
        for key in keys(s3, "derivatives", overlay_prefix(LOGO))
    } == carrying

    s3.put_object(Bucket="originals", Key=LOGO, Body=picture(BLUE, (100, 100)))

    # one invalidation names the derivatives of both originals: the overlay's purge
    invalidation = new_invalidation(cloudfront, before, "/256x128-wmlogo/png/wm/a.jpg")
    # the derivatives of both originals, and nothing without the watermark
    assert set(invalidation["InvalidationBatch"]["Paths"]["Items"]) == {
        "/" + key for key in carrying
    }
    eventually(lambda: not carrying & keys(s3, "derivatives"), "the derivatives purged")
    assert "256x128/png/wm/a.jpg" in keys(s3, "derivatives")  # no watermark: kept
    wait_completed(cloudfront, invalidation["Id"])
    assert near(colour_at(fetch(marked[0]), 224, 96), BLUE), "the new overlay is drawn"
    assert near(colour_at(fetch(marked[1]), 112, 48), BLUE)
    assert near(colour_at(fetch(plain), 224, 96), GRAY)


def test_a_missing_overlay_is_a_500_never_cached_and_stores_nothing(
    stack: LocalStack, stack_s3: Any
) -> None:
    stack_s3.put_object(Bucket="originals", Key="wm/c.jpg", Body=picture(GRAY, (400, 200), "JPEG"))
    reply = fetch(f"{edge_url(stack)}/wm/c.jpg?s=200x100&f=png&wm=ghost")
    assert reply.status == 500
    assert b"watermark unavailable" in reply.body
    assert reply.headers["Cache-Control"] == "no-store"
    assert not {key for key in keys(stack_s3, "derivatives") if "wmghost" in key}


# --- the resizer's core on its own, against the embedded S3 server -------------------------

MARK = Watermark(key=LOGO, gravity="nw", margin=0.0, scale=0.5)
CONFIG = Config(watermarks={"logo": MARK})


@pytest.fixture
def storage(buckets: Buckets, s3_endpoint: str) -> Storage:
    return Storage(s3_client(s3_endpoint), buckets.originals, buckets.derivatives)


def test_a_watermarked_derivative_is_stored_with_both_markers(storage: Storage, s3: Any) -> None:
    s3.put_object(Bucket=storage.originals_bucket, Key=LOGO, Body=picture(RED, (64, 64)))
    s3.put_object(Bucket=storage.originals_bucket, Key="p.png", Body=picture(GRAY, (256, 128)))
    request = ImageRequest.parse("256x128-wmlogo/png/p.png", CONFIG)
    made = make_derivative(request, CONFIG, storage, Deadline.within(60))
    assert made.kept
    image = Image.open(io.BytesIO(made.body)).convert("RGB")
    assert image.getpixel((32, 32)) == RED and image.getpixel((100, 100)) == GRAY
    assert set(keys(s3, storage.derivatives_bucket)) == {
        request.key,
        index_key(request),
        overlay_marker_key(LOGO, request),
    }


def test_a_derivative_whose_overlay_changed_meanwhile_is_taken_back(
    storage: Storage, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = storage.originals_bucket
    s3.put_object(Bucket=bucket, Key=LOGO, Body=picture(RED, (64, 64)))
    s3.put_object(Bucket=bucket, Key="q.png", Body=picture(GRAY, (256, 128)))

    def render_then_replace_the_overlay(*args: Any, **kwargs: Any) -> Rendition:
        rendition = render(*args, **kwargs)
        s3.put_object(Bucket=bucket, Key=LOGO, Body=picture(BLUE, (64, 64)))
        return rendition

    monkeypatch.setattr(derivative, "render", render_then_replace_the_overlay)
    request = ImageRequest.parse("256x128-wmlogo/png/q.png", CONFIG)
    made = make_derivative(request, CONFIG, storage, Deadline.within(60))
    assert not made.kept
    assert Image.open(io.BytesIO(made.body)).convert("RGB").getpixel((32, 32)) == RED
    # Taken back; the markers stay, as after any purge of an overwritten original.
    assert set(keys(s3, storage.derivatives_bucket)) == {
        index_key(request),
        overlay_marker_key(LOGO, request),
    }


@pytest.mark.parametrize("overlay", [None, b"not an image\n"])
def test_a_missing_or_unreadable_overlay_stores_nothing(
    storage: Storage, s3: Any, overlay: bytes | None
) -> None:
    if overlay is not None:
        s3.put_object(Bucket=storage.originals_bucket, Key=LOGO, Body=overlay)
    s3.put_object(Bucket=storage.originals_bucket, Key="n.png", Body=picture(GRAY, (256, 128)))
    request = ImageRequest.parse("256x128-wmlogo/png/n.png", CONFIG)
    with pytest.raises(OverlayUnavailable) as raised:
        make_derivative(request, CONFIG, storage, Deadline.within(60))
    assert raised.value.status == 500 and not raised.value.is_client_error
    assert keys(s3, storage.derivatives_bucket) == set()


def test_a_key_too_long_for_its_overlay_marker_is_refused(storage: Storage) -> None:
    source = "d/" + "x" * 954 + ".png"  # the longest source
    plain = ImageRequest.canonical(source, fmt="png", width=16, config=CONFIG)
    marked_key = plain.key.replace("16x/", "16x-wmlogo/")  # would fit S3, its marker not
    assert (
        len(marked_key)
        <= 1024
        < len(marked_key) + len(overlay_marker_key(LOGO, plain)) - len(plain.key)
    )
    with pytest.raises(InvalidRequest, match="key longer than 974 bytes"):  # before any read
        ImageRequest.canonical(source, fmt="png", width=16, watermark="logo", config=CONFIG)
