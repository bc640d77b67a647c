"""smartcrop.focus: the window centred where it says holds the subject of a picture made
with one, in any mode, orientation and place; a picture without interest gives the
centre; the answer always lies within 0..1."""

from __future__ import annotations

import random
from functools import cache

import pytest
from PIL import Image, ImageDraw

from regional_resizer.smartcrop import focus

Box = tuple[int, int, int, int]

LANDSCAPE = (256, 160)
PORTRAIT = (160, 256)


def window(size: tuple[int, int], aspect: float, point: tuple[float, float]) -> Box:
    """The largest window of ``aspect`` in a picture of ``size``, centred on ``point``
    (fractions) as far as the picture allows: how the pipeline places a smart crop."""
    width, height = size
    w, h = min(width, height * aspect), min(height, width / aspect)
    left = min(max(point[0] * width - w / 2, 0), width - w)
    top = min(max(point[1] * height - h / 2, 0), height - h)
    return round(left), round(top), round(left + w), round(top + h)


def holds(outer: Box, inner: Box) -> bool:
    return (
        outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2]
        and outer[3] >= inner[3]
    )  # fmt: skip


def background(size: tuple[int, int], seed: int, noise: int) -> Image.Image:
    """A muted gradient from top to bottom, with gentle grain of +-``noise`` levels."""
    return _background(size, seed, noise).copy()


@cache
def _background(size: tuple[int, int], seed: int, noise: int) -> Image.Image:
    rnd = random.Random(seed)
    top = [rnd.randrange(100, 160) for _ in range(3)]
    image = Image.new("RGB", size)
    width, height = size
    pixels = []
    for y in range(height):
        base = [v + round(20 * y / height) for v in top]
        for _ in range(width):
            grain = rnd.randint(-noise, noise)
            pixels.append(tuple(v + grain for v in base))
    image.putdata(pixels)
    return image


