"""A CloudFront distribution on one machine: the one cache behaviour imgedge deploys, read
from the same description the CDK app synthesizes (``infra/distribution.py``), with the
edge router on the event that description names (``spec.edge.event_type``).

Per viewer request:
1. Allowed methods GET and HEAD (else CloudFront's 403); a URL of more than 8,192 bytes,
   scheme and host included (the stricter reading of "Quotas": maximum length of a URL),
   is a 414.
2. With the viewer-request trigger, the function (the edge router, in its own Lambda-like
   worker held to its memory and timeout) gets the event CloudFront builds, without the
   headers CloudFront hides from functions. Its result is checked as CloudFront checks it
   (``edge_rules.py``): a broken rule is a 502 (LambdaValidationError); a function that
   raises, times out or runs out of memory is a 503 (LambdaExecutionError); no free
   worker, 503 (LambdaLimitExceeded); X-Cache names the error ("Troubleshooting error
   responses from your origin", 502 and 503 pages). A generated response goes straight
   back, never cached ("Generate HTTP responses in request triggers").
3. The cache key is the URI (the function's, or the viewer's with the origin-request
   trigger) plus the query string as the cache policy says: none of it, the parameters it
   names, or all of it exactly as the viewer spelled it (order and case count: "Cache
   content based on query string parameters"). A hit answers from the in-memory cache
   (``cache.py``) with ``Age``; a Range request hit is a 206, a conditional hit may be a
   304 (``conditional.py``). Identical GET misses wait for the one at the origin
   (``collapsing.py``). A HEAD is cached too, as a body-less entry only HEADs use.
4. A miss goes to the origin group (``origins.py``) with the headers the origin request
   policy names and the query string the policies forward: the derivatives bucket, failing
   over to the function URL on the description's statuses. With the origin-request
   trigger, the function runs before each origin is asked, on the origin-facing request
   (CloudFront's own headers, the forwarded query string only when a policy forwards all of
   it: "Restrictions on all edge functions", Query strings), checked with that event's
   read-only headers and its 1 MB generated response; a response it generates is cached
   like an origin's ("Generate HTTP responses in request triggers"). On failover it runs
   again ("Use origin failover with Lambda@Edge functions") and, the pessimistic reading
   of "the same request", gets the request it returned for the primary origin.
5. Every response gets CloudFront's headers (``X-Cache``, ``Via``, ``X-Amz-Cf-Id``,
   ``X-Amz-Cf-Pop``) and the response headers policy's security headers.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlencode

from infra.distribution import ORIGIN_REQUEST, CachePolicy, Distribution
from infra.local.cache import CachedResponse, ResponseCache, ttl_for
from infra.local.collapsing import InFlight
from infra.local.conditional import UNSATISFIABLE, byte_range, not_modified
from infra.local.edge_rules import (
    EdgeValidationError,
    GeneratedResponse,
    check_request,
    check_response,
    exposed,
)
from infra.local.events import (
    DISTRIBUTION_DOMAIN,
    new_edge_request_id,
    to_cf_headers,
    viewer_request_event,
)
from infra.local.http_server import BackgroundHTTPServer, reason_phrase
from infra.local.lambda_runtime import Invocation
from infra.local.origins import HttpOrigin, Origin, OriginGroup, OriginResponse, S3Origin

log = logging.getLogger("imgedge.local")

Event = dict[str, Any]
EdgeFunction = Callable[[Event], Invocation]
"""Invokes the edge function (in a worker: ``lambda_runtime.WorkerPool.invoke``)."""

GENERATED = "LambdaGeneratedResponse from cloudfront"  # X-Cache of a function's own response
POP = "LCL50-C1"  # an edge location id, shaped like CloudFront's ("FRA56-P1")
MAX_URL_BYTES = 8192  # CloudFront "Quotas": maximum length of a URL (scheme and host counted)

METHOD_NOT_ALLOWED = (
    "This distribution is not configured to allow the HTTP request method that was used for "
    "this request. The distribution supports only cachable requests."
)
LAMBDA_EXECUTION_ERROR = (
    "The Lambda function associated with the CloudFront distribution failed (LambdaExecutionError)."
)
LAMBDA_LIMIT_EXCEEDED = (
    "The Lambda function associated with the CloudFront distribution was throttled "
    "(LambdaLimitExceeded)."
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


def selected_query(querystring: str, names: Sequence[str]) -> str:
    """The query parameters a policy names, in the viewer's order; none when it names none."""
    if not names:
        return ""
    wanted = {name.lower() for name in names}
    pairs = parse_qsl(querystring, keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k.lower() in wanted])


