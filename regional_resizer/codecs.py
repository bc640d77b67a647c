"""Decode with limits, encode without metadata: the one place Pillow's errors are translated.

Decoding is two-phase. ``open_image`` reads only the header and refuses, before a pixel is
decoded, anything above the byte, pixel, frame and frames x pixels limits; the caller may
then configure the decoder (JPEG ``draft``) and ``load`` decodes frame 0 (``load_frame``
a later one). Every exception a hostile input can raise from Pillow here becomes one of
``UnsupportedImage``, ``TooManyPixels``, ``CorruptImage`` or ``SourceTooLarge``, all 415
(shared/errors.py says why).

libjpeg, libwebp and zlib encode on one thread; libaom (AVIF) on the render's ``threads``
(``threads``), in tile columns on two or more (``avif_tile_columns``), which changes its bytes,
not its quality (docs/memory.md).
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import warnings
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, NamedTuple

from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from regional_resizer import jpeg_scaling
from shared import formats
from shared.config import Config
from shared.errors import CorruptImage, SourceTooLarge, TooManyPixels, UnsupportedImage
from shared.formats import ImageFormat

HEIF_FORMAT = "HEIF"  # through pillow-heif, when it is installed
# The plugins Image.open may try: Pillow's own, of every format it reads. JPEG's also
# opens MPO (and reports it as such).
DECODABLE_FORMATS = tuple(
    fmt.pillow[0] for fmt in formats.FORMATS if fmt.pillow and fmt.pillow[0] != HEIF_FORMAT
)

# Pixel modes the pipeline knows how to bring to 8 bits; others (LAB, HSV, F...) are refused.
DECODABLE_MODES = frozenset(
    {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}
    | {"I", "I;16", "I;16L", "I;16B", "I;16N"}  # 16/32-bit gray, scaled to 8 bits
)

# The pixel modes each output format's encoder is given.
ENCODABLE_MODES = {
    formats.JPEG.name: ("L", "RGB"),
    formats.PNG.name: ("L", "LA", "RGB", "RGBA"),
    formats.WEBP.name: ("RGB", "RGBA"),
    formats.AVIF.name: ("RGB", "RGBA"),
}
# The longest side each encoder takes (libjpeg 65500, libwebp 16383, libavif 65536): a full
# size or one-sided request on a long strip may ask for more, which is the viewer's 415.
MAX_SIDE = {
    formats.JPEG.name: 65_500,
    formats.PNG.name: 2**31 - 1,
    formats.WEBP.name: 16_383,
    formats.AVIF.name: 65_536,
}
# Encoder settings (``_save_options``).
JPEG_SUBSAMPLING = 2  # 4:2:0
PNG_COMPRESS_LEVEL = 6
WEBP_METHOD = 4  # sharp's default effort 4
AVIF_SPEED = 6  # libaom speed; sharp's default effort 4 is speed 5 (2-3x slower, ~1% smaller)
AVIF_SUBSAMPLING = "4:2:0"  # like JPEG and WebP; sharp defaults to 4:4:4
AVIF_TILE_COLUMNS = 2
"""On two threads or more, an AVIF at least ``AVIF_MIN_TILED_WIDTH`` wide is encoded in this
many tile columns (``avif_tile_columns``)."""
AVIF_MIN_TILED_WIDTH = 256  # each column four of libaom's 64-pixel superblocks wide, or more

MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # set by Lambda, in MB
MB_PER_VCPU = 1769
"""Lambda gives a function CPU in proportion to its memory, one vCPU's worth at 1,769 MB
(AWS Lambda Developer Guide, "Configure Lambda function memory")."""

# What Pillow's plugins raise on broken data, besides the bomb and identification errors.
# The list is wider than Pillow documents because hostile input must never become a 500;
# it is caught only around Pillow's own open, frame count and load calls.
_BROKEN_DATA = (
    OSError,
    RuntimeError,  # libavif's "Failed to decode image", through Pillow's AVIF plugin
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

BLOCK_SIZE = 256 * 1024
KEPT_BLOCKS = 512
"""Pillow allocates pixels in blocks of whole rows and frees them with the image; kept
blocks (here up to 512 of 256 KiB: at most 128 MiB held between renders) serve the next
image without the kernel faulting fresh pages in. Pillow's default (16 MiB blocks, none
kept) made page faults a third of a render's time on the benchmark (2048x1536 RGBA PNG),
and large kept blocks are a poor fit for the next image's sizes. A resizer process renders
one image after another, so the blocks are reused. ``PILLOW_BLOCK_SIZE`` and
``PILLOW_BLOCKS_MAX`` in the environment, if set, win."""
if "PILLOW_BLOCK_SIZE" not in os.environ:
    Image.core.set_block_size(BLOCK_SIZE)  # type: ignore[attr-defined]
if "PILLOW_BLOCKS_MAX" not in os.environ:
    Image.core.set_blocks_max(KEPT_BLOCKS)  # type: ignore[attr-defined]


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


class Source(NamedTuple):
    """An opened original whose header passed the limits; only frame 0 may be decoded."""

    image: ImageFile.ImageFile
    frames: int  # counted from the header (GIF, TIFF: walked without decoding)
    dct_scalable: bool = False  # a JPEG that libjpeg can scale while decoding (not lossless)

    @property
    def format(self) -> str:
        """Pillow's name of the source format, lower case: "jpeg", "gif", "heif"..."""
        return (self.image.format or "unknown").lower()


