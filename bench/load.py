"""The local stack under load, against nginx serving the same bytes, in the same run.

    python -m bench.load [--seconds N] [--connections C] [--misses M]
                         [--miss-connections C] [--json FILE]

1. Starts ``imgedge serve`` (embedded S3, the CloudFront emulator running the edge
   router, the resizer's worker processes; with its sample originals) on free ports of
   127.0.0.1, makes one derivative (HIT_QUERY of the landscape sample) and writes its bytes
   to a directory that nginx (one worker process) serves on 127.0.0.1.
2. Cache hits: wrk (one thread, C kept-alive connections, N seconds, after a one-second
   warm-up) on that URL through the edge, every request a CloudFront cache hit; then on
   nginx's copy. Requests/s, p50/p99 latency, errors (socket errors and statuses >= 400),
   the peak RSS of each side's process tree (sampled every 0.1 s from /proc: the serve
   process and all its children; nginx's master and worker), and imgedge/nginx ratios.
3. Distinct misses: M derivative URLs of the sample originals (allowed sizes, shapes and
   formats, each a different canonical key, so each one is rendered), each requested once
   by C concurrent viewers (a Python thread pool: wrk cannot send each URL exactly once).
   Requests/s, p50/p99 latency, the count of each status class and of X-Cache values,
   and the stack's peak RSS.

Everything is bounded: the hit phases by time, the misses by count and by --miss-seconds.
Prints a table; ``--json FILE`` writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bench import wrk
from bench.machine import cpu_model
from bench.servers import ImgedgeStack, Nginx, PeakRss, find_tool, get
from edge_router.normalize import normalize
from infra.local.samples import SAMPLES
from shared.config import Config

HIT_SOURCE = "photos/landscape.jpg"
HIT_QUERY = "s=1024x&f=jpeg"  # 17 KB: a typical web image
MISS_FORMATS = ("webp", "jpeg", "png", "avif")
MISS_MAX_SIZE = 1024
WARM_UP_S = 1.0
SEED = 7


# --- the workloads -------------------------------------------------------------------------


def miss_paths(count: int, exclude: set[str], seed: int = SEED) -> list[str]:
    """``count`` viewer paths of the sample originals, each naming a different derivative
    (by its canonical key, none of ``exclude``), in a shuffled but repeatable order."""
    config = Config()
    sizes = [size for size in config.sizes if size <= MISS_MAX_SIZE]
    queries = []
    for size in sizes:
        for fmt in MISS_FORMATS:
            queries += [
                f"s={size}x&f={fmt}",
                f"s=x{size}&f={fmt}",
                f"s={size}x{size}&f={fmt}",
                f"s={size}x{size * 3 // 4}&fit=contain&f={fmt}",
            ]
    chosen: dict[str, str] = {}
    for sample in SAMPLES:
        for query in queries:
            key = normalize(f"/{sample.key}", query, None, config).key
            if key not in exclude:
                chosen.setdefault(key, f"/{sample.key}?{query}")
    paths = sorted(chosen.values())
    random.Random(seed).shuffle(paths)
    if count > len(paths):
        raise ValueError(f"at most {len(paths)} distinct misses")
    return paths[:count]


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HitPhase:
    target: str
    url: str
    wrk: wrk.WrkResult
    peak_rss_mb: float

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "url": self.url, **self.wrk.to_json(),
                "peak_rss_mb": self.peak_rss_mb}  # fmt: skip


@dataclass
class MissBurst:
    paths: list[str]  # the viewer paths (and query strings) asked for, each once
    connections: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    x_cache: Counter[str] = field(default_factory=Counter)
    socket_errors: list[str] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    @property
    def planned(self) -> int:
        return len(self.paths)

    @property
    def sent(self) -> int:
        return len(self.latencies_ms) + len(self.socket_errors)

    @property
    def requests_per_s(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def count(self, status_class: int) -> int:
        return sum(n for status, n in self.statuses.items() if status // 100 == status_class)

    def to_json(self) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "sent": self.sent,
            "connections": self.connections,
            "seconds": self.seconds,
            "requests_per_s": self.requests_per_s,
            "p50_ms": percentile(self.latencies_ms, 50),
            "p90_ms": percentile(self.latencies_ms, 90),
            "p99_ms": percentile(self.latencies_ms, 99),
            "max_ms": max(self.latencies_ms, default=0.0),
            "status_2xx": self.count(2),
            "status_3xx": self.count(3),
            "status_4xx": self.count(4),
            "status_5xx": self.count(5),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "x_cache": dict(self.x_cache),
            "socket_errors": len(self.socket_errors),
            "peak_rss_mb": self.peak_rss_mb,
        }


# --- one run -------------------------------------------------------------------------------


class LoadRun:
    """Both servers of one run, serving the same derivative (``with LoadRun() as run``).
    Scratch space is a fresh world-readable directory under the system's temporary
    directory (nginx's worker may run as ``nobody``), removed at the end."""

    def __init__(self) -> None:
        self.scratch = Path()
        self.stack: ImgedgeStack | None = None
        self.nginx: Nginx | None = None
        self.hit_path = f"/{HIT_SOURCE}?{HIT_QUERY}"
        self.hit_key = normalize(f"/{HIT_SOURCE}", HIT_QUERY, None, Config()).key
        self.body = b""

    @property
    def edge(self) -> ImgedgeStack:
        assert self.stack is not None
        return self.stack

    @property
    def baseline(self) -> Nginx:
        assert self.nginx is not None
        return self.nginx

    def start(self) -> Self:
        find_tool("wrk")  # fail before anything starts
        find_tool("nginx")
        self.scratch = Path(tempfile.mkdtemp(prefix="imgedge-load-"))
        self.scratch.chmod(0o755)
        try:
            self.stack = ImgedgeStack(self.scratch / "imgedge").start()
            self.body = self._warm()
            root = self.scratch / "www"
            path = root / self.hit_key
            path.parent.mkdir(parents=True)
            path.write_bytes(self.body)
            for directory in (root, *path.relative_to(root).parents):
                (root / directory).chmod(0o755)
            path.chmod(0o644)
            self.nginx = Nginx(self.scratch / "nginx", root).start()
            status, _headers, body = get(f"{self.nginx.url}/{self.hit_key}")
            if (status, body) != (200, self.body):
                raise RuntimeError(f"nginx does not serve the derivative ({status})")
        except BaseException:
            self.stop()
            raise
        return self

    def _warm(self) -> bytes:
        """Make the hit URL's derivative; its bytes, once the edge answers it from cache."""
        url = self.edge.edge + self.hit_path
        first = get(url)
        second = get(url)
        if first[0] != 200 or second[0] != 200 or first[2] != second[2]:
            raise RuntimeError(f"cannot make {url}: {first[0]}, {second[0]}")
        if not second[1].get("x-cache", "").startswith("Hit"):
            raise RuntimeError(f"{url} is not a cache hit: {second[1].get('x-cache')}")
        return second[2]

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
            self.nginx = None
        if self.stack is not None:
            self.stack.stop()
            self.stack = None
        if self.scratch != Path():
            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- phases --------------------------------------------------------------------------

    def hits(self, target: str, *, seconds: float, connections: int, threads: int = 1) -> HitPhase:
        """wrk on the derivative, through imgedge's edge or from nginx."""
        if target == "imgedge":
            url, pid = self.edge.edge + self.hit_path, self.edge.pid
        elif target == "nginx":
            url, pid = f"{self.baseline.url}/{self.hit_key}", self.baseline.pid
        else:
            raise ValueError(f"unknown target {target!r}")
        with PeakRss(pid) as peak:
            result = wrk.run(url, seconds=seconds, connections=connections, threads=threads)
        return HitPhase(target, url, result, peak.peak_mb)

    def misses(self, count: int, *, connections: int, max_seconds: float) -> MissBurst:
        """``count`` distinct misses through the edge, ``connections`` at a time; no new
        request starts after ``max_seconds``."""
        paths = miss_paths(count, {self.hit_key})
        urls = iter([self.edge.edge + path for path in paths])
        burst = MissBurst(paths, connections)
        lock = threading.Lock()
        started = time.monotonic()
        stop_at = started + max_seconds

        def next_url() -> Iterator[str]:
            while time.monotonic() < stop_at:
                with lock:
                    url = next(urls, None)
                if url is None:
                    return
                yield url

        def viewer(_: int) -> None:
            for url in next_url():
                begun = time.perf_counter()
                try:
                    status, headers, _body = get(url)
                except OSError as error:
                    with lock:
                        burst.socket_errors.append(f"{url}: {error}")
                    continue
                elapsed_ms = (time.perf_counter() - begun) * 1000
                with lock:
                    burst.latencies_ms.append(elapsed_ms)
                    burst.statuses[status] += 1
                    burst.x_cache[headers.get("x-cache", "(none)").split(" ")[0]] += 1

        with PeakRss(self.edge.pid) as peak, ThreadPoolExecutor(connections) as pool:
            list(pool.map(viewer, range(connections)))
        burst.seconds = time.monotonic() - started
        burst.peak_rss_mb = peak.peak_mb
        return burst


# --- the report ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    try:
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        memory_kb = 0
    return {
        "cpu": cpu_model() or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "nginx": _version([find_tool("nginx"), "-v"]),
        "wrk": _version([find_tool("wrk"), "--version"]).split(" [")[0],
    }


def _version(command: list[str]) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = (completed.stdout + completed.stderr).strip().splitlines()
    return lines[0] if lines else "?"


def ratios(imgedge: HitPhase, nginx: HitPhase) -> dict[str, float]:
    """imgedge / nginx, for each number."""

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("inf")

    return {
        "requests_per_s": ratio(imgedge.wrk.requests_per_s, nginx.wrk.requests_per_s),
        "p50_ms": ratio(imgedge.wrk.p50_ms, nginx.wrk.p50_ms),
        "p99_ms": ratio(imgedge.wrk.p99_ms, nginx.wrk.p99_ms),
        "peak_rss_mb": ratio(imgedge.peak_rss_mb, nginx.peak_rss_mb),
    }


def table(report: dict[str, Any]) -> str:
    m, hits, misses = report["machine"], report["hits"], report["misses"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}, {m['nginx']}, {m['wrk']}; load average at start "
        f"{m['load_average'][0]}",
        "",
        f"cache hits: GET {hits['path']} ({hits['bytes']:,} bytes), "
        f"{hits['connections']} connections, {hits['seconds']:g} s each, wrk {hits['threads']} "
        "thread",
        f"{'':22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>9}{'peak RSS MB':>13}",
    ]
    for name, label in (("imgedge", "imgedge (edge hit)"), ("nginx", "nginx (same bytes)")):
        side = hits[name]
        lines.append(
            f"{label:22}{side['requests_per_s']:>10,.0f}{side['p50_ms']:>10.2f}"
            f"{side['p99_ms']:>10.2f}{side['errors']:>9}{side['peak_rss_mb']:>13.1f}"
        )
    r = hits["ratios"]
    lines.append(
        f"{'imgedge / nginx':22}{r['requests_per_s']:>10.3f}{r['p50_ms']:>10.1f}"
        f"{r['p99_ms']:>10.1f}{'':>9}{r['peak_rss_mb']:>13.1f}"
    )
    lines += [
        "",
        f"distinct misses: {misses['planned']} derivatives of {len(SAMPLES)} originals "
        f"(sizes up to {MISS_MAX_SIZE}, {', '.join(MISS_FORMATS)}), "
        f"{misses['connections']} connections",
        f"  sent {misses['sent']} in {misses['seconds']:.1f} s: "
        f"{misses['requests_per_s']:.1f} req/s, p50 {misses['p50_ms']:,.0f} ms, "
        f"p99 {misses['p99_ms']:,.0f} ms, max {misses['max_ms']:,.0f} ms",
        f"  2xx {misses['status_2xx']}, 3xx {misses['status_3xx']}, 4xx {misses['status_4xx']}"
        f", 5xx {misses['status_5xx']}, socket errors {misses['socket_errors']}; X-Cache "
        + ", ".join(f"{k} {v}" for k, v in sorted(misses["x_cache"].items()))
        + f"; peak RSS {misses['peak_rss_mb']:.1f} MB",
    ]
    return "\n".join(lines)


