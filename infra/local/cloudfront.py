"""A CloudFront distribution on one machine: one cache behavior, as imgedge deploys it.

Per viewer request:
1. Allowed methods GET and HEAD; anything else is CloudFront's 403 error page.
2. The viewer-request trigger (the edge router, in-process) gets the event CloudFront
   builds. A generated response goes straight back to the viewer (never cached); otherwise
   the returned request's ``uri`` (+ ``querystring``) is the cache key.
3. The in-memory cache (``cache.py``): a hit answers with ``Age``. Identical misses that
   arrive while one is at the origin wait for its response (``collapsing.py``).
4. A miss goes to the origin group (``origins.py``): the derivatives bucket, failing over
   to the function URL. HEAD misses are forwarded as HEAD and not cached.
5. Every response gets CloudFront's headers (``X-Cache``, ``Via``, ``X-Amz-Cf-Id``,
   ``X-Amz-Cf-Pop``) and the response headers policy's security headers.

Lambda@Edge failures answer as CloudFront does: 503 when the function raises, 502 when it
returns something that is neither a request nor a valid response.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

from infra.local.cache import CachedResponse, CachePolicy, ResponseCache, ttl_for
from infra.local.collapsing import InFlight
from infra.local.events import (
    DISTRIBUTION_DOMAIN,
    from_cf_headers,
    new_edge_request_id,
    viewer_request_event,
)
from infra.local.http_server import BackgroundHTTPServer, reason_phrase
from infra.local.origins import ORIGIN_RESPONSE_TIMEOUT_S, Origin, OriginResponse
from shared.trace_context import EDGE_TIMING_HEADER, TRACE_HEADER

log = logging.getLogger("imgedge.local")


EdgeFunction = Callable[[dict[str, Any]], Any]

ALLOWED_METHODS = ("GET", "HEAD")
POP = "LCL50-C1"  # an edge location id, shaped like CloudFront's ("FRA56-P1")
MAX_GENERATED_BODY_BYTES = 40 * 1024  # Lambda@Edge viewer-trigger generated responses

# The origin request policy: viewer headers (after the edge function) sent to the origin:
# the trace headers the edge sets (see shared/trace_context.py; the AWS policy in infra/aws
# must name the same). Never Host: a function URL answers only to its own.
ORIGIN_REQUEST_HEADERS = ("accept", TRACE_HEADER, EDGE_TIMING_HEADER)

# The response headers policy (overriding the origin's values): originals may be anything,
# SVG with script included, so nothing a browser gets from here may run or be sniffed.
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("X-Frame-Options", "SAMEORIGIN"),
)
_OVERRIDDEN = frozenset(name.lower() for name, _ in SECURITY_HEADERS)

METHOD_NOT_ALLOWED = (
    "This distribution is not configured to allow the HTTP request method that was used for "
    "this request. The distribution supports only cachable requests."
)
LAMBDA_EXECUTION_ERROR = (
    "The Lambda function associated with the CloudFront distribution failed (LambdaExecutionError)."
)
LAMBDA_VALIDATION_ERROR = (
    "The Lambda function returned an invalid request or response to CloudFront "
    "(LambdaValidationError)."
)


def error_page(status: int, message: str) -> bytes:
    """CloudFront's own error page, shortened."""
    return (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n'
        "<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>\n"
        f"<H1>{status} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n"
        f'<HR noshade size="1px">\n{message}\n</BODY></HTML>\n'
    ).encode()


def x_cache(status: int, *, hit: bool) -> str:
    """CloudFront's X-Cache for a response from the cache or the origin: errors say so."""
    if status >= 400:
        return "Error from cloudfront"
    return "Hit from cloudfront" if hit else "Miss from cloudfront"


