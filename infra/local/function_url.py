"""A Lambda function URL on 127.0.0.1: HTTP request -> payload 2.0 event -> worker -> HTTP.

The response mapping follows the Lambda Developer Guide ("Invoking Lambda function URLs"):
a dict with ``statusCode`` is taken as is (``headers``, ``cookies`` as Set-Cookie,
``body`` base64-decoded when ``isBase64Encoded``); any other return value becomes a 200
``application/json`` response with the value as JSON. An error, a timeout, a crashed worker,
a worker over its memory or a response over the 6 MB buffered limit answer 502, as function
URLs do; no idle worker within the wait answers 429.
"""

from __future__ import annotations

import base64
import json
import logging
from http.server import BaseHTTPRequestHandler
from typing import Any

from infra.local.events import function_url_event as build_event
from infra.local.events import new_trace_id
from infra.local.http_server import BackgroundHTTPServer, reason_phrase
from infra.local.lambda_runtime import Invocation, WorkerPool

log = logging.getLogger("imgedge.local")


MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # buffered response payload limit
MAX_REQUEST_BYTES = 6 * 1024 * 1024


class ResponseError(ValueError):
    """The function's return value is not a valid function URL response."""


def http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for a handler's return value."""
    if len(json.dumps(result, default=str)) > MAX_RESPONSE_BYTES:
        raise ResponseError("response payload larger than 6 MB")
    if not (isinstance(result, dict) and "statusCode" in result):
        return 200, [("Content-Type", "application/json")], json.dumps(result).encode()
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ResponseError(f"invalid statusCode {status!r}")
    headers = result.get("headers") or {}
    cookies = result.get("cookies") or []
    if not isinstance(headers, dict) or not isinstance(cookies, list):
        raise ResponseError("headers must be an object and cookies a list")
    pairs = [(str(name), str(value)) for name, value in headers.items()]
    pairs += [("Set-Cookie", str(cookie)) for cookie in cookies]
    body = result.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        data = json.dumps(body).encode()
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError as error:
            raise ResponseError("body is not valid base64") from error
    else:
        data = body.encode("utf-8")
    return status, pairs, data


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go out in separate writes: without this, small responses wait
    # for the peer's delayed ACK (40 ms).
    disable_nagle_algorithm = True
    server: FunctionUrlServer
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "imgedge-function-url"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one REPORT line per invocation instead

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._send(413, [("Content-Type", "application/json")], b'{"message":"Too large"}')
            return
        body = self.rfile.read(length) if length else b""
        raw_path, _, raw_query = self.path.partition("?")
        client_ip = self.client_address[0]
        headers = [(n, v) for n, v in self.headers.items() if n.lower() != "x-forwarded-for"]
        forwarded_for = self.headers.get("X-Forwarded-For")
        headers.append(
            ("x-forwarded-for", f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip)
        )
        headers += [("x-forwarded-proto", "http"), ("x-forwarded-port", str(self.server.port))]
        if "x-amzn-trace-id" not in {n.lower() for n, _ in headers}:
            headers.append(("x-amzn-trace-id", new_trace_id()))

        event = build_event(
            method=self.command,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            source_ip=client_ip,
            domain_name=self.server.domain_name,
        )
        request_id = event["requestContext"]["requestId"]
        invocation = self.server.pool.invoke(event, request_id)
        self._answer(invocation, request_id)

    def _answer(self, invocation: Invocation, request_id: str) -> None:
        peak = invocation.max_memory_used_mb
        log.info(
            "REPORT %s RequestId: %s Duration: %.1f ms Memory Size: %d MB "
            "Max Memory Used: %s MB %s %s",
            self.server.pool.spec.name,
            request_id,
            invocation.duration_ms,
            self.server.pool.spec.memory_mb,
            "?" if peak is None else f"{peak:.0f}",
            invocation.outcome,
            self.path,
        )
        extra = [("x-amzn-RequestId", request_id)]
        if invocation.outcome == "throttled":
            self._send(
                429, [("Content-Type", "application/json"), *extra], b'{"Message":"Rate Exceeded."}'
            )
            return
        if invocation.ok:
            try:
                status, headers, body = http_response(invocation.result)
            except ResponseError as error:
                log.error("invalid response from %s: %s", self.server.pool.spec.name, error)
            else:
                self._send(status, headers + extra, body)
                return
        elif invocation.error:
            log.error("%s %s: %s", self.server.pool.spec.name, invocation.outcome, invocation.error)
        self._send(
            502,
            [("Content-Type", "application/json"), *extra],
            b'{"Message":"Internal Server Error"}',
        )

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status, reason_phrase(status))
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle  # noqa: N815


class FunctionUrlServer(BackgroundHTTPServer):
    """The function URL of ``pool``'s function, on ``host`` and a free port."""

    thread_name = "function-url"

    def __init__(self, pool: WorkerPool, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port, _Handler)
        self.pool = pool
        # What Lambda would call it: <url-id>.lambda-url.<region>.on.aws
        self.domain_name = f"{pool.spec.name}.lambda-url.us-east-1.on.aws"
