"""Geometry laws of ``plan``: examples first, then properties over any source and request."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regional_resizer.plan import (
    DCT_ROOM,
    DCT_SCALES,
    DCT_THREE_EIGHTHS_MAX_ROOM,
    Plan,
    dct_scale,
    framed,
    oriented,
    plan,
    region,
    scaled_origin,
)
from shared.config import MAX_DIMENSION, Config
from shared.contract import ImageRequest
from shared.errors import InvalidRequest
from shared.transforms import CENTRE, COMPASS

SIDES = st.integers(min_value=1, max_value=20_000)
WANTED = st.integers(min_value=1, max_value=MAX_DIMENSION)


def request(
    width: int | None = None, height: int | None = None, fit: str = "cover"
) -> ImageRequest:
    return ImageRequest(source="a.jpg", format="webp", width=width, height=height, fit=fit)


@pytest.mark.parametrize(
    ("src", "req", "expected"),
    [
        # no size: the source size, the whole source
        ((600, 450), request(), Plan((0, 0, 600, 450), (600, 450))),
        # one side keeps the aspect
        ((600, 450), request(width=300), Plan((0, 0, 600, 450), (300, 225))),
        ((600, 450), request(height=90), Plan((0, 0, 600, 450), (120, 90))),
        # ... and never enlarges
        ((600, 450), request(width=1200), Plan((0, 0, 600, 450), (600, 450))),
        # inside: the limiting side wins
        ((600, 450), request(300, 300, "inside"), Plan((0, 0, 600, 450), (300, 225))),
        ((450, 600), request(300, 300, "inside"), Plan((0, 0, 450, 600), (225, 300))),
        ((600, 450), request(1000, 1000, "inside"), Plan((0, 0, 600, 450), (600, 450))),
        # cover: centred crop of the requested aspect, then scaled
        ((600, 450), request(300, 300), Plan((75, 0, 525, 450), (300, 300))),
        ((450, 600), request(200, 100), Plan((0, 187.5, 450, 412.5), (200, 100))),
        # cover, source too small: the largest crop of that aspect at scale 1
        ((600, 450), request(1000, 500), Plan((0, 75, 600, 375), (600, 300))),
        ((100, 400), request(300, 300), Plan((0, 150, 100, 250), (100, 100))),
        # contain: scaled like inside, centred on the requested frame
        ((600, 450), request(300, 300, "contain"), Plan((0, 0, 600, 450), (300, 225), (300, 300))),
        # contain, source smaller than the frame: a frame shrunk to the source, same aspect
        ((600, 450), request(1200, 600, "contain"), Plan((0, 0, 600, 450), (600, 450), (900, 450))),
        ((200, 100), request(400, 400, "contain"), Plan((0, 0, 200, 100), (200, 100), (200, 200))),
        # contain with the frame's own aspect: nothing to pad
        ((600, 300), request(400, 200, "contain"), Plan((0, 0, 600, 300), (400, 200))),
        # every side is at least one pixel
        ((10_000, 10), request(width=100), Plan((0, 0, 10_000, 10), (100, 1))),
        ((10, 10_000), request(50, 50, "inside"), Plan((0, 0, 10, 10_000), (1, 50))),
    ],
)
def test_examples(src: tuple[int, int], req: ImageRequest, expected: Plan) -> None:
    assert plan(*src, req) == expected


def test_output_is_the_canvas_when_padding() -> None:
    assert plan(600, 450, request(300, 300, "contain")).output == (300, 300)
    assert plan(600, 450, request(300, 300, "inside")).output == (300, 225)


def test_source_must_have_pixels() -> None:
    with pytest.raises(ValueError):
        plan(0, 10, request(10, 10))
    with pytest.raises(ValueError):
        plan(10, 0, request(10, 10))
    assert plan(1, 1, request(10, 10)) == Plan((0, 0, 1, 1), (1, 1))


def test_a_plan_is_a_frozen_hashable_value() -> None:
    p = plan(600, 450, request(300, 300))
    assert {p: 1}[plan(600, 450, request(300, 300))] == 1
    with pytest.raises(AttributeError):
        p.size = (1, 1)  # type: ignore[misc]


requests = st.one_of(
    st.builds(request),
    st.builds(request, width=WANTED),
    st.builds(request, height=WANTED),
    st.builds(request, WANTED, WANTED, st.sampled_from(["cover", "contain", "inside"])),
)


@given(SIDES, SIDES, requests)
def test_never_enlarges_except_by_padding(src_w: int, src_h: int, req: ImageRequest) -> None:
    p = plan(src_w, src_h, req)
    assert 1 <= p.size[0] <= src_w
    assert 1 <= p.size[1] <= src_h
    left, top, right, bottom = p.box
    assert 0 <= left < right <= src_w
    assert 0 <= top < bottom <= src_h
    # the sampled region is never smaller than the output: a resize only ever shrinks
    assert right - left >= p.size[0] - 0.5
    assert bottom - top >= p.size[1] - 0.5


@given(SIDES, SIDES, requests)
def test_never_larger_than_asked(src_w: int, src_h: int, req: ImageRequest) -> None:
    out_w, out_h = plan(src_w, src_h, req).output
    assert out_w <= (req.width or src_w)
    assert out_h <= (req.height or src_h)


@given(SIDES, SIDES, WANTED, WANTED)
def test_cover_is_exact_when_the_source_is_big_enough(
    src_w: int, src_h: int, width: int, height: int
) -> None:
    p = plan(src_w, src_h, request(width, height, "cover"))
    left, top, right, bottom = p.box
    # the crop has the requested aspect (unless a side is a single pixel) and is centred
    if min(right - left, bottom - top) > 1:
        assert abs((right - left) * height - (bottom - top) * width) <= 1e-6 * width * height
    assert abs(left - (src_w - right)) < 1e-6 and abs(top - (src_h - bottom)) < 1e-6
    if src_w >= width and src_h >= height:
        assert p.size == (width, height)
    else:  # the largest crop of that aspect, at scale 1 (within rounding)
        assert abs(p.size[0] - (right - left)) <= 0.5 and abs(p.size[1] - (bottom - top)) <= 0.5
    assert p.canvas is None


def _aspect_kept(src_w: int, src_h: int, out: tuple[int, int]) -> bool:
    """out_w/out_h == src_w/src_h up to rounding each side by half a pixel (a whole pixel
    when a side was raised to the 1-pixel minimum)."""
    slack = 1.0 if 1 in out else 0.5
    return abs(out[0] * src_h - out[1] * src_w) <= slack * (src_w + src_h)


@given(SIDES, SIDES, st.one_of(st.builds(request, width=WANTED), st.builds(request, height=WANTED)))
def test_one_side_keeps_the_aspect(src_w: int, src_h: int, req: ImageRequest) -> None:
    p = plan(src_w, src_h, req)
    assert p.box == (0, 0, src_w, src_h) and p.canvas is None
    assert _aspect_kept(src_w, src_h, p.size)
    if req.width is not None and req.width <= src_w:
        assert p.size[0] == req.width
    if req.height is not None and req.height <= src_h:
        assert p.size[1] == req.height


@given(SIDES, SIDES, WANTED, WANTED)
def test_inside_keeps_the_aspect_and_fits(src_w: int, src_h: int, width: int, height: int) -> None:
    p = plan(src_w, src_h, request(width, height, "inside"))
    assert p.box == (0, 0, src_w, src_h) and p.canvas is None
    assert p.size[0] <= width and p.size[1] <= height
    assert _aspect_kept(src_w, src_h, p.size)
    # one side touches the frame or the source: no smaller than needed
    assert p.size[0] in (width, src_w) or p.size[1] in (height, src_h)


@given(SIDES, SIDES, WANTED, WANTED)
def test_contain_pads_to_the_requested_aspect(
    src_w: int, src_h: int, width: int, height: int
) -> None:
    p = plan(src_w, src_h, request(width, height, "contain"))
    assert p.size == plan(src_w, src_h, request(width, height, "inside")).size
    canvas = p.output
    assert p.size[0] <= canvas[0] <= width and p.size[1] <= canvas[1] <= height
    if src_w >= width or src_h >= height:
        assert canvas == (width, height)
    else:  # shrunk frame: one side is the image's, the aspect is the frame's
        assert canvas[0] == p.size[0] or canvas[1] == p.size[1]
        assert abs(canvas[0] * height - canvas[1] * width) <= width + height
    if p.canvas is not None:
        assert p.canvas != p.size


@pytest.mark.parametrize(
    ("region", "size", "scale"),
    [
        ((0, 0, 2725, 2225), (720, 588), Fraction(8, 3)),  # 3.78x: 3/8 leaves 1.42x
        ((0, 0, 2725, 2225), (800, 653), 2),  # 3.4x: 3/8 would leave 1.28x
        ((0, 0, 2725, 2225), (256, 209), 8),  # 10.6x: 1/8 leaves 1.33x
        ((0, 0, 2725, 2225), (320, 261), 4),  # 8.5x: 1/8 would leave 1.06x, 1/4 2.13x
        ((0, 0, 3840, 2160), (720, 405), 2),  # 5.33x: 1/4 leaves 1.33x, 3/8 is past 5.2x
        ((0, 0, 4096, 4096), (256, 256), 8),  # 16x: 1/8 leaves 2x
        ((0, 0, 600, 450), (256, 192), 1),  # 2.34x: 1/2 would leave 1.17x
        ((0, 0, 600, 450), (600, 450), 1),
        ((100, 0, 500, 400), (100, 100), Fraction(8, 3)),  # the region counts (4x)
        # the smaller of the two shrinks decides, whichever side it is, wherever the box is
        ((0, 0, 1600, 400), (100, 100), Fraction(8, 3)),
        ((0, 0, 400, 1600), (100, 100), Fraction(8, 3)),
        ((100, 0, 500, 1000), (100, 100), Fraction(8, 3)),
        ((0, 100, 1000, 500), (100, 100), Fraction(8, 3)),
        # the limits themselves: exactly the room a scale needs, exactly 5.2x
        ((0, 0, 300, 300), (100, 100), 2),  # 3x: 1/2 leaves exactly 1.5x
        ((0, 0, 520, 520), (100, 100), 2),  # 5.2x: past 3/8's last shrink
    ],
)
def test_dct_scale_examples(
    region: tuple[float, float, float, float], size: tuple[int, int], scale: int
) -> None:
    assert dct_scale(region, size) == scale


@given(SIDES, SIDES, requests)
def test_dct_scale_leaves_the_kernel_its_room(src_w: int, src_h: int, req: ImageRequest) -> None:
    p = plan(src_w, src_h, req)
    left, top, right, bottom = p.box
    room = min((right - left) / p.size[0], (bottom - top) / p.size[1])
    scale = dct_scale(p.box, p.size)
    if scale > 1:
        assert room / scale >= DCT_ROOM[scale]
    if scale == Fraction(8, 3):
        assert room < DCT_THREE_EIGHTHS_MAX_ROOM
    # no larger scale would have done
    assert all(
        room / larger < DCT_ROOM[larger]
        or (larger == Fraction(8, 3) and room >= DCT_THREE_EIGHTHS_MAX_ROOM)
        for larger in DCT_SCALES
        if larger > scale
    )


@pytest.mark.parametrize(
    ("orientation", "size"), [(1, (4, 3)), (3, (4, 3)), (5, (3, 4)), (8, (3, 4))]
)
def test_orientations_5_to_8_swap_the_sides(orientation: int, size: tuple[int, int]) -> None:
    assert oriented((4, 3), orientation) == size


@pytest.mark.parametrize(
    ("orientation", "origin"),
    [
        (1, (0, 0)),
        (2, (6, 0)),
        (3, (6, 7)),
        (4, (0, 7)),
        (5, (0, 0)),
        (6, (7, 0)),
        (7, (7, 6)),
        (8, (0, 6)),
        (0, (0, 0)),  # no EXIF orientation, or one outside 1..8: upright
        (9, (0, 0)),
    ],
)
def test_a_reversed_side_starts_with_the_dct_padding(
    orientation: int, origin: tuple[float, float]
) -> None:
    # 450x601 decoded at 1/8 is 57x76: 6 and 7 source pixels more than the source.
    assert scaled_origin((450, 601), (57, 76), 8, orientation) == origin


# --- crop, gravity, focus, turn ------------------------------------------------------------


def asked(
    width: int | None = None, height: int | None = None, fit: str = "cover", **options: Any
) -> ImageRequest:
    return ImageRequest(
        source="a.jpg", format="webp", width=width, height=height, fit=fit, **options
    )


@pytest.mark.parametrize(
    ("src", "req", "expected"),
    [
        # a crop is the region every size is taken from
        ((1000, 800), asked(crop=(100, 50, 400, 300)), Plan((100, 50, 500, 350), (400, 300))),
        ((1000, 800), asked(100, crop=(100, 50, 400, 300)), Plan((100, 50, 500, 350), (100, 75))),
        ((1000, 800), asked(200, 200, "inside", crop=(0, 0, 400, 100)),
         Plan((0, 0, 400, 100), (200, 50))),
        ((1000, 800), asked(200, 200, "contain", crop=(0, 0, 400, 100)),
         Plan((0, 0, 400, 100), (200, 50), (200, 200))),
        ((1000, 800), asked(100, 100, crop=(0, 0, 400, 100)), Plan((150, 0, 250, 100), (100, 100))),
        # ... intersected with the source
        ((1000, 800), asked(crop=(900, 700, 400, 300)), Plan((900, 700, 1000, 800), (100, 100))),
        # a compass gravity (a focus on the edge) puts the window at that edge or corner
        ((600, 450), asked(300, 300, focus=COMPASS["w"]), Plan((0, 0, 450, 450), (300, 300))),
        ((600, 450), asked(300, 300, focus=COMPASS["e"]), Plan((150, 0, 600, 450), (300, 300))),
        ((600, 450), asked(300, 300, focus=COMPASS["n"]), Plan((75, 0, 525, 450), (300, 300))),
        ((450, 600), asked(300, 300, focus=COMPASS["n"]), Plan((0, 0, 450, 450), (300, 300))),
        ((450, 600), asked(300, 300, focus=COMPASS["s"]), Plan((0, 150, 450, 600), (300, 300))),
        ((450, 600), asked(300, 300, focus=COMPASS["sw"]), Plan((0, 150, 450, 600), (300, 300))),
        ((600, 450), asked(300, 300, focus=COMPASS["se"]), Plan((150, 0, 600, 450), (300, 300))),
        ((600, 450), asked(300, 300, focus=COMPASS["nw"]), Plan((0, 0, 450, 450), (300, 300))),
        ((1000, 800), asked(100, 100, crop=(100, 0, 400, 200), focus=COMPASS["e"]),
         Plan((300, 0, 500, 200), (100, 100))),
        # a focus centres the window on it, as far as the region allows ...
        ((600, 450), asked(300, 300, focus=(0.6, 0.5)), Plan((135, 0, 585, 450), (300, 300))),
        ((600, 450), asked(300, 300, focus=(0.1, 0.5)), Plan((0, 0, 450, 450), (300, 300))),
        ((600, 450), asked(300, 300, focus=(1.0, 0.0)), Plan((150, 0, 600, 450), (300, 300))),
        # ... in fractions of the whole upright original, not of the crop
        ((1000, 800), asked(100, 100, crop=(100, 0, 400, 200), focus=(0.36, 0.5)),
         Plan((260, 0, 460, 200), (100, 100))),
        # a quarter turn plans the requested sides swapped: s is the turned output's size
        ((600, 450), asked(300, 200, rotate=90), Plan((150, 0, 450, 450), (200, 300))),
        ((600, 450), asked(300, 200, rotate=270, mirror=True),
         Plan((150, 0, 450, 450), (200, 300))),
        ((600, 450), asked(300, 200, rotate=180), Plan((0, 25, 600, 425), (300, 200))),
        ((600, 450), asked(300, rotate=90), Plan((0, 0, 600, 450), (400, 300))),
        ((600, 450), asked(None, 300, rotate=270), Plan((0, 0, 600, 450), (300, 225))),
        ((600, 450), asked(300, 150, "contain", rotate=90),
         Plan((0, 0, 600, 450), (150, 113), (150, 300))),
    ],
)  # fmt: skip
def test_transform_examples(src: tuple[int, int], req: ImageRequest, expected: Plan) -> None:
    assert plan(*src, req) == expected


@pytest.mark.parametrize(
    "crop", [(1000, 0, 10, 10), (0, 800, 10, 10), (2000, 2000, 5, 5), (1000, 800, 1, 1)]
)
def test_a_crop_outside_the_image_is_the_viewers_mistake(crop: tuple[int, int, int, int]) -> None:
    with pytest.raises(InvalidRequest, match="crop lies outside the image"):
        plan(1000, 800, asked(100, 100, crop=crop))
    with pytest.raises(InvalidRequest):
        region(1000, 800, asked(crop=crop))
    assert region(1000, 800, asked(crop=(999, 799, 10, 10))) == (999, 799, 1000, 800)


def test_the_focal_point_places_a_cover_crop_that_names_no_place() -> None:
    corner = (0.0, 0.0)
    assert plan(600, 450, asked(300, 300), corner).box == (0, 0, 450, 450)
    assert plan(600, 450, asked(300, 300, gravity="smart"), (1.0, 1.0)).box == (150, 0, 600, 450)
    assert plan(600, 450, asked(300, 300, gravity="smart")).box == (75, 0, 525, 450)  # none yet
    # a focus in the request (a compass gravity too) wins
    assert plan(600, 450, asked(300, 300, focus=COMPASS["e"]), corner).box == (150, 0, 600, 450)
    assert plan(600, 450, asked(300, 300, focus=(0.6, 0.5)), corner).box == (135, 0, 585, 450)
    # no cover crop: nothing to place
    assert plan(600, 450, asked(300, 300, "inside"), corner).box == (0, 0, 600, 450)


def test_framed_sides_swap_for_a_quarter_turn_only() -> None:
    assert framed(asked(300, 200)) == (300, 200)
    assert framed(asked(300, 200, rotate=180, mirror=True)) == (300, 200)
    assert framed(asked(300, None, rotate=90)) == (None, 300)
    assert framed(asked(300, 200, rotate=270)) == (200, 300)


CROPS = st.tuples(
    st.integers(0, 25_000), st.integers(0, 25_000), st.integers(1, 25_000), st.integers(1, 25_000)
)
GRAVITIES = st.sampled_from([None, "smart"])  # a compass gravity is a focus
COMPASS_POINTS = st.sampled_from(sorted(COMPASS))
FRACTIONS = st.floats(0, 1)
placed = st.builds(
    asked,
    WANTED,
    WANTED,
    crop=st.none() | CROPS,
    gravity=GRAVITIES,
    rotate=st.sampled_from([0, 90, 180, 270]),
) | st.builds(asked, WANTED, WANTED, crop=st.none() | CROPS, focus=st.tuples(FRACTIONS, FRACTIONS))


@given(SIDES, SIDES, placed, st.none() | st.tuples(FRACTIONS, FRACTIONS))
def test_a_cover_window_lies_in_the_region_with_the_turned_aspect(
    src_w: int, src_h: int, req: ImageRequest, focal_point: tuple[float, float] | None
) -> None:
    try:
        area = region(src_w, src_h, req)
    except InvalidRequest:
        return
    p = plan(src_w, src_h, req, focal_point)
    left, top, right, bottom = p.box
    eps = 1e-6 * max(src_w, src_h)
    assert area[0] - eps <= left < right <= area[2] + eps
    assert area[1] - eps <= top < bottom <= area[3] + eps
    width, height = framed(req)
    assert width is not None and height is not None
    if min(right - left, bottom - top) > 1:
        assert abs((right - left) * height - (bottom - top) * width) <= 1e-6 * width * height
    # the window spans the region along one axis at least
    assert right - left >= area[2] - area[0] - eps or bottom - top >= area[3] - area[1] - eps
    assert p.size[0] <= width and p.size[1] <= height
    assert p.size[0] <= area[2] - area[0] + 0.5 and p.size[1] <= area[3] - area[1] + 0.5


@given(SIDES, SIDES, WANTED, WANTED, st.none() | CROPS, st.tuples(FRACTIONS, FRACTIONS))
def test_a_focus_is_the_windows_centre_unless_the_region_stops_it(
    src_w: int,
    src_h: int,
    width: int,
    height: int,
    crop: tuple[int, int, int, int] | None,
    focus: tuple[float, float],
) -> None:
    req = asked(width, height, crop=crop, focus=focus)
    try:
        area = region(src_w, src_h, req)
    except InvalidRequest:
        return
    left, top, right, bottom = plan(src_w, src_h, req).box
    eps = 1e-6 * max(src_w, src_h)
    for low, high, start, end, point in (
        (left, right, area[0], area[2], focus[0] * src_w),
        (top, bottom, area[1], area[3], focus[1] * src_h),
    ):
        centre = (low + high) / 2
        # centred on the point, or pushed against the region's edge on the point's side
        assert (
            abs(centre - point) <= eps
            or (abs(low - start) <= eps and point < centre)
            or (abs(high - end) <= eps and point > centre)
        )


@given(SIDES, SIDES, WANTED, WANTED, COMPASS_POINTS)
def test_a_compass_gravity_puts_the_window_at_its_edges(
    src_w: int, src_h: int, width: int, height: int, gravity: str
) -> None:
    focus = None if gravity == CENTRE else COMPASS[gravity]
    req = ImageRequest.canonical(
        "a.jpg", fmt="webp", width=width, height=height, gravity=gravity, config=Config(),
        signed=True,
    )  # fmt: skip
    assert req.focus == focus
    try:
        area = region(src_w, src_h, req)
    except InvalidRequest:
        return
    left, top, right, bottom = plan(src_w, src_h, req).box
    ax, ay = COMPASS[gravity]
    eps = 1e-6 * max(src_w, src_h)
    for low, high, start, end, anchor in (
        (left, right, area[0], area[2], ax),
        (top, bottom, area[1], area[3], ay),
    ):
        slack = (end - start) - (high - low)
        assert abs(low - (start + slack * anchor)) <= eps


@given(SIDES, SIDES, placed)
def test_dct_scale_leaves_room_for_the_sampled_region(
    src_w: int, src_h: int, req: ImageRequest
) -> None:
    try:
        p = plan(src_w, src_h, req)
    except InvalidRequest:
        return
    left, top, right, bottom = p.box
    scale = dct_scale(p.box, p.size)
    if scale > 1:
        assert (
            min((right - left) / p.size[0], (bottom - top) / p.size[1]) / scale >= DCT_ROOM[scale]
        )
