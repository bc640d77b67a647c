"""The regional resizer: a Lambda function behind a function URL (AWS_IAM auth; CloudFront
signs its requests through Origin Access Control), with active X-Ray tracing. With
``resizer_snapstart`` it has Lambda SnapStart, which applies to published versions only
(infra/functions.py): the function URL is then an alias's, the alias pointing at the
version each deploy publishes.

Its role is written out rather than granted with CDK's ``grant_*`` helpers, so that it holds
exactly what the resizer's core (``regional_resizer/derivative.py``) calls through
``regional_resizer/storage.py`` and nothing else:
- originals: ``s3:GetObject`` on the objects, and ``s3:ListBucket`` on the bucket, without
  which S3 answers a missing key with 403 instead of 404 (a 502 instead of a 404 for the
  viewer). No write, no delete: no imgedge function can change an original. The same on
  each bucket ``originals_buckets`` maps a prefix to, its objects under that prefix only.
- derivatives: ``s3:PutObject`` (written once, ``If-None-Match: *``, after its index
  marker) and ``s3:DeleteObject`` (one just written is taken back if its original changed
  meanwhile); no read, no list.
- logs: its own log group; X-Ray: the two write actions tracing needs.

The pieces other functions of the same zip share (the purge, the precompute batch, which
runs the resizer's core too) are functions here: the log group, the statements, the
acknowledgments of cdk-nag findings they all have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Annotations, CfnElement, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from infra.aws.checks import acknowledge
from infra.aws.settings import DeploySettings
from infra.functions import SNAPSTART_ALIAS, SNAPSTART_PYTHON
from infra.package import RESIZER_HANDLER

RUNTIME_PINNED = (
    "The runtime is the Python the zip's wheels were built for (`python` in the deployment "
    "settings, `imgedge package --python`); it moves when the packaged wheels move."
)

ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}


def python_runtime(version: str) -> lambda_.Runtime:
    return lambda_.Runtime(
        f"python{version}",
        lambda_.RuntimeFamily.PYTHON,
        supports_snap_start=version in SNAPSTART_PYTHON,
    )


def function_log_group(scope: Construct, id: str, settings: DeploySettings) -> logs.LogGroup:
    """A function's log group, kept for ``log_retention_days`` and deleted with the stack."""
    log_group = logs.LogGroup(scope, id, removal_policy=RemovalPolicy.DESTROY)
    # CDK names retention periods (RetentionDays.ONE_MONTH); the setting is in days.
    cfn_log_group = log_group.node.default_child
    assert isinstance(cfn_log_group, logs.CfnLogGroup)
    cfn_log_group.retention_in_days = settings.log_retention_days
    return log_group


def logs_statement(log_group: logs.ILogGroup) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="Logs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[log_group.log_group_arn],
    )


def render_statements(
    originals: s3.IBucket,
    derivatives: s3.IBucket,
    mapped: Mapping[str, s3.IBucket] | None = None,
) -> list[iam.PolicyStatement]:
    """What the resizer's core (``regional_resizer/derivative.py``) calls, for any function
    that runs it. ``mapped``: key prefix -> its originals bucket (``originals_buckets``),
    whose objects under the prefix are read too."""
    mapped = mapped or {}
    return [
        iam.PolicyStatement(
            sid="ReadOriginals",
            actions=["s3:GetObject"],
            resources=[
                originals.arn_for_objects("*"),
                *(bucket.arn_for_objects(f"{prefix}*") for prefix, bucket in mapped.items()),
            ],
        ),
        iam.PolicyStatement(
            sid="MissingOriginalsAre404",
            actions=["s3:ListBucket"],
            resources=list(
                dict.fromkeys([originals.bucket_arn, *(b.bucket_arn for b in mapped.values())])
            ),
        ),
        iam.PolicyStatement(
            sid="WriteDerivatives",
            # Delete: a derivative rendered while its original changed is taken back
            # (regional_resizer/derivative.py, make_derivative).
            actions=["s3:PutObject", "s3:DeleteObject"],
            resources=[derivatives.arn_for_objects("*")],
        ),
    ]


def logical_id(resource: IConstruct) -> str:
    """The logical id of a construct's CloudFormation resource (its own, or its default
    child's), as cdk-nag names it in a finding."""
    cfn = resource if isinstance(resource, CfnElement) else resource.node.default_child
    assert isinstance(cfn, CfnElement)
    stack = Stack.of(cfn)
    return str(stack.resolve(stack.get_logical_id(cfn)))


