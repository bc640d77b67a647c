"""bench.smartcrop's own parts, without sharp: windows, IoU, sharp's offsets brought back
to the original, the summary, and the generated pictures with their known subjects."""

from __future__ import annotations

import hashlib
import random
from functools import cache
from typing import Any

import pytest
from PIL import Image

from bench import smartcrop as bench
from regional_resizer.pipeline import SMART_SIDE
from regional_resizer.smartcrop import focus


@cache
def pictures() -> tuple[bench.Generated, ...]:
    return tuple(bench.generated())


def test_window_is_the_largest_of_the_aspect_centred_and_kept_inside() -> None:
    cases = [
        ((1600, 1000), (480, 480), (0.5, 0.5), (300, 0, 1300, 1000)),
        ((1600, 1000), (480, 480), (0.9, 0.1), (600, 0, 1600, 1000)),
        ((1600, 1000), (480, 480), (0.0, 1.0), (0, 0, 1000, 1000)),
        ((1600, 1000), (720, 1280), (0.25, 0.5), (118.75, 0, 681.25, 1000)),
        ((1000, 1600), (1280, 720), (0.5, 0.75), (0, 918.75, 1000, 1481.25)),
        ((1000, 600), (1000, 600), (0.1, 0.9), (0, 0, 1000, 600)),
    ]
    for size, crop, centre, expected in cases:
        assert bench.window(size, crop, centre) == pytest.approx(expected)


def test_iou() -> None:
    a = (0.0, 0.0, 10.0, 10.0)
    assert bench.iou(a, a) == 1
    assert bench.iou(a, (10.0, 0.0, 20.0, 10.0)) == 0
    assert bench.iou(a, (5.0, 0.0, 15.0, 10.0)) == pytest.approx(1 / 3)
    assert bench.iou(a, (0.0, 0.0, 5.0, 10.0)) == pytest.approx(1 / 2)
    assert bench.iou(a, (2.0, 2.0, 4.0, 4.0)) == pytest.approx(4 / 100)
    assert bench.iou((0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)) == 0


def test_holds() -> None:
    outer = (100.0, 0.0, 400.0, 300.0)
    assert bench.holds(outer, (100.0, 0.0, 400.0, 300.0))
    assert bench.holds(outer, (150.0, 50.0, 200.0, 100.0))
    assert not bench.holds(outer, (99.0, 50.0, 200.0, 100.0))
    assert not bench.holds(outer, (150.0, 50.0, 401.0, 100.0))
    assert not bench.holds(outer, (150.0, -1.0, 200.0, 100.0))


def test_sharp_offsets_are_scaled_back_to_the_original() -> None:
    # 2725x2225 covering 480x480 is 588x480 (scale 480/2225): 108 px in is 500.9 px.
    box = bench.from_sharp((2725, 2225), (480, 480), 108, 0)
    assert box == pytest.approx((108 * 2225 / 480, 0, 588 * 2225 / 480, 2225))
    # 3024x4032 covering 1280x720 is 1280x1707 (scale 1280/3024).
    box = bench.from_sharp((3024, 4032), (1280, 720), 0, 987)
    assert box == pytest.approx((0, 987 * 3024 / 1280, 3024, (987 + 720) * 3024 / 1280))


def test_the_summary() -> None:
    rows: list[dict[str, Any]] = [
        {"iou": 1.0, "subject_kept": None},
        {"iou": 0.5, "subject_kept": None},
        {"iou": 0.0, "subject_kept": True},
        {"iou": 0.0, "subject_kept": False},
        {"iou": 0.2, "subject_kept": True},
    ]
    assert bench.summarise(rows, 1.04) == {
        "mean_iou": 0.75,
        "subjects_kept": 2,
        "subjects": 3,
        "time_ratio": 1.04,
    }


def test_the_crops_run_across_the_orientation() -> None:
    landscape = bench.Picture("l", bench.CORPUS, (1600, 1000))
    portrait = bench.Picture("p", bench.CORPUS, (1000, 1600))
    assert landscape.crops() == (bench.SQUARE, bench.TALL)
    assert portrait.crops() == (bench.SQUARE, bench.WIDE)


def test_the_photos_are_in_the_corpus() -> None:
    for name in bench.PHOTOS:
        assert (bench.CORPUS / name).is_file(), name


def test_generated_pictures_are_the_same_every_run() -> None:
    """From their own seeded generator: not from the global one, not from the clock."""
    pictures()
    random.seed(12345)
    again = bench.generated()
    assert [p.name for p in again] == [p.name for p in pictures()]
    for first, second in zip(pictures(), again, strict=True):
        assert first.subject == second.subject
        assert (
            hashlib.sha256(first.image.tobytes()).digest()
            == hashlib.sha256(second.image.tobytes()).digest()
        )


def test_generated_pictures_cover_each_kind_and_place() -> None:
    names = [p.name for p in pictures()]
    assert len(names) == len(set(names)) == 2 * (3 * 2 * 2 + 1)
    for orientation in ("landscape", "portrait"):
        for kind in bench.SUBJECT_KINDS:
            for background in bench.BACKGROUNDS:
                for end in (20, 80):
                    assert f"{orientation}-{kind}-{background}-{end}" in names
        assert f"{orientation}-texture-transparent" in names


@pytest.mark.parametrize("index", range(26))
def test_the_subject_is_where_it_says_and_off_centre(index: int) -> None:
    """The box holds the subject (it differs from the background there, and not just
    outside it), lies inside the picture, and a centred crop of either shape would
    cut it: there is something to choose."""
    item = pictures()[index]
    image, subject = item.image, item.subject
    width, height = image.size
    left, top, right, bottom = (round(v) for v in subject)
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    middle = image.getpixel(((left + right) // 2, (top + bottom) // 2))
    outside = image.getpixel((left - 3 if left > 3 else right + 3, (top + bottom) // 2))
    assert middle != outside
    picture = bench.Picture(item.name, bench.CORPUS, image.size, subject)
    for crop in picture.crops():
        assert not bench.holds(bench.window(image.size, crop, (0.5, 0.5)), subject)
    if item.name.endswith("transparent"):
        assert image.mode == "RGBA"
        alpha = image.getchannel("A")
        assert alpha.getpixel(((left + right) // 2, (top + bottom) // 2)) == 255
        assert alpha.getpixel((left - 3 if left > 3 else right + 3, (top + bottom) // 2)) == 0


@pytest.mark.parametrize("index", [0, 7, 12, 17, 25])
def test_focus_keeps_the_subject_of_a_generated_picture(index: int) -> None:
    """The bench's measure, on a few pictures shrunk as the pipeline shrinks them."""
    item = pictures()[index]
    small = item.image.copy()
    small.thumbnail((SMART_SIDE, SMART_SIDE), Image.Resampling.BOX)
    picture = bench.Picture(item.name, bench.CORPUS, item.image.size, item.subject)
    for crop in picture.crops():
        point = focus(small, crop[0] / crop[1])
        assert bench.holds(bench.window(item.image.size, crop, point), item.subject)
