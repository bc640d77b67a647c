"""The embedded X-Ray daemon speaks the daemon's UDP wire format; `imgedge traces` reads
back what it recorded."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from infra.local.traces import read_traces, waterfall
from infra.local.xray_daemon import XRayDaemon, parse_datagram, segments_path
from regional_resizer.tracing import DAEMON_HEADER, daemon_address, send_segment

ROOT = "1-5759e988-bd862e3fe1be46a994272793"


def segment(name: str, seg_id: str, start: float, end: float, **extra: object) -> dict[str, object]:
    return {"name": name, "id": seg_id, "trace_id": ROOT, "start_time": start, "end_time": end,
            **extra}  # fmt: skip


def wait_for_lines(path: Path, count: int) -> list[str]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.02)
    raise AssertionError(f"{path} never held {count} lines")


def test_datagram_format() -> None:
    doc = {"name": "x"}
    assert parse_datagram(DAEMON_HEADER + json.dumps(doc).encode()) == doc
    assert parse_datagram(json.dumps(doc).encode()) is None  # no header line
    assert parse_datagram(b'{"format": "json", "version": 2}\n{}') is None
    assert parse_datagram(DAEMON_HEADER + b"[1, 2]") is None
    assert parse_datagram(DAEMON_HEADER + b"\xff\xfe") is None


def test_daemon_records_what_it_receives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    daemon = XRayDaemon(tmp_path).start()
    try:
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.address)
        assert daemon_address() == ("127.0.0.1", daemon.port)
        send_segment(segment("edge", "0123456789abcdef", 10.0, 10.001))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"garbage", ("127.0.0.1", daemon.port))
        child = segment(
            "resizer", "1111111111111111", 10.002, 10.050,
            parent_id="0123456789abcdef",
            subsegments=[{"name": "S3", "id": "2222222222222222", "start_time": 10.003,
                          "end_time": 10.010, "aws": {"operation": "GetObject"}}],
            error=True, http={"response": {"status": 404}},
        )  # fmt: skip
        send_segment(child)
        lines = wait_for_lines(segments_path(tmp_path), 2)
    finally:
        daemon.stop()
    assert [json.loads(line)["name"] for line in lines] == ["edge", "resizer"]

    traces = read_traces(tmp_path)
    assert [t["trace_id"] for t in traces] == [ROOT]
    text = waterfall(traces[0])
    rows = text.splitlines()
    assert rows[0].startswith(f"trace {ROOT}")
    assert rows[1].lstrip().startswith("edge")
    assert rows[2].lstrip().startswith("resizer") and "404 error" in rows[2]
    assert "S3 GetObject" in rows[3]
    # nesting shows as indentation: edge > resizer > S3
    indents = [len(r) - len(r.lstrip()) for r in rows[1:4]]
    assert indents[0] < indents[1] < indents[2]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.2:3000", ("127.0.0.2", 3000)),
        ("tcp:127.0.0.1:2000 udp:127.0.0.3:2001", ("127.0.0.3", 2001)),
    ],
)
def test_address_forms(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: tuple[str, int]
) -> None:
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", value)
    assert daemon_address() == expected