def subject(image: Image.Image, kind: str, centre: tuple[float, float]) -> Box:
    """Draw a subject of ``kind`` centred at ``centre`` (fractions); its box."""
    width, height = image.size
    diameter = round(0.2 * min(width, height))
    left = round(centre[0] * width - diameter / 2)
    top = round(centre[1] * height - diameter / 2)
    box = (left, top, left + diameter, top + diameter)
    draw = ImageDraw.Draw(image)
    if kind == "texture":  # checks in two greys
        draw.ellipse(box, fill=(170, 170, 170))
        step = 3
        for x in range(left, left + diameter, step):
            for y in range(top, top + diameter, step):
                if ((x - left) // step + (y - top) // step) % 2:
                    inside = (x + 1 - centre[0] * width) ** 2 + (y + 1 - centre[1] * height) ** 2
                    if inside < (diameter / 2 - 2) ** 2:
                        draw.rectangle((x, y, x + step - 1, y + step - 1), fill=(40, 40, 40))
    elif kind == "saturated":
        draw.ellipse(box, fill=(30, 80, 230))
    elif kind == "skin":
        draw.ellipse(box, fill=(215, 160, 125))
    else:  # "bright": a light disc on the background, no colour of its own
        draw.ellipse(box, fill=(250, 250, 250))
    return box


def across(size: tuple[int, int], along: float, other: float) -> tuple[float, float]:
    """A point ``along`` the axis the window moves on, ``other`` across it."""
    return (along, other) if size[0] > size[1] else (other, along)


def crops(size: tuple[int, int]) -> tuple[float, ...]:
    """Windows narrower than the picture along its long side: a square, and 9:16 across
    a landscape picture (16:9 across a portrait one)."""
    return (1.0, 9 / 16) if size[0] > size[1] else (1.0, 16 / 9)


PLACES = (0.15, 0.3, 0.7, 0.85)


@pytest.mark.parametrize("size", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
@pytest.mark.parametrize("kind", ["texture", "saturated", "skin"])
@pytest.mark.parametrize("noise", [0, 6], ids=["smooth", "noisy"])
@pytest.mark.parametrize("along", PLACES)
def test_the_window_holds_the_subject(
    size: tuple[int, int], kind: str, noise: int, along: float
) -> None:
    image = background(size, seed=round(along * 100), noise=noise)
    box = subject(image, kind, across(size, along, 0.4))
    for aspect in crops(size):
        point = focus(image, aspect)
        assert holds(window(size, aspect, point), box), (aspect, point, box)


@pytest.mark.parametrize("mode", ["L", "CMYK", "RGBA", "LA"])
@pytest.mark.parametrize("size", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
@pytest.mark.parametrize("along", PLACES)
def test_every_mode(mode: str, size: tuple[int, int], along: float) -> None:
    image = background(size, seed=7, noise=4)
    kind = "texture" if mode in ("L", "LA") else "saturated"
    box = subject(image, kind, across(size, along, 0.6))
    converted = image.convert(mode)
    for aspect in crops(size):
        assert holds(window(size, aspect, focus(converted, aspect)), box)


@pytest.mark.parametrize("size", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
@pytest.mark.parametrize("along", [0.2, 0.8])
def test_a_light_subject_on_grey(size: tuple[int, int], along: float) -> None:
    image = background(size, seed=3, noise=2)
    box = subject(image, "bright", across(size, along, 0.5))
    for aspect in crops(size):
        assert holds(window(size, aspect, focus(image, aspect)), box)


@pytest.mark.parametrize("size", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
@pytest.mark.parametrize("along", [0.2, 0.8])
def test_transparent_parts_count_for_nothing(size: tuple[int, int], along: float) -> None:
    """On black, a skin-toned subject under alpha 0 at one end and a blue one shown at
    the other: the window goes to the one shown; without the alpha, to the skin."""
    image = Image.new("RGB", size, "black")
    hidden = subject(image, "skin", across(size, 1 - along, 0.5))
    shown = subject(image, "saturated", across(size, along, 0.5))
    alpha = Image.new("L", size, 255)
    ImageDraw.Draw(alpha).rectangle(hidden, fill=0)
    narrow = crops(size)[1]
    assert holds(window(size, narrow, focus(image, narrow)), hidden)
    assert not holds(window(size, narrow, focus(image, narrow)), shown)
    image.putalpha(alpha)
    for aspect in crops(size):
        assert holds(window(size, aspect, focus(image, aspect)), shown)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "CMYK"])
@pytest.mark.parametrize("size", [LANDSCAPE, PORTRAIT, (200, 200), (1, 1), (256, 2)])
@pytest.mark.parametrize("colour", ["black", "white", "#808080", "#d4a080", "#ff0000"])
def test_a_flat_picture_gives_the_centre(mode: str, size: tuple[int, int], colour: str) -> None:
    image = Image.new("RGB", size, colour).convert(mode)
    for aspect in (1.0, 9 / 16, 16 / 9, 3.0):
        assert focus(image, aspect) == (0.5, 0.5)


def test_a_fully_transparent_picture_gives_the_centre() -> None:
    image = background(LANDSCAPE, seed=5, noise=8)
    subject(image, "saturated", (0.8, 0.5))
    image.putalpha(0)
    assert focus(image, 1.0) == (0.5, 0.5)


@pytest.mark.parametrize("seed", range(12))
def test_always_within_the_picture(seed: int) -> None:
    rnd = random.Random(seed)
    size = (rnd.randint(1, 256), rnd.randint(1, 256))
    image = Image.new("RGB", size)
    image.putdata([tuple(rnd.randrange(256) for _ in range(3)) for _ in range(size[0] * size[1])])
    for aspect in (0.01, 0.5, 1.0, 2.0, 100.0):
        x, y = focus(image, aspect)
        assert 0 <= x <= 1 and 0 <= y <= 1
        assert focus(image, aspect) == (x, y)  # and the same every time


@pytest.mark.parametrize("aspect", [0.0, -1.0, float("nan")])
def test_no_window_gives_the_centre(aspect: float) -> None:
    image = background(LANDSCAPE, seed=1, noise=0)
    subject(image, "saturated", (0.8, 0.5))
    assert focus(image, aspect) == (0.5, 0.5)


def test_the_subject_moves_the_point() -> None:
    """Not the centre whatever the picture: the point follows the subject."""
    points = []
    for along in (0.15, 0.85):
        image = background(LANDSCAPE, seed=2, noise=0)
        subject(image, "skin", (along, 0.5))
        points.append(focus(image, 9 / 16)[0])
    assert points[0] < 0.3
    assert points[1] > 0.7


@pytest.mark.parametrize("size", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
@pytest.mark.parametrize("along", PLACES)
def test_fine_texture_of_the_background_s_mean(size: tuple[int, int], along: float) -> None:
    """Pixels alternately above and below a flat background: nothing to see on a coarse
    grid but the texture inside its cells."""
    width, height = size
    image = Image.new("L", size, 120)
    side = round(0.2 * min(size))
    cx, cy = across(size, along, 0.5)
    left, top = round(cx * width - side / 2), round(cy * height - side / 2)
    draw = ImageDraw.Draw(image)
    for x in range(left, left + side):
        for y in range(top, top + side):
            draw.point((x, y), fill=180 if (x + y) % 2 else 60)
    for aspect in crops(size):
        assert holds(
            window(size, aspect, focus(image, aspect)), (left, top, left + side, top + side)
        )
