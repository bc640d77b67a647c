"""The two buckets: originals (yours; imgedge only ever reads them) and derivatives (imgedge's
output, regenerated on demand, so it may expire); and the existing buckets the
configuration's ``originals_buckets`` maps key prefixes to, imported by name (imgedge
neither makes nor changes them, but for the purge's event notifications)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.aws.checks import acknowledge
from infra.aws.settings import DeploySettings

NO_ACCESS_LOGS = (
    "Server access logs are not enabled: requests reach the derivatives bucket only "
    "through CloudFront (its metrics and the resizer's X-Ray traces show them) and the "
    "originals bucket only from the resizer. Add a log bucket to audit direct access."
)


def _private_bucket(
    scope: Construct,
    id: str,
    name: str,
    lifecycle_rules: Sequence[s3.LifecycleRule] | None = None,
) -> s3.Bucket:
    """Private, Block Public Access, SSE-S3, TLS 1.2+ only, ACLs disabled, retained."""
    bucket = s3.Bucket(
        scope,
        id,
        bucket_name=name or None,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=RemovalPolicy.RETAIN,
        lifecycle_rules=lifecycle_rules,
    )
    acknowledge(bucket, "AwsSolutions-S1", NO_ACCESS_LOGS)
    return bucket


class Storage(Construct):
    """The two buckets; either may be given instead (a bucket of the team's own stack)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        originals: s3.IBucket | None = None,
        derivatives: s3.IBucket | None = None,
        originals_buckets: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.originals = originals or _private_bucket(
            self, "Originals", settings.originals_bucket_name
        )
        imported: dict[str, s3.IBucket] = {}
        for name in dict.fromkeys((originals_buckets or {}).values()):
            imported[name] = s3.Bucket.from_bucket_name(self, f"Mapped-{name}", name)
        self.mapped: dict[str, s3.IBucket] = {
            prefix: imported[name] for prefix, name in (originals_buckets or {}).items()
        }
        """Each mapped key prefix's originals bucket (``originals_buckets``)."""
        expiry = settings.derivative_expiry_days
        self.derivatives = derivatives or _private_bucket(
            self,
            "Derivatives",
            settings.derivatives_bucket_name,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-derivatives",
                    expiration=Duration.days(expiry) if expiry else None,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
