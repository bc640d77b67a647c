"""imgedge's cache behaviour (``Behaviour``: the edge router on viewer or origin requests,
``edge_trigger``; an origin group, derivatives bucket failing over to the resizer's
function URL; the policies) and imgedge's own distribution (``Delivery``: that behaviour as
its default one, with its error caching, price class and, with ``domain_names`` and
``certificate_arn``, your domain). A team's distribution takes the same ``Behaviour`` on a
path pattern (``infra/aws/construct.py``).

Every value comes from ``infra/distribution.py``, the description the local emulator
enforces too; ``tests/infra`` checks the synthesized template carries exactly those values.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.aws.checks import acknowledge
from infra.aws.settings import DeploySettings
from infra.distribution import ORIGIN_REQUEST, VIEWER_REQUEST, CachePolicy, Distribution

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
# "Supported protocols and ciphers between viewers and CloudFront": TLSv1.2_2021 takes
# TLS 1.2 with AEAD ciphers only (no CBC, no SHA-1) and TLS 1.3; the 2025 policies drop
# ciphers or TLS 1.2 that some still-supported clients need.
MINIMUM_PROTOCOL = cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021
SECURITY_POLICY_PAGE = (
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/"
    "secure-connections-supported-viewer-protocols-ciphers.html"
)
DEFAULT_CERTIFICATE = (
    "The distribution uses its *.cloudfront.net name and certificate, with which CloudFront "
    "fixes the minimum viewer protocol; domain_names and certificate_arn give it your domain "
    "with TLSv1.2_2021."
)


PRICE_CLASSES = {
    "PriceClass_100": cloudfront.PriceClass.PRICE_CLASS_100,
    "PriceClass_200": cloudfront.PriceClass.PRICE_CLASS_200,
    "PriceClass_All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}


ALLOWED_METHODS = {
    ("GET", "HEAD"): cloudfront.AllowedMethods.ALLOW_GET_HEAD,
    ("GET", "HEAD", "OPTIONS"): cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
}
CACHED_METHODS = {
    ("GET", "HEAD"): cloudfront.CachedMethods.CACHE_GET_HEAD,
    ("GET", "HEAD", "OPTIONS"): cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
}
EDGE_EVENT_TYPES = {
    "viewer-request": cloudfront.LambdaEdgeEventType.VIEWER_REQUEST,
    "origin-request": cloudfront.LambdaEdgeEventType.ORIGIN_REQUEST,
}


def _allow_list(behavior: Any, names: tuple[str, ...]) -> Any:
    """A policy field as CDK spells it: an allow-list of ``names``, or none at all."""
    return behavior.allow_list(*names) if names else behavior.none()


def _cache_query_strings(policy: CachePolicy) -> Any:
    """The cache key's query strings: none, all (origin-request trigger), or an allow-list."""
    if policy.query_string_behavior == "all":
        return cloudfront.CacheQueryStringBehavior.all()
    return _allow_list(cloudfront.CacheQueryStringBehavior, policy.query_strings)


CACHE_POLICY_COMMENTS = {
    VIEWER_REQUEST: "imgedge: the canonical key URI is the whole cache key",
    ORIGIN_REQUEST: "imgedge: the viewer's URI and query string as spelled (no Accept)",
}


def _member(header_value: str) -> str:
    """A header value as CDK's enum member name: strict-origin -> STRICT_ORIGIN."""
    return header_value.upper().replace("-", "_")


def _security_headers(spec: Distribution) -> cloudfront.ResponseSecurityHeadersBehavior:
    """The description's security headers (overriding the origin's), plus HSTS."""
    headers = {name.lower(): value for name, value in spec.security_headers}
    assert headers.keys() == {
        "x-content-type-options",
        "content-security-policy",
        "referrer-policy",
        "x-frame-options",
    }, "infra/distribution.py security_headers changed: map the new header here"
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
            access_control_max_age=Duration.seconds(spec.hsts_max_age_s),
            include_subdomains=spec.hsts_include_subdomains,
            override=True,
        ),
    )


