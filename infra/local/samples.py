"""Sample originals, drawn with Pillow at start (the repository ships no image files).

- ``sample.png``: RGBA with soft transparency, to show alpha kept (webp/png) or flattened.
- ``photos/landscape.jpg``: 1600x1067, photo-like (gradients, blur, grain).
- ``photos/portrait.jpg``: stored as 1200x800 pixels with EXIF Orientation 6 (rotate 90
  clockwise), so it is an 800x1200 portrait only once auto-oriented.
- ``_imgedge-samples/watermark.png``: a semi-transparent mark, the overlay of the watermark
  ``logo`` that the local stack's default configuration names (``SAMPLE_WATERMARKS``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from shared import formats
from shared.config import Watermark

EXIF_ORIENTATION = 0x0112
ROTATE_90_CW = 6


@dataclass(frozen=True)
class Sample:
    key: str
    content_type: str
    draw: Callable[[], bytes]
    query: str  # the transform the printed URL asks for


def _png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _jpeg_bytes(image: Image.Image, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif or Image.Exif())
    return out.getvalue()


def _sky(
    size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> Image.Image:
    """A vertical gradient from ``top`` to ``bottom``."""
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def _scene(size: tuple[int, int]) -> Image.Image:
    """Sky, a blurred sun, three ridges of hills and film grain."""
    width, height = size
    image = _sky(size, (38, 84, 160), (250, 196, 140))
    glow = Image.new("L", size, 0)
    sun = (int(width * 0.7), int(height * 0.35), int(min(size) * 0.09))
    ImageDraw.Draw(glow).ellipse(
        (sun[0] - sun[2], sun[1] - sun[2], sun[0] + sun[2], sun[1] + sun[2]), fill=255
    )
    glow = glow.filter(ImageFilter.GaussianBlur(min(size) * 0.03))
    image.paste((255, 236, 180), (0, 0), glow)
    draw = ImageDraw.Draw(image)
    ridges = ((0.55, 1.0, (92, 110, 120)), (0.68, 2.3, (60, 96, 70)), (0.8, 4.1, (34, 64, 40)))
    for level, phase, colour in ridges:
        points = [(0, height)]
        for i in range(65):  # a ridge line: two sines of different periods
            x = width * i / 64
            wave = math.sin(x / width * 5 + phase) + 0.4 * math.sin(x / width * 17 + 2 * phase)
            points.append((round(x), round(height * (level - 0.05 * wave))))
        points.append((width, height))
        draw.polygon(points, fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    grain = Image.effect_noise(size, 24).convert("RGB")
    return Image.blend(image, grain, 0.06)


def draw_sample_png() -> bytes:
    size = (800, 600)
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rounded_rectangle((60, 60, 740, 540), radius=80, fill=(30, 120, 220, 200))
    draw.ellipse((220, 130, 580, 490), fill=(250, 180, 40, 255))
    draw.polygon([(400, 160), (540, 420), (260, 420)], fill=(220, 40, 90, 160))
    image = Image.alpha_composite(image, layer.filter(ImageFilter.GaussianBlur(2)))
    ImageDraw.Draw(image).text((90, 80), "imgedge sample.png (RGBA)", fill=(255, 255, 255, 255))
    return _png_bytes(image)


def draw_landscape_jpeg() -> bytes:
    return _jpeg_bytes(_scene((1600, 1067)))


def draw_portrait_jpeg() -> bytes:
    portrait = _scene((800, 1200))
    ImageDraw.Draw(portrait).text((40, 40), "portrait (EXIF orientation 6)", fill=(255, 255, 255))
    # Stored turned a quarter to the left; Orientation 6 says "rotate 90 clockwise to view".
    stored = portrait.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATE_90_CW
    return _jpeg_bytes(stored, exif)


def draw_watermark_png() -> bytes:
    """A white ring and bar on a dark, half-transparent disc: visible on light and dark."""
    size = (240, 240)
    mark = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(mark)
    draw.ellipse((8, 8, 232, 232), fill=(20, 24, 30, 110))
    draw.ellipse((40, 40, 200, 200), outline=(255, 255, 255, 200), width=18)
    draw.rectangle((108, 64, 132, 176), fill=(255, 255, 255, 200))
    return _png_bytes(mark.filter(ImageFilter.GaussianBlur(0.8)))


SAMPLES = (
    Sample("sample.png", formats.PNG.media_type, draw_sample_png, "s=256x256&f=webp"),
    Sample("photos/landscape.jpg", formats.JPEG.media_type, draw_landscape_jpeg, "s=640x&f=jpeg"),
    Sample("photos/portrait.jpg", formats.JPEG.media_type, draw_portrait_jpeg, "s=x512&f=auto"),
)


WATERMARK = Sample("_imgedge-samples/watermark.png", formats.PNG.media_type, draw_watermark_png, "")
SAMPLE_WATERMARKS = MappingProxyType({"logo": Watermark(key=WATERMARK.key)})
"""The watermarks the local stack's default configuration names (``wm=logo``)."""


def upload_samples(s3: Any, bucket: str, edge_url: str) -> list[str]:
    """Draw and upload every sample and the watermark's overlay; the URLs that show the
    samples through the edge."""
    urls: list[str] = []
    s3.put_object(
        Bucket=bucket, Key=WATERMARK.key, Body=WATERMARK.draw(), ContentType=WATERMARK.content_type
    )
    for sample in SAMPLES:
        s3.put_object(
            Bucket=bucket, Key=sample.key, Body=sample.draw(), ContentType=sample.content_type
        )
        urls.append(f"{edge_url}/{sample.key}?{sample.query}")
    urls.append(f"{edge_url}/{SAMPLES[1].key}")  # the original, byte for byte
    return urls
