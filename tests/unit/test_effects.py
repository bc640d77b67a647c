"""The transforms after the resize, rendered to PNG and compared with what Pillow makes of
the upright original when asked literally, in the test: crop, the turn, blur, sharpen, a
background, a watermark; an EXIF-rotated JPEG, an animated GIF, the smart crop."""

from __future__ import annotations

import hashlib
import io
import random
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageCms, ImageFilter, ImageOps, ImageSequence, ImageStat

from regional_resizer import codecs, derivative, pipeline, resampling, smartcrop, watermark
from regional_resizer.pipeline import render
from regional_resizer.watermark import Overlay
from shared import layout
from shared.config import Config, Watermark
from shared.contract import ImageRequest
from shared.errors import InvalidRequest
from tests.conftest import CORPUS

CONFIG = Config()


def asked(fmt: str = "png", **options: Any) -> ImageRequest:
    return ImageRequest(source="a/b.img", format=fmt, **options)


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def rendered(data: bytes, request: ImageRequest, **options: Any) -> Image.Image:
    image = Image.open(io.BytesIO(render(data, request, CONFIG, **options).body))
    image.load()
    return image


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 7) -> Image.Image:
    """Pixels no two transforms agree on by accident."""
    bands = len(mode)
    generator = random.Random(seed)
    return Image.frombytes(mode, size, generator.randbytes(size[0] * size[1] * bands))


