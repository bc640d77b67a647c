"""A threaded HTTP server that runs in the background until ``stop()``: the base of the
local stack's emulators."""

from __future__ import annotations

import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

POLL_INTERVAL_S = 0.1  # how soon stop() takes effect


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class BackgroundHTTPServer(ThreadingHTTPServer):
    """Serves ``handler_class`` on ``host:port`` (port 0: a free one) in a daemon thread."""

    daemon_threads = True
    thread_name = "http"
    # socketserver's default backlog of 5 makes a burst of connections wait for the
    # kernel's SYN retransmits (1 s, 3 s): a CDN edge takes bursts.
    request_queue_size = 128

    def __init__(self, host: str, port: int, handler_class: type[BaseHTTPRequestHandler]) -> None:
        super().__init__((host, port), handler_class)
        self.host = host
        self.port: int = self.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self.serve_forever, args=(POLL_INTERVAL_S,), name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()
