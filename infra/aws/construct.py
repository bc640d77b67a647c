"""imgedge as one CDK construct: the buckets (made, or given), the resizer behind its
function URL, precompute, the edge router (its own stack in us-east-1), the behaviour's
policies and origin group, and, once a distribution serves the behaviour, the purge.

imgedge's own app (``infra/aws/stack.py``) makes its distribution with this behaviour as
the default one; a team adds it to a distribution it already has, on a path pattern::

    imgedge = ImgedgeBehavior(
        stack, "Imgedge", config=config, settings=settings,
        edge_zip=edge_zip, resizer_zip=resizer_zip,      # check_dist(dist, config, settings)
        distribution=distribution, path_pattern="/img/*",
    )

The path is the source key. The edge router reads the original's key from the whole
viewer path, prefix included: ``/img/photos/cat.jpg?s=256x`` is the original
``img/photos/cat.jpg`` of the originals bucket, its derivatives are stored under
``256x/webp/img/photos/cat.jpg`` and the purge invalidates the paths derived from that one
key. Nothing is stripped, so the router, the resizer and the purge agree with no setting,
whatever the path pattern (``*.jpg`` too). CloudFront chose the behaviour from the viewer's
path before the router rewrites it, and a rewritten URI does not choose another one.

The edge function is ``cloudfront.experimental.EdgeFunction``: from a stack in any other
region it is made in a stack of its own in us-east-1 (``<stack_name>-edge``), and its
version's ARN comes back through an SSM parameter read by a custom resource, all from code
that aws-cdk-lib ships (no Docker, no bundling). The team's stack must name its region
(``env``), and both regions must be bootstrapped.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from aws_cdk import Stack, Token
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.aws.distribution import Behaviour, error_responses
from infra.aws.edge import EdgeRouter
from infra.aws.precompute import Precompute
from infra.aws.purge import Purge
from infra.aws.resizer import Resizer
from infra.aws.settings import DeploySettings
from infra.aws.storage import Storage
from infra.distribution import describe
from infra.package import EDGE_ZIP, RESIZER_ZIP, read_manifest
from shared.config import Config

# CloudFront's path patterns: at most 255 characters of these ("Cache behavior settings",
# Path pattern). "*" and "/*" are the default behaviour's, which the distribution has.
_PATH_PATTERN = re.compile(r"[A-Za-z0-9_\-.*$/~\"'@:+&]{1,255}")
DEFAULT_PATTERNS = ("*", "/*")


class DeploymentError(RuntimeError):
    """imgedge cannot be built as asked; the message says what to do."""


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def check_dist(dist: Path, config: Config, settings: DeploySettings) -> tuple[Path, Path]:
    """The two zips (edge, resizer), if ``dist`` holds them as ``imgedge package`` wrote
    them for this configuration and target."""
    manifest = read_manifest(dist)
    repackage = f"run `imgedge package` with the same --config and --settings (into {dist})"
    problems = []
    if manifest.get("config") != _as_json(config.to_mapping()):
        problems.append("it was packaged with another configuration")
    resizer = manifest.get("resizer", {})
    if resizer.get("arch") != settings.resizer_architecture:
        problems.append(
            f"its resizer is for {resizer.get('arch')}, the settings say "
            f"{settings.resizer_architecture}"
        )
    if resizer.get("python") != settings.python:
        problems.append(
            f"its resizer is for Python {resizer.get('python')}, the settings say {settings.python}"
        )
    paths = (dist / EDGE_ZIP, dist / RESIZER_ZIP)
    for path, part in zip(paths, ("edge", "resizer"), strict=True):
        if not path.is_file():
            problems.append(f"{path.name} is missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != manifest.get(part, {}).get("sha256"):
            problems.append(f"{path.name} is not the one its manifest describes")
    if problems:
        raise DeploymentError(f"{dist} does not fit: {'; '.join(problems)}; {repackage}")
    return paths


def path_pattern_problem(path_pattern: str) -> str | None:
    """Why ``path_pattern`` cannot be imgedge's behaviour in a team's distribution."""
    if path_pattern in DEFAULT_PATTERNS:
        return (
            f"{path_pattern!r} is the default behaviour's: deploy imgedge's own app "
            "(`imgedge deploy`) to serve every path"
        )
    if not _PATH_PATTERN.fullmatch(path_pattern):
        return (
            f"{path_pattern!r}: 1..255 of A-Z a-z 0-9 _ - . * $ / ~ \" ' @ : + & "
            "(CloudFront's path patterns)"
        )
    return None


class ImgedgeBehavior(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: Config,
        settings: DeploySettings,
        edge_zip: Path,
        resizer_zip: Path,
        originals: s3.IBucket | None = None,
        derivatives: s3.IBucket | None = None,
        distribution: cloudfront.Distribution | None = None,
        path_pattern: str = "",
    ) -> None:
        """imgedge's resources; with ``distribution``, also its behaviour there on
        ``path_pattern`` and the purge (``add_to``)."""
        super().__init__(scope, id)
        self.settings = settings
        if distribution is not None:
            self._check_target(distribution, path_pattern)
        self._resizer_zip = resizer_zip
        self.spec = describe(config, settings.edge_trigger)
        own = {settings.originals_bucket_name, settings.derivatives_bucket_name} - {""}
        for prefix, bucket in config.originals_buckets.items():
            if bucket in own:
                raise DeploymentError(
                    f"originals_buckets: {prefix!r} maps to {bucket!r}, a bucket imgedge "
                    "makes itself; map prefixes to existing buckets of your own"
                )
        self.storage = Storage(
            self,
            "Storage",
            settings=settings,
            originals=originals,
            derivatives=derivatives,
            originals_buckets=config.originals_buckets,
        )
        self.originals, self.derivatives = self.storage.originals, self.storage.derivatives
        self.mapped = self.storage.mapped  # key prefix -> its originals bucket
        self.resizer = Resizer(
            self,
            "Resizer",
            settings=settings,
            code=resizer_zip,
            originals=self.originals,
            derivatives=self.derivatives,
            mapped=self.mapped,
        )
        self.precompute = Precompute(
            self,
            "Precompute",
            settings=settings,
            code=resizer_zip,
            originals=self.originals,
            derivatives=self.derivatives,
            mapped=self.mapped,
        )
        self.edge = EdgeRouter(
            self, "EdgeRouter", settings=settings, code=edge_zip, trigger=self.spec.edge
        )
        self.behaviour = Behaviour(
            self,
            "Delivery",
            spec=self.spec,
            settings=settings,
            derivatives=self.derivatives,
            resizer_url=self.resizer.url,
            edge_version=self.edge.version,
        )
        self.purge: Purge | None = None
        if distribution is not None:
            self.add_to(distribution, path_pattern)

    def add_to(self, distribution: cloudfront.Distribution, path_pattern: str) -> None:
        """Serve imgedge on ``path_pattern`` of ``distribution`` (a distribution of this
        construct's stack: the buckets' and the resizer's policies name it, and it names
        them), and purge it when originals change."""
        self._check_target(distribution, path_pattern)
        self.behaviour.add_to(distribution, path_pattern)
        self.serve(distribution)

    def _check_target(self, distribution: cloudfront.Distribution, path_pattern: str) -> None:
        problem = path_pattern_problem(path_pattern)
        if problem:
            raise DeploymentError(f"imgedge path_pattern: {problem}")
        if self.settings.domain_names:
            raise DeploymentError(
                "imgedge settings: domain_names and certificate_arn are for imgedge's own "
                "distribution; give them to yours"
            )
        if Stack.of(distribution).node.path != Stack.of(self).node.path:
            raise DeploymentError(
                "imgedge must be in the same stack as the distribution it is added to: the "
                "derivatives bucket's policy and the resizer's permissions name the "
                "distribution, which names them (a cycle between two stacks)"
            )
        if Token.is_unresolved(Stack.of(self).region):
            raise DeploymentError(
                "imgedge's stack needs an explicit region (env=Environment(region=...)): the "
                "edge function is made in us-east-1 and read back from that region"
            )

    def serve(self, distribution: cloudfront.IDistribution) -> None:
        """The purge, for the distribution that serves the behaviour."""
        assert self.purge is None, "imgedge serves one distribution"
        self.distribution = distribution
        self.purge = Purge(
            self,
            "Purge",
            settings=self.settings,
            code=self._resizer_zip,
            originals=self.originals,
            derivatives=self.derivatives,
            mapped=self.mapped,
            distribution=distribution,
            edge_trigger=self.settings.edge_trigger,
        )

    @staticmethod
    def error_responses(config: Config, settings: DeploySettings) -> list[cloudfront.ErrorResponse]:
        """imgedge's error caching TTLs (``infra/distribution.py``) as a distribution's error
        responses, for a team that makes its distribution with them: they apply to every
        behaviour of it."""
        return error_responses(describe(config, settings.edge_trigger))
