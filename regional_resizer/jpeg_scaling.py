"""JPEG DCT scaling: libjpeg decodes straight to 1/8, 2/8, 3/8 or 4/8 of the size.

Pillow's ``draft`` asks for 1/2, 1/4 or 1/8. Its decoder passes ``scale_denom = d`` (with
``scale_num = 1``) to libjpeg-turbo, which rounds 1/d up to the next M/8, so ``d = 3``
gives 3/8: the one scale between 1/4 and 1/2, which ``draft`` never asks for. ``decode_at``
asks for it on top of a 1/2 draft, through the same three fields ``draft`` sets (the
decoder's scale, the image size and the tile's extents); when they are not as a 1/2 draft
leaves them, it keeps the 1/2. ``tests/unit/test_jpeg_scaling.py`` holds Pillow to that.

Lossless JPEG (SOF3, libjpeg-turbo 3) has no DCT to scale: libjpeg decodes it at full
size whatever it is asked, which Pillow then reports as broken data. ``scalable`` tells.
"""

from __future__ import annotations

from fractions import Fraction

from PIL import ImageFile

THREE_EIGHTHS = Fraction(8, 3)

_LOSSLESS = frozenset((0xC3, 0xC7, 0xCB, 0xCF))  # SOF3, 7, 11, 15: lossless frames
_NOT_FRAMES = frozenset((0xC4, 0xC8, 0xCC))  # DHT, JPG, DAC share the SOFn range


def scalable(data: bytes) -> bool:
    """Whether the JPEG in ``data`` is DCT coded: its first frame header is not lossless.
    Reads marker segments only (no entropy-coded data comes before the frame header)."""
    at = 2  # after SOI
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return True  # not a marker where one should be: Pillow's decoder will say
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in _NOT_FRAMES:
            return marker not in _LOSSLESS
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return True


def decode_at(image: ImageFile.ImageFile, factor: Fraction) -> Fraction:
    """Have the decoder of an opened, not yet loaded JPEG shrink each side ``factor``
    times (8, 4, 8/3 or 2); returns the factor it will really shrink by (1: none)."""
    width, height = image.size
    whole = 2 if factor == THREE_EIGHTHS else int(factor)
    if image.draft(None, (width // whole, height // whole)) is None:
        return Fraction(1)
    done = Fraction(int(image.decoderconfig[0]))  # what draft chose: 8, 4, 2 (or 1)
    if factor == THREE_EIGHTHS and done == 2 and _three_eighths(image, width, height):
        return THREE_EIGHTHS
    return done


def _three_eighths(image: ImageFile.ImageFile, width: int, height: int) -> bool:
    """Turn a 1/2 draft into 3/8; False (the 1/2 kept) if it does not look like one."""
    half = (-(-width // 2), -(-height // 2))
    if len(image.tile) != 1 or image.decoderconfig != (2, 0) or image.size != half:
        return False
    tile = image.tile[0]
    if tile.extents is None:
        return False
    left, top = tile.extents[0], tile.extents[1]
    size = (-(-width * 3 // 8), -(-height * 3 // 8))  # libjpeg: ceil(side * 3 / 8)
    image.tile = [tile._replace(extents=(left, top, left + size[0], top + size[1]))]
    image._size = size
    image.decoderconfig = (3, 0)
    return True
