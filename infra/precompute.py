"""Precompute on one machine, what ``imgedge precompute`` runs (``infra/cli/precompute.py``):
render the configured presets of every original ahead of viewers.

The jobs are the plan of ``regional_resizer.precompute`` for the originals under a prefix:
every chosen preset normalized as the edge would into a canonical key (``f=auto`` expanded
into every format it can yield); a key the derivatives bucket already holds (HeadObject) is
skipped, any other is made.

Two engines:
- local (the default, and whenever an S3 endpoint is given): a pool of worker processes,
  each making derivatives with the resizer's core (``make_derivative``), which writes the
  derivative and its marker as for a viewer's miss;
- AWS (a function name without an S3 endpoint): ``lambda.invoke`` of the deployed
  regional function from a pool of threads, with the function URL event (payload 2.0) of a
  viewer's miss, the only request that function answers. The events are HEAD requests: the
  resizer renders and stores exactly as for GET but returns no body, so no image travels
  back.

A bucket too big for one machine is the same job on the AWS deployment's state machine
(``infra/aws/precompute.py``), whose batch function is ``regional_resizer.precompute``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, TextIO

from infra.inventory import s3_client
from infra.local.events import function_url_event
from regional_resizer.derivative import Deadline
from regional_resizer.precompute import (
    FAILED,
    MADE,
    SKIPPED,
    Job,
    Outcome,
    make,
)
from regional_resizer.storage import Storage
from shared.config import Config, load_config
from shared.contract import ImageRequest

STORED_STATUSES = (200, 302)  # 302: too large to return inline, stored all the same

USER_AGENT = "imgedge-precompute"
EVENT_DOMAIN = "imgedge-precompute.lambda-url.us-east-1.on.aws"  # the resizer ignores it
IN_FLIGHT_PER_WORKER = 4  # jobs queued per worker: never a future per job of a huge bucket
PROGRESS_INTERVAL_S = 0.1


# --- the local engine: worker processes running the resizer's core -----------------------


@dataclass(frozen=True)
class WorkerSettings:
    """Where the derivatives are made: what a worker process needs to make them (the
    configuration is read there)."""

    s3_endpoint: str | None
    originals_bucket: str  # the default one; the configuration's originals_buckets too
    derivatives_bucket: str
    config_path: str | None  # None: $IMGEDGE_CONFIG, the baked file or the defaults


_worker: tuple[Config, Storage] | None = None


def _init_worker(settings: WorkerSettings) -> None:
    global _worker  # noqa: PLW0603
    config = load_config(settings.config_path)
    storage = Storage(
        s3_client(settings.s3_endpoint),
        config.originals(settings.originals_bucket),
        settings.derivatives_bucket,
    )
    _worker = (config, storage)


def _render_locally(request: ImageRequest) -> tuple[str, int, str]:
    """In a worker: skip what exists, else make it, with the resizer's time."""
    assert _worker is not None, "not a precompute worker"
    config, storage = _worker
    return make(request, config, storage, Deadline.of(None))


# --- the AWS engine: lambda.invoke ----------------------------------------------------------


def resizer_event(request: ImageRequest) -> dict[str, Any]:
    """The function URL event (payload 2.0) of a miss for ``request``'s canonical key."""
    return function_url_event(
        method="HEAD",
        raw_path=request.uri,
        raw_query="",
        headers=[("user-agent", USER_AGENT), ("accept", "*/*")],
        body=b"",
        source_ip="127.0.0.1",
        domain_name=EVENT_DOMAIN,
    )


def classify(status: int, body: str) -> tuple[str, int, str]:
    """(result, status, message) for the resizer's answer."""
    if status in STORED_STATUSES:
        return MADE, status, ""
    return FAILED, status, body.strip() or "no message"


