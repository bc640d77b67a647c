"""A Lambda-like runtime: handlers run in worker processes, one event at a time each.

Like Lambda, a worker imports the handler once (the init phase), then handles one event
per invocation; a worker that dies or overruns its timeout is killed and replaced, and its
invocation fails. Workers are started with the ``spawn`` context, so they share nothing
with the emulators' process but what is passed to them: the handler's import path and its
environment.

Memory: each worker is held to its function's ``memory_mb``. "Memory is the amount of
memory available to your function at runtime" (Lambda Developer Guide, "Configuring Lambda
function memory", https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html);
a runtime that goes over it is killed (its log says "Runtime exited with error: signal:
killed", error type ``Runtime.OutOfMemory``, Max Memory Used at Memory Size), and "if the
Lambda function crashes or times out during the Invoke phase, Lambda resets the execution
environment" (Lambda Developer Guide, "Understanding the Lambda execution environment
lifecycle", https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html):
the invocation fails and the next one gets a fresh environment, with a new init. Here the
worker's peak resident set size (``VmHWM`` in /proc/<pid>/status, a high-water mark, so a
spike between two samples still counts) is sampled every ``MEMORY_SAMPLE_S`` while the init
and each invocation run, and once more when they end; over ``memory_mb`` MiB the worker is
killed, the invocation's outcome is ``out_of_memory`` (the init's: InitError) and the pool
replaces it. Lambda's own measure (Max Memory Used) covers the whole execution environment,
so a worker's RSS alone is, if anything, the lenient side of it.

Code: with ``code_dir``, the handler runs from an extracted deployment package, as Lambda
runs it from /var/task: that directory comes first on ``sys.path``, and any module the
worker already imported whose top-level package is in the directory is dropped first (a
spawned worker re-imports the parent's main module, which may have imported the repo's own
copies). ``extract_package`` unpacks a zip for it.

Trace: an invocation may carry the X-Ray tracing header Lambda would give it; the worker sets
``_X_AMZN_TRACE_ID`` to it for that invocation (and removes it for one without), as
Lambda's runtimes do ("Propagate the tracing header" in "Building a custom runtime",
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

log = logging.getLogger("imgedge.local")

INIT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0
MEMORY_SAMPLE_S = 0.02  # how often a running worker's peak RSS is read
MIB = 1024 * 1024
TRACE_ENV = "_X_AMZN_TRACE_ID"


def peak_rss_bytes(pid: int) -> int | None:
    """The process's peak resident set size (``VmHWM``), or None when it cannot be read
    (no /proc, or the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def extract_package(zip_path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Unpack a deployment package into ``dest`` (created if missing), as Lambda unpacks a
    function's zip into /var/task: the directory for ``FunctionSpec.code_dir``."""
    target = Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            path = target.joinpath(info.filename).resolve()
            if not path.is_relative_to(target.resolve()):
                raise ValueError(f"{zip_path}: {info.filename!r} is outside the package")
        archive.extractall(target)
    return target


def _top_level_names(code_dir: str) -> set[str]:
    """The importable top-level names a package directory provides (packages, modules,
    extension modules)."""
    names: set[str] = set()
    for entry in os.scandir(code_dir):
        if entry.is_dir():
            if entry.name.isidentifier():
                names.add(entry.name)
        elif entry.name.endswith((".py", ".pyc", ".so", ".pyd")):
            names.add(entry.name.split(".", 1)[0])
    return names


def _use_code_dir(code_dir: str) -> None:
    """Make ``code_dir`` the first place imports look, and forget what it replaces."""
    provided = _top_level_names(code_dir)
    for name in list(sys.modules):
        if name.partition(".")[0] in provided:
            del sys.modules[name]
    sys.path.insert(0, code_dir)
    importlib.invalidate_caches()


def load_object(path: str) -> Any:
    """``"package.module:attribute"`` -> the attribute."""
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected 'module:attribute', got {path!r}")
    return getattr(importlib.import_module(module_name), attribute)


class LambdaContext:
    """The parts of Lambda's context object that handlers use."""

    def __init__(
        self,
        *,
        function_name: str,
        memory_limit_in_mb: int,
        aws_request_id: str,
        deadline: float,
        region: str = "us-east-1",
        account_id: str = "123456789012",
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = aws_request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = deadline  # time.time(), valid across processes

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs: the handler, its environment and its Lambda settings.

    ``memory_mb``: the worker is killed when its peak RSS goes over this many MiB.
    ``code_dir``: an extracted deployment package to import the handler from (see
    ``extract_package``); None imports from wherever this process would."""

    handler: str
    name: str = "imgedge-function"
    env: Mapping[str, str] = field(default_factory=dict)
    unset_env: tuple[str, ...] = ()
    memory_mb: int = 1536
    timeout_s: float = 30.0
    code_dir: str | os.PathLike[str] | None = None


@dataclass(frozen=True)
class Invocation:
    """The outcome of one invocation: ``ok`` with the handler's return value, or a failure
    (``error``: the handler raised; ``timeout``; ``crashed``; ``out_of_memory``: the worker
    went over its memory and was killed; ``throttled``: no worker). ``max_memory_used_mb``:
    the worker's peak RSS in MiB when the invocation ended (None if unknown), as Lambda's
    REPORT line has "Max Memory Used"."""

    outcome: str
    result: Any = None
    error: str = ""
    duration_ms: float = 0.0
    max_memory_used_mb: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _worker_main(spec: FunctionSpec, conn: Connection) -> None:
    """A worker process: init, then invoke until told to stop or the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the stack's to handle
    os.dup2(2, 1)  # handler output is logs (stderr), never the stack's stdout protocol
    for name in spec.unset_env:
        os.environ.pop(name, None)
    os.environ.update(spec.env)
    if spec.code_dir is not None:
        _use_code_dir(os.path.abspath(os.fspath(spec.code_dir)))
    # Like Lambda's runtime: a root handler, so a handler's own INFO loggers are seen.
    logging.basicConfig(
        level=logging.WARNING,
        format=f"%(asctime)s [%(levelname)s] {spec.name} %(name)s %(message)s",
        datefmt="%H:%M:%S",
    )
    # What Lambda sets in every function's environment and the code may read (the
    # resizer's threads follow the memory): "Defined runtime environment variables".
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = spec.name
    os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(spec.memory_mb)
    try:
        handler = load_object(spec.handler)
    except BaseException:
        conn.send(("init_error", traceback.format_exc()))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        request_id, event, deadline, trace_id = message
        if trace_id is None:
            os.environ.pop(TRACE_ENV, None)
        else:
            os.environ[TRACE_ENV] = trace_id
        context = LambdaContext(
            function_name=spec.name,
            memory_limit_in_mb=spec.memory_mb,
            aws_request_id=request_id,
            deadline=deadline,
        )
        try:
            result = handler(event, context)
        except Exception:
            conn.send(("error", traceback.format_exc()))
            continue
        try:
            conn.send(("ok", result))
        except Exception:  # the result does not pickle: Lambda could not serialize it
            conn.send(("error", traceback.format_exc()))


class InitError(RuntimeError):
    """A worker could not import its handler."""


class Worker:
    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_worker_main, args=(spec, child_conn), name=f"lambda:{spec.name}", daemon=True
        )
        self.process.start()
        child_conn.close()
        self.alive = True

    def peak_rss_mb(self) -> float | None:
        """The worker's peak RSS so far, in MiB (None if it cannot be read)."""
        pid = self.process.pid
        peak = peak_rss_bytes(pid) if pid is not None else None
        return None if peak is None else peak / MIB

    def _over_memory(self) -> float | None:
        """The peak RSS in MiB if it is over the function's memory, else None."""
        peak = self.peak_rss_mb()
        return peak if peak is not None and peak > self.spec.memory_mb else None

    def _wait(self, timeout_s: float) -> str:
        """Wait for the worker's next message, watching its memory: ``ready``, ``timeout``
        or ``memory`` (over its memory; the worker is left for the caller to kill)."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            if self._conn.poll(min(MEMORY_SAMPLE_S, remaining)):
                return "ready"
            if self._over_memory() is not None:
                return "memory"

    def _memory_error(self, peak: float | None) -> str:
        used = "?" if peak is None else f"{peak:.1f}"
        return (
            f"Runtime.OutOfMemory: {self.spec.name} used {used} MiB of its "
            f"{self.spec.memory_mb} MB (Runtime exited with error: signal: killed)"
        )

    def wait_ready(self, timeout_s: float = INIT_TIMEOUT_S) -> None:
        """Wait for the init phase, held to the function's memory like an invocation."""
        state = "ready"
        try:
            state = self._wait(timeout_s)
            if state == "timeout":
                raise InitError(f"{self.spec.handler}: init took more than {timeout_s:.0f}s")
            if state == "ready":
                status, detail = self._conn.recv()
        except (EOFError, OSError):
            status, detail = "init_error", f"worker exited with {self.process.exitcode}"
        peak = self._over_memory()
        if state == "memory" or peak is not None:
            self.kill()
            raise InitError(f"cannot load {self.spec.handler}: {self._memory_error(peak)}")
        if status != "ready":
            self.kill()
            raise InitError(f"cannot load {self.spec.handler}:\n{detail}")

    def invoke(self, event: Any, request_id: str, trace_id: str | None = None) -> Invocation:
        started = time.monotonic()
        deadline = time.time() + self.spec.timeout_s

        def elapsed() -> float:
            return (time.monotonic() - started) * 1000

        def failed(outcome: str, error: str, peak: float | None = None) -> Invocation:
            self.kill()
            return Invocation(outcome, error=error, duration_ms=elapsed(), max_memory_used_mb=peak)

        try:
            self._conn.send((request_id, event, deadline, trace_id))
            state = self._wait(self.spec.timeout_s)
            if state == "timeout":
                return failed("timeout", f"timed out after {self.spec.timeout_s}s")
            if state == "memory":
                peak = self.peak_rss_mb()
                return failed("out_of_memory", self._memory_error(peak), peak)
            status, payload = self._conn.recv()
        except (EOFError, OSError):
            return failed("crashed", f"worker exited with {self.process.exitcode}")
        peak = self.peak_rss_mb()
        if peak is not None and peak > self.spec.memory_mb:  # a spike since the last sample
            return failed("out_of_memory", self._memory_error(peak), peak)
        if status == "ok":
            return Invocation("ok", result=payload, duration_ms=elapsed(), max_memory_used_mb=peak)
        return Invocation(
            "error", error=str(payload), duration_ms=elapsed(), max_memory_used_mb=peak
        )

    def stop(self) -> None:
        if self.alive:
            with contextlib.suppress(OSError):
                self._conn.send(None)
        self.process.join(STOP_TIMEOUT_S)
        self.kill()

    def kill(self) -> None:
        self.alive = False
        if self.process.is_alive():
            self.process.kill()
        self.process.join(STOP_TIMEOUT_S)
        self._conn.close()


class WorkerPool:
    """``size`` workers; an invocation waits up to ``queue_timeout_s`` for an idle one."""

    def __init__(self, spec: FunctionSpec, size: int = 2, queue_timeout_s: float = 30.0) -> None:
        self.spec = spec
        self.size = size
        self.queue_timeout_s = queue_timeout_s
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._workers: set[Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> WorkerPool:
        """Start every worker at once and wait for all of them to finish their init."""
        workers = [self._spawn() for _ in range(self.size)]
        try:
            for worker in workers:
                worker.wait_ready()
        except BaseException:
            self.close()
            raise
        for worker in workers:
            self._idle.put(worker)
        return self

    def invoke(
        self, event: Any, request_id: str | None = None, trace_id: str | None = None
    ) -> Invocation:
        """Run ``event`` on an idle worker; ``trace_id``: the invocation's X-Ray tracing
        header (its ``_X_AMZN_TRACE_ID``), None for none."""
        request_id = request_id or str(uuid.uuid4())
        try:
            worker = self._idle.get(timeout=self.queue_timeout_s)
        except queue.Empty:
            return Invocation("throttled", error="no idle worker")
        try:
            invocation = worker.invoke(event, request_id, trace_id)
        finally:
            if worker.alive:
                self._idle.put(worker)
            else:
                self._replace(worker)
        return invocation

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.stop()

    def _spawn(self) -> Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("pool is closed")
            worker = Worker(self.spec)
            self._workers.add(worker)
            return worker

    def _replace(self, dead: Worker) -> None:
        """Start a successor in the background, so the failed request is answered now."""
        with self._lock:
            self._workers.discard(dead)

        def run() -> None:
            try:
                worker = self._spawn()
                worker.wait_ready()
            except (InitError, RuntimeError) as error:
                log.error("could not replace a %s worker: %s", self.spec.name, error)
                return
            self._idle.put(worker)

        threading.Thread(target=run, name="worker-replacer", daemon=True).start()
