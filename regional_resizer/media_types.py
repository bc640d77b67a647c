"""Content types of originals served byte for byte, from their bytes rather than their name."""

from __future__ import annotations

_ISO_BRANDS = {b"avif": "image/avif", b"avis": "image/avif", b"heic": "image/heic",
               b"heix": "image/heic", b"mif1": "image/heif", b"msf1": "image/heif"}  # fmt: skip


def sniff(body: bytes, declared: str) -> str:
    """The media type the bytes say; the declared one only when they say nothing and it is
    an image type; else application/octet-stream."""
    head = body[:512]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _ISO_BRANDS:
        return _ISO_BRANDS[head[8:12]]
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"BM"):
        return "image/bmp"
    if b"<svg" in head.lower():
        return "image/svg+xml"
    if declared.startswith("image/"):
        return declared
    return "application/octet-stream"
