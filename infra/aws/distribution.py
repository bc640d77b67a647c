"""The CloudFront distribution: one behaviour, the edge router on viewer request, an origin
group (derivatives bucket, failing over to the resizer's function URL), and the policies.

The local emulator (``infra/local/cloudfront.py``, ``origins.py``, ``cache.py``) is the
same distribution on one machine; the failover statuses and the security headers are taken
from it, and the tests check the rest agrees.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.aws.checks import acknowledge
from infra.aws.settings import DeploySettings
from infra.local.cache import CachePolicy as LocalCachePolicy
from infra.local.cloudfront import SECURITY_HEADERS
from infra.local.origins import FAILOVER_STATUSES
from shared.config import Config
from shared.trace_context import EDGE_TIMING_HEADER, TRACE_HEADER

# The headers the resizer needs from the viewer request (after the edge router ran):
# the trace the edge started and the edge's own timing. See shared/trace_context.py,
# whose two constants these are. Never Host: a function URL answers only to its own name.
# Not Accept either: the edge router has already resolved f=auto into the URI.
FORWARDED_HEADERS = (TRACE_HEADER, EDGE_TIMING_HEADER)

HSTS_MAX_AGE = Duration.days(730)
# Statuses CloudFront caches for error_max_age (the viewer's mistake stays one), and those it
# must never cache (the next request should reach the origin again).
BRIEFLY_CACHED_ERRORS = (400, 404)
UNCACHED_ERRORS = (403, 500, 502, 503, 504)

NO_GEO_RESTRICTION = (
    "Images are served worldwide; restrict countries with the distribution's geo "
    "restriction if your content needs it."
)
NO_WAF = (
    "No WAF web ACL by default (it costs per request): the edge router rejects malformed "
    "requests with a 400 before any origin is reached and the size allow-list bounds the work "
    "per original. Associate a web ACL for rate limiting if you need it."
)
NO_ACCESS_LOGS = (
    "No standard access logs by default (a log bucket with ACLs enabled, or paid log "
    "delivery): CloudFront's metrics and the resizer's traces show the traffic."
)
DEFAULT_CERTIFICATE = (
    "The distribution uses its *.cloudfront.net name and certificate, with which CloudFront "
    "fixes the minimum viewer protocol; a custom domain's certificate would allow TLSv1.2_2021."
)


PRICE_CLASSES = {
    "PriceClass_100": cloudfront.PriceClass.PRICE_CLASS_100,
    "PriceClass_200": cloudfront.PriceClass.PRICE_CLASS_200,
    "PriceClass_All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}


def _member(header_value: str) -> str:
    """A header value as CDK's enum member name: strict-origin -> STRICT_ORIGIN."""
    return header_value.upper().replace("-", "_")


def _security_headers() -> cloudfront.ResponseSecurityHeadersBehavior:
    """The emulator's security headers (overriding the origin's), plus HSTS."""
    headers = {name.lower(): value for name, value in SECURITY_HEADERS}
    assert headers.keys() == {
        "x-content-type-options",
        "content-security-policy",
        "referrer-policy",
        "x-frame-options",
    }, "infra/local/cloudfront.py SECURITY_HEADERS changed: map the new header here"
    assert headers["x-content-type-options"] == "nosniff"
    return cloudfront.ResponseSecurityHeadersBehavior(
        content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
        content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
            content_security_policy=headers["content-security-policy"], override=True
        ),
        referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
            referrer_policy=cloudfront.HeadersReferrerPolicy[_member(headers["referrer-policy"])],
            override=True,
        ),
        frame_options=cloudfront.ResponseHeadersFrameOptions(
            frame_option=cloudfront.HeadersFrameOption[_member(headers["x-frame-options"])],
            override=True,
        ),
        strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
            access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
        ),
    )


class Delivery(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: Config,
        settings: DeploySettings,
        derivatives: s3.IBucket,
        resizer_url: lambda_.IFunctionUrl,
        edge_version: lambda_.IVersion,
    ) -> None:
        super().__init__(scope, id)
        local = LocalCachePolicy()
        # The cache key is the URI alone: the edge router has rewritten every spelling of a
        # request into one canonical key and consumed the query string.
        self.cache_policy = cloudfront.CachePolicy(
            self,
            "CachePolicy",
            comment="imgedge: the canonical key URI is the whole cache key",
            min_ttl=Duration.seconds(local.min_ttl),
            default_ttl=Duration.seconds(local.default_ttl),
            max_ttl=Duration.seconds(max(config.derivative_max_age, local.default_ttl)),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        self.origin_request_policy = cloudfront.OriginRequestPolicy(
            self,
            "OriginRequestPolicy",
            comment="imgedge: the trace headers to the resizer (shared/trace_context.py)",
            header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list(*FORWARDED_HEADERS),
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.none(),
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.none(),
        )
        self.response_headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "ResponseHeadersPolicy",
            comment="imgedge: originals may be anything (SVG too): nothing here may run",
            security_headers_behavior=_security_headers(),
        )
        origin_group = origins.OriginGroup(
            primary_origin=origins.S3BucketOrigin.with_origin_access_control(
                derivatives, origin_access_levels=[cloudfront.AccessLevel.READ]
            ),
            fallback_origin=origins.FunctionUrlOrigin.with_origin_access_control(
                resizer_url, read_timeout=Duration.seconds(settings.origin_read_timeout_s)
            ),
            fallback_status_codes=sorted(FAILOVER_STATUSES),
        )
        error_ttls = [(s, config.error_max_age) for s in BRIEFLY_CACHED_ERRORS]
        error_ttls += [(s, 0) for s in UNCACHED_ERRORS]
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"imgedge ({settings.stack_name})",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin_group,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                cache_policy=self.cache_policy,
                origin_request_policy=self.origin_request_policy,
                response_headers_policy=self.response_headers_policy,
                compress=True,
                edge_lambdas=[
                    cloudfront.EdgeLambda(
                        event_type=cloudfront.LambdaEdgeEventType.VIEWER_REQUEST,
                        function_version=edge_version,
                        include_body=False,
                    )
                ],
            ),
            error_responses=[
                cloudfront.ErrorResponse(http_status=status, ttl=Duration.seconds(ttl))
                for status, ttl in sorted(error_ttls)
            ],
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_ipv6=True,
            price_class=PRICE_CLASSES[settings.price_class],
        )
        acknowledge(self.distribution, "AwsSolutions-CFR1", NO_GEO_RESTRICTION)
        acknowledge(self.distribution, "AwsSolutions-CFR2", NO_WAF)
        acknowledge(self.distribution, "AwsSolutions-CFR3", NO_ACCESS_LOGS)
        acknowledge(self.distribution, "AwsSolutions-CFR4", DEFAULT_CERTIFICATE)
