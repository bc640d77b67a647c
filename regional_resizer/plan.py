"""Geometry: what region of the source to sample and how large the output is.

A pure function of the (oriented) source size and the request, computed before any pixel
is touched, so it is tested without images. Nothing is ever enlarged: a source smaller
than the request gives a smaller output (for ``contain``, a smaller canvas of the requested
aspect), never an upscaled one.

Everything is planned in the upright frame (EXIF orientation applied), on the request's
crop region (the whole source without one). The turn (``r``) comes after the resize, so a
quarter turn plans the requested sides swapped: ``s`` is the size of the turned output. A
cover crop's window lies inside the region, placed by the request's focus (centred on it
as far as the region allows; a compass gravity is a focus on the original's edge), else on
a focal point the caller gives (the smart crop's, or the one stored with the original),
else in the centre of the region.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

from shared import transforms
from shared.contract import ImageRequest, Point
from shared.errors import InvalidRequest

Box = tuple[float, float, float, float]
Size = tuple[int, int]

DCT_SCALES = (Fraction(8), Fraction(4), Fraction(8, 3), Fraction(2))
"""The factors libjpeg can shrink each side by while decoding (``jpeg_scaling``)."""
DCT_ROOM = {Fraction(8): 1.3, Fraction(4): 1.4, Fraction(8, 3): 1.4, Fraction(2): 1.5}
"""The least factor a DCT shrink by each scale must leave to the resampling kernel: closer
than that, the DCT's ringing (1/2) or its coarse blocks (1/4, 1/8) show, or a finer scale
plus a kernel does better in the same time. The measurements: docs/engine.md."""
DCT_THREE_EIGHTHS_MAX_ROOM = 5.2
"""Past a 5.2x shrink, halving, a box reduce by 2 and LANCZOS replace 3/8 and HAMMING: they
are sharper there (docs/engine.md)."""


class Plan(NamedTuple):
    """``box`` (left, top, right, bottom) of the upright source is resized to ``size``;
    for ``fit=contain`` the result is then centred on a ``canvas`` (None: no padding). All
    in the upright frame: a quarter turn swaps the sides of the output afterwards."""

    box: Box
    size: Size
    canvas: Size | None = None

    @property
    def output(self) -> Size:
        """The dimensions of the encoded image."""
        return self.canvas or self.size


def plan(src_w: int, src_h: int, request: ImageRequest, focal_point: Point | None = None) -> Plan:
    """The geometry of ``request`` applied to an upright source of ``src_w`` x ``src_h``
    pixels. ``focal_point`` (fractions x, y of the upright source) is where a cover crop
    centres when the request names no place itself (no focus, no compass gravity): for
    ``g=smart`` the point the smart crop found, else the one stored with the original."""
    area = region(src_w, src_h, request)
    left, top, right, bottom = area
    reg_w, reg_h = int(right - left), int(bottom - top)
    width, height = framed(request)
    if width is None or height is None:
        if width is not None:
            return Plan(area, _scaled(reg_w, reg_h, min(1.0, width / reg_w)))
        if height is not None:
            return Plan(area, _scaled(reg_w, reg_h, min(1.0, height / reg_h)))
        return Plan(area, (reg_w, reg_h))

    if request.fit == "cover":
        anchor = _placement(request, src_w, src_h, focal_point)
        return _cover(area, width, height, anchor)

    inside = _scaled(reg_w, reg_h, min(1.0, width / reg_w, height / reg_h))
    if request.fit == "inside":
        return Plan(area, inside)
    # contain: the requested frame, shrunk as much as the region is smaller than it.
    k = min(1.0, max(reg_w / width, reg_h / height))
    frame = _scaled(width, height, k)
    canvas = (max(frame[0], inside[0]), max(frame[1], inside[1]))
    return Plan(area, inside, None if canvas == inside else canvas)


def region(src_w: int, src_h: int, request: ImageRequest) -> Box:
    """The part of the upright source the request samples: its crop, intersected with the
    source, or the whole source. A crop that misses the source is the viewer's mistake."""
    if src_w < 1 or src_h < 1:
        raise ValueError(f"source size must be positive, got {src_w}x{src_h}")
    if request.crop is None:
        return (0.0, 0.0, float(src_w), float(src_h))
    left, top, width, height = request.crop
    right, bottom = min(left + width, src_w), min(top + height, src_h)
    if left >= right or top >= bottom:
        raise InvalidRequest(f"crop lies outside the image ({src_w}x{src_h})")
    return (float(left), float(top), float(right), float(bottom))


def framed(request: ImageRequest) -> tuple[int | None, int | None]:
    """The requested sides in the upright frame the resize works in: swapped when the
    output is turned a quarter."""
    if request.quarter_turned:
        return request.height, request.width
    return request.width, request.height


