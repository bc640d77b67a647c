"""An X-Ray daemon emulator: UDP on loopback, the daemon's wire format, recorded to disk.

Each datagram is a JSON header line ``{"format": "json", "version": 1}``, a newline, then
one segment document. Received documents are appended, one JSON object per line, to
``<data dir>/xray/segments.jsonl``; ``imgedge traces`` reads them back.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Self

from infra.local.background import BackgroundLoop

log = logging.getLogger("imgedge.xray")

MAX_DATAGRAM = 65_535
SEGMENTS_FILE = Path("xray") / "segments.jsonl"


def segments_path(data_dir: Path) -> Path:
    return data_dir / SEGMENTS_FILE


def parse_datagram(datagram: bytes) -> dict[str, object] | None:
    """The segment document in one datagram, or None if it is not in the daemon's format."""
    header, sep, body = datagram.partition(b"\n")
    try:
        if not sep or json.loads(header) != {"format": "json", "version": 1}:
            return None
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


class XRayDaemon(BackgroundLoop):
    """Listens on ``host:port`` (port 0: a free one) until ``stop()``."""

    thread_name = "xray-daemon"

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self.path = segments_path(data_dir)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(0.1)
        self.host, self.port = host, int(self._sock.getsockname()[1])

    @property
    def address(self) -> str:
        """As AWS_XRAY_DAEMON_ADDRESS wants it."""
        return f"{self.host}:{self.port}"

    def start(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return super().start()

    def stop(self) -> None:
        super().stop()
        self._sock.close()

    def step(self) -> None:
        """Record one datagram (the socket's timeout lets ``stop()`` take effect)."""
        try:
            datagram = self._sock.recv(MAX_DATAGRAM)
        except TimeoutError:
            return
        document = parse_datagram(datagram)
        if document is None:
            log.warning("xray: dropped a datagram not in the daemon's format")
            return
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(document, separators=(",", ":")) + "\n")
