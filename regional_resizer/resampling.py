"""How to shrink: how much the JPEG decoder does (DCT scaling), then which box reduce and
which kernel finish the job; and how a large resize is shared between threads. docs/engine.md
has the rules in prose and the measurements behind each threshold.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

from PIL import Image

from regional_resizer import codecs, jpeg_scaling
from regional_resizer.plan import Box, Size, dct_scale, oriented, plan, turns
from shared import formats
from shared.contract import ImageRequest

RESAMPLE = Image.Resampling.LANCZOS
"""The reference kernel: after a box reduce, after 1/4 or 1/8 DCT scaling, and everywhere
with ``resampling = "lanczos"``."""
REDUCING_GAP = 2.0
"""Cheap integer pre-reduction (``Image.reduce``, a box filter) keeps at least this many
times the output size for LANCZOS to work on, as libvips (sharp) does."""
UNREDUCED_RESAMPLE = Image.Resampling.BICUBIC
"""The kernel of a "balanced" shrink that neither DCT scaling nor a box reduce shares, one
under 4x of a full-resolution decode (JPEG: under 3x, outputs over a third of the
source): faster than LANCZOS there at about sharp's fidelity."""
DRAFTED_REDUCING_GAP = 1.3
"""After a DCT shrink: box-reduce by 2 (3) when that leaves at least 1.3x to the kernel..."""
MAX_BOX_SHRINK = 8
"""... as long as the DCT scale times the box factor stays within 8: libjpeg's 1/8 is
already the mean of each 8x8 block, and a box on top of it aliases; after 1/8 the kernel,
on 1/64 of the source's pixels, costs little anyway."""
LANCZOS_MAX_STEP = 1.4
"""After a DCT shrink by 2 or 8/3 that no box reduce can follow, a last step longer than
this is left to HAMMING (2 taps per output pixel at 1x) instead of LANCZOS (6). After 1/4
or 1/8, whose output is coarser, or after a box reduce, it is always LANCZOS."""


def shrink_on_load(source: codecs.Source, request: ImageRequest) -> float:
    """Ask libjpeg to decode at 1/2, 3/8, 1/4 or 1/8 scale when the sampled region, so
    scaled, leaves the kernel the room ``plan.DCT_ROOM`` asks; returns the factor (1: none).

    The orientation is read from the header first: the decoder scales the stored image,
    whose sides are swapped for orientations 5-8, so the planned region is turned back. The
    region is the one sampled: the crop, or the cover window within it, whose size does not
    depend on where it is placed (no focal point is known yet, none is needed)."""
    image = source.image
    if image.format not in formats.JPEG.pillow or not source.dct_scalable:
        return 1.0
    orientation = codecs.exif_orientation(image)  # JPEG: from the header, nothing decoded
    geometry = plan(*oriented(image.size, orientation), request)
    left, top, right, bottom = geometry.box
    out_w, out_h = geometry.size
    if turns(orientation):
        (left, top, right, bottom), (out_w, out_h) = (top, left, bottom, right), (out_h, out_w)
    factor = dct_scale((left, top, right, bottom), (out_w, out_h))
    if factor == 1:
        return 1.0
    return float(jpeg_scaling.decode_at(image, factor))


def choose(
    box: Box, size: Size, scale: float, balanced: bool = True
) -> tuple[Image.Resampling, float]:
    """The kernel and reducing gap that shrink ``box`` to ``size`` after the decoder shrank
    the source ``scale`` times: the reference (LANCZOS after box-reducing down to 2x)
    unless a DCT shrink already did; then a short box reduce and a short kernel. When
    ``balanced`` (the configuration's ``resampling``): BICUBIC for a shrink that no box
    reduce shares, HAMMING over a long last step after a DCT shrink."""
    ratios = ((box[2] - box[0]) / size[0], (box[3] - box[1]) / size[1])
    if scale == 1:
        if balanced and max(ratios) < 2 * REDUCING_GAP:  # no box reduce: the kernel does all
            return UNREDUCED_RESAMPLE, REDUCING_GAP
        return RESAMPLE, REDUCING_GAP
    most = max(1, int(MAX_BOX_SHRINK / scale))  # the largest box factor allowed
    gap = max(DRAFTED_REDUCING_GAP, max(ratios) / (most + 0.5))
    factors = [int(ratio / gap) or 1 for ratio in ratios]  # as Pillow computes them
    step = max(ratio / factor for ratio, factor in zip(ratios, factors, strict=True))
    if balanced and scale < 4 and max(factors) == 1 and step > LANCZOS_MAX_STEP:
        return Image.Resampling.HAMMING, gap
    return RESAMPLE, gap


