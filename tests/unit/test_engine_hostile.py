"""Damaged bytes, of every format and of animations, only ever give an ``ImgedgeError``:
``render`` returns an image or refuses with a 4xx, and never lets a library's exception
(a 500) through."""

from __future__ import annotations

import io
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from regional_resizer.pipeline import render
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import CorruptImage, ImgedgeError

CONFIG = Config()
FORMATS = ("jpeg", "png", "webp", "avif")


def _frames() -> list[Image.Image]:
    return [Image.effect_noise((24, 16), 30 + 20 * i).convert("RGBA") for i in range(3)]


@cache
def seeds() -> dict[str, bytes]:
    """Small valid originals: stills and animations of the formats the resizer reads."""
    out: dict[str, bytes] = {}
    still = _frames()[0]
    stills: tuple[tuple[str, str, dict[str, object]], ...] = (
        ("jpeg", "JPEG", {}),
        ("png", "PNG", {}),
        ("webp", "WEBP", {}),
        ("tiff", "TIFF", {}),
        ("bmp", "BMP", {}),
        ("avif", "AVIF", {}),
    )
    for name, fmt, params in stills:
        buffer = io.BytesIO()
        (still.convert("RGB") if fmt in ("JPEG", "BMP") else still).save(buffer, fmt, **params)
        out[name] = buffer.getvalue()
    first, *rest = _frames()
    for name, fmt in (("gif", "GIF"), ("apng", "PNG"), ("webp-anim", "WEBP")):
        buffer = io.BytesIO()
        first.save(buffer, fmt, save_all=True, append_images=rest, duration=50, loop=0)
        out[name] = buffer.getvalue()
    return out


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(seeds()[draw(st.sampled_from(sorted(seeds())))])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@pytest.mark.parametrize("offset", [12, 25])  # the item's extent; its colour planes
def test_damaged_avif_is_corrupt_not_a_runtime_error(offset: int) -> None:
    # libavif reports these through Pillow as RuntimeError (found by the test below).
    data = bytearray(seeds()["avif"])
    data[data.index(b"iloc") + offset] ^= 0xFF
    with pytest.raises(CorruptImage):
        render(bytes(data), ImageRequest(source="a", format="png"), CONFIG)


def test_the_seeds_render() -> None:
    for data in seeds().values():
        assert render(data, ImageRequest(source="a", format="webp", width=16), CONFIG).width


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(), st.sampled_from(FORMATS))
def test_damaged_originals_give_an_image_or_a_client_error(data: bytes, fmt: str) -> None:
    request = ImageRequest(source="a", format=fmt, width=16, height=16, fit="inside")
    try:
        render(data, request, CONFIG)
    except ImgedgeError as error:
        assert error.is_client_error
    except Exception as error:  # anything else would be a 500
        pytest.fail(f"{type(error).__name__}: {error}")
