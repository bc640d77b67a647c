"""Animated sources, on animations made here: which outputs keep the frames, their timing,
geometry and modes, the fallbacks (broken frame, output budget), and the phase hooks."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypedDict, Unpack

import pytest
from PIL import Image, ImageSequence

from regional_resizer import animation, pipeline
from regional_resizer.pipeline import render
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import CorruptImage, UnsupportedImage

CONFIG = Config()
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
COLOURS = (RED, BLUE, GREEN)


def request(fmt: str, width: int | None = None, height: int | None = None) -> ImageRequest:
    return ImageRequest(source="a.gif", format=fmt, width=width, height=height)


class GifParams(TypedDict, total=False):
    """What the tests pass to Pillow's GIF writer besides the frames and durations."""

    loop: int


def gif(
    durations: list[int] | int = 100,
    size: tuple[int, int] = (40, 20),
    **params: Unpack[GifParams],
) -> bytes:
    """Three frames: red, blue, green; ``params`` go to Pillow's GIF writer (loop...)."""
    frames = [Image.new("RGB", size, colour) for colour in COLOURS]
    out = io.BytesIO()
    frames[0].save(
        out, "GIF", save_all=True, append_images=frames[1:], duration=durations, **params
    )
    return out.getvalue()


def frames_of(body: bytes) -> list[tuple[Image.Image, int | float]]:
    """Each frame of an encoded image, in RGBA, with its duration."""
    with Image.open(io.BytesIO(body)) as image:
        return [
            (frame.convert("RGBA"), frame.info.get("duration", 0))
            for frame in ImageSequence.Iterator(image)
        ]


