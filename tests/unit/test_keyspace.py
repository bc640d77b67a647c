"""The bound on the key space: counted by hand, and by asking the edge for every spelling."""

from __future__ import annotations

import itertools

from edge_router.normalize import normalize
from shared.config import Config, Watermark
from shared.keyspace import unsigned_variants

TINY = Config(
    sizes=(16,),
    qualities=(50, 80),
    formats=("jpeg", "png"),
    default_quality={"jpeg": 80, "webp": 80, "avif": 80},
    focal_point_grid=0.5,
    blur_sigmas=(1.0,),
    sharpen_sigmas=(2.0,),
    background_colours=("ffffff", "000000"),
    watermarks={"mark": Watermark(key="m.png")},
)


def test_every_unsigned_spelling_reaches_exactly_the_counted_keys() -> None:
    grid = ("0", "0.5", "1")
    placements: list[dict[str, str]] = [{}, {"g": "smart"}, {"g": "ne"}, {"g": "c"}] + [
        {"fp": f"{x},{y}"} for x, y in itertools.product(grid, grid)
    ]
    options: dict[str, list[str | None]] = {
        "s": [None, "16x", "x16", "9x9"],
        "fit": [None, "contain", "inside"],
        "f": ["jpeg", "png", "json"],
        "q": [None, "50"],
        "r": [None, "90", "180", "270"],
        "flip": [None, "v"],
        "blur": [None, "1"],
        "sharpen": [None, "2"],
        "bg": [None, "ffffff", "000000"],
        "wm": [None, "mark"],
    }
    keys = {"original/a.jpg"}
    names = list(options)
    for values in itertools.product(*options.values()):
        chosen = {n: v for n, v in zip(names, values, strict=True) if v is not None}
        for placement in placements if "s" in chosen else [{}]:
            query = "&".join(f"{n}={v}" for n, v in {**chosen, **placement}.items())
            keys.add(normalize("/a.jpg", query, None, TINY).key)
    assert len(keys) == unsigned_variants(TINY)


def test_the_default_configuration_count_is_the_one_the_docs_state() -> None:
    # README.md and docs/contract.md state this number; change them with it.
    assert unsigned_variants(Config()) == 11_715_777_538


def test_each_allow_list_is_a_lever() -> None:
    base = unsigned_variants(Config())
    assert unsigned_variants(Config(blur_sigmas=(1.0,))) < base
    off = Config(blur_sigmas=(), sharpen_sigmas=(), background_colours=())
    # Effects 8 x 4 become 1; bg colours per format (3 each, 2 for jpeg: 107 in all) 1 each.
    assert unsigned_variants(off) == 2 + (base - 2) // (8 * 4) * 40 // 107
    assert unsigned_variants(Config(background_colours=("ffffff",))) < base
    assert unsigned_variants(Config(focal_point_grid=0.1)) < base
    assert unsigned_variants(Config(watermarks={"m": Watermark(key="m.png")})) == 2 * base - 2
