"""The URL contract: one frozen value per distinct output, and its one canonical key.

The canonical key is at once the CloudFront cache key (the edge rewrites the URI to it),
the derivative's S3 key, and what the regional resizer parses (again, never trusting it):

    key       = "original/" source                  the original, byte for byte
              | geometry "/" format "/" source      a derivative
    geometry  = size [ "-" fit ] [ "-q" quality ]
    size      = W "x" H | W "x" | "x" H | "full"    (no leading zeros; full = source size)
    fit       = "contain" | "inside"                only with both sides; cover is the default
    quality   = 1..100                              only for lossy formats, only if not the
                                                    configured default for that format

    256x256/webp/sample.png             s=256x256&f=webp
    640x-q60/jpeg/photos/cat.jpg        s=640x&f=jpeg&q=60
    256x256-contain/png/logo.png        s=256x256&f=png&fit=contain
    full/avif/photos/cat.jpg            f=avif
    original/photos/cat.jpg             no transform parameter

The parser is strict: only the canonical spelling parses, so a key can never name an
output that another key also names. Leniency (aliases, order, case, ``Accept``) lives in
the edge router's ``normalize``; snapping to the allow-lists lives in ``ImageRequest.canonical``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from shared import formats
from shared.config import MAX_DIMENSION, Config
from shared.errors import InvalidRequest

FITS = ("cover", "contain", "inside")
DEFAULT_FIT = "cover"
ORIGINAL_PREFIX = "original"
FULL_SIZE = "full"

MAX_KEY_BYTES = 1024  # S3's limit on an object key
MAX_SOURCE_KEY_BYTES = 960  # leaves room for the geometry and format segments

# A canonical URI is at once the CloudFront cache key, the path CloudFront asks S3 for, and
# the purge's invalidation path. CloudFront matches an invalidation path only if it escapes
# the non-ASCII characters and RFC 1738's unsafe ones (space " # % < > [ \ ] ^ ` { | } ~ and
# the controls) and nothing else ("What you need to know when invalidating paths"). Beyond
# those, three characters are escaped: "?" (it would start a query string), "*" (the
# wildcard of an invalidation path) and "+" (S3 reads a "+" in a path as a space).
# docs/derivatives.md, "Invalidation paths", says what that means for a purge.
_URI_SAFE = "/!$&'(),;=:@"  # with quote's own letters, digits and "-._" (and "~", below)

_GEOMETRY = re.compile(
    r"(?:(?P<full>full)|(?P<w>[1-9][0-9]{0,4})?x(?P<h>[1-9][0-9]{0,4})?)"
    r"(?:-(?P<fit>contain|inside))?"
    r"(?:-q(?P<q>[1-9][0-9]{0,2}))?"
)


def uri_of(key: str) -> str:
    """A canonical key's URI path: percent-encoded one way only (UTF-8, upper-case hex)."""
    return "/" + quote(key, safe=_URI_SAFE).replace("~", "%7E")


def check_source_key(source: str) -> None:
    """Refuse keys that are not plain, relative S3 object paths."""
    if not source:
        raise InvalidRequest("empty image path")
    try:
        size = len(source.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidRequest("image path is not valid UTF-8") from None
    if size > MAX_SOURCE_KEY_BYTES:
        raise InvalidRequest(f"image path longer than {MAX_SOURCE_KEY_BYTES} bytes")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in source):
        raise InvalidRequest("control character in image path")
    if "\\" in source:
        raise InvalidRequest("backslash in image path")
    for segment in source.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidRequest("empty, '.' or '..' segment in image path")


