"""The CloudFront distribution imgedge deploys, as data: one description that the CDK app
(``infra/aws``) synthesizes and the local emulator (``infra/local``) enforces, so the two
cannot drift apart. Neither of them imports the other; both import this.

Everything here is a plain value: the cache policy (what is in the cache key and for how
long), the origin request policy (what reaches the origin), the origin group's failover
statuses, the error caching TTL per status, the response headers policy, and the edge
trigger with the limits Lambda@Edge holds it to. ``tests/infra`` asserts the synthesized
template carries exactly these values.

The edge router runs on one of two CloudFront events (``EDGE_TRIGGERS``), a deployment
setting (``edge_trigger``), and the policies follow from it:

- ``viewer-request`` (the default): the function runs on every request, hit or miss, and
  rewrites any spelling of a request to the canonical key URI before CloudFront looks in
  its cache, so the URI alone is the cache key. Every spelling is one cache entry and
  ``f=auto`` is resolved from Accept before the lookup.
- ``origin-request``: the function runs on cache misses only ("Origin request and origin
  response events occur only when a requested object isn't cached": CloudFront Developer
  Guide, "How to decide which CloudFront event to use to trigger a Lambda@Edge function"),
  so a hit costs no Lambda@Edge request fee and takes nothing of its per-Region request
  quota. The cache key is then the viewer's URI and its whole query string, as spelled:
  CloudFront considers the order and the case of query parameters ("Cache content based on
  query string parameters", Optimize caching), so two spellings are two entries, each
  rewritten at its own miss to the one canonical key that S3 and the resizer store. Pages
  should write one spelling (``shared.urls``). ``f=auto`` is refused (400): the cache key
  has no Accept, and putting the raw header in it would split every image per browser
  build (CloudFront normalizes Accept-Encoding only: "Understand cache policies").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from shared.config import Config
from shared.trace_context import EDGE_TIMING_HEADER, EDGE_TRACE_HEADER

DAY_S = 24 * 3600
KB = 1024
MB = 1024 * KB

VIEWER_REQUEST = "viewer-request"
ORIGIN_REQUEST = "origin-request"
EDGE_TRIGGERS = (VIEWER_REQUEST, ORIGIN_REQUEST)

MAX_QUERY_STRINGS_PER_CACHE_POLICY = 10
"""CloudFront's default quota ("Quotas", General quotas on policies: query strings per cache
policy). imgedge reads 16 parameters (``shared.viewer_query.READ_PARAMS``), so an
allow-list could not name them all without a raised quota, and an allow-list is matched by
case, where imgedge reads any case. The origin-request cache policy therefore keys on all
query strings, which is also what lets an origin request function read them at all
("Restrictions on all edge functions", Query strings: "To access the query string in an
origin request or origin response function, your cache policy or origin request policy
must be set to All for Query strings")."""


@dataclass(frozen=True)
class CachePolicy:
    """The cache key and TTLs. With the viewer-request trigger the key is the URI alone: the
    edge router rewrote every spelling of a request into one canonical URI and consumed the
    query string, so no query string, header or cookie is in the key, and none is forwarded
    because of it. With the origin-request trigger the key is the viewer's URI and all of
    its query string (``query_string_behavior = "all"``); still no header or cookie."""

    min_ttl: int = 0
    default_ttl: int = DAY_S
    max_ttl: int = 365 * DAY_S
    # "none", "all", or "whitelist" of ``query_strings`` (CloudFront's QueryStringBehavior).
    query_string_behavior: str = "none"
    query_strings: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()
    # Accept-Encoding normalized into the key (compressible responses only; images are not).
    accept_encoding_gzip: bool = True
    accept_encoding_brotli: bool = True

    def __post_init__(self) -> None:
        assert self.query_string_behavior in ("none", "all", "whitelist")
        assert (self.query_string_behavior == "whitelist") == bool(self.query_strings)
        assert len(self.query_strings) <= MAX_QUERY_STRINGS_PER_CACHE_POLICY


@dataclass(frozen=True)
class OriginRequestPolicy:
    """Viewer headers (as the edge router left them) sent to the origin. With the
    viewer-request trigger: the trace the edge started and its timing, in imgedge's own
    headers (``shared/trace_context.py``). Not X-Amzn-Trace-Id: the edge does not hand its
    trace on in it, and a viewer's must not reach the resizer. Never Host: a function URL
    answers only to its own. Not Accept: the edge has already resolved ``f=auto``.

    With the origin-request trigger: nothing. The function adds the trace headers itself,
    after the viewer, and headers an origin request function adds go to the origin; a
    viewer's own X-Imgedge-* headers must not reach the function (it takes a request that
    carries its timing header as one it has already rewritten) nor the resizer. The query
    string reaches the origin through the cache policy, which keys on all of it."""

    headers: tuple[str, ...] = (EDGE_TRACE_HEADER, EDGE_TIMING_HEADER)
    query_strings: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()

    @property
    def forwards_nothing(self) -> bool:
        return not (self.headers or self.query_strings or self.cookies)


@dataclass(frozen=True)
class EdgeTrigger:
    """The edge router's association: its event, the memory and timeout it is deployed
    with, and the limits Lambda@Edge holds a function of that event to (CloudFront
    Developer Guide, "Quotas", Quotas on Lambda@Edge, "Quotas that differ by event type"):

    ====================================  ================  ==========================
    per event type                        viewer request    origin request
    ====================================  ================  ==========================
    function memory size                  128 MB            as Lambda: up to 10,240 MB
    function timeout                      5 s               30 s
    generated response, headers included  40 KB             1 MB
    compressed function and libraries     1 MB              50 MB
    ====================================  ================  ==========================

    The router does the same small, CPU-only work at either event, so it gets 128 MB and
    5 s at both; the origin-request limits only loosen what the emulator checks of it.
    Read-only headers also differ per event ("Restrictions on all edge functions"):
    ``infra/local/edge_rules.py`` holds those lists."""

    event_type: str = VIEWER_REQUEST
    include_body: bool = False
    memory_mb: int = 128
    timeout_s: int = 5
    max_memory_mb: int = 128
    max_timeout_s: int = 5
    max_generated_response_bytes: int = 40 * KB
    max_package_bytes: int = 1 * MB

    def __post_init__(self) -> None:
        assert self.event_type in EDGE_TRIGGERS
        assert 128 <= self.memory_mb <= self.max_memory_mb
        assert 1 <= self.timeout_s <= self.max_timeout_s

    @classmethod
    def for_event(cls, event_type: str) -> EdgeTrigger:
        """The router's association on ``event_type`` with that event's quotas."""
        if event_type == VIEWER_REQUEST:
            return cls()
        if event_type == ORIGIN_REQUEST:
            return cls(
                event_type=ORIGIN_REQUEST,
                max_memory_mb=10_240,
                max_timeout_s=30,
                max_generated_response_bytes=1 * MB,
                max_package_bytes=50 * MB,
            )
        raise ValueError(f"edge trigger: one of {list(EDGE_TRIGGERS)}, not {event_type!r}")


@dataclass(frozen=True)
class Distribution:
    cache_policy: CachePolicy = field(default_factory=CachePolicy)
    origin_request_policy: OriginRequestPolicy = field(default_factory=OriginRequestPolicy)
    edge: EdgeTrigger = field(default_factory=EdgeTrigger)
    allowed_methods: tuple[str, ...] = ("GET", "HEAD")
    cached_methods: tuple[str, ...] = ("GET", "HEAD")
    # Derivatives bucket first; on these statuses the same request goes to the resizer.
    # S3 behind OAC answers 403 for a missing key (no s3:ListBucket), 404 with it.
    failover_statuses: frozenset[int] = frozenset({403, 404, 500, 502, 503, 504})
    # Error caching minimum TTL per status ("CustomErrorResponses"); statuses not named
    # here get CloudFront's default of 10 s, where CloudFront caches them at all.
    error_caching_min_ttl: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))
    default_error_caching_min_ttl: int = 10
    # The response headers policy: these override the origin's values. Originals may be
    # anything, SVG with script included, so nothing a browser gets here may run or sniff.
    security_headers: tuple[tuple[str, str], ...] = (
        ("X-Content-Type-Options", "nosniff"),
        (
            "Content-Security-Policy",
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        ),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Frame-Options", "SAMEORIGIN"),
    )
    hsts_max_age_s: int = 730 * DAY_S  # sent over HTTPS only, so not by the local emulator
    hsts_include_subdomains: bool = True
    # Added where the origin sent none (not overriding). f=auto answers one URL with AVIF
    # or WebP by the viewer's Accept: a shared cache between CloudFront and the browser
    # must key on Accept too. CloudFront's own cache is unaffected: the key is the URI.
    # With the origin-request trigger f=auto is refused, one URL is one format, and there is
    # no Vary at all.
    custom_headers: tuple[tuple[str, str], ...] = (("Vary", "Accept"),)
    origin_read_timeout_s: int = 30  # CloudFront's default origin response timeout
    origin_connect_timeout_s: int = 10

    def error_ttl(self, status: int) -> int:
        return self.error_caching_min_ttl.get(status, self.default_error_caching_min_ttl)

    @property
    def edge_trigger(self) -> str:
        return self.edge.event_type


