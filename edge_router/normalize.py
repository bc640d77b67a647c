"""The edge's leniency, in one pure function: any spelling of a request -> one ImageRequest.

Viewer parameters (names and values case-insensitive, any order, unknown ones ignored):

    s=WxH | s=Wx | s=xH      size (snapped up to the allow-list)
    f=webp|avif|jpeg|jpg|png|auto
    q=1..100                 quality (snapped to the allow-list; ignored for png)
    fit=cover|contain|inside only meaningful with both sides; cover is the default
    p=NAME                   a named preset from the configuration, alone (p=thumb is
                             exactly its query, e.g. s=256x256&f=webp: the same key)
    g=center|n|ne|...|smart  where a cover crop sits (compass names spelled out too)
    fp=X,Y                   a focal point, fractions of the upright original (overrides g)
    dpr=1..4                 multiplies s before snapping (one decimal)
    r=0|90|180|270           clockwise, after the EXIF orientation
    flip=h|v|hv              mirror after r
    blur=N  sharpen=N        sigmas, snapped to the configuration's allow-lists (0: none)
    bg=RRGGBB                padding and flattening colour (allow-list; any if signed)
    crop=X,Y,W,H             a region of the upright original in pixels (signed only)
    wm=NAME                  a watermark from the configuration
    sig=KEYID.MAC            a signature (shared/signing.py): sizes are then not snapped,
                             any size within the hard limit, crop and any bg; a bad one is
                             a 403

The parameters are read by ``shared.viewer_query``, which the page builders' URL helpers
(``shared.urls``) share. g, fp and dpr only modify a size: alone they ask for no
transform. Options that do not apply are dropped rather than forking the key (g without a
cover crop, dpr without s).

A parameter repeated with the same value is fine; with different values it is ambiguous
and refused. Without any of these parameters the request is for the original, byte for
byte - unless the path already is a canonical key, which is then kept as it is (so that
normalizing twice, as viewer- and origin-request triggers may, changes nothing).
"""

from __future__ import annotations

from urllib.parse import unquote

from shared import formats
from shared.config import Config
from shared.contract import MAX_KEY_BYTES, ImageRequest
from shared.errors import InvalidRequest
from shared.signing import verify
from shared.viewer_query import enabled_format, kept_format, may_animate, read, read_query

# A canonical URI of a key of MAX_KEY_BYTES, every byte percent-encoded, plus its "/":
# the edge must take back whatever it forwards.
MAX_URI_CHARS = 3 * MAX_KEY_BYTES + 1
MAX_QUERY_CHARS = 1024


def normalize(uri: str, querystring: str, accept: str | None, config: Config) -> ImageRequest:
    """The canonical request for a viewer's URI, raw query string and Accept header."""
    if len(uri) > MAX_URI_CHARS or len(querystring) > MAX_QUERY_CHARS:
        raise InvalidRequest("URL too long")
    if not uri.startswith("/"):
        raise InvalidRequest("path must start with '/'")
    try:
        source = unquote(uri[1:], errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequest("path is not valid UTF-8") from None
    params, signature = read_query(querystring, config)
    request = read(
        source,
        params,
        config,
        signed=signature is not None,
        auto=lambda: negotiate(accept, source, config),
    )
    if signature is not None:
        verify(request.key, signature, dict(config.signing_keys))
    return request


def negotiate(accept: str | None, source: str, config: Config) -> str:
    """f=auto: avif if Accept names it, else webp, else the source's family (png for png
    and gif sources, jpeg otherwise). Wildcards do not count: every browser sends them.

    An animation must survive f=auto, and the edge cannot see whether a source animates:
    a source whose extension names a format that can (gif, png, webp, avif) skips outputs
    that would keep only its first frame (avif), so a browser that takes avif gets webp."""
    accepted = accepted_types(accept or "")
    animates = may_animate(source)
    for fmt in formats.AUTO_PREFERENCE:
        if animates and not fmt.keeps_animation:
            continue
        if fmt.media_type in accepted and fmt.name in config.formats:
            return fmt.name
    kept = formats.output(kept_format(source))
    family = formats.DEFAULT_OUTPUT if kept in formats.AUTO_PREFERENCE else kept
    return enabled_format(family.name, config)


def accepted_types(accept: str) -> set[str]:
    """Media types named explicitly in an Accept header with a non-zero q."""
    types: set[str] = set()
    for item in accept.split(",")[:64]:
        media_type, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            key, _, val = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(val)
                except ValueError:
                    weight = 0.0
        if weight > 0 and media_type:
            types.add(media_type.lower())
    return types