def origin_request_headers(
    request_headers: Sequence[tuple[str, str]], client_ip: str, cf_id: str, via: str
) -> list[tuple[str, str]]:
    """What CloudFront sends to a custom origin: the policy's viewer headers plus its own."""
    chosen = [
        (name, value) for name, value in request_headers if name.lower() in ORIGIN_REQUEST_HEADERS
    ]
    return [
        *chosen,
        ("User-Agent", "Amazon CloudFront"),
        ("Via", via),
        ("X-Amz-Cf-Id", cf_id),
        ("X-Forwarded-For", client_ip),
    ]


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes: without this, small responses wait
    # for the peer's delayed ACK (40 ms).
    disable_nagle_algorithm = True
    server: CloudFrontServer
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "CloudFront"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one access-log line per request instead (see _access_log)

    # --- the request ---------------------------------------------------------------------

    def _handle(self) -> None:
        self._started = time.monotonic()
        self._cf_id = new_edge_request_id()
        self._via = f"1.1 {os.urandom(16).hex()}.cloudfront.net (CloudFront)"
        self._x_cache = "Error from cloudfront"
        self._responded = False
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # no trigger here includes the body
        if self.command not in ALLOWED_METHODS:
            self.close_connection = True  # a chunked body may still be on the wire
            self._send_error(403, METHOD_NOT_ALLOWED)
            return
        uri, _, querystring = self.path.partition("?")
        if not uri.startswith("/"):
            self._send_error(400, "Bad request.")
            return
        # --- local pages (issue 6): /_imgedge/ is the gallery's, never the edge's ----------
        if self.server.local_pages is not None and uri.startswith("/_imgedge/"):
            status, headers, body = self.server.local_pages(uri, querystring, self.headers.items())
            self._x_cache = x_cache(status, hit=False)
            self._send(status, reason_phrase(status), headers, iter([body]), len(body))
            return
        # -----------------------------------------------------------------------------------

        event = viewer_request_event(
            method=self.command,
            uri=uri,
            querystring=querystring,
            headers=self.headers.items(),
            client_ip=self.client_address[0],
            request_id=self._cf_id,
            distribution_domain=self.server.distribution_domain,
        )
        try:
            result = self.server.edge(event)
        except Exception:
            log.exception("viewer-request function failed for %s", self.path)
            self._send_error(503, LAMBDA_EXECUTION_ERROR)
            return
        if isinstance(result, dict) and "status" in result:
            self._send_generated(result)
        elif isinstance(result, dict) and str(result.get("uri", "")).startswith("/"):
            try:
                self._forward(result)
            except Exception:
                log.exception("failed to serve %s", self.path)
                if not self._responded:
                    self._send_error(502, "CloudFront wasn't able to connect to the origin.")
        else:
            log.error("viewer-request function returned an invalid result: %.200r", result)
            self._send_error(502, LAMBDA_VALIDATION_ERROR)

    def _forward(self, request: dict[str, Any]) -> None:
        uri, querystring = str(request["uri"]), str(request.get("querystring") or "")
        key = f"{uri}?{querystring}" if querystring else uri
        cached = self.server.cache.get(key)
        if cached is not None:
            self._send_cached(cached)
            return

        if self.command != "GET":
            self._fetch_and_send(request, uri, querystring, key)
            return
        with self.server.inflight.lead_or_follow(key) as leader:
            if leader is not None:  # an identical request is at the origin: wait for it
                leader.wait(ORIGIN_RESPONSE_TIMEOUT_S)
                cached = self.server.cache.get(key)
                if cached is not None:
                    self._send_cached(cached)
                    return
            self._fetch_and_send(request, uri, querystring, key)

    def _fetch_and_send(
        self, request: dict[str, Any], uri: str, querystring: str, key: str
    ) -> None:
        headers = origin_request_headers(
            from_cf_headers(request.get("headers") or {}),
            self.client_address[0],
            self._cf_id,
            self._via,
        )
        self.server.origin_requests += 1
        response = self.server.origin.fetch(self.command, uri, querystring, headers)
        self._x_cache = x_cache(response.status, hit=False)
        lower = {n.lower(): v for n, v in response.headers}
        ttl = ttl_for(response.status, lower, self.server.policy) if self.command == "GET" else 0
        self._send_from_origin(key, response, ttl)

    def _send_cached(self, cached: CachedResponse) -> None:
        self._x_cache = x_cache(cached.status, hit=True)
        age = cached.age(time.monotonic())
        self._send(
            cached.status,
            cached.reason,
            [*cached.headers, ("Age", str(age))],
            iter([cached.body]),
            len(cached.body),
        )

    def _send_from_origin(self, key: str, response: OriginResponse, ttl: int) -> None:
        length_header = response.header("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        kept: list[bytes] = []

        def tee() -> Iterator[bytes]:
            """The body, stored in the cache once the origin has sent all of it and before
            the last chunk goes out: a viewer's next request must already find it."""
            pending: bytes | None = None
            for chunk in response.chunks:
                if ttl:
                    kept.append(chunk)
                if pending is not None:
                    yield pending
                pending = chunk
            if ttl:
                body = b"".join(kept)
                entry = CachedResponse(response.status, response.reason, response.headers, body)
                self.server.cache.put(key, entry, ttl)
            if pending is not None:
                yield pending

        try:
            if length is None and self.command == "GET":  # unknown length: buffer it
                body = b"".join(tee())
                self._send(
                    response.status, response.reason, response.headers, iter([body]), len(body)
                )
            else:
                self._send(response.status, response.reason, response.headers, tee(), length)
        finally:
            response.close()

    def _send_generated(self, response: dict[str, Any]) -> None:
        """A response generated by the viewer-request function, validated as CloudFront
        does (status, header shape, body size)."""
        try:
            status = int(response["status"])
            headers = from_cf_headers(response.get("headers") or {})
            body = response.get("body") or ""
            if response.get("bodyEncoding") == "base64":
                data = base64.b64decode(body, validate=True)
            else:
                data = str(body).encode("utf-8")
            if not 100 <= status <= 599 or len(data) > MAX_GENERATED_BODY_BYTES:
                raise ValueError("status out of range or body over 40 KB")
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            log.error("invalid generated response from the viewer-request function: %s", error)
            self._send_error(502, LAMBDA_VALIDATION_ERROR)
            return
        self._x_cache = "LambdaGeneratedResponse from cloudfront"
        reason = str(response.get("statusDescription") or reason_phrase(status))
        self._send(status, reason, headers, iter([data]), len(data))

    def _send_error(self, status: int, message: str) -> None:
        self._x_cache = "Error from cloudfront"
        body = error_page(status, message)
        headers = [("Content-Type", "text/html"), ("Server", "CloudFront")]
        self._send(status, reason_phrase(status), headers, iter([body]), len(body))

    # --- the response --------------------------------------------------------------------

    def _send(
        self,
        status: int,
        reason: str,
        headers: Sequence[tuple[str, str]],
        chunks: Iterable[bytes],
        length: int | None,
    ) -> None:
        """Send with CloudFront's and the policy's headers; 304 when the viewer's
        If-None-Match names the ETag. The chunks are drained even when not sent (HEAD,
        304), so that a cacheable body is still stored."""
        self._responded = True
        etag = next((v for n, v in headers if n.lower() == "etag"), None)
        if status == 200 and etag and _etag_matches(self.headers.get("If-None-Match"), etag):
            status, reason = 304, "Not Modified"
        with_body = self.command != "HEAD" and status != 304
        self.send_response_only(status, reason)
        self.send_header("Date", self.date_time_string())
        for name, value in headers:
            lower = name.lower()
            if lower in _OVERRIDDEN or lower in ("content-length", "connection"):
                continue
            if status == 304 and lower in ("content-type", "content-encoding"):
                continue
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(length or 0))
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        self.send_header("X-Cache", self._x_cache)
        self.send_header("Via", self._via)
        self.send_header("X-Amz-Cf-Pop", POP)
        self.send_header("X-Amz-Cf-Id", self._cf_id)
        self.end_headers()
        sent = 0
        try:
            for chunk in chunks:
                if with_body:
                    self.wfile.write(chunk)
                    sent += len(chunk)
        except OSError as error:  # the viewer went away, or the origin broke off
            log.warning("%s %s: response cut short: %s", self.command, self.path, error)
            self.close_connection = True
        self._access_log(status, sent)

    def _access_log(self, status: int, sent: int) -> None:
        log.info(
            "%s %s %s %d %s %.1fms",
            self.client_address[0],
            self.command,
            self.path,
            status,
            self._x_cache.split(" ", 1)[0],
            (time.monotonic() - self._started) * 1000,
        )

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle  # noqa: N815


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


class CloudFrontServer(BackgroundHTTPServer):
    """The distribution: ``edge`` is the viewer-request function (event -> result), ``origin``
    the origin group; responses are cached per ``policy``."""

    thread_name = "cloudfront"
    # --- local pages (issue 6): set by the stack to the gallery (infra/local/gallery.py) ----
    local_pages: (
        Callable[[str, str, Sequence[tuple[str, str]]], tuple[int, list[tuple[str, str]], bytes]]
        | None
    ) = None  # (path, query, headers) -> (status, headers, body), for GET/HEAD /_imgedge/...

    def __init__(
        self,
        edge: EdgeFunction,
        origin: Origin,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        policy: CachePolicy | None = None,
        cache: ResponseCache | None = None,
        distribution_domain: str = DISTRIBUTION_DOMAIN,
    ) -> None:
        super().__init__(host, port, _Handler)
        self.edge = edge
        self.origin = origin
        self.policy = policy or CachePolicy()
        self.cache = cache or ResponseCache()
        self.inflight = InFlight()
        self.origin_requests = 0  # how many requests reached the origin group (for tests)
        self.distribution_domain = distribution_domain
