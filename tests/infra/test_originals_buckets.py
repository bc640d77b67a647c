"""The AWS deployment with several originals buckets (``originals_buckets``): each mapped
bucket is an existing bucket imported by name; the resizer's and the precompute batch's
roles read its objects under the prefix and may list it (a missing key is a 404); it
notifies the purge of changes under its prefix; the precompute state machine lists it.
cdk-nag passes (``imgedge synth`` fails on any unacknowledged finding)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from infra.cli import main
from infra.package import Target, package
from shared.config import load_config
from tests.infra.conftest import CONFIG_TOML, PACKAGE_CACHE, SETTINGS_TOML
from tests.infra.templates import (
    actions,
    arn_text,
    function_role,
    named,
    of_type,
    only,
    role_statements,
    state_machine_definition,
)

MAPPING = (
    '[originals_buckets]\n"products/" = "acme-products"\n"products/shoes/" = "acme-products"\n'
)
OBJECTS = "arn:<AWS::Partition>:s3:::acme-products/products/*"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("mapped")
    config, settings = folder / "imgedge.toml", folder / "settings.toml"
    config.write_text(CONFIG_TOML + MAPPING)
    settings.write_text(SETTINGS_TOML)
    built = package(load_config(config), Target(), folder / "dist", PACKAGE_CACHE, log=print)
    out = folder / "cdk.out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(
            ["synth", "--no-package", "--dist", str(built.edge_zip.parent),
             "--config", str(config), "--settings", str(settings), "--out", str(out)]
        )  # fmt: skip
    assert status == 0, printed.getvalue()
    found: dict[str, Any] = json.loads((out / "imgtest.template.json").read_text())
    return found


def text(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, dict | str) else arn_text(value)


def statement(template: dict[str, Any], function_prefix: str, sid: str) -> dict[str, Any]:
    function = named(template, "AWS::Lambda::Function", function_prefix)[1]
    found = [s for s in role_statements(template, function_role(function)) if s.get("Sid") == sid]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("function", ["ResizerFunction", "PrecomputeBatch"])
def test_the_rendering_roles_read_the_mapped_bucket_under_its_prefixes(
    template: dict[str, Any], function: str
) -> None:
    read = statement(template, function, "ReadOriginals")
    assert actions(read) == {"s3:GetObject"}
    resources = [arn_text(r) for r in read["Resource"]]
    assert OBJECTS in resources
    assert "arn:<AWS::Partition>:s3:::acme-products/products/shoes/*" in resources
    assert not any(r.endswith("acme-products/*") for r in resources)
    listing = statement(template, function, "MissingOriginalsAre404")
    assert actions(listing) == {"s3:ListBucket"}
    assert "arn:<AWS::Partition>:s3:::acme-products" in [arn_text(r) for r in listing["Resource"]]


def test_nothing_writes_to_the_mapped_bucket(template: dict[str, Any]) -> None:
    """Reads, and CDK's notifications handler's Get- and PutBucketNotification: no object is ever
    written or deleted."""
    allowed = {
        "s3:GetObject",
        "s3:ListBucket",
        "s3:GetBucketNotification",
        "s3:PutBucketNotification",
    }
    seen = set()
    for policy in of_type(template, "AWS::IAM::Policy").values():
        for found in policy["Properties"]["PolicyDocument"]["Statement"]:
            resources = found["Resource"]
            if any(
                "acme-products" in text(r)
                for r in (resources if isinstance(resources, list) else [resources])
            ):
                assert actions(found) <= allowed, found
                seen |= actions(found)
    assert seen == allowed


def test_the_mapped_bucket_notifies_the_purge_under_its_outer_prefix(
    template: dict[str, Any],
) -> None:
    purge = named(template, "AWS::Lambda::Function", "PurgeFunction")[0]
    notifications = of_type(template, "Custom::S3BucketNotifications")
    mapped = [n for n in notifications.values() if n["Properties"]["BucketName"] == "acme-products"]
    assert len(mapped) == 1
    properties = mapped[0]["Properties"]
    assert properties["Managed"] is False  # an imported bucket: others' notifications stay
    configurations = properties["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert sorted(c["Events"][0] for c in configurations) == [
        "s3:ObjectCreated:*",
        "s3:ObjectRemoved:*",
    ]
    for configuration in configurations:
        assert purge in json.dumps(configuration["LambdaFunctionArn"])
        rules = configuration["Filter"]["Key"]["FilterRules"]
        assert rules == [{"Name": "prefix", "Value": "products/"}]  # shoes/ is under it
    permissions = [
        p["Properties"]
        for p in of_type(template, "AWS::Lambda::Permission").values()
        if "acme-products" in text(p["Properties"].get("SourceArn", ""))
    ]
    assert len(permissions) == 1 and permissions[0]["Principal"] == "s3.amazonaws.com"


def test_precompute_lists_every_originals_bucket(template: dict[str, Any]) -> None:
    machine = only(template, "AWS::StepFunctions::StateMachine")[1]
    definition = state_machine_definition(machine)
    parallel = definition["States"][definition["StartAt"]]
    assert parallel["Type"] == "Parallel"
    readers = []
    for branch in parallel["Branches"]:
        state = branch["States"][branch["StartAt"]]
        readers.append(state["ItemReader"]["Arguments"])
        batch_input = state["ItemBatcher"]["BatchInput"]
        if state["ItemReader"]["Arguments"]["Bucket"] == "acme-products":
            assert batch_input["bucket"] == "acme-products"
            assert "$states.input.prefix" in batch_input["prefix"]
    assert sorted(r["Bucket"] for r in readers if r["Bucket"] == "acme-products") == [
        "acme-products",
        "acme-products",
    ]
    assert len(readers) == 3


@pytest.mark.parametrize("name", ["imgtest-originals", "imgtest-derivatives"])
def test_a_bucket_imgedge_makes_cannot_be_mapped(name: str) -> None:
    from aws_cdk import App, Environment, Stack

    from infra.aws.construct import DeploymentError, ImgedgeBehavior
    from infra.aws.settings import DeploySettings
    from shared.config import Config

    stack = Stack(App(), "Here", env=Environment(region="eu-west-1"))
    settings = DeploySettings(
        originals_bucket_name="imgtest-originals", derivatives_bucket_name="imgtest-derivatives"
    )
    config = Config.from_mapping({"originals_buckets": {"products/": name}})
    with pytest.raises(DeploymentError, match="a bucket imgedge makes itself"):
        ImgedgeBehavior(
            stack,
            "Imgedge",
            config=config,
            settings=settings,
            edge_zip=Path("edge.zip"),
            resizer_zip=Path("resizer.zip"),
        )
