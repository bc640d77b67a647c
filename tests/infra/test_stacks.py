"""The synthesized templates (one `imgedge synth` per session, see conftest, and one more
here with the other edge trigger and SnapStart) have every property the deployment
promises, and the distribution's carry exactly the description's values
(``infra/distribution.py``) for either edge trigger. Nothing here talks to AWS."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.distribution import (
    CUSTOM_ERROR_CODES,
    EDGE_TRIGGERS,
    MAX_QUERY_STRINGS_PER_CACHE_POLICY,
    ORIGIN_REQUEST,
    VIEWER_REQUEST,
    Distribution,
    describe,
)
from infra.package import Built
from shared.config import Config
from shared.trace_context import AWS_TRACE_HEADER, EDGE_TIMING_HEADER, EDGE_TRACE_HEADER
from shared.viewer_query import READ_PARAMS
from tests.infra.conftest import HOME_REGION, SETTINGS_TOML, Files, Synthesized
from tests.infra.templates import (
    actions,
    bucket_ids,
    distribution,
    function_role,
    named,
    of_type,
    only,
    refers_to,
    role_statements,
    statements,
)

# --- the two stacks ------------------------------------------------------------------------


def test_synth_writes_both_stacks_in_their_regions(synthesized: Synthesized) -> None:
    assert set(synthesized.templates) == {"imgtest", "imgtest-edge"}
    assert f"imgtest ({HOME_REGION})" in synthesized.printed
    assert "imgtest-edge (us-east-1)" in synthesized.printed
    manifest = json.loads((synthesized.out / "manifest.json").read_text())
    environments = {
        name: artifact["environment"]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert environments == {
        "imgtest": f"aws://unknown-account/{HOME_REGION}",
        "imgtest-edge": "aws://unknown-account/us-east-1",
    }


# --- buckets -------------------------------------------------------------------------------


def test_buckets_are_private_encrypted_and_retained(synthesized: Synthesized) -> None:
    template = Template.from_json(synthesized.main)
    template.resource_count_is("AWS::S3::Bucket", 2)
    template.all_resources(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like(
                {
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                }
            ),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_buckets_refuse_plain_http_and_old_tls(synthesized: Synthesized) -> None:
    policies = of_type(synthesized.main, "AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        denies = [s for s in statements(policy["Properties"]["PolicyDocument"])
                  if s["Effect"] == "Deny"]  # fmt: skip
        conditions = [s["Condition"] for s in denies]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_only_derivatives_expire(synthesized: Synthesized) -> None:
    originals, derivatives = bucket_ids(synthesized)
    resources = synthesized.main["Resources"]
    assert "LifecycleConfiguration" not in resources[originals]["Properties"]
    rules = resources[derivatives]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rules == [
        {
            "Id": "expire-derivatives",
            "ExpirationInDays": 90,  # the settings' derivative_expiry_days
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            "Status": "Enabled",
        }
    ]


def imgedge_functions(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    """The three regional functions of imgedge, by what they do."""
    functions = of_type(synthesized.main, "AWS::Lambda::Function")
    prefixes = {"resizer": "ResizerFunction", "purge": "PurgeFunction", "batch": "PrecomputeBatch"}
    found = {
        name: next(v for k, v in functions.items() if k.startswith(prefix))
        for name, prefix in prefixes.items()
    }
    return found


def actions_on(template: dict[str, Any], role_id: str, logical_id: str) -> set[str]:
    """What the role's policies allow on anything that refers to ``logical_id``."""
    allowed: set[str] = set()
    for statement in role_statements(template, role_id):
        if statement["Effect"] == "Allow" and refers_to(statement["Resource"], logical_id):
            allowed |= actions(statement)
    return allowed


