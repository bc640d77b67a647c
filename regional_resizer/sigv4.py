"""AWS Signature Version 4 for requests the resizer makes itself (its S3 client), standard
library only.

The algorithm is the one of "Create a signed AWS API request" (IAM User Guide,
https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html) and, for S3,
"Signature Calculations for the Authorization Header" (Amazon S3 API Reference,
https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html):

- the canonical request is the method, the canonical URI, the canonical query string, the
  canonical headers, the signed header names and the payload's SHA-256, one per line;
- the canonical URI is the path with every byte but the unreserved ones (``A-Z a-z 0-9 - _
  . ~``) percent-encoded, ``/`` kept. S3 signs the path exactly as sent: no normalization
  and a single encoding. Every other service encodes the path twice and normalizes it
  (``double_encode``);
- query names and values are encoded the same way (``/`` too), then sorted by name, then
  value;
- header names are lower-cased and sorted, values trimmed with inner runs of spaces made
  one, repeated headers joined with commas;
- the signing key is HMAC-SHA256 of the date, region, service and ``aws4_request`` in turn,
  from ``AWS4`` + the secret key.

Which headers are signed is the caller's choice (``sign`` signs what it is given, plus the
ones it adds): ``host``, ``x-amz-date``, ``x-amz-content-sha256`` for S3 and
``x-amz-security-token`` with temporary credentials always are.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNRESERVED = "-_.~"  # with letters and digits, never percent-encoded

_SPACES = re.compile(r" +")


@dataclass(frozen=True)
class Credentials:
    """An access key, with the session token of temporary credentials."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def amz_date(now: float) -> str:
    """``YYYYMMDDTHHMMSSZ`` in UTC."""
    return time.strftime(TIMESTAMP_FORMAT, time.gmtime(now))


def uri_encode(value: str, *, keep_slash: bool) -> str:
    """Percent-encode UTF-8 ``value``, all but the unreserved characters (and ``/`` where
    kept), with upper-case hex digits."""
    return quote(value, safe=UNRESERVED + ("/" if keep_slash else ""))


def canonical_uri(path: str, *, double_encode: bool = False) -> str:
    """The canonical form of ``path`` as it is sent (already percent-encoded). S3's is the
    path itself; other services' is normalized (``.``, ``..``, repeated slashes) and
    encoded once more."""
    if not path:
        return "/"
    if not double_encode:
        return path
    normalized = posixpath.normpath(path) if path != "/" else "/"
    normalized = re.sub(r"/{2,}", "/", normalized)
    if path.endswith("/") and not normalized.endswith("/"):
        normalized += "/"
    return uri_encode(normalized, keep_slash=True)


def canonical_query(query: Iterable[tuple[str, str]]) -> str:
    """Decoded (name, value) pairs, encoded and sorted by name, then value."""
    pairs = sorted(
        (uri_encode(name, keep_slash=False), uri_encode(value, keep_slash=False))
        for name, value in query
    )
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_headers(headers: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(the canonical headers block, the signed header names joined with ``;``)."""
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        merged.setdefault(name.strip().lower(), []).append(_SPACES.sub(" ", value.strip()))
    names = sorted(merged)
    block = "".join(f"{name}:{','.join(merged[name])}\n" for name in names)
    return block, ";".join(names)


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret_access_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


class Signed(NamedTuple):
    """What signing produced: the headers to add and the intermediate forms (for tests
    and for debugging a refusal)."""

    headers: dict[str, str]
    canonical_request: str
    string_to_sign: str
    signature: str


def sign(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    payload_sha256: str,
    credentials: Credentials,
    region: str,
    service: str,
    *,
    now: float | None = None,
    double_encode: bool = False,
    content_sha256_header: bool = True,
) -> Signed:
    """Sign a request whose ``headers`` include ``Host``. Adds ``X-Amz-Date``, the session
    token (``X-Amz-Security-Token``) and, unless told not to, ``X-Amz-Content-Sha256``
    (S3 requires it) before signing every header given; returns those and
    ``Authorization``; a caller's own values of these are dropped. ``path`` is signed as it
    is sent (percent-encoded), ``query`` decoded."""
    timestamp = amz_date(time.time() if now is None else now)
    added = {"X-Amz-Date": timestamp}
    if content_sha256_header:
        added["X-Amz-Content-Sha256"] = payload_sha256
    if credentials.session_token:
        added["X-Amz-Security-Token"] = credentials.session_token
    lower = {name.lower() for name in headers}
    if "host" not in lower:
        raise ValueError("a signed request needs its Host header")
    owned = set(added) | {"Authorization"}
    owned_lower = {name.lower() for name in owned}
    signed_pairs = [(n, v) for n, v in headers.items() if n.lower() not in owned_lower]
    signed_pairs += added.items()
    block, signed_names = canonical_headers(signed_pairs)
    canonical = "\n".join(
        [
            method.upper(),
            canonical_uri(path, double_encode=double_encode),
            canonical_query(query),
            block,
            signed_names,
            payload_sha256,
        ]
    )
    scope = f"{timestamp[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = signing_key(credentials.secret_access_key, timestamp[:8], region, service)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    added["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_names}, Signature={signature}"
    )
    return Signed(added, canonical, string_to_sign, signature)