# Errors worth remembering briefly (the viewer's mistake, a missing original) and those
# that must reach the origin again at once (a transient failure, an access problem).
# The resizer's refusals of an original (too large, too many pixels, corrupt, not an image)
# are 415 with the max-age it sends: CloudFront caches a 415 that carries one (for the
# longer of it and the default 10 s), where it never caches 413 or 422, so a repeat within
# the TTL does not read the original again. 415 itself cannot be named here.
BRIEFLY_CACHED_ERRORS = (400, 404)
UNCACHED_ERRORS = (403, 500, 502, 503, 504)
CUSTOM_ERROR_CODES = frozenset({400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504})
"""The only statuses a distribution's custom error responses may name (CloudFront API
Reference, "CustomErrorResponse": ErrorCode's valid values); CloudFormation refuses others."""


def describe(config: Config, edge_trigger: str = VIEWER_REQUEST) -> Distribution:
    """The distribution for one imgedge configuration, with the edge router on
    ``edge_trigger`` (one of ``EDGE_TRIGGERS``)."""
    trigger = EdgeTrigger.for_event(edge_trigger)
    ttls = {status: config.error_max_age for status in BRIEFLY_CACHED_ERRORS}
    ttls |= {status: 0 for status in UNCACHED_ERRORS}
    assert ttls.keys() <= CUSTOM_ERROR_CODES, "CloudFront takes no TTL for these statuses"
    max_ttl = max(config.derivative_max_age, CachePolicy.default_ttl)
    if edge_trigger == VIEWER_REQUEST:
        return Distribution(
            cache_policy=CachePolicy(max_ttl=max_ttl),
            edge=trigger,
            error_caching_min_ttl=MappingProxyType(ttls),
        )
    return Distribution(
        cache_policy=CachePolicy(max_ttl=max_ttl, query_string_behavior="all"),
        origin_request_policy=OriginRequestPolicy(headers=()),
        edge=trigger,
        error_caching_min_ttl=MappingProxyType(ttls),
        custom_headers=(),
    )