SUPPORT = {
    Image.Resampling.BOX: 0.5,
    Image.Resampling.BILINEAR: 1.0,
    Image.Resampling.HAMMING: 1.0,
    Image.Resampling.BICUBIC: 2.0,
    Image.Resampling.LANCZOS: 3.0,
}
"""The half-width of each kernel Pillow's resample uses, in source pixels at 1x (the split
resize handles these kernels; others are resized in one call)."""
SPLIT_MODES = frozenset(("L", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK"))
"""The 8-bit modes the split resize handles (LA and RGBA premultiplied, as Pillow does)."""
_PREMULTIPLIED = {"LA": "La", "RGBA": "RGBa"}
SPLIT_MIN_WORK = 2_500_000
"""A resize is shared between threads only when its work, counted as kernel taps (output
width x source rows x taps of the horizontal pass, plus output pixels x taps of the
vertical one), is at least this: below it, the copies and the hand-over between threads
cost more than the second thread saves (docs/memory.md has the measurement)."""


def resize_image(
    image: Image.Image,
    size: Size,
    kernel: Image.Resampling,
    box: Box,
    reducing_gap: float | None = None,
    threads: int = 1,
) -> Image.Image:
    """``image.resize(size, kernel, box=box, reducing_gap=reducing_gap)``, the same pixels,
    on up to ``threads`` threads when the work is large enough (``SPLIT_MIN_WORK``).

    Pillow's resample releases the GIL, runs a horizontal pass then a vertical one, and
    computes each pass's weights from the box, the output size and the source's size alone.
    The split keeps all three in every call: the box reduce and the horizontal pass are
    shared out by bands of source rows (a reduce band whole blocks of rows; a horizontal
    band a crop of whole rows, the box's rows unchanged, so no vertical pass runs), the
    vertical pass by bands of columns of the full-height intermediate (its columns whole,
    so no horizontal pass runs). A band of output rows would need a box Pillow rounds to
    32-bit floats, which moves its weights: it is never used."""
    if threads < 2 or kernel not in SUPPORT or image.mode not in SPLIT_MODES:
        return image.resize(size, kernel, box=box, reducing_gap=reducing_gap)
    if image.size == size and box == (0, 0, *image.size):
        return image.copy()
    factor, area = _box_reduce(image.size, size, kernel, box, reducing_gap)
    after = box  # the box in the image the passes resample: the reduced one if any
    if area is not None:  # Pillow's box reduce, with its numbers
        after = (
            (box[0] - area[0]) / factor[0],
            (box[1] - area[1]) / factor[1],
            (box[2] - area[0]) / factor[0],
            (box[3] - area[1]) / factor[1],
        )
        reduced = (
            math.ceil((area[2] - area[0]) / factor[0]),
            math.ceil((area[3] - area[1]) / factor[1]),
        )
        work = (area[2] - area[0]) * (area[3] - area[1]) + _taps(reduced, size, kernel, after)
    else:
        work = _taps(image.size, size, kernel, box)
    if work < SPLIT_MIN_WORK:
        return image.resize(size, kernel, box=box, reducing_gap=reducing_gap)
    if image.mode in _PREMULTIPLIED:  # as Pillow: premultiplied, so colour follows alpha
        return _split(
            image.convert(_PREMULTIPLIED[image.mode]), size, kernel, after, factor, area, threads
        ).convert(image.mode)
    return _split(image, size, kernel, after, factor, area, threads)


def _split(
    image: Image.Image,
    size: Size,
    kernel: Image.Resampling,
    box: Box,
    factor: tuple[int, int],
    area: Box | None,
    threads: int,
) -> Image.Image:
    """``resize_image``'s split: the box reduce of ``area`` if any, then both passes on
    ``box``, now a box of the reduced image."""
    if area is not None:
        image = _reduce(image, factor, area, threads)
    return _two_passes(image, size, kernel, box, threads)


def _box_reduce(
    source: Size, size: Size, kernel: Image.Resampling, box: Box, reducing_gap: float | None
) -> tuple[tuple[int, int], Box | None]:
    """The factors and the region of the box reduce Pillow's resize makes first, if any."""
    if reducing_gap is None:
        return (1, 1), None
    factor_x = int((box[2] - box[0]) / size[0] / reducing_gap) or 1
    factor_y = int((box[3] - box[1]) / size[1] / reducing_gap) or 1
    if factor_x == factor_y == 1:
        return (1, 1), None
    return (factor_x, factor_y), _safe_box(source, size, kernel, box)


def _taps(source: Size, size: Size, kernel: Image.Resampling, box: Box) -> float:
    """Kernel taps of one resample of ``box`` to ``size`` (``SPLIT_MIN_WORK``)."""
    scale_x = max(1.0, (box[2] - box[0]) / size[0])
    scale_y = max(1.0, (box[3] - box[1]) / size[1])
    rows = min(source[1], box[3] - box[1] + 2 * SUPPORT[kernel] * scale_y)
    horizontal = size[0] * rows * 2 * SUPPORT[kernel] * scale_x
    return horizontal + size[0] * size[1] * 2 * SUPPORT[kernel] * scale_y


def _safe_box(source: Size, size: Size, kernel: Image.Resampling, box: Box) -> Box:
    """The region Pillow's resize box-reduces: the box and what the kernel reaches."""
    support = SUPPORT[kernel] - 0.5
    support_x = support * (box[2] - box[0]) / size[0]
    support_y = support * (box[3] - box[1]) / size[1]
    return (
        max(0, int(box[0] - support_x)),
        max(0, int(box[1] - support_y)),
        min(source[0], math.ceil(box[2] + support_x)),
        min(source[1], math.ceil(box[3] + support_y)),
    )


def _reduce(image: Image.Image, factor: tuple[int, int], area: Box, threads: int) -> Image.Image:
    """``image.reduce(factor, box=area)`` by bands of whole blocks of rows (a partial block
    stays last, where one reduce leaves it)."""
    left, top, right, bottom = (int(v) for v in area)
    rows = math.ceil((bottom - top) / factor[1])
    bands = [
        (left, top + first * factor[1], right, min(bottom, top + end * factor[1]))
        for first, end in _bands(0, rows, threads)
    ]
    parts = _map(threads, lambda band: image.reduce(factor, box=band), bands)
    out = Image.new(image.mode, (math.ceil((right - left) / factor[0]), rows), None)
    for (_, band_top, _, _), part in zip(bands, parts, strict=True):
        out.paste(part, (0, (band_top - top) // factor[1]))
    return out


def _two_passes(
    image: Image.Image, size: Size, kernel: Image.Resampling, box: Box, threads: int
) -> Image.Image:
    """Pillow's resample of ``box`` to ``size`` (no box reduce), its passes in Pillow's
    order, each shared out as ``resize_image`` says."""
    x0, y0, x1, y1 = (_f32(v) for v in box)  # what Pillow reads
    width, height = image.size
    horizontal = size[0] != width or x0 != 0 or x1 != width
    vertical = size[1] != height or y0 != 0 or y1 != height
    if not vertical:
        return _across(image, size[0], kernel, (x0, x1), (0, height), threads)
    if not horizontal:
        return _down(image, size[1], kernel, (y0, y1), (0, width), threads)
    if size[1] < height and 2 * (width - size[0]) < height - size[1]:  # Pillow: vertical first
        columns = _reach(x0, x1, size[0], width, kernel)
        middle = _down(image, size[1], kernel, (y0, y1), columns, threads)
        return _across(middle, size[0], kernel, (x0, x1), (0, size[1]), threads)
    rows = _reach(y0, y1, size[1], height, kernel)
    middle = _across(image, size[0], kernel, (x0, x1), rows, threads)
    return _down(middle, size[1], kernel, (y0, y1), (0, size[0]), threads)


def _across(
    image: Image.Image,
    width: int,
    kernel: Image.Resampling,
    span: tuple[float, float],
    rows: tuple[int, int],
    threads: int,
) -> Image.Image:
    """The horizontal pass: ``span`` of each row in ``rows`` resampled to ``width``, by
    bands of whole rows (the weights depend on the row's length only). The result has the
    image's height, so that a vertical pass after it reads each row where it was; rows
    outside ``rows`` are left unset."""

    def band(run: tuple[int, int]) -> Image.Image:
        part = image.crop((0, run[0], image.width, run[1]))
        return part.resize((width, part.height), kernel, box=(span[0], 0, span[1], part.height))

    return _assemble(image.mode, (width, image.height), band, _bands(*rows, threads), threads, 1)


def _down(
    image: Image.Image,
    height: int,
    kernel: Image.Resampling,
    span: tuple[float, float],
    columns: tuple[int, int],
    threads: int,
) -> Image.Image:
    """The vertical pass: ``span`` of each column in ``columns`` resampled to ``height``, by
    bands of whole columns; the result has the image's width, columns outside ``columns``
    left unset."""

    def band(run: tuple[int, int]) -> Image.Image:
        part = image.crop((run[0], 0, run[1], image.height))
        return part.resize((part.width, height), kernel, box=(0, span[0], part.width, span[1]))

    return _assemble(image.mode, (image.width, height), band, _bands(*columns, threads), threads, 0)


def _assemble(
    mode: str,
    size: Size,
    band: Callable[[tuple[int, int]], Image.Image],
    runs: list[tuple[int, int]],
    threads: int,
    axis: int,
) -> Image.Image:
    """An image of ``size`` with ``band(run)`` pasted at each run's start along ``axis``
    (0: columns, 1: rows), the bands made on ``threads`` threads."""
    out = Image.new(mode, size, None)
    for (first, _), part in zip(runs, _map(threads, band, runs), strict=True):
        out.paste(part, (first, 0) if axis == 0 else (0, first))
    return out


def _reach(
    start: float, end: float, size: int, limit: int, kernel: Image.Resampling
) -> tuple[int, int]:
    """The source pixels a pass resampling ``start..end`` to ``size`` reads, and one more
    each side, within ``0..limit``."""
    reach = SUPPORT[kernel] * max(1.0, (end - start) / size)
    return max(0, math.floor(start - reach) - 1), min(limit, math.ceil(end + reach) + 1)


def _f32(value: float) -> float:
    """``value`` as Pillow's resize reads a box coordinate: a 32-bit float."""
    rounded: float = struct.unpack("f", struct.pack("f", value))[0]
    return rounded


def _bands(start: int, end: int, count: int) -> list[tuple[int, int]]:
    """``start..end`` cut into at most ``count`` non-empty runs of near-equal length."""
    count = max(1, min(count, end - start))
    cuts = [start + (end - start) * i // count for i in range(count + 1)]
    return list(itertools.pairwise(cuts))


T = TypeVar("T")
R = TypeVar("R")


def _map(threads: int, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``work`` on each item, the first in this thread and the rest in the pool."""
    if len(items) < 2:
        return [work(item) for item in items]
    rest = [_pool(threads).submit(work, item) for item in items[1:]]
    return [work(items[0]), *(future.result() for future in rest)]


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool per thread count, kept for the process's next renders."""
    return ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="resize")
