"""The short form of ``python -m bench.load`` in the suite: the local stack under wrk, with
nginx on the same bytes as the baseline of the same run.

- Cache hits, two 2-second phases of 16 connections through the edge: no error at all
  (no socket error, no status >= 400), and no memory growth from one phase to the next
  beyond RSS_GROWTH_BOUND_MB.
- A burst of 50 distinct misses, 16 at a time: every one rendered (200, X-Cache: Miss),
  no 5xx, nothing lost (each derivative is in the bucket).
- The ratios imgedge/nginx are printed, not asserted: they say how this machine did.

wrk and nginx are Debian packages that ``make test`` installs; without them this test
fails (it does not skip).
"""

from __future__ import annotations

import pytest

from bench.load import HitPhase, LoadRun, ratios
from bench.servers import MissingTool, find_tool
from edge_router.normalize import normalize
from infra.local.stack import s3_client
from shared.config import Config

pytestmark = pytest.mark.integration

HIT_SECONDS = 2
HIT_CONNECTIONS = 16
MISSES = 50
MISS_CONNECTIONS = 16
MISS_MAX_SECONDS = 45  # 50 misses take a few seconds; this only bounds a hung stack
# The second hit phase repeats the first exactly: its connections' threads, the edge's
# cache entry and the allocator's pools exist already, so the stack should not grow (it
# moves by about 1 MB). 16 MB is generous and still catches a leak of one response body
# (17 KB) per request, or of a thread per connection.
RSS_GROWTH_BOUND_MB = 16.0


def test_hits_and_a_burst_of_misses_under_load(capsys: pytest.CaptureFixture[str]) -> None:
    for tool in ("wrk", "nginx"):
        try:
            find_tool(tool)
        except MissingTool as error:
            pytest.fail(str(error))

    with LoadRun() as run:
        first = run.hits("imgedge", seconds=HIT_SECONDS, connections=HIT_CONNECTIONS)
        second = run.hits("imgedge", seconds=HIT_SECONDS, connections=HIT_CONNECTIONS)
        nginx = run.hits("nginx", seconds=HIT_SECONDS, connections=HIT_CONNECTIONS)
        burst = run.misses(MISSES, connections=MISS_CONNECTIONS, max_seconds=MISS_MAX_SECONDS)
        s3 = s3_client(run.edge.s3)
        stored = {
            obj["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="derivatives")
            for obj in page.get("Contents", [])
        }
        hit_key = run.hit_key

    with capsys.disabled():
        print("\n" + _summary(first, second, nginx, burst.to_json()))

    for phase in (first, second, nginx):
        assert phase.wrk.requests > 0, phase
        assert phase.wrk.socket_errors == 0, phase
        assert phase.wrk.status_errors == 0, phase
    assert second.peak_rss_mb <= first.peak_rss_mb + RSS_GROWTH_BOUND_MB, (first, second)

    assert burst.count(5) == 0, burst.statuses
    assert burst.socket_errors == []
    assert burst.sent == MISSES
    assert dict(burst.statuses) == {200: MISSES}
    assert dict(burst.x_cache) == {"Miss": MISSES}
    config = Config()
    keys: set[str] = set()
    for path in burst.paths:
        uri, _, query = path.partition("?")
        keys.add(normalize(uri, query, None, config).key)
    missing = keys - stored
    assert hit_key in stored and not missing, sorted(missing)[:5]


def _summary(first: HitPhase, second: HitPhase, nginx: HitPhase, misses: dict[str, float]) -> str:
    r = ratios(second, nginx)
    rows = [
        f"{name:8} {p.wrk.requests_per_s:9,.0f} req/s  p50 {p.wrk.p50_ms:7.2f} ms  "
        f"p99 {p.wrk.p99_ms:8.2f} ms  errors {p.wrk.errors}  peak RSS {p.peak_rss_mb:6.1f} MB"
        for name, p in (("imgedge", first), ("imgedge", second), ("nginx", nginx))
    ]
    return "\n".join(
        [
            f"load: {HIT_CONNECTIONS} connections, {HIT_SECONDS} s per hit phase",
            *rows,
            f"imgedge/nginx: req/s {r['requests_per_s']:.3f}, p50 {r['p50_ms']:.1f}x, "
            f"p99 {r['p99_ms']:.1f}x, peak RSS {r['peak_rss_mb']:.1f}x",
            f"misses: {misses['sent']:.0f} distinct in {misses['seconds']:.1f} s, "
            f"{misses['requests_per_s']:.1f} req/s, p50 {misses['p50_ms']:.0f} ms, "
            f"p99 {misses['p99_ms']:.0f} ms, 4xx {misses['status_4xx']:.0f}, "
            f"5xx {misses['status_5xx']:.0f}",
        ]
    )