def run(
    *,
    seconds: float,
    connections: int,
    misses: int,
    miss_connections: int,
    miss_seconds: float,
    threads: int = 1,
) -> dict[str, Any]:
    """One whole run: the report as JSON-ready data."""
    environment = machine()
    with LoadRun() as load:
        phases: dict[str, HitPhase] = {}
        for target in ("imgedge", "nginx"):
            load.hits(target, seconds=WARM_UP_S, connections=connections, threads=threads)
            phases[target] = load.hits(
                target, seconds=seconds, connections=connections, threads=threads
            )
        burst = load.misses(misses, connections=miss_connections, max_seconds=miss_seconds)
        hit_bytes = len(load.body)
    return {
        "machine": environment,
        "hits": {
            "path": load.hit_path,
            "bytes": hit_bytes,
            "connections": connections,
            "threads": threads,
            "seconds": seconds,
            "imgedge": phases["imgedge"].to_json(),
            "nginx": phases["nginx"].to_json(),
            "ratios": ratios(phases["imgedge"], phases["nginx"]),
        },
        "misses": burst.to_json(),
    }


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="The local stack under load (wrk), against nginx on the same bytes.",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="each hit phase (5)")
    parser.add_argument("--connections", type=int, default=64, help="hit connections (64)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--misses", type=int, default=100, help="distinct misses (100)")
    parser.add_argument("--miss-connections", type=int, default=16, help="concurrent misses (16)")
    parser.add_argument(
        "--miss-seconds", type=float, default=60.0, help="no miss starts after this (60)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the numbers here")
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.connections < 1 or args.misses < 1 or args.miss_connections < 1:
        parser.error("--seconds, --connections, --misses and --miss-connections must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    report = run(
        seconds=args.seconds,
        connections=args.connections,
        misses=args.misses,
        miss_connections=args.miss_connections,
        miss_seconds=args.miss_seconds,
        threads=args.threads,
    )
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
