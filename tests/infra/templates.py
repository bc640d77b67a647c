"""Reading synthesized CloudFormation templates in the infrastructure tests."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Synthesized

Resources = dict[str, dict[str, Any]]


def of_type(template: dict[str, Any], kind: str) -> Resources:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def only(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    found = of_type(template, kind)
    assert len(found) == 1, f"{len(found)} {kind}"
    return next(iter(found.items()))


def named(template: dict[str, Any], kind: str, prefix: str) -> tuple[str, dict[str, Any]]:
    """The one resource of ``kind`` whose logical id starts with ``prefix``."""
    found = {k: v for k, v in of_type(template, kind).items() if k.startswith(prefix)}
    assert len(found) == 1, f"{len(found)} {kind} named {prefix}*"
    return next(iter(found.items()))


def bucket_ids(synthesized: Synthesized) -> tuple[str, str]:
    buckets = of_type(synthesized.main, "AWS::S3::Bucket")
    originals = next(k for k in buckets if "Originals" in k)
    derivatives = next(k for k in buckets if "Derivatives" in k)
    return originals, derivatives


def refers_to(value: Any, logical_id: str) -> bool:
    return logical_id in json.dumps(value)


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy_document["Statement"])


def actions(statement: dict[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to the role ``role_id``."""
    found: list[dict[str, Any]] = []
    for policy in of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found += statements(policy["Properties"]["PolicyDocument"])
    return found


def function_role(function: dict[str, Any]) -> str:
    role: str = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return role


def distribution(synthesized: Synthesized) -> dict[str, Any]:
    config: dict[str, Any] = only(synthesized.main, "AWS::CloudFront::Distribution")[1][
        "Properties"
    ]["DistributionConfig"]
    return config


def _flat(part: Any) -> str:
    """A token in a ``Fn::Join`` as text: <LogicalId>, <LogicalId.Attr>, <AWS::Partition>."""
    if isinstance(part, str):
        return part
    if "Ref" in part:
        return f"<{part['Ref']}>"
    if "Fn::GetAtt" in part:
        return f"<{'.'.join(part['Fn::GetAtt'])}>"
    return json.dumps(part)


def state_machine_definition(state_machine: dict[str, Any]) -> dict[str, Any]:
    """The ASL of a state machine, its references written as <LogicalId> and the like."""
    body = state_machine["Properties"]["DefinitionString"]
    text = body if isinstance(body, str) else "".join(map(_flat, body["Fn::Join"][1]))
    definition: dict[str, Any] = json.loads(text)
    return definition


def arn_text(value: Any) -> str:
    """An ARN as text, with its references written as in ``state_machine_definition``."""
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(map(_flat, value["Fn::Join"][1]))
    return _flat(value)
