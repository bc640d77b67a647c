"""How the derivatives bucket is laid out, so that one original's derivatives can be listed
without scanning the bucket.

    {geometry}/{format}/{source}          the derivative (its canonical key; browsable)
    original/{source}                     the original's byte-for-byte copy
    _index/{digest(source)}/{variant}     one empty marker per stored object of ``source``,
                                          ``variant`` = the key's head: "256x256/webp", "original"

The marker is written before the object it names, so every stored derivative has one (a
marker without its object is harmless). Purging an original lists ``_index/{digest}/`` -
one ListObjectsV2 page per 1,000 of ITS derivatives, whatever the bucket holds - and
deletes the objects and markers named there. The digest keeps marker keys short and makes
the prefix exact: ``a.jpg`` and ``a.jpg/b.png`` share no prefix.
"""

from __future__ import annotations

import hashlib

from shared.contract import ImageRequest

INDEX_ROOT = "_index/"


def index_prefix(source: str) -> str:
    """The prefix under which every marker of ``source`` lies."""
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{INDEX_ROOT}{digest}/"


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
