"""Every transform parameter through `imgedge serve`: the edge's key, the resizer's pixels,
the stored derivative, and the 4xx each bad value gets.

The picture is a 400x200 PNG of four coloured quadrants (lossless, so each place in it is
known): red top-left, green top-right, blue bottom-left, yellow bottom-right. The pixel
references of each effect are in tests/unit/test_effects.py; here it is the whole path.
"""

from __future__ import annotations

import io
import json
import signal
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageStat

from shared.signing import signature
from tests.conftest import make_s3_client
from tests.integration.stack_client import (
    Reply,
    Served,
    descendants,
    fetch,
    put_original,
    start_serve,
    wait_gone,
)
from tests.integration.test_purge import eventually, keys

pytestmark = pytest.mark.integration

SECRET = "transforms-secret-0123"
CONFIG = f"""
signing_keys = {{ k1 = "{SECRET}" }}
fallback_image = "_fallback/missing.png"
[watermarks.logo]
key = "brand/logo.png"
gravity = "se"
margin = 0
scale = 0.5
opacity = 1.0
"""
RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)
MAGENTA = (255, 0, 255)


def quadrants() -> bytes:
    image = Image.new("RGB", (400, 200))
    draw = ImageDraw.Draw(image)
    for (left, top), colour in zip(
        ((0, 0), (200, 0), (0, 100), (200, 100)), (RED, GREEN, BLUE, YELLOW), strict=True
    ):
        draw.rectangle((left, top, left + 199, top + 99), fill=colour)
    return png(image)


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("transforms")
    config = root / "imgedge.toml"
    config.write_text(CONFIG, encoding="utf-8")
    served = start_serve(root / "data", "--config", str(config))
    s3 = make_s3_client(served.s3)
    put_original(s3, "q.png", quadrants(), "image/png")
    logo = Image.new("RGBA", (40, 40), (*MAGENTA, 255))
    put_original(s3, "brand/logo.png", png(logo), "image/png")
    stand_in = Image.new("RGB", (300, 300), (*MAGENTA,))
    put_original(s3, "_fallback/missing.png", png(stand_in), "image/png")
    yield served
    children = descendants(served.process.pid)
    assert served.stop(signal.SIGINT) == 0
    assert wait_gone(children) == set()


@pytest.fixture(scope="module")
def s3(stack: Served) -> Any:
    return make_s3_client(stack.s3)


def get(stack: Served, query: str, path: str = "q.png") -> Reply:
    return fetch(f"{stack.edge}/{path}?{query}")


def rendered(stack: Served, query: str) -> Image.Image:
    reply = get(stack, query)
    assert reply.status == 200, reply.body[:300]
    return reply.image().convert("RGB")


