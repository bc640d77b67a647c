"""The viewer URL the gallery and ``ls`` show for a stored key: the edge normalizes it back
to exactly that key."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st

from edge_router.normalize import normalize
from infra.inventory import viewer_path
from shared.config import Config
from shared.contract import FITS, ImageRequest
from shared.errors import InvalidRequest

CONFIG = Config()

sources = st.lists(
    st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=12),
    min_size=1,
    max_size=3,
).map("/".join)


@st.composite
def requests(draw: st.DrawFn) -> ImageRequest:
    source = draw(sources)
    fmt = draw(st.sampled_from([None, *CONFIG.formats]))
    width = draw(st.none() | st.integers(1, 5000))
    height = draw(st.none() | st.integers(1, 5000))
    try:
        return ImageRequest.canonical(
            source, fmt=fmt, width=width, height=height, fit=draw(st.sampled_from(FITS)),
            quality=draw(st.none() | st.integers(1, 100)), config=CONFIG,
        )  # fmt: skip
    except InvalidRequest:
        return ImageRequest.canonical("photos/cat.jpg", fmt=fmt, config=CONFIG)


def back(url: str) -> ImageRequest:
    parts = urlsplit(url)
    return normalize(parts.path, parts.query, None, CONFIG)


@given(requests())
def test_the_viewer_url_normalizes_back_to_the_same_key(request: ImageRequest) -> None:
    url = viewer_path(request, CONFIG)
    assert back(url) == request


def test_examples() -> None:
    cases = {
        "256x256/webp/sample.png": "/sample.png?s=256x256&f=webp",
        "640x-q60/jpeg/photos/cat.jpg": "/photos/cat.jpg?s=640x&f=jpeg&q=60",
        "256x256-contain/png/logo.png": "/logo.png?s=256x256&f=png&fit=contain",
        "full/avif/photos/cat.jpg": "/photos/cat.jpg?f=avif",
        "original/photos/my cat.jpg": "/photos/my%20cat.jpg",
        # An original whose own key reads as a canonical key is reachable by its key only.
        "original/256x256/webp/a.jpg": "/original/256x256/webp/a.jpg",
    }
    for key, url in cases.items():
        request = ImageRequest.parse(key, CONFIG)
        assert viewer_path(request, CONFIG) == url
        assert back(url) == request
