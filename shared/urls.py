"""Viewer URLs both ways: how the edge reads a viewer's query, and the one canonical URL
of an output, for the pages that show images. Stdlib only (the edge imports ``shared``).

    image_url("photos/cat.jpg", s="250x250", f="WEBP", g="centre")
        -> "/photos/cat.jpg?s=256x256&f=webp"
    srcset("photos/cat.jpg", [300, 600], f="auto")
        -> "/photos/cat.jpg?s=320x&f=auto 320w, /photos/cat.jpg?s=640x&f=auto 640w"

``image_url(key, **params)`` is the URL the edge maps to the same output as
``/KEY?PARAMS``: it reads the parameters with the edge's own rules (``read_query`` and
``read``, below) into the canonical request, then writes that request back as a query,
so that every spelling of one output gives byte-identical URLs (what a cache keyed on the
query string needs). The rules of the canonical query:

- the parameters in one order, ``CANONICAL_ORDER`` (the key's: s, f, fit, crop, g, fp, r,
  flip, blur, sharpen, bg, wm, q), then ``sig`` last; values as the key spells them,
  lower case, never percent-encoded (every value is drawn from [a-z0-9.,_x-]);
- ``s`` snapped to the allow-list (exact if signed), ``dpr`` folded into it; no ``s`` for
  the source's size;
- ``f`` always, even when the viewer named none (the source's own format is then named),
  so that ``s=256x`` and ``s=256x&f=jpeg`` on a jpeg are one URL; ``f=auto`` stays
  ``f=auto`` (the edge picks the format per viewer, from Accept);
- ``p`` expanded to its preset's query; values that change nothing dropped (a default
  fit, the centre, a gravity without a cover crop, a zero blur, jpeg's white bg, the
  format's default quality); ``r`` and ``flip`` as the key's single turn: ``r`` then
  at most ``flip=h``;
- with ``f=auto`` the values that depend on the format chosen are kept as read, not
  dropped: ``q`` snapped to the allow-list (the default quality differs per format: the
  edge drops it for each viewer where it is that format's default) and ``bg`` (white
  changes nothing for jpeg, but does for webp and avif);
- an original (no transform) has no query; an original whose own key reads as a
  canonical key is reachable by its canonical URI only (``/original/KEY``).

The path is the source key percent-encoded as ``shared.contract.uri_of`` encodes it, so
CloudFront and S3 see the same bytes. A bad parameter raises ``InvalidRequest`` with the
message the edge gives. ``sign=KEYID`` signs the exact request (sizes not snapped, crop and
any bg allowed) with ``config.signing_keys[KEYID]``: ``sig`` covers its canonical key
(``shared.signing``), so a signed URL names one format, never ``f=auto``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import parse_qsl, quote

from shared import formats, transforms
from shared.config import Config, load_config
from shared.contract import DEFAULT_FIT, FITS, ImageRequest, snap_quality, uri_of
from shared.errors import InvalidRequest
from shared.signing import SIGNATURE_PARAM, signature

MODIFIERS = ("g", "fp", "dpr")  # change how a size is met; alone they ask for nothing
TRANSFORM_PARAMS = (
    "s", "f", "q", "fit", "p", "r", "flip", "blur", "sharpen", "bg", "crop", "wm", *MODIFIERS
)  # fmt: skip
READ_PARAMS = (*TRANSFORM_PARAMS, SIGNATURE_PARAM)
AUTO = "auto"
MAX_QUERY_FIELDS = 32

CANONICAL_ORDER = (
    "s", "f", "fit", "crop", "g", "fp", "r", "flip", "blur", "sharpen", "bg", "wm", "q"
)  # fmt: skip
"""The parameters of a canonical query, in the canonical key's order; ``sig`` follows."""

ParamValue = str | int | float | None

# --- reading: the edge's leniency ------------------------------------------------------------
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
        _gravity(params.get("g")), _focus(params.get("fp")), _dpr(params.get("dpr"))  # valid
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
        quality=_quality(params.get("q")),
        dpr=_dpr(params.get("dpr")),
        crop=_crop(params.get("crop")),
        gravity=_gravity(params.get("g")),
        focus=_focus(params.get("fp")),
        rotate=_rotation(params.get("r")),
        flip=_choice(params, "flip", transforms.FLIPS) or "",
        blur=_sigma("blur", params.get("blur")),
        sharpen=_sigma("sharpen", params.get("sharpen")),
        background=_colour(params.get("bg")),
        watermark=params.get("wm"),
        config=config,
        signed=signed,
    )


def kept_format(source: str) -> str:
    """The output when the viewer names none: the source's own format where imgedge writes
    it (gif becomes png), by the extension of its name; else the default output."""
    named = formats.from_extension(_extension(source))
    return named.kept_as if named is not None else formats.DEFAULT_OUTPUT.name


def enabled_format(preferred: str, config: Config) -> str:
    """``preferred`` if the configuration enables it, else the first enabled fallback."""
    for fmt in (preferred, *(fallback.name for fallback in formats.FALLBACKS)):
        if fmt in config.formats:
            return fmt
    raise InvalidRequest("no output format enabled")  # unreachable: config validates


def _transform_params(querystring: str) -> dict[str, str]:
    """The parameters imgedge reads, lower-cased; conflicting repeats are refused."""
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
    params: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name, value = raw_name.strip().lower(), raw_value.strip().lower()
        if name not in READ_PARAMS:
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


def _quality(value: str | None) -> int | None:
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


