"""The Lambda emulation holds each worker to its function's memory, and runs a handler from
its extracted deployment package (the edge zip, with its baked configuration)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.events import viewer_request_event
from infra.local.function_url import FunctionUrlServer
from infra.local.lambda_runtime import (
    FunctionSpec,
    InitError,
    WorkerPool,
    extract_package,
    peak_rss_bytes,
)
from infra.package import build_edge_zip
from shared.config import CONFIG_ENV, Config
from tests.integration import lambda_probes
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
    server = FunctionUrlServer(memory_pool, auth_type="NONE").start()
    try:
        yield server.url
    finally:
        server.stop()


def test_a_worker_within_its_memory_reports_its_peak(memory_pool: WorkerPool) -> None:
    invocation = memory_pool.invoke({"rawPath": "/pid"})
    assert invocation.outcome == "ok", invocation.error
    assert invocation.max_memory_used_mb is not None
    assert 0 < invocation.max_memory_used_mb < MEMORY_MB
    headers = invocation.result["headers"]  # the environment Lambda gives every function
    assert headers["x-memory-size"] == str(MEMORY_MB)
    assert headers["x-function-name"] == memory_pool.spec.name


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


# --- the edge function from its zip ---------------------------------------------------------


def viewer_request(uri: str, querystring: str) -> dict[str, Any]:
    return viewer_request_event(
        method="GET",
        uri=uri,
        querystring=querystring,
        headers=[("Host", "d111111abcdef8.cloudfront.net"), ("Accept", "image/webp")],
        client_ip="203.0.113.178",
        request_id="4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
    )


def test_the_edge_zip_runs_with_its_baked_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built with sizes [100, 200], the edge zip snaps 150x150 to 200x200 (the defaults
    would say 160x160, the file in IMGEDGE_CONFIG 300x300): the handler, shared.config
    and the baked imgedge.json all come from the extracted zip, although the worker's
    parent main module had imported the repo's shared.config first, and although the
    parent's environment names another file (Lambda@Edge has no environment variables)."""
    built = build_edge_zip(Config(sizes=(100, 200)), tmp_path)
    code_dir = extract_package(built, tmp_path / "task")
    assert (code_dir / "shared" / "imgedge.json").is_file()
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text("sizes = [300]\n")
    monkeypatch.setenv(CONFIG_ENV, str(elsewhere))
    # A spawned worker re-imports its parent's main module when that is a plain module;
    # this one imports the repo's shared.config first.
    monkeypatch.setitem(sys.modules, "__main__", lambda_probes)

    spec = FunctionSpec(
        handler="edge_router.handler:handler",
        name="imgedge-edge-router",
        unset_env=(CONFIG_ENV,),
        memory_mb=128,
        timeout_s=5,
        code_dir=code_dir,
    )
    pool = WorkerPool(spec, size=1).start()
    try:
        invocation = pool.invoke(viewer_request("/photos/cat.jpg", "s=150x150&f=webp"))
        wider = pool.invoke(viewer_request("/photos/cat.jpg", "s=160x&f=webp"))
    finally:
        pool.close()
    assert invocation.outcome == "ok", invocation.error
    assert invocation.result["uri"] == "/200x200/webp/photos/cat.jpg"
    assert invocation.result["querystring"] == ""
    assert wider.ok
    assert wider.result["uri"] == "/200x/webp/photos/cat.jpg"
    peak = invocation.max_memory_used_mb
    assert peak is not None
    print(f"edge worker peak RSS: {peak:.1f} MiB of 128")
    assert peak < 128
