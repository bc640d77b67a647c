"""The transform options beyond size and format: what only a signature unlocks, what the
configuration allows, and the refusals (each a 400 that names the parameter)."""

from __future__ import annotations

import tomllib

import pytest

from edge_router.normalize import normalize
from shared.config import Config, ConfigError, Watermark
from shared.contract import ImageRequest
from shared.errors import InvalidRequest, SignatureInvalid
from shared.signing import signature

SECRET = "s3cret-s3cret-s3cret"
CONFIG = Config(
    signing_keys={"k1": SECRET},
    watermarks={"logo": Watermark(key="brand/logo.png", gravity="sw", scale=0.2)},
)


def signed_query(query: str, key: str) -> str:
    """``query`` signed for canonical ``key``, the exact request it names."""
    return f"{query}&sig={signature(key, 'k1', SECRET)}"


def test_a_crop_needs_a_signature_and_then_keeps_its_pixels() -> None:
    with pytest.raises(InvalidRequest, match="crop needs a signed URL"):
        normalize("/a.jpg", "s=256x&crop=10,20,300,200", None, CONFIG)
    request = normalize(
        "/a.jpg",
        signed_query("s=256x&crop=10,20,300,200", "256x-crop10,20,300,200/jpeg/a.jpg"),
        None,
        CONFIG,
    )
    assert request.key == "256x-crop10,20,300,200/jpeg/a.jpg"
    assert ImageRequest.parse(request.key, CONFIG, signed=True) == request
    with pytest.raises(InvalidRequest):
        ImageRequest.parse(request.key, CONFIG)  # the edge never reaches it unsigned
    assert normalize(request.uri, "", None, CONFIG).is_original


def test_a_signature_of_another_crop_does_not_verify() -> None:
    query = signed_query("s=256x&crop=10,20,300,200", "256x-crop10,20,300,200/jpeg/a.jpg").replace(
        "crop=10,", "crop=11,"
    )
    with pytest.raises(SignatureInvalid):
        normalize("/a.jpg", query, None, CONFIG)


def test_any_bg_colour_with_a_signature_only() -> None:
    with pytest.raises(InvalidRequest, match="bg must be one of ffffff, 000000"):
        normalize("/a.png", "bg=336699", None, CONFIG)
    request = normalize(
        "/a.png", signed_query("bg=336699", "full-bg336699/png/a.png"), None, CONFIG
    )
    assert request.key == "full-bg336699/png/a.png"


def test_dpr_past_the_limit_caps_unsigned_and_is_refused_signed() -> None:
    assert normalize("/a.jpg", "s=3000x&dpr=4", None, CONFIG).width == CONFIG.max_size
    with pytest.raises(InvalidRequest, match="s times dpr"):
        normalize("/a.jpg", signed_query("s=3000x&dpr=3", "9000x/jpeg/a.jpg"), None, CONFIG)
    signed = normalize("/a.jpg", signed_query("s=300x&dpr=2.5", "750x/jpeg/a.jpg"), None, CONFIG)
    assert signed.width == 750  # exact: a signature does not snap


def test_a_watermark_is_a_configured_name() -> None:
    assert normalize("/a.jpg", "s=640x&wm=LOGO", None, CONFIG).key == "640x-wmlogo/jpeg/a.jpg"
    with pytest.raises(InvalidRequest, match=r"unknown watermark \(known: logo\)"):
        normalize("/a.jpg", "s=640x&wm=other", None, CONFIG)
    with pytest.raises(InvalidRequest, match="none configured"):
        normalize("/a.jpg", "s=640x&wm=logo", None, Config())


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("s=256x256&g=middle", "g must be one of"),
        ("g=middle", "g must be one of"),
        ("s=256x256&fp=0.5;0.5", "fp must be X,Y"),
        ("s=256x256&fp=.,.", "fp must be X,Y"),
        ("s=256x&dpr=2.25", "dpr must lie in 1..4"),
        ("dpr=0", "dpr must lie in 1..4"),
        ("r=-90", "r must be 0, 90, 180 or 270"),
        ("flip=x", "flip must be one of"),
        ("blur=1e3", "blur must be a number"),
        ("sharpen=0.125", "sharpen must be a number"),
        ("bg=ggg000", "bg must be RRGGBB"),
        ("crop=1,2,3", "crop must be X,Y,W,H"),
        ("crop=1,2,0,3", "crop must have a width and height"),
    ],
)
def test_each_bad_value_is_a_400_naming_its_parameter(query: str, named: str) -> None:
    with pytest.raises(InvalidRequest, match=named) as raised:
        normalize("/a.jpg", query, None, CONFIG)
    assert raised.value.status == 400


def test_options_that_do_not_apply_do_not_fork_the_key() -> None:
    plain = normalize("/a.jpg", "s=256x&f=webp", None, CONFIG)
    for extra in ("g=smart", "fp=0.2,0.2", "g=north", "dpr=1", "blur=0", "r=0", "flip=hv&r=180"):
        assert normalize("/a.jpg", f"s=256x&f=webp&{extra}", None, CONFIG) == plain


def test_a_key_too_long_for_s3_is_refused_whole() -> None:
    config = Config(watermarks={"w" * 32: Watermark(key="m.png")}, focal_point_grid=0.002)
    source = "a" * 950 + ".jpg"  # within the source limit, with room for a plain geometry
    assert normalize(f"/{source}", "s=256x", None, config).key == f"256x/jpeg/{source}"
    query = f"s=256x256&fp=0.352,0.654&r=90&flip=h&blur=0.5&sharpen=0.5&bg=000000&wm={'w' * 32}"
    with pytest.raises(InvalidRequest, match="key longer than 974 bytes"):
        normalize(f"/{source}", query, None, config)


def test_the_configuration_reports_every_bad_transform_setting() -> None:
    with pytest.raises(ConfigError) as raised:
        Config.from_mapping(
            {
                "focal_point_grid": 0.3,
                "blur_sigmas": [2, 1],
                "sharpen_sigmas": [0.125],
                "background_colours": ["FFF"],
                "watermarks": {
                    "bad-name": {"key": "m.png"},
                    "odd": {"key": "m.png", "gravity": "up", "opacity": 2},
                    "nokey": {"gravity": "n"},
                },
            }
        )
    text = str(raised.value)
    for expected in (
        "focal_point_grid: must be 1/n for an even n",
        "blur_sigmas: must be strictly increasing",
        "sharpen_sigmas: values must lie in 0..100",
        "background_colours: 'FFF'",
        "watermarks: name 'bad-name'",
        "watermarks.odd.gravity",
        "watermarks.odd.opacity",
        "watermarks.nokey: must be a table with key",
    ):
        assert expected in text


def test_watermarks_read_from_toml_tables() -> None:
    config = Config.from_mapping(
        tomllib.loads('[watermarks.logo]\nkey = "brand/logo.png"\nopacity = 0.6\n')
    )
    assert config.watermarks["logo"] == Watermark(key="brand/logo.png", opacity=0.6)
    assert Config.from_mapping(config.to_mapping()) == config


def test_an_empty_allow_list_turns_an_option_off_for_unsigned_viewers() -> None:
    config = Config(blur_sigmas=(), sharpen_sigmas=(), background_colours=())
    for query, message in (
        ("blur=2", "blur is not enabled"),
        ("sharpen=1", "sharpen is not enabled"),
        ("bg=000000", "bg needs a signed URL"),
    ):
        with pytest.raises(InvalidRequest, match=message):
            normalize("/a.png", query, None, config)
    assert normalize("/a.png", "s=64x&blur=0", None, config).key == "64x/png/a.png"
