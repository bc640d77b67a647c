"""Precompute on AWS: ``imgedge precompute`` for buckets too big for one machine, as a Step
Functions state machine with one distributed map over the originals bucket.

    input   {"prefix": "photos/", "presets": ["thumb", "card"]}   (both optional)
    Map     ItemReader   S3 ListObjectsV2 of the originals bucket under "prefix"
            ItemSelector each object -> {"key": its key}
            ItemBatcher  ``precompute_items_per_batch`` keys per child, with the presets
            child        one task: the batch function (below), retried while it reports
                         BatchUnfinished (time ran out: the next attempt skips what is stored)
            MaxConcurrency ``precompute_max_concurrency`` children at once
            ToleratedFailurePercentage ``precompute_tolerated_failure_percentage``
            ResultWriter every child's output (counts, and failures with their status, key,
                         preset and message) in the derivatives bucket under _precompute/

The batch function runs ``regional_resizer/precompute.py`` from the resizer's zip: the plan
and the skip of ``imgedge precompute``, then the resizer's core (``make_derivative``), in
the batch function's process. Why not invoke the resizer function per derivative from the
state machine: expanding the presets into canonical keys
needs the edge's normalizer (Python) anyway, and those invocations would run in the
resizer's concurrency (its reservation, if any), which is the viewers'. Here each child
renders one derivative at a time, so a run takes at most ``precompute_max_concurrency``
concurrent executions, none of them the resizer's. Per-image failures (a 415 for a text
file) are reported in the results, not raised; a batch fails only when its function does
(after the retries), and only failed batches count against the tolerated percentage.

The state machine's role holds what the map needs: ``s3:ListBucket`` on the originals
bucket (ItemReader), the result writer's four actions on ``_precompute/*`` only (never the
originals), ``lambda:InvokeFunction`` on the batch function, and, for its child workflows,
``states:StartExecution`` on itself and ``DescribeExecution``/``StopExecution``/
``RedriveExecution`` on its executions; plus logs delivery and X-Ray.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.aws.checks import acknowledge
from infra.aws.resizer import (
    ARCHITECTURES,
    acknowledge_every_key,
    acknowledge_mapped_originals,
    acknowledge_pinned_runtime,
    acknowledge_xray,
    function_log_group,
    lambda_role,
    logical_id,
    logs_statement,
    python_runtime,
    render_statements,
)
from infra.aws.settings import DeploySettings
from infra.package import PRECOMPUTE_BATCH_HANDLER
from regional_resizer.precompute import RENDER_TIMEOUT_ENV, BatchUnfinished

RESULTS_PREFIX = "_precompute/"  # in the derivatives bucket; no viewer URL names a key here
LABEL = "precompute"  # the map run's label: its child executions are <name>/precompute:<id>
BATCH_TIMEOUT = Duration.minutes(15)  # Lambda's longest: the batch stops itself before
BATCH_ATTEMPTS = 10  # runs of one batch while it reports BatchUnfinished
THROTTLE_ATTEMPTS = 8
# The execution input, with defaults (JSONata): every original, every preset.
PREFIX = "{% $exists($states.input.prefix) ? $states.input.prefix : '' %}"
PRESETS = "{% $exists($states.input.presets) ? $states.input.presets : [] %}"
ITEM_KEY = "{% $states.context.Map.Item.Value.Key %}"


def mapped_prefix_expression(mapped: str) -> str:
    """The listing prefix of a mapped prefix's bucket (JSONata): the input's prefix where
    it extends the mapped one, else the mapped one (the batches drop what is not under the
    input's prefix)."""
    literal = json.dumps(mapped)
    return (
        f"{{% ($exists($states.input.prefix) and "
        f"$substring($states.input.prefix, 0, {len(mapped)}) = {literal}) "
        f"? $states.input.prefix : {literal} %}}"
    )


# ResultWriterV2 (with a prefix, and policies of its own) is behind this feature flag.
RESULT_WRITER_V2 = "@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2"


class PrefixResultWriter(sfn.ResultWriterV2):
    """CDK's result writer, granting its actions under its prefix rather than on every key
    of the bucket. The actions are those Step Functions documents for ResultWriter: results
    go up as multipart uploads."""

    def __init__(self, *, bucket: s3.IBucket, prefix: str) -> None:
        super().__init__(bucket=bucket, prefix=prefix)
        self._objects = bucket.arn_for_objects(f"{prefix}*")

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        return [
            iam.PolicyStatement(
                sid="WriteResults",
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                resources=[self._objects],
            )
        ]


class Precompute(Construct):
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
        self.node.set_context(RESULT_WRITER_V2, True)
        self.mapped = dict(mapped or {})
        self._batch_function(settings, code, originals, derivatives)
        self._state_machine(settings, originals, derivatives)
        self._acknowledge(originals, derivatives)
        self._acknowledge_state_machine(derivatives)

    def _batch_function(
        self, settings: DeploySettings, code: Path, originals: s3.IBucket, derivatives: s3.IBucket
    ) -> None:
        self.log_group = function_log_group(self, "BatchLogs", settings)
        self.role = lambda_role(
            self,
            "BatchRole",
            "imgedge precompute batch: the resizer's access, and skip what is stored",
            [
                logs_statement(self.log_group),
                *render_statements(originals, derivatives, self.mapped),
                iam.PolicyStatement(
                    sid="SkipStored",  # HeadObject; without ListBucket a missing key is a 403
                    actions=["s3:GetObject"],
                    resources=[derivatives.arn_for_objects("*")],
                ),
            ],
        )
        self.function = lambda_.Function(
            self,
            "Batch",
            description="imgedge precompute: render the presets of a batch of originals",
            runtime=python_runtime(settings.python),
            architecture=ARCHITECTURES[settings.resizer_architecture],
            handler=PRECOMPUTE_BATCH_HANDLER,
            code=lambda_.Code.from_asset(str(code)),
            memory_size=settings.resizer_memory_mb,  # the resizer's renders, the same size
            timeout=BATCH_TIMEOUT,
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            environment={
                "ORIGINALS_BUCKET": originals.bucket_name,
                "DERIVATIVES_BUCKET": derivatives.bucket_name,
                RENDER_TIMEOUT_ENV: str(settings.resizer_timeout_s),
            },
        )

    def _state_machine(
        self, settings: DeploySettings, originals: s3.IBucket, derivatives: s3.IBucket
    ) -> None:
        # One distributed map per originals bucket listing: the default bucket under the
        # input's prefix, and each mapped prefix's bucket (originals_buckets) under the
        # longer of the two prefixes, its batches told the bucket and prefix to keep.
        maps = [self._map(settings, "", originals, derivatives)]
        maps += [
            self._map(settings, prefix, bucket, derivatives, n)
            for n, (prefix, bucket) in enumerate(self.mapped.items(), start=1)
        ]
        definition: sfn.IChainable = maps[0]
        if len(maps) > 1:
            parallel = sfn.Parallel.jsonata(self, "Originals buckets")
            for originals_map in maps:
                parallel.branch(originals_map)
            definition = parallel
        self.state_machine_logs = logs.LogGroup(
            self,
            "StateMachineLogs",
            # Step Functions' log delivery needs no resource policy entry under this prefix.
            log_group_name=f"/aws/vendedlogs/states/{settings.stack_name}-precompute",
            removal_policy=RemovalPolicy.DESTROY,
        )
        cfn_log_group = self.state_machine_logs.node.default_child
        assert isinstance(cfn_log_group, logs.CfnLogGroup)
        cfn_log_group.retention_in_days = settings.log_retention_days
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="imgedge precompute: render the presets of every original under a prefix",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            query_language=sfn.QueryLanguage.JSONATA,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.state_machine_logs,
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )

    def _map(
        self,
        settings: DeploySettings,
        mapped_prefix: str,
        bucket: s3.IBucket,
        derivatives: s3.IBucket,
        n: int = 0,
    ) -> sfn.DistributedMap:
        """The map over one listing: the default bucket's (``n`` 0), or the ``n``th mapped
        prefix's bucket."""
        suffix = f" {n}" if n else ""
        batch = tasks.LambdaInvoke.jsonata(
            self,
            f"Render batch{suffix}",
            lambda_function=self.function,
            outputs="{% $states.result.Payload %}",
        )
        batch.add_retry(
            errors=["Lambda.TooManyRequestsException"],
            interval=Duration.seconds(5),
            max_attempts=THROTTLE_ATTEMPTS,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        batch.add_retry(
            errors=[BatchUnfinished.__name__],
            interval=Duration.seconds(1),
            max_attempts=BATCH_ATTEMPTS,
            backoff_rate=1,
        )
        batch_input: dict[str, str] = {"presets": PRESETS}
        prefix = PREFIX
        if mapped_prefix:
            batch_input |= {"bucket": bucket.bucket_name, "prefix": PREFIX}
            prefix = mapped_prefix_expression(mapped_prefix)
        originals_map = sfn.DistributedMap.jsonata(
            self,
            f"Originals{suffix}",
            item_reader=sfn.S3ObjectsItemReader(bucket=bucket, prefix=prefix),
            item_selector={"key": ITEM_KEY},
            item_batcher=sfn.ItemBatcher(
                max_items_per_batch=settings.precompute_items_per_batch,
                batch_input=batch_input,
            ),
            max_concurrency=settings.precompute_max_concurrency,
            tolerated_failure_percentage=settings.precompute_tolerated_failure_percentage,
            label=f"{LABEL}{n or ''}",
            map_execution_type=sfn.StateMachineType.STANDARD,  # a batch may take 15 minutes
            result_writer_v2=PrefixResultWriter(bucket=derivatives, prefix=RESULTS_PREFIX),
        )
        originals_map.item_processor(batch)
        return originals_map

    def _acknowledge(self, originals: s3.IBucket, derivatives: s3.IBucket) -> None:
        for bucket, reason in (
            (
                originals,
                "Every key of the originals bucket may be listed in a batch; the batch "
                "function only reads them, as the resizer does.",
            ),
            (
                derivatives,
                "Every key of the derivatives bucket may be a derivative the batch makes or "
                "finds stored; the actions are only those the resizer's core and the skip "
                "check call.",
            ),
        ):
            acknowledge_every_key(self.role, bucket, reason)
        acknowledge_mapped_originals(
            self.role,
            self.mapped,
            "Every key under a mapped prefix may be listed in a batch; the batch function "
            "only reads them, as the resizer does.",
        )
        acknowledge_xray(self.role)
        acknowledge_pinned_runtime(self.function)
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Only the state machine invokes the batch function, synchronously; a failed batch "
            "is retried and then recorded, with its error, in the map run's results.",
        )

    def _acknowledge_state_machine(self, derivatives: s3.IBucket) -> None:
        role = self.state_machine.role
        acknowledge_every_key(
            role,
            derivatives,
            "The map run's results are written under _precompute/ with the actions Step "
            "Functions documents for ResultWriter (multipart uploads), nowhere else.",
            prefix=RESULTS_PREFIX,
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.function)}.Arn>:*]",
            "CDK's LambdaInvoke grants the batch function's versions and aliases with it; "
            "the task invokes the unqualified function, the only one it can invoke.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs' log delivery actions (which Step Functions logging needs) and "
            "X-Ray's trace actions have no resource-level permissions.",
        )
        # CDK's DistributedMapPolicy: the child workflows are executions of this state
        # machine, named by Step Functions: <name>:<id>, and <name>/<label>:<id> for a redrive.
        stack = Stack.of(self)
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        name = json.dumps(
            {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": logical_id(self.state_machine)}]}]},
            separators=(",", ":"),
        )
        executions = f"arn:<AWS::Partition>:states:{region}:<AWS::AccountId>:execution:{name}"
        labels = [LABEL, *(f"{LABEL}{n}" for n in range(1, len(self.mapped) + 1))]
        for suffix, reason in (
            (
                ":*",
                "A distributed map runs its child workflows as executions of its own state "
                "machine; it must describe and stop them, whose ids it cannot know in advance.",
            ),
            *(
                (
                    f"/{label}:*",
                    "Redriving a map run restarts its failed child workflows, executions of "
                    "this state machine under the map run's label, whose ids are not known "
                    "in advance.",
                )
                for label in labels
            ),
        ):
            acknowledge(
                self.state_machine, f"AwsSolutions-IAM5[Resource::{executions}{suffix}]", reason
            )
