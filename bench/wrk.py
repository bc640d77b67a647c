"""wrk, the HTTP load generator, driven with a Lua script that reports its numbers as one
JSON line: requests, duration, bytes, latency percentiles (wrk's own, per request, over
the whole run) and errors (socket errors and responses with a status of 400 or more)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.servers import find_tool

MARKER = "WRK_JSON "
REPORT_LUA = """\
-- Prints the run's numbers as one JSON line after MARKER.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,'
    .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,'
    .. '"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"max_us":%.1f,"mean_us":%.1f}\\n',
    "MARKER", summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
""".replace("MARKER", MARKER)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    bytes: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    socket_errors: int  # connect, read, write, timeout
    status_errors: int  # responses with a status >= 400
    connections: int
    threads: int

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.status_errors

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "requests_per_s": self.requests_per_s, "errors": self.errors}


def run(url: str, *, seconds: float, connections: int, threads: int = 1) -> WrkResult:
    """wrk on ``url`` for ``seconds`` with ``connections`` kept-alive connections."""
    binary = find_tool("wrk")
    threads = max(1, min(threads, connections))
    with tempfile.TemporaryDirectory(prefix="imgedge-wrk-") as scratch:
        script = Path(scratch) / "report.lua"
        script.write_text(REPORT_LUA)
        completed = subprocess.run(
            [binary, "--threads", str(threads), "--connections", str(connections),
             "--duration", f"{max(1, round(seconds))}s", "--timeout", "10s",
             "--script", str(script), url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )  # fmt: skip
    line = next((x for x in completed.stdout.splitlines() if x.startswith(MARKER)), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    data = json.loads(line.removeprefix(MARKER))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        bytes=data["bytes"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        status_errors=data["status"],
        connections=connections,
        threads=threads,
    )