def smooth(size: tuple[int, int] = (120, 80)) -> Image.Image:
    """A picture with structure at every scale (a blur or sharpen changes every pixel)."""
    return noise((size[0] // 8, size[1] // 8)).resize(size, Image.Resampling.BICUBIC)


def largest_difference(a: Image.Image, b: Image.Image) -> int:
    assert a.size == b.size and a.mode == b.mode, (a.size, b.size, a.mode, b.mode)
    bands = ImageChops.difference(a, b).split()
    return max(int(band.getextrema()[1]) for band in bands)  # type: ignore[arg-type]


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """The mean difference over all pixels and bands, in levels."""
    assert a.size == b.size and a.mode == b.mode, (a.size, b.size, a.mode, b.mode)
    means = ImageStat.Stat(ImageChops.difference(a, b)).mean
    return sum(means) / len(means)


def literal_turn(image: Image.Image, rotate: int, flip: str) -> Image.Image:
    """``r`` then ``flip`` as the viewer spelled them, one after the other."""
    turned = image.rotate(-rotate, expand=True)
    if "h" in flip:
        turned = ImageOps.mirror(turned)
    if "v" in flip:
        turned = ImageOps.flip(turned)
    return turned


# --- crop and turn -------------------------------------------------------------------------


def test_a_crop_at_full_size_is_the_crop() -> None:
    source = noise((120, 90))
    out = rendered(png(source), asked(crop=(10, 20, 50, 40)))
    assert largest_difference(out, source.crop((10, 20, 60, 60))) == 0


def test_a_crop_past_the_edge_is_cut_at_the_edge() -> None:
    source = noise((120, 90))
    out = rendered(png(source), asked(crop=(100, 80, 50, 40)))
    assert largest_difference(out, source.crop((100, 80, 120, 90))) == 0


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_crop_outside_the_image_is_a_400(fmt: str) -> None:
    out = io.BytesIO()
    noise((64, 48)).save(out, fmt)
    with pytest.raises(InvalidRequest, match="crop lies outside the image"):
        render(out.getvalue(), asked(crop=(64, 0, 10, 10)), CONFIG)
    with pytest.raises(InvalidRequest):
        render(out.getvalue(), asked(width=16, height=16, crop=(0, 48, 10, 10)), CONFIG)


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
@pytest.mark.parametrize("flip", ["", "h", "v", "hv"])
def test_every_turn_is_pillows_rotation_then_flip(rotate: int, flip: str) -> None:
    source = noise((30, 20))
    request = ImageRequest.canonical("a.png", fmt="png", rotate=rotate, flip=flip, config=CONFIG)
    out = rendered(png(source), request)
    assert largest_difference(out, literal_turn(source, rotate, flip)) == 0


def test_r270_flip_v_is_one_key_with_r90_flip_h_and_the_same_pixels() -> None:
    source = noise((40, 24))
    spelled = ImageRequest.canonical("a.png", fmt="png", rotate=270, flip="v", config=CONFIG)
    other = ImageRequest.canonical("a.png", fmt="png", rotate=90, flip="h", config=CONFIG)
    assert spelled == other and spelled.key == "full-r90-fliph/png/a.png"
    out = rendered(png(source), spelled)
    assert largest_difference(out, literal_turn(source, 270, "v")) == 0
    assert largest_difference(out, literal_turn(source, 90, "h")) == 0


def test_the_size_is_the_turned_outputs() -> None:
    source = noise((400, 300))
    out = rendered(png(source), asked(width=100, height=50, rotate=90))
    assert out.size == (100, 50)
    # the window is 2:1 in the turned output: 1:2 upright, centred, then turned
    window = source.resize((50, 100), Image.Resampling.BICUBIC, box=(125, 0, 275, 300))
    assert largest_difference(out, window.rotate(-90, expand=True)) <= 1


# --- blur and sharpen ----------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.5, 2.0, 10.0])
def test_blur_is_a_gaussian_blur_of_the_output(sigma: float) -> None:
    source = smooth()
    out = rendered(png(source), asked(blur=sigma))
    assert largest_difference(out, source.filter(ImageFilter.GaussianBlur(sigma))) == 0
    assert largest_difference(out, source) > 0


def test_blur_sigma_is_in_output_pixels() -> None:
    source = smooth((240, 160))
    out = rendered(png(source), asked(width=120, blur=2.0))
    resized = rendered(png(source), asked(width=120))
    assert largest_difference(out, resized.filter(ImageFilter.GaussianBlur(2.0))) == 0


def test_blur_with_alpha_is_premultiplied() -> None:
    # Opaque red beside fully transparent green: the green must not bleed into the edge.
    source = Image.new("RGBA", (40, 20), (0, 255, 0, 0))
    source.paste((255, 0, 0, 255), (0, 0, 20, 20))
    out = rendered(png(source), asked(blur=2.0))
    reference = source.convert("RGBa").filter(ImageFilter.GaussianBlur(2.0)).convert("RGBA")
    assert largest_difference(out, reference) <= 1
    r, g, _, a = out.getpixel((21, 10))  # type: ignore[misc]
    assert 0 < a < 255 and g < 10 < r


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_sharpen_is_an_unsharp_mask_of_the_output(sigma: float) -> None:
    source = smooth()
    out = rendered(png(source), asked(sharpen=sigma))
    mask = ImageFilter.UnsharpMask(radius=sigma, percent=100, threshold=0)
    assert largest_difference(out, source.filter(mask)) == 0
    assert largest_difference(out, source) > 0


def test_sharpen_keeps_alpha() -> None:
    source = smooth().convert("RGBA")
    source.putalpha(noise((120, 80), "L"))
    out = rendered(png(source), asked(sharpen=1.0))
    assert largest_difference(out.getchannel("A"), source.getchannel("A")) == 0
    mask = ImageFilter.UnsharpMask(radius=1.0, percent=100, threshold=0)
    colour = source.convert("RGB").filter(mask)
    assert largest_difference(out.convert("RGB"), colour) <= 1


def test_blur_then_sharpen_in_that_order() -> None:
    source = smooth()
    out = rendered(png(source), asked(blur=1.0, sharpen=2.0))
    blurred = source.filter(ImageFilter.GaussianBlur(1.0))
    reference = blurred.filter(ImageFilter.UnsharpMask(2.0, 100, 0))
    assert largest_difference(out, reference) == 0


# --- background ----------------------------------------------------------------------------


def half_transparent(size: tuple[int, int] = (100, 50)) -> Image.Image:
    image = smooth(size).convert("RGBA")
    alpha = Image.linear_gradient("L").resize(size)
    image.putalpha(alpha)
    return image


def on(colour: tuple[int, int, int], image: Image.Image, canvas: tuple[int, int]) -> Image.Image:
    """``image`` flattened and centred on ``colour``, by hand."""
    out = Image.new("RGB", canvas, colour)
    offset = ((canvas[0] - image.width) // 2, (canvas[1] - image.height) // 2)
    out.paste(image.convert("RGB"), offset, mask=image.getchannel("A"))
    return out


def test_contain_pads_and_flattens_on_the_background() -> None:
    source = half_transparent()
    out = rendered(png(source), asked(width=100, height=100, fit="contain", background="ff0000"))
    assert out.mode == "RGB"
    assert largest_difference(out, on((255, 0, 0), source, (100, 100))) == 0


@pytest.mark.parametrize("fmt", ["png", "webp", "avif"])
def test_a_background_leaves_no_alpha_in_any_format(fmt: str) -> None:
    source = half_transparent()
    out = rendered(png(source), asked(fmt, background="0000ff"))
    assert out.mode == "RGB"
    reference = on((0, 0, 255), source, source.size)
    if fmt == "png":
        assert largest_difference(out, reference) == 0
    else:
        assert mean_difference(out, reference) < 4


def test_jpeg_pads_and_flattens_on_a_dark_background() -> None:
    source = half_transparent()
    out = rendered(
        png(source), asked("jpeg", width=100, height=100, fit="contain", background="000000")
    )
    reference = on((0, 0, 0), source, (100, 100))
    padding = out.crop((0, 0, 100, 20))
    assert largest_difference(padding, Image.new("RGB", padding.size, (0, 0, 0))) <= 8
    assert mean_difference(out, reference) < 4


def test_gray_on_a_gray_background_stays_gray() -> None:
    source = half_transparent().convert("LA")
    out = rendered(png(source), asked(width=100, height=100, fit="contain", background="808080"))
    assert out.mode == "L"
    reference = Image.new("L", (100, 100), 128)
    reference.paste(source.convert("L"), (0, 25), mask=source.getchannel("A"))
    assert largest_difference(out, reference) == 0


def test_without_background_padding_stays_transparent() -> None:
    source = half_transparent()
    out = rendered(png(source), asked(width=100, height=100, fit="contain"))
    assert out.mode == "RGBA" and out.getpixel((50, 5)) == (0, 0, 0, 0)


def test_padding_comes_before_the_turn() -> None:
    source = noise((100, 50))
    request = asked(width=100, height=100, fit="contain", rotate=90, background="00ff00")
    out = rendered(png(source), request)
    padded = Image.new("RGB", (100, 100), (0, 255, 0))
    padded.paste(source.resize((100, 50)), (0, 25))
    assert largest_difference(out, padded.rotate(-90, expand=True)) <= 1


# --- watermark -----------------------------------------------------------------------------


def logo(size: tuple[int, int] = (40, 20)) -> Image.Image:
    image = noise(size)
    image.putalpha(Image.linear_gradient("L").rotate(90).resize(size))
    return image.convert("RGBA")


def composite(
    base: Image.Image, overlay: Image.Image, at: tuple[int, int], opacity: float
) -> Image.Image:
    """Porter-Duff "over" by hand, pixel by pixel, on an opaque RGB base."""
    out = base.convert("RGB").copy()
    for y in range(overlay.height):
        for x in range(overlay.width):
            r, g, b, a = overlay.getpixel((x, y))  # type: ignore[misc]
            alpha = round(a * opacity) / 255
            under = out.getpixel((at[0] + x, at[1] + y))
            assert isinstance(under, tuple)
            out.putpixel(
                (at[0] + x, at[1] + y),
                tuple(
                    round(c * alpha + u * (1 - alpha))
                    for c, u in zip((r, g, b), under, strict=True)
                ),
            )
    return out


def test_a_watermark_is_composited_at_its_place() -> None:
    source = smooth((200, 100))
    mark = Watermark(key="brand/logo.png", gravity="se", margin=0.1, scale=0.25, opacity=0.5)
    overlay = Overlay(logo(), mark)
    out = rendered(png(source), asked(watermark="logo"), overlay=overlay)
    # 40 px wide is under a quarter of 200: never enlarged; 10 px (0.1 of 100) from the edges
    reference = composite(source, logo(), (150, 70), 0.5)
    assert out.mode == "RGB"
    assert largest_difference(out, reference) <= 1


@pytest.mark.parametrize(
    ("gravity", "box"),
    [
        ("nw", (10, 10, 60, 35)),
        ("se", (140, 65, 190, 90)),
        ("center", (75, 38, 125, 63)),  # 37.5 rounds half up
        ("e", (140, 38, 190, 63)),
        ("s", (75, 65, 125, 90)),
    ],
)
def test_a_watermark_is_scaled_to_its_share_of_the_width_and_placed(
    gravity: str, box: tuple[int, int, int, int]
) -> None:
    source = Image.new("RGB", (200, 100), (0, 0, 255))
    mark = Watermark(key="k.png", gravity=gravity, margin=0.1, scale=0.25)
    big = Image.new("RGBA", (400, 200), (255, 0, 0, 255))
    out = rendered(png(source), asked(watermark="w"), overlay=Overlay(big, mark))
    assert ImageChops.difference(out, source).getbbox() == box


def test_a_watermark_is_never_taller_than_the_output() -> None:
    mark = Watermark(key="k.png", gravity="nw", margin=0, scale=1.0)
    stamp = watermark.fit(Overlay(Image.new("RGBA", (10, 400)), mark), (200, 100))
    assert stamp.image.size == (3, 100) and stamp.position == (0, 0)


def test_a_watermark_goes_on_the_turned_output_upright() -> None:
    source = Image.new("RGB", (100, 200), (0, 0, 0))
    mark = Watermark(key="k.png", gravity="se", margin=0, scale=1.0)
    overlay = logo().convert("RGB").convert("RGBA")  # opaque: the stamp is the logo itself
    out = rendered(png(source), asked(rotate=90, watermark="w"), overlay=Overlay(overlay, mark))
    assert out.size == (200, 100)
    assert largest_difference(out.crop((160, 80, 200, 100)), overlay.convert("RGB")) == 0


def test_a_watermark_on_transparent_output_is_alpha_composited() -> None:
    source = half_transparent((200, 100))
    mark = Watermark(key="k.png", gravity="nw", margin=0, scale=1.0, opacity=1.0)
    out = rendered(png(source), asked(watermark="w"), overlay=Overlay(logo(), mark))
    layer = Image.new("RGBA", source.size, (0, 0, 0, 0))
    layer.paste(logo(), (0, 0))
    assert out.mode == "RGBA"
    assert largest_difference(out, Image.alpha_composite(source, layer)) == 0


def test_a_watermark_on_gray_stays_gray_only_under_a_gray_overlay() -> None:
    source = smooth((200, 100)).convert("L")
    mark = Watermark(key="k.png", gravity="nw", margin=0, scale=1.0)
    gray = Overlay(logo().convert("LA"), mark)
    assert rendered(png(source), asked(watermark="w"), overlay=gray).mode == "L"
    assert rendered(png(source), asked(watermark="w"), overlay=Overlay(logo(), mark)).mode == "RGB"


def test_a_watermarked_request_needs_its_overlay_and_only_it() -> None:
    data = png(smooth())
    overlay = Overlay(logo(), Watermark(key="k.png"))
    with pytest.raises(ValueError, match="overlay"):
        render(data, asked(watermark="w"), CONFIG)
    with pytest.raises(ValueError, match="overlay"):
        render(data, asked(), CONFIG, overlay=overlay)


def test_an_overlay_is_decoded_upright_and_with_alpha() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    noise((40, 20)).save(out, "JPEG", exif=exif.tobytes())
    overlay = pipeline.decode_overlay(out.getvalue(), CONFIG)
    assert overlay.mode == "RGBA" and overlay.size == (20, 40)
    assert overlay.getchannel("A").getextrema() == (255, 255)
    assert pipeline.decode_overlay(png(logo().convert("LA")), CONFIG).mode == "LA"


# --- the upright frame of an EXIF-rotated JPEG ---------------------------------------------


def upright_srgb(path: str) -> Image.Image:
    """Pillow's own reading of the original: EXIF orientation applied, ICC to sRGB."""
    with Image.open(CORPUS / path) as image:
        profile = image.info["icc_profile"]
        upright = ImageOps.exif_transpose(image)
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    converted = ImageCms.profileToProfile(upright, source, ImageCms.createProfile("sRGB"))
    assert converted is not None
    return converted


ROTATED = (CORPUS / "orient_landscape_6.jpg").read_bytes()  # stored 450x600, upright 600x450


def test_a_crop_names_pixels_of_the_upright_original() -> None:
    upright = upright_srgb("orient_landscape_6.jpg")
    assert upright.size == (600, 450)
    out = rendered(ROTATED, asked(crop=(400, 50, 150, 300)))
    assert largest_difference(out, upright.crop((400, 50, 550, 350))) <= 2


def test_a_focus_names_a_point_of_the_upright_original() -> None:
    upright = upright_srgb("orient_landscape_6.jpg")
    # 800x300 asks more than 600 wide: the largest 8:3 window, 600x225, at scale 1,
    # centred on y = 0.75 * 450 as far as the image allows.
    out = rendered(ROTATED, asked(width=800, height=300, focus=(0.5, 0.75)))
    assert out.size == (600, 225)
    assert largest_difference(out, upright.crop((0, 225, 600, 450))) <= 2
    out = rendered(ROTATED, asked(width=800, height=300, focus=(0.5, 0.45)))
    assert largest_difference(out, upright.crop((0, 90, 600, 315))) <= 2  # 202.5 - 112.5


def test_a_turn_turns_the_upright_original() -> None:
    upright = upright_srgb("orient_landscape_6.jpg")
    request = ImageRequest.canonical(
        "a.jpg", fmt="png", crop=(0, 0, 300, 200), rotate=270, flip="v", config=CONFIG, signed=True
    )
    out = rendered(ROTATED, request)
    assert largest_difference(out, literal_turn(upright.crop((0, 0, 300, 200)), 270, "v")) <= 2


def test_a_crop_leaves_the_jpeg_decoder_room_for_the_sampled_region() -> None:
    out = io.BytesIO()
    smooth((2048, 2048)).save(out, "JPEG", quality=95)
    data = out.getvalue()
    source = codecs.open_image(data, CONFIG)
    # the whole source to 128 is 16x (1/8); its 512 px crop to 128 is 4x (3/8 leaves 1.5x)
    assert resampling.shrink_on_load(source, asked(width=128, crop=(0, 0, 512, 512))) == 8 / 3
    assert resampling.shrink_on_load(codecs.open_image(data, CONFIG), asked(width=128)) == 8
    got = rendered(data, asked(width=128, crop=(512, 1024, 512, 512)))

    def off_by(left: int, top: int) -> float:
        with Image.open(io.BytesIO(data)) as full:
            box = (left, top, left + 512, top + 512)
            return mean_difference(got, full.resize((128, 128), Image.Resampling.LANCZOS, box=box))

    # As close as a 3/8 decode of this detailed picture gets (5 levels here), and in the
    # right place: the same window two pixels off is much further.
    aligned = off_by(512, 1024)
    assert aligned <= 6
    assert all(off_by(512 + dx, 1024 + dy) > 3 * aligned for dx, dy in ((2, 0), (0, 2)))


# --- animation -----------------------------------------------------------------------------


def test_every_frame_of_an_animation_gets_the_same_effects() -> None:
    data = (CORPUS / "animated.gif").read_bytes()
    request = asked(crop=(10, 0, 60, 70), rotate=90, blur=1.0, background="ffff00")
    out = Image.open(io.BytesIO(render(data, request, CONFIG).body))
    with Image.open(io.BytesIO(data)) as gif:
        frames = [frame.convert("RGBA") for frame in ImageSequence.Iterator(gif)]
    expected = []
    for frame in frames:
        step = frame.crop((10, 0, 70, 70))
        step = step.convert("RGBa").filter(ImageFilter.GaussianBlur(1.0)).convert("RGBA")
        flat = Image.new("RGB", step.size, (255, 255, 0))
        flat.paste(step.convert("RGB"), mask=step.getchannel("A"))
        expected.append(flat.rotate(-90, expand=True))
    distinct = [
        f for i, f in enumerate(expected) if i == 0 or f.tobytes() != expected[i - 1].tobytes()
    ]
    got = [frame.convert("RGB") for frame in ImageSequence.Iterator(out)]
    assert len(got) == len(distinct) > 1
    for mine, theirs in zip(got, distinct, strict=True):
        assert mine.size == (70, 60)
        assert largest_difference(mine, theirs) <= 1


# --- where a cover crop goes without a place in the request --------------------------------


THIRDS = Image.new("RGB", (300, 100), (255, 0, 0))
THIRDS.paste((0, 255, 0), (100, 0, 200, 100))
THIRDS.paste((0, 0, 255), (200, 0, 300, 100))


def test_the_stored_focal_point_places_a_plain_cover_crop() -> None:
    data = png(THIRDS)
    left = rendered(data, asked(width=50, height=50), focal_point=(0.1, 0.5))
    assert left.getpixel((25, 25)) == (255, 0, 0)
    right = rendered(data, asked(width=50, height=50), focal_point=(0.9, 0.5))
    assert right.getpixel((25, 25)) == (0, 0, 255)
    # a focus in the request wins (a compass gravity is one: g=e is the focus 1,0.5)
    east = rendered(data, asked(width=50, height=50, focus=(1.0, 0.5)), focal_point=(0.1, 0.5))
    assert east.getpixel((25, 25)) == (0, 0, 255)
    fp = rendered(data, asked(width=50, height=50, focus=(0.5, 0.5)), focal_point=(0.1, 0.5))
    assert fp.getpixel((25, 25)) == (0, 255, 0)


def test_smart_focus_is_asked_once_on_a_small_copy_of_the_region(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked_with: list[tuple[tuple[int, int], str, float]] = []

    def focus(image: Image.Image, aspect: float) -> tuple[float, float]:
        asked_with.append((image.size, image.mode, aspect))
        return 1.0, 0.5  # the right edge of the region

    monkeypatch.setattr(smartcrop, "focus", focus)
    data = (CORPUS / "animated.gif").read_bytes()
    request = asked(width=20, height=40, gravity="smart", crop=(0, 0, 60, 40), rotate=90)
    out = Image.open(io.BytesIO(render(data, request, CONFIG).body))
    assert out.n_frames > 1  # type: ignore[attr-defined]
    assert asked_with == [((60, 40), "RGBA", 40 / 20)]  # the turned window is 2:1 upright
    with Image.open(io.BytesIO(data)) as gif:
        first = gif.convert("RGBA")
    # upright, the window is 2:1: 60x30 of the 60x40 region, as far right as it goes (it
    # spans the width anyway) and centred on y = 20
    expected = first.resize((40, 20), Image.Resampling.BICUBIC, box=(0, 5, 60, 35))
    assert largest_difference(out.convert("RGBA"), expected.rotate(-90, expand=True)) <= 1


def test_smart_focus_sees_at_most_256_pixels_a_side(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[tuple[int, int]] = []

    def focus(image: Image.Image, aspect: float) -> tuple[float, float]:
        sizes.append(image.size)
        return 0.0, 0.0

    monkeypatch.setattr(smartcrop, "focus", focus)
    source = Image.new("RGB", (2000, 1000), (0, 0, 255))
    source.paste((255, 0, 0), (0, 0, 1000, 1000))
    out = rendered(png(source), asked(width=64, height=64, gravity="smart"))
    assert sizes == [(256, 128)]
    assert out.getpixel((32, 32)) == (255, 0, 0)  # the window went to the left edge


def test_smart_crop_finds_the_interest() -> None:
    # A flat gray picture with a detailed patch on its right: the window goes there.
    source = Image.new("RGB", (600, 200), (128, 128, 128))
    source.paste(noise((150, 150)), (430, 25))
    out = rendered(png(source), asked(width=100, height=100, gravity="smart"))
    centred = rendered(png(source), asked(width=100, height=100))
    assert ImageChops.difference(out, Image.new("RGB", out.size, (128,) * 3)).getbbox()
    assert not ImageChops.difference(centred, Image.new("RGB", (100, 100), (128,) * 3)).getbbox()


@pytest.mark.parametrize(
    ("stored", "point"),
    [
        ("0.25,0.75", (0.25, 0.75)),
        (" 0 , 1 ", (0.0, 1.0)),
        ("1,0.5", (1.0, 0.5)),
        ("0.5", None),
        ("0.5,0.5,0.5", None),
        ("1.5,0.5", None),
        ("-0.1,0.5", None),
        ("nan,0.5", None),
        ("inf,0.5", None),
        ("left,top", None),
        ("", None),
    ],
)
def test_a_malformed_stored_focal_point_is_ignored_and_logged(
    stored: str, point: tuple[float, float] | None, caplog: pytest.LogCaptureFixture
) -> None:
    assert derivative.stored_focal_point({"focal-point": stored}, "a.jpg") == point
    logged = [r.getMessage() for r in caplog.records if r.name == "imgedge.resizer"]
    assert bool(logged) == (point is None)
    assert derivative.stored_focal_point({}, "a.jpg") is None
    assert derivative.stored_focal_point({"other": "0.1,0.1"}, "a.jpg") is None


# --- overlay markers -----------------------------------------------------------------------


def test_an_overlay_marker_names_the_derivative_that_carries_the_overlay() -> None:
    request = asked("webp", width=256, watermark="logo")
    marker = layout.overlay_marker_key("brand/logo.png", request)
    assert marker.startswith(layout.INDEX_ROOT)  # the purge may list it
    assert marker.startswith(layout.overlay_prefix("brand/logo.png"))
    assert layout.carrying_key(marker, "brand/logo.png") == request.key
    with pytest.raises(ValueError, match="not an overlay marker"):
        layout.carrying_key(marker, "brand/other.png")
    # no original's own markers are overlay markers, nor the reverse
    assert not layout.overlay_prefix("a.jpg").startswith(layout.index_prefix("a.jpg"))
    assert not marker.startswith(layout.index_prefix("brand/logo.png"))
    digest = hashlib.sha256(b"brand/logo.png").hexdigest()[:32]
    assert layout.overlay_prefix("brand/logo.png") == f"_index/_overlays/{digest}/"
