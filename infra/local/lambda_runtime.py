"""A Lambda-like runtime: handlers run in worker processes, one event at a time each.

Like Lambda, a worker imports the handler once (the init phase), then handles one event
per invocation; a worker that dies or overruns its timeout is killed and replaced, and its
invocation fails. Workers are started with the ``spawn`` context, so they share nothing
with the emulators' process but what is passed to them: the handler's import path and its
environment.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("imgedge.local")

INIT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0


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
    """What a worker needs: the handler, its environment and its Lambda settings."""

    handler: str
    name: str = "imgedge-function"
    env: Mapping[str, str] = field(default_factory=dict)
    unset_env: tuple[str, ...] = ()
    memory_mb: int = 1536
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Invocation:
    """The outcome of one invocation: ``ok`` with the handler's return value, or a failure
    (``error``: the handler raised; ``timeout``; ``crashed``; ``throttled``: no worker)."""

    outcome: str
    result: Any = None
    error: str = ""
    duration_ms: float = 0.0

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
    # Like Lambda's runtime: a root handler, so a handler's own INFO loggers are seen.
    logging.basicConfig(
        level=logging.WARNING,
        format=f"%(asctime)s [%(levelname)s] {spec.name} %(name)s %(message)s",
        datefmt="%H:%M:%S",
    )
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
        request_id, event, deadline = message
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

    def wait_ready(self, timeout_s: float = INIT_TIMEOUT_S) -> None:
        try:
            if not self._conn.poll(timeout_s):
                raise InitError(f"{self.spec.handler}: init took more than {timeout_s:.0f}s")
            status, detail = self._conn.recv()
        except (EOFError, OSError):
            status, detail = "init_error", f"worker exited with {self.process.exitcode}"
        if status != "ready":
            self.kill()
            raise InitError(f"cannot load {self.spec.handler}:\n{detail}")

    def invoke(self, event: Any, request_id: str) -> Invocation:
        started = time.monotonic()
        deadline = time.time() + self.spec.timeout_s

        def elapsed() -> float:
            return (time.monotonic() - started) * 1000

        try:
            self._conn.send((request_id, event, deadline))
            if not self._conn.poll(self.spec.timeout_s):
                self.kill()
                return Invocation(
                    "timeout",
                    error=f"timed out after {self.spec.timeout_s}s",
                    duration_ms=elapsed(),
                )
            status, payload = self._conn.recv()
        except (EOFError, OSError):
            self.kill()
            return Invocation(
                "crashed",
                error=f"worker exited with {self.process.exitcode}",
                duration_ms=elapsed(),
            )
        if status == "ok":
            return Invocation("ok", result=payload, duration_ms=elapsed())
        return Invocation("error", error=str(payload), duration_ms=elapsed())

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

    def invoke(self, event: Any, request_id: str | None = None) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        try:
            worker = self._idle.get(timeout=self.queue_timeout_s)
        except queue.Empty:
            return Invocation("throttled", error="no idle worker")
        try:
            invocation = worker.invoke(event, request_id)
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


def call_in_process(
    handler: Callable[[Any, Any], Any], event: Any, *, name: str, memory_mb: int, timeout_s: float
) -> Any:
    """Invoke a handler in this process with a Lambda context (for the edge function)."""
    context = LambdaContext(
        function_name=name,
        memory_limit_in_mb=memory_mb,
        aws_request_id=str(uuid.uuid4()),
        deadline=time.time() + timeout_s,
    )
    return handler(event, context)
