"""The two worker processes (one per side, started afresh for each case), and their peak
memory.

Both are pinned to the same CPUs (one by default; ``--threads N``: N) from before their
first instruction (so every thread they start inherits them), are told to use that many
threads, and run one at a time: the parent waits for one to answer before it asks the
other. Peak RSS is the kernel's VmHWM of each worker, reset after the
warm-up (``clear_refs``) and read after the timed rounds: the most memory resident at once
while running the case, the process's own baseline (interpreter, libraries) included.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from shared.config import RESAMPLING

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def thread_limits(threads: int) -> dict[str, str]:
    """The environment that holds both sides to ``threads`` threads."""
    return {
        "OMP_NUM_THREADS": str(threads),  # any OpenMP a codec library might use
        "UV_THREADPOOL_SIZE": str(threads),  # node's libuv pool, where sharp runs its work
        "VIPS_CONCURRENCY": str(threads),  # libvips (sharp.concurrency(N) says it again)
    }


ONE_THREAD = thread_limits(1)


def pinned_cpus(threads: int) -> set[int]:
    """The ``threads`` highest-numbered CPUs this process may run on."""
    usable = sorted(os.sched_getaffinity(0))
    if threads > len(usable):
        raise SystemExit(f"--threads {threads}: only {len(usable)} CPUs to run them on")
    return set(usable[-threads:])


def add_arguments(parser: argparse.ArgumentParser, threads: bool = False) -> None:
    """The options both benchmarks take: imgedge's resampling and sharp's scratch folder;
    with ``threads``, ``--threads`` too."""
    parser.add_argument(
        "--resampling",
        choices=RESAMPLING,
        default=RESAMPLING[0],
        help="imgedge's configured resampling (shared.config)",
    )
    if threads:
        parser.add_argument(
            "--threads",
            type=int,
            default=1,
            help="threads (and CPUs) for each side: imgedge's threads, sharp.concurrency (1)",
        )
    parser.add_argument(
        "--scratch",
        default=str(REPO / ".imgedge" / "bench"),
        help="where sharp and numpy are installed (once)",
    )


class Worker:
    """A child answering one JSON line with one JSON line."""

    def __init__(self, name: str, argv: list[str], cpu: int | set[int], threads: int = 1) -> None:
        self.name = name
        cpus = {cpu} if isinstance(cpu, int) else cpu
        self.process = subprocess.Popen(
            argv,
            cwd=REPO,
            env={**os.environ, **thread_limits(threads)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: os.sched_setaffinity(0, cpus),  # noqa: PLW1509
        )

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker stopped (exit {self.process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def peak_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024

    def close(self) -> None:
        if self.process.poll() is None:
            self.ask_quietly({"cmd": "quit"})
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def ask_quietly(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.close()
        except BrokenPipeError:
            pass


def imgedge(
    corpus: Path, cpu: int | set[int], resampling: str = "balanced", threads: int = 1
) -> Worker:
    argv = [sys.executable, "-m", "bench.imgedge_worker", str(corpus), resampling, str(threads)]
    return Worker("imgedge", argv, cpu, threads)


def sharp(
    scratch: Path, corpus: Path, cpu: int | set[int], cases: dict[str, Any], threads: int = 1
) -> tuple[Worker, Any]:
    """The node worker, set up with the cases; and sharp's library versions."""
    worker = Worker(
        "sharp",
        ["node", str(BENCH / "sharp_worker.mjs"), str(scratch), str(corpus)],
        cpu,
        threads,
    )
    answer = worker.ask({"cmd": "setup", "cases": cases, "concurrency": threads})
    if answer.get("concurrency") != threads:
        raise RuntimeError(f"sharp runs {answer.get('concurrency')} threads, not {threads}")
    return worker, answer["versions"]