def open_image(data: bytes, config: Config) -> Source:
    """Identify ``data`` and check the limits from its header; nothing is decoded yet."""
    if len(data) > config.max_source_bytes:
        raise SourceTooLarge(f"more than {config.max_source_bytes} bytes")
    with _pillow_boundary(config):
        image = Image.open(io.BytesIO(data), formats=_formats(data))
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
    jpeg = image.format in formats.JPEG.pillow
    return Source(image, frames, jpeg and jpeg_scaling.scalable(data))


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


def load_frame(image: ImageFile.ImageFile, index: int, config: Config) -> Image.Image | None:
    """Decode frame ``index``, composited onto the frames before it as Pillow's GIF, APNG,
    WebP and AVIF readers give them; None past the last one. Broken data: ``CorruptImage``."""
    with _pillow_boundary(config):
        try:
            image.seek(index)
        except EOFError:
            return None
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


def threads(setting: int, memory_mb: str | None = None, cpus: int | None = None) -> int:
    """The threads a render uses: ``setting`` (the configuration's ``threads``) when it is
    not 0. 0: in Lambda (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` set), one per vCPU's worth of
    the function's memory, rounded up (1 up to 1,769 MB, 2 up to 3,538 MB, ... 6 at
    10,240 MB), never more than the CPUs the process may run on; elsewhere, those CPUs
    (Pillow's own default for AVIF). ``memory_mb`` and ``cpus`` default to the
    environment's and the process's."""
    if setting:
        return setting
    if cpus is None:
        cpus = _usable_cpus()
    if memory_mb is None:
        memory_mb = os.environ.get(MEMORY_ENV)
    if memory_mb is None or not memory_mb.strip().isdigit():
        return max(1, cpus)
    return max(1, min(cpus, math.ceil(int(memory_mb) / MB_PER_VCPU)))


