"""The Lambda emulation holds each worker to its function's memory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local.function_url import FunctionUrlServer
from infra.local.lambda_runtime import (
    FunctionSpec,
    InitError,
    WorkerPool,
    peak_rss_bytes,
)
from tests.integration.stack_client import fetch

pytestmark = pytest.mark.integration

MEMORY_MB = 128  # Lambda's smallest size; the probe goes to twice that


@pytest.fixture(scope="module")
def memory_pool() -> Iterator[WorkerPool]:
    spec = FunctionSpec(
        handler="tests.integration.lambda_probes:memory_handler",
        name="memory-probe",
        memory_mb=MEMORY_MB,
        timeout_s=10,
    )
    pool = WorkerPool(spec, size=1).start()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="module")
def memory_url(memory_pool: WorkerPool) -> Iterator[str]:
    server = FunctionUrlServer(memory_pool).start()
    try:
        yield server.url
    finally:
        server.stop()


def test_a_worker_within_its_memory_reports_its_peak(memory_pool: WorkerPool) -> None:
    invocation = memory_pool.invoke({"rawPath": "/pid"})
    assert invocation.outcome == "ok", invocation.error
    assert invocation.max_memory_used_mb is not None
    assert 0 < invocation.max_memory_used_mb < MEMORY_MB


def test_going_over_memory_is_a_502_and_the_next_request_gets_a_fresh_worker(
    memory_url: str,
) -> None:
    before = fetch(f"{memory_url}/pid")
    assert before.status == 200
    over = fetch(f"{memory_url}/allocate")
    assert over.status == 502
    assert over.headers["Content-Type"] == "application/json"
    after = fetch(f"{memory_url}/pid")
    assert after.status == 200
    assert after.headers["x-pid"] != before.headers["x-pid"]


def test_a_spike_between_two_samples_still_counts(memory_pool: WorkerPool) -> None:
    """The peak is a high-water mark, checked again when the invocation ends."""
    invocation = memory_pool.invoke({"rawPath": "/spike"})
    assert invocation.outcome == "out_of_memory"
    assert invocation.max_memory_used_mb is not None
    assert invocation.max_memory_used_mb > MEMORY_MB
    assert "Runtime.OutOfMemory" in invocation.error
    assert memory_pool.invoke({"rawPath": "/pid"}).ok  # replaced


def test_an_init_over_memory_fails_the_init() -> None:
    spec = FunctionSpec(
        handler="tests.integration.lambda_probe_heavy_init:handler",
        name="heavy-init",
        memory_mb=MEMORY_MB,
    )
    with pytest.raises(InitError, match=r"Runtime\.OutOfMemory"):
        WorkerPool(spec, size=1).start()


def test_peak_rss_is_read_from_proc() -> None:
    import os

    peak = peak_rss_bytes(os.getpid())
    assert peak is not None and peak > 1024 * 1024
    assert peak_rss_bytes(2**22 + 1) is None  # beyond pid_max: no such process
