"""The gallery in a real browser: `imgedge serve` runs as a subprocess, `imgedge precompute`
stocks it, and headless Chromium (driven over the DevTools protocol) loads the pages under
the distribution's Content-Security-Policy and decodes every image on them."""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from PIL import Image

from edge_router.normalize import negotiate
from infra.cli import main
from infra.inventory import Inventory
from infra.local.gallery import DEMO_TRANSFORMS
from infra.local.stack import default_config
from shared.config import Config
from tests.conftest import CORPUS, make_s3_client
from tests.integration import browser
from tests.integration.browser import Browser, Page
from tests.integration.stack_client import Served, fetch, start_serve

pytestmark = pytest.mark.integration

LANDSCAPE = "photos/landscape.jpg"  # a sample: 1600x1067
HOSTILE = 'photos/<img src=x onerror="alert(1)">&amp;.png'
CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
IMAGES = "Array.from(document.images).map(i => [i.currentSrc, i.complete, i.naturalWidth])"
RESPONSIVE = IMAGES.replace("document.images", "document.querySelectorAll('img[srcset]')")
TRANSFORMS = IMAGES.replace(
    "document.images", "document.querySelectorAll('.transforms img')"
).replace("i.naturalWidth]", "i.naturalWidth, i.naturalHeight, i.getAttribute('src')]")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_serve(tmp_path_factory.mktemp("gallery") / "data")
    yield served
    assert served.stop(signal.SIGINT) == 0


@pytest.fixture(scope="module")
def s3(stack: Served) -> Any:
    s3 = make_s3_client(stack.s3)
    png = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 90)).save(png, "PNG")
    s3.put_object(Bucket="originals", Key=HOSTILE, Body=png.getvalue(), ContentType="image/png")
    # Every sample's presets (the stack's default configuration) made ahead of viewers.
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["precompute", "--s3-endpoint", stack.s3, "--workers", "2"])
    assert status == 0, out.getvalue() + err.getvalue()
    return s3


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    chromium = Browser(tmp_path_factory.mktemp("chromium") / "profile", window=(1280, 900))
    try:
        yield chromium.page()
    finally:
        chromium.close()


def gallery(stack: Served, page: str, key: str | None = None) -> str:
    return f"{stack.edge}/_imgedge/{page}" + (f"?{urlencode({'key': key})}" if key else "")


def assert_every_image_decoded(page: Page) -> list[list[Any]]:
    images: list[list[Any]] = page.evaluate(IMAGES)
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert not broken, f"images not decoded: {broken}"
    return images


def assert_no_policy_violations(page: Page) -> None:
    blocked = [m for m in page.console() if "Content Security Policy" in m]
    assert not blocked


def test_the_index_lists_every_original_escaped(stack: Served, s3: Any, page: Page) -> None:
    page.navigate(gallery(stack, ""))

    links = page.evaluate(
        "Array.from(document.querySelectorAll('a code'))"
        ".map(c => [c.textContent, c.parentNode.href])"
    )
    originals = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="originals")["Contents"])
    assert sorted(text for text, _ in links) == originals
    assert [stack.edge + "/_imgedge/original?" + urlencode({"key": HOSTILE}), HOSTILE] == next(
        [href, text] for text, href in links if text == HOSTILE
    )
    # A thumbnail per original, asked of the edge; the hostile key's too, decoded, with no
    # script run from it (the policy would report one).
    thumbnails = assert_every_image_decoded(page)
    assert len(thumbnails) == len(originals)
    hostile = next(src for src, _, _ in thumbnails if "onerror" in src)
    assert hostile == f"{stack.edge}/{quote(HOSTILE, safe='/-._~')}?p=thumb"
    assert_no_policy_violations(page)


def test_an_originals_page_shows_every_stored_derivative_decoded(
    stack: Served, s3: Any, page: Page
) -> None:
    page.navigate(gallery(stack, "original", LANDSCAPE))

    images = assert_every_image_decoded(page)
    stored = Inventory(s3, "originals", "derivatives").derivatives(LANDSCAPE)
    assert len(stored) >= len(Config().presets)
    assert len(images) == len(stored)
    assert sorted(width for _, _, width in images) == sorted(d.width or 0 for d in stored)
    # The inline stylesheet applies under the policy (style-src 'unsafe-inline').
    assert (
        page.evaluate("getComputedStyle(document.querySelector('figure')).borderTopLeftRadius")
        == "6px"
    )
    assert_no_policy_violations(page)


