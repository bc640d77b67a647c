"""imgedge added to a team's own distribution (``infra/aws/construct.py``): the example
app (``examples/existing-distribution``), synthesized once offline, has imgedge's behaviour
on ``/img/*`` with its origin group and edge function, the team's default behaviour as it
was, and the purge on that distribution; the construct refuses what cannot work."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins

from infra.aws.construct import DeploymentError, ImgedgeBehavior, path_pattern_problem
from infra.aws.settings import DeploySettings
from infra.aws.toolkit import CONTEXT_CONFIG, CONTEXT_DIST, feature_flags
from infra.distribution import describe
from infra.package import Built
from tests.conftest import REPO
from tests.infra.conftest import Files
from tests.infra.templates import of_type, only, refers_to, role_statements

EXAMPLE = REPO / "examples" / "existing-distribution" / "app.py"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CloudFront's managed policy


def example_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("existing_distribution_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Example:
    templates: dict[str, dict[str, Any]]

    @property
    def main(self) -> dict[str, Any]:
        return self.templates["Website"]

    @property
    def config(self) -> dict[str, Any]:
        resource = only(self.main, "AWS::CloudFront::Distribution")[1]
        config: dict[str, Any] = resource["Properties"]["DistributionConfig"]
        return config


@pytest.fixture(scope="module")
def example(files: Files, packaged: Built, tmp_path_factory: pytest.TempPathFactory) -> Example:
    out = tmp_path_factory.mktemp("example.out")
    context = {
        **feature_flags(),
        CONTEXT_DIST: str(packaged.edge_zip.parent),
        CONTEXT_CONFIG: str(files.config),
    }
    app = App(outdir=str(out), context=context)
    example_module().build(app)
    app.synth()
    return Example(
        {
            path.name.removesuffix(".template.json"): json.loads(path.read_text())
            for path in out.glob("*.template.json")
        }
    )


def test_the_edge_function_has_its_own_stack_in_us_east_1(example: Example) -> None:
    assert set(example.templates) == {"Website", "imgedge-edge"}
    edge = only(example.templates["imgedge-edge"], "AWS::Lambda::Function")[1]
    assert edge["Properties"]["Handler"] == "edge_router.handler.handler"
    reader = only(example.main, "Custom::CrossRegionStringParameterReader")[1]
    assert reader["Properties"]["Region"] == "us-east-1"


def test_imgedge_is_a_behaviour_on_its_path(example: Example, files: Files) -> None:
    spec = describe(files.load_config())
    config = example.config
    (behaviour,) = config["CacheBehaviors"]
    assert behaviour["PathPattern"] == "/img/*"
    (group,) = config["OriginGroups"]["Items"]
    assert behaviour["TargetOriginId"] == group["Id"]
    origins_by_id = {o["Id"]: o for o in config["Origins"]}
    members = [origins_by_id[m["OriginId"]] for m in group["Members"]["Items"]]
    assert "S3OriginConfig" in members[0] and "CustomOriginConfig" in members[1]
    derivatives = next(k for k in of_type(example.main, "AWS::S3::Bucket") if "Derivatives" in k)
    assert refers_to(members[0]["DomainName"], derivatives)
    url = only(example.main, "AWS::Lambda::Url")[0]
    assert refers_to(members[1]["DomainName"], url)
    statuses = group["FailoverCriteria"]["StatusCodes"]["Items"]
    assert sorted(statuses) == sorted(spec.failover_statuses)
    (association,) = behaviour["LambdaFunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    reader = only(example.main, "Custom::CrossRegionStringParameterReader")[0]
    assert association["LambdaFunctionARN"] == {"Fn::GetAtt": [reader, "FunctionArn"]}
    policies = {
        "CachePolicyId": "AWS::CloudFront::CachePolicy",
        "OriginRequestPolicyId": "AWS::CloudFront::OriginRequestPolicy",
        "ResponseHeadersPolicyId": "AWS::CloudFront::ResponseHeadersPolicy",
    }
    for key, kind in policies.items():
        assert behaviour[key] == {"Ref": only(example.main, kind)[0]}
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    errors = {e["ErrorCode"]: e["ErrorCachingMinTTL"] for e in config["CustomErrorResponses"]}
    assert errors == dict(spec.error_caching_min_ttl)


def test_the_default_behaviour_is_the_teams(example: Example) -> None:
    config = example.config
    default = config["DefaultCacheBehavior"]
    origin = next(o for o in config["Origins"] if o["Id"] == default["TargetOriginId"])
    assert origin["DomainName"] == "www.example.com"
    assert default["CachePolicyId"] == CACHING_DISABLED
    assert "LambdaFunctionAssociations" not in default
    assert "OriginRequestPolicyId" not in default and "ResponseHeadersPolicyId" not in default
    assert config["Comment"] == "the website"


def test_the_purge_invalidates_the_teams_distribution(example: Example) -> None:
    distribution = only(example.main, "AWS::CloudFront::Distribution")[0]
    purge = next(
        v for k, v in of_type(example.main, "AWS::Lambda::Function").items()
        if k.startswith("ImgedgePurgeFunction")
    )  # fmt: skip
    role = purge["Properties"]["Role"]["Fn::GetAtt"][0]
    invalidate = next(
        s for s in role_statements(example.main, role) if s.get("Sid") == "Invalidate"
    )
    assert refers_to(invalidate["Resource"], distribution)
    variables = purge["Properties"]["Environment"]["Variables"]
    assert variables["DISTRIBUTION_ID"] == {"Ref": distribution}


@pytest.mark.parametrize("pattern", ["*", "/*", "", "/img/<x>"])
def test_a_path_pattern_cloudfront_or_the_default_behaviour_has_is_refused(pattern: str) -> None:
    assert path_pattern_problem(pattern) is not None
    assert path_pattern_problem("/img/*") is None and path_pattern_problem("*.jpg") is None


def _distribution(stack: Stack) -> cloudfront.Distribution:
    return cloudfront.Distribution(
        stack,
        "Distribution",
        default_behavior=cloudfront.BehaviorOptions(origin=origins.HttpOrigin("example.com")),
    )


def test_refusals(files: Files, packaged: Built) -> None:
    """Before any resource is made: a default path pattern, a distribution of another stack
    (a cycle), a stack without a region, domain settings meant for imgedge's own."""
    app = App()
    config = files.load_config()
    here = Stack(app, "Here", env=Environment(region="eu-west-1"))
    there = Stack(app, "There", env=Environment(region="eu-west-1"))
    nowhere = Stack(app, "Nowhere")
    cases: list[tuple[Stack, cloudfront.Distribution, str, DeploySettings, str]] = [
        (here, _distribution(here), "/*", DeploySettings(), "default behaviour"),
        (here, _distribution(there), "/img/*", DeploySettings(), "same stack"),
        (nowhere, _distribution(nowhere), "/img/*", DeploySettings(), "explicit region"),
    ]
    domains = DeploySettings(
        domain_names=("img.example.com",),
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/abc",
    )
    cases.append((here, cases[0][1], "/img/*", domains, "give them to yours"))
    for index, (stack, distribution, pattern, settings, message) in enumerate(cases):
        with pytest.raises(DeploymentError, match=message):
            ImgedgeBehavior(
                stack,
                f"Imgedge{index}",
                config=config,
                settings=settings,
                distribution=distribution,
                path_pattern=pattern,
                edge_zip=packaged.edge_zip,
                resizer_zip=packaged.resizer_zip,
            )
    assert not any(c.node.id.startswith("Imgedge") and c.node.children for c in here.node.children)
