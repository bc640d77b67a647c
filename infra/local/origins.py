"""CloudFront's origins: an S3 bucket (read with signed requests, like OAC), an HTTP origin
(the function URL) and the origin group that fails over from the first to the second."""

from __future__ import annotations

import http.client
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote_plus, urlsplit
from xml.sax.saxutils import escape

from infra.local.sigv4 import AccessKey, sign_headers
from regional_resizer.s3 import S3Client, S3Error, S3Unavailable
from regional_resizer.sigv4 import Credentials

log = logging.getLogger("imgedge.local")

CHUNK_BYTES = 64 * 1024
ORIGIN_RESPONSE_TIMEOUT_S = 30.0  # CloudFront's default origin response timeout
ORIGIN_CONNECT_TIMEOUT_S = 10.0

# CloudFront passes the origin's response headers on, except hop-by-hop ones and those it
# sets itself (the viewer side adds Via, X-Cache, Age, X-Amz-Cf-*).
DROPPED_HEADERS = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "date", "server", "via", "x-cache", "age",
        "x-amz-cf-id", "x-amz-cf-pop",
    }
)  # fmt: skip


@dataclass
class OriginResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    chunks: Iterator[bytes] = field(default_factory=lambda: iter(()))
    close: Callable[[], None] = lambda: None

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for n, v in self.headers if n.lower() == lower), None)

    def read_all(self) -> bytes:
        try:
            return b"".join(self.chunks)
        finally:
            self.close()


class Origin(Protocol):
    name: str

    def fetch(
        self, method: str, uri: str, querystring: str, headers: Sequence[tuple[str, str]]
    ) -> OriginResponse: ...


def _passed(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(n, v) for n, v in headers if n.lower() not in DROPPED_HEADERS]


def _guarded(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The body's chunks; a broken origin stream raises ConnectionError (an OSError)."""
    try:
        yield from chunks
    except (OSError, http.client.HTTPException) as error:
        raise ConnectionError(f"origin stream broken: {error}") from error


def _bad_gateway(origin: str, error: Exception) -> OriginResponse:
    log.warning("origin %s unreachable: %s", origin, error)
    return OriginResponse(502, "Bad Gateway", [("Content-Type", "text/plain")], iter([b""]))


class S3Origin:
    """A bucket behind OAC: every request is signed; the key is the URI path decoded, without
    the leading '/'. The query string and viewer headers are not forwarded.

    OAC's policy grants s3:GetObject only, so a missing key is S3's 403 AccessDenied, not
    404 (Amazon S3 API Reference, GetObject, "Permissions": without s3:ListBucket, S3
    answers 403 for a key that does not exist)."""

    def __init__(self, bucket: str, endpoint_url: str, client: S3Client | None = None) -> None:
        self.name = f"s3:{bucket}"
        self.bucket = bucket
        # imgedge's own client (standard library, SigV4): boto3 added about 2.7 ms to each
        # read of the local stack's S3, a cost CloudFront's own reads do not have.
        self._s3 = client or S3Client(
            "us-east-1",
            endpoint_url=endpoint_url,
            credentials=Credentials("cloudfront-oac", "cloudfront-oac"),
            max_attempts=2,
            connect_timeout_s=ORIGIN_CONNECT_TIMEOUT_S,
            read_timeout_s=ORIGIN_RESPONSE_TIMEOUT_S,
        )

    def fetch(
        self, method: str, uri: str, querystring: str, headers: Sequence[tuple[str, str]]
    ) -> OriginResponse:
        # S3 reads a '+' in the path as a space, as in a form's query string (the object key
        # guidelines list '+' among the characters that need special handling): the
        # canonical URI escapes '+' so that the key survives (shared/contract.py).
        key = unquote_plus(uri[1:])
        if not key:  # GET on the bucket itself: a listing, which OAC does not allow
            return self._error(403, "AccessDenied", "Access Denied")
        try:
            if method == "HEAD":
                response = self._s3.head_object(self.bucket, key)
            else:
                response = self._s3.get_object(self.bucket, key)
        except S3Error as error:
            if error.status == 404:  # no s3:ListBucket: S3 will not say the key is missing
                return self._error(403, "AccessDenied", "Access Denied")
            return self._error(error.status, error.code, error.message)
        except S3Unavailable as error:
            return _bad_gateway(self.name, error)
        passed = _passed(response.headers.items())
        if method == "HEAD":
            return OriginResponse(200, "OK", passed)
        return OriginResponse(200, "OK", passed, iter([response.body]))

    def _error(self, status: int, code: str, message: str) -> OriginResponse:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        ).encode()
        reason = http.client.responses.get(status, "")
        return OriginResponse(status, reason, [("Content-Type", "application/xml")], iter([body]))


class HttpOrigin:
    """A custom origin over HTTP. Host is the origin's own; the caller chooses the other
    request headers (the origin request policy's).

    With ``signing_key``, the origin is a Lambda function URL behind origin access control
    (signing behaviour "always"): every request is signed with SigV4 for service ``lambda``
    in ``signing_region``, replacing any Authorization or X-Amz-* signing header of the
    viewer's (CloudFront Developer Guide, "Restrict access to an AWS Lambda function URL
    origin")."""

    def __init__(
        self,
        url: str,
        name: str = "",
        *,
        signing_key: AccessKey | None = None,
        signing_region: str = "us-east-1",
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"expected an http:// origin URL, got {url!r}")
        self.name = name or url
        self.host = parts.hostname
        self.port = parts.port or 80
        self.netloc = parts.netloc
        self.signing_key = signing_key
        self.signing_region = signing_region

    def fetch(
        self, method: str, uri: str, querystring: str, headers: Sequence[tuple[str, str]]
    ) -> OriginResponse:
        target = f"{uri}?{querystring}" if querystring else uri
        sent = [("Host", self.netloc), *((n, v) for n, v in headers if n.lower() != "host")]
        if self.signing_key is not None:
            sent = sign_headers(
                method,
                f"http://{self.netloc}{target}",
                sent,
                self.signing_key,
                region=self.signing_region,
            )
        conn = http.client.HTTPConnection(self.host, self.port, timeout=ORIGIN_RESPONSE_TIMEOUT_S)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in sent:
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            return _bad_gateway(self.name, error)

        def chunks() -> Iterator[bytes]:
            while chunk := response.read(CHUNK_BYTES):
                yield chunk

        return OriginResponse(
            response.status,
            response.reason,
            _passed(response.getheaders()),
            _guarded(chunks()),
            conn.close,
        )


class OriginGroup:
    """Primary first; on a failover status (or no answer) the same request goes to the
    secondary, whose response is final."""

    def __init__(self, primary: Origin, secondary: Origin, statuses: frozenset[int]) -> None:
        self.primary = primary
        self.secondary = secondary
        self.statuses = statuses
        self.name = f"group({primary.name} -> {secondary.name})"

    def fetch(
        self, method: str, uri: str, querystring: str, headers: Sequence[tuple[str, str]]
    ) -> OriginResponse:
        response = self.primary.fetch(method, uri, querystring, headers)
        if response.status not in self.statuses:
            return response
        response.close()
        return self.secondary.fetch(method, uri, querystring, headers)
