"""Derivatives' lifecycle on AWS, in the synthesized main stack (the session's one synth):
purge on change (the originals bucket notifies regional_resizer/purge.py) and precompute
(a Step Functions distributed map whose batches run the resizer's core)."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from infra.aws.precompute import LABEL, RESULTS_PREFIX
from infra.functions import PURGE
from infra.package import PRECOMPUTE_BATCH_HANDLER, PURGE_HANDLER
from regional_resizer.precompute import RENDER_TIMEOUT_ENV, BatchUnfinished
from regional_resizer.purge import PURGING_EVENTS
from shared.layout import INDEX_ROOT
from tests.infra.conftest import Synthesized
from tests.infra.templates import (
    actions,
    arn_text,
    bucket_ids,
    function_role,
    named,
    of_type,
    only,
    refers_to,
    role_statements,
    state_machine_definition,
    statements,
)


def function(synthesized: Synthesized, prefix: str) -> tuple[str, dict[str, Any]]:
    return named(synthesized.main, "AWS::Lambda::Function", prefix)


def by_sid(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Statements by Sid; CDK's own (X-Ray, the dead-letter queue) by their first action."""
    return {s.get("Sid") or sorted(actions(s))[0]: s for s in found}


def without_sid(statement: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in statement.items() if k != "Sid"}


XRAY = {
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Effect": "Allow",
    "Resource": "*",
}


def same_code(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["Properties"]["Code"] == b["Properties"]["Code"])


# --- purge on change -----------------------------------------------------------------------


def test_purge_function(synthesized: Synthesized) -> None:
    _, purge = function(synthesized, "PurgeFunction")
    _, resizer = function(synthesized, "ResizerFunction")
    originals, derivatives = bucket_ids(synthesized)
    distribution_id = only(synthesized.main, "AWS::CloudFront::Distribution")[0]
    queue_id, queue = only(synthesized.main, "AWS::SQS::Queue")
    log_group = named(synthesized.main, "AWS::Logs::LogGroup", "PurgeLogs")[0]
    properties = purge["Properties"]
    assert properties["Handler"] == PURGE_HANDLER == "regional_resizer.purge.handler"
    assert same_code(purge, resizer)  # the same regional_resizer.zip
    assert (properties["Runtime"], properties["Architectures"]) == ("python3.12", ["arm64"])
    assert (properties["MemorySize"], properties["Timeout"]) == (PURGE.memory_mb, PURGE.timeout_s)
    assert PURGE.timeout_s >= 300  # room to wait out CloudFront's invalidation quota
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["ReservedConcurrentExecutions"] == 5  # the settings' cap
    assert properties["LoggingConfig"]["LogGroup"] == {"Ref": log_group}
    assert properties["Environment"]["Variables"] == {
        "ORIGINALS_BUCKET": {"Ref": originals},
        "DERIVATIVES_BUCKET": {"Ref": derivatives},
        "DISTRIBUTION_ID": {"Ref": distribution_id},
        "EDGE_TRIGGER": "viewer-request",  # what the cache keys on, for the invalidation paths
    }
    # Failed asynchronous events (after Lambda's two retries) wait 14 days in an encrypted,
    # TLS-only queue.
    assert properties["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert queue["Properties"] == {
        "MessageRetentionPeriod": 14 * 86400,
        "SqsManagedSseEnabled": True,
    }
    queue_policy = only(synthesized.main, "AWS::SQS::QueuePolicy")[1]["Properties"]
    (deny,) = statements(queue_policy["PolicyDocument"])
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def test_purge_role_is_exactly_what_purge_calls(synthesized: Synthesized) -> None:
    """ListObjectsV2 under the marker index and DeleteObjects on the derivatives bucket,
    CreateInvalidation on this distribution; nothing on the originals."""
    _, purge = function(synthesized, "PurgeFunction")
    originals, derivatives = bucket_ids(synthesized)
    distribution_id = only(synthesized.main, "AWS::CloudFront::Distribution")[0]
    queue_id = only(synthesized.main, "AWS::SQS::Queue")[0]
    log_group = named(synthesized.main, "AWS::Logs::LogGroup", "PurgeLogs")[0]
    role = function_role(purge)
    granted = by_sid(role_statements(synthesized.main, role))
    assert set(granted) == {
        "Logs", "ListIndex", "DeleteDerivatives", "Invalidate", "sqs:SendMessage",
        "xray:PutTelemetryRecords",
    }  # fmt: skip
    assert without_sid(granted["Logs"]) == {
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
    }
    assert without_sid(granted["ListIndex"]) == {
        "Action": "s3:ListBucket",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [derivatives, "Arn"]},
        "Condition": {"StringLike": {"s3:prefix": f"{INDEX_ROOT}*"}},
    }
    assert without_sid(granted["DeleteDerivatives"]) == {
        "Action": "s3:DeleteObject",
        "Effect": "Allow",
        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [derivatives, "Arn"]}, "/*"]]},
    }
    invalidate = granted["Invalidate"]
    assert invalidate["Action"] == "cloudfront:CreateInvalidation"
    assert arn_text(invalidate["Resource"]) == (
        f"arn:<AWS::Partition>:cloudfront::<AWS::AccountId>:distribution/<{distribution_id}>"
    )
    assert granted["sqs:SendMessage"] == {
        "Action": "sqs:SendMessage",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
    }
    assert granted["xray:PutTelemetryRecords"] == XRAY
    assert not any(refers_to(s, originals) for s in granted.values())
    assert "ManagedPolicyArns" not in synthesized.main["Resources"][role]["Properties"]


