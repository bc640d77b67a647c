"""The deployment settings edge_trigger and resizer_snapstart: what synth refuses, and
`imgedge serve` reading the trigger, and the resizer's memory and timeout, from the same
settings file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from infra.aws.settings import DeploySettings, SettingsError
from infra.cli import build_parser
from infra.cli.serve import stack_options
from infra.distribution import ORIGIN_REQUEST, VIEWER_REQUEST


def test_defaults_keep_viewer_request_and_no_snapstart() -> None:
    settings = DeploySettings()
    assert (settings.edge_trigger, settings.resizer_snapstart) == (VIEWER_REQUEST, False)


def test_an_unknown_trigger_is_refused() -> None:
    with pytest.raises(SettingsError, match="edge_trigger: one of"):
        DeploySettings(edge_trigger="viewer-response")


def test_snapstart_needs_python_312_and_a_region_that_has_it() -> None:
    assert DeploySettings(resizer_snapstart=True, python="3.13").resizer_snapstart
    with pytest.raises(SettingsError) as refused:
        DeploySettings(resizer_snapstart=True, python="3.11", region="ap-southeast-6")
    assert any("SnapStart needs python" in p for p in refused.value.problems)
    assert any("not offered in ap-southeast-6" in p for p in refused.value.problems)


def _serve(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_serve_takes_the_flag_over_the_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text('edge_trigger = "origin-request"\n')
    assert stack_options(_serve("--settings", str(settings))).edge_trigger == ORIGIN_REQUEST
    given = _serve("--settings", str(settings), "--edge-trigger", VIEWER_REQUEST)
    assert stack_options(given).edge_trigger == VIEWER_REQUEST
    assert stack_options(_serve()).edge_trigger == VIEWER_REQUEST


def test_serve_runs_the_resizer_with_the_deployments_memory_and_timeout(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text("resizer_memory_mb = 3538\nresizer_timeout_s = 20\n")
    options = stack_options(_serve("--settings", str(settings)))
    assert (options.resizer_memory_mb, options.resizer_timeout_s) == (3538, 20)
    defaults = DeploySettings()
    options = stack_options(_serve())
    assert (options.resizer_memory_mb, options.resizer_timeout_s) == (
        defaults.resizer_memory_mb,
        defaults.resizer_timeout_s,
    )
