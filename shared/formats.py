"""The image formats imgedge knows: one entry per format, and every fact kept about it.

Each entry says once what the rest of the code asks: the media type of its files, the bytes
its files open with, the file extensions that name it, the names Pillow gives it, whether
it holds transparency or an animation, and, for the formats the resizer writes (outputs),
the facts of the URL contract: the ``f=`` spellings, whether a quality setting applies and
its default, whether an animated source keeps its frames. ``f=auto``'s preference and the
fallback when an output is disabled are the two orders below the entries.

Standard library only, as all of the edge's code: Pillow's encoder settings live with the
encoder (``regional_resizer.codecs``), which finds its plugin here by ``pillow``.
"""

from __future__ import annotations

from dataclasses import dataclass

SNIFF_BYTES = 512
"""How much of a file ``identify`` looks at: every signature lies within it."""


@dataclass(frozen=True)
class Signature:
    """Bytes every file of a format holds at fixed offsets: each ``(offset, bytes)`` of
    ``parts`` must be there."""

    parts: tuple[tuple[int, bytes], ...]

    def matches(self, data: bytes) -> bool:
        return all(data[offset : offset + len(magic)] == magic for offset, magic in self.parts)


def _starts(magic: bytes) -> Signature:
    return Signature(((0, magic),))


ISO_BMFF = Signature(((4, b"ftyp"),))
"""The ISO base media file format's first box, ``ftyp``, which AVIF and HEIF files open
with; its major brand (4 bytes) follows and says which of them a file is."""


def _brand(brand: bytes) -> Signature:
    return Signature((*ISO_BMFF.parts, (8, brand)))


@dataclass(frozen=True, kw_only=True)
class ImageFormat:
    """One image format. Facts marked "outputs" are unset (False, None, empty) on a
    format the resizer does not write."""

    name: str
    """imgedge's name, lower case: for an output, the ``f=`` value and the canonical key's
    format segment."""
    media_type: str
    """The Content-Type of its files; for an output, also the type ``Accept`` must name for
    ``f=auto`` to pick a format of ``AUTO_PREFERENCE``."""
    extensions: tuple[str, ...]
    """File name endings (lower case, with the dot) that name it in a source key."""
    signatures: tuple[Signature, ...] = ()
    """Its magic bytes: a file is of this format if any one matches."""
    marker: bytes | None = None
    """A text format's tag (lower case), found in a file's first ``SNIFF_BYTES`` bytes
    whatever its case."""
    pillow: tuple[str, ...] = ()
    """The names Pillow reports for it (``Image.format``), its own plugin's first; empty
    if Pillow does not read it."""
    alpha: bool
    """It can hold transparency."""
    animates: bool
    """imgedge reads its frames as an animation (else only the first frame, page or
    primary image)."""
    kept_as: str
    """The output a source in this format gets when ``f=`` names none: its own format
    where imgedge writes it."""
    output: bool = False
    """The resizer writes it: an ``f=`` value."""
    default_quality: int | None = None
    """Outputs: the quality a configuration uses unless it names another; None where no
    quality setting applies (lossless)."""
    aliases: tuple[str, ...] = ()
    """Outputs: other ``f=`` spellings of it."""
    keeps_animation: bool = False
    """Outputs: an animated source keeps every frame (``regional_resizer.animation``)."""

    @property
    def takes_quality(self) -> bool:
        return self.default_quality is not None

    def matches(self, data: bytes) -> bool:
        """Whether ``data`` (a file's first bytes or all of it) is of this format."""
        head = data[:SNIFF_BYTES]
        if any(signature.matches(head) for signature in self.signatures):
            return True
        return self.marker is not None and self.marker in head.lower()


