"""Rules of the contract that a rewrite could break without any other test noticing: each
is pinned by examples here (docs/mutation.md: which mutant each one kills).

- quality snaps to the nearest allowed value, a tie to the higher one;
- a key spells every number without a leading zero (width, height and quality alike);
- q=100 is a quality like any other;
- without f, a source keeps its format where imgedge writes it (.apng stays png, .avif
  stays avif), else jpeg; the first enabled format of jpeg, webp, png, avif stands in for a
  disabled one;
- f=auto reads Accept's media types with their parameters, any non-zero q counts;
- a configuration may enable any non-empty subset of the formats.
"""

from __future__ import annotations

import pytest

from edge_router.normalize import accepted_types, negotiate, normalize
from shared import formats
from shared.config import Config
from shared.contract import ImageRequest, check_size, snap_quality, snap_size
from shared.errors import InvalidRequest

CONFIG = Config()

# --- quality -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "snapped"),
    [
        # ties between two allowed qualities go up
        (15, 20), (25, 30), (35, 40), (45, 50), (55, 60), (65, 70),
        # otherwise the nearest
        (1, 10), (14, 10), (16, 20), (64, 60), (66, 70), (72, 70), (73, 75), (77, 75),
        (78, 80), (97, 95), (98, 100), (99, 100), (100, 100), (10, 10), (75, 75),
    ],
)  # fmt: skip
def test_quality_snaps_to_the_nearest_allowed_a_tie_up(asked: int, snapped: int) -> None:
    assert snap_quality(asked, CONFIG) == snapped


@pytest.mark.parametrize("tie", [15, 25, 35, 45, 55, 65])
def test_a_tie_gives_the_higher_qualitys_key(tie: int) -> None:
    assert normalize("/a.jpg", f"s=256x&q={tie}", None, CONFIG).key == f"256x-q{tie + 5}/jpeg/a.jpg"
    assert normalize("/a.jpg", f"f=webp&q={tie}", None, CONFIG).key == f"full-q{tie + 5}/webp/a.jpg"


def test_a_tie_between_other_allowed_qualities_goes_up_too() -> None:
    config = Config(qualities=(20, 40, 90), default_quality={"jpeg": 90, "webp": 90, "avif": 90})
    assert [snap_quality(q, config) for q in (29, 30, 31, 65, 66, 64)] == [20, 40, 40, 90, 90, 40]


def test_q100_is_a_quality_like_any_other() -> None:
    request = normalize("/a.jpg", "s=256x&q=100", None, CONFIG)
    assert request.key == "256x-q100/jpeg/a.jpg"
    assert ImageRequest.parse("256x-q100/jpeg/a.jpg", CONFIG) == request
    assert ImageRequest.parse("256x-q100/jpeg/a.jpg", CONFIG, signed=True) == request
    assert normalize("/256x-q100/jpeg/a.jpg", "", None, CONFIG) == request
    assert normalize("/a.jpg", "f=avif&q=100", None, CONFIG).key == "full-q100/avif/a.jpg"
    assert ImageRequest(source="a.jpg", format="webp", quality=100).key == "full-q100/webp/a.jpg"
    for bad in (0, 101):
        with pytest.raises(InvalidRequest):
            ImageRequest(source="a.jpg", format="webp", quality=bad)
        with pytest.raises(InvalidRequest):
            ImageRequest.canonical("a.jpg", fmt="webp", quality=bad, config=CONFIG)
    assert ImageRequest.canonical("a.jpg", fmt="webp", quality=1, config=CONFIG).quality == 10


def test_the_default_quality_is_never_spelled_and_png_has_none() -> None:
    assert normalize("/a.jpg", "f=avif&q=50", None, CONFIG).key == "full/avif/a.jpg"
    assert normalize("/a.jpg", "f=avif&q=45", None, CONFIG).key == "full/avif/a.jpg"  # ties up
    assert normalize("/a.jpg", "f=jpeg&q=80", None, CONFIG).key == "full/jpeg/a.jpg"
    assert normalize("/a.jpg", "f=png&q=100", None, CONFIG).key == "full/png/a.jpg"
    for key in ("full-q50/avif/a.jpg", "full-q80/jpeg/a.jpg", "full-q100/png/a.jpg"):
        with pytest.raises(InvalidRequest):
            ImageRequest.parse(key, CONFIG, signed=True)


