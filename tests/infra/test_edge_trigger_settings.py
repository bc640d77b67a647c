"""The deployment settings edge_trigger and resizer_snapstart: what synth refuses, and
`imgedge serve` reading the trigger from the same settings file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from infra.aws.settings import DeploySettings, SettingsError
from infra.cli.serve import edge_trigger
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


def test_serve_takes_the_flag_over_the_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text('edge_trigger = "origin-request"\n')
    given = argparse.Namespace(edge_trigger=None, settings=settings)
    assert edge_trigger(given) == ORIGIN_REQUEST
    given.edge_trigger = VIEWER_REQUEST
    assert edge_trigger(given) == VIEWER_REQUEST
    assert edge_trigger(argparse.Namespace(edge_trigger=None, settings=None)) == VIEWER_REQUEST
