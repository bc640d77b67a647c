"""The URL contract: one frozen value per distinct output, and its one canonical key.

The canonical key is at once the CloudFront cache key (the edge rewrites the URI to it),
the derivative's S3 key, and what the regional resizer parses (again, never trusting it):

    key       = "original/" source                  the original, byte for byte
              | geometry "/" format "/" source      a derivative
    geometry  = size [ "-" fit ] [ "-crop" X "," Y "," W "," H ]
                [ "-g" gravity | "-fp" X "," Y ] [ "-r" angle ] [ "-fliph" ]
                [ "-blur" sigma ] [ "-sharpen" sigma ] [ "-bg" RRGGBB ] [ "-wm" name ]
                [ "-q" quality ]
    size      = W "x" H | W "x" | "x" H | "full"    (no leading zeros; full = source size)
    fit       = "contain" | "inside"                only with both sides; cover is the default
    crop      = pixels of the upright original      signed URLs only
    gravity   = smart                               only for a cover crop
    X "," Y   = fractions on the focal point grid   only for a cover crop; a compass point
                                                    is one on the edge (g=n: fp0.5,0)
    angle     = 90 | 180 | 270                      clockwise; "-fliph" mirrors after it
    sigma     = a value of the allow-list           blur_sigmas, sharpen_sigmas
    quality   = 1..100                              only for lossy formats, only if not the
                                                    configured default for that format

    256x256/webp/sample.png             s=256x256&f=webp
    640x-q60/jpeg/photos/cat.jpg        s=640x&f=jpeg&q=60
    256x256-contain/png/logo.png        s=256x256&f=png&fit=contain
    full/avif/photos/cat.jpg            f=avif
    256x256-gsmart/webp/cat.jpg         s=256x256&f=webp&g=smart
    512x-r90-fliph/jpeg/cat.jpg         s=256x&dpr=2&f=jpeg&r=270&flip=v
    original/photos/cat.jpg             no transform parameter

The parser is strict: only the canonical spelling parses, so a key can never name an
output that another key also names. Leniency (aliases, order, case, ``Accept``) lives in
the edge router's ``normalize``; snapping to the allow-lists lives in ``ImageRequest.canonical``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from urllib.parse import quote

from shared import formats, transforms
from shared.config import MAX_DIMENSION, Config
from shared.errors import InvalidRequest

METADATA = "json"
"""``f=json``: not an image but the original's metadata and placeholder (its size, format,
whether it animates, its dominant colour, a tiny blurred image); it takes no transform."""
FITS = ("cover", "contain", "inside")
DEFAULT_FIT = "cover"
ORIGINAL_PREFIX = "original"
FULL_SIZE = "full"

MAX_KEY_BYTES = 1024  # S3's limit on an object key
MAX_SOURCE_KEY_BYTES = 960  # leaves room for the geometry and format segments
OVERLAY_MARKER_BYTES = 50
"""What a watermarked derivative's marker under its overlay adds to the key
(``shared.layout.overlay_marker_key``): such a key leaves that much room in S3's limit."""

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
    r"(?:-crop(?P<crop>(?:0|[1-9][0-9]{0,4}),(?:0|[1-9][0-9]{0,4}),[1-9][0-9]{0,4},[1-9][0-9]{0,4}))?"
    r"(?:-g(?P<g>smart)|-fp(?P<fp>[01](?:\.[0-9]{1,4})?,[01](?:\.[0-9]{1,4})?))?"
    r"(?:-r(?P<r>90|180|270))?"
    r"(?P<mirror>-fliph)?"
    r"(?:-blur(?P<blur>[0-9]{1,3}(?:\.[0-9]{1,2})?))?"
    r"(?:-sharpen(?P<sharpen>[0-9]{1,3}(?:\.[0-9]{1,2})?))?"
    r"(?:-bg(?P<bg>[0-9a-f]{6}))?"
    r"(?:-wm(?P<wm>[a-z0-9_]{1,32}))?"
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


Crop = tuple[int, int, int, int]  # left, top, width, height in upright source pixels
Point = tuple[float, float]  # x, y as fractions of the upright source (or of its crop)