# --- keys: no leading zeros ------------------------------------------------------------------

LEADING_ZEROS = [
    "0256x256/webp/a.jpg",
    "256x0256/webp/a.jpg",
    "x0256/webp/a.jpg",
    "0256x/webp/a.jpg",
    "256x256-q060/webp/a.jpg",
    "256x256-contain-q060/webp/a.jpg",
    "256x-q0100/jpeg/a.jpg",
    "full-q060/webp/a.jpg",
    "00x256/webp/a.jpg",
]


@pytest.mark.parametrize("key", LEADING_ZEROS)
def test_a_key_with_a_leading_zero_is_no_derivative(key: str) -> None:
    for signed in (False, True):
        with pytest.raises(InvalidRequest):
            ImageRequest.parse(key, CONFIG, signed=signed)
    assert normalize("/" + key, "", None, CONFIG).key == "original/" + key


def test_the_same_keys_without_the_zero_are_derivatives() -> None:
    for key in LEADING_ZEROS[:8]:
        canonical = key.replace("x0", "x").replace("q0", "q").removeprefix("0")
        assert ImageRequest.parse(canonical, CONFIG).key == canonical


def test_a_viewers_leading_zeros_are_only_spelling() -> None:
    assert normalize("/a.jpg", "s=0256x0256&q=060", None, CONFIG).key == "256x256-q60/jpeg/a.jpg"


# --- sizes at their limits -------------------------------------------------------------------


def test_sizes_at_the_hard_limits() -> None:
    for side in (1, 8192):
        assert check_size(side, CONFIG) == side
        assert snap_size(side, CONFIG) == (16 if side == 1 else 4096)
    for side in (0, 8193):
        for check in (check_size, snap_size):
            with pytest.raises(InvalidRequest):
                check(side, CONFIG)
    assert snap_size(4096, CONFIG) == 4096
    assert snap_size(4095, CONFIG) == 4096
    assert snap_size(4097, CONFIG) == 4096
    assert snap_size(16, CONFIG) == 16
    assert snap_size(17, CONFIG) == 32
    for request in (
        ImageRequest(source="a.jpg", format="png", width=1, height=8192),
        ImageRequest(source="a.jpg", format="png", width=8192, height=1),
    ):
        assert ImageRequest.parse(request.key, CONFIG, signed=True) == request
    for width in (0, 8193):
        with pytest.raises(InvalidRequest):
            ImageRequest(source="a.jpg", format="png", width=width)
        with pytest.raises(InvalidRequest):
            ImageRequest(source="a.jpg", format="png", height=width)


# --- formats: what a source keeps, and what stands in for a disabled format --------------

KEEP = [
    ("/anim.apng", "png"),
    ("/photo.avif", "avif"),
    ("/photo.webp", "webp"),
    ("/logo.png", "png"),
    ("/anim.gif", "png"),
    ("/LOGO.PNG", "png"),
    ("/Anim.APNG", "png"),
    ("/photo.AVIF", "avif"),
    ("/photo.jpg", "jpeg"),
    ("/photo.heic", "jpeg"),
    ("/photo", "jpeg"),
    ("/.png", "jpeg"),  # a name that is all extension has none
    ("/dir.png/photo", "jpeg"),  # the last segment's extension only
    ("/a.png.jpg", "jpeg"),
    ("/a.jpg.png", "png"),
]


# Every extension a source key may end with, and the format it names (case aside).
EXTENSIONS = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".apng": "png", ".gif": "gif",
    ".webp": "webp", ".avif": "avif", ".heic": "heic", ".heif": "heif", ".tif": "tiff",
    ".tiff": "tiff", ".bmp": "bmp", ".svg": "svg",
}  # fmt: skip


@pytest.mark.parametrize(("extension", "name"), EXTENSIONS.items())
def test_each_extension_names_its_format(extension: str, name: str) -> None:
    for spelled in (extension, extension.upper()):
        named = formats.from_extension(spelled)
        assert named is not None and named.name == name


@pytest.mark.parametrize(("uri", "fmt"), KEEP)
def test_without_f_a_source_keeps_its_format_where_imgedge_writes_it(uri: str, fmt: str) -> None:
    assert normalize(uri, "s=640x", None, CONFIG).format == fmt


FAMILY = [
    ("/anim.apng", "png"),
    ("/anim.gif", "png"),
    ("/logo.png", "png"),
    ("/photo.avif", "jpeg"),
    ("/photo.webp", "jpeg"),
    ("/photo.jpg", "jpeg"),
]


