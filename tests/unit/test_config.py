from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared import config as config_module
from shared.config import CONFIG_ENV, MAX_DIMENSION, Config, ConfigError, load_config


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


def test_the_default_allow_lists_are_the_contracts() -> None:
    # Every deployment's keys (and the derivatives cached under them) follow from these:
    # a change to a default is a change to the contract.
    config = Config()
    assert config.sizes == (
        16, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 480, 512, 640, 720, 768, 828,
        960, 1024, 1080, 1200, 1280, 1440, 1536, 1600, 1920, 2048, 2560, 3072, 3840, 4096,
    )  # fmt: skip
    assert config.qualities == (10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 100)
    assert config.formats == ("jpeg", "png", "webp", "avif")
    assert dict(config.default_quality) == {"jpeg": 80, "webp": 80, "avif": 50}
    assert dict(config.presets) == {
        "thumb": "s=256x256&f=webp",
        "card": "s=640x480&f=webp",
        "hero": "s=1920x&f=webp",
    }
    assert dict(config.signing_keys) == {}
    assert MAX_DIMENSION == 8192


def test_the_default_limits_and_ages() -> None:
    config = Config()
    assert config.max_source_bytes == 50 * 1024 * 1024
    assert config.max_source_pixels == 64_000_000
    assert config.max_frames == 300
    assert config.max_total_pixels == 128_000_000
    assert config.derivative_max_age == 365 * 24 * 3600
    assert config.error_max_age == 60
    assert config.resampling == "balanced"
    assert config.trace_sampling_rate == 0.05


LOSSY_AT_50 = {"jpeg": 50, "webp": 50, "avif": 50}

# (fields, the fields blamed): each configuration has exactly these problems
BAD: list[tuple[dict[str, Any], set[str]]] = [
    ({"sizes": ()}, {"sizes"}),
    ({"sizes": (16, 32.0)}, {"sizes"}),
    ({"sizes": (True, 32)}, {"sizes"}),
    ({"sizes": (32, 16)}, {"sizes"}),
    ({"sizes": (16, 16)}, {"sizes"}),
    ({"sizes": (0, 16)}, {"sizes"}),
    ({"sizes": (16, 8193)}, {"sizes"}),
    ({"qualities": (0, 50), "default_quality": LOSSY_AT_50}, {"qualities"}),
    ({"qualities": (50, 101), "default_quality": LOSSY_AT_50}, {"qualities"}),
    ({"qualities": (50, 50), "default_quality": LOSSY_AT_50}, {"qualities"}),
    ({"qualities": (50, 80.0), "default_quality": LOSSY_AT_50}, {"qualities"}),
    ({"formats": ()}, {"formats"}),
    ({"formats": ("gif",)}, {"formats"}),
    ({"formats": ("jpeg", "jpg")}, {"formats"}),
    ({"default_quality": {"jpeg": 80, "webp": 80}}, {"default_quality"}),
    ({"default_quality": {**LOSSY_AT_50, "png": 50}}, {"default_quality"}),
    ({"default_quality": {**LOSSY_AT_50, "jpeg": 55}}, {"default_quality"}),
    ({"default_quality": {**LOSSY_AT_50, "webp": "50"}}, {"default_quality"}),
    ({"max_source_bytes": -1}, {"max_source_bytes"}),
    ({"max_source_pixels": -1}, {"max_source_pixels"}),
    ({"max_frames": -1}, {"max_frames"}),
    ({"max_total_pixels": -1}, {"max_total_pixels"}),
    ({"derivative_max_age": -1}, {"derivative_max_age"}),
    ({"error_max_age": -1}, {"error_max_age"}),
    ({"max_frames": True}, {"max_frames"}),
    ({"max_frames": 1.5}, {"max_frames"}),
    ({"presets": {"": "s=16x"}}, {"presets"}),
    ({"presets": {"a" * 33: "s=16x"}}, {"presets"}),
    ({"presets": {"Thumb": "s=16x"}}, {"presets"}),
    ({"presets": {"thumb": " "}}, {"presets"}),
    ({"presets": {"thumb": 16}}, {"presets"}),
    ({"signing_keys": {"": "s" * 16}}, {"signing_keys"}),
    ({"signing_keys": {"k" * 33: "s" * 16}}, {"signing_keys"}),
    ({"signing_keys": {"K1": "s" * 16}}, {"signing_keys"}),
    ({"signing_keys": {"k1": "s" * 15}}, {"signing_keys"}),
    ({"signing_keys": {"k1": 1234567890123456}}, {"signing_keys"}),
    ({"resampling": "nearest"}, {"resampling"}),
    ({"trace_sampling_rate": -0.01}, {"trace_sampling_rate"}),
    ({"trace_sampling_rate": 1.01}, {"trace_sampling_rate"}),
    ({"trace_sampling_rate": True}, {"trace_sampling_rate"}),
    ({"trace_sampling_rate": "0.5"}, {"trace_sampling_rate"}),
]