def cache_key_query(querystring: str, policy: CachePolicy) -> str:
    """The part of the query string in the cache key: all of it as the viewer wrote it (order
    and case included), the parameters the policy names, or nothing."""
    if policy.query_string_behavior == "all":
        return querystring
    return selected_query(querystring, policy.query_strings)


def origin_query(querystring: str, spec: Distribution) -> str:
    """The query string CloudFront forwards: the cache key's, plus what the origin request
    policy names."""
    if spec.cache_policy.query_string_behavior == "all":
        return querystring
    names = (*spec.origin_request_policy.query_strings, *spec.cache_policy.query_strings)
    return selected_query(querystring, names)


def origin_shape(origin: Origin) -> Event:
    """``request.origin`` of an origin-request event ("Lambda@Edge event structure")."""
    if isinstance(origin, S3Origin):
        return {
            "s3": {
                "authMethod": "none",  # OAC signs outside the function's view
                "customHeaders": {},
                "domainName": f"{origin.bucket}.s3.us-east-1.amazonaws.com",
                "path": "",
                "region": "us-east-1",
            }
        }
    domain = origin.netloc if isinstance(origin, HttpOrigin) else origin.name
    return {
        "custom": {
            "customHeaders": {},
            "domainName": domain,
            "keepaliveTimeout": 5,
            "path": "",
            "port": 443,
            "protocol": "https",
            "readTimeout": 30,
            "sslProtocols": ["TLSv1.2"],
        }
    }


def origin_domain(origin: Origin) -> str:
    shape = origin_shape(origin)
    return str(next(iter(shape.values()))["domainName"])