@pytest.mark.parametrize(("uri", "fmt"), FAMILY)
def test_auto_without_avif_or_webp_falls_back_to_the_sources_family(uri: str, fmt: str) -> None:
    assert normalize(uri, "f=auto", "image/png,*/*", CONFIG).format == fmt
    assert normalize(uri, "f=auto", None, CONFIG).format == fmt


def test_accept_is_read_with_parameters() -> None:
    assert accepted_types("image/webp;q=0.9") == {"image/webp"}
    assert accepted_types("image/webp ; Q=0.9 , image/avif;level=1") == {"image/webp", "image/avif"}
    assert accepted_types("image/avif;q=0, image/webp;q=0.0, image/png;q=x") == set()
    assert accepted_types("image/avif;q=0.001,IMAGE/WEBP") == {"image/avif", "image/webp"}
    assert accepted_types("") == set()
    assert accepted_types(";q=1") == set()


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("image/webp;q=0.9", "webp"),
        ("image/webp;q=0.9,*/*;q=0.8", "webp"),
        ("image/webp ; q=1", "webp"),
        ("image/webp;level=1", "webp"),
        ("image/avif;q=0.5,image/webp;q=1", "avif"),  # any non-zero q names it: avif first
        ("image/avif;q=0,image/webp;q=0.9", "webp"),
        ("image/webp;q=0", "jpeg"),
        ("image/avif;q=0.1", "avif"),
        ("text/html,image/webp;q=0.9", "webp"),
    ],
)
def test_auto_reads_accept_with_parameters(accept: str, fmt: str) -> None:
    assert normalize("/photo.jpg", "f=auto", accept, CONFIG).key == f"full/{fmt}/photo.jpg"


# (enabled formats, source, query, Accept) -> the key's format, or None for a 400
RESTRICTED: list[tuple[tuple[str, ...], str, str, str | None, str | None]] = [
    # only png: every request without f gives png, f=auto too; naming another is refused
    (("png",), "/photo.jpg", "s=256x", None, "png"),
    (("png",), "/photo.webp", "s=256x", None, "png"),
    (("png",), "/photo.avif", "s=256x", None, "png"),
    (("png",), "/photo.jpg", "f=auto", "image/avif,image/webp,*/*", "png"),
    (("png",), "/photo.jpg", "f=auto&q=50", None, "png"),
    (("png",), "/photo.jpg", "f=png", None, "png"),
    (("png",), "/photo.jpg", "f=jpeg", None, None),
    (("png",), "/photo.jpg", "f=webp", None, None),
    (("png",), "/photo.jpg", "f=avif", None, None),
    # only avif: the same, with avif
    (("avif",), "/photo.jpg", "s=256x", None, "avif"),
    (("avif",), "/logo.png", "s=256x", None, "avif"),
    (("avif",), "/photo.webp", "s=256x", None, "avif"),
    (("avif",), "/photo.jpg", "f=auto", "image/webp", "avif"),
    (("avif",), "/logo.png", "f=auto", None, "avif"),
    (("avif",), "/photo.jpg", "f=png", None, None),
    (("avif",), "/photo.jpg", "f=jpg", None, None),
    # the preferred format disabled: the first enabled of jpeg, webp, png, avif
    (("webp", "png"), "/photo.jpg", "s=256x", None, "webp"),
    (("png", "webp"), "/photo.jpg", "s=256x", None, "webp"),
    (("png", "avif"), "/photo.jpg", "s=256x", None, "png"),
    (("avif", "png"), "/photo.jpg", "s=256x", None, "png"),
    (("jpeg", "webp"), "/logo.png", "s=256x", None, "jpeg"),
    (("webp", "jpeg"), "/anim.gif", "s=256x", None, "jpeg"),
    (("webp", "avif"), "/logo.png", "s=256x", None, "webp"),
    (("jpeg", "png"), "/photo.webp", "s=256x", None, "jpeg"),
    (("png", "avif"), "/photo.webp", "s=256x", None, "png"),
    (("webp", "png"), "/photo.avif", "s=256x", None, "webp"),
    (("jpeg", "avif"), "/photo.avif", "s=256x", None, "avif"),
    # f=auto: avif, else webp, only if enabled; else the family, or what stands in for it
    (("jpeg", "webp"), "/photo.jpg", "f=auto", "image/avif,image/webp", "webp"),
    (("jpeg", "png"), "/photo.jpg", "f=auto", "image/avif,image/webp", "jpeg"),
    (("jpeg", "png"), "/logo.png", "f=auto", "image/avif,image/webp", "png"),
    (("webp", "png"), "/photo.jpg", "f=auto", "image/avif", "webp"),
    (("png", "avif"), "/photo.jpg", "f=auto", "image/webp", "png"),
    (("jpeg", "avif"), "/logo.png", "f=auto", "image/webp", "jpeg"),
    (("webp", "avif"), "/logo.png", "f=auto", None, "webp"),
]