def _usable_cpus() -> int:
    """The CPUs this process may run on (its affinity), else the machine's, else 1."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def encode(image: Image.Image, fmt: str, quality: int | None, threads: int = 1) -> bytes:
    """Encode for the web: no EXIF, XMP, ICC or text (the pixels are already sRGB).
    ``threads``: how many the encoder may use (libaom's; the others have one)."""
    output = formats.output(fmt)
    image = _bare(image, output, quality)
    out = io.BytesIO()
    options = _save_options(output, quality, threads)
    if output.name == formats.AVIF.name:
        options["tile_cols"] = avif_tile_columns(image.width, threads).bit_length() - 1
    image.save(out, output.pillow[0], **options)
    return out.getvalue()


def avif_tile_columns(width: int, threads: int) -> int:
    """How many tile columns an AVIF ``width`` pixels wide is encoded in on ``threads``.
    libaom encodes the tiles of a frame at the same time, where its row multithreading
    alone leaves a second thread waiting much of the time; but nothing is predicted across
    a tile's edge, so a frame in tiles takes a few more bytes (docs/memory.md): two
    columns, not one per thread, and none on one thread or for a narrow image."""
    if threads < 2 or width < AVIF_MIN_TILED_WIDTH:
        return 1
    return AVIF_TILE_COLUMNS


def encode_animation(
    frames: Sequence[Image.Image],
    durations: Sequence[int],
    loop: int,
    fmt: str,
    quality: int | None,
) -> bytes:
    """Encode frames of one size as an animated WebP or APNG, played ``loop`` times (0:
    forever), frame i shown ``durations[i]`` ms; one frame is encoded as a still image."""
    output = formats.output(fmt)
    if not output.keeps_animation:
        raise ValueError(f"{fmt} output keeps no animation")
    if len(frames) != len(durations) or not frames:
        raise ValueError("one duration per frame, at least one frame")
    if len(frames) == 1:
        return encode(frames[0], fmt, quality)
    first, *rest = (_bare(frame, output, quality) for frame in frames)
    timing = {"save_all": True, "append_images": rest, "duration": list(durations), "loop": loop}
    out = io.BytesIO()
    # APNG: every frame whole, each encoded as its difference from the one before.
    first.save(out, output.pillow[0], **_save_options(output, quality), **timing)
    return out.getvalue()


def _save_options(output: ImageFormat, quality: int | None, threads: int = 1) -> dict[str, Any]:
    """Pillow's ``save`` keywords for ``output``, read at each call (the benchmark sets
    ``AVIF_SPEED``); libaom gets ``threads``."""
    options: dict[str, dict[str, Any]] = {
        formats.JPEG.name: {
            "optimize": True,
            "progressive": False,
            "subsampling": JPEG_SUBSAMPLING,
        },
        formats.PNG.name: {"compress_level": PNG_COMPRESS_LEVEL},
        formats.WEBP.name: {"method": WEBP_METHOD},
        formats.AVIF.name: {
            "speed": AVIF_SPEED,
            "subsampling": AVIF_SUBSAMPLING,
            "max_threads": max(1, threads),
        },
    }
    quality_option = {"quality": quality} if output.takes_quality else {}
    return {**quality_option, **options[output.name]}


def _bare(image: Image.Image, output: ImageFormat, quality: int | None) -> Image.Image:
    """Check that ``image`` can be encoded as ``output``; a copy without ``info`` if it has
    any, since Pillow's savers fall back to it for ICC, comments, transparency, timing..."""
    fmt = output.name
    if image.mode not in ENCODABLE_MODES[fmt]:
        raise ValueError(f"cannot encode mode {image.mode} as {fmt}")
    if quality is None and output.takes_quality:
        raise ValueError(f"{fmt} needs a quality")
    if max(image.size) > MAX_SIDE[fmt]:
        raise TooManyPixels(f"{fmt} output is at most {MAX_SIDE[fmt]} pixels a side")
    if image.info:
        image = image.copy()
        image.info.clear()
    return image


def _formats(data: bytes) -> tuple[str, ...]:
    """The plugins to try. pillow-heif (4-5 MB of resident libraries) is loaded only for ISO
    media files that are not AVIF, the only ones it can claim."""
    maybe_heif = formats.ISO_BMFF.matches(data) and not formats.AVIF.matches(data)
    if maybe_heif and _heif_registered():
        return (*DECODABLE_FORMATS, HEIF_FORMAT)
    return DECODABLE_FORMATS


@cache
def _heif_registered() -> bool:
    """Register pillow-heif's opener once; without the package, HEIC is unsupported."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return True
