"""Request collapsing, as CloudFront does it: while one request for a cache key is at the
origin, identical requests wait for its response instead of going there too; if that
response could not be cached, they go to the origin themselves."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class InFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, threading.Event] = {}

    @contextmanager
    def lead_or_follow(self, key: str) -> Iterator[threading.Event | None]:
        """None: this request leads (goes to the origin); else the leader's event, set
        when its response is in the cache (or known not to be cacheable)."""
        with self._lock:
            leader = self._flights.get(key)
            if leader is None:
                done = self._flights[key] = threading.Event()
        if leader is not None:
            yield leader
            return
        try:
            yield None
        finally:
            with self._lock:
                del self._flights[key]
            done.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._flights)
