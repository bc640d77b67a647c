from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import CONFIG_ENV, Config, ConfigError, load_config


def test_defaults_are_valid_and_bounded() -> None:
    config = Config()
    assert config.max_size == 4096
    assert config.quality_for("png") is None
    assert config.quality_for("jpeg") == 80


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        Config.from_mapping(
            {
                "sizes": [300, 200],
                "formats": ["gif"],
                "max_frames": -1,
                "qualities": [0],
                "resampling": "nearest",
            }
        )
    text = str(raised.value)
    assert len(raised.value.problems) >= 5
    for name in ("sizes", "formats", "max_frames", "qualities", "resampling"):
        assert name in text


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown key 'sizez'"):
        Config.from_mapping({"sizez": [1]})


def test_file_overrides_defaults_and_merges_qualities(tmp_path: Path) -> None:
    path = tmp_path / "imgedge.toml"
    path.write_text('sizes = [100, 200]\nformats = ["webp"]\n[default_quality]\nwebp = 70\n')
    config = load_config(path)
    assert config.sizes == (100, 200)
    assert config.formats == ("webp",)
    assert config.quality_for("webp") == 70
    assert config.quality_for("jpeg") == 80


def test_environment_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text("error_max_age = 5\n")
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert load_config().error_max_age == 5


def test_round_trip_through_mapping() -> None:
    config = Config(sizes=(10, 20), error_max_age=7, resampling="lanczos")
    assert Config.from_mapping(config.to_mapping()) == config
