"""How the edge reads a viewer's query: its leniency in one place, which the edge's
``normalize`` and the page builders' ``shared.urls`` both use (so a URL helper can never
read a parameter otherwise than the edge). Stdlib only.

Names and values are case-insensitive; unknown parameters are ignored; a parameter
repeated with the same value is fine, with another value it is refused. Each parser reads
one lower-cased, stripped value and raises InvalidRequest with the message a viewer sees.
``read`` calls them in a fixed order (s, f, fit, q, dpr, crop, g, fp, r, flip, blur,
sharpen, bg), so that of several bad values the first is reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from shared import formats, imgix, transforms
from shared.config import Config
from shared.contract import DEFAULT_FIT, FITS, METADATA, ImageRequest
from shared.errors import InvalidRequest
from shared.signing import SIGNATURE_PARAM

MODIFIERS = ("g", "fp", "dpr")  # change how a size is met; alone they ask for nothing
TRANSFORM_PARAMS = (
    "s", "f", "q", "fit", "p", "r", "flip", "blur", "sharpen", "bg", "crop", "wm", *MODIFIERS
)  # fmt: skip
READ_PARAMS = (*TRANSFORM_PARAMS, SIGNATURE_PARAM)
AUTO = "auto"
MAX_QUERY_FIELDS = 32
#
# Each parser reads one lower-cased, stripped value and raises InvalidRequest with the
# message a viewer sees. ``read`` calls them in a fixed order (s, f, fit, q, dpr, crop, g,
# fp, r, flip, blur, sharpen, bg), so that of several bad values the first is reported.

_SIZE = re.compile(r"([0-9]{1,5})?x([0-9]{1,5})?")
_QUALITY = re.compile(r"[0-9]{1,3}")
_FRACTION = re.compile(r"(?:0|1)?(?:\.[0-9]{1,6})?")
_DPR = re.compile(r"[0-9](?:\.[0-9])?")
_SIGMA = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,2})?")
_CROP = re.compile(r"([0-9]{1,5}),([0-9]{1,5}),([0-9]{1,5}),([0-9]{1,5})")


def read_query(querystring: str, config: Config) -> tuple[dict[str, str], str | None]:
    """The transform parameters of a raw query (lower-cased, a preset expanded) and its
    ``sig``, not yet verified."""
    params = _transform_params(querystring)
    signed_by = params.pop(SIGNATURE_PARAM, None)
    if "p" in params:
        params = _preset(params, config)
    return params, signed_by


def read(
    source: str,
    params: Mapping[str, str],
    config: Config,
    *,
    signed: bool,
    auto: Callable[[], str],
) -> ImageRequest:
    """The canonical request ``params`` (``read_query``'s) name on ``source``. ``auto``
    picks the format of ``f=auto``; ``signed``: a signature came with them (the caller
    verifies it against the request's key)."""
    if not set(params) - set(MODIFIERS):
        for check, name in ((_gravity, "g"), (_focus, "fp"), (_dpr, "dpr")):
            check(params.get(name))  # a bad value is a 400 even where it changes nothing
        if signed:
            raise InvalidRequest("sig signs a transform; there is none")
        try:
            return ImageRequest.parse(source, config)  # already canonical
        except InvalidRequest:
            return ImageRequest(source=source)

    width, height = _size(params.get("s"))
    value = params.get("f")
    return ImageRequest.canonical(
        source,
        fmt=auto() if value == AUTO else _format(value, source, config),
        width=width,
        height=height,
        fit=_choice(params, "fit", FITS) or DEFAULT_FIT,
        quality=read_quality(params.get("q")),
        dpr=_dpr(params.get("dpr")),
        crop=_crop(params.get("crop")),
        gravity=_gravity(params.get("g")),
        focus=_focus(params.get("fp")),
        rotate=_rotation(params.get("r")),
        flip=_choice(params, "flip", transforms.FLIPS) or "",
        blur=_sigma("blur", params.get("blur")),
        sharpen=_sigma("sharpen", params.get("sharpen")),
        background=read_colour(params.get("bg")),
        watermark=params.get("wm"),
        config=config,
        signed=signed,
    )


def kept_format(source: str) -> str:
    """The output when the viewer names none: the source's own format where imgedge writes
    it (gif becomes png), by the extension of its name; else the default output."""
    named = formats.from_extension(_extension(source))
    return named.kept_as if named is not None else formats.DEFAULT_OUTPUT.name


def may_animate(source: str) -> bool:
    """Whether the source's extension names a format that can hold an animation."""
    named = formats.from_extension(_extension(source))
    return named is not None and named.animates


def enabled_format(preferred: str, config: Config) -> str:
    """``preferred`` if the configuration enables it, else the first enabled fallback."""
    for fmt in (preferred, *(fallback.name for fallback in formats.FALLBACKS)):
        if fmt in config.formats:
            return fmt
    raise InvalidRequest("no output format enabled")  # unreachable: config validates


def _transform_params(querystring: str) -> dict[str, str]:
    """The parameters imgedge reads, lower-cased; conflicting repeats are refused. A query
    in imgix's dialect is read as imgix means it (``shared.imgix``)."""
    try:
        # Bytes that are not UTF-8 survive as surrogates: refused below in the parameters
        # imgedge reads, ignored like the rest of an unknown parameter.
        pairs = parse_qsl(
            querystring,
            keep_blank_values=True,
            errors="surrogateescape",
            max_num_fields=MAX_QUERY_FIELDS,
        )
    except ValueError:
        raise InvalidRequest("too many query parameters") from None
    named = [(name.strip().lower(), value.strip().lower()) for name, value in pairs]
    if imgix.is_imgix({name for name, _ in named}):
        theirs = _read(named, (*imgix.SUPPORTED, *imgix.UNSUPPORTED, SIGNATURE_PARAM))
        signature = theirs.pop(SIGNATURE_PARAM, None)
        translated = imgix.translate(theirs)
        return translated if signature is None else {**translated, SIGNATURE_PARAM: signature}
    return _read(named, READ_PARAMS)


def _read(named: list[tuple[str, str]], names: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in named:
        if name not in names:
            continue
        if not value.isprintable() or any("\udc80" <= c <= "\udcff" for c in value):
            raise InvalidRequest(f"{name} is not valid UTF-8 text")
        if params.get(name, value) != value:
            raise InvalidRequest(f"conflicting values for {name}")
        params[name] = value
    return params


def _preset(params: dict[str, str], config: Config) -> dict[str, str]:
    if len(params) > 1:
        raise InvalidRequest("p cannot be combined with other transform parameters")
    query = config.presets.get(params["p"])
    if query is None:
        raise InvalidRequest(f"unknown preset (known: {', '.join(sorted(config.presets))})")
    expanded = _transform_params(query)
    if "p" in expanded or not expanded:
        raise InvalidRequest("preset must name a transform other than p")
    return expanded


def _size(value: str | None) -> tuple[int | None, int | None]:
    if value is None:
        return None, None
    match = _SIZE.fullmatch(value)
    if match is None or not (match[1] or match[2]):
        raise InvalidRequest("s must be WxH, Wx or xH with whole numbers")
    width = int(match[1]) if match[1] else None
    height = int(match[2]) if match[2] else None
    if width == 0 or height == 0:
        raise InvalidRequest("s must not be zero")
    return width, height


def read_quality(value: str | None) -> int | None:
    if value is None:
        return None
    if not _QUALITY.fullmatch(value) or not 1 <= int(value) <= 100:
        raise InvalidRequest("q must be a whole number in 1..100")
    return int(value)


def _dpr(value: str | None) -> float | None:
    if value is None:
        return None
    if not _DPR.fullmatch(value) or not 1 <= float(value) <= 4:
        raise InvalidRequest("dpr must lie in 1..4, with at most one decimal")
    return float(value)


def _gravity(value: str | None) -> str | None:
    if value is None:
        return None
    gravity = transforms.GRAVITY_SPELLINGS.get(value)
    if gravity is None:
        raise InvalidRequest(
            "g must be one of center, north, northeast, east, southeast, south, southwest,"
            " west, northwest (or c, n, ne, ...), smart"
        )
    return gravity


def _focus(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    x, sep, y = value.partition(",")
    if not sep or not all(v and v != "." and _FRACTION.fullmatch(v) for v in (x, y)):
        raise InvalidRequest("fp must be X,Y with each a fraction in 0..1, such as 0.3,0.25")
    if not all(0 <= float(v) <= 1 for v in (x, y)):
        raise InvalidRequest("fp must be X,Y with each a fraction in 0..1, such as 0.3,0.25")
    return float(x), float(y)


def _rotation(value: str | None) -> int:
    if value is None:
        return 0
    if value not in ("0", "90", "180", "270"):
        raise InvalidRequest("r must be 0, 90, 180 or 270 (clockwise)")
    return int(value)


def _sigma(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    if not _SIGMA.fullmatch(value) or float(value) > transforms.MAX_EFFECT_SIGMA:
        raise InvalidRequest(f"{name} must be a number in 0..100 (a sigma in pixels)")
    return float(value)


def read_colour(value: str | None) -> str | None:
    if value is None:
        return None
    if not transforms.COLOUR.fullmatch(value):
        raise InvalidRequest("bg must be RRGGBB, six hex digits such as ffffff")
    return value


def _crop(value: str | None) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    match = _CROP.fullmatch(value)
    if match is None:
        raise InvalidRequest("crop must be X,Y,W,H in whole pixels of the upright original")
    left, top, width, height = (int(v) for v in match.groups())
    if width == 0 or height == 0:
        raise InvalidRequest("crop must have a width and height of 1 or more")
    return left, top, width, height


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name)
    if value is not None and value not in allowed:
        raise InvalidRequest(f"{name} must be one of {', '.join(allowed)}")
    return value


def _format(value: str | None, source: str, config: Config) -> str:
    """The format ``f`` names (not auto); the source's kept format without ``f``."""
    if value is None:
        return enabled_format(kept_format(source), config)
    if value == METADATA:
        return METADATA
    fmt = formats.output_spelled(value)
    if fmt is None:
        choices = ", ".join((*formats.OUTPUT_FORMATS, AUTO, METADATA))
        raise InvalidRequest(f"f must be one of {choices}")
    return fmt.name


def _extension(source: str) -> str:
    name = source.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""