def centre(image: Image.Image) -> tuple[int, ...]:
    pixel = image.getpixel((image.width // 2, image.height // 2))
    assert isinstance(pixel, tuple)
    return pixel


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


@pytest.mark.parametrize(("fmt", "pil_format"), [("webp", "WEBP"), ("png", "PNG")])
def test_webp_and_png_keep_every_frame_and_its_timing(fmt: str, pil_format: str) -> None:
    result = render(gif([100, 200, 300], loop=0), request(fmt, 20), CONFIG)
    assert result.frames == 3 and (result.width, result.height) == (20, 10)
    with Image.open(io.BytesIO(result.body)) as out:
        assert out.format == pil_format and getattr(out, "n_frames", 1) == 3
        assert out.info["loop"] == 0
    frames = frames_of(result.body)
    assert [duration for _, duration in frames] == [100, 200, 300]
    for (frame, _), colour in zip(frames, COLOURS, strict=True):
        assert frame.size == (20, 10)  # every frame resized alike
        assert near(centre(frame), (*colour, 255))


@pytest.mark.parametrize("fmt", ["jpeg", "avif"])
def test_jpeg_and_avif_give_the_first_frame(fmt: str) -> None:
    result = render(gif(), request(fmt, 20), CONFIG)
    assert result.frames == 1
    frames = frames_of(result.body)
    assert len(frames) == 1 and near(centre(frames[0][0]), (*RED, 255), 16)


@pytest.mark.parametrize(
    ("params", "plays"),
    [
        ({}, 1),  # no NETSCAPE extension: browsers play it once
        ({"loop": 0}, 0),  # forever
        ({"loop": 2}, 3),  # two repetitions after the first play
    ],
)
def test_gif_loop_count_becomes_plays(params: GifParams, plays: int) -> None:
    result = render(gif(**params), request("webp"), CONFIG)
    with Image.open(io.BytesIO(result.body)) as out:
        assert out.info["loop"] == plays


def test_gif_delays_browsers_speed_up_are_slowed_down_as_browsers_do() -> None:
    result = render(gif([0, 10, 20]), request("webp"), CONFIG)
    assert [duration for _, duration in frames_of(result.body)] == [100, 100, 20]


def test_transparency_appearing_in_a_later_frame_is_kept() -> None:
    opaque = Image.new("RGBA", (20, 20), (*RED, 255))
    holed = opaque.copy()
    holed.paste((0, 0, 0, 0), (0, 0, 10, 20))
    out = io.BytesIO()
    opaque.save(out, "PNG", save_all=True, append_images=[holed], duration=50, disposal=1)
    frames = frames_of(render(out.getvalue(), request("webp"), CONFIG).body)
    assert [frame.mode for frame, _ in frames] == ["RGBA", "RGBA"]
    assert frames[0][0].getpixel((5, 10))[3] == 255  # type: ignore[index]
    assert frames[1][0].getpixel((5, 10))[3] == 0  # type: ignore[index]


def test_apng_default_image_is_the_still_and_not_a_frame() -> None:
    default = Image.new("RGB", (20, 20), (128, 128, 128))
    out = io.BytesIO()
    default.save(
        out,
        "PNG",
        save_all=True,
        append_images=[Image.new("RGB", (20, 20), colour) for colour in COLOURS],
        default_image=True,
        duration=[0, 100, 100, 100],
    )
    data = out.getvalue()
    animated = frames_of(render(data, request("webp"), CONFIG).body)
    assert len(animated) == 3
    assert all(near(centre(f), (*c, 255)) for (f, _), c in zip(animated, COLOURS, strict=True))
    still = frames_of(render(data, request("jpeg"), CONFIG).body)
    assert near(centre(still[0][0]), (128, 128, 128, 255), 6)


def _break_last_frame(data: bytes) -> bytes:
    """Overwrite the LZW codes of the last frame: Pillow raises 'broken data stream'."""
    broken = bytearray(data)
    start = broken.rindex(b"\x2c\x00\x00\x00\x00")
    flags = broken[start + 9]
    lzw = start + 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    for at in range(lzw + 2, lzw + 2 + broken[lzw + 1]):
        broken[at] = 0xFF
    return bytes(broken)


def test_broken_later_frame_gives_frame_zero_alone() -> None:
    data = _break_last_frame(gif(loop=0))
    result = render(data, request("webp"), CONFIG)
    assert result.frames == 1
    frames = frames_of(result.body)
    assert len(frames) == 1 and near(centre(frames[0][0]), (*RED, 255), 16)


def test_animation_beyond_the_output_budget_gives_frame_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = gif(size=(40, 20))
    monkeypatch.setattr(animation, "MAX_OUTPUT_PIXELS", 3 * 40 * 20 - 1)
    assert render(data, request("webp"), CONFIG).frames == 1
    monkeypatch.setattr(animation, "MAX_OUTPUT_PIXELS", 3 * 40 * 20)
    assert render(data, request("webp"), CONFIG).frames == 3


def test_full_size_frames_are_not_the_decoder_s_own_object() -> None:
    # No step changes an RGBA WebP frame at full size: each output must still be a copy,
    # or decoding the next frame would overwrite it.
    frames = [Image.new("RGBA", (16, 16), (*colour, 200)) for colour in COLOURS]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    decoded = pipeline.transform(out.getvalue(), request("webp"), CONFIG)
    assert [centre(image) for image in decoded.images] == [(*c, 200) for c in COLOURS]


def test_source_description() -> None:
    result = render(gif(size=(40, 20)), request("webp", 20), CONFIG)
    assert (result.source_format, result.source_width, result.source_height) == ("gif", 40, 20)


# --- phases ----------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.events.append(f"+{name}")
        try:
            yield
        finally:
            self.events.append(f"-{name}")


def test_phases_are_decode_resize_encode_once_each() -> None:
    recorder = Recorder()
    render(gif(), request("webp", 20), CONFIG, phase=recorder)
    assert recorder.events == ["+decode", "-decode", "+resize", "-resize", "+encode", "-encode"]


@pytest.mark.parametrize(
    ("data", "error"),
    [(b"not an image", UnsupportedImage), (_break_last_frame(gif())[:60], CorruptImage)],
)
def test_a_bad_source_fails_inside_decode(data: bytes, error: type[Exception]) -> None:
    recorder = Recorder()
    with pytest.raises(error):
        render(data, request("webp"), CONFIG, phase=recorder)
    assert recorder.events == ["+decode", "-decode"]


def test_no_phases_is_the_default_and_does_nothing() -> None:
    with pipeline.NO_PHASES("decode") as value:
        assert value is None