class Behaviour(Construct):
    """The policies, the origin group and the edge association of imgedge's behaviour, for
    a distribution's default behaviour (``default_behavior``) or a path pattern of one
    (``add_to``)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: Distribution,
        settings: DeploySettings,
        derivatives: s3.IBucket,
        resizer_url: lambda_.IFunctionUrl,
        edge_version: lambda_.IVersion,
    ) -> None:
        super().__init__(scope, id)
        key, forwarded = spec.cache_policy, spec.origin_request_policy
        self.cache_policy = cloudfront.CachePolicy(
            self,
            "CachePolicy",
            comment=CACHE_POLICY_COMMENTS[spec.edge_trigger],
            min_ttl=Duration.seconds(key.min_ttl),
            default_ttl=Duration.seconds(key.default_ttl),
            max_ttl=Duration.seconds(key.max_ttl),
            query_string_behavior=_cache_query_strings(key),
            header_behavior=_allow_list(cloudfront.CacheHeaderBehavior, key.headers),
            cookie_behavior=_allow_list(cloudfront.CacheCookieBehavior, key.cookies),
            enable_accept_encoding_gzip=key.accept_encoding_gzip,
            enable_accept_encoding_brotli=key.accept_encoding_brotli,
        )
        # None when it would forward nothing (origin-request trigger): the behaviour then
        # has no origin request policy, and CloudFront forwards what the cache key holds.
        self.origin_request_policy: cloudfront.OriginRequestPolicy | None = None
        if not forwarded.forwards_nothing:
            self.origin_request_policy = cloudfront.OriginRequestPolicy(
                self,
                "OriginRequestPolicy",
                comment="imgedge: the trace headers to the resizer (shared/trace_context.py)",
                header_behavior=_allow_list(
                    cloudfront.OriginRequestHeaderBehavior, forwarded.headers
                ),
                query_string_behavior=_allow_list(
                    cloudfront.OriginRequestQueryStringBehavior, forwarded.query_strings
                ),
                cookie_behavior=_allow_list(
                    cloudfront.OriginRequestCookieBehavior, forwarded.cookies
                ),
            )
        custom_headers = [
            cloudfront.ResponseCustomHeader(header=name, value=value, override=False)
            for name, value in spec.custom_headers
        ]
        self.response_headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "ResponseHeadersPolicy",
            comment="imgedge: originals may be anything (SVG too): nothing here may run",
            security_headers_behavior=_security_headers(spec),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=custom_headers
            )
            if custom_headers
            else None,
        )
        self.origin = origins.OriginGroup(
            primary_origin=origins.S3BucketOrigin.with_origin_access_control(
                derivatives, origin_access_levels=[cloudfront.AccessLevel.READ]
            ),
            fallback_origin=origins.FunctionUrlOrigin.with_origin_access_control(
                resizer_url, read_timeout=Duration.seconds(settings.origin_read_timeout_s)
            ),
            fallback_status_codes=sorted(spec.failover_statuses),
        )
        self.options: dict[str, Any] = {
            "viewer_protocol_policy": cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            "allowed_methods": ALLOWED_METHODS[spec.allowed_methods],
            "cached_methods": CACHED_METHODS[spec.cached_methods],
            "cache_policy": self.cache_policy,
            "origin_request_policy": self.origin_request_policy,
            "response_headers_policy": self.response_headers_policy,
            "compress": True,
            "edge_lambdas": [
                cloudfront.EdgeLambda(
                    event_type=EDGE_EVENT_TYPES[spec.edge.event_type],
                    function_version=edge_version,
                    include_body=spec.edge.include_body,
                )
            ],
        }
        """Every option of the behaviour but its origin (``origin``)."""

    def default_behavior(self) -> cloudfront.BehaviorOptions:
        return cloudfront.BehaviorOptions(origin=self.origin, **self.options)

    def add_to(self, distribution: cloudfront.Distribution, path_pattern: str) -> None:
        distribution.add_behavior(path_pattern, self.origin, **self.options)


def error_responses(spec: Distribution) -> list[cloudfront.ErrorResponse]:
    """The description's error caching TTL per status, as a distribution's error responses
    (they apply to every behaviour of the distribution)."""
    return [
        cloudfront.ErrorResponse(http_status=status, ttl=Duration.seconds(ttl))
        for status, ttl in sorted(spec.error_caching_min_ttl.items())
    ]


class Delivery(Construct):
    """imgedge's own distribution: ``behaviour`` as its default (and only) behaviour."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: Distribution,
        settings: DeploySettings,
        behaviour: Behaviour,
    ) -> None:
        super().__init__(scope, id)
        certificate = None
        if settings.certificate_arn:
            certificate = acm.Certificate.from_certificate_arn(
                self, "Certificate", settings.certificate_arn
            )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"imgedge ({settings.stack_name})",
            default_behavior=behaviour.default_behavior(),
            error_responses=error_responses(spec),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_ipv6=True,
            price_class=PRICE_CLASSES[settings.price_class],
            domain_names=list(settings.domain_names) or None,
            certificate=certificate,
            # sni-only: dedicated IP addresses serve viewers without SNI and are charged
            # monthly ("Choose how CloudFront serves HTTPS requests").
            ssl_support_method=cloudfront.SSLMethod.SNI if certificate else None,
            minimum_protocol_version=MINIMUM_PROTOCOL if certificate else None,
        )
        acknowledge(self.distribution, "AwsSolutions-CFR1", NO_GEO_RESTRICTION)
        acknowledge(self.distribution, "AwsSolutions-CFR2", NO_WAF)
        acknowledge(self.distribution, "AwsSolutions-CFR3", NO_ACCESS_LOGS)
        if certificate is None:
            acknowledge(self.distribution, "AwsSolutions-CFR4", DEFAULT_CERTIFICATE)