@dataclass(frozen=True)
class ImageRequest:
    """What a viewer asked for, in canonical form. ``format is None`` means the original.

    Beyond size, format, fit and quality (``shared.transforms`` has the vocabulary):
    ``crop`` a region of the upright original, cut first; ``gravity`` or ``focus`` where a
    cover crop sits (None and None: centred, or on the focal point stored with the
    original); ``rotate`` clockwise and ``mirror`` left-right after it; ``blur`` and
    ``sharpen`` sigmas; ``background`` for padding and flattening; ``watermark`` a name."""

    source: str
    format: str | None = None
    width: int | None = None
    height: int | None = None
    fit: str = DEFAULT_FIT
    quality: int | None = None  # None: the configured default of the format
    crop: Crop | None = None
    gravity: str | None = None
    focus: Point | None = None
    rotate: int = 0
    mirror: bool = False
    blur: float | None = None
    sharpen: float | None = None
    background: str | None = None
    watermark: str | None = None

    def __post_init__(self) -> None:
        check_source_key(self.source)
        if self.format is None:
            if any(getattr(self, f.name) != f.default for f in fields(self)[1:]):
                raise InvalidRequest("the original takes no transform")
            return
        if self.format == METADATA:
            if any(getattr(self, f.name) != f.default for f in fields(self)[2:]):
                raise InvalidRequest("f=json describes the original: it takes no transform")
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
        self._check_transforms()
        limit = MAX_KEY_BYTES - (OVERLAY_MARKER_BYTES if self.watermark else 0)
        if len(self.key.encode("utf-8", "surrogatepass")) > limit:
            raise InvalidRequest(f"key longer than {limit} bytes: a shorter path")

    def _check_transforms(self) -> None:
        if self.crop is not None:
            left, top, width, height = self.crop
            if (
                min(left, top) < 0
                or min(width, height) < 1
                or (max(left + width, top + height) > transforms.MAX_CROP_SIDE)
            ):
                raise InvalidRequest(f"crop must lie within {transforms.MAX_CROP_SIDE} pixels")
        if (self.gravity, self.focus) != (None, None) and not self.is_cover_crop:
            raise InvalidRequest("g and fp apply only to a cover crop (both sides, fit=cover)")
        if self.gravity is not None and self.focus is not None:
            raise InvalidRequest("fp and g exclude each other")
        if self.gravity not in (None, transforms.SMART):  # a compass point is a focus
            raise InvalidRequest(f"gravity {self.gravity!r} is not canonical")
        if self.focus is not None and not all(0 <= v <= 1 for v in self.focus):
            raise InvalidRequest("fp must lie in 0..1 on both axes")
        if self.rotate not in transforms.ROTATIONS:
            raise InvalidRequest("r must be 0, 90, 180 or 270")
        for name, sigma in (("blur", self.blur), ("sharpen", self.sharpen)):
            if sigma is not None and not 0 < sigma <= transforms.MAX_EFFECT_SIGMA:
                raise InvalidRequest(f"{name} must lie in 0..{transforms.MAX_EFFECT_SIGMA:g}")
        if self.background is not None and not transforms.COLOUR.fullmatch(self.background):
            raise InvalidRequest("bg must be six hex digits")
        if self.watermark is not None and not transforms.WATERMARK_NAME.fullmatch(self.watermark):
            raise InvalidRequest("wm must name a watermark")

    @property
    def is_original(self) -> bool:
        return self.format is None

    @property
    def is_cover_crop(self) -> bool:
        """Whether the output is cut to an exact WxH: where gravity and focus apply."""
        return None not in (self.width, self.height) and self.fit == DEFAULT_FIT

    @property
    def quarter_turned(self) -> bool:
        """Whether ``rotate`` swaps the output's sides."""
        return self.rotate in (90, 270)

    @property
    def key(self) -> str:
        """The canonical key: S3 derivative key and CloudFront cache key (without '/')."""
        if self.format is None:
            return f"{ORIGINAL_PREFIX}/{self.source}"
        return f"{self.geometry}/{self.format}/{self.source}"

    @property
    def geometry(self) -> str:
        """The key's first segment: the size, then each option not at its default, in the
        grammar's order."""
        if self.width is None and self.height is None:
            parts = [FULL_SIZE]
        else:
            parts = [f"{self.width or ''}x{self.height or ''}"]
        if self.fit != DEFAULT_FIT:
            parts.append(self.fit)
        if self.crop is not None:
            parts.append("crop" + ",".join(map(str, self.crop)))
        if self.gravity is not None:
            parts.append(f"g{self.gravity}")
        if self.focus is not None:
            parts.append("fp" + ",".join(map(transforms.decimal, self.focus)))
        if self.rotate:
            parts.append(f"r{self.rotate}")
        if self.mirror:
            parts.append("fliph")
        if self.blur is not None:
            parts.append(f"blur{transforms.decimal(self.blur)}")
        if self.sharpen is not None:
            parts.append(f"sharpen{transforms.decimal(self.sharpen)}")
        if self.background is not None:
            parts.append(f"bg{self.background}")
        if self.watermark is not None:
            parts.append(f"wm{self.watermark}")
        if self.quality is not None:
            parts.append(f"q{self.quality}")
        return "-".join(parts)

    @property
    def uri(self) -> str:
        """The canonical URI path, percent-encoded one way only."""
        return uri_of(self.key)

    @classmethod
    def parse(cls, key: str, config: Config, *, signed: bool = False) -> ImageRequest:
        """Parse a canonical key (decoded, no leading '/'); anything else is InvalidRequest.

        ``signed``: what only a signed URL makes is canonical too (sizes off the allow-list
        within MAX_DIMENSION, crops, any bg colour). The regional resizer parses so; the
        edge never does, so that a viewer reaches such a key only through a valid
        signature."""
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
        if fmt not in (*config.formats, METADATA):
            raise InvalidRequest(f"format {fmt!r} is not enabled")
        request = cls(
            source=source,
            format=fmt,
            width=_int(match["w"]),
            height=_int(match["h"]),
            fit=match["fit"] or DEFAULT_FIT,
            quality=_int(match["q"]),
            crop=_ints(match["crop"]),  # type: ignore[arg-type]  # four, by the pattern
            gravity=match["g"],
            focus=_floats(match["fp"]),  # type: ignore[arg-type]  # two, by the pattern
            rotate=_int(match["r"]) or 0,
            mirror=match["mirror"] is not None,
            blur=_float(match["blur"]),
            sharpen=_float(match["sharpen"]),
            background=match["bg"],
            watermark=match["wm"],
        )
        canonical = cls.canonical(
            source, fmt=fmt, width=request.width, height=request.height, fit=request.fit,
            quality=request.quality, crop=request.crop, gravity=request.gravity,
            focus=request.focus, rotate=request.rotate, flip="h" if request.mirror else "",
            blur=request.blur, sharpen=request.sharpen, background=request.background,
            watermark=request.watermark, config=config, signed=signed,
        )  # fmt: skip
        if canonical.key != key:  # one spelling per output: "01" or "0.50" is not it
            raise InvalidRequest("not a canonical key")
        return canonical

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
        dpr: float | None = None,
        crop: Crop | None = None,
        gravity: str | None = None,
        focus: Point | None = None,
        rotate: int = 0,
        flip: str = "",
        blur: float | None = None,
        sharpen: float | None = None,
        background: str | None = None,
        watermark: str | None = None,
        config: Config,
        signed: bool = False,
    ) -> ImageRequest:
        """The one canonical request for these (already parsed) values.

        Sizes are multiplied by ``dpr``, then snap up to the allow-list (the largest allowed
        size caps them) unless ``signed``; quality, blur and sharpen snap to the nearest
        allowed value, a focus to the focal point grid; values that change nothing are
        dropped (a gravity or focus without a cover crop, the centre, jpeg's white bg, a
        zero blur); crops and bg colours off the allow-list need ``signed``."""
        if fmt is None:
            return cls(source=source)
        if fmt == METADATA:  # one description per original, whatever else was asked
            return cls(source=source, format=METADATA)
        if fmt not in config.formats:
            raise InvalidRequest(f"format {fmt!r} is not enabled")
        if dpr is not None:
            width, height = (_times_dpr(side, dpr, signed) for side in (width, height))
        snap = check_size if signed else snap_size
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
        if crop is not None and not signed:
            raise InvalidRequest("crop needs a signed URL (sig=)")
        if None in (width, height) or fit != DEFAULT_FIT:
            gravity = focus = None  # no cover crop: nothing to place
        if gravity == transforms.CENTRE:
            gravity = None
        elif gravity in transforms.COMPASS:  # a compass point: a focus on the region's edge
            focus, gravity = focus or transforms.COMPASS[gravity], None
        if focus is not None:
            if not all(0 <= v <= 1 for v in focus):
                raise InvalidRequest("fp must lie in 0..1 on both axes")
            grid = config.focal_point_grid
            focus = (transforms.snap_fraction(focus[0], grid),
                     transforms.snap_fraction(focus[1], grid))  # fmt: skip
            gravity = None  # fp overrides g
        try:
            rotate, mirror = transforms.turn(rotate, flip)
        except ValueError:
            raise InvalidRequest("r must be 0, 90, 180 or 270; flip h, v or hv") from None
        blur = _effect("blur", blur, config.blur_sigmas)
        sharpen = _effect("sharpen", sharpen, config.sharpen_sigmas)
        if background is not None:
            if not signed and background not in config.background_colours:
                allowed = ", ".join(config.background_colours)
                raise InvalidRequest(
                    f"bg must be one of {allowed} (any colour with a signed URL)"
                    if allowed
                    else "bg needs a signed URL here"
                )
            if background == "ffffff" and not formats.output(fmt).alpha:
                background = None  # jpeg flattens and pads on white anyway
        if watermark is not None and watermark not in config.watermarks:
            known = ", ".join(sorted(config.watermarks)) or "none configured"
            raise InvalidRequest(f"unknown watermark (known: {known})")
        return cls(
            source=source, format=fmt, width=width, height=height, fit=fit, quality=quality,
            crop=crop, gravity=gravity, focus=focus, rotate=rotate, mirror=mirror, blur=blur,
            sharpen=sharpen, background=background, watermark=watermark,
        )  # fmt: skip