def origin_request_headers(
    spec: Distribution,
    request_headers: Sequence[tuple[str, str]],
    client_ip: str,
    cf_id: str,
    via: str,
) -> list[tuple[str, str]]:
    """What CloudFront sends to a custom origin: the viewer headers the policies name
    (origin request policy and cache key), plus its own."""
    names = {h.lower() for h in (*spec.origin_request_policy.headers, *spec.cache_policy.headers)}
    chosen = [(name, value) for name, value in request_headers if name.lower() in names]
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
        self._request_headers = {n.lower(): v for n, v in self.headers.items()}
        spec = self.server.spec
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # no trigger here includes the body
        if self.command not in spec.allowed_methods:
            self.close_connection = True  # a chunked body may still be on the wire
            self._send_error(403, METHOD_NOT_ALLOWED)
            return
        if len(self._viewer_url()) > MAX_URL_BYTES:
            self._send_error(414, "Request-URI Too Large")
            return
        uri, _, querystring = self.path.partition("?")
        if not uri.startswith("/"):
            self._send_error(400, "Bad request.")
            return
        if self.server.local_pages is not None and uri.startswith("/_imgedge/"):
            status, headers, body = self.server.local_pages(uri, querystring, self.headers.items())
            self._x_cache = x_cache(status, hit=False)
            self._send(status, reason_phrase(status), headers, iter([body]), len(body))
            return
        if spec.edge.event_type == ORIGIN_REQUEST:
            self._serve(uri, querystring, list(self.headers.items()))
            return

        event = viewer_request_event(
            method=self.command,
            uri=uri,
            querystring=querystring,
            headers=exposed(self.headers.items()),
            client_ip=self.client_address[0],
            request_id=self._cf_id,
            distribution_domain=self.server.distribution_domain,
        )
        sent = event["Records"][0]["cf"]["request"]
        invocation = self.server.edge(event)
        if not invocation.ok:
            log.error("viewer-request function %s: %s", invocation.outcome, invocation.error)
            if invocation.outcome == "throttled":
                self._send_error(503, LAMBDA_LIMIT_EXCEEDED, "LambdaLimitExceeded")
            else:
                self._send_error(503, LAMBDA_EXECUTION_ERROR, "LambdaExecutionError")
            return
        result = invocation.result
        try:
            if isinstance(result, Mapping) and "status" in result:
                limit = spec.edge.max_generated_response_bytes
                self._send_generated(check_response(result, limit))
                return
            uri, querystring, headers = check_request(sent, result)
        except EdgeValidationError as error:
            log.error("viewer-request function result refused: %s", error)
            self._send_error(502, LAMBDA_VALIDATION_ERROR, "LambdaValidationError")
            return
        self._serve(uri, querystring, headers)

    def _serve(self, uri: str, querystring: str, headers: list[tuple[str, str]]) -> None:
        try:
            self._forward(uri, querystring, headers)
        except Exception:
            log.exception("failed to serve %s", self.path)
            if not self._responded:
                self._send_error(502, "CloudFront wasn't able to connect to the origin.")

    def _viewer_url(self) -> str:
        """The URL as the viewer wrote it, in bytes-as-characters (the request line is read
        as Latin-1), with the scheme viewers use on AWS (HTTP redirects to HTTPS)."""
        return f"https://{self.headers.get('Host', '')}{self.path}"

    def _forward(self, uri: str, querystring: str, headers: list[tuple[str, str]]) -> None:
        spec = self.server.spec
        key_query = cache_key_query(querystring, spec.cache_policy)
        key = f"{uri}?{key_query}" if key_query else uri
        forwarded_query = origin_query(querystring, spec)

        def fetch() -> None:
            self._fetch_and_send(uri, forwarded_query, headers, key)

        cached = self.server.cache.get(key)
        if cached is not None and (self.command == "HEAD" or not cached.head_only):
            self._send_cached(cached)
            return
        if self.command != "GET":
            fetch()
            return
        with self.server.inflight.lead_or_follow(key) as leader:
            if leader is not None:  # an identical request is at the origin: wait for it
                leader.wait(spec.origin_read_timeout_s)
                cached = self.server.cache.get(key)
                if cached is not None and not cached.head_only:
                    self._send_cached(cached)
                    return
            fetch()

    def _fetch_and_send(
        self, uri: str, querystring: str, headers: list[tuple[str, str]], key: str
    ) -> None:
        spec = self.server.spec
        sent = origin_request_headers(spec, headers, self.client_address[0], self._cf_id, self._via)
        if spec.edge.event_type == ORIGIN_REQUEST:
            answered = self._through_origin_trigger(uri, querystring, sent, key)
            if answered is None:
                return  # the function answered, or failed
            response = answered
        else:
            self.server.origin_requests += 1
            response = self.server.origin.fetch(self.command, uri, querystring, sent)
        self._x_cache = x_cache(response.status, hit=False)
        lower = {n.lower(): v for n, v in response.headers}
        self._send_from_origin(key, response, ttl_for(response.status, lower, spec))

    def _through_origin_trigger(
        self, uri: str, querystring: str, sent: list[tuple[str, str]], key: str
    ) -> OriginResponse | None:
        """The origin group's answer with the origin-request function before each origin it
        asks; None when the function answered itself or failed (the viewer has its answer).
        CloudFront's X-Amz-Cf-Id is hidden from the function and sent to the origin."""
        origin = self.server.origin
        members: list[Origin] = [origin]
        statuses: frozenset[int] = frozenset()
        if isinstance(origin, OriginGroup):
            members, statuses = [origin.primary, origin.secondary], origin.statuses
        cf_id = [(name, value) for name, value in sent if name.lower() == "x-amz-cf-id"]
        viewer_facing = [(name, value) for name, value in sent if name.lower() != "x-amz-cf-id"]
        request: Event | None = None
        for index, member in enumerate(members):
            event = viewer_request_event(
                method=self.command,
                uri=uri,
                querystring=querystring,
                headers=exposed([("Host", origin_domain(member)), *viewer_facing]),
                client_ip=self.client_address[0],
                request_id=self._cf_id,
                distribution_domain=self.server.distribution_domain,
            )
            cf = event["Records"][0]["cf"]
            cf["config"]["eventType"] = ORIGIN_REQUEST
            if request is not None:  # failover: the request the function returned before
                cf["request"] = request
            cf["request"]["origin"] = origin_shape(member)
            sent_request = copy.deepcopy(cf["request"])
            returned = self._invoke_edge(event, sent_request, key)
            if returned is None:
                return None
            request, (new_uri, new_query, headers) = returned
            if index == 0:  # one request reaches the origin group, failover or not
                self.server.origin_requests += 1
            response = member.fetch(self.command, new_uri, new_query, [*headers, *cf_id])
            if index + 1 < len(members) and response.status in statuses:
                response.close()
                continue
            return response
        raise AssertionError("unreachable: the last origin's answer is final")

    def _invoke_edge(
        self, event: Event, sent: Event, key: str
    ) -> tuple[Event, tuple[str, str, list[tuple[str, str]]]] | None:
        """Run the origin-request function: its request and what CloudFront takes from it,
        or None once the viewer has been answered (a generated response, cached as an
        origin's is, or CloudFront's error for a failed or refused function)."""
        spec = self.server.spec
        invocation = self.server.edge(event)
        if not invocation.ok:
            log.error("origin-request function %s: %s", invocation.outcome, invocation.error)
            if invocation.outcome == "throttled":
                self._send_error(503, LAMBDA_LIMIT_EXCEEDED, "LambdaLimitExceeded")
            else:
                self._send_error(503, LAMBDA_EXECUTION_ERROR, "LambdaExecutionError")
            return None
        result = invocation.result
        try:
            if isinstance(result, Mapping) and "status" in result:
                generated = check_response(result, spec.edge.max_generated_response_bytes)
                self._send_generated(generated, cache_as=key)
                return None
            checked = check_request(sent, result, ORIGIN_REQUEST)
        except EdgeValidationError as error:
            log.error("origin-request function result refused: %s", error)
            self._send_error(502, LAMBDA_VALIDATION_ERROR, "LambdaValidationError")
            return None
        assert isinstance(result, Mapping)
        returned = {**copy.deepcopy(dict(result)), "headers": to_cf_headers(checked[2])}
        returned.pop("origin", None)
        return returned, checked

    def _send_cached(self, cached: CachedResponse) -> None:
        self._x_cache = x_cache(cached.status, hit=True)
        headers = [*cached.headers, ("Age", str(cached.age(time.monotonic())))]
        body, status, reason = cached.body, cached.status, cached.reason
        if cached.head_only:
            self._send(status, reason, headers, iter(()), _content_length(cached.headers))
            return
        lower = {n.lower(): v for n, v in cached.headers}
        wanted = self._request_headers.get("range")
        ranged = status == 200 and self.command == "GET" and wanted is not None
        if ranged and not not_modified(self._request_headers, lower):
            part = byte_range(wanted, len(body))
            if part is UNSATISFIABLE:
                unsatisfiable = [("Content-Range", f"bytes */{len(body)}")]
                self._send(416, reason_phrase(416), unsatisfiable, iter(()), 0)
                return
            if part is not None:
                headers.append(("Content-Range", part.content_range(len(body))))
                body = body[part.first : part.last + 1]
                status, reason = 206, reason_phrase(206)
        self._send(status, reason, headers, iter([body]), len(body))

    def _send_from_origin(self, key: str, response: OriginResponse, ttl: int) -> None:
        length = _content_length(response.headers)
        head_only = self.command == "HEAD"
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
                entry = CachedResponse(
                    response.status, response.reason, response.headers, b"".join(kept), head_only
                )
                self.server.cache.put(key, entry, ttl)
            if pending is not None:
                yield pending

        try:
            # Nothing to stream (a HEAD, an empty or unknown-length body): read it all and
            # store it before the first byte goes out, so the viewer's next request finds it.
            if head_only or not length:
                body = b"".join(tee())
                sent_length = length if head_only else len(body)
                self._send(
                    response.status, response.reason, response.headers, iter([body]), sent_length
                )
            else:
                self._send(response.status, response.reason, response.headers, tee(), length)
        finally:
            response.close()

    def _send_generated(self, response: GeneratedResponse, cache_as: str | None = None) -> None:
        """A function's own response; an origin-request function's is cached under
        ``cache_as`` as an origin's response would be."""
        self._x_cache = GENERATED
        reason = response.reason or reason_phrase(response.status)
        body = response.body
        if cache_as is not None:
            lower = {n.lower(): v for n, v in response.headers}
            ttl = ttl_for(response.status, lower, self.server.spec)
            head_only = self.command == "HEAD"
            entry = CachedResponse(
                response.status, reason, list(response.headers), b"" if head_only else body,
                head_only,
            )  # fmt: skip
            self.server.cache.put(cache_as, entry, ttl)
        self._send(response.status, reason, response.headers, iter([body]), len(body))

    def _send_error(self, status: int, message: str, result_type: str = "Error") -> None:
        """CloudFront's own error; ``result_type`` is what its X-Cache header names."""
        self._x_cache = f"{result_type} from cloudfront"
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
        """Send with CloudFront's and the policy's headers; a 200 becomes a 304 when the
        viewer's validators match. The chunks are drained even when not sent (HEAD, 304),
        so that a cacheable body is still stored."""
        self._responded = True
        lower = {n.lower(): v for n, v in headers}
        if status == 200 and not_modified(self._request_headers, lower):
            status, reason = 304, "Not Modified"
        with_body = self.command != "HEAD" and status != 304
        overridden = (
            {name.lower() for name, _ in self.server.spec.security_headers}
            if self._x_cache != GENERATED
            else set()
        )
        self.send_response_only(status, reason)
        self.send_header("Date", self.date_time_string())
        for name, value in headers:
            lower_name = name.lower()
            if lower_name in overridden or lower_name in ("content-length", "connection"):
                continue
            if status == 304 and lower_name in ("content-type", "content-encoding"):
                continue
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(length or 0))
        if self._x_cache != GENERATED:  # no AWS page says the policy applies to those
            for name, value in self.server.spec.security_headers:
                self.send_header(name, value)
            for name, value in self.server.spec.custom_headers:
                if name.lower() not in lower:  # custom headers do not override the origin's
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
            self.path[:200],
            status,
            self._x_cache.split(" ", 1)[0],
            (time.monotonic() - self._started) * 1000,
        )

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle  # noqa: N815


