"""Conditional and range requests answered from CloudFront's cache (RFC 9110 13 and 14).

- ``not_modified``: ``If-None-Match`` (weak comparison, ``*``) decides when present;
  otherwise ``If-Modified-Since`` against ``Last-Modified``.
- ``byte_range``: one ``bytes=`` range (first-last, first-, -suffix) of a body of known
  length. Several ranges are not served as multipart: the whole body is, which RFC 9110
  allows any server to do.

CloudFront Developer Guide, "Use range GETs": with the object in the cache, CloudFront
answers a range request with 206 from it; on a miss it may ask the origin for more than
the range, and an origin that ignores ``Range`` (as the resizer does) gets the whole object
sent to the viewer. The emulator does the latter on every miss, the former on every hit.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ByteRange:
    first: int
    last: int  # inclusive

    def content_range(self, length: int) -> str:
        return f"bytes {self.first}-{self.last}/{length}"


UNSATISFIABLE = ByteRange(-1, -1)


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def not_modified(request: Mapping[str, str], response: Mapping[str, str]) -> bool:
    """Whether a 200 with ``response`` headers becomes a 304 for this request; both
    mappings have lower-case names."""
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        etag = response.get("etag")
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag is not None and ("*" in tags or etag.removeprefix("W/") in tags)
    since = _http_date(request.get("if-modified-since"))
    modified = _http_date(response.get("last-modified"))
    return since is not None and modified is not None and modified <= since


def byte_range(header: str | None, length: int) -> ByteRange | None:
    """The one range asked for; None to send the whole body (no or unusable ``Range``);
    UNSATISFIABLE for a range that lies wholly past the end (416)."""
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    if not dash or not (first_text.isdigit() or first_text == ""):
        return None
    if last_text and not last_text.isdigit():
        return None
    if first_text == "":  # a suffix: the last N bytes
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0:
            return UNSATISFIABLE
        return ByteRange(max(0, length - suffix), length - 1) if length else UNSATISFIABLE
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # invalid: ignored, as RFC 9110 14.1.1 allows
    if first >= length:
        return UNSATISFIABLE
    last = int(last_text) if last_text else length - 1
    return ByteRange(first, min(last, length - 1))
