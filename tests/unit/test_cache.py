"""The CloudFront emulator's cache rules: which responses are kept, and for how long."""

from __future__ import annotations

import email.utils
from types import MappingProxyType

import pytest

from infra.distribution import CachePolicy, Distribution, describe
from infra.local.cache import CachedResponse, ResponseCache, cache_control, ttl_for
from shared.config import Config

POLICY = Distribution()  # min 0, default 86400, max 31536000, every error minimum 10


def ttl(status: int, cache: str | None = None, **headers: str) -> int:
    if cache is not None:
        headers["cache-control"] = cache
    return ttl_for(status, headers, POLICY)


def test_directives_are_parsed_case_insensitively_with_quoted_values() -> None:
    assert cache_control('Public, MAX-AGE="60", no-transform') == {
        "public": None,
        "max-age": "60",
        "no-transform": None,
    }
    assert cache_control(None) == {}


@pytest.mark.parametrize(
    ("cache", "expected"),
    [
        (None, 86400),  # no header: the default TTL
        ("public", 86400),
        ("max-age=600", 600),
        ("public, max-age=31536000, immutable", 31536000),
        ("max-age=999999999", 31536000),  # clamped to the maximum TTL
        ("max-age=60, s-maxage=300", 300),  # s-maxage wins for a shared cache
        ("s-maxage=30, max-age=600", 30),
        ("max-age=0", 0),
        ("max-age=oops", 86400),  # an unreadable value is no value
    ],
)
def test_ttl_of_a_200(cache: str | None, expected: int) -> None:
    assert ttl(200, cache) == expected


@pytest.mark.parametrize("directive", ["no-store", "no-cache", "private", "public, no-store"])
def test_uncacheable_directives_win_over_max_age(directive: str) -> None:
    assert ttl(200, f"{directive}, max-age=600") == 0
    assert ttl(410, directive) == 0


@pytest.mark.parametrize("status", [404, 410, 414, 501])
def test_no_store_stops_only_some_errors_from_being_cached(status: int) -> None:
    assert ttl(status, "no-store") == 0
    assert ttl(status, "private, max-age=600") == 0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_other_errors_are_cached_despite_no_store(status: int) -> None:
    """For error codes other than 404, 410, 414 and 501, CloudFront ignores no-store,
    no-cache and private ("Control how long CloudFront caches errors")."""
    assert ttl(status, "no-store") == 10
    assert ttl(status, "no-cache, max-age=60") == 60


def test_a_minimum_ttl_above_zero_overrides_no_store() -> None:
    policy = Distribution(cache_policy=CachePolicy(min_ttl=5))
    assert ttl_for(200, {"cache-control": "no-store"}, policy) == 86400
    assert ttl_for(200, {"cache-control": "max-age=1"}, policy) == 5


def test_expires_counts_when_there_is_no_max_age() -> None:
    now = 1_700_000_000.0
    headers = {
        "date": email.utils.formatdate(now, usegmt=True),
        "expires": email.utils.formatdate(now + 120, usegmt=True),
    }
    assert ttl_for(200, headers, POLICY, now=now) == 120
    assert ttl_for(200, {**headers, "cache-control": "max-age=5"}, POLICY, now=now) == 5
    assert ttl_for(200, {"expires": "0"}, POLICY, now=now) == 0  # invalid: already expired


@pytest.mark.parametrize("status", [200, 203, 204, 206, 300, 301, 302, 303, 410])
def test_statuses_cached_by_default(status: int) -> None:
    assert ttl(status) == 86400


@pytest.mark.parametrize("status", [307, 308])
def test_temporary_and_permanent_redirects_need_an_explicit_max_age(status: int) -> None:
    assert ttl(status) == 0
    assert ttl(status, "max-age=30") == 30


@pytest.mark.parametrize("status", [201, 202, 304, 413, 416, 422, 429])
def test_statuses_never_cached(status: int) -> None:
    assert ttl(status) == 0
    assert ttl(status, "max-age=600") == 0


@pytest.mark.parametrize("status", [404, 414, 500, 501, 502, 503, 504])
def test_errors_cached_for_at_least_the_error_minimum_ttl(status: int) -> None:
    assert ttl(status) == 10
    assert ttl(status, "max-age=3") == 10
    assert ttl(status, "public, max-age=60") == 60


@pytest.mark.parametrize("status", [400, 403, 405, 412, 415])
def test_some_errors_cached_only_with_max_age(status: int) -> None:
    assert ttl(status) == 0
    assert ttl(status, "public, max-age=60") == 60
    assert ttl(status, "s-maxage=2") == 10


def test_error_ttls_come_from_the_distribution_per_status() -> None:
    deployed = describe(Config(error_max_age=30))
    assert ttl_for(404, {}, deployed) == 30
    assert ttl_for(400, {"cache-control": "max-age=5"}, deployed) == 30
    assert ttl_for(503, {"cache-control": "no-store"}, deployed) == 0
    assert ttl_for(500, {}, deployed) == 0
    assert ttl_for(403, {"cache-control": "max-age=7"}, deployed) == 7
    assert ttl_for(501, {}, deployed) == 10  # not configured: CloudFront's default
    capped = Distribution(
        cache_policy=CachePolicy(max_ttl=100),
        error_caching_min_ttl=MappingProxyType({404: 300}),
    )
    assert ttl_for(404, {"cache-control": "max-age=600"}, capped) == 100


def entry(body: bytes = b"x") -> CachedResponse:
    return CachedResponse(200, "OK", [("Content-Type", "image/webp")], body)


def test_entries_expire_and_report_their_age() -> None:
    cache = ResponseCache()
    assert cache.put("/k", entry(), ttl=60, now=1000.0)
    hit = cache.get("/k", now=1030.5)
    assert hit is not None
    assert hit.age(1030.5) == 30
    assert cache.get("/k", now=1060.0) is None
    assert len(cache) == 0


def test_ttl_zero_and_oversized_entries_are_not_stored() -> None:
    cache = ResponseCache(max_bytes=100)
    assert not cache.put("/zero", entry(), ttl=0)
    assert not cache.put("/big", entry(b"x" * 200), ttl=60)
    assert len(cache) == 0


def test_least_recently_used_entries_are_evicted_first() -> None:
    size = entry(b"a" * 40).size
    cache = ResponseCache(max_bytes=size * 2)
    cache.put("/a", entry(b"a" * 40), ttl=60, now=0.0)
    cache.put("/b", entry(b"b" * 40), ttl=60, now=0.0)
    assert cache.get("/a", now=1.0) is not None  # /a is now the most recently used
    cache.put("/c", entry(b"c" * 40), ttl=60, now=1.0)
    assert cache.get("/b", now=2.0) is None
    assert cache.get("/a", now=2.0) is not None
    assert cache.get("/c", now=2.0) is not None


def test_replacing_an_entry_keeps_the_byte_count_right() -> None:
    size = entry(b"a" * 40).size
    cache = ResponseCache(max_bytes=size * 2)
    for _ in range(5):
        cache.put("/a", entry(b"a" * 40), ttl=60, now=0.0)
    cache.put("/b", entry(b"b" * 40), ttl=60, now=0.0)
    assert cache.get("/a", now=1.0) is not None
    assert cache.get("/b", now=1.0) is not None
