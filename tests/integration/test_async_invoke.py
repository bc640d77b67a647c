"""Asynchronous invocation as S3 notifications use it: Lambda's two retries, then the
dead-letter file (infra/local/async_invoke.py), with a handler running in a real worker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.async_invoke import RETRY_DELAYS_S, AsyncInvoker
from infra.local.lambda_runtime import FunctionSpec, WorkerPool

pytestmark = pytest.mark.integration


def flaky(event: dict[str, Any], context: Any) -> str:
    """Counts its attempts in a file; fails until it has failed ``failures`` times. With
    ``hold``, first waits (up to 10 s) until that file exists."""
    if "hold" in event:
        deadline = time.monotonic() + 10
        while not Path(event["hold"]).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    tally = Path(event["tally"])
    attempts = int(tally.read_text()) + 1 if tally.exists() else 1
    tally.write_text(str(attempts))
    if attempts <= event["failures"]:
        raise RuntimeError(f"attempt {attempts} fails")
    return "done"


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(FunctionSpec(handler=f"{__name__}:flaky", name="flaky"), size=1).start()
    yield pool
    pool.close()


def wait_for(path: Path, text: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text() == text:
            return
        time.sleep(0.02)
    pytest.fail(f"{path} never read {text!r}")


def test_lambdas_retry_schedule_is_two_retries_a_minute_then_two_apart() -> None:
    assert RETRY_DELAYS_S == (60.0, 120.0)


def test_a_failure_is_retried_twice_and_then_succeeds(pool: WorkerPool, tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    invoker = AsyncInvoker(pool, dead, retry_delays_s=(0.05, 0.05))
    tally = tmp_path / "tally"
    invoker.invoke({"tally": str(tally), "failures": 2})
    wait_for(tally, "3")
    time.sleep(0.3)
    assert tally.read_text() == "3" and not dead.exists()


def test_an_event_failing_every_attempt_lands_in_the_dead_letter_file(
    pool: WorkerPool, tmp_path: Path
) -> None:
    dead = tmp_path / "dead.jsonl"
    invoker = AsyncInvoker(pool, dead, retry_delays_s=(0.05, 0.05))
    event = {"tally": str(tmp_path / "tally"), "failures": 99}
    invoker.invoke(event)
    wait_for(dead, json.dumps(event) + "\n")
    assert (tmp_path / "tally").read_text() == "3"  # one attempt and two retries


def test_invoke_returns_before_the_function_runs(pool: WorkerPool, tmp_path: Path) -> None:
    invoker = AsyncInvoker(pool, tmp_path / "dead.jsonl", retry_delays_s=(30.0, 30.0))
    hold = tmp_path / "hold"
    invoker.invoke({"tally": str(tmp_path / "tally"), "failures": 99, "hold": str(hold)})
    assert not (tmp_path / "tally").exists()  # returned while the function is held
    hold.touch()
    wait_for(tmp_path / "tally", "1")
    invoker.stop()  # the pending retry is dropped
    time.sleep(0.2)
    assert (tmp_path / "tally").read_text() == "1"
