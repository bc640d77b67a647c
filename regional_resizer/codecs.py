"""Decode with limits, encode without metadata: the one place Pillow's errors are translated.

Decoding is two-phase. ``open_image`` reads only the header and refuses, before a pixel is
decoded, anything above the byte, pixel, frame and frames x pixels limits; the caller may
then configure the decoder (JPEG ``draft``) and ``load`` decodes frame 0. Every exception a
hostile input can raise from Pillow here becomes one of ``UnsupportedImage`` (415),
``TooManyPixels`` (422), ``CorruptImage`` (422) or ``SourceTooLarge`` (413).
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from shared.config import Config
from shared.errors import CorruptImage, SourceTooLarge, TooManyPixels, UnsupportedImage

# The plugins Image.open may try. JPEG's also opens MPO (and reports it as such).
DECODABLE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF", "TIFF", "BMP")
HEIF_FORMAT = "HEIF"  # through pillow-heif, when it is installed

# Pixel modes the pipeline knows how to bring to 8 bits; others (LAB, HSV, F...) are refused.
DECODABLE_MODES = frozenset(
    {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}
    | {"I", "I;16", "I;16L", "I;16B", "I;16N"}  # 16/32-bit gray, scaled to 8 bits
)

CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
}
ENCODABLE_MODES = {
    "jpeg": ("L", "RGB"),
    "png": ("L", "LA", "RGB", "RGBA"),
    "webp": ("RGB", "RGBA"),
    "avif": ("RGB", "RGBA"),
}
JPEG_SUBSAMPLING = 2  # 4:2:0
PNG_COMPRESS_LEVEL = 6
WEBP_METHOD = 4
AVIF_SPEED = 6

# What Pillow's plugins raise on broken data, besides the bomb and identification errors.
# The list is wider than Pillow documents because hostile input must never become a 500;
# it is caught only around Pillow's own open, frame count and load calls.
_BROKEN_DATA = (
    OSError,
    ValueError,
    SyntaxError,
    struct.error,
    EOFError,
    zlib.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
)

_ORIENTATIONS = range(1, 9)


@contextmanager
def _pillow_boundary(config: Config) -> Iterator[None]:
    """Run Pillow on untrusted bytes: its bomb check at our pixel limit (a warning there is
    an error), its other warnings (about the input's quirks) silenced, its errors ours.
    Both settings are process-wide; a Lambda process renders one image at a time."""
    Image.MAX_IMAGE_PIXELS = max(1, config.max_source_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixels() from None
    except UnidentifiedImageError:
        raise UnsupportedImage() from None
    except _BROKEN_DATA:
        raise CorruptImage() from None


def open_image(data: bytes, config: Config) -> ImageFile.ImageFile:
    """Identify ``data`` and check the limits from its header; nothing is decoded yet."""
    if len(data) > config.max_source_bytes:
        raise SourceTooLarge(f"more than {config.max_source_bytes} bytes")
    with _pillow_boundary(config):
        image = Image.open(io.BytesIO(data), formats=_formats())
    width, height = image.size
    if width < 1 or height < 1:
        raise CorruptImage("empty image")
    if image.mode not in DECODABLE_MODES:
        raise UnsupportedImage(f"pixel mode {image.mode}")
    pixels = width * height
    if pixels > config.max_source_pixels:
        raise TooManyPixels(f"{width}x{height}")
    # Stop counting once a limit is exceeded; bytes beyond that are never looked at.
    cap = min(config.max_frames, config.max_total_pixels // pixels) + 1
    with _pillow_boundary(config):
        frames = _frame_count(image, data, cap)
    if frames > config.max_frames:
        raise TooManyPixels(f"{frames} frames")
    if frames * pixels > config.max_total_pixels:
        raise TooManyPixels(f"{frames} frames of {width}x{height}")
    return image


def _frame_count(image: ImageFile.ImageFile, data: bytes, cap: int) -> int:
    """The number of frames, or ``cap`` if there are at least that many. Declared counts
    (APNG, WebP, AVIF, MPO, HEIF) are free; Pillow's GIF and TIFF ``n_frames`` walk the
    whole file (TIFF in quadratic time), so those are walked here, up to the cap only."""
    if image.format == "GIF":
        return _gif_frames(data, cap)
    if image.format == "TIFF":
        frames = 1
        try:
            while frames < cap:
                image.seek(frames)  # reads the next IFD's tags, no pixels
                frames += 1
        except EOFError:
            pass
        image.seek(0)
        return frames
    return max(1, int(getattr(image, "n_frames", 1)))


_GIF_BLOCK = re.compile(rb"[\x21\x2c\x3b]")  # extension, image descriptor, trailer


def _gif_frames(data: bytes, cap: int) -> int:
    """Count GIF image descriptors up to ``cap`` by skipping blocks, as Pillow's GIF
    reader finds frames (bytes that start no block are skipped), without decoding.

    Encoders write 255-byte data sub-blocks; a file of tiny ones would make this walk slow
    (seconds for 50 MB) while the decoder itself stops after frame 0, so the walk has a
    budget of sub-blocks and such a file is refused."""
    budget = len(data) // 32 + 8 * cap + 64
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = 0
    while frames < cap:
        found = _GIF_BLOCK.search(data, pos)
        if found is None or data[found.start()] == 0x3B:
            break
        pos = found.start()
        if data[pos] == 0x2C:
            if pos + 10 > len(data):
                break
            flags = data[pos + 9]
            local_palette = 3 << ((flags & 7) + 1) if flags & 0x80 else 0
            pos += 10 + local_palette + 1  # descriptor, palette, LZW minimum code size
            frames += 1
        else:
            pos += 2  # introducer and label
        while pos < len(data):  # data sub-blocks, up to the empty one
            budget -= 1
            if budget < 0:
                raise CorruptImage("GIF data split into too many blocks")
            size = data[pos]
            pos += 1 + size
            if size == 0:
                break
    return max(1, frames)


def load(image: ImageFile.ImageFile, config: Config) -> Image.Image:
    """Decode the current frame (frame 0; HEIF: the primary image) of an opened image."""
    with _pillow_boundary(config):
        image.load()
    return image


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1..8) as ``ImageOps.exif_transpose`` reads it: EXIF, else XMP
    ``tiff:Orientation``; AVIF irot/imir arrive here as EXIF. Unreadable or invalid: 1."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except (*_BROKEN_DATA, AttributeError):
        return 1
    return value if isinstance(value, int) and value in _ORIENTATIONS else 1


def encode(image: Image.Image, fmt: str, quality: int | None) -> bytes:
    """Encode for the web: no EXIF, XMP, ICC or text (the pixels are already sRGB)."""
    if fmt not in ENCODABLE_MODES:
        raise ValueError(f"unknown output format {fmt!r}")
    if image.mode not in ENCODABLE_MODES[fmt]:
        raise ValueError(f"cannot encode mode {image.mode} as {fmt}")
    if quality is None and fmt != "png":
        raise ValueError(f"{fmt} needs a quality")
    if image.info:
        # Pillow's savers fall back to image.info for ICC, comments, transparency...
        image = image.copy()
        image.info.clear()
    out = io.BytesIO()
    if fmt == "jpeg":
        image.save(
            out,
            "JPEG",
            quality=quality,
            optimize=True,
            progressive=False,
            subsampling=JPEG_SUBSAMPLING,
        )
    elif fmt == "png":
        image.save(out, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=quality, method=WEBP_METHOD)
    else:
        image.save(out, "AVIF", quality=quality, speed=AVIF_SPEED)
    return out.getvalue()


def _formats() -> tuple[str, ...]:
    return (*DECODABLE_FORMATS, HEIF_FORMAT) if _heif_registered() else DECODABLE_FORMATS


@cache
def _heif_registered() -> bool:
    """Register pillow-heif's opener once; without the package, HEIC is unsupported."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return True
