"""Deployment settings AWS would refuse are refused at synth: an origin read timeout over
CloudFront's default quota without saying the quota was raised, and a Python runtime Lambda
no longer lets you create a function with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from infra.aws import settings as settings_module
from infra.aws.settings import (
    PYTHON_RUNTIMES,
    DeploySettings,
    SettingsError,
    load_settings,
    runtime_problem,
)


@pytest.fixture
def on(monkeypatch: pytest.MonkeyPatch) -> Callable[[date], None]:
    """Set the settings' today: ``on(date(...))``."""

    def set_today(day: date) -> None:
        monkeypatch.setattr(settings_module, "today", lambda: day)

    set_today(date(2026, 1, 15))
    return set_today


def test_an_origin_read_timeout_over_60_s_needs_the_quota_override() -> None:
    assert DeploySettings(origin_read_timeout_s=60).origin_read_timeout_s == 60
    with pytest.raises(SettingsError) as caught:
        DeploySettings(origin_read_timeout_s=61)
    (problem,) = caught.value.problems
    assert problem.startswith("origin_read_timeout_s: must lie in 1..60")
    assert "Response timeout per origin" in problem
    assert "origin_read_timeout_quota_raised = true" in problem

    raised = DeploySettings(origin_read_timeout_s=120, origin_read_timeout_quota_raised=True)
    assert raised.origin_read_timeout_s == 120
    with pytest.raises(SettingsError, match=r"origin_read_timeout_s: must lie in 1\.\.120"):
        DeploySettings(origin_read_timeout_s=121, origin_read_timeout_quota_raised=True)


def test_the_quota_override_comes_from_the_file_and_must_be_a_boolean(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        "origin_read_timeout_s = 90\nresizer_timeout_s = 85\n"
        "origin_read_timeout_quota_raised = true\n"
    )
    assert load_settings(path).origin_read_timeout_s == 90
    with pytest.raises(SettingsError, match="origin_read_timeout_quota_raised: must be true or"):
        DeploySettings.from_mapping({"origin_read_timeout_quota_raised": "yes"})
    assert DeploySettings().origin_read_timeout_quota_raised is False


def test_python_3_11_is_refused_once_lambda_blocks_creating_it(on: Callable[[date], None]) -> None:
    set_today = on
    set_today(date(2026, 7, 30))
    assert DeploySettings(python="3.11").python == "3.11"

    set_today(date(2026, 7, 31))
    with pytest.raises(SettingsError) as caught:
        DeploySettings(python="3.11")
    (problem,) = caught.value.problems
    assert problem.startswith("python: Lambda refuses to create python3.11 functions from")
    assert "2026-07-31" in problem
    assert "Amazon Linux 2" in problem
    assert "lambda-runtimes" in problem
    assert "['3.12', '3.13']" in problem  # what is left to choose
    assert DeploySettings(python="3.12").python == "3.12"


def test_the_runtime_table_decides_not_a_list_of_versions() -> None:
    for version, dates in PYTHON_RUNTIMES.items():
        assert dates.deprecation <= dates.create_blocked <= dates.update_blocked
        assert runtime_problem(version, dates.create_blocked.replace(day=1)) is None or (
            dates.create_blocked.day == 1
        )
        problem = runtime_problem(version, dates.create_blocked)
        assert problem is not None and dates.create_blocked.isoformat() in problem
    assert runtime_problem("2.7", date(2020, 1, 1)) == "python: one of ['3.11', '3.12', '3.13']"


def test_every_problem_is_still_reported_at_once(on: Callable[[date], None]) -> None:
    set_today = on
    set_today(date(2027, 1, 1))
    with pytest.raises(SettingsError) as caught:
        DeploySettings.from_mapping(
            {"python": "3.11", "origin_read_timeout_s": 90, "price_class": "cheap"}
        )
    names = sorted(problem.split(":")[0] for problem in caught.value.problems)
    assert names == ["origin_read_timeout_s", "price_class", "python"]


def test_today_is_the_utc_date_by_default() -> None:
    assert settings_module.today is settings_module.utc_today
    assert isinstance(settings_module.utc_today(), date)
