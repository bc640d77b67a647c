"""How the derivatives bucket is laid out, so that one original's derivatives can be listed
without scanning the bucket.

    {geometry}/{format}/{source}          the derivative (its canonical key; browsable)
    original/{source}                     the original's byte-for-byte copy
    _index/{digest(source)}/{variant}     one empty marker per stored object of ``source``,
                                          ``variant`` = the key's head: "256x256/webp", "original"
    _index/_overlays/{digest(overlay)}/{key}
                                          one empty marker per stored derivative that carries
                                          the watermark overlay ``overlay`` (a key of the
                                          originals bucket), ``key`` = the derivative's key

The marker is written before the object it names, so every stored derivative has one (a
marker without its object is harmless). Purging an original lists ``_index/{digest}/`` -
one ListObjectsV2 page per 1,000 of ITS derivatives, whatever the bucket holds - and
deletes the objects and markers named there. The digest keeps marker keys short and makes
the prefix exact: ``a.jpg`` and ``a.jpg/b.png`` share no prefix.

Any key of the originals bucket may also be a watermark's overlay, so a purge lists its
overlay prefix too: the derivatives of other originals that carry it. Those markers name
the whole derivative key (the source differs from marker to marker), and they lie under
``_index/`` so that whatever may list the index (the purge's role) may list them; no
original's prefix is ``_index/_overlays/``, since a digest is hexadecimal.
"""

from __future__ import annotations

import hashlib

from shared.contract import ImageRequest

INDEX_ROOT = "_index/"
OVERLAY_ROOT = f"{INDEX_ROOT}_overlays/"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def index_prefix(source: str) -> str:
    """The prefix under which every marker of ``source`` lies."""
    return f"{INDEX_ROOT}{_digest(source)}/"


def variant_of(request: ImageRequest) -> str:
    """The head of the request's key: everything before the source."""
    return request.key[: len(request.key) - len(request.source) - 1]


def index_key(request: ImageRequest) -> str:
    return index_prefix(request.source) + variant_of(request)


def stored_key(marker_key: str, source: str) -> str:
    """The derivative key a marker of ``source`` names."""
    prefix = index_prefix(source)
    if not marker_key.startswith(prefix):
        raise ValueError(f"{marker_key!r} is not a marker of {source!r}")
    return f"{marker_key[len(prefix) :]}/{source}"


def overlay_prefix(overlay: str) -> str:
    """The prefix under which every marker of a derivative carrying ``overlay`` lies."""
    return f"{OVERLAY_ROOT}{_digest(overlay)}/"


def overlay_marker_key(overlay: str, request: ImageRequest) -> str:
    """The marker that says ``request``'s derivative carries ``overlay``. It is 50 bytes
    longer than the derivative's key: the caller checks it fits S3's key limit."""
    return overlay_prefix(overlay) + request.key


def carrying_key(marker_key: str, overlay: str) -> str:
    """The derivative key an overlay marker of ``overlay`` names."""
    prefix = overlay_prefix(overlay)
    if not marker_key.startswith(prefix):
        raise ValueError(f"{marker_key!r} is not an overlay marker of {overlay!r}")
    return marker_key[len(prefix) :]