def test_originals_notify_the_purge_of_every_change(synthesized: Synthesized) -> None:
    originals, derivatives = bucket_ids(synthesized)
    purge_id, _ = function(synthesized, "PurgeFunction")
    _, notifications = only(synthesized.main, "Custom::S3BucketNotifications")
    properties = notifications["Properties"]
    assert properties["BucketName"] == {"Ref": originals}  # never the derivatives bucket
    configuration = properties["NotificationConfiguration"]
    assert set(configuration) == {"LambdaFunctionConfigurations"}
    targets = {
        event: c["LambdaFunctionArn"]
        for c in configuration["LambdaFunctionConfigurations"]
        for event in c["Events"]
    }
    # The events purge.py acts on: every kind of creation (overwrite) and removal.
    assert set(targets) == {f"s3:{prefix}*" for prefix in PURGING_EVENTS}
    assert set(map(json.dumps, targets.values())) == {json.dumps({"Fn::GetAtt": [purge_id, "Arn"]})}
    assert "Filter" not in json.dumps(configuration)  # every key of the bucket
    (permission,) = [
        p["Properties"]
        for p in of_type(synthesized.main, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "s3.amazonaws.com"
    ]
    assert permission == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": [purge_id, "Arn"]},
        "Principal": "s3.amazonaws.com",
        "SourceAccount": {"Ref": "AWS::AccountId"},
        "SourceArn": {"Fn::GetAtt": [originals, "Arn"]},
    }
    # The purge's own deletes in the derivatives bucket notify nothing.
    assert (
        "NotificationConfiguration" not in synthesized.main["Resources"][derivatives]["Properties"]
    )


# --- precompute ----------------------------------------------------------------------------


