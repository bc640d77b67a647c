from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import InvalidRequest
from shared.layout import INDEX_ROOT, index_key, index_prefix, stored_key, variant_of

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