def near(pixel: Any, colour: Any, tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def stored(s3: Any, key: str) -> bool:
    try:
        s3.head_object(Bucket="derivatives", Key=key)
    except s3.exceptions.ClientError:
        return False
    return True


def test_each_option_is_stored_under_its_canonical_key(stack: Served, s3: Any) -> None:
    cases = {
        "s=128x128&g=east&f=png": "128x128-fp1,0.5/png/q.png",
        "s=128x128&fp=0.1,0.4&f=png": "128x128-fp0.1,0.4/png/q.png",
        "s=128x128&g=smart&f=png": "128x128-gsmart/png/q.png",
        "s=128x&r=90&f=png": "128x-r90/png/q.png",
        "s=128x&flip=v&f=png": "128x-r180-fliph/png/q.png",
        "s=128x&blur=3&f=png": "128x-blur3/png/q.png",
        "s=128x&sharpen=1&f=png": "128x-sharpen1/png/q.png",
        "s=160x160&fit=contain&bg=000000&f=png": "160x160-contain-bg000000/png/q.png",
        "s=256x&wm=logo&f=png": "256x-wmlogo/png/q.png",
    }
    for query, key in cases.items():
        reply = get(stack, query)
        assert reply.status == 200, (query, reply.body[:300])
        assert reply.headers["Content-Type"] == "image/png"
        # The upload's own purge may come after the first render and take it back.
        eventually(partial(made_and_stored, stack, s3, query, key), key)


def made_and_stored(stack: Served, s3: Any, query: str, key: str) -> bool:
    return get(stack, query).status == 200 and stored(s3, key)


def test_dpr_and_respellings_share_one_cache_entry(stack: Served, s3: Any) -> None:
    spellings = (
        "s=128x&dpr=2&f=webp",
        "s=256x&f=webp",
        "f=webp&s=256x&g=c",
        "s=256x&f=webp&dpr=1&fp=0.2,0.2",
    )
    first = get(stack, spellings[0])
    assert first.status == 200
    assert first.image().size == (256, 128)

    def one_entry() -> bool:
        # Every spelling a hit at once, and one object stored: two keys could not do both.
        replies = [get(stack, spelling) for spelling in spellings]
        hits = all(r.headers["X-Cache"] == "Hit from cloudfront" for r in replies)
        webp = {k for k in keys(s3, "derivatives") if k.endswith("/webp/q.png")}
        return hits and webp == {"256x/webp/q.png"} and len({r.body for r in replies}) == 1

    eventually(one_entry, "one cache entry for every spelling")
    turned = get(stack, "s=64x&f=png&r=270&flip=v")
    assert turned.status == 200

    def one_turn() -> bool:
        hit = get(stack, "s=64x&f=png&r=90&flip=h").headers["X-Cache"] == "Hit from cloudfront"
        small = {k for k in keys(s3, "derivatives") if k.startswith("64x")}
        return hit and small == {"64x-r90-fliph/png/q.png"}

    eventually(one_turn, "r=270&flip=v and r=90&flip=h: one entry")


def test_compass_gravity_and_focal_point_place_the_cover_crop(stack: Served) -> None:
    west = rendered(stack, "s=128x128&g=west&f=png")
    east = rendered(stack, "s=128x128&g=e&f=png")
    centre = rendered(stack, "s=128x128&f=png")
    assert near(west.getpixel((5, 5)), RED) and near(west.getpixel((122, 5)), RED)
    assert near(east.getpixel((5, 5)), GREEN) and near(east.getpixel((122, 122)), YELLOW)
    assert near(centre.getpixel((5, 5)), RED) and near(centre.getpixel((122, 5)), GREEN)
    focused = rendered(stack, "s=128x128&fp=0.9,0.5&f=png")
    assert focused.tobytes() == east.tobytes()  # clamped to the same window


def test_turns_and_mirrors_move_the_quadrants(stack: Served) -> None:
    turned = rendered(stack, "s=128x&r=90&f=png")
    assert turned.size == (128, 256)  # s names the turned output
    # Clockwise: the left column (red over blue) becomes the top row, blue on the left.
    assert near(turned.getpixel((32, 5)), BLUE) and near(turned.getpixel((96, 5)), RED)
    mirrored = rendered(stack, "s=256x&flip=h&f=png")
    assert near(mirrored.getpixel((5, 5)), GREEN) and near(mirrored.getpixel((250, 122)), BLUE)
    upside = rendered(stack, "s=256x&flip=v&f=png")
    assert near(upside.getpixel((5, 5)), BLUE) and near(upside.getpixel((250, 5)), YELLOW)


def test_blur_and_sharpen_change_the_edges_only(stack: Served) -> None:
    plain = rendered(stack, "s=256x&f=png")
    blurred = rendered(stack, "s=256x&blur=5&f=png")
    sharpened = rendered(stack, "s=256x&sharpen=2&f=png")
    assert near(blurred.getpixel((20, 20)), RED)  # far from an edge
    assert not near(blurred.getpixel((127, 32)), plain.getpixel((127, 32)), 30)  # at one
    edge_strip = (118, 0, 138, 128)
    spread = ImageStat.Stat(blurred.crop(edge_strip).convert("L")).stddev[0]
    assert spread < ImageStat.Stat(plain.crop(edge_strip).convert("L")).stddev[0]
    assert sharpened.tobytes() != plain.tobytes()


def test_bg_pads_contain_and_flattens_alpha(stack: Served, s3: Any) -> None:
    padded = rendered(stack, "s=160x160&fit=contain&bg=000000&f=png")
    assert padded.size == (160, 160)
    assert near(padded.getpixel((80, 2)), (0, 0, 0)) and near(padded.getpixel((5, 60)), RED)
    clear = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    put_original(s3, "clear.png", png(clear), "image/png")
    flattened = get(stack, "bg=000000&f=webp", "clear.png")
    assert flattened.status == 200
    assert flattened.image().mode == "RGB"
    assert near(flattened.image().getpixel((25, 25)), (0, 0, 0))


def test_a_signed_crop_cuts_the_upright_original(stack: Served) -> None:
    key = "full-crop150,50,100,100/png/q.png"
    query = f"crop=150,50,100,100&f=png&sig={signature(key, 'k1', SECRET)}"
    cropped = rendered(stack, query)
    assert cropped.size == (100, 100)
    assert near(cropped.getpixel((10, 10)), RED) and near(cropped.getpixel((90, 10)), GREEN)
    assert near(cropped.getpixel((10, 90)), BLUE) and near(cropped.getpixel((90, 90)), YELLOW)
    outside = "full-crop500,0,10,10/png/q.png"
    reply = get(stack, f"crop=500,0,10,10&f=png&sig={signature(outside, 'k1', SECRET)}")
    assert reply.status == 400, reply.body[:200]


def test_a_watermark_is_drawn_in_its_corner(stack: Served) -> None:
    marked = rendered(stack, "s=256x&wm=logo&f=png")
    assert marked.size == (256, 128)
    assert near(marked.getpixel((250, 122)), MAGENTA)  # se, no margin, never enlarged
    assert near(marked.getpixel((5, 5)), RED)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("s=128x128&g=middle", "g must be one of"),
        ("s=128x128&fp=1.5,0", "fp must be X,Y"),
        ("s=128x&dpr=5", "dpr must lie in 1..4"),
        ("s=128x&r=45", "r must be 0, 90, 180 or 270"),
        ("s=128x&flip=d", "flip must be one of"),
        ("s=128x&blur=lots", "blur must be a number"),
        ("s=128x&sharpen=101", "sharpen must be a number"),
        ("s=128x&bg=123456", "bg must be one of ffffff, 000000"),
        ("s=128x&crop=0,0,10,10", "crop needs a signed URL"),
        ("s=128x&wm=other", "unknown watermark (known: logo)"),
    ],
)
def test_each_bad_value_is_a_400_naming_it_and_stores_nothing(
    stack: Served, s3: Any, query: str, named: str
) -> None:
    before = s3.list_objects_v2(Bucket="derivatives").get("KeyCount", 0)
    reply = get(stack, query)
    assert reply.status == 400
    assert named in reply.body.decode()
    assert "max-age=" in reply.headers["Cache-Control"]
    assert s3.list_objects_v2(Bucket="derivatives").get("KeyCount", 0) == before