def state_machine(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    return only(synthesized.main, "AWS::StepFunctions::StateMachine")


def test_precompute_batch_function(synthesized: Synthesized) -> None:
    _, batch = function(synthesized, "PrecomputeBatch")
    _, resizer = function(synthesized, "ResizerFunction")
    originals, derivatives = bucket_ids(synthesized)
    properties = batch["Properties"]
    assert (
        properties["Handler"] == PRECOMPUTE_BATCH_HANDLER == "regional_resizer.precompute.handler"
    )
    assert same_code(batch, resizer)  # the resizer's zip, which holds the batch module
    assert properties["Architectures"] == resizer["Properties"]["Architectures"]
    assert properties["MemorySize"] == resizer["Properties"]["MemorySize"] == 2048
    assert properties["Timeout"] == 900  # Lambda's longest; the batch stops itself before
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert "ReservedConcurrentExecutions" not in properties  # the map's MaxConcurrency bounds it
    assert properties["Environment"]["Variables"] == {
        "ORIGINALS_BUCKET": {"Ref": originals},
        "DERIVATIVES_BUCKET": {"Ref": derivatives},
        RENDER_TIMEOUT_ENV: "20",  # the resizer's timeout: one render's worst case
    }


def test_precompute_batch_role_is_the_resizers_and_a_skip_check(synthesized: Synthesized) -> None:
    _, batch = function(synthesized, "PrecomputeBatch")
    _, resizer = function(synthesized, "ResizerFunction")
    _, derivatives = bucket_ids(synthesized)
    granted = by_sid(role_statements(synthesized.main, function_role(batch)))
    resizers = by_sid(role_statements(synthesized.main, function_role(resizer)))
    assert set(granted) == {*resizers, "SkipStored"}
    for sid in ("ReadOriginals", "MissingOriginalsAre404", "WriteDerivatives"):
        assert granted[sid] == resizers[sid]
    assert without_sid(granted["SkipStored"]) == {  # HeadObject before a render
        "Action": "s3:GetObject",
        "Effect": "Allow",
        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [derivatives, "Arn"]}, "/*"]]},
    }


def test_precompute_is_a_distributed_map_over_the_originals(synthesized: Synthesized) -> None:
    originals, derivatives = bucket_ids(synthesized)
    batch_id, _ = function(synthesized, "PrecomputeBatch")
    definition = state_machine_definition(state_machine(synthesized)[1])
    assert definition["QueryLanguage"] == "JSONata"
    (name,) = definition["States"]
    assert definition["StartAt"] == name
    originals_map = definition["States"][name]
    assert originals_map["Type"] == "Map" and originals_map["End"] is True
    assert originals_map["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",  # a batch may run for 15 minutes, past Express's 5
    }
    # Every object under the execution input's prefix (default: all of them), by key.
    assert originals_map["ItemReader"] == {
        "Resource": "arn:<AWS::Partition>:states:::s3:listObjectsV2",
        "Arguments": {
            "Bucket": f"<{originals}>",
            "Prefix": "{% $exists($states.input.prefix) ? $states.input.prefix : '' %}",
        },
    }
    assert originals_map["ItemSelector"] == {"key": "{% $states.context.Map.Item.Value.Key %}"}
    assert originals_map["ItemBatcher"] == {
        "MaxItemsPerBatch": 150,
        "BatchInput": {
            "presets": "{% $exists($states.input.presets) ? $states.input.presets : [] %}"
        },
    }
    assert originals_map["MaxConcurrency"] == 12
    assert originals_map["ToleratedFailurePercentage"] == 10
    assert originals_map["Label"] == LABEL
    # The results go to the derivatives bucket under _precompute/, never to the originals.
    assert originals_map["ResultWriter"] == {
        "Resource": "arn:<AWS::Partition>:states:::s3:putObject",
        "Arguments": {"Bucket": f"<{derivatives}>", "Prefix": RESULTS_PREFIX},
    }
    assert RESULTS_PREFIX == "_precompute/"
    # Each child: one task, the batch function on the batch, its report as the output.
    processor = originals_map["ItemProcessor"]
    (task,) = processor["States"].values()
    assert processor["StartAt"] in processor["States"]
    assert task["Type"] == "Task" and task["End"] is True
    assert task["Resource"] == "arn:<AWS::Partition>:states:::lambda:invoke"
    assert task["Arguments"] == {
        "FunctionName": f"<{batch_id}.Arn>",
        "Payload": "{% $states.input %}",
    }
    assert task["Output"] == "{% $states.result.Payload %}"
    retries = {error: r for r in task["Retry"] for error in r["ErrorEquals"]}
    # A batch that ran out of time runs again (what it stored is skipped) ...
    assert retries[BatchUnfinished.__name__]["MaxAttempts"] >= 5
    # ... throttling backs off, Lambda's own faults are retried; anything else fails the batch.
    assert retries["Lambda.TooManyRequestsException"]["BackoffRate"] > 1
    assert "Lambda.ServiceException" in retries
    assert "States.ALL" not in retries and "Catch" not in task