JPEG = ImageFormat(
    name="jpeg",
    media_type="image/jpeg",
    extensions=(".jpg", ".jpeg"),
    signatures=(_starts(b"\xff\xd8\xff"),),
    pillow=("JPEG", "MPO"),  # MPO: a JPEG with more images after the first
    alpha=False,
    animates=False,
    kept_as="jpeg",
    output=True,
    default_quality=80,
    aliases=("jpg",),
)
PNG = ImageFormat(
    name="png",
    media_type="image/png",
    extensions=(".png", ".apng"),
    signatures=(_starts(b"\x89PNG\r\n\x1a\n"),),
    pillow=("PNG",),
    alpha=True,
    animates=True,  # APNG
    kept_as="png",
    output=True,
    keeps_animation=True,  # written as APNG
)
GIF = ImageFormat(
    name="gif",
    media_type="image/gif",
    extensions=(".gif",),
    signatures=(_starts(b"GIF87a"), _starts(b"GIF89a")),
    pillow=("GIF",),
    alpha=True,
    animates=True,
    kept_as="png",
)
WEBP = ImageFormat(
    name="webp",
    media_type="image/webp",
    extensions=(".webp",),
    signatures=(Signature(((0, b"RIFF"), (8, b"WEBP"))),),
    pillow=("WEBP",),
    alpha=True,
    animates=True,
    kept_as="webp",
    output=True,
    default_quality=80,
    keeps_animation=True,
)
AVIF = ImageFormat(
    name="avif",
    media_type="image/avif",
    extensions=(".avif", ".avifs"),  # an image sequence: still or animated
    signatures=(_brand(b"avif"), _brand(b"avis")),
    pillow=("AVIF",),
    alpha=True,
    animates=True,
    kept_as="avif",
    output=True,
    default_quality=50,
    keeps_animation=False,  # too slow to encode on a request: a still (animation.py)
)
HEIC = ImageFormat(
    name="heic",
    media_type="image/heic",
    extensions=(".heic",),
    signatures=(_brand(b"heic"), _brand(b"heix")),
    pillow=("HEIF",),  # through pillow-heif
    alpha=True,
    animates=False,
    kept_as="jpeg",
)
HEIF = ImageFormat(
    name="heif",
    media_type="image/heif",
    extensions=(".heif",),
    signatures=(_brand(b"mif1"), _brand(b"msf1")),
    pillow=("HEIF",),  # through pillow-heif
    alpha=True,
    animates=False,
    kept_as="jpeg",
)
TIFF = ImageFormat(
    name="tiff",
    media_type="image/tiff",
    extensions=(".tif", ".tiff"),
    signatures=(_starts(b"II*\x00"), _starts(b"MM\x00*")),
    pillow=("TIFF",),
    alpha=True,
    animates=False,  # pages, not frames
    kept_as="jpeg",
)
BMP = ImageFormat(
    name="bmp",
    media_type="image/bmp",
    extensions=(".bmp",),
    signatures=(_starts(b"BM"),),
    pillow=("BMP",),
    alpha=True,
    animates=False,
    kept_as="jpeg",
)
SVG = ImageFormat(
    name="svg",
    media_type="image/svg+xml",
    extensions=(".svg",),
    marker=b"<svg",
    alpha=True,
    animates=False,
    kept_as="jpeg",
)

FORMATS = (JPEG, PNG, GIF, WEBP, AVIF, HEIC, HEIF, TIFF, BMP, SVG)
"""Every format imgedge knows, in the order ``identify`` tries them."""
OUTPUTS = tuple(fmt for fmt in FORMATS if fmt.output)
OUTPUT_FORMATS = tuple(fmt.name for fmt in OUTPUTS)
"""The names of the formats the resizer writes; a configuration may enable a subset."""
LOSSY_FORMATS = tuple(fmt.name for fmt in OUTPUTS if fmt.takes_quality)

METADATA_MEDIA_TYPE = "application/json"
"""The Content-Type of ``f=json``, the description of an original (not an image)."""

AUTO_PREFERENCE = (AVIF, WEBP)
"""``f=auto``'s choices, best first: each is taken if the viewer's ``Accept`` names its
media type and the configuration enables it. Otherwise ``f=auto`` gives the source's
``kept_as`` if every viewer decodes that (it is none of these), else ``DEFAULT_OUTPUT``."""
DEFAULT_OUTPUT = JPEG
"""The output of a source whose name says no format (or one of no ``kept_as`` of its own)."""
FALLBACKS = (JPEG, WEBP, PNG, AVIF)
"""When the output a request would get is not enabled: the first of these that is."""

_BY_NAME = {fmt.name: fmt for fmt in FORMATS}
_OUTPUT_SPELLINGS = {spelling: fmt for fmt in OUTPUTS for spelling in (fmt.name, *fmt.aliases)}
_BY_EXTENSION = {extension: fmt for fmt in FORMATS for extension in fmt.extensions}
_BY_MEDIA_TYPE = {fmt.media_type: fmt for fmt in FORMATS}
# Reversed: of two formats Pillow calls alike (HEIC and HEIF), the first is found.
_BY_PILLOW = {pillow: fmt for fmt in reversed(FORMATS) for pillow in fmt.pillow}


def by_name(name: str) -> ImageFormat | None:
    """The format imgedge names ``name`` (exactly: "jpeg", not "jpg")."""
    return _BY_NAME.get(name)


def output(name: str) -> ImageFormat:
    """The output format named ``name``; ValueError if the resizer writes none so named."""
    fmt = _BY_NAME.get(name)
    if fmt is None or not fmt.output:
        raise ValueError(f"unknown output format {name!r}")
    return fmt


def output_spelled(value: str) -> ImageFormat | None:
    """The output an ``f=`` value (already lower case) names, by its name or an alias."""
    return _OUTPUT_SPELLINGS.get(value)


def from_extension(extension: str) -> ImageFormat | None:
    """The format a file name ending names (".JPG" and ".jpg" alike)."""
    return _BY_EXTENSION.get(extension.lower())


def from_media_type(media_type: str) -> ImageFormat | None:
    """The format of a Content-Type (parameters and case aside)."""
    return _BY_MEDIA_TYPE.get(media_type.split(";", 1)[0].strip().lower())


def from_pillow(name: str) -> ImageFormat | None:
    """The format Pillow calls ``name`` (``Image.format``, any case); for "HEIF", which
    Pillow reports for HEIC and HEIF alike, the first of them."""
    return _BY_PILLOW.get(name.upper())


def identify(data: bytes) -> ImageFormat | None:
    """The format ``data`` (a file's first bytes or all of it) says it is, from its bytes
    alone: the first of ``FORMATS`` that matches; None if none does."""
    return next((fmt for fmt in FORMATS if fmt.matches(data)), None)


def is_image_media_type(media_type: str) -> bool:
    """Whether a Content-Type names an image, known here or not."""
    return media_type.startswith("image/")
