"""``imgedge smoke URL``: check a running imgedge (a CloudFront distribution, or the local
stack) from the outside, over HTTP, with nothing but the standard library (and the
format registry, ``shared.formats``, which is standard library too).

1. miss: a variant nobody asked for yet is rendered (200, WebP, ``X-Cache: Miss``, nosniff)
2. hit: the same URL again comes from the cache (``X-Cache: Hit``, the same bytes)
3. normalization: the same parameters in another order and case, with an unknown one, are
   the same cache entry (a hit, the same bytes)
4. 404: an original that does not exist
5. 400: a parameter that makes no sense
and prints the miss and hit latencies. The original (``--key``, default ``sample.png``)
must exist in the originals bucket.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import quote, urlsplit

from shared import formats

MISS = "Miss from cloudfront"
HIT = "Hit from cloudfront"
FRESH_VARIANT_TRIES = 5
HIT_TRIES = 3
HIT_RETRY_DELAY_S = 1.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")

Out = Callable[[str], None]


@dataclass
class Reply:
    url: str
    status: int
    headers: Message
    body: bytes
    ms: float

    def header(self, name: str) -> str:
        return self.headers.get(name, "") or ""


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    miss_ms: float | None = None
    hit_ms: float | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


class Client:
    def __init__(self, base_url: str, timeout_s: float = 60.0) -> None:
        if "://" not in base_url:
            base_url = "https://" + base_url
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.timeout_s = timeout_s
        handlers: list[urllib.request.BaseHandler] = []
        if parts.hostname in LOOPBACK:
            handlers.append(urllib.request.ProxyHandler({}))  # never via a proxy
        self._opener = urllib.request.build_opener(*handlers)

    def get(self, path: str, query: str = "") -> Reply:
        url = self.base + path + (f"?{query}" if query else "")
        request = urllib.request.Request(url, headers={"User-Agent": "imgedge-smoke"})
        started = time.perf_counter()
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                status, headers, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            with error:
                status, headers, body = error.code, error.headers, error.read()
        return Reply(url, status, headers, body, (time.perf_counter() - started) * 1000)


def _describe(reply: Reply) -> str:
    cache = f"X-Cache: {reply.header('X-Cache') or '-'}"
    return f"{reply.status} {reply.header('Content-Type') or '-'}, {len(reply.body)} bytes, {cache}"


def run(base_url: str, key: str = "sample.png", out: Out = print) -> Report:
    client = Client(base_url)
    report = Report()
    path = "/" + quote(key.lstrip("/"))

    def check(name: str, ok: bool, reply: Reply, expected: str) -> bool:
        line = f"{'ok  ' if ok else 'FAIL'} {name:<14} {_describe(reply)}, {reply.ms:.0f} ms"
        out(line if ok else f"{line}\n     expected {expected}: {reply.url}")
        if not ok:
            report.failures.append(name)
        return ok

    # 1. miss: a random size and quality, so that a second run finds another fresh variant
    # (sizes and qualities snap to the allow-lists, so a rare one may be cached already).
    for _ in range(FRESH_VARIANT_TRIES):
        width, height = 100 + secrets.randbelow(900), 100 + secrets.randbelow(900)
        params = {
            "s": f"{width}x{height}",
            "f": formats.WEBP.name,
            "q": str(1 + secrets.randbelow(100)),
        }
        query = "&".join(f"{k}={v}" for k, v in params.items())
        miss = client.get(path, query)
        if miss.header("X-Cache") != HIT:
            break
    missed = check(
        "miss",
        miss.status == 200
        and miss.header("X-Cache") == MISS
        and miss.header("Content-Type") == formats.WEBP.media_type
        and formats.identify(miss.body) is formats.WEBP
        and miss.header("X-Content-Type-Options") == "nosniff",
        miss,
        f"200 {formats.WEBP.media_type}, X-Cache: {MISS}, X-Content-Type-Options: nosniff "
        f"(is {key!r} in the originals bucket?)",
    )
    if missed:
        report.miss_ms = miss.ms

    # 2. hit: CloudFront may need a moment (or another request) to have stored it.
    for attempt in range(HIT_TRIES):
        hit = client.get(path, query)
        if hit.header("X-Cache") == HIT or attempt == HIT_TRIES - 1:
            break
        time.sleep(HIT_RETRY_DELAY_S)
    if check(
        "hit",
        hit.status == 200 and hit.header("X-Cache") == HIT and hit.body == miss.body,
        hit,
        f"200, X-Cache: {HIT}, the miss's bytes",
    ):
        report.hit_ms = hit.ms

    # 3. another spelling of the same request: one canonical key, so the same cache entry.
    respelled = "&".join(
        [f"smoke={secrets.token_hex(4)}"]
        + [f"{k.upper()}={v.upper()}" for k, v in reversed(list(params.items()))]
    )
    same = client.get(path, respelled)
    check(
        "normalization",
        same.status == 200 and same.header("X-Cache") == HIT and same.body == miss.body,
        same,
        f"200, X-Cache: {HIT} and the same bytes for ?{respelled}",
    )

    # 4. and 5.: errors.
    missing = client.get(f"/imgedge-smoke-missing-{secrets.token_hex(8)}.png", "s=64x64")
    check("404", missing.status == 404, missing, "404 for an original that does not exist")
    bad = client.get(path, "s=banana")
    check("400", bad.status == 400, bad, "400 for s=banana")

    if report.miss_ms is not None and report.hit_ms is not None:
        out(f"latency: miss {report.miss_ms:.0f} ms, hit {report.hit_ms:.0f} ms")
    out("smoke: ok" if report.ok else f"smoke: FAILED ({', '.join(report.failures)})")
    return report
