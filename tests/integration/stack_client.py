"""Running `imgedge serve` as a subprocess and talking to it over HTTP, for the tests."""

from __future__ import annotations

import io
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import IO, Any

import pytest
from PIL import Image

from bench.servers import process_tree
from tests.conftest import REPO

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0

# --- running `imgedge serve` ---------------------------------------------------------------


@dataclass
class Served:
    process: subprocess.Popen[str]
    edge: str
    s3: str
    samples: list[str]
    stderr: IO[str]
    pump: threading.Thread

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Signal the stack; its exit status (killed after STOP_TIMEOUT_S)."""
        self.process.send_signal(sig)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self.pump.join(STOP_TIMEOUT_S)
            assert self.process.stdout is not None
            self.process.stdout.close()
            self.stderr.close()


def start_serve(data_dir: Path, *extra: str) -> Served:
    """``imgedge serve`` on free ports, once it has printed ``ready``."""
    stderr = open(data_dir.parent / f"{data_dir.name}.stderr.log", "w+")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "serve", "--port", "0", "--s3-port", "0",
         "--data-dir", str(data_dir), *extra],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # keeps draining stdout for the stack's whole life
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    pumping = threading.Thread(target=pump, daemon=True)
    pumping.start()
    printed: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    while not printed or printed[-1] != "ready":
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            process.kill()
            process.wait()
            pumping.join()
            assert process.stdout is not None
            process.stdout.close()
            stderr.seek(0)
            log = stderr.read()[-4000:]
            stderr.close()
            pytest.fail(f"imgedge serve did not get ready: {printed}\n{log}")
        printed.append(line)
    edge = next(line.removeprefix("edge: ") for line in printed if line.startswith("edge: "))
    s3 = next(line.removeprefix("s3: ") for line in printed if line.startswith("s3: "))
    samples = [line for line in printed if line.startswith("http")]
    assert printed[:2] == [f"edge: {edge}", f"s3: {s3}"], printed
    return Served(process, edge, s3, samples, stderr, pumping)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc."""
    return process_tree(pid) - {pid}


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pids: set[int], timeout_s: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while (alive := {pid for pid in pids if running(pid)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@dataclass
class Reply:
    status: int
    headers: Message  # case-insensitive, as HTTP header names are
    body: bytes

    def image(self) -> Image.Image:
        return Image.open(io.BytesIO(self.body))


DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with DIRECT.open(request, timeout=30) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read())


def jpeg(size: tuple[int, int] = (1200, 800)) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def put_original(s3: Any, key: str, body: bytes, content_type: str = "image/jpeg") -> None:
    s3.put_object(Bucket="originals", Key=key, Body=body, ContentType=content_type)


def max_age(cache_control: str) -> int:
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name == "max-age":
            return int(value)
    raise AssertionError(f"no max-age in {cache_control!r}")


# --- the stack -----------------------------------------------------------------------------
