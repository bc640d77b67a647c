"""Content types of originals served byte for byte, from their bytes rather than their name."""

from __future__ import annotations

from shared import formats

OCTET_STREAM = "application/octet-stream"


def sniff(body: bytes, declared: str) -> str:
    """The media type the bytes say (``shared.formats.identify``); the declared one only
    when they say nothing and it is an image type; else application/octet-stream."""
    found = formats.identify(body)
    if found is not None:
        return found.media_type
    if formats.is_image_media_type(declared):
        return declared
    return OCTET_STREAM
