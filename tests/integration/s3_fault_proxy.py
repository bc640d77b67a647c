"""A fault-injecting HTTP proxy in front of the embedded S3, on loopback, for the tests:
503 SlowDown, 500 InternalError, connection resets (before the response, or halfway
through the body) and slow responses, on chosen methods, a chosen number of times."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from infra.local.http_server import BackgroundHTTPServer

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
INTERNAL = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)


@dataclass
class Fault:
    method: str  # "GET", "PUT", "HEAD", ...
    kind: str  # "503", "500", "reset", "reset-body", "slow"
    times: int = 1_000_000  # how many matching requests it hits
    path_contains: str = ""
    delay_s: float = 0.0  # for "slow"


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy
    protocol_version = "HTTP/1.1"

    def _proxy(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = self.server.take_fault(self.command, self.path)
        if fault is not None and fault.kind in ("503", "500"):
            payload = SLOW_DOWN if fault.kind == "503" else INTERNAL
            self.send_response(int(fault.kind))
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay_s)
        upstream = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            headers["Host"] = f"{self.server.upstream_host}:{self.server.upstream_port}"
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if fault is not None and fault.kind == "reset-body" and self.command == "GET":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._reset()
            return
        if self.command != "HEAD":
            self.wfile.write(data)

    def _reset(self) -> None:
        """Close with RST: the client sees 'connection reset by peer'."""
        self.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        self.close_connection = True
        self.connection.close()

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _proxy  # noqa: N815 (http.server names)

    def log_message(self, format: str, *args: object) -> None:
        pass


class FaultProxy(BackgroundHTTPServer):
    thread_name = "s3-fault-proxy"

    def __init__(self, upstream: str) -> None:
        super().__init__("127.0.0.1", 0, _Handler)
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "", parts.port or 80
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.injected: list[str] = []

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults = list(faults)
            self.injected = []

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and fault.path_contains in path and fault.times > 0:
                    fault.times -= 1
                    self.injected.append(f"{fault.kind} {method} {path}")
                    return fault
        return None