def test_the_demo_negotiates_avif_or_webp_as_chromium_asks(
    stack: Served, s3: Any, page: Page
) -> None:
    page.navigate(gallery(stack, "demo", LANDSCAPE))

    ((src, complete, width),) = page.evaluate(RESPONSIVE)  # the transforms' below
    assert complete
    # 1280 px wide window, sizes="(max-width: 600px) 100vw, 50vw": the 640w candidate.
    assert src == f"{stack.edge}/{quote(LANDSCAPE)}?s=640x&f=auto"
    assert width == 640
    accept = page.request_headers(src)["accept"]
    expected = negotiate(accept, LANDSCAPE, Config())
    assert expected in ("avif", "webp"), accept
    assert page.responses()[src]["mimeType"] == f"image/{expected}"
    assert_no_policy_violations(page)


def test_an_animation_survives_f_auto_as_chromium_asks(stack: Served, s3: Any, page: Page) -> None:
    """Chromium's Accept names avif first; imgedge's avif output is a still, so a source
    that can animate gets webp, and its frames."""
    source = "anim/animated.gif"
    s3.put_object(Bucket="originals", Key=source, Body=(CORPUS / "animated.gif").read_bytes())
    page.navigate(gallery(stack, "demo", source))

    ((src, complete, _),) = page.evaluate(RESPONSIVE)
    assert complete
    accept = page.request_headers(src)["accept"]
    assert "image/avif" in accept  # Chromium's own value, which names avif
    assert page.responses()[src]["mimeType"] == "image/webp"
    reply = fetch(src, headers={"Accept": accept})
    assert reply.status == 200 and reply.headers["Content-Type"] == "image/webp"
    frames = getattr(reply.image(), "n_frames", 1)
    with Image.open(CORPUS / "animated.gif") as original:
        assert 1 < frames <= getattr(original, "n_frames", 1)
    assert_no_policy_violations(page)


def test_every_transform_on_the_demo_loads(stack: Served, s3: Any, page: Page) -> None:
    """The default configuration names the sample overlay as watermark logo and has no
    signing key: a picture per transform and per watermark, a line for the crop."""
    page.navigate(gallery(stack, "demo", LANDSCAPE))

    pictures = page.evaluate(TRANSFORMS)
    broken = [src for _, complete, width, _, src in pictures if not (complete and width > 0)]
    assert not broken, f"transforms not decoded: {broken}"
    config = default_config(samples=True)
    expected = [q for _, q, _ in DEMO_TRANSFORMS] + [f"s=320x&wm={n}" for n in config.watermarks]
    path = f"/{quote(LANDSCAPE)}"
    assert [src for *_, src in pictures] == [f"{path}?{query}" for query in expected]
    sizes = {src.split("?", 1)[1]: (width, height) for _, _, width, height, src in pictures}
    # The landscape sample is 1600x1067: the cover crops are square, the rest 320 wide
    # (the turned one too: s is the size of the turned output).
    assert sizes["s=320x320&g=north"] == sizes["s=320x320&fp=0.3,0.25"] == (320, 320)
    assert sizes["s=160x&dpr=2"] == sizes["s=320x&flip=v"] == (320, 213)
    assert sizes["s=320x&r=90"] == (320, 480)
    assert sizes["s=320x160&fit=contain&bg=000000"] == (320, 160)
    assert "crop: No signing key is configured" in page.evaluate("document.body.innerText")
    assert_no_policy_violations(page)


def test_gallery_pages_over_http(stack: Served, s3: Any) -> None:
    reply = fetch(gallery(stack, "original", LANDSCAPE))
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["Content-Security-Policy"] == CSP
    assert reply.headers["Cache-Control"] == "no-store"
    for url in (gallery(stack, "nothing"), gallery(stack, "original", "photos/none.jpg"),
                gallery(stack, "demo", "photos/none.jpg")):  # fmt: skip
        assert fetch(url).status == 404, url
    hostile = fetch(gallery(stack, "original", HOSTILE)).body
    assert b"<img src=x" not in hostile and b"&lt;img src=x onerror=" in hostile


def test_screenshots_for_a_person(stack: Served, s3: Any, page: Page, tmp_path: Path) -> None:
    """Not an assertion on pixels: the pages render to a non-blank screenshot."""
    page.navigate(gallery(stack, "original", LANDSCAPE))
    shot = tmp_path / "original.png"
    page.screenshot(shot)
    with Image.open(shot) as image:
        assert image.width > 1000  # the window less its scrollbar
        assert len(image.convert("L").getcolors(1 << 16) or []) > 50  # pictures, not blank


def test_a_missing_chromium_fails_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        browser.chromium_path()
