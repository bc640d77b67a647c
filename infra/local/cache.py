"""CloudFront's edge cache, in memory: which responses it keeps, and for how long.

The rules, from the CloudFront Developer Guide ("Manage how long content stays in the
cache", "How CloudFront processes HTTP 3xx status codes", "HTTP 4xx and 5xx status codes
that CloudFront caches", "Control how long CloudFront caches errors"); the TTLs come from
the distribution's description (``infra/distribution.py``):

- 2xx/3xx: 200, 203, 204, 206, 300, 301, 302, 303 and 410 are cached; 307 and 308 only with
  an explicit ``max-age``/``s-maxage``; anything else (304, 201, 202, ...) is not. The TTL
  is ``s-maxage``, else ``max-age``, else ``Expires``, else the policy's default, clamped
  into the policy's [min, max]. With a minimum TTL of 0, ``no-store``, ``no-cache`` and
  ``private`` are not cached, nor anything whose TTL comes out as 0.
- Errors: 404, 414, 500, 501, 502, 503 and 504 are always cached; 400, 403, 405, 412 and 415
  only when the origin sends ``max-age``/``s-maxage``; others (413, 416, 422, 429, ...)
  never. An error is kept for its status's error caching minimum TTL, or for the origin's
  ``max-age``/``s-maxage``/``Expires`` when that is longer (at most the maximum TTL).
  ``no-store``, ``no-cache`` and ``private`` stop the caching of 404, 410, 414 and 501 only:
  for other errors CloudFront ignores them and uses the error caching minimum TTL.

Not emulated: serving a stale object while the origin answers 5xx, and revalidation with
``If-None-Match`` to the origin.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from infra.distribution import Distribution

DEFAULT_CACHEABLE = frozenset({200, 203, 204, 206, 300, 301, 302, 303, 410})
CACHEABLE_WITH_MAX_AGE = frozenset({307, 308})
ERRORS_ALWAYS_CACHED = frozenset({404, 414, 500, 501, 502, 503, 504})
ERRORS_CACHED_WITH_MAX_AGE = frozenset({400, 403, 405, 412, 415})
UNCACHEABLE_DIRECTIVES = frozenset({"no-store", "no-cache", "private"})
ERRORS_THAT_HONOUR_NO_STORE = frozenset({404, 410, 414, 501})

MAX_CACHE_BYTES = 512 * 1024 * 1024


def cache_control(value: str | None) -> dict[str, str | None]:
    """``Cache-Control`` directives, lower-cased, values unquoted (``None`` if bare)."""
    directives: dict[str, str | None] = {}
    for part in (value or "").split(","):
        name, sep, arg = part.strip().partition("=")
        if name:
            directives[name.strip().lower()] = arg.strip().strip('"') if sep else None
    return directives


def _seconds(value: str | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    return int(value)


def _origin_max_age(directives: Mapping[str, str | None]) -> int | None:
    """``s-maxage`` (shared caches) over ``max-age``; None when neither is given."""
    for name in ("s-maxage", "max-age"):
        seconds = _seconds(directives.get(name))
        if seconds is not None:
            return seconds
    return None


def _expires_in(headers: Mapping[str, str], now: float) -> int | None:
    expires = headers.get("expires")
    if expires is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(expires).timestamp()
    except (TypeError, ValueError):
        return 0  # an invalid Expires means "already expired" (RFC 9111 5.3)
    date = headers.get("date")
    try:
        base = email.utils.parsedate_to_datetime(date).timestamp() if date else now
    except (TypeError, ValueError):
        base = now
    return max(0, int(when - base))


def ttl_for(
    status: int, headers: Mapping[str, str], spec: Distribution, now: float | None = None
) -> int:
    """Seconds CloudFront keeps this response; 0 means it is not cached.

    ``headers`` are the origin's response headers with lower-case names."""
    policy = spec.cache_policy
    directives = cache_control(headers.get("cache-control"))
    max_age = _origin_max_age(directives)
    forbidden = bool(UNCACHEABLE_DIRECTIVES & directives.keys())

    if status in DEFAULT_CACHEABLE or (status in CACHEABLE_WITH_MAX_AGE and max_age is not None):
        if policy.min_ttl == 0 and forbidden:
            return 0
        if max_age is None:
            max_age = _expires_in(headers, time.time() if now is None else now)
        ttl = policy.default_ttl if max_age is None else max_age
        return max(policy.min_ttl, min(policy.max_ttl, ttl))

    if status in ERRORS_ALWAYS_CACHED or (
        status in ERRORS_CACHED_WITH_MAX_AGE and max_age is not None
    ):
        if forbidden and status in ERRORS_THAT_HONOUR_NO_STORE:
            return 0
        if max_age is None:
            max_age = _expires_in(headers, time.time() if now is None else now)
        return min(policy.max_ttl, max(spec.error_ttl(status), max_age or 0))
    return 0


@dataclass
class CachedResponse:
    """A stored response. One to a HEAD request has no body (``head_only``): it answers
    later HEAD requests only, and a GET replaces it."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    head_only: bool = False
    stored_at: float = 0.0  # time.monotonic()
    expires_at: float = 0.0
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.body) + sum(len(n) + len(v) for n, v in self.headers)

    def age(self, now: float) -> int:
        return int(now - self.stored_at)


class ResponseCache:
    """A thread-safe TTL cache keyed by CloudFront's cache key, evicting the least recently
    used entries once it holds more than ``max_bytes``."""

    def __init__(self, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str, now: float | None = None) -> CachedResponse | None:
        now = time.monotonic() if now is None else now
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires_at <= now:
                self._remove(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: CachedResponse, ttl: int, now: float | None = None) -> bool:
        """Store ``entry`` for ``ttl`` seconds; False if it is not stored (ttl 0, too big)."""
        if ttl <= 0 or entry.size > self.max_bytes:
            return False
        now = time.monotonic() if now is None else now
        entry.stored_at, entry.expires_at = now, now + ttl
        with self._lock:
            if key in self._entries:
                self._remove(key)
            self._entries[key] = entry
            self._bytes += entry.size
            while self._bytes > self.max_bytes:
                self._remove(next(iter(self._entries)))
        return True

    def invalidate(self, paths: list[str]) -> int:
        """CloudFront invalidation: exact paths, or a prefix ending in ``*``. Query strings
        of cached keys are ignored, as CloudFront's paths ignore them. The number removed."""
        exact = {p for p in paths if not p.endswith("*")}
        prefixes = tuple(p[:-1] for p in paths if p.endswith("*"))
        with self._lock:
            doomed = [
                key
                for key in self._entries
                if key.partition("?")[0] in exact or (prefixes and key.startswith(prefixes))
            ]
            for key in doomed:
                self._remove(key)
        return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _remove(self, key: str) -> None:
        self._bytes -= self._entries.pop(key).size