def _content_length(headers: Sequence[tuple[str, str]]) -> int | None:
    value = next((v for n, v in headers if n.lower() == "content-length"), None)
    return int(value) if value is not None and value.isdigit() else None


Page = tuple[int, list[tuple[str, str]], bytes]
LocalPages = Callable[[str, str, Sequence[tuple[str, str]]], Page]
"""(path, query, headers) -> (status, headers, body): the gallery, for GET/HEAD /_imgedge/."""


class CloudFrontServer(BackgroundHTTPServer):
    """The distribution ``spec``: ``edge`` invokes the edge function on the event the spec
    names, ``origin`` is the origin group."""

    thread_name = "cloudfront"

    def __init__(
        self,
        spec: Distribution,
        edge: EdgeFunction,
        origin: Origin,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cache: ResponseCache | None = None,
        distribution_domain: str = DISTRIBUTION_DOMAIN,
        local_pages: LocalPages | None = None,
    ) -> None:
        super().__init__(host, port, _Handler)
        self.spec = spec
        self.edge = edge
        self.origin = origin
        self.cache = cache or ResponseCache()
        self.inflight = InFlight()
        self.origin_requests = 0  # how many requests reached the origin group (for tests)
        self.distribution_domain = distribution_domain
        self.local_pages = local_pages
