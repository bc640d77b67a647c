"""The deployment settings: defaults, files, and every bad value reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.aws.settings import DeploySettings, SettingsError, load_settings


def test_defaults_are_the_documented_ones() -> None:
    settings = DeploySettings()
    assert settings.resizer_architecture == "arm64"
    assert settings.python == "3.12"
    assert (settings.resizer_memory_mb, settings.resizer_timeout_s) == (1769, 25)
    assert settings.resizer_timeout_s < settings.origin_read_timeout_s == 30
    assert settings.edge_stack_name == "imgedge-edge"
    assert settings.purge_reserved_concurrency == 0  # no reservation: the account's pool
    assert settings.precompute_max_concurrency == 20
    assert settings.precompute_items_per_batch == 200
    assert settings.precompute_tolerated_failure_percentage == 5


def test_file_overrides_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('region = "ap-southeast-2"\nresizer_memory_mb = 3008\n')
    settings = load_settings(path)
    assert settings.home_region() == "ap-southeast-2"
    assert settings.resizer_memory_mb == 3008
    assert load_settings(None) == DeploySettings()


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        DeploySettings.from_mapping(
            {
                "stack_name": "9lives",
                "region": "Europe",
                "resizer_architecture": "ppc64",
                "python": "2.7",
                "resizer_timeout_s": 30,
                "log_retention_days": 31,
                "price_class": "cheap",
                "originals_bucket_name": "Bad_Name",
                "purge_reserved_concurrency": -1,
                "precompute_max_concurrency": 0,
                "precompute_items_per_batch": 5000,
                "precompute_tolerated_failure_percentage": 101,
            }
        )
    message = str(caught.value)
    for name in (
        "stack_name", "region", "resizer_architecture", "python", "resizer_timeout_s",
        "log_retention_days", "price_class", "originals_bucket_name",
        "purge_reserved_concurrency", "precompute_max_concurrency", "precompute_items_per_batch",
        "precompute_tolerated_failure_percentage",
    ):  # fmt: skip
        assert f"{name}:" in message
    assert len(caught.value.problems) == 12


def test_resizer_must_finish_before_cloudfront_gives_up() -> None:
    with pytest.raises(SettingsError, match="below origin_read_timeout_s"):
        DeploySettings(resizer_timeout_s=45, origin_read_timeout_s=45)
    assert DeploySettings(resizer_timeout_s=44, origin_read_timeout_s=45)


def test_unknown_keys_and_wrong_types_are_refused() -> None:
    with pytest.raises(SettingsError, match="unknown key 'memory'"):
        DeploySettings.from_mapping({"memory": 1024})
    with pytest.raises(SettingsError, match="resizer_memory_mb: must be an integer"):
        DeploySettings.from_mapping({"resizer_memory_mb": "1024"})
    with pytest.raises(SettingsError, match="derivatives_bucket_name: must differ"):
        DeploySettings(originals_bucket_name="images", derivatives_bucket_name="images")


def test_region_comes_from_the_environment_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CDK_DEFAULT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingsError, match="region: not set"):
        DeploySettings().home_region()
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    assert DeploySettings().home_region() == "eu-north-1"
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-west-2")  # the CDK CLI's, from the profile
    assert DeploySettings().home_region() == "us-west-2"
    assert DeploySettings(region="sa-east-1").home_region() == "sa-east-1"