def _colour(value: str | None) -> str | None:
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
    fmt = formats.output_spelled(value)
    if fmt is None:
        raise InvalidRequest(f"f must be one of {', '.join((*formats.OUTPUT_FORMATS, AUTO))}")
    return fmt.name


def _extension(source: str) -> str:
    name = source.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


# --- writing: one URL per output -------------------------------------------------------------


def canonical_query(request: ImageRequest) -> str:
    """The canonical query of a derivative (without "?"); "" for an original."""
    return _joined(_canonical_params(request))


def _canonical_params(request: ImageRequest) -> dict[str, str]:
    if request.is_original:
        return {}
    params: dict[str, str] = {}
    if request.width is not None or request.height is not None:
        params["s"] = f"{request.width or ''}x{request.height or ''}"
    params["f"] = str(request.format)
    if request.fit != DEFAULT_FIT:
        params["fit"] = request.fit
    if request.crop is not None:
        params["crop"] = ",".join(map(str, request.crop))
    if request.gravity is not None:
        params["g"] = request.gravity
    if request.focus is not None:
        params["fp"] = ",".join(map(transforms.decimal, request.focus))
    if request.rotate:
        params["r"] = str(request.rotate)
    if request.mirror:
        params["flip"] = "h"
    if request.blur is not None:
        params["blur"] = transforms.decimal(request.blur)
    if request.sharpen is not None:
        params["sharpen"] = transforms.decimal(request.sharpen)
    if request.background is not None:
        params["bg"] = request.background
    if request.watermark is not None:
        params["wm"] = request.watermark
    if request.quality is not None:
        params["q"] = str(request.quality)
    return params


def _joined(params: Mapping[str, str]) -> str:
    ordered = [name for name in (*CANONICAL_ORDER, SIGNATURE_PARAM) if name in params]
    return "&".join(f"{name}={params[name]}" for name in ordered)


def viewer_path(request: ImageRequest, config: Config) -> str:
    """The canonical path and query (``/photos/cat.jpg?s=256x256&f=webp``) of ``request``,
    which the edge reads back as ``request``."""
    path = uri_of(request.source)
    if request.is_original:
        # A source that reads as a canonical key itself is reachable by its key only.
        as_read = read(request.source, {}, config, signed=False, auto=_no_auto)
        return path if as_read == request else request.uri
    return f"{path}?{canonical_query(request)}"


def _no_auto() -> str:
    raise AssertionError("no f=auto without parameters")  # pragma: no cover


def image_url(
    key: str,
    *,
    base: str = "",
    config: Config | None = None,
    sign: str | None = None,
    **params: ParamValue,
) -> str:
    """The canonical viewer URL of what the edge serves for ``/KEY?PARAMS`` (the module
    docstring has the rules): ``base`` (scheme and host, or "") then the path and query.
    ``params`` are viewer parameters named and spelled as in a URL (``s="256x256"``,
    ``dpr=2``; None: absent); ``config``: the one the edge runs (default:
    ``load_config()``); ``sign``: a key id of ``config.signing_keys``."""
    return _url(key, base, _config(config), sign, params)[0]


def srcset(
    key: str,
    widths: Iterable[int],
    *,
    base: str = "",
    config: Config | None = None,
    **params: ParamValue,
) -> str:
    """A ``srcset`` attribute value: ``image_url(key, s=f"{w}x", **params)`` for each of
    ``widths``, each followed by the width the edge snaps it to (dpr included); one entry
    per distinct output, narrowest first."""
    if "s" in params:
        raise TypeError("srcset() takes the widths, not s")
    config = _config(config)
    entries: dict[int, str] = {}
    for width in widths:
        url, request = _url(key, base, config, None, {**params, "s": f"{width}x"})
        entries.setdefault(int(request.width or 0), url)
    return ", ".join(f"{url} {width}w" for width, url in sorted(entries.items()))


def _config(config: Config | None) -> Config:
    return load_config() if config is None else config


def _url(
    key: str, base: str, config: Config, sign: str | None, given: Mapping[str, ParamValue]
) -> tuple[str, ImageRequest]:
    """The canonical URL for ``given`` viewer parameters, and the request it names (for
    f=auto, as for a viewer that accepts none of avif and webp)."""
    pairs: list[str] = []
    for name, value in given.items():
        if name not in TRANSFORM_PARAMS:
            raise TypeError(f"{name!r} is not a viewer parameter ({', '.join(TRANSFORM_PARAMS)})")
        if value is not None:
            pairs.append(f"{name}={quote(str(value), safe='')}")
    params, _ = read_query("&".join(pairs), config)
    auto = params.get("f") == AUTO
    request = read(key, params, config, signed=sign is not None, auto=lambda: config.formats[0])
    secret = None
    if sign is not None:
        secret = config.signing_keys.get(sign)
        if secret is None:
            known = ", ".join(sorted(config.signing_keys)) or "none configured"
            raise LookupError(f"no signing key {sign!r} (known: {known})")
        if auto:
            raise InvalidRequest("sig covers one format: sign a URL with f other than auto")
    if request.is_original:
        return base.rstrip("/") + viewer_path(request, config), request
    written = _canonical_params(request)
    if auto:
        written["f"] = AUTO
        written.pop("q", None)
        written.pop("bg", None)
        quality, background = _quality(params.get("q")), _colour(params.get("bg"))
        if quality is not None:
            written["q"] = str(snap_quality(quality, config))
        if background is not None:
            written["bg"] = background
    if sign is not None and secret is not None:
        written[SIGNATURE_PARAM] = signature(request.key, sign, secret)
    return f"{base.rstrip('/')}{uri_of(request.source)}?{_joined(written)}", request
