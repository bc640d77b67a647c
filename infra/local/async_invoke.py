"""Asynchronous invocation, as S3 event notifications invoke the purge function on AWS.

Lambda Developer Guide, "How Lambda handles errors and retries with asynchronous
invocation": the event is queued and the caller does not wait; a failed invocation is tried
twice more, one minute and then two minutes later; after the last failure the event goes to
the function's dead-letter queue. Here the queue is a thread per event, and the dead-letter
queue a JSON-lines file, so a purge that could not be done is never lost without a trace.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.local.lambda_runtime import WorkerPool

log = logging.getLogger("imgedge.local")

RETRY_DELAYS_S = (60.0, 120.0)


class AsyncInvoker:
    """Invokes ``pool``'s function with each event in the background, with Lambda's
    retries; events that fail every attempt are appended to ``dead_letters``."""

    def __init__(
        self,
        pool: WorkerPool,
        dead_letters: Path,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
    ) -> None:
        self.pool = pool
        self.dead_letters = dead_letters
        self.retry_delays_s = tuple(retry_delays_s)
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> None:
        """Queue ``event`` and return at once."""
        threading.Thread(
            target=self._attempts, args=(event,), name="async-invoke", daemon=True
        ).start()

    def stop(self) -> None:
        """Pending retries are dropped (the local stack is going away)."""
        self._stopping.set()

    def _attempts(self, event: dict[str, Any]) -> None:
        for attempt, delay in enumerate((0.0, *self.retry_delays_s), start=1):
            if self._stopping.wait(delay):
                return
            outcome = self.pool.invoke(event)
            if outcome.ok:
                return
            log.error(
                "%s attempt %d failed (%s): %s",
                self.pool.spec.name,
                attempt,
                outcome.outcome,
                outcome.error.strip().splitlines()[-1:] or "",
            )
        with self._lock, self.dead_letters.open("a", encoding="utf-8") as out:
            out.write(json.dumps(event) + "\n")
        log.error(
            "%s: event sent to the dead-letter file %s", self.pool.spec.name, self.dead_letters
        )
