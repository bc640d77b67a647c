"""A loop in a daemon thread: the shape of the local stack's listeners and pollers."""

from __future__ import annotations

import logging
import threading
from typing import Self

log = logging.getLogger("imgedge.local")


class BackgroundLoop:
    """Calls ``step()`` over and over in a daemon thread until ``stop()``, waiting
    ``pause_s`` between steps; a step that raises is logged and the loop goes on (after
    ``pause_s``, at least a short back-off)."""

    thread_name = "loop"
    pause_s = 0.0

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def step(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stopping.wait(self.pause_s):
            try:
                self.step()
            except Exception:  # keep going: the peer may be restarting, one step may fail
                log.exception("%s: a step failed", self.thread_name)
                self._stopping.wait(max(self.pause_s, 0.5))
