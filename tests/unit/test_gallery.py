"""The gallery's routes and pages over an in-memory catalogue: statuses, escaping, and
pages that need neither script nor anything but inline styles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from infra.inventory import DerivativeInfo, OriginalInfo
from infra.local.gallery import DEMO_SIZES, Gallery
from shared.config import Config

WHEN = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
HOSTILE = 'photos/<script>alert("x")</script>&a=b\'.png'


class Catalogue:
    def __init__(
        self, originals: dict[str, int], derivatives: dict[str, list[DerivativeInfo]]
    ) -> None:
        self._originals = originals
        self._derivatives = derivatives

    def originals(self, prefix: str = "") -> Iterator[OriginalInfo]:
        for key in sorted(self._originals):
            if key.startswith(prefix):
                yield OriginalInfo(key, self._originals[key], WHEN)

    def original(self, key: str) -> OriginalInfo | None:
        if key not in self._originals:
            return None
        return OriginalInfo(key, self._originals[key], WHEN, "image/jpeg")

    def derivatives(self, source: str) -> list[DerivativeInfo]:
        return self._derivatives.get(source, [])

    def count_derivatives(self, source: str) -> int:
        return len(self.derivatives(source))


def webp(source: str, width: int, height: int, size: int) -> DerivativeInfo:
    key = f"{width}x{height}/webp/{source}"
    return DerivativeInfo(key, f"{width}x{height}/webp", "webp", width, height, size, "image/webp")


CATALOGUE = Catalogue(
    {"photos/cat.jpg": 100_000, HOSTILE: 5_000, "notes.txt": 6},
    {
        "photos/cat.jpg": [
            webp("photos/cat.jpg", 256, 256, 9_000),
            DerivativeInfo("640x-q60/jpeg/photos/cat.jpg", "640x-q60/jpeg", "jpeg", 640, 427,
                           30_000, "image/jpeg"),
            DerivativeInfo("512x/avif/photos/cat.jpg", "512x/avif", "avif", None, None, None, ""),
        ],
        HOSTILE: [webp(HOSTILE, 256, 256, 1_000)],
    },
)  # fmt: skip


@pytest.fixture
def gallery() -> Gallery:
    return Gallery(CATALOGUE, Config())


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def get(gallery: Gallery, path: str, query: str = "") -> tuple[int, dict[str, str], Tags]:
    status, headers, body = gallery.respond(path, query, [])
    html = body.decode()
    assert_safe(html)
    return status, dict(headers), Tags(html)


def assert_safe(html: str) -> None:
    """Nothing the page's Content-Security-Policy would block, nothing that runs."""
    parsed = Tags(html)
    assert not parsed.all("script")
    assert not [attrs for _, attrs in parsed.tags if any(a.startswith("on") for a in attrs)]
    for _, attrs in parsed.tags:
        for name in ("src", "href", "srcset"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(javascript|data|https?):", value), value
            assert not value.startswith("//")


def test_the_index_lists_every_original_with_its_derivative_count(gallery: Gallery) -> None:
    status, headers, page = get(gallery, "/_imgedge/")

    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    links = [a["href"] for a in page.all("a")]
    assert "/_imgedge/original?key=photos%2Fcat.jpg" in links
    assert "/_imgedge/demo?key=photos%2Fcat.jpg" in links
    assert HOSTILE in page.text  # shown as text, exactly
    rows = "".join(page.text)
    assert "100,000" in rows and "2026-05-01 12:00:00" in rows


def test_the_index_shows_a_thumbnail_per_image_asked_of_the_edge(gallery: Gallery) -> None:
    _, _, page = get(gallery, "/_imgedge/")
    sources = [img["src"] for img in page.all("img")]
    hostile = "/" + quote(HOSTILE, safe="/-._~") + "?p=thumb"
    assert sorted(str(src) for src in sources) == sorted(["/photos/cat.jpg?p=thumb", hostile])


def test_without_a_thumb_preset_thumbnails_ask_for_a_size() -> None:
    gallery = Gallery(CATALOGUE, Config(presets={}))
    _, _, page = get(gallery, "/_imgedge/")
    assert "/photos/cat.jpg?s=256x256" in [img["src"] for img in page.all("img")]


def test_keys_are_escaped_everywhere(gallery: Gallery) -> None:
    for path, query in (
        ("/_imgedge/", ""),
        ("/_imgedge/original", "key=" + HOSTILE.replace("&", "%26")),
        ("/_imgedge/demo", "key=" + HOSTILE.replace("&", "%26")),
    ):
        status, _, body = gallery.respond(path, query, [])
        assert status == 200, path
        assert b"<script>" not in body
        assert b"&lt;script&gt;" in body


def test_an_original_shows_each_derivative_with_its_viewer_url_and_key(gallery: Gallery) -> None:
    status, _, page = get(gallery, "/_imgedge/original", "key=photos/cat.jpg")

    assert status == 200
    images = page.all("img")
    assert [img["src"] for img in images] == [
        "/photos/cat.jpg?s=256x256&f=webp",
        "/photos/cat.jpg?s=640x&f=jpeg&q=60",
    ]
    assert (images[1]["width"], images[1]["height"]) == ("640", "427")
    text = " ".join(page.text)
    for shown in ("256x256/webp/photos/cat.jpg", "640x-q60/jpeg/photos/cat.jpg", "9,000 bytes",
                  "91% smaller", "jpeg 640x427", "512x/avif/photos/cat.jpg"):  # fmt: skip
        assert shown in text
    assert "(missing" in text  # the marker whose object is gone: listed, never an <img>
    assert "/photos/cat.jpg?p=thumb" in text  # the default preset thumb names 256x256/webp
    assert text.count("?p=") == 1


def test_the_demo_offers_three_widths_of_f_auto(gallery: Gallery) -> None:
    status, _, page = get(gallery, "/_imgedge/demo", "key=photos/cat.jpg")

    assert status == 200
    (image,) = [img for img in page.all("img") if "srcset" in img]
    assert image["srcset"] == (
        "/photos/cat.jpg?s=320x&f=auto 320w, /photos/cat.jpg?s=640x&f=auto 640w, "
        "/photos/cat.jpg?s=1280x&f=auto 1280w"
    )
    assert image["sizes"] == DEMO_SIZES == "(max-width: 600px) 100vw, 50vw"
    assert image["src"] == "/photos/cat.jpg?s=640x&f=auto"
    text = " ".join(page.text)
    for key in ("640x/avif/photos/cat.jpg", "640x/webp/photos/cat.jpg", "640x/jpeg/photos/cat.jpg"):
        assert key in text


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/_imgedge/nothing", "", 404),
        ("/_imgedge/original/", "key=photos/cat.jpg", 404),
        ("/_imgedge/original", "key=photos/dog.jpg", 404),
        ("/_imgedge/demo", "key=photos/dog.jpg", 404),
        ("/_imgedge/original", "", 400),
        ("/_imgedge/demo", "key=", 400),
        ("/_imgedge/original", "key=%ff", 400),
    ],
)
def test_unknown_pages_and_keys(gallery: Gallery, path: str, query: str, status: int) -> None:
    got, headers, page = get(gallery, path, query)
    assert got == status
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert str(status) in page.text


def test_an_original_gone_with_derivatives_left_still_shows_them() -> None:
    gallery = Gallery(Catalogue({}, {"old.jpg": [webp("old.jpg", 64, 64, 100)]}), Config())
    status, _, page = get(gallery, "/_imgedge/original", "key=old.jpg")
    assert status == 200
    assert [img["src"] for img in page.all("img")] == ["/old.jpg?s=64x64&f=webp"]
    assert "The original is gone" in " ".join(page.text)
