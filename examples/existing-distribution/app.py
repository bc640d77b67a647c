"""A team's CDK app with a distribution of its own (here a stand-in: its default behaviour
goes to another origin), to which imgedge is added on ``/img/*``.

Run it with the CDK CLI from this folder (cdk.json), after ``imgedge package`` at the
repository's root; the context names the files, as for imgedge's own app:

    imgedge:config    the shared configuration file (absent: the defaults)
    imgedge:settings  the deployment settings file (absent: the defaults)
    imgedge:dist      the folder ``imgedge package`` wrote (default: ../../dist)
    region            the stack's region (default: eu-west-1)
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, CfnOutput, Environment, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins

from infra.aws.construct import ImgedgeBehavior, check_dist
from infra.aws.settings import load_settings
from infra.aws.toolkit import CONTEXT_CONFIG, CONTEXT_DIST, CONTEXT_SETTINGS, feature_flags
from shared.config import load_config

HERE = Path(__file__).resolve().parent
DEFAULT_DIST = HERE.parents[1] / "dist"
PATH_PATTERN = "/img/*"


def _path(app: App, key: str) -> Path | None:
    value = app.node.try_get_context(key)
    return Path(value) if value else None


def build(app: App) -> Stack:
    config = load_config(_path(app, CONTEXT_CONFIG))
    settings = load_settings(_path(app, CONTEXT_SETTINGS))
    edge_zip, resizer_zip = check_dist(_path(app, CONTEXT_DIST) or DEFAULT_DIST, config, settings)
    # The edge function lives in us-east-1: a stack elsewhere must name its region.
    region = app.node.try_get_context("region") or "eu-west-1"
    stack = Stack(app, "Website", env=Environment(region=region))

    # The team's distribution, as it was before imgedge.
    distribution = cloudfront.Distribution(
        stack,
        "Distribution",
        comment="the website",
        default_behavior=cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin("www.example.com"),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
        ),
        # imgedge's error caching TTLs; they apply to every behaviour of the distribution.
        error_responses=ImgedgeBehavior.error_responses(config, settings),
    )

    # imgedge on /img/*: /img/photos/cat.jpg?s=256x is the original img/photos/cat.jpg.
    imgedge = ImgedgeBehavior(
        stack,
        "Imgedge",
        config=config,
        settings=settings,
        edge_zip=edge_zip.resolve(),
        resizer_zip=resizer_zip.resolve(),
        distribution=distribution,
        path_pattern=PATH_PATTERN,
    )
    CfnOutput(stack, "OriginalsBucket", value=imgedge.originals.bucket_name)
    CfnOutput(stack, "DistributionDomainName", value=distribution.distribution_domain_name)
    return stack


def main() -> None:
    app = App(context=feature_flags())
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