def test_originals_are_never_writable(synthesized: Synthesized) -> None:
    """No imgedge role may do anything to the originals bucket but read and list it: not the
    resizer, the purge (which needs nothing of it), the precompute batch or the precompute
    state machine. The one other grant on it, in either stack, is the deploy-time handler
    CDK adds to write the bucket's notification configuration (not its objects)."""
    originals, _ = bucket_ids(synthesized)
    main = synthesized.main
    roles = {name: function_role(f) for name, f in imgedge_functions(synthesized).items()}
    roles["state machine"] = named(main, "AWS::IAM::Role", "PrecomputeStateMachineRole")[0]
    granted = {name: actions_on(main, role, originals) for name, role in roles.items()}
    assert granted == {
        "resizer": {"s3:GetObject", "s3:ListBucket"},
        "purge": set(),
        "batch": {"s3:GetObject", "s3:ListBucket"},
        "state machine": {"s3:ListBucket"},  # its ItemReader lists the originals
    }
    allowed: dict[str, set[str]] = {}  # every policy in both stacks
    for template in synthesized.templates.values():
        for logical_id, resource in template["Resources"].items():
            documents = [resource["Properties"].get("PolicyDocument")]
            documents += [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
            for document in filter(None, documents):
                for statement in statements(document):
                    if statement["Effect"] == "Allow" and refers_to(statement, originals):
                        allowed.setdefault(logical_id, set()).update(actions(statement))
    notifications = named(main, "AWS::IAM::Policy", "StorageOriginalsNotificationsHandler")[0]
    assert allowed.pop(notifications) == {"s3:PutBucketNotification"}
    assert set().union(*allowed.values()) == {"s3:GetObject", "s3:ListBucket"}
    policy = next(
        p for p in of_type(main, "AWS::S3::BucketPolicy").values()
        if refers_to(p["Properties"]["Bucket"], originals)
    )  # fmt: skip
    assert all(s["Effect"] == "Deny" for s in statements(policy["Properties"]["PolicyDocument"]))


def test_cloudfront_reads_derivatives_through_oac(synthesized: Synthesized) -> None:
    _, derivatives = bucket_ids(synthesized)
    policy = next(
        p for p in of_type(synthesized.main, "AWS::S3::BucketPolicy").values()
        if refers_to(p["Properties"]["Bucket"], derivatives)
    )  # fmt: skip
    allows = [s for s in statements(policy["Properties"]["PolicyDocument"])
              if s["Effect"] == "Allow"]  # fmt: skip
    assert len(allows) == 1
    assert allows[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert actions(allows[0]) == {"s3:GetObject"}
    distribution_id = only(synthesized.main, "AWS::CloudFront::Distribution")[0]
    assert refers_to(allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"], distribution_id)


# --- the resizer ---------------------------------------------------------------------------


def resizer(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    functions = of_type(synthesized.main, "AWS::Lambda::Function")
    return next((k, v) for k, v in functions.items() if k.startswith("ResizerFunction"))


def test_resizer_function(synthesized: Synthesized) -> None:
    logical_id, function = resizer(synthesized)
    originals, derivatives = bucket_ids(synthesized)
    Template.from_json(synthesized.main).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "regional_resizer.handler.handler",
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "MemorySize": 2048,
            "Timeout": 20,
            "TracingConfig": {"Mode": "Active"},
            "Environment": {
                "Variables": {
                    "ORIGINALS_BUCKET": {"Ref": originals},
                    "DERIVATIVES_BUCKET": {"Ref": derivatives},
                }
            },
        },
    )
    assert function["Properties"]["Code"]["S3Key"].endswith(".zip")
    url = only(synthesized.main, "AWS::Lambda::Url")[1]["Properties"]
    assert url["AuthType"] == "AWS_IAM"
    assert url["TargetFunctionArn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    log_group = named(synthesized.main, "AWS::Logs::LogGroup", "ResizerLogs")[0]
    assert function["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": log_group}


def test_every_log_group_keeps_the_retention_setting(synthesized: Synthesized) -> None:
    log_groups = of_type(synthesized.main, "AWS::Logs::LogGroup")
    assert {k.split("Logs")[0] for k in log_groups} == {
        "Resizer", "Purge", "PrecomputeBatch", "PrecomputeStateMachine"
    }  # fmt: skip
    assert {g["Properties"]["RetentionInDays"] for g in log_groups.values()} == {14}


def test_resizer_times_out_before_cloudfront_does(synthesized: Synthesized) -> None:
    timeout = resizer(synthesized)[1]["Properties"]["Timeout"]
    custom = [o for o in distribution(synthesized)["Origins"] if "CustomOriginConfig" in o]
    assert len(custom) == 1
    assert timeout < custom[0]["CustomOriginConfig"]["OriginReadTimeout"] == 30


def test_resizer_role_is_least_privilege(synthesized: Synthesized) -> None:
    originals, derivatives = bucket_ids(synthesized)
    policy = named(synthesized.main, "AWS::IAM::Policy", "ResizerRoleDefaultPolicy")[1][
        "Properties"
    ]["PolicyDocument"]
    granted = {
        statement.get("Sid", "xray"): (actions(statement), json.dumps(statement["Resource"]))
        for statement in statements(policy)
    }
    assert set(granted) == {
        "Logs", "ReadOriginals", "MissingOriginalsAre404", "WriteDerivatives", "xray"
    }  # fmt: skip
    assert granted["ReadOriginals"][0] == {"s3:GetObject"}
    assert originals in granted["ReadOriginals"][1] and "/*" in granted["ReadOriginals"][1]
    assert granted["MissingOriginalsAre404"][0] == {"s3:ListBucket"}
    assert granted["WriteDerivatives"][0] == {"s3:PutObject", "s3:DeleteObject"}
    assert derivatives in granted["WriteDerivatives"][1]
    assert granted["xray"] == (
        {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
        '"*"',
    )
    assert "ResizerLogs" in granted["Logs"][1]
    role = next(v for k, v in of_type(synthesized.main, "AWS::IAM::Role").items()
                if k.startswith("ResizerRole"))  # fmt: skip
    assert "ManagedPolicyArns" not in role["Properties"]  # nothing beyond the above


def test_cloudfront_may_invoke_the_function_url_both_ways(synthesized: Synthesized) -> None:
    url_id = only(synthesized.main, "AWS::Lambda::Url")[0]
    distribution_id = only(synthesized.main, "AWS::CloudFront::Distribution")[0]
    permissions = [p["Properties"] for p in of_type(synthesized.main, "AWS::Lambda::Permission")
                   .values() if p["Properties"]["Principal"] != "s3.amazonaws.com"]  # fmt: skip
    assert {p["Action"] for p in permissions} == {
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunction",
    }
    invoke = next(p for p in permissions if p["Action"] == "lambda:InvokeFunction")
    assert invoke["InvokedViaFunctionUrl"] is True  # only through the URL, never directly
    for permission in permissions:
        assert permission["Principal"] == "cloudfront.amazonaws.com"
        assert permission["FunctionName"] == {"Fn::GetAtt": [url_id, "FunctionArn"]}
        assert refers_to(permission["SourceArn"], distribution_id)


def test_resizer_without_snapstart_has_its_url_on_latest(synthesized: Synthesized) -> None:
    function = resizer(synthesized)[1]["Properties"]
    assert "SnapStart" not in function
    assert of_type(synthesized.main, "AWS::Lambda::Alias") == {}
    assert "Qualifier" not in only(synthesized.main, "AWS::Lambda::Url")[1]["Properties"]


def test_resizer_with_snapstart_has_its_url_on_an_alias_of_a_version(
    synthesized_at_origin: Synthesized,
) -> None:
    """SnapStart applies to published versions only, never $LATEST (Lambda Developer Guide,
    "Improving startup performance with Lambda SnapStart")."""
    main = synthesized_at_origin.main
    logical_id, function = resizer(synthesized_at_origin)
    assert function["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert function["Properties"]["Runtime"] == "python3.12"
    version_id, version = only(main, "AWS::Lambda::Version")
    assert version["Properties"]["FunctionName"] == {"Ref": logical_id}
    alias = only(main, "AWS::Lambda::Alias")[1]
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    url_id, url = only(main, "AWS::Lambda::Url")
    assert url["Properties"]["Qualifier"] == alias["Properties"]["Name"] == "live"
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert url["Properties"]["AuthType"] == "AWS_IAM"
    permissions = [
        p["Properties"]
        for p in of_type(main, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "cloudfront.amazonaws.com"
    ]
    assert len(permissions) == 2
    assert all(p["FunctionName"] == {"Fn::GetAtt": [url_id, "FunctionArn"]} for p in permissions)


# --- the edge function ---------------------------------------------------------------------


def test_edge_function_is_lambda_at_edge_shaped(deployed: Deployed) -> None:
    synthesized, spec = deployed.synthesized, deployed.spec
    template = Template.from_json(synthesized.edge)
    template.resource_count_is("AWS::Lambda::Function", 1)
    function = only(synthesized.edge, "AWS::Lambda::Function")[1]["Properties"]
    assert function["Handler"] == "edge_router.handler.handler"
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["x86_64"]
    limits = (spec.edge.memory_mb, spec.edge.timeout_s)
    assert (function["MemorySize"], function["Timeout"]) == limits == (128, 5)
    assert function["MemorySize"] <= spec.edge.max_memory_mb
    assert function["Timeout"] <= spec.edge.max_timeout_s
    assert deployed.trigger.replace("-", " ") in function["Description"]
    assert "Environment" not in function  # Lambda@Edge allows none
    assert "TracingConfig" not in function and "DeadLetterConfig" not in function
    assert "Layers" not in function
    role = only(synthesized.edge, "AWS::IAM::Role")[1]["Properties"]
    principals = json.dumps(role["AssumeRolePolicyDocument"])
    assert "edgelambda.amazonaws.com" in principals and "lambda.amazonaws.com" in principals
    # A numbered version, whose ARN is handed to the main stack through SSM in us-east-1.
    version_id = only(synthesized.edge, "AWS::Lambda::Version")[0]
    parameter = only(synthesized.edge, "AWS::SSM::Parameter")[1]["Properties"]
    assert parameter["Value"] == {"Ref": version_id}


def test_edge_quotas_per_event_are_the_quota_pages() -> None:
    """CloudFront Developer Guide, "Quotas", Quotas on Lambda@Edge, by event type."""
    viewer = describe(Config(), VIEWER_REQUEST).edge
    origin = describe(Config(), ORIGIN_REQUEST).edge
    assert (viewer.max_memory_mb, viewer.max_timeout_s) == (128, 5)
    assert (origin.max_memory_mb, origin.max_timeout_s) == (10_240, 30)
    assert viewer.max_generated_response_bytes == 40 * 1024
    assert origin.max_generated_response_bytes == 1024 * 1024
    assert (viewer.max_package_bytes, origin.max_package_bytes) == (1 << 20, 50 << 20)


@pytest.fixture(scope="module")
def spec(files: Files) -> Distribution:
    """The description the emulator enforces, for the configuration the synth used."""
    return describe(files.load_config())


@pytest.fixture(scope="module")
def synthesized_at_origin(
    files: Files, packaged: Built, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Synthesized]:
    """`imgedge synth` of the same zips and configuration with edge_trigger = origin-request
    and the resizer's SnapStart on."""
    from infra.cli import main

    folder = tmp_path_factory.mktemp("at-origin")
    settings = folder / "settings.toml"
    settings.write_text(
        SETTINGS_TOML + 'edge_trigger = "origin-request"\nresizer_snapstart = true\n'
    )
    out = folder / "cdk.out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(
            ["synth", "--no-package", "--dist", str(packaged.edge_zip.parent),
             "--config", str(files.config), "--settings", str(settings), "--out", str(out)]
        )  # fmt: skip
    assert status == 0, printed.getvalue()
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in out.glob("*.template.json")
    }
    yield Synthesized(out, templates, printed.getvalue())


@dataclass(frozen=True)
class Deployed:
    """One synthesized deployment and the description it was synthesized from."""

    trigger: str
    synthesized: Synthesized
    spec: Distribution


@pytest.fixture(params=EDGE_TRIGGERS)
def deployed(request: pytest.FixtureRequest, files: Files) -> Deployed:
    trigger = str(request.param)
    name = "synthesized" if trigger == VIEWER_REQUEST else "synthesized_at_origin"
    synthesized = request.getfixturevalue(name)
    return Deployed(trigger, synthesized, describe(files.load_config(), trigger))


def test_edge_router_runs_on_its_trigger_by_version(deployed: Deployed) -> None:
    synthesized, spec = deployed.synthesized, deployed.spec
    behaviour = distribution(synthesized)["DefaultCacheBehavior"]
    (association,) = behaviour["LambdaFunctionAssociations"]
    assert association["EventType"] == spec.edge.event_type == deployed.trigger
    assert association["IncludeBody"] is spec.edge.include_body is False
    reader = only(synthesized.main, "Custom::CrossRegionStringParameterReader")
    assert association["LambdaFunctionARN"] == {"Fn::GetAtt": [reader[0], "FunctionArn"]}
    assert reader[1]["Properties"]["Region"] == "us-east-1"


# --- the distribution ----------------------------------------------------------------------


def test_origin_group_fails_over_from_derivatives_to_the_resizer(deployed: Deployed) -> None:
    synthesized, spec = deployed.synthesized, deployed.spec
    config = distribution(synthesized)
    _, derivatives = bucket_ids(synthesized)
    origins = {o["Id"]: o for o in config["Origins"]}
    s3_origin = next(i for i, o in origins.items() if "S3OriginConfig" in o)
    url_origin = next(i for i, o in origins.items() if "CustomOriginConfig" in o)
    assert refers_to(origins[s3_origin]["DomainName"], derivatives)
    assert origins[url_origin]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert all("OriginAccessControlId" in o for o in origins.values())
    (group,) = config["OriginGroups"]["Items"]
    assert [m["OriginId"] for m in group["Members"]["Items"]] == [s3_origin, url_origin]
    statuses = group["FailoverCriteria"]["StatusCodes"]["Items"]
    assert sorted(statuses) == sorted(spec.failover_statuses)
    assert {403, 404} <= set(statuses)
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == group["Id"]
    kinds = sorted(
        oac["Properties"]["OriginAccessControlConfig"]["OriginAccessControlOriginType"]
        for oac in of_type(synthesized.main, "AWS::CloudFront::OriginAccessControl").values()
    )
    assert kinds == ["lambda", "s3"]


def test_behaviour_and_protocols(synthesized: Synthesized, spec: Distribution) -> None:
    config = distribution(synthesized)
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["AllowedMethods"] == list(spec.allowed_methods) == ["GET", "HEAD"]
    assert behaviour["CachedMethods"] == list(spec.cached_methods) == ["GET", "HEAD"]
    assert behaviour["Compress"] is True
    assert config["HttpVersion"] == "http2and3"
    assert config["IPV6Enabled"] is True
    assert config["PriceClass"] == "PriceClass_200"
    assert config.get("CacheBehaviors", []) == []  # one behaviour: everything is an image


def test_errors_are_cached_briefly_and_5xx_never(deployed: Deployed) -> None:
    spec = deployed.spec
    ttls = {
        e["ErrorCode"]: e["ErrorCachingMinTTL"]
        for e in distribution(deployed.synthesized)["CustomErrorResponses"]
    }
    assert ttls == dict(spec.error_caching_min_ttl)
    assert ttls == {400: 30, 404: 30, 403: 0, 500: 0, 502: 0, 503: 0, 504: 0}
    assert ttls.keys() <= CUSTOM_ERROR_CODES


def test_cache_key_is_the_rewritten_uri_or_the_viewers_uri_and_query(deployed: Deployed) -> None:
    """Viewer-request trigger: the rewritten URI alone. Origin-request trigger: the viewer's
    URI and all of its query string (an allow-list could not hold imgedge's parameters under
    the default quota of 10, nor match them in any case). Never a header: not Accept."""
    synthesized, spec = deployed.synthesized, deployed.spec
    policy = only(synthesized.main, "AWS::CloudFront::CachePolicy")[1]["Properties"]
    config = policy["CachePolicyConfig"]
    ttls = (spec.cache_policy.min_ttl, spec.cache_policy.default_ttl, spec.cache_policy.max_ttl)
    assert (config["MinTTL"], config["DefaultTTL"], config["MaxTTL"]) == ttls
    assert ttls == (0, 86400, 2592000)  # max: the configuration's derivative_max_age
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    behavior = "all" if deployed.trigger == ORIGIN_REQUEST else "none"
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": behavior}
    assert spec.cache_policy.query_string_behavior == behavior
    assert len(READ_PARAMS) > MAX_QUERY_STRINGS_PER_CACHE_POLICY
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["EnableAcceptEncodingGzip"] is True and key["EnableAcceptEncodingBrotli"] is True
    behaviour = distribution(synthesized)["DefaultCacheBehavior"]
    assert behaviour["CachePolicyId"] == {
        "Ref": only(synthesized.main, "AWS::CloudFront::CachePolicy")[0]
    }


def test_at_origin_no_origin_request_policy_forwards_a_viewers_header(
    synthesized_at_origin: Synthesized,
) -> None:
    """The origin-request function adds the trace headers itself; a viewer's X-Imgedge-*
    must not reach it (it passes on a request carrying its timing header unchanged)."""
    spec = describe(Config(), ORIGIN_REQUEST)
    assert spec.origin_request_policy.forwards_nothing
    assert of_type(synthesized_at_origin.main, "AWS::CloudFront::OriginRequestPolicy") == {}
    behaviour = distribution(synthesized_at_origin)["DefaultCacheBehavior"]
    assert "OriginRequestPolicyId" not in behaviour


def test_origin_request_policy_forwards_the_trace_headers_never_host(
    synthesized: Synthesized, spec: Distribution
) -> None:
    """shared/trace_context.py: the resizer joins the edge's trace only if CloudFront
    forwards both of imgedge's headers; never X-Amzn-Trace-Id (a viewer's must not reach the
    resizer); a function URL answers only to its own Host."""
    policy_id, policy = only(synthesized.main, "AWS::CloudFront::OriginRequestPolicy")
    config = policy["Properties"]["OriginRequestPolicyConfig"]
    headers = config["HeadersConfig"]
    assert headers["HeaderBehavior"] == "whitelist"
    forwarded = {h.lower() for h in headers["Headers"]}
    assert sorted(forwarded) == sorted(spec.origin_request_policy.headers)
    assert forwarded == {EDGE_TRACE_HEADER, EDGE_TIMING_HEADER}
    assert AWS_TRACE_HEADER not in forwarded
    assert "host" not in forwarded and "accept" not in forwarded
    assert config["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    assert config["CookiesConfig"] == {"CookieBehavior": "none"}
    behaviour = distribution(synthesized)["DefaultCacheBehavior"]
    assert behaviour["OriginRequestPolicyId"] == {"Ref": policy_id}


def test_security_headers_are_the_descriptions_plus_hsts(deployed: Deployed) -> None:
    synthesized, spec = deployed.synthesized, deployed.spec
    policy_id, policy = only(synthesized.main, "AWS::CloudFront::ResponseHeadersPolicy")
    security = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    sent = {
        "X-Content-Type-Options": "nosniff" if security["ContentTypeOptions"] else None,
        "Content-Security-Policy": security["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"],
        "X-Frame-Options": security["FrameOptions"]["FrameOption"],
    }
    assert sent == dict(spec.security_headers)
    assert sent["Content-Security-Policy"].startswith("default-src 'none'")
    assert all(
        header["Override"] is True for name, header in security.items() if name != "XSSProtection"
    )
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]
    custom = config.get("CustomHeadersConfig", {}).get("Items", [])
    assert [(h["Header"], h["Value"], h["Override"]) for h in custom] == [
        (name, value, False) for name, value in spec.custom_headers
    ]
    # f=auto answers one URL with several formats on viewer requests only.
    vary = deployed.trigger == VIEWER_REQUEST
    assert (("Vary", "Accept") in spec.custom_headers) is vary
    hsts = security["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] == spec.hsts_max_age_s >= 31536000
    assert hsts["IncludeSubdomains"] is spec.hsts_include_subdomains is True
    behaviour = distribution(synthesized)["DefaultCacheBehavior"]
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": policy_id}


@pytest.mark.parametrize(
    "output",
    [
        "DistributionUrl", "DistributionId", "OriginalsBucket", "DerivativesBucket",
        "ResizerFunction", "PurgeFunction", "PurgeDeadLetterQueue", "PrecomputeStateMachine",
    ],
)  # fmt: skip
def test_outputs_for_the_user(synthesized: Synthesized, output: str) -> None:
    assert output in synthesized.main["Outputs"]