@pytest.mark.parametrize(
    ("formats", "uri", "query", "accept", "expected"),
    RESTRICTED,
    ids=[f"{'+'.join(f)}:{u}?{q}:{a}" for f, u, q, a, _ in RESTRICTED],
)
def test_a_configuration_with_some_formats_only(
    formats: tuple[str, ...], uri: str, query: str, accept: str | None, expected: str | None
) -> None:
    config = Config(formats=formats)
    if expected is None:
        with pytest.raises(InvalidRequest) as raised:
            normalize(uri, query, accept, config)
        assert raised.value.status == 400
        return
    request = normalize(uri, query, accept, config)
    assert request.format == expected
    assert ImageRequest.parse(request.key, config) == request
    assert normalize(request.uri, "", accept, config) == request


def test_a_key_in_a_disabled_format_is_no_derivative() -> None:
    png_only = Config(formats=("png",))
    for key in ("256x/jpeg/a.jpg", "256x/webp/a.jpg", "full/avif/a.jpg"):
        assert ImageRequest.parse(key, CONFIG).key == key
        with pytest.raises(InvalidRequest):
            ImageRequest.parse(key, png_only, signed=True)
        assert normalize("/" + key, "", None, png_only).key == "original/" + key
    assert ImageRequest.parse("256x/png/a.jpg", png_only).key == "256x/png/a.jpg"
    with pytest.raises(InvalidRequest):
        ImageRequest.canonical("a.jpg", fmt="webp", config=png_only)


def test_negotiate_alone() -> None:
    assert negotiate("image/avif,image/webp", "a.jpg", CONFIG) == "avif"
    assert negotiate("image/webp", "a.png", CONFIG) == "webp"
    assert negotiate(None, "a.png", CONFIG) == "png"
    assert negotiate(None, "a.jpg", CONFIG) == "jpeg"
    assert negotiate("image/avif", "a.jpg", Config(formats=("webp", "jpeg"))) == "jpeg"


def test_any_allowed_quality_is_spelled_in_a_key() -> None:
    config = Config(qualities=(5, 49, 99), default_quality={"jpeg": 49, "webp": 49, "avif": 49})
    for quality in (5, 99):
        key = f"full-q{quality}/webp/a.jpg"
        assert ImageRequest.parse(key, config).quality == quality
        assert normalize("/a.jpg", f"f=webp&q={quality}", None, config).key == key
    for key in ("full-q05/webp/a.jpg", "full-q49/webp/a.jpg", "full-q50/webp/a.jpg"):
        with pytest.raises(InvalidRequest):
            ImageRequest.parse(key, config)


# --- the value type validates itself, whoever builds it ------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"width": 256},  # the original takes no transform
        {"height": 256},
        {"quality": 80},
        {"fit": "contain"},
        {"format": "gif"},  # not an output format
        {"format": "jpg"},  # an f= spelling, not a format
        {"format": "webp", "fit": "fill"},
        {"format": "webp", "width": 256, "height": 256, "fit": "fill"},
        {"format": "webp", "width": 256, "fit": "contain"},  # fit needs both sides
        {"format": "webp", "height": 256, "fit": "inside"},
        {"format": "webp", "fit": "contain"},
        {"format": "png", "quality": 80},  # png takes no quality
        {"format": "png", "quality": 100},
        {"format": "webp", "quality": 0},
        {"format": "webp", "quality": 101},
        {"format": "webp", "width": 0},
        {"format": "webp", "height": 8193},
    ],
)
def test_a_request_that_the_contract_refuses_cannot_be_built(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest):
        ImageRequest(source="a.jpg", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"fit": "cover"},
        {"format": "webp", "width": 256, "height": 256, "fit": "contain"},
        {"format": "webp", "width": 256, "height": 256, "fit": "inside"},
        {"format": "png", "width": 1, "height": 8192},
        {"format": "webp", "quality": 1},
        {"format": "avif", "quality": 100},
        {"format": "jpeg", "quality": 50},
    ],
)
def test_any_request_the_contract_allows_can_be_built(fields: dict[str, object]) -> None:
    request = ImageRequest(source="a.jpg", **fields)  # type: ignore[arg-type]
    assert request == ImageRequest(source="a.jpg", **fields)  # type: ignore[arg-type]


