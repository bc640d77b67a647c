"""Viewer URLs for page builders (shared/urls.py): the URL ``image_url`` writes names, for
every viewer, what the parameters it was given name at the edge; it is a fixed point; and
two spellings of one output are one URL."""

from __future__ import annotations

import doctest
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from edge_router.normalize import normalize
from shared.config import Config, Watermark
from shared.contract import ImageRequest, uri_of
from shared.errors import ImgedgeError, InvalidRequest
from shared.signing import SIGNATURE_PARAM
from shared.urls import CANONICAL_ORDER, canonical_query, image_url, srcset, viewer_path

SECRET = "0123456789abcdef-secret"
CONFIG = Config(
    watermarks={"logo": Watermark(key="brand/logo.png")},
    signing_keys={"k1": SECRET, "k2": SECRET[::-1]},
    presets={"thumb": "s=256x256&f=webp", "hero": "s=1920x&f=auto&q=70"},
)
ACCEPTS = (None, "image/webp,*/*", "image/avif,image/webp,*/*")
"""One viewer for each format f=auto yields: the source's family, webp, avif."""

# --- viewer parameters, spelled well and badly ---------------------------------------------

segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", ".."))
keys = st.sampled_from(
    ["photos/cat.jpg", "a b/ü+~*.png", "logo.gif", "noext", "256x256/webp/cat.jpg",
     "original/cat.jpg"]
) | st.lists(segment, min_size=1, max_size=3).map("/".join)  # fmt: skip


def side(low: int = 1, high: int = 9000) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(str)


sizes = st.one_of(
    st.tuples(side() | st.just(""), side() | st.just("")).filter(any).map("x".join),
    st.sampled_from(["0x5", "x", "12", "abc", " 256X256 ", "256x256x"]),
)
fractions = st.integers(0, 1000).map(lambda n: f"{n / 1000:g}")
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "s": sizes,
    "f": st.sampled_from(["webp", "WEBP", "jpg", "jpeg", "png", "avif", "auto", "Auto", "gif"]),
    "q": st.integers(0, 101) | st.just("high"),
    "fit": st.sampled_from(["cover", "contain", "inside", "Contain", "fill"]),
    "g": st.sampled_from(["center", "centre", "c", "north", "n", "SE", "smart", "up"]),
    "fp": st.tuples(fractions, fractions).map(",".join) | st.sampled_from(["1.5,0", "0.5"]),
    "dpr": st.integers(10, 40).map(lambda t: t / 10) | st.sampled_from([2, "1.25", 5]),
    "r": st.sampled_from([0, 90, 180, 270, 45, "-90"]),
    "flip": st.sampled_from(["h", "v", "hv", "vh", "H", "x"]),
    "blur": st.integers(0, 10000).map(lambda c: c / 100) | st.sampled_from([101, "a"]),
    "sharpen": st.integers(0, 300).map(lambda c: c / 100),
    "bg": st.sampled_from(["ffffff", "000000", "FFFFFF", "123456", "xyz"]),
    "crop": st.sampled_from(["10,20,300,200", "0,0,64,64", "0,0,0,5", "1,2,3"]),
    "wm": st.sampled_from(["logo", "nope", "LOGO"]),
    "p": st.sampled_from(["thumb", "hero", "nope"]),
}


@st.composite
def viewer_params(draw: st.DrawFn, names: tuple[str, ...] = tuple(VALUES)) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=6))
    return {name: draw(VALUES[name]) for name in chosen}


def query_of(params: dict[str, Any]) -> str:
    """How a viewer would write ``params`` by hand: given order, values as given."""
    return "&".join(f"{name}={quote(str(value))}" for name, value in params.items())


def back(url: str, accept: str | None = None) -> ImageRequest:
    parts = urlsplit(url)
    return normalize(parts.path, parts.query, accept, CONFIG)


def outcome(make: Callable[[], Any]) -> Any:
    """What ``make`` returns, or the message of the InvalidRequest it raises."""
    try:
        return make()
    except InvalidRequest as error:
        return ("refused", str(error))


# --- the laws --------------------------------------------------------------------------------


@given(keys, viewer_params())
@example("photos/cat.jpg", {"s": "256x", "dpr": 2, "r": 270, "flip": "v", "f": "jpg"})
@example("photos/cat.jpg", {"s": "300x", "f": "auto", "q": 74, "bg": "ffffff"})
@example("256x256/webp/cat.jpg", {"g": "smart"})
@example("original/cat.jpg", {})
def test_the_url_names_what_the_parameters_name_for_every_viewer(
    key: str, params: dict[str, Any]
) -> None:
    url = outcome(lambda: image_url(key, config=CONFIG, **params))
    for accept in ACCEPTS:
        expected = outcome(partial(normalize, uri_of(key), query_of(params), accept, CONFIG))
        if isinstance(url, tuple):  # refused: with the edge's message
            assert url == expected
            return
        assert back(url, accept) == expected, url


