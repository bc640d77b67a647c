"""f=json: the original described (upright size, format, animation, dominant colour) with
a placeholder small enough to inline in a page."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from PIL import Image

from edge_router.normalize import normalize
from regional_resizer.pipeline import render
from regional_resizer.placeholder import MAX_PLACEHOLDER_BYTES
from shared.config import Config
from shared.contract import METADATA, ImageRequest
from shared.errors import InvalidRequest
from tests.conftest import CORPUS

CONFIG = Config()


def described(data: bytes) -> dict[str, Any]:
    rendition = render(data, ImageRequest("x", METADATA), CONFIG)
    assert rendition.content_type == "application/json"
    result: dict[str, Any] = json.loads(rendition.body)
    return result


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "size", "fmt", "animated"),
    [
        ("large_phone_photo_4032x3024_orient6_p3.jpg", (3024, 4032), "jpeg", False),  # upright
        ("animated.gif", None, "gif", True),
        ("animated.webp", None, "webp", True),
        ("apng_5frames.png", None, "png", True),
        ("rgba_transparency.png", None, "png", False),
        ("cmyk_swop_icc.jpg", None, "jpeg", False),
        ("heic_small.heif", None, "heic", False),  # its brand says heic
    ],
)
def test_an_original_is_described_as_it_is_shown(
    name: str, size: tuple[int, int] | None, fmt: str, animated: bool
) -> None:
    data = (CORPUS / name).read_bytes()
    result = described(data)
    assert set(result) == {"width", "height", "format", "animated", "dominant_colour",
                           "placeholder"}  # fmt: skip
    if size is not None:
        assert (result["width"], result["height"]) == size
    else:
        with Image.open(io.BytesIO(data)) as image:
            assert (result["width"], result["height"]) == image.size
    assert result["format"] == fmt
    assert result["animated"] is animated
    uri = result["placeholder"]
    assert uri.startswith("data:image/webp;base64,") and len(uri) <= MAX_PLACEHOLDER_BYTES
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as small:
        assert small.format == "WEBP" and max(small.size) <= 16
        # the placeholder keeps the original's shape
        assert abs(small.width / small.height - result["width"] / result["height"]) < 0.35


def test_the_dominant_colour_is_the_one_most_of_the_picture_has() -> None:
    picture = Image.new("RGB", (300, 200), (200, 30, 40))
    picture.paste((10, 120, 220), (0, 0, 60, 200))  # a fifth blue
    assert described(png(picture))["dominant_colour"] == "#c81e28"
    clear = Image.new("RGBA", (50, 50), (0, 0, 0, 0))  # transparency shows the page: white
    assert described(png(clear))["dominant_colour"] == "#ffffff"


def test_f_json_is_one_key_per_original_whatever_else_is_asked() -> None:
    keys = {
        normalize("/p/a.jpg", query, None, CONFIG).key
        for query in ("f=json", "F=JSON", "f=json&s=256x&g=smart&q=50", "f=json&blur=2&r=90")
    }
    assert keys == {"full/json/p/a.jpg"}
    assert ImageRequest.parse("full/json/p/a.jpg", CONFIG) == ImageRequest("p/a.jpg", "json")
    with pytest.raises(InvalidRequest):
        ImageRequest.parse("256x/json/p/a.jpg", CONFIG)
    with pytest.raises(InvalidRequest, match="takes no transform"):
        ImageRequest("p/a.jpg", "json", width=256)
