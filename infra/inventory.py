"""What the buckets hold, as ``imgedge ls`` (``infra/cli/ls.py``) and the local stack's
gallery show it: originals, and each original's derivatives found through the marker index
of the derivatives bucket (``shared/layout.py``), never by scanning that bucket.

A derivative costs one request: a ranged GET of its first 64 KB gives the content type, the
total size (``Content-Range``) and the header its dimensions are read from; the pixels are
never decoded. A marker whose object is missing (written before an object that never came,
or mid-purge) is listed as missing.
"""

from __future__ import annotations

import heapq
import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import boto3
from botocore.exceptions import ClientError
from PIL import Image

from infra.local import credentials as local
from regional_resizer import storage
from shared import formats, urls
from shared.config import Config
from shared.contract import ORIGINAL_PREFIX, ImageRequest
from shared.errors import InvalidRequest
from shared.layout import index_prefix, stored_key
from shared.originals import OriginalsBuckets

HEADER_BYTES = 64 * 1024
"""How much of a derivative is read to learn its dimensions."""


# --- the values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OriginalInfo:
    key: str
    bytes: int
    last_modified: datetime
    content_type: str = ""  # known only from HeadObject, not from a listing


@dataclass(frozen=True)
class DerivativeInfo:
    """One object named by a marker. ``bytes is None``: the marker's object is missing."""

    key: str
    variant: str  # the key's head: "256x256/webp", "original"
    format: str  # from the bytes; else from the content type or the key
    width: int | None
    height: int | None
    bytes: int | None
    content_type: str

    @property
    def missing(self) -> bool:
        return self.bytes is None

    def saving(self, original_bytes: int | None) -> float | None:
        """Percent of the original's bytes this derivative saves (negative: it is larger)."""
        if self.bytes is None or not original_bytes:
            return None
        return 100.0 * (1 - self.bytes / original_bytes)


def viewer_path(request: ImageRequest, config: Config) -> str:
    """The URL a viewer would write for ``request``: ``/photos/cat.jpg?s=256x256&f=webp``,
    the canonical one (``shared.urls``). The edge normalizes it back to ``request``."""
    return urls.viewer_path(request, config)


def request_path(source: str) -> str:
    """A source key as a URL path (without the leading '/'), percent-encoded."""
    return quote(source, safe="/-._~")


def parse_stored(key: str, config: Config) -> ImageRequest | None:
    """The request a stored key names; None for a key of another configuration."""
    try:
        return ImageRequest.parse(key, config)
    except InvalidRequest:
        return None


# --- image headers -------------------------------------------------------------------------


def image_header(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) from the first bytes of an image, without decoding pixels.

    WebP and AVIF are read here (Pillow needs their whole file); the rest by Pillow's lazy
    open, which reads the header only."""
    if formats.WEBP.matches(data):
        return _webp_header(data)
    if formats.AVIF.matches(data):
        size = _ispe(data, 0, len(data))
        return (formats.AVIF.name, *size) if size else None
    try:
        with Image.open(io.BytesIO(data)) as image:
            return (image.format or "").lower(), image.width, image.height
    except Exception:  # Pillow raises many kinds on bytes that are no (whole) header
        return None


def _webp_header(data: bytes) -> tuple[str, int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:  # lossy: 14-bit sizes after the start code
        width, height = struct.unpack_from("<HH", data, 26)
        return formats.WEBP.name, width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:  # lossless: 14-bit sizes minus one, packed
        bits = int.from_bytes(data[21:25], "little")
        return formats.WEBP.name, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:  # extended: 24-bit canvas sizes minus one
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return formats.WEBP.name, width, height
    return None


def _ispe(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """The first image spatial extents box (meta/iprp/ipco/ispe) of an ISO-BMFF file."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header:
            return None
        body, stop = pos + header, min(pos + size, end)
        if kind == b"ispe" and stop - body >= 12:
            width, height = struct.unpack_from(">II", data, body + 4)  # after version/flags
            return int(width), int(height)
        if kind in (b"meta", b"iprp", b"ipco"):
            found = _ispe(data, body + 4 if kind == b"meta" else body, stop)
            if found:
                return found
        pos += size
    return None


# --- reading the buckets -------------------------------------------------------------------