@given(keys, viewer_params())
def test_the_url_is_a_fixed_point(key: str, params: dict[str, Any]) -> None:
    try:
        url = image_url(key, config=CONFIG, **params)
    except InvalidRequest:
        assume(False)
        raise
    parts = urlsplit(url)
    again = image_url(back(url).source, config=CONFIG, **dict(parse_qsl(parts.query)))
    assert again == url
    names = [name for name, _ in parse_qsl(parts.query)]
    assert names == [name for name in CANONICAL_ORDER if name in names]  # one order
    assert parts.query == quote(parts.query, safe="=&,.")  # nothing to escape, in any way


@given(keys, viewer_params(names=("s", "f", "q", "fit", "g", "fp", "dpr", "r", "flip", "bg")))
def test_a_signed_url_verifies_and_its_sig_signs_every_spelling(
    key: str, params: dict[str, Any]
) -> None:
    params = {**params, "crop": "10,20,300,200"} if "s" in params else params
    url = outcome(lambda: image_url(key, config=CONFIG, sign="k2", **params))
    if isinstance(url, tuple):  # refused as the edge refuses it, whatever the sig
        forged = f"{query_of(params)}&sig=k2.{'0' * 32}"
        if url[1].endswith("f other than auto"):
            assert str(params.get("f")).lower() == "auto"
        else:
            assert outcome(lambda: normalize(uri_of(key), forged, None, CONFIG)) == url
        return
    assert url.rpartition("&")[2].startswith(f"{SIGNATURE_PARAM}=k2.")  # sig= last
    request = back(url)
    sig = url.rpartition("=")[2]
    spelled = f"{query_of(params)}&sig={sig}"
    assert normalize(uri_of(key), spelled, None, CONFIG) == request


# --- examples ------------------------------------------------------------------------------


def test_spellings_of_one_output_are_one_url() -> None:
    spellings: list[dict[str, Any]] = [
        {"s": "500x300", "f": "jpg", "r": 180, "flip": "v"},
        {"S": "500X300", "F": "JPEG", "FLIP": "H"},
        {"s": "250x150", "dpr": 2, "f": "jpeg", "flip": "h", "g": "centre", "q": 80},
        {"flip": "h", "s": "510x301", "fit": "cover", "blur": 0, "q": 79},
    ]
    urls = {image_url("photos/cat.jpg", config=CONFIG, **_lower(p)) for p in spellings}
    assert urls == {"/photos/cat.jpg?s=512x320&f=jpeg&flip=h"}


def _lower(params: dict[str, Any]) -> dict[str, Any]:
    return {name.lower(): value for name, value in params.items()}


@pytest.mark.parametrize(
    ("key", "params", "url"),
    [
        ("photos/cat.jpg", {"s": "256x256", "f": "webp", "g": "smart"},
         "/photos/cat.jpg?s=256x256&f=webp&g=smart"),
        ("photos/cat.jpg", {"s": "256x", "dpr": 2, "f": "jpeg", "r": 270, "flip": "v"},
         "/photos/cat.jpg?s=512x&f=jpeg&r=90&flip=h"),
        ("photos/cat.jpg", {"s": "640x", "q": 60}, "/photos/cat.jpg?s=640x&f=jpeg&q=60"),
        ("logo.gif", {"s": "300x300", "fit": "contain", "bg": "000000"},
         "/logo.gif?s=320x320&f=png&fit=contain&bg=000000"),
        ("photos/cat.jpg", {"p": "thumb"}, "/photos/cat.jpg?s=256x256&f=webp"),
        ("photos/cat.jpg", {"p": "hero"}, "/photos/cat.jpg?s=1920x&f=auto&q=70"),
        ("photos/cat.jpg", {"s": "700x", "f": "auto", "q": 81, "bg": "ffffff"},
         "/photos/cat.jpg?s=720x&f=auto&bg=ffffff&q=80"),
        ("photos/cat.jpg", {"f": "avif", "wm": "logo", "sharpen": 0.7},
         "/photos/cat.jpg?f=avif&sharpen=0.5&wm=logo"),
        ("photos/my cat~1.jpg", {}, "/photos/my%20cat%7E1.jpg"),
        ("photos/cat.jpg", {"g": "smart", "dpr": 2}, "/photos/cat.jpg"),
        ("256x256/webp/a.jpg", {}, "/a.jpg?s=256x256&f=webp"),
    ],
)  # fmt: skip
def test_examples(key: str, params: dict[str, Any], url: str) -> None:
    assert image_url(key, config=CONFIG, **params) == url
    assert back(url) == normalize(uri_of(key), query_of(params), None, CONFIG)