def test_the_overlay_is_never_written_by_a_request(stack: Served, s3: Any) -> None:
    before = s3.head_object(Bucket="originals", Key="brand/logo.png")["ETag"]
    assert get(stack, "s=320x&wm=logo&f=webp").status == 200
    assert s3.head_object(Bucket="originals", Key="brand/logo.png")["ETag"] == before


def test_an_imgix_url_shares_the_cache_entry_and_object_of_imgedge_s(
    stack: Served, s3: Any
) -> None:
    """A team leaving imgix changes only the host: its URLs reach imgedge's keys."""
    ours, theirs = "s=128x128&f=webp&g=east", "w=128&h=128&fit=crop&crop=right&fm=webp"
    assert get(stack, ours).status == 200

    def shared() -> bool:
        replies = [get(stack, ours), get(stack, theirs)]
        hits = all(r.headers["X-Cache"] == "Hit from cloudfront" for r in replies)
        stored_webp = {k for k in keys(s3, "derivatives") if k.startswith("128x128")}
        return (
            hits
            and "128x128-fp1,0.5/webp/q.png" in stored_webp
            and (replies[0].body == replies[1].body)
        )

    eventually(shared, "one entry for the imgix and the imgedge spelling")
    refused = get(stack, "w=128&sat=20")
    assert refused.status == 400 and "sat" in refused.body.decode()


def test_f_json_describes_the_original_and_is_cached_like_a_derivative(
    stack: Served, s3: Any
) -> None:
    first = get(stack, "f=json")
    assert first.status == 200 and first.headers["Content-Type"] == "application/json"
    described = json.loads(first.body)
    assert (described["width"], described["height"]) == (400, 200)
    assert described["format"] == "png" and described["animated"] is False
    assert described["placeholder"].startswith("data:image/webp;base64,")
    assert described["dominant_colour"] in ("#ff0000", "#00ff00", "#0000ff", "#ffff00")

    def cached() -> bool:
        again = get(stack, "F=JSON&s=256x")  # another spelling: the same description
        return again.headers["X-Cache"] == "Hit from cloudfront" and again.body == first.body

    eventually(cached, "f=json cached")
    assert "full/json/q.png" in keys(s3, "derivatives")


def test_a_missing_or_broken_original_gets_the_fallback_image(stack: Served, s3: Any) -> None:
    put_original(s3, "broken.jpg", b"\xff\xd8\xff not a jpeg at all", "image/jpeg")
    for path in ("nowhere/gone.jpg", "broken.jpg"):
        reply = get(stack, "s=128x&f=webp", path)
        assert reply.status == 404, (path, reply.body[:200])
        assert reply.headers["Content-Type"] == "image/webp"
        assert reply.headers["Cache-Control"] == "public, max-age=60"  # as briefly as an error
        image = reply.image()
        assert image.size == (128, 128)  # the stand-in, at the requested size and format
        assert near(image.convert("RGB").getpixel((64, 64)), MAGENTA)
        assert f"128x/webp/{path}" not in keys(s3, "derivatives")  # never stored
    described = get(stack, "f=json", "nowhere/gone.jpg")  # not an image: no stand-in
    assert described.status == 404 and described.headers["Content-Type"].startswith("text/")
