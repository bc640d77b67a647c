"""The CloudFront distribution imgedge deploys, as data: one description that the CDK app
(``infra/aws``) synthesizes and the local emulator (``infra/local``) enforces, so the two
cannot drift apart. Neither of them imports the other; both import this.

Everything here is a plain value: the cache policy (what is in the cache key and for how
long), the origin request policy (what reaches the origin), the origin group's failover
statuses, the error caching TTL per status, the response headers policy, and the edge
trigger with the limits Lambda@Edge holds it to. ``tests/infra`` asserts the synthesized
template carries exactly these values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from shared.config import Config
from shared.trace_context import EDGE_TIMING_HEADER, EDGE_TRACE_HEADER

DAY_S = 24 * 3600


@dataclass(frozen=True)
class CachePolicy:
    """The cache key and TTLs. The key is the URI alone: the edge router rewrote every
    spelling of a request into one canonical URI and consumed the query string, so no
    query string, header or cookie is in the key, and none is forwarded because of it."""

    min_ttl: int = 0
    default_ttl: int = DAY_S
    max_ttl: int = 365 * DAY_S
    query_strings: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()
    # Accept-Encoding normalized into the key (compressible responses only; images are not).
    accept_encoding_gzip: bool = True
    accept_encoding_brotli: bool = True


@dataclass(frozen=True)
class OriginRequestPolicy:
    """Viewer headers (as the edge router left them) sent to the origin: the trace the edge
    started and its timing, in imgedge's own headers (``shared/trace_context.py``). Not
    X-Amzn-Trace-Id: the edge does not hand its trace on in it, and a viewer's must not
    reach the resizer. Never Host: a function URL answers only to its own. Not Accept: the
    edge has already resolved ``f=auto``."""

    headers: tuple[str, ...] = (EDGE_TRACE_HEADER, EDGE_TIMING_HEADER)
    query_strings: tuple[str, ...] = ()
    cookies: tuple[str, ...] = ()


@dataclass(frozen=True)
class EdgeTrigger:
    """The edge router's association, and what Lambda@Edge allows a viewer-request function
    (CloudFront Developer Guide, "Quotas on Lambda@Edge": 128 MB, 5 s, 40 KB generated
    response including headers; "Restrictions on all edge functions")."""

    event_type: str = "viewer-request"
    include_body: bool = False
    memory_mb: int = 128
    timeout_s: int = 5
    max_generated_response_bytes: int = 40 * 1024


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
    custom_headers: tuple[tuple[str, str], ...] = (("Vary", "Accept"),)
    origin_read_timeout_s: int = 30  # CloudFront's default origin response timeout
    origin_connect_timeout_s: int = 10

    def error_ttl(self, status: int) -> int:
        return self.error_caching_min_ttl.get(status, self.default_error_caching_min_ttl)


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


def describe(config: Config) -> Distribution:
    """The distribution for one imgedge configuration."""
    ttls = {status: config.error_max_age for status in BRIEFLY_CACHED_ERRORS}
    ttls |= {status: 0 for status in UNCACHED_ERRORS}
    assert ttls.keys() <= CUSTOM_ERROR_CODES, "CloudFront takes no TTL for these statuses"
    policy = CachePolicy(max_ttl=max(config.derivative_max_age, CachePolicy.default_ttl))
    return Distribution(cache_policy=policy, error_caching_min_ttl=MappingProxyType(ttls))