def acknowledge_every_key(
    role: IConstruct, bucket: s3.IBucket, reason: str, prefix: str = ""
) -> None:
    """Accept cdk-nag's IAM5 finding on ``<bucket>.Arn/<prefix>*`` (every key of the bucket,
    or under a prefix) for ``role``."""
    rule = f"AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/{prefix}*]"
    acknowledge(role, rule, reason)


def acknowledge_mapped_originals(
    role: IConstruct, mapped: Mapping[str, s3.IBucket], reason: str
) -> None:
    """Accept cdk-nag's IAM5 finding on each mapped originals bucket's objects under its
    prefix (an imported bucket's ARN is a literal)."""
    for prefix, bucket in mapped.items():
        name = Stack.of(role).resolve(bucket.bucket_name)
        objects = f"arn:<AWS::Partition>:s3:::{name}/{prefix}*"
        acknowledge(role, f"AwsSolutions-IAM5[Resource::{objects}]", reason)


def acknowledge_xray(role: IConstruct) -> None:
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level "
        "permissions; they are what active tracing needs.",
    )


def lambda_role(
    scope: Construct, id: str, description: str, statements: Sequence[iam.PolicyStatement]
) -> iam.Role:
    """A role for one imgedge function: exactly ``statements``, no managed policies."""
    role = iam.Role(
        scope, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
    )
    for statement in statements:
        role.add_to_policy(statement)
    return role


def acknowledge_pinned_runtime(function: lambda_.IFunction) -> None:
    acknowledge(function, "AwsSolutions-L1", RUNTIME_PINNED)
    acknowledge(function, "Serverless-LambdaLatestVersion", RUNTIME_PINNED)


class Resizer(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        code: Path,
        originals: s3.IBucket,
        derivatives: s3.IBucket,
        mapped: Mapping[str, s3.IBucket] | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = function_log_group(self, "Logs", settings)
        self.role = lambda_role(
            self,
            "Role",
            "imgedge regional resizer: read originals, write derivatives",
            [logs_statement(self.log_group), *render_statements(originals, derivatives, mapped)],
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="imgedge regional resizer (function URL origin of the distribution)",
            runtime=python_runtime(settings.python),
            architecture=ARCHITECTURES[settings.resizer_architecture],
            handler=RESIZER_HANDLER,
            code=lambda_.Code.from_asset(str(code)),
            memory_size=settings.resizer_memory_mb,
            timeout=Duration.seconds(settings.resizer_timeout_s),
            reserved_concurrent_executions=settings.resizer_reserved_concurrency or None,
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            environment={
                "ORIGINALS_BUCKET": originals.bucket_name,
                "DERIVATIVES_BUCKET": derivatives.bucket_name,
            },
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS
            if settings.resizer_snapstart
            else None,
        )
        # What CloudFront invokes: the function itself ($LATEST), or with SnapStart an alias
        # of the version this deploy publishes ($LATEST never resumes from a snapshot).
        self.invoked: lambda_.IFunction = self.function
        if settings.resizer_snapstart:
            self.invoked = lambda_.Alias(
                self,
                "Live",
                alias_name=SNAPSTART_ALIAS,
                version=self.function.current_version,
                description="the published version CloudFront invokes (SnapStart)",
            )
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "every deploy publishes current_version, which the alias live points at",
            )
        self.url = self.invoked.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.AWS_IAM,
            invoke_mode=lambda_.InvokeMode.BUFFERED,
        )
        self._acknowledge(originals, derivatives, mapped or {})

    def _acknowledge(
        self, originals: s3.IBucket, derivatives: s3.IBucket, mapped: Mapping[str, s3.IBucket]
    ) -> None:
        for bucket, what in ((originals, "originals"), (derivatives, "derivatives")):
            acknowledge_every_key(
                self.role,
                bucket,
                f"Every key of the {what} bucket is an image the resizer may need; "
                "the actions are only those the resizer calls.",
            )
        acknowledge_mapped_originals(
            self.role,
            mapped,
            "Every key under a mapped prefix is an original the resizer may need; it only "
            "reads them.",
        )
        acknowledge_xray(self.role)
        acknowledge_pinned_runtime(self.function)
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Only CloudFront invokes the resizer, synchronously through its function URL; "
            "a dead-letter queue receives failed asynchronous invocations, of which there "
            "are none. A failed request is answered (and never cached) instead.",
        )