class Inventory:
    """The originals buckets and the derivatives bucket's marker index, read-only.
    ``originals``: the originals buckets (``shared.originals``), or the one bucket that
    holds every original."""

    def __init__(self, s3: Any, originals: str | OriginalsBuckets, derivatives_bucket: str) -> None:
        self.s3 = s3
        self.originals_buckets = (
            originals if isinstance(originals, OriginalsBuckets) else OriginalsBuckets(originals)
        )
        self.derivatives_bucket = derivatives_bucket

    @property
    def originals_bucket(self) -> str:
        """The default originals bucket."""
        return self.originals_buckets.default

    def originals(self, prefix: str = "") -> Iterator[OriginalInfo]:
        """Every original under ``prefix``, in key order, from every originals bucket
        (ListObjectsV2, paginated): each object of the bucket its key maps to."""
        listings = [
            self._listing(bucket, under)
            for bucket, under in self.originals_buckets.listings(prefix)
        ]
        last = None
        for info in heapq.merge(*listings, key=lambda info: info.key):
            if info.key != last:  # one bucket under two listings
                yield info
            last = info.key

    def _listing(self, bucket: str, prefix: str) -> Iterator[OriginalInfo]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                if self.originals_buckets.holds(bucket, item["Key"]):
                    yield OriginalInfo(item["Key"], int(item["Size"]), item["LastModified"])

    def original(self, key: str) -> OriginalInfo | None:
        try:
            bucket = self.originals_buckets.bucket_of(key)
            head = self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if storage.is_missing(error):
                return None
            raise
        return OriginalInfo(
            key, int(head["ContentLength"]), head["LastModified"], str(head.get("ContentType", ""))
        )

    def markers(self, source: str) -> Iterator[str]:
        """The marker keys of ``source``'s stored objects (one listing per 1,000)."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.derivatives_bucket, Prefix=index_prefix(source)
        )
        for page in pages:
            for item in page.get("Contents", ()):
                yield str(item["Key"])

    def count_derivatives(self, source: str) -> int:
        return sum(1 for _ in self.markers(source))

    def derivatives(self, source: str) -> list[DerivativeInfo]:
        return [
            self.derivative(stored_key(marker, source), source) for marker in self.markers(source)
        ]

    def derivative(self, key: str, source: str) -> DerivativeInfo:
        """What is stored under ``key``, from one ranged GET of its first bytes."""
        variant = key[: len(key) - len(source) - 1]
        key_format = "" if variant == ORIGINAL_PREFIX else variant.rsplit("/", 1)[-1]
        try:
            response = self.s3.get_object(
                Bucket=self.derivatives_bucket, Key=key, Range=f"bytes=0-{HEADER_BYTES - 1}"
            )
        except ClientError as error:
            if storage.is_missing(error):
                return DerivativeInfo(key, variant, key_format, None, None, None, "")
            raise
        with response["Body"] as body:
            head = body.read(HEADER_BYTES)
        content_type = str(response.get("ContentType") or "")
        total = _total_size(response.get("ContentRange"), int(response["ContentLength"]))
        found = image_header(head)
        if found is None:
            named = formats.from_media_type(content_type)
            fmt = named.name if named is not None else key_format
            return DerivativeInfo(key, variant, fmt, None, None, total, content_type)
        fmt, width, height = found
        return DerivativeInfo(key, variant, fmt, width, height, total, content_type)


def _total_size(content_range: str | None, length: int) -> int:
    """The object's size from ``Content-Range: bytes 0-65535/123456``."""
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    return length


def s3_client(endpoint: str | None) -> Any:
    """An S3 client for AWS, or for another S3-compatible endpoint."""
    if not endpoint:
        return storage.s3_client()
    return storage.s3_client(endpoint, **endpoint_settings())


def endpoint_settings() -> dict[str, str]:
    """Client settings for another endpoint: the local stack's region and credentials where
    none are configured (any credentials work against the embedded server)."""
    session = boto3.session.Session()
    settings = {"region_name": session.region_name or local.REGION}
    if session.get_credentials() is None:
        settings["aws_access_key_id"] = local.ACCESS_KEY_ID
        settings["aws_secret_access_key"] = local.SECRET_ACCESS_KEY
    return settings