Anchor = tuple[str, Point]
"""Where a cover window goes: ("compass", fractions of the region's slack) or ("centre",
the point in source pixels it centres on)."""


def _placement(request: ImageRequest, src_w: int, src_h: int, focal_point: Point | None) -> Anchor:
    """How the cover window is placed: the request's focus, the caller's focal point
    (``g=smart``'s, or the stored one), else the centre of the region."""
    point = request.focus  # a compass gravity is one too (``ImageRequest.canonical``)
    if point is None:
        point = focal_point
    if point is None:
        return ("compass", transforms.COMPASS[transforms.CENTRE])
    return ("centre", (point[0] * src_w, point[1] * src_h))


def _cover(area: Box, width: int, height: int, anchor: Anchor) -> Plan:
    """The crop of aspect width:height inside ``area``, placed by ``anchor``, scaled to
    width x height; when the region is too small, that crop at scale 1 (the largest one of
    the requested aspect)."""
    left, top, right, bottom = area
    reg_w, reg_h = right - left, bottom - top
    if reg_w * height > reg_h * width:  # region is wider than the target aspect
        crop_w, crop_h = reg_h * width / height, reg_h
    else:
        crop_w, crop_h = reg_w, reg_w * height / width
    # A degenerate aspect (1 x 8192 from a 1-pixel-high strip) still samples a whole pixel.
    crop_w, crop_h = max(crop_w, 1.0), max(crop_h, 1.0)
    how, (x, y) = anchor
    if how == "compass":
        x0, y0 = left + (reg_w - crop_w) * x, top + (reg_h - crop_h) * y
    else:  # centred on (x, y), as far as the region allows
        x0 = min(max(x - crop_w / 2, left), right - crop_w)
        y0 = min(max(y - crop_h / 2, top), bottom - crop_h)
    k = min(1.0, reg_w / width, reg_h / height)
    return Plan((x0, y0, x0 + crop_w, y0 + crop_h), _scaled(width, height, k))


def _scaled(w: int, h: int, k: float) -> Size:
    """(w, h) times k, rounded half up, each at least 1."""
    if k == 1.0:
        return w, h
    return max(1, math.floor(w * k + 0.5)), max(1, math.floor(h * k + 0.5))


def dct_scale(region: Box, size: Size) -> Fraction:
    """The largest JPEG DCT scale (8, 4, 8/3, 2; else 1) by which ``region`` of the source
    can be decoded and still leave the kernel ``DCT_ROOM`` times ``size`` on both sides."""
    left, top, right, bottom = region
    room = min((right - left) / size[0], (bottom - top) / size[1])
    usable = (
        scale
        for scale in DCT_SCALES
        if room / scale >= DCT_ROOM[scale]
        and (scale != Fraction(8, 3) or room < DCT_THREE_EIGHTHS_MAX_ROOM)
    )
    return next(usable, Fraction(1))


SWAPS_SIDES = frozenset((5, 6, 7, 8))  # EXIF orientations that turn the image a quarter


def turns(orientation: int) -> bool:
    """Whether an EXIF orientation swaps the stored width and height."""
    return orientation in SWAPS_SIDES


def oriented(size: Size, orientation: int) -> Size:
    """The displayed size of a stored ``size`` under an EXIF orientation."""
    return (size[1], size[0]) if turns(orientation) else size


# For each EXIF orientation: which stored side becomes the upright x and y, and whether
# the turn reverses it (the transposes of ``pipeline.orient``).
_UPRIGHT_AXES = {
    1: ((0, False), (1, False)),
    2: ((0, True), (1, False)),
    3: ((0, True), (1, True)),
    4: ((0, False), (1, True)),
    5: ((1, False), (0, False)),
    6: ((1, True), (0, False)),
    7: ((1, True), (0, True)),
    8: ((1, False), (0, True)),
}


def scaled_origin(
    stored: Size, decoded: Size, scale: float, orientation: int
) -> tuple[float, float]:
    """Where the source's first column and row are in an upright, DCT-scaled decode, in
    source pixels. libjpeg rounds each scaled side up: the last column (row) it decodes
    covers less than ``scale`` source pixels, padded by the block's replicated edge. Once
    turned upright, a reversed side starts with that padding, and the planned box must
    skip it (``scale`` times the decoded side, less the source side)."""
    excess = (decoded[0] * scale - stored[0], decoded[1] * scale - stored[1])
    (x_side, x_reversed), (y_side, y_reversed) = _UPRIGHT_AXES.get(orientation, _UPRIGHT_AXES[1])
    return (excess[x_side] if x_reversed else 0.0, excess[y_side] if y_reversed else 0.0)
