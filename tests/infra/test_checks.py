"""cdk-nag (AWS Solutions and Serverless packs) and cfn-lint on the synthesized app: no
unacknowledged finding, every acknowledgment with its reason, zero cfn-lint errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from infra.aws import app as app_module
from infra.aws.toolkit import CONTEXT_CONFIG, CONTEXT_DIST, CONTEXT_SETTINGS
from infra.package import Built
from tests.infra.conftest import Files, Synthesized

# cfn-lint findings CDK's own output always has, and why they are not problems.
ACCEPTED_CFN_LINT = {
    # CDK adds an explicit DependsOn from a function to its role's policy, which a GetAtt
    # already implies; harmless, and it orders the policy before the function.
    "W3005",
}
ACKNOWLEDGING_MODULES = ("storage", "resizer", "edge", "distribution", "purge", "precompute")


def report(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / "validation-report.json").read_text())
    return loaded


def test_synth_passes_both_packs_with_nothing_unacknowledged(synthesized: Synthesized) -> None:
    violations = [r for r in report(synthesized.out)["pluginReports"] if r.get("violations")]
    assert violations == []


def test_the_packs_find_exactly_what_is_acknowledged(
    files: Files, packaged: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With acknowledgments recorded instead of made, the same app fails the checks with
    exactly the findings imgedge acknowledges: the checks run, each acknowledgment is
    needed, and a new finding cannot hide behind an old one."""
    import importlib

    acknowledged: list[tuple[str, str]] = []
    for name in ACKNOWLEDGING_MODULES:
        module = importlib.import_module(f"infra.aws.{name}")
        monkeypatch.setattr(
            module,
            "acknowledge",
            lambda scope, rule, reason: acknowledged.append((rule, reason)),
        )
    app = App(outdir=str(tmp_path))
    app_module.build(app, files.load_config(), _settings(files), packaged.edge_zip.parent)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    found = Counter(
        {
            violation["ruleName"]: len(violation["violatingConstructs"])
            for plugin in report(tmp_path)["pluginReports"]
            for violation in plugin["violations"]
        }
    )
    assert found == Counter(rule for rule, _ in acknowledged)
    assert {rule.split("-")[0] for rule in found} == {"AwsSolutions", "Serverless"}
    for rule, reason in acknowledged:
        assert len(reason) > 60, f"{rule}: say why"
    # Lambda@Edge can have neither tracing nor a DLQ: those findings are acknowledged.
    assert {"Serverless-LambdaTracing", "Serverless-LambdaDLQ"} <= set(found)


def _settings(files: Files) -> Any:
    from infra.aws.settings import load_settings

    return load_settings(files.settings)


def test_cfn_lint_passes_both_templates(synthesized: Synthesized) -> None:
    from cfnlint.api import ManualArgs, lint_file

    findings = []
    for name in synthesized.templates:
        region = "us-east-1" if name.endswith("-edge") else "eu-west-1"
        findings += lint_file(
            synthesized.out / f"{name}.template.json", config=ManualArgs(regions=[region])
        )
    unexpected = [str(f) for f in findings if f.rule.id not in ACCEPTED_CFN_LINT]
    assert unexpected == []
    assert not [f for f in findings if f.rule.id.startswith("E")]


def test_home_region_us_east_1_is_one_stack_from_the_cli_context(
    files: Files, packaged: Built, tmp_path: Path
) -> None:
    """What the CDK CLI runs (`python -m infra.aws.app` with --context): with the home region
    in us-east-1 the edge function lives in the main stack, and the checks still pass."""
    settings = tmp_path / "settings.toml"
    settings.write_text(files.settings.read_text().replace("eu-west-1", "us-east-1"))
    app = App(
        outdir=str(tmp_path / "out"),
        context={
            CONTEXT_CONFIG: str(files.config),
            CONTEXT_SETTINGS: str(settings),
            CONTEXT_DIST: str(packaged.edge_zip.parent),
        },
    )
    deployment = app_module.from_context(app)
    assert deployment.stacks == [deployment.stack]
    assembly = app.synth()
    (stack,) = assembly.stacks
    template = stack.template
    kinds = Counter(r["Type"] for r in template["Resources"].values())
    # The resizer, the purge, the precompute batch, the edge router, and CDK's handler that
    # writes the originals bucket's notification configuration.
    assert kinds["AWS::Lambda::Function"] == 5 and kinds["AWS::Lambda::Version"] == 1
    assert "Custom::CrossRegionStringParameterReader" not in kinds


def test_app_refuses_zips_built_for_something_else(
    files: Files, packaged: Built, tmp_path: Path
) -> None:
    from infra.aws.settings import DeploySettings
    from shared.config import Config

    dist = packaged.edge_zip.parent
    ours = _settings(files)
    with pytest.raises(app_module.DeploymentError, match="another configuration"):
        app_module.check_dist(dist, Config(), ours)
    other = DeploySettings(region="eu-west-1", resizer_architecture="x86_64", python="3.13")
    with pytest.raises(
        app_module.DeploymentError, match=r"settings say x86_64; .* settings say 3\.13"
    ):
        app_module.check_dist(dist, files.load_config(), other)
    assert app_module.check_dist(dist, files.load_config(), ours) == (
        packaged.edge_zip,
        packaged.resizer_zip,
    )