@pytest.mark.parametrize(("fields", "blamed"), BAD, ids=[repr(f)[:60] for f, _ in BAD])
def test_each_bad_value_is_named(fields: dict[str, Any], blamed: set[str]) -> None:
    with pytest.raises(ConfigError) as raised:
        Config(**fields)
    names = {problem.split(":")[0].split(".")[0] for problem in raised.value.problems}
    assert names == blamed, raised.value.problems


GOOD: list[dict[str, Any]] = [
    {"sizes": (1, 8192)},
    {"sizes": (8192,)},
    {"qualities": (1, 100), "default_quality": {"jpeg": 1, "webp": 100, "avif": 1}},
    {"formats": ("png",)},
    {"formats": ("avif", "jpeg")},
    {"max_source_bytes": 0, "max_frames": 0, "error_max_age": 0, "derivative_max_age": 0},
    {"max_source_pixels": 0, "max_total_pixels": 0},
    {"presets": {"a" * 32: "s=16x", "0": "f=png", "_-z9": "q=50"}},
    {"presets": {}},
    {"signing_keys": {"k" * 32: "s" * 16, "0": "s" * 40, "_-z9": "s" * 16}},
    {"resampling": "lanczos"},
    {"trace_sampling_rate": 0},
    {"trace_sampling_rate": 1},
    {"trace_sampling_rate": 0.0},
    {"trace_sampling_rate": 1.0},
]


@pytest.mark.parametrize("fields", GOOD, ids=[repr(f)[:60] for f in GOOD])
def test_values_at_each_limit_are_valid(fields: dict[str, Any]) -> None:
    config = Config(**fields)
    for name, value in fields.items():
        assert getattr(config, name) == value


def test_the_error_lists_every_problem_one_a_line() -> None:
    with pytest.raises(ConfigError) as raised:
        Config(resampling="nearest", error_max_age=-1)
    assert raised.value.problems == [
        "error_max_age: must be a non-negative integer",
        "resampling: must be one of ['balanced', 'lanczos']",
    ]
    assert str(raised.value) == (
        "invalid imgedge configuration:\n"
        "  error_max_age: must be a non-negative integer\n"
        "  resampling: must be one of ['balanced', 'lanczos']"
    )


def test_a_mapping_read_is_copied_and_frozen() -> None:
    presets = {"thumb": "s=64x"}
    keys = {"k1": "s" * 16}
    config = Config.from_mapping({"presets": presets, "signing_keys": keys, "sizes": [16, 32]})
    presets["card"], keys["k2"] = "s=640x", "t" * 16
    assert dict(config.presets) == {"thumb": "s=64x"}
    assert dict(config.signing_keys) == {"k1": "s" * 16}
    assert config.sizes == (16, 32)
    for mapping in (config.presets, config.signing_keys, config.default_quality):
        with pytest.raises(TypeError):
            mapping["x"] = "y"  # type: ignore[index]


def test_the_plain_view_holds_lists_and_dicts_only() -> None:
    plain = Config(signing_keys={"k1": "s" * 16}).to_mapping()
    assert type(plain["sizes"]) is list and type(plain["formats"]) is list
    for name in ("default_quality", "presets", "signing_keys"):
        assert type(plain[name]) is dict
    assert json.loads(json.dumps(plain)) == plain


def test_without_a_path_or_the_environment_the_baked_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    baked = tmp_path / "imgedge.json"
    monkeypatch.setattr(config_module, "BAKED_CONFIG", baked)
    assert load_config() == Config()  # no baked file: the defaults
    baked.write_text('{"error_max_age": 9}\n')
    assert load_config().error_max_age == 9
    assert config_module.BAKED_CONFIG.name == "imgedge.json"


def test_a_json_file_is_read_as_json_and_any_other_as_toml(tmp_path: Path) -> None:
    as_json = tmp_path / "settings.json"
    as_json.write_text('{"sizes": [100, 200], "watermarks": {"logo": {"key": "l.png"}}}')
    config = load_config(as_json)
    assert config.sizes == (100, 200) and config.watermarks["logo"].key == "l.png"
    as_toml = tmp_path / "settings.conf"
    as_toml.write_text("sizes = [300]\n")
    assert load_config(as_toml).sizes == (300,)


def test_a_configuration_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Config().error_max_age = 1  # type: ignore[misc]


def test_the_fallback_image_is_a_key_and_its_status_one_of_three() -> None:
    with pytest.raises(ConfigError) as raised:
        Config.from_mapping({"fallback_image": "/abs.png", "fallback_status": 500})
    assert "fallback_image: must be an originals bucket key" in str(raised.value)
    assert "fallback_status: must be one of [200, 404, 410]" in str(raised.value)
    assert Config(fallback_image="missing.png", fallback_status=200).fallback_status == 200
