"""Watermarks (``wm=NAME``): an overlay image from the originals bucket drawn on the output.

The overlay (``shared.config.Watermark``) is scaled to ``scale`` of the output's width,
never enlarged and never larger than the output, placed by its compass ``gravity``
``margin`` of the output's shorter side from the edges, and drawn over the output at
``opacity``. It is fitted once per render (``fit``), then stamped on every frame.

A watermark whose overlay is missing or unreadable is the operator's mistake, not the
viewer's: ``OverlayUnavailable``, a 500 that is never cached, so the URL works as soon as
the overlay is there. No derivative is ever made without its watermark.
"""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple

from PIL import Image

from shared import transforms
from shared.config import Watermark
from shared.errors import ImgedgeError

Size = tuple[int, int]


class OverlayUnavailable(ImgedgeError):
    """The watermark's overlay image is missing from the originals bucket, too large, or
    not an image imgedge decodes: a configuration error."""

    status: ClassVar[int] = 500
    public_message: ClassVar[str] = "watermark unavailable"


class Overlay(NamedTuple):
    """A watermark's overlay image, decoded (upright, sRGB, LA or RGBA), and how it is
    drawn."""

    image: Image.Image
    mark: Watermark


class Stamp(NamedTuple):
    """An overlay fitted to one output size: ``image`` (LA or RGBA, its alpha already
    times the opacity) goes at ``position`` (left, top; may reach past the edges)."""

    image: Image.Image
    position: tuple[int, int]

    @property
    def gray(self) -> bool:
        return self.image.mode == "LA"


def fit(overlay: Overlay, output: Size) -> Stamp:
    """The overlay scaled, faded and placed for an output of ``output`` pixels."""
    mark, image = overlay.mark, overlay.image
    width, height = output
    k = min(1.0, mark.scale * width / image.width, height / image.height)
    size = (max(1, _round(image.width * k)), max(1, _round(image.height * k)))
    scaled = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
    if mark.opacity < 1:
        scaled = scaled.copy()
        scaled.putalpha(scaled.getchannel("A").point(lambda a: _round(a * mark.opacity)))
    margin = _round(mark.margin * min(width, height))
    ax, ay = transforms.COMPASS[mark.gravity]
    left = _round(margin + (width - 2 * margin - size[0]) * ax)
    top = _round(margin + (height - 2 * margin - size[1]) * ay)
    return Stamp(scaled, (left, top))


def stamp(image: Image.Image, on: Stamp) -> Image.Image:
    """``image`` (L, LA, RGB or RGBA) with the stamp drawn over it ("over" compositing).
    Gray stays gray under a gray overlay; otherwise the result is RGB(A)."""
    alpha = image.mode in ("LA", "RGBA")
    mode = "L" if image.mode in ("L", "LA") and on.gray else "RGB"
    if not alpha:
        base = image.convert(mode) if image.mode != mode else image.copy()
        base.paste(on.image.convert(mode), on.position, mask=on.image.getchannel("A"))
        return base
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    layer.paste(on.image.convert("RGBA"), on.position)
    composed = Image.alpha_composite(image.convert("RGBA"), layer)
    return composed.convert("LA") if mode == "L" else composed


def _round(value: float) -> int:
    """Half up, as the plan rounds."""
    return math.floor(value + 0.5)