def invoke(lambda_client: Any, function: str, request: ImageRequest) -> tuple[int, str]:
    """Invoke the regional function with the miss event; (status, message)."""
    response = lambda_client.invoke(
        FunctionName=function,
        InvocationType="RequestResponse",
        Payload=json.dumps(resizer_event(request)),
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError") or not isinstance(payload, dict):
        message = payload.get("errorMessage") if isinstance(payload, dict) else None
        return 502, f"function error: {message or response.get('FunctionError') or payload}"
    body = "" if payload.get("isBase64Encoded") else str(payload.get("body") or "")
    return int(payload.get("statusCode", 502)), body


def _render_on_aws(
    storage: Storage, lambda_client: Any, function: str
) -> Callable[[ImageRequest], tuple[str, int, str]]:
    def render(request: ImageRequest) -> tuple[str, int, str]:
        if storage.has_derivative(request.key):
            return SKIPPED, 200, ""
        return classify(*invoke(lambda_client, function, request))

    return render


# --- running the jobs ----------------------------------------------------------------------


def execute(
    executor: Executor,
    render: Callable[[ImageRequest], tuple[str, int, str]],
    jobs: Sequence[Job],
    in_flight: int,
) -> Iterator[Outcome]:
    """Each job's outcome as it completes, with at most ``in_flight`` jobs queued."""
    pending: dict[Future[tuple[str, int, str]], Job] = {}

    def settle(done: Iterable[Future[tuple[str, int, str]]]) -> Iterator[Outcome]:
        for future in done:
            job = pending.pop(future)
            try:
                result, status, message = future.result()
            except Exception as error:  # the worker died, or S3/Lambda failed past retries
                result, status, message = FAILED, 502, f"{type(error).__name__}: {error}"
            yield Outcome(job, result, status, message)

    for job in jobs:
        if job.request is None:
            yield Outcome(job, FAILED, 400, job.error)
            continue
        pending[executor.submit(render, job.request)] = job
        if len(pending) >= in_flight:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            yield from settle(done)
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        yield from settle(done)


class Progress:
    """A one-line bar on a terminal (``\\r``-updated), and always a final line."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.counts = {MADE: 0, SKIPPED: 0, FAILED: 0}
        self.started = time.monotonic()
        self._drawn = 0.0

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.result] += 1
        now = time.monotonic()
        if self.tty and (now - self._drawn >= PROGRESS_INTERVAL_S or self.done == self.total):
            self._drawn = now
            self.stream.write("\r" + self.line(bar=True))
            self.stream.flush()

    def line(self, *, bar: bool) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in self.counts.items())
        if not bar:
            seconds = time.monotonic() - self.started
            return f"precompute: {self.done}/{self.total} derivatives: {counts} in {seconds:.1f}s"
        width = 30
        filled = width * self.done // self.total if self.total else width
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {counts}"

    def finish(self) -> None:
        prefix = "\r\x1b[K" if self.tty else ""
        self.stream.write(prefix + self.line(bar=False) + "\n")
        self.stream.flush()


def summary(outcomes: Sequence[Outcome]) -> str:
    """made / skipped / failed, and one line per failure: status, key, preset, message."""
    counts = {
        name: sum(1 for o in outcomes if o.result == name) for name in (MADE, SKIPPED, FAILED)
    }
    lines = [f"{name:<8}{n}" for name, n in counts.items()]
    for o in sorted(
        (o for o in outcomes if o.result == FAILED), key=lambda o: (o.job.source, o.job.key)
    ):
        key = o.job.key or o.job.source
        lines.append(f"  {o.status} {key} (preset {o.job.preset}): {o.message}")
    return "\n".join(lines)


# --- precompute ----------------------------------------------------------------------------


def render(
    jobs: Sequence[Job],
    settings: WorkerSettings,
    *,
    workers: int | None = None,
    function: str | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Every job's outcome, in the order they complete (each also given to ``on_outcome``
    as it does). Made by ``workers`` local worker processes (default: one per core), or,
    with ``function`` and no S3 endpoint, by that deployed regional function, invoked from
    ``workers`` threads (default 16)."""
    function = None if settings.s3_endpoint else function  # an endpoint: the local engine
    workers = workers or (16 if function else os.cpu_count() or 2)
    executor: Executor
    if function:
        import boto3

        executor = ThreadPoolExecutor(workers, thread_name_prefix="precompute")
        storage = Storage(  # for the derivatives bucket only: the function reads originals
            s3_client(settings.s3_endpoint), settings.originals_bucket, settings.derivatives_bucket
        )
        make_one = _render_on_aws(storage, boto3.client("lambda"), function)
    else:
        executor = ProcessPoolExecutor(
            workers,
            mp_context=get_context("spawn"),  # nothing of this process leaks into workers
            initializer=_init_worker,
            initargs=(settings,),
        )
        make_one = _render_locally

    outcomes: list[Outcome] = []
    with executor:
        for outcome in execute(executor, make_one, jobs, workers * IN_FLIGHT_PER_WORKER):
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    return outcomes
