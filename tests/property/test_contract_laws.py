"""Laws of the contract, for any input hypothesis can think of."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from edge_router.normalize import normalize
from shared.config import DEFAULT_QUALITIES, MAX_DIMENSION, OUTPUT_FORMATS, Config, Watermark
from shared.contract import FITS, ImageRequest, snap_quality, uri_of
from shared.errors import InvalidRequest
from shared.transforms import CENTRE, FLIPS, GRAVITIES, ROTATIONS

CONFIG = Config(
    watermarks={"logo": Watermark(key="brand/logo.png"), "w2": Watermark(key="brand/w2.png")}
)

segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))
source_keys = st.lists(segment, min_size=1, max_size=4).map("/".join)
sides = st.none() | st.integers(min_value=1, max_value=MAX_DIMENSION)


fractions = st.floats(min_value=0, max_value=1)
sigmas = st.none() | st.floats(min_value=0, max_value=100)


@st.composite
def canonical_requests(draw: st.DrawFn, signed: bool = False) -> ImageRequest:
    fmt = draw(st.none() | st.sampled_from(OUTPUT_FORMATS))
    colours = st.sampled_from(CONFIG.background_colours)
    if signed:
        colours = st.text("0123456789abcdef", min_size=6, max_size=6)
    corner = st.integers(min_value=0, max_value=30000)
    crop = st.tuples(corner, corner, st.integers(1, 30000), st.integers(1, 30000))
    kwargs: dict[str, Any] = dict(
        fmt=fmt,
        width=draw(sides),
        height=draw(sides),
        fit=draw(st.sampled_from(FITS)),
        quality=draw(st.none() | st.integers(min_value=1, max_value=100)),
        dpr=draw(st.none() | st.integers(10, 40).map(lambda tenths: tenths / 10)),
        crop=draw(st.none() | crop) if signed and fmt else None,
        gravity=draw(st.none() | st.sampled_from((*GRAVITIES, CENTRE))),
        focus=draw(st.none() | st.tuples(fractions, fractions)),
        rotate=draw(st.sampled_from(ROTATIONS)),
        flip=draw(st.sampled_from(("", *FLIPS))),
        blur=draw(sigmas),
        sharpen=draw(sigmas),
        background=draw(st.none() | colours),
        watermark=draw(st.none() | st.sampled_from(sorted(CONFIG.watermarks))),
    )
    try:
        return ImageRequest.canonical(draw(source_keys), config=CONFIG, signed=signed, **kwargs)
    except InvalidRequest:  # a signed size times dpr past the limit, or a key too long
        assume(False)
        raise


@given(canonical_requests())
def test_parse_inverts_format(request: ImageRequest) -> None:
    assert ImageRequest.parse(request.key, CONFIG) == request


@given(canonical_requests(signed=True))
def test_parse_inverts_format_for_signed_requests(request: ImageRequest) -> None:
    assert ImageRequest.parse(request.key, CONFIG, signed=True) == request
    signed_only = request.crop is not None or (
        request.background not in (None, *CONFIG.background_colours)
    )
    if signed_only:  # an unsigned viewer never reaches these keys through the edge
        with pytest.raises(InvalidRequest):
            ImageRequest.parse(request.key, CONFIG)
        assert normalize(request.uri, "", None, CONFIG).is_original


@given(canonical_requests(signed=True))
def test_canonical_is_a_fixed_point(request: ImageRequest) -> None:
    """Canonicalising a canonical request again changes nothing: no option drifts."""
    if request.is_original:
        return
    again = ImageRequest.canonical(
        request.source, fmt=request.format, width=request.width, height=request.height,
        fit=request.fit, quality=request.quality, crop=request.crop, gravity=request.gravity,
        focus=request.focus, rotate=request.rotate, flip="h" if request.mirror else "",
        blur=request.blur, sharpen=request.sharpen, background=request.background,
        watermark=request.watermark, config=CONFIG, signed=True,
    )  # fmt: skip
    assert again == request


@given(canonical_requests())
def test_uri_is_the_key_percent_encoded(request: ImageRequest) -> None:
    assert request.uri.startswith("/")
    assert unquote(request.uri[1:], errors="strict") == request.key
    assert request.uri.isascii()


@given(canonical_requests())
def test_normalizing_a_canonical_uri_changes_nothing(request: ImageRequest) -> None:
    assert normalize(request.uri, "", None, CONFIG) == request


@given(st.text(max_size=80), st.text(max_size=80), st.none() | st.text(max_size=40))
def test_any_text_gives_a_request_or_invalid_request(
    uri: str, query: str, accept: str | None
) -> None:
    try:
        result = normalize("/" + uri, query, accept, CONFIG)
    except InvalidRequest:
        return
    assert normalize(result.uri, "", accept, CONFIG) == result  # idempotent


@given(st.text(max_size=120))
def test_parse_accepts_only_its_own_output(key: str) -> None:
    try:
        request = ImageRequest.parse(key, CONFIG)
    except InvalidRequest:
        return
    assert request.key == key


params = st.fixed_dictionaries(
    {},
    optional={
        "s": st.sampled_from(["256x256", "100x", "x300", "640x480"]),
        "f": st.sampled_from(["webp", "avif", "jpeg", "jpg", "png"]),
        "q": st.integers(min_value=1, max_value=100).map(str),
        "fit": st.sampled_from(FITS),
        "g": st.sampled_from(["north", "n", "c", "centre", "smart", "SE", "southwest"]),
        "fp": st.sampled_from(["0.3,0.7", "0,1", ".5,.25", "1,0.333"]),
        "dpr": st.sampled_from(["1", "1.5", "2", "3.0", "4"]),
        "r": st.sampled_from(["0", "90", "180", "270"]),
        "flip": st.sampled_from(["h", "v", "hv", "vh"]),
        "blur": st.sampled_from(["0", "0.5", "1.4", "7", "100"]),
        "sharpen": st.sampled_from(["0", "1", "2.5"]),
        "bg": st.sampled_from(["ffffff", "000000", "FFFFFF"]),
        "wm": st.sampled_from(["logo", "w2", "LOGO"]),
    },
)


@given(
    params,
    st.randoms(use_true_random=False),
    st.lists(st.tuples(st.sampled_from(["utm", "v", "x"]), st.text(max_size=5)), max_size=3),
    st.booleans(),
)
def test_spelling_never_makes_a_second_key(
    chosen: dict[str, str], rnd: object, noise: list[tuple[str, str]], shout: bool
) -> None:
    plain = "&".join(f"{k}={v}" for k, v in chosen.items())
    pairs = [*chosen.items(), *chosen.items(), *noise]  # repeats and unknown parameters
    rnd.shuffle(pairs)  # type: ignore[attr-defined]
    spelled = "&".join(
        f"{k.upper() if shout else k}={quote(v.upper() if shout else v)}" for k, v in pairs
    )
    assert normalize("/p/photo.jpg", spelled, None, CONFIG) == normalize(
        "/p/photo.jpg", plain, None, CONFIG
    )


# Quality snaps to the nearest allowed value, a tie to the higher one; the examples are the
# default list's ties, which a seed alone may never draw.
@st.composite
def quality_lists(draw: st.DrawFn) -> tuple[int, ...]:
    return tuple(sorted(draw(st.sets(st.integers(1, 100), min_size=1, max_size=8))))


@given(quality_lists(), st.integers(1, 100))
@example(DEFAULT_QUALITIES, 15)
@example(DEFAULT_QUALITIES, 25)
@example(DEFAULT_QUALITIES, 35)
@example(DEFAULT_QUALITIES, 45)
@example(DEFAULT_QUALITIES, 55)
@example(DEFAULT_QUALITIES, 65)
@example(DEFAULT_QUALITIES, 100)
@example((20, 40), 30)
def test_quality_snaps_to_the_nearest_a_tie_up(qualities: tuple[int, ...], value: int) -> None:
    default = {fmt: qualities[0] for fmt in ("jpeg", "webp", "avif")}
    config = Config(qualities=qualities, default_quality=default)
    snapped = snap_quality(value, config)
    assert snapped in qualities
    for other in qualities:
        assert abs(other - value) > abs(snapped - value) or (
            abs(other - value) == abs(snapped - value) and other <= snapped
        )


# A key spells its numbers without leading zeros: with one, it is no derivative's key (the
# edge then takes the path for an original's).
@given(canonical_requests())
@example(ImageRequest("a.jpg", "webp", 256, 256, "cover", 60))
@example(ImageRequest("a.jpg", "jpeg", None, 256, "cover", 100))
@example(ImageRequest("a.jpg", "avif", 256, None, "cover", 10))
def test_a_leading_zero_makes_no_derivative(request: ImageRequest) -> None:
    head, _, rest = request.key.partition("/")
    for number in re.finditer(r"(?<![.0-9])[0-9]+", "" if request.is_original else head):
        key = f"{head[: number.start()]}0{head[number.start() :]}/{rest}"
        for signed in (False, True):
            with pytest.raises(InvalidRequest):
                ImageRequest.parse(key, CONFIG, signed=signed)
        assert normalize(uri_of(key), "", None, CONFIG).key == "original/" + key