def _times_dpr(side: int | None, dpr: float, signed: bool) -> int | None:
    """``side`` times a device pixel ratio of 1..4 in tenths, rounded half up; unsigned,
    capped at MAX_DIMENSION (the allow-list caps it lower anyway)."""
    tenths = round(dpr * 10)
    if not 10 <= tenths <= transforms.MAX_DPR_TENTHS or abs(dpr * 10 - tenths) > 1e-9:
        raise InvalidRequest("dpr must lie in 1..4, with at most one decimal")
    if side is None:
        return None
    product = (side * tenths + 5) // 10
    if product > MAX_DIMENSION:
        if signed:
            raise InvalidRequest(f"s times dpr must stay within {MAX_DIMENSION}")
        return MAX_DIMENSION
    return product


def _effect(name: str, sigma: float | None, allowed: tuple[float, ...]) -> float | None:
    """A blur or sharpen sigma snapped to its allow-list; 0 (or none) is no effect."""
    if sigma is None or sigma == 0:
        return None
    if not allowed:
        raise InvalidRequest(f"{name} is not enabled here")
    if not 0 < sigma <= transforms.MAX_EFFECT_SIGMA:
        raise InvalidRequest(f"{name} must lie in 0..{transforms.MAX_EFFECT_SIGMA:g}")
    return float(transforms.snap_to_list(sigma, allowed))


def _int(text: str | None) -> int | None:
    return int(text) if text is not None else None


def _float(text: str | None) -> float | None:
    return float(text) if text is not None else None


def _ints(text: str | None) -> tuple[int, ...] | None:
    return tuple(int(v) for v in text.split(",")) if text is not None else None


def _floats(text: str | None) -> tuple[float, ...] | None:
    return tuple(float(v) for v in text.split(",")) if text is not None else None


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
