"""The one canonical viewer URL of an output, for the pages that show images. Stdlib only.

    image_url("photos/cat.jpg", s="250x250", f="WEBP", g="centre")
        -> "/photos/cat.jpg?s=256x256&f=webp"
    srcset("photos/cat.jpg", [300, 600], f="auto")
        -> "/photos/cat.jpg?s=320x&f=auto 320w, /photos/cat.jpg?s=640x&f=auto 640w"

``image_url(key, **params)`` is the URL the edge maps to the same output as
``/KEY?PARAMS``: it reads the parameters with the edge's own rules
(``shared.viewer_query``) into the canonical request, then writes that request back as a query,
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

from collections.abc import Iterable, Mapping
from urllib.parse import quote

from shared import transforms
from shared.config import Config, load_config
from shared.contract import DEFAULT_FIT, ImageRequest, snap_quality, uri_of
from shared.errors import InvalidRequest
from shared.signing import SIGNATURE_PARAM, signature
from shared.viewer_query import AUTO, TRANSFORM_PARAMS, read, read_colour, read_quality, read_query

CANONICAL_ORDER = (
    "s", "f", "fit", "crop", "g", "fp", "r", "flip", "blur", "sharpen", "bg", "wm", "q"
)  # fmt: skip
"""The parameters of a canonical query, in the canonical key's order; ``sig`` follows."""

ParamValue = str | int | float | None


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
        quality, background = read_quality(params.get("q")), read_colour(params.get("bg"))
        if quality is not None:
            written["q"] = str(snap_quality(quality, config))
        if background is not None:
            written["bg"] = background
    if sign is not None and secret is not None:
        written[SIGNATURE_PARAM] = signature(request.key, sign, secret)
    return f"{base.rstrip('/')}{uri_of(request.source)}?{_joined(written)}", request