@dataclass(frozen=True)
class ImageRequest:
    """What a viewer asked for, in canonical form. ``format is None`` means the original."""

    source: str
    format: str | None = None
    width: int | None = None
    height: int | None = None
    fit: str = DEFAULT_FIT
    quality: int | None = None  # None: the configured default of the format

    def __post_init__(self) -> None:
        check_source_key(self.source)
        if self.format is None:
            if (self.width, self.height, self.quality) != (None, None, None) or (
                self.fit != DEFAULT_FIT
            ):
                raise InvalidRequest("the original takes no transform")
            return
        if self.format not in formats.OUTPUT_FORMATS:
            raise InvalidRequest(f"unknown format {self.format!r}")
        for side in (self.width, self.height):
            if side is not None and not 1 <= side <= MAX_DIMENSION:
                raise InvalidRequest(f"size must lie in 1..{MAX_DIMENSION}")
        if self.fit not in FITS:
            raise InvalidRequest(f"unknown fit {self.fit!r}")
        if self.fit != DEFAULT_FIT and (self.width is None or self.height is None):
            raise InvalidRequest("fit applies only when both width and height are given")
        if self.quality is not None:
            if not formats.output(self.format).takes_quality:
                raise InvalidRequest(f"{self.format} takes no quality")
            if not 1 <= self.quality <= 100:
                raise InvalidRequest("quality must lie in 1..100")

    @property
    def is_original(self) -> bool:
        return self.format is None

    @property
    def key(self) -> str:
        """The canonical key: S3 derivative key and CloudFront cache key (without '/')."""
        if self.format is None:
            return f"{ORIGINAL_PREFIX}/{self.source}"
        if self.width is None and self.height is None:
            geometry = FULL_SIZE
        else:
            geometry = f"{self.width or ''}x{self.height or ''}"
        if self.fit != DEFAULT_FIT:
            geometry += f"-{self.fit}"
        if self.quality is not None:
            geometry += f"-q{self.quality}"
        return f"{geometry}/{self.format}/{self.source}"

    @property
    def uri(self) -> str:
        """The canonical URI path, percent-encoded one way only."""
        return uri_of(self.key)

    @classmethod
    def parse(cls, key: str, config: Config, *, any_size: bool = False) -> ImageRequest:
        """Parse a canonical key (decoded, no leading '/'); anything else is InvalidRequest.

        ``any_size``: sizes off the allow-list (within MAX_DIMENSION) are canonical too, as a
        signed URL makes them. The regional resizer parses so; the edge never does, so that a
        viewer reaches such a key only through a valid signature."""
        if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise InvalidRequest("key too long")
        head, sep, rest = key.partition("/")
        if not sep:
            raise InvalidRequest("not a canonical key")
        if head == ORIGINAL_PREFIX:
            return cls(source=rest)
        fmt, sep, source = rest.partition("/")
        match = _GEOMETRY.fullmatch(head)
        if not sep or match is None or (not match["full"] and not (match["w"] or match["h"])):
            raise InvalidRequest("not a canonical key")
        if fmt not in config.formats:
            raise InvalidRequest(f"format {fmt!r} is not enabled")
        width = int(match["w"]) if match["w"] else None
        height = int(match["h"]) if match["h"] else None
        quality = int(match["q"]) if match["q"] else None
        request = cls(
            source=source,
            format=fmt,
            width=width,
            height=height,
            fit=match["fit"] or DEFAULT_FIT,
            quality=quality,
        )
        if request != cls.canonical(
            source, fmt=fmt, width=width, height=height, fit=request.fit, quality=quality,
            config=config, exact_size=any_size,
        ):  # fmt: skip
            raise InvalidRequest("not a canonical key")
        return request

    @classmethod
    def canonical(
        cls,
        source: str,
        *,
        fmt: str | None,
        width: int | None = None,
        height: int | None = None,
        fit: str = DEFAULT_FIT,
        quality: int | None = None,
        config: Config,
        exact_size: bool = False,
    ) -> ImageRequest:
        """The one canonical request for these (already parsed) values: sizes snap up to the
        allow-list (the largest allowed size caps them) unless ``exact_size`` (a signed
        URL), quality snaps to the nearest allowed value, values that change nothing are
        dropped."""
        if fmt is None:
            return cls(source=source)
        if fmt not in config.formats:
            raise InvalidRequest(f"format {fmt!r} is not enabled")
        snap = check_size if exact_size else snap_size
        width = snap(width, config)
        height = snap(height, config)
        if width is None or height is None:
            fit = DEFAULT_FIT
        if quality is not None:
            if not 1 <= quality <= 100:
                raise InvalidRequest("quality must lie in 1..100")
            quality = snap_quality(quality, config)
            if config.quality_for(fmt) in (None, quality):  # png has no quality at all
                quality = None
        return cls(source=source, format=fmt, width=width, height=height, fit=fit, quality=quality)


def check_size(value: int | None, config: Config) -> int | None:
    """``value`` itself, if within the hard limit."""
    if value is not None and not 1 <= value <= MAX_DIMENSION:
        raise InvalidRequest(f"size must lie in 1..{MAX_DIMENSION}")
    return value


def snap_size(value: int | None, config: Config) -> int | None:
    """The smallest allowed size not below ``value``; the largest allowed size above that."""
    if value is None:
        return None
    if not 1 <= value <= MAX_DIMENSION:
        raise InvalidRequest(f"size must lie in 1..{MAX_DIMENSION}")
    for allowed in config.sizes:
        if allowed >= value:
            return allowed
    return config.max_size


def snap_quality(value: int, config: Config) -> int:
    """The nearest allowed quality; ties go to the higher one."""
    return min(config.qualities, key=lambda allowed: (abs(allowed - value), -allowed))
