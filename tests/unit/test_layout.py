from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_router.normalize import normalize
from shared.config import Config, Watermark
from shared.contract import MAX_KEY_BYTES, OVERLAY_MARKER_BYTES, ImageRequest
from shared.errors import InvalidRequest
from shared.layout import (
    INDEX_ROOT,
    index_key,
    index_prefix,
    overlay_marker_key,
    overlay_prefix,
    stored_key,
    variant_of,
)

CONFIG = Config()


def test_markers_name_their_derivative() -> None:
    request = ImageRequest.canonical(
        "photos/cat.jpg", fmt="webp", width=256, height=256, config=CONFIG
    )
    assert variant_of(request) == "256x256/webp"
    marker = index_key(request)
    assert marker.startswith(INDEX_ROOT) and marker.endswith("/256x256/webp")
    assert stored_key(marker, request.source) == request.key
    original = ImageRequest(source="photos/cat.jpg")
    assert stored_key(index_key(original), original.source) == "original/photos/cat.jpg"


def test_prefixes_of_keys_that_prefix_each_other_do_not_overlap() -> None:
    assert not index_prefix("a.jpg/b.png").startswith(index_prefix("a.jpg"))
    assert not index_prefix("a.jpg").startswith(index_prefix("a.jpg/b.png"))


@given(st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and s not in (".", "..")))
def test_marker_keys_stay_short(source: str) -> None:
    try:
        request = ImageRequest.canonical(source, fmt="avif", width=4096, height=4096,
                                         fit="contain", quality=10, config=CONFIG)  # fmt: skip
    except InvalidRequest:
        return
    assert len(index_key(request).encode()) < 100


def test_the_index_prefix_is_spelled_out() -> None:
    # Stored markers outlive any release: their keys must never change.
    digest = hashlib.sha256(b"photos/cat.jpg").hexdigest()
    assert index_prefix("photos/cat.jpg") == f"_index/{digest[:32]}/"
    assert index_key(ImageRequest(source="a b/é.png", format="png", width=16)) == (
        "_index/" + hashlib.sha256("a b/é.png".encode()).hexdigest()[:32] + "/16x/png"
    )


def test_a_marker_of_another_source_names_nothing() -> None:
    marker = index_key(ImageRequest(source="a.jpg", format="webp", width=256))
    assert stored_key(marker, "a.jpg") == "256x/webp/a.jpg"
    with pytest.raises(ValueError, match="not a marker"):
        stored_key(marker, "b.jpg")


def test_a_watermarked_key_leaves_room_for_its_overlay_marker() -> None:
    config = Config(watermarks={"w" * 32: Watermark(key="brand/" + "m" * 900 + ".png")})
    assert len(overlay_prefix("any/overlay.png")) == OVERLAY_MARKER_BYTES
    query = f"s=256x256&fp=0.35,0.65&r=90&blur=0.5&sharpen=0.5&bg=000000&wm={'w' * 32}"
    fits = None
    for length in range(800, 961):
        try:
            fits = normalize(f"/{'a' * length}", query, None, config)
        except InvalidRequest:
            break
    assert fits is not None and len(fits.key) == MAX_KEY_BYTES - OVERLAY_MARKER_BYTES
    marker = overlay_marker_key(config.watermarks["w" * 32].key, fits)
    assert len(marker.encode()) == MAX_KEY_BYTES
