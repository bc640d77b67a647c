"""Purge on change: ``regional_resizer/purge.py`` as a Lambda function that the originals
bucket notifies (``s3:ObjectCreated:*`` and ``s3:ObjectRemoved:*``), deployed from the
resizer's zip. Each bucket ``originals_buckets`` maps a prefix to (an existing bucket,
imported by name) notifies it too, for keys under its prefix: CDK's
``Custom::S3BucketNotifications`` handler adds these to the bucket's notification
configuration and keeps the ones it did not make (docs/deploying.md, "Several originals
buckets").

S3 invokes it asynchronously: Lambda retries a failed event twice, then sends it to a
dead-letter queue (SQS, kept 14 days), whose messages are the S3 events themselves, so a
failed purge can be run again with ``aws lambda invoke --payload``. Its role holds exactly
what ``purge.py`` calls:
- derivatives: ``s3:ListBucket`` only under the marker index (``_index/``, a condition on
  the listed prefix) and ``s3:DeleteObject`` (``DeleteObjects``: objects, then markers);
- ``cloudfront:CreateInvalidation`` on this distribution;
- nothing on the originals bucket: the event names the original, which is never read.

The distribution does not depend on this function (it needs only the resizer's URL), so the
function can name the distribution (``DISTRIBUTION_ID``) without a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from infra.aws.checks import acknowledge
from infra.aws.resizer import (
    ARCHITECTURES,
    acknowledge_every_key,
    acknowledge_pinned_runtime,
    acknowledge_xray,
    function_log_group,
    lambda_role,
    logs_statement,
    python_runtime,
)
from infra.aws.settings import DeploySettings
from infra.functions import PURGE
from infra.package import PURGE_HANDLER
from shared.layout import INDEX_ROOT

# The events regional_resizer/purge.py acts on (its PURGING_EVENTS).
PURGING_EVENTS = (s3.EventType.OBJECT_CREATED, s3.EventType.OBJECT_REMOVED)
DEAD_LETTER_RETENTION = Duration.days(14)  # the longest SQS keeps a message

# CDK's one handler per stack that writes a bucket's notification configuration.
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


class Purge(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings,
        code: Path,
        originals: s3.IBucket,
        derivatives: s3.IBucket,
        distribution: cloudfront.IDistribution,
        edge_trigger: str,
        mapped: Mapping[str, s3.IBucket] | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = function_log_group(self, "Logs", settings)
        self.role = lambda_role(
            self,
            "Role",
            "imgedge purge: delete an original's derivatives, invalidate them",
            [
                logs_statement(self.log_group),
                iam.PolicyStatement(
                    sid="ListIndex",
                    actions=["s3:ListBucket"],
                    resources=[derivatives.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": f"{INDEX_ROOT}*"}},
                ),
                iam.PolicyStatement(
                    sid="DeleteDerivatives",
                    actions=["s3:DeleteObject"],
                    resources=[derivatives.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="Invalidate",
                    actions=["cloudfront:CreateInvalidation"],
                    resources=[distribution.distribution_arn],
                ),
            ],
        )
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="imgedge purge: an original changed, its derivatives go",
            runtime=python_runtime(settings.python),
            architecture=ARCHITECTURES[settings.resizer_architecture],
            handler=PURGE_HANDLER,
            code=lambda_.Code.from_asset(str(code)),
            memory_size=PURGE.memory_mb,
            timeout=Duration.seconds(PURGE.timeout_s),
            reserved_concurrent_executions=settings.purge_reserved_concurrency or None,
            dead_letter_queue=self.dead_letters,
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            environment={
                "ORIGINALS_BUCKET": originals.bucket_name,
                "DERIVATIVES_BUCKET": derivatives.bucket_name,
                "DISTRIBUTION_ID": distribution.distribution_id,
                "EDGE_TRIGGER": edge_trigger,  # what the cache keys on: see purge.py
            },
        )
        destination = s3n.LambdaDestination(self.function)
        for event in PURGING_EVENTS:
            originals.add_event_notification(event, destination)
        for bucket, prefixes in notified_prefixes(mapped or {}):
            for prefix in prefixes:
                for event in PURGING_EVENTS:
                    filter_ = s3.NotificationKeyFilter(prefix=prefix)
                    bucket.add_event_notification(event, destination, filter_)
        self._acknowledge(derivatives)

    def _acknowledge(self, derivatives: s3.IBucket) -> None:
        acknowledge_every_key(
            self.role,
            derivatives,
            "An original's derivatives and markers may have any key of the derivatives "
            "bucket (its canonical keys); the purge only deletes those its markers name.",
        )
        acknowledge_xray(self.role)
        acknowledge_pinned_runtime(self.function)
        acknowledge(
            self.dead_letters,
            "Serverless-SQSRedrivePolicy",
            "This queue is the purge's dead-letter queue, the last stop of a failed event: "
            "a queue behind it would only move the message once more.",
        )
        handler = Stack.of(self).node.try_find_child(NOTIFICATIONS_HANDLER_ID)
        assert handler is not None, "CDK renamed its bucket notifications handler"
        _acknowledge_notifications_handler(handler)


def notified_prefixes(
    mapped: Mapping[str, s3.IBucket],
) -> list[tuple[s3.IBucket, list[str]]]:
    """Each mapped bucket with the prefixes its notifications filter on: its own mapped
    prefixes, less those another of them already covers (S3 refuses two notifications of
    one event type whose prefixes overlap)."""
    by_bucket: dict[str, tuple[s3.IBucket, list[str]]] = {}
    for prefix, bucket in mapped.items():
        by_bucket.setdefault(bucket.node.id, (bucket, []))[1].append(prefix)
    return [
        (bucket, sorted(p for p in prefixes
                        if not any(p != q and p.startswith(q) for q in prefixes)))
        for bucket, prefixes in by_bucket.values()
    ]  # fmt: skip


def _acknowledge_notifications_handler(handler: IConstruct) -> None:
    """CDK's handler of the ``Custom::S3BucketNotifications`` resource (a function with
    inline code and a role of CDK's making), which CloudFormation runs on deploy only."""
    acknowledge(
        handler,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSLambdaBasicExecutionRole]",
        "CDK's handler that writes the originals buckets' notification configurations "
        "(Custom::S3BucketNotifications, run by CloudFormation on deploy) comes with the "
        "basic execution role, which lets it write its own logs and nothing else.",
    )
