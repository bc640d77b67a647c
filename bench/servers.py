"""The servers a load run measures, each a child process on 127.0.0.1: ``imgedge serve``
(the whole local stack) and nginx serving files from a directory; and their memory, read
from /proc."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")  # nginx lives there, often off a user's PATH
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


class MissingTool(RuntimeError):
    """A program the load run needs is not installed."""


def find_tool(name: str) -> str:
    """The path of ``name`` (PATH, then the sbin directories), or MissingTool."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    found = shutil.which(name, path=path)
    if found is None:
        raise MissingTool(
            f"{name} is not installed: `make test` installs it (as root), or "
            f"`apt-get install {name}` (the Debian package of that name)"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# --- memory --------------------------------------------------------------------------------


def process_tree(pid: int) -> set[int]:
    """``pid`` and every process below it, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree = {pid}
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        tree |= frontier
    return tree


def rss_mb(pids: set[int]) -> float:
    """The resident memory of ``pids`` together (VmRSS), in MB (10^6 bytes)."""
    total_kb = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # gone meanwhile
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
                break
    return total_kb * 1024 / 1e6


class PeakRss:
    """Samples the RSS of a process tree in the background; ``peak_mb`` is the largest sum
    seen (``with PeakRss(pid) as peak: ...``)."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        self.peak_mb = max(self.peak_mb, rss_mb(process_tree(self.pid)))
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> Self:
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# --- imgedge serve -------------------------------------------------------------------------


class ImgedgeStack:
    """``imgedge serve --port 0 --s3-port 0 --data-dir DIR`` as a child process, with its
    sample originals; ``edge``, ``s3`` and ``samples`` once it has printed ``ready``."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.edge = ""
        self.s3 = ""
        self.samples: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.data_dir / "serve.stderr.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "serve", "--host", HOST, "--port", "0",
             "--s3-port", "0", "--data-dir", str(self.data_dir), *self.extra],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )  # fmt: skip
        printed = _lines_until(self.process, "ready", START_TIMEOUT_S)
        if printed[-1:] != ["ready"]:
            self.stop()
            log = (self.data_dir / "serve.stderr.log").read_text()[-3000:]
            raise RuntimeError(f"imgedge serve did not get ready: {printed}\n{log}")
        self.edge = next(line.removeprefix("edge: ") for line in printed if line.startswith("edge"))
        self.s3 = next(line.removeprefix("s3: ") for line in printed if line.startswith("s3: "))
        self.samples = [line for line in printed if line.startswith("http")]
        return self

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; the exit status."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        code = _terminate(process, signal.SIGTERM)
        if process.stdout is not None:
            process.stdout.close()
        if self._log is not None:
            self._log.close()
        return code

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _lines_until(process: subprocess.Popen[str], last: str, timeout_s: float) -> list[str]:
    """stdout lines up to ``last`` (or EOF, or the timeout); a thread keeps draining it."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, name="stdout-pump", daemon=True).start()
    printed: list[str] = []
    deadline = time.monotonic() + timeout_s
    while not printed or printed[-1] != last:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        printed.append(line)
    return printed


def _terminate(process: subprocess.Popen[str], sig: signal.Signals) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


# --- nginx ---------------------------------------------------------------------------------

NGINX_CONF = """\
# A load run's baseline: static files from {root}, on {host}:{port} only.
worker_processes 1;
pid {scratch}/nginx.pid;
error_log {scratch}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {scratch}/tmp/body;
    proxy_temp_path {scratch}/tmp/proxy;
    fastcgi_temp_path {scratch}/tmp/fastcgi;
    uwsgi_temp_path {scratch}/tmp/uwsgi;
    scgi_temp_path {scratch}/tmp/scgi;
    types {{ }}
    default_type {content_type};
    server {{
        listen {host}:{port};
        root {root};
        add_header Cache-Control "public, max-age=31536000, immutable";
    }}
}}
"""


class Nginx:
    """nginx (one worker process) serving ``root`` on 127.0.0.1, run in the foreground as
    a child, from a configuration written into ``scratch``. Its worker may run as another
    user (``nobody`` when started as root): ``root`` must be world-readable."""

    def __init__(self, scratch: Path, root: Path, content_type: str = "image/webp") -> None:
        self.scratch = scratch
        self.root = root
        self.content_type = content_type
        self.port = 0
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Self:
        binary = find_tool("nginx")
        self.scratch.mkdir(parents=True, exist_ok=True)
        (self.scratch / "tmp").mkdir(exist_ok=True)
        self.port = free_port()
        conf = self.scratch / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                scratch=self.scratch,
                root=self.root,
                host=HOST,
                port=self.port,
                content_type=self.content_type,
            )
        )
        log = self.scratch / "nginx-error.log"
        self.process = subprocess.Popen(
            [binary, "-p", str(self.scratch), "-c", str(conf), "-e", str(log),
             "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        if not _wait_listening(self.port, self.process.poll, START_TIMEOUT_S):
            self.stop()
            detail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"nginx did not start on {self.url}:\n{detail}")
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        _terminate(process, signal.SIGQUIT)  # graceful: the master stops its worker
        if process.stderr is not None:
            process.stderr.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _wait_listening(port: int, exited: Callable[[], int | None], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and exited() is None:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def get(url: str, headers: dict[str, str] | None = None, timeout_s: float = 60) -> tuple[
    int, dict[str, str], bytes
]:  # fmt: skip
    """One GET: status, headers (lower-case names) and body, whatever the status."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with DIRECT.open(request, timeout=timeout_s) as response:
            return response.status, _lower(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, _lower(error.headers.items()), error.read()


def _lower(items: list[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in items}