def test_a_request_is_a_frozen_hashable_value() -> None:
    request = ImageRequest(source="a.jpg", format="webp", width=256)
    assert {request: 1}[ImageRequest(source="a.jpg", format="webp", width=256)] == 1
    with pytest.raises(AttributeError):
        request.width = 512  # type: ignore[misc]


# --- source keys ---------------------------------------------------------------------------


def test_a_source_key_holds_at_most_960_bytes() -> None:
    for source in ("a" * 960, "é" * 480, "a" * 958 + "é"):
        assert ImageRequest(source=source).source == source
        assert normalize("/" + source, "s=64x", None, CONFIG).source == source
    for source in ("a" * 961, "é" * 480 + "a", "a" * 959 + "é"):
        with pytest.raises(InvalidRequest):
            ImageRequest(source=source)
        with pytest.raises(InvalidRequest):
            normalize("/" + source, "s=64x", None, CONFIG)


@pytest.mark.parametrize(
    "text",
    ["a\udc80.jpg", "original/a\udc80.jpg", "256x/webp/a\ud800.jpg", "full/png/\udfff"],
)
def test_text_that_is_no_unicode_is_refused_not_raised(text: str) -> None:
    with pytest.raises(InvalidRequest):
        ImageRequest(source=text)
    with pytest.raises(InvalidRequest):
        ImageRequest.parse(text, CONFIG, signed=True)


@pytest.mark.parametrize(
    "source",
    ["", "/a.jpg", "a.jpg/", "a//b.jpg", "./a.jpg", "a/./b.jpg", "../a.jpg", "a/..", ".", ".."],
)
def test_empty_and_dot_segments_are_refused(source: str) -> None:
    with pytest.raises(InvalidRequest):
        ImageRequest(source=source)


@pytest.mark.parametrize(
    "source", ["a\x00.jpg", "a\x1f.jpg", "a\x7f.jpg", "a\\b.jpg", "a\n.jpg", "\t"]
)
def test_control_characters_and_backslashes_are_refused(source: str) -> None:
    with pytest.raises(InvalidRequest):
        ImageRequest(source=source)


@pytest.mark.parametrize("source", ["a .jpg", "...", "a..b", ".a", "~a", "é"])
def test_other_characters_and_dots_are_part_of_a_name(source: str) -> None:
    assert ImageRequest(source=source).key == "original/" + source


# --- the edge's bounds on what it reads --------------------------------------------------------


def test_a_query_string_holds_at_most_1024_characters() -> None:
    padding = "&utm=" + "x" * (1024 - len("s=256x&utm="))
    query = "s=256x" + padding
    assert len(query) == 1024
    assert normalize("/a.jpg", query, None, CONFIG).key == "256x/jpeg/a.jpg"
    with pytest.raises(InvalidRequest):
        normalize("/a.jpg", query + "x", None, CONFIG)


def test_accept_is_read_up_to_its_64th_media_type() -> None:
    filler = ",".join(["text/plain"] * 63)
    assert normalize("/a.jpg", "f=auto", f"{filler},image/avif", CONFIG).format == "avif"
    assert normalize("/a.jpg", "f=auto", f"{filler},text/html,image/avif", CONFIG).format == "jpeg"


def test_a_preset_must_name_a_transform_and_no_other_preset() -> None:
    config = Config(presets={"loop": "p=thumb", "thumb": "s=256x256&f=webp", "noise": "utm=1"})
    assert normalize("/a.jpg", "p=thumb", None, config).key == "256x256/webp/a.jpg"
    for name in ("loop", "noise", "nope"):
        with pytest.raises(InvalidRequest):
            normalize("/a.jpg", f"p={name}", None, config)
    with pytest.raises(InvalidRequest):
        normalize("/a.jpg", "p=thumb&q=50", None, config)
