"""The vocabulary of the transforms beyond size, format, quality and fit: each option's
canonical values and how a viewer's value becomes one. Stdlib only (the edge imports it).

Where each option acts (``regional_resizer.pipeline``): ``crop`` cuts a region of the
upright original (EXIF orientation applied); ``g`` and ``fp`` place a cover crop in that
region; the result is resized, blurred, sharpened, padded or flattened on ``bg``, then
turned (``r``, then the mirror), then watermarked. So ``crop``, ``fp`` and compass points
name places in the upright original, and ``s`` is the size of the turned output.
"""

from __future__ import annotations

import re

GRAVITIES = ("n", "ne", "e", "se", "s", "sw", "w", "nw", "smart")
"""Canonical gravities of a cover crop; the centre is the default and has no token."""
SMART = "smart"
CENTRE = "center"
GRAVITY_SPELLINGS = {
    "center": CENTRE, "centre": CENTRE, "c": CENTRE,
    "north": "n", "south": "s", "east": "e", "west": "w",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
    **{g: g for g in GRAVITIES},
}  # fmt: skip
"""Every spelling a viewer may use, and the canonical gravity it means."""

COMPASS = {
    CENTRE: (0.5, 0.5),
    "n": (0.5, 0.0), "ne": (1.0, 0.0), "e": (1.0, 0.5), "se": (1.0, 1.0),
    "s": (0.5, 1.0), "sw": (0.0, 1.0), "w": (0.0, 0.5), "nw": (0.0, 0.0),
}  # fmt: skip
"""Where a compass gravity anchors, as fractions of the region (x right, y down)."""

ROTATIONS = (0, 90, 180, 270)
"""Clockwise quarter turns ``r`` accepts."""
FLIPS = ("h", "v", "hv", "vh")
"""``flip``: mirror left-right (h), top-bottom (v), or both."""

MAX_DPR_TENTHS = 40
MAX_EFFECT_SIGMA = 100.0
MAX_CROP_SIDE = 65535  # the largest side JPEG, WebP and AVIF can hold (WebP: 16383)

WATERMARK_NAME = re.compile(r"[a-z0-9_]{1,32}")
"""No '-': the key's option tokens are separated by '-'."""
COLOUR = re.compile(r"[0-9a-f]{6}")


def turn(rotate: int, flip: str) -> tuple[int, bool]:
    """``r`` then ``flip`` as one canonical turn: a clockwise rotation, then perhaps a
    left-right mirror. The eight turns of a rectangle are all of this form: mirroring
    top-bottom after a rotation is mirroring left-right after 180 degrees more, and
    mirroring both ways is a half turn."""
    if rotate not in ROTATIONS or flip not in ("", *FLIPS):
        raise ValueError(f"no such turn: r={rotate}, flip={flip!r}")
    if flip in ("hv", "vh"):
        return (rotate + 180) % 360, False
    if flip == "v":
        return (rotate + 180) % 360, True
    return rotate, flip == "h"


def snap_fraction(value: float, grid: float) -> float:
    """The nearest multiple of ``grid`` (a focal point coordinate), exactly as it prints."""
    steps = round(1 / grid)
    return round(round(value * steps) / steps, 4)


def snap_to_list(value: float, allowed: tuple[float, ...]) -> float:
    """The nearest allowed value; ties go to the higher one."""
    return min(allowed, key=lambda a: (abs(a - value), -a))


def decimal(value: float) -> str:
    """A number as the key spells it: no exponent, no trailing zeros (0.35, 2, 0.0625)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"