def test_an_original_whose_key_reads_as_a_canonical_key_is_named_by_that_key() -> None:
    request = ImageRequest(source="256x256/webp/a.jpg")
    assert viewer_path(request, CONFIG) == "/original/256x256/webp/a.jpg"
    assert back(viewer_path(request, CONFIG)) == request
    assert canonical_query(request) == ""


def test_base_is_the_scheme_and_host() -> None:
    for base in ("https://img.example.com", "https://img.example.com/"):
        url = image_url("a.jpg", base=base, config=CONFIG, s="64x64")
        assert url == "https://img.example.com/a.jpg?s=64x64&f=jpeg"


def test_none_is_an_absent_parameter() -> None:
    assert image_url("a.jpg", config=CONFIG, s="64x", q=None) == "/a.jpg?s=64x&f=jpeg"


def test_a_bad_parameter_has_the_edges_message() -> None:
    with pytest.raises(InvalidRequest, match=r"^invalid request: s must not be zero$"):
        image_url("a.jpg", config=CONFIG, s="0x10")
    with pytest.raises(InvalidRequest, match="crop needs a signed URL"):
        image_url("a.jpg", config=CONFIG, s="10x10", crop="0,0,5,5")


def test_only_viewer_parameters_are_taken() -> None:
    with pytest.raises(TypeError, match="'size' is not a viewer parameter"):
        image_url("a.jpg", config=CONFIG, size="64x")
    with pytest.raises(TypeError, match="'sig' is not a viewer parameter"):
        image_url("a.jpg", config=CONFIG, s="64x", sig="k1.00")


def test_signing_exact_sizes_crops_and_any_bg() -> None:
    url = image_url(
        "photos/cat.jpg", config=CONFIG, sign="k1", s="300x200", dpr=1.5,
        crop="10,20,300,200", bg="123456", f="webp",
    )  # fmt: skip
    assert url.startswith("/photos/cat.jpg?s=450x300&f=webp&crop=10,20,300,200&bg=123456&sig=k1.")
    request = back(url)
    assert (request.width, request.height, request.crop) == (450, 300, (10, 20, 300, 200))
    tampered = url.replace("s=450x300", "s=451x300")
    with pytest.raises(ImgedgeError, match="invalid signature"):
        back(tampered)


def test_a_signature_needs_a_known_key_one_format_and_a_transform() -> None:
    with pytest.raises(LookupError, match=r"no signing key 'k9' \(known: k1, k2\)"):
        image_url("a.jpg", config=CONFIG, sign="k9", s="64x")
    with pytest.raises(InvalidRequest, match="f other than auto"):
        image_url("a.jpg", config=CONFIG, sign="k1", s="64x", f="auto")
    with pytest.raises(InvalidRequest, match="sig signs a transform; there is none"):
        image_url("a.jpg", config=CONFIG, sign="k1")


def test_without_a_config_the_one_load_config_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "imgedge.toml"
    path.write_text("sizes = [100, 200]\n")
    monkeypatch.setenv("IMGEDGE_CONFIG", str(path))
    assert image_url("a.jpg", s="150x") == "/a.jpg?s=200x&f=jpeg"


# --- srcset ----------------------------------------------------------------------------------


def test_srcset_snaps_dedups_and_sorts() -> None:
    value = srcset("photos/cat.jpg", [600, 300, 320, 640, 5000, 8000], config=CONFIG, f="auto")
    assert value == (
        "/photos/cat.jpg?s=320x&f=auto 320w, /photos/cat.jpg?s=640x&f=auto 640w, "
        "/photos/cat.jpg?s=4096x&f=auto 4096w"
    )
    for entry in value.split(", "):
        url, _, width = entry.partition(" ")
        assert image_url("photos/cat.jpg", config=CONFIG, s=f"{width[:-1]}x", f="auto") == url


def test_srcset_describes_what_the_edge_makes() -> None:
    value = srcset("a.jpg", [100, 200], base="https://i.example", config=CONFIG, dpr=2, q=60)
    assert value == (
        "https://i.example/a.jpg?s=256x&f=jpeg&q=60 256w, "
        "https://i.example/a.jpg?s=480x&f=jpeg&q=60 480w"
    )
    with pytest.raises(TypeError, match="not s"):
        srcset("a.jpg", [100], config=CONFIG, s="100x")
    with pytest.raises(InvalidRequest, match="s must not be zero"):
        srcset("a.jpg", [0], config=CONFIG)
    assert srcset("a.jpg", [], config=CONFIG) == ""


# --- docs/page-builders.md -------------------------------------------------------------------


def test_the_examples_of_the_page_builders_guide(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jinja2")
    monkeypatch.delenv("IMGEDGE_CONFIG", raising=False)
    guide = Path(__file__).resolve().parents[2] / "docs" / "page-builders.md"
    failed, attempted = doctest.testfile(
        str(guide), module_relative=False, optionflags=doctest.ELLIPSIS
    )
    assert (failed, attempted > 10) == (0, True)
