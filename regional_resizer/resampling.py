"""How to shrink: how much the JPEG decoder does (DCT scaling), then which box reduce and
which kernel finish the job. docs/engine.md has the rules in prose and the measurements
behind each threshold.
"""

from __future__ import annotations

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