def test_precompute_state_machine_logs_and_traces(synthesized: Synthesized) -> None:
    _, machine = state_machine(synthesized)
    log_group_id, log_group = named(synthesized.main, "AWS::Logs::LogGroup", "PrecomputeState")
    properties = machine["Properties"]
    assert properties["TracingConfiguration"] == {"Enabled": True}
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is True
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}
    ]
    assert log_group["Properties"]["LogGroupName"] == "/aws/vendedlogs/states/imgtest-precompute"


def test_precompute_state_machine_role(synthesized: Synthesized) -> None:
    """ListBucket on the originals (ItemReader), the result writer's actions under
    _precompute/ only, InvokeFunction on the batch function, and its own child executions."""
    originals, derivatives = bucket_ids(synthesized)
    batch_id, _ = function(synthesized, "PrecomputeBatch")
    machine_id, _ = state_machine(synthesized)
    role = named(synthesized.main, "AWS::IAM::Role", "PrecomputeStateMachineRole")[0]
    found = role_statements(synthesized.main, role)
    granted: dict[str, list[str]] = {}  # action -> its resources
    for statement in found:
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        for action in actions(statement):
            assert action not in granted, f"{action} granted twice"
            granted[action] = [arn_text(r) for r in resources]
    assert granted["s3:ListBucket"] == [f"<{originals}.Arn>"]
    for action in (
        "s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"
    ):  # fmt: skip
        assert granted[action] == [f"<{derivatives}.Arn>/{RESULTS_PREFIX}*"]
    assert granted["lambda:InvokeFunction"] == [f"<{batch_id}.Arn>", f"<{batch_id}.Arn>:*"]
    assert granted["states:StartExecution"] == [f"<{machine_id}>"]
    executions = "arn:<AWS::Partition>:states:eu-west-1:<AWS::AccountId>:execution:" + json.dumps(
        {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": machine_id}]}]}
    )
    assert granted["states:DescribeExecution"] == [f"{executions}:*"]
    assert granted["states:StopExecution"] == [f"{executions}:*"]
    assert granted["states:RedriveExecution"] == [f"{executions}/{LABEL}:*"]
    unscoped = {action for action, resources in granted.items() if resources == ["*"]}
    assert unscoped == {
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }  # fmt: skip
    assert set(granted) - unscoped == {
        "s3:ListBucket", "s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload", "lambda:InvokeFunction", "states:StartExecution",
        "states:DescribeExecution", "states:StopExecution", "states:RedriveExecution",
    }  # fmt: skip
    assert all(s["Effect"] == "Allow" for s in found)
    assert "ManagedPolicyArns" not in synthesized.main["Resources"][role]["Properties"]


def test_the_state_machine_arn_is_an_output(synthesized: Synthesized) -> None:
    machine_id, _ = state_machine(synthesized)
    output = synthesized.main["Outputs"]["PrecomputeStateMachine"]
    assert output["Value"] == {"Ref": machine_id}
    assert "start-execution" in output["Description"]
    Template.from_json(synthesized.main).has_output(
        "PurgeDeadLetterQueue", {"Value": {"Ref": only(synthesized.main, "AWS::SQS::Queue")[0]}}
    )
