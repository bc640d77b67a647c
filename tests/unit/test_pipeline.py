"""The image engine on images made here with Pillow: formats, alpha, orientation, colour,
modes, limits and errors. Assertions are on sizes, modes and pixel values."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageChops, ImageCms, ImageOps, ImageStat

from regional_resizer import codecs, colour, pipeline, resampling
from regional_resizer.pipeline import Rendition, render
from regional_resizer.plan import plan
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import CorruptImage, SourceTooLarge, TooManyPixels, UnsupportedImage
from tests.conftest import CORPUS

CONFIG = Config()
FORMATS = ("jpeg", "png", "webp", "avif")
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def request(
    fmt: str = "png",
    width: int | None = None,
    height: int | None = None,
    fit: str = "cover",
    quality: int | None = None,
) -> ImageRequest:
    return ImageRequest(
        source="a/b.img", format=fmt, width=width, height=height, fit=fit, quality=quality
    )


def save(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def decode(rendition: Rendition) -> Image.Image:
    image = Image.open(io.BytesIO(rendition.body))
    image.load()
    return image


def quadrants(size: tuple[int, int] = (200, 100)) -> Image.Image:
    """Red, green / blue, white quadrants: any flip or turn moves them somewhere else."""
    image = Image.new("RGB", size, WHITE)
    w, h = size[0] // 2, size[1] // 2
    image.paste(RED, (0, 0, w, h))
    image.paste(GREEN, (w, 0, size[0], h))
    image.paste(BLUE, (0, h, w, size[1]))
    return image


def colour_at(image: Image.Image, fx: float, fy: float) -> tuple[int, ...]:
    pixel = image.convert("RGB").getpixel((int(image.width * fx), int(image.height * fy)))
    assert isinstance(pixel, tuple)
    return pixel


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 24) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    stat = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB")))
    return sum(stat.mean) / 3


def with_exif_orientation(image: Image.Image, orientation: int, fmt: str) -> bytes:
    if fmt == "TIFF":
        return save(image, fmt, tiffinfo={0x0112: orientation})
    exif = Image.Exif()
    exif[0x0112] = orientation
    params: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {}
    return save(image, fmt, exif=exif.tobytes(), **params)


# --- output formats --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "pil_format", "content_type"),
    [
        ("jpeg", "JPEG", "image/jpeg"),
        ("png", "PNG", "image/png"),
        ("webp", "WEBP", "image/webp"),
        ("avif", "AVIF", "image/avif"),
    ],
)
def test_each_output_format(fmt: str, pil_format: str, content_type: str) -> None:
    source = save(quadrants((400, 200)), "JPEG", quality=95)
    result = render(source, request(fmt, 100, 100, "inside"), CONFIG)
    out = decode(result)
    assert (result.format, result.content_type) == (fmt, content_type)
    assert (result.width, result.height) == out.size == (100, 50)
    assert out.format == pil_format
    assert out.mode == "RGB"
    assert near(colour_at(out, 0.2, 0.2), RED)
    assert near(colour_at(out, 0.8, 0.2), GREEN)
    assert near(colour_at(out, 0.2, 0.8), BLUE)
    assert near(colour_at(out, 0.8, 0.8), WHITE)


def test_full_size_keeps_the_pixels() -> None:
    source = quadrants((64, 32))
    out = decode(render(save(source), request("png"), CONFIG))
    assert out.size == (64, 32)
    assert mean_difference(out, source) == 0


def test_quality_is_applied() -> None:
    source = save(Image.effect_noise((256, 256), 64).convert("RGB"))
    low = render(source, request("jpeg", quality=20), CONFIG)
    high = render(source, request("jpeg", quality=95), CONFIG)
    assert len(low.body) < len(high.body) / 2


def test_jpeg_is_baseline_420() -> None:
    out = decode(render(save(quadrants()), request("jpeg"), CONFIG))
    assert "progressive" not in out.info and "progression" not in out.info
    assert out.layer[0][1:3] == (2, 2) and out.layer[1][1:3] == (1, 1)  # type: ignore[attr-defined]


def test_cover_crops_the_centre() -> None:
    # 300x100: red | green | blue thirds; a square cover keeps the green middle only.
    source = Image.new("RGB", (300, 100), RED)
    source.paste(GREEN, (100, 0, 200, 100))
    source.paste(BLUE, (200, 0, 300, 100))
    out = decode(render(save(source), request("png", 50, 50), CONFIG))
    assert out.size == (50, 50)
    for fx in (0.05, 0.5, 0.95):
        assert near(colour_at(out, fx, 0.5), GREEN, 8)


@pytest.mark.parametrize(("fmt", "fill"), [("jpeg", (255, 255, 255, 255)), ("png", (0, 0, 0, 0))])
def test_contain_pads_white_for_jpeg_and_transparent_otherwise(
    fmt: str, fill: tuple[int, ...]
) -> None:
    out = decode(
        render(save(Image.new("RGB", (200, 100), RED)), request(fmt, 80, 80, "contain"), CONFIG)
    )
    assert out.size == (80, 80)
    rgba = out.convert("RGBA")
    assert near(rgba.getpixel((40, 2)), fill, 2)  # type: ignore[arg-type]
    assert near(rgba.getpixel((40, 77)), fill, 2)  # type: ignore[arg-type]
    assert near(rgba.getpixel((40, 40)), (*RED, 255), 8)  # type: ignore[arg-type]


def test_never_enlarges() -> None:
    out = decode(render(save(quadrants((40, 20))), request("png", 400, 400), CONFIG))
    assert out.size == (20, 20)  # the largest square crop, at scale 1


# --- alpha -----------------------------------------------------------------------------


def half_transparent() -> Image.Image:
    """Left half opaque red, right half fully transparent (black underneath)."""
    image = Image.new("RGBA", (100, 50), (0, 0, 0, 0))
    image.paste((*RED, 255), (0, 0, 50, 50))
    return image


@pytest.mark.parametrize("fmt", ["png", "webp", "avif"])
def test_alpha_is_kept(fmt: str) -> None:
    out = decode(render(save(half_transparent()), request(fmt, 40, 20), CONFIG))
    assert out.mode == "RGBA"
    assert out.getpixel((5, 10))[3] == 255  # type: ignore[index]
    assert out.getpixel((35, 10))[3] <= 2  # type: ignore[index]
    assert near(out.getpixel((5, 10))[:3], RED, 12)  # type: ignore[index]


def test_alpha_is_flattened_on_white_for_jpeg() -> None:
    out = decode(render(save(half_transparent()), request("jpeg", 40, 20), CONFIG))
    assert out.mode == "RGB"
    assert near(colour_at(out, 0.1, 0.5), RED)
    assert near(colour_at(out, 0.9, 0.5), WHITE, 4)  # not black


def test_gray_alpha_flattens_to_gray() -> None:
    source = Image.new("LA", (20, 20), (0, 0))
    source.paste((0, 255), (0, 0, 10, 20))
    png = decode(render(save(source), request("png"), CONFIG))
    jpeg = decode(render(save(source), request("jpeg"), CONFIG))
    webp = decode(render(save(source), request("webp"), CONFIG))
    assert (png.mode, jpeg.mode, webp.mode) == ("LA", "L", "RGBA")
    assert png.getpixel((15, 5)) == (0, 0)
    assert jpeg.getpixel((2, 5)) < 8 and jpeg.getpixel((17, 5)) > 247  # type: ignore[operator]


def test_palette_with_trns_becomes_rgba_before_resampling() -> None:
    source = Image.new("P", (64, 64), 0)
    source.putpalette([*RED, *BLUE] + [0] * 762)
    source.paste(1, (32, 0, 64, 64))
    data = save(source, transparency=1)
    png = decode(render(data, request("png", 16, 16), CONFIG))
    assert png.mode == "RGBA"
    assert near(png.getpixel((2, 8)), (*RED, 255), 4)  # type: ignore[arg-type]
    assert png.getpixel((14, 8))[3] == 0  # type: ignore[index]
    # a resampled (not nearest-neighbour) edge: partial alpha where red meets transparent
    assert any(0 < png.getpixel((x, 8))[3] < 255 for x in range(6, 10))  # type: ignore[index]
    jpeg = decode(render(data, request("jpeg", 16, 16), CONFIG))
    assert near(colour_at(jpeg, 0.9, 0.5), WHITE, 4)


def test_rgb_colour_key_becomes_alpha() -> None:
    source = Image.new("RGB", (20, 10), RED)
    source.paste(BLUE, (10, 0, 20, 10))
    out = decode(render(save(source, transparency=BLUE), request("png"), CONFIG))
    assert out.mode == "RGBA"
    assert out.getpixel((15, 5))[3] == 0 and out.getpixel((5, 5)) == (*RED, 255)  # type: ignore[index]


# --- orientation -----------------------------------------------------------------------


@pytest.mark.parametrize("source_format", ["PNG", "JPEG", "WEBP", "TIFF", "AVIF"])
def test_orientation_6_turns_clockwise(source_format: str) -> None:
    # AVIF stores it as irot/imir boxes, TIFF as a tag that Pillow applies on load.
    data = with_exif_orientation(quadrants((200, 100)), 6, source_format)
    out = decode(render(data, request("png"), CONFIG))
    assert out.size == (100, 200)
    # turned a quarter clockwise: blue top-left, red top-right, white bottom-left, green
    assert near(colour_at(out, 0.25, 0.25), BLUE, 40)
    assert near(colour_at(out, 0.75, 0.25), RED, 40)
    assert near(colour_at(out, 0.25, 0.75), WHITE, 40)
    assert near(colour_at(out, 0.75, 0.75), GREEN, 40)


def test_orientation_6_applies_the_size_to_the_displayed_image() -> None:
    data = with_exif_orientation(quadrants((200, 100)), 6, "JPEG")
    out = decode(render(data, request("png", width=50), CONFIG))
    assert out.size == (50, 100)
    assert near(colour_at(out, 0.75, 0.25), RED)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fit", ["cover", "inside"])
@pytest.mark.parametrize("source_format", ["JPEG", "TIFF"])
def test_every_orientation_matches_exif_transpose(
    orientation: int, fit: str, source_format: str
) -> None:
    # Large enough for JPEG DCT scaling, so the drafted box is checked as well.
    data = with_exif_orientation(quadrants((2400, 1200)), orientation, source_format)
    req = request("png", 150, 100, fit)
    out = decode(render(data, req, CONFIG))
    reference = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    geometry = plan(*reference.size, req)
    reference = reference.resize(geometry.size, Image.Resampling.LANCZOS, box=geometry.box)
    assert out.size == reference.size
    assert mean_difference(out, reference) < 2


@pytest.mark.parametrize(
    ("side", "scale"),
    [
        (128, 8),  # 2048/8 = 256 leaves the kernel 2x
        (200, 4),  # 1/8 would leave 1.28x, 1/4 leaves 2.56x
        (300, 4),  # 6.8x: 1/4 leaves 1.7x
        (350, 4),  # 5.85x: 1/4 leaves 1.46x...
        (380, 2),  # ... but not 1.35x (5.4x), and 3/8 stops at 5.2x: 1/2
        (500, 8 / 3),  # 1/4 would leave 1.02x, 3/8 leaves 1.54x
        (540, 8 / 3),  # 3/8 leaves 1.42x...
        (560, 2),  # ... but not 1.37x: 1/2 leaves 1.83x
        (682, 2),  # 1/2 leaves 1.5x...
        (700, 1),  # ... but not less: decoded in full
    ],
)
def test_jpeg_draft_is_used_and_accurate(side: int, scale: float) -> None:
    data = save(Image.linear_gradient("L").resize((2048, 2048)).convert("RGB"), "JPEG")
    source = codecs.open_image(data, CONFIG)
    assert resampling.shrink_on_load(source, request("png", side, side)) == scale
    assert source.image.size == (round(2048 / scale),) * 2  # libjpeg: ceil(side * M/8)
    out = decode(render(data, request("png", side, side), CONFIG))
    reference = Image.open(io.BytesIO(data)).resize((side, side), Image.Resampling.LANCZOS)
    assert mean_difference(out, reference) < 1


def test_orientation_is_read_before_the_draft() -> None:
    # Stored 2048x1024, displayed 1024x2048: 100 wide is 100x200 upright, a 10x shrink
    # (1/4 leaves the kernel 2.56x); read unturned, it would look like 20x (1/8).
    data = with_exif_orientation(quadrants((2048, 1024)), 6, "JPEG")
    source = codecs.open_image(data, CONFIG)
    assert resampling.shrink_on_load(source, request("png", width=100)) == 4
    assert source.image.size == (512, 256)


def test_no_draft_for_other_formats() -> None:
    source = codecs.open_image(save(quadrants((800, 400)), "PNG"), CONFIG)
    assert resampling.shrink_on_load(source, request("png", 100, 50)) == 1
    assert source.image.size == (800, 400)


@pytest.mark.parametrize(
    ("box", "size", "scale", "kernel", "gap"),
    [
        # the reference: LANCZOS after box-reducing down to 2x...
        ((0, 0, 800, 600), (100, 75), 1, Image.Resampling.LANCZOS, 2.0),
        ((0, 0, 800, 600), (200, 150), 1, Image.Resampling.LANCZOS, 2.0),
        # ... but BICUBIC when no box reduce shares the shrink (under 4x)
        ((0, 0, 800, 600), (201, 151), 1, Image.Resampling.BICUBIC, 2.0),
        ((0, 0, 4032, 3024), (1600, 1200), 1, Image.Resampling.BICUBIC, 2.0),
        # after a DCT shrink: a short last step keeps LANCZOS...
        ((0, 0, 340, 277), (256, 209), 8, Image.Resampling.LANCZOS, 1.3),
        # ... and so does one that a box reduce by 2 brings down to 1.34x
        ((0, 0, 1920, 1080), (720, 405), 2, Image.Resampling.LANCZOS, 1.3),
        # no box reduce after 1/8 (gap 5 for 7.5x), by 2 at most after 1/4 (not 5)
        ((0, 0, 480, 270), (64, 36), 8, Image.Resampling.LANCZOS, 5.0),
        ((0, 0, 960, 540), (64, 36), 4, Image.Resampling.LANCZOS, 6.0),
        # after halving, a 1.5-2.6x step that no whole factor shortens: HAMMING
        ((0, 0, 1362, 1112), (720, 588), 2, Image.Resampling.HAMMING, 1.3),
        # after 3/8, from 1.4x on (sharp's 720x588 task); LANCZOS below
        ((0, 0, 1022, 834), (720, 588), 8 / 3, Image.Resampling.HAMMING, 1.3),
        ((0, 0, 1022, 834), (768, 627), 8 / 3, Image.Resampling.LANCZOS, 1.3),
        # ... but after 1/4 or 1/8, LANCZOS
        ((0, 0, 341, 279), (160, 131), 8, Image.Resampling.LANCZOS, 341 / 160 / 1.5),
    ],
)
def test_resampling_policy(
    box: tuple[float, float, float, float],
    size: tuple[int, int],
    scale: float,
    kernel: Image.Resampling,
    gap: float,
) -> None:
    chosen_kernel, chosen_gap = resampling.choose(box, size, scale)
    assert chosen_kernel == kernel
    assert chosen_gap == pytest.approx(gap)


@pytest.mark.parametrize(
    ("box", "size", "scale", "balanced"),
    [
        # sharp's 720x588 task: 3/8, then 1.42x
        ((0.0, 0.0, 1022.0, 834.0), (720, 588), 8 / 3, Image.Resampling.HAMMING),
        # the phone photo to 1600 wide: no DCT scale, no box reduce
        ((0.0, 0.0, 4032.0, 3024.0), (1600, 1200), 1, Image.Resampling.BICUBIC),
    ],
)
def test_lanczos_resampling_is_lanczos_where_balanced_is_not(
    box: tuple[float, float, float, float],
    size: tuple[int, int],
    scale: float,
    balanced: Image.Resampling,
) -> None:
    assert resampling.choose(box, size, scale)[0] == balanced
    assert resampling.choose(box, size, scale, balanced=False)[0] == Image.Resampling.LANCZOS


def test_lanczos_resampling_is_closer_to_a_full_resolution_lanczos() -> None:
    data = (CORPUS / "large_photo_2725x2225.jpg").read_bytes()
    req = request("png", 720, 588)
    full = Image.open(io.BytesIO(data))
    geometry = plan(*full.size, req)
    wanted = full.resize(geometry.size, Image.Resampling.LANCZOS, box=geometry.box)
    balanced = decode(render(data, req, CONFIG))
    sharper = decode(render(data, req, Config(resampling="lanczos")))
    # measured: 0.96 and 0.40 levels
    assert mean_difference(sharper, wanted) < 0.6 * mean_difference(balanced, wanted)


# --- colour ----------------------------------------------------------------------------


def test_cmyk_without_profile_is_not_inverted() -> None:
    cyan = Image.new("CMYK", (32, 32), (255, 0, 0, 0))
    for fmt in ("jpeg", "png"):
        out = decode(render(save(cyan, "JPEG", quality=95), request(fmt), CONFIG))
        assert out.mode == "RGB"
        assert near(colour_at(out, 0.5, 0.5), (0, 255, 255), 8)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def linear_profile(space: bytes) -> bytes:
    """A minimal ICC v2 display profile with sRGB primaries and a LINEAR tone curve (gamma
    1.0), RGB or GRAY: pixel value 128 in it is sRGB 188."""
    linear = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0100) + b"\0\0"
    d50 = _xyz(0.9642, 1.0, 0.8249)
    tags = [(b"wtpt", d50), (b"kTRC", linear)]
    if space == b"RGB ":
        tags = [(b"wtpt", d50), (b"rTRC", linear), (b"gTRC", linear), (b"bTRC", linear)]
        tags += [(b"rXYZ", _xyz(0.4361, 0.2225, 0.0139)), (b"gXYZ", _xyz(0.3851, 0.7169, 0.0971))]
        tags += [(b"bXYZ", _xyz(0.1431, 0.0606, 0.7141))]
    offset = 128 + 4 + 12 * len(tags)
    table = data = b""
    for signature, body in tags:
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    header = struct.pack(">I4sI", offset + len(data), b"", 0x02100000) + b"mntr" + space
    header += b"XYZ " + b"\0" * 12 + b"acsp" + b"\0" * 28 + d50[8:]
    return header.ljust(128, b"\0") + struct.pack(">I", len(tags)) + table + data


def test_rgb_icc_profile_is_converted_to_srgb() -> None:
    source = Image.new("RGB", (40, 20), (128, 128, 128))
    source.paste((255, 0, 0), (20, 0, 40, 20))
    data = save(source, icc_profile=linear_profile(b"RGB "))
    for fmt in ("png", "jpeg"):
        out = decode(render(data, request(fmt), CONFIG))
        assert out.mode == "RGB"
        assert near(colour_at(out, 0.25, 0.5), (188, 188, 188), 3 if fmt == "png" else 6)
        assert near(colour_at(out, 0.75, 0.5), RED, 3 if fmt == "png" else 12)


@pytest.mark.parametrize(("fmt", "mode"), [("png", "L"), ("jpeg", "L"), ("webp", "RGB")])
def test_gray_icc_profile_is_converted_and_stays_gray(fmt: str, mode: str) -> None:
    data = save(Image.new("L", (16, 16), 128), icc_profile=linear_profile(b"GRAY"))
    out = decode(render(data, request(fmt), CONFIG))
    assert out.mode == mode and "icc_profile" not in out.info
    assert near(colour_at(out, 0.5, 0.5), (188, 188, 188), 3)


@pytest.mark.parametrize(("mode", "space"), [("RGBA", b"RGB "), ("LA", b"GRAY")])
def test_icc_conversion_keeps_alpha(mode: str, space: bytes) -> None:
    source = Image.new(mode, (4, 1), (128,) * len(mode))
    for x, alpha in enumerate((0, 100, 255, 255)):
        source.putpixel((x, 0), (*(128,) * (len(mode) - 1), alpha))
    data = save(source, icc_profile=linear_profile(space))
    out = decode(render(data, request("png"), CONFIG))
    assert out.mode == mode
    assert [p[-1] for p in out.get_flattened_data()] == [0, 100, 255, 255]  # type: ignore[index]
    assert all(near(p[:-1], (188,) * (len(mode) - 1), 2) for p in out.get_flattened_data())  # type: ignore[index]


def test_transforms_are_cached_and_mismatches_ignored() -> None:
    rgb = linear_profile(b"RGB ")
    transform = colour._srgb_transform(rgb, "RGB")
    assert transform is not None
    assert colour._srgb_transform(rgb, "RGB") is transform
    assert colour._srgb_transform(rgb, "L") is None  # an RGB profile on gray pixels


def test_srgb_profiles_are_not_converted() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for mode in ("RGB", "RGBA"):
        assert colour._srgb_transform(srgb, mode) is None  # nothing to do
    assert colour._srgb_transform(linear_profile(b"RGB "), "RGB") is not None
    assert colour._srgb_transform(linear_profile(b"GRAY"), "L") is not None
    source = quadrants()
    out = decode(render(save(source, icc_profile=srgb), request("png"), CONFIG))
    assert mean_difference(out, source) == 0


def test_broken_icc_profile_is_ignored() -> None:
    source = quadrants()
    out = decode(render(save(source, icc_profile=b"\x00" * 200), request("png"), CONFIG))
    assert mean_difference(out, source) == 0


def test_profile_that_does_not_match_the_pixels_is_ignored() -> None:
    gray = Image.linear_gradient("L").resize((64, 64))
    out = decode(render(save(gray, icc_profile=linear_profile(b"RGB ")), request("png"), CONFIG))
    assert out.mode == "L" and mean_difference(out, gray) == 0


# --- modes -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", sorted(codecs.DECODABLE_MODES))
def test_every_decodable_mode_has_a_working_mode(mode: str) -> None:
    working = pipeline.to_working_mode(Image.new(mode, (8, 8)))
    assert working.mode in ("L", "LA", "RGB", "RGBA", "CMYK")


def test_sixteen_bit_gray_is_scaled_not_clipped() -> None:
    source = Image.new("I;16", (4, 1))
    source.putdata([0, 257 * 64, 32768, 65535])
    out = decode(render(save(source), request("png"), CONFIG))
    assert out.mode == "L"
    assert list(out.get_flattened_data()) == [0, 64, 128, 255]


def test_sixteen_bit_gray_with_trns_keeps_transparency() -> None:
    source = Image.new("I;16", (4, 1))
    source.putdata([0, 1000, 65535, 1000])
    out = decode(render(save(source, transparency=1000), request("png"), CONFIG))
    assert out.mode == "LA"
    assert [a for _, a in out.get_flattened_data()] == [255, 0, 255, 0]  # type: ignore[misc]


def test_bilevel_is_resampled_as_gray() -> None:
    source = Image.new("1", (100, 100), 0)
    source.paste(1, (0, 0, 100, 45))  # the edge falls inside an output row
    out = decode(render(save(source), request("png", 10, 10), CONFIG))
    assert out.mode == "L"
    column = [out.getpixel((5, y)) for y in range(10)]
    assert column[1] >= 250 and column[8] <= 5  # type: ignore[operator]
    assert any(20 < v < 235 for v in column)  # type: ignore[operator]  # resampled, not nearest


# --- metadata --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_metadata_in_the_output(fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "Camera maker"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret</x:xmpmeta>'
    data = save(quadrants(), "JPEG", exif=exif.tobytes(), icc_profile=srgb, xmp=xmp, comment=b"hi")
    result = render(data, request(fmt, 50, 50), CONFIG)
    out = decode(result)
    assert not out.getexif()
    for key in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment"):
        assert key not in out.info
    for marker in (b"Exif", b"ICC_PROFILE", b"Camera maker", b"secret", b"iCCP", b"hi\x00"):
        assert marker not in result.body


# --- limits and errors -----------------------------------------------------------------


def png_header_only(width: int, height: int) -> bytes:
    """A PNG header and the start of its pixel data: decoding it fails as truncated."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)[:-4]  # an unfinished stream
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)


def test_header_only_png_is_corrupt_when_within_limits() -> None:
    with pytest.raises(CorruptImage):
        render(png_header_only(100, 100), request(), CONFIG)


def never_decoded(image: object, config: Config) -> Image.Image:
    raise AssertionError("a refusal on the header must come before any pixel is decoded")


def test_pixel_limit_refuses_before_decoding() -> None:
    # Refused as too large, not as truncated: the header was enough.
    with pytest.raises(TooManyPixels):
        render(png_header_only(101, 100), request(), Config(max_source_pixels=10_000))


@pytest.mark.parametrize(
    "side",
    [
        20_000,  # Pillow's own DecompressionBombError zone (> 2x the limit)
        12_000,  # the warning zone (1x..2x): the warning must not leak, it is an error
    ],
)
def test_pillow_bomb_check_agrees_with_the_limit(
    side: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(codecs, "load", never_decoded)  # refused on the header alone
    with pytest.raises(TooManyPixels):
        render(png_header_only(side, 10_000), request(), Config(max_source_pixels=100_000_000))


def test_frame_limits() -> None:
    frames = [Image.new("L", (10, 10), value) for value in range(0, 250, 50)]
    data = save(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert render(data, request(), Config(max_frames=5)).width == 10
    with pytest.raises(TooManyPixels):
        render(data, request(), Config(max_frames=4))
    with pytest.raises(TooManyPixels):
        render(data, request(), Config(max_total_pixels=499))


def test_gif_frame_count_stops_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    data = header + frame * 200_000 + b"\x3b"
    count = codecs._gif_frames
    assert count(data, 10**9) == 200_000
    caps: list[int] = []

    def counting(data: bytes, cap: int) -> int:
        caps.append(cap)
        found = count(data, cap)
        assert found == cap  # it stopped there: the frames after it were never walked
        return found

    monkeypatch.setattr(codecs, "_gif_frames", counting)
    monkeypatch.setattr(codecs, "load", never_decoded)
    with pytest.raises(TooManyPixels):
        render(data, request(), CONFIG)
    assert caps == [CONFIG.max_frames + 1]


def test_gif_of_tiny_data_blocks_is_refused_by_the_walks_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Valid, but its 1-byte sub-blocks would make counting frames cost seconds per 50 MB:
    # the walk's budget of sub-blocks refuses it before the end, and nothing is decoded.
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02" + b"\x01\x00" * 1_000_000
    data = header + frame + b"\x00\x3b"
    monkeypatch.setattr(codecs, "load", never_decoded)
    with pytest.raises(CorruptImage, match="too many blocks"):
        render(data, request(), CONFIG)


def test_tiff_frame_count_stops_at_the_limit() -> None:
    pages = [Image.new("L", (2, 2), 9) for _ in range(40)]
    data = save(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    assert render(data, request(), Config(max_frames=40)).width == 2
    with pytest.raises(TooManyPixels):
        render(data, request(), Config(max_frames=39))


@pytest.mark.parametrize(("fmt", "side"), [("webp", 16_383), ("jpeg", 65_500)])
def test_output_longer_than_the_encoder_takes_is_too_large(fmt: str, side: int) -> None:
    strip = save(Image.new("L", (side + 1, 1), 128))
    with pytest.raises(TooManyPixels):
        render(strip, request(fmt), CONFIG)
    assert render(save(Image.new("L", (side, 1), 128)), request(fmt), CONFIG).width == side


def test_source_byte_limit() -> None:
    with pytest.raises(SourceTooLarge):
        render(save(quadrants()), request(), Config(max_source_bytes=100))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"Hello, this is plain text and certainly not an image.\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"\xff\x0a" + b"\x00" * 100,  # JPEG XL codestream signature
    ],
)
def test_not_an_image_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedImage):
        render(data, request(), CONFIG)


@pytest.mark.parametrize("fmt", FORMATS)
def test_svg_is_unsupported(fmt: str) -> None:
    # Pillow has no SVG reader, and imgedge rasterizes none: SVG originals are served
    # unchanged (with headers that stop scripts), a transform of one is a 415.
    svg = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
        b'<rect width="64" height="64" fill="red"/><script>alert(1)</script></svg>'
    )
    with pytest.raises(UnsupportedImage) as raised:
        render(svg, request(fmt, 32, 32), CONFIG)
    assert raised.value.status == 415


def test_format_outside_the_allow_list_is_unsupported() -> None:
    with pytest.raises(UnsupportedImage):
        render(save(quadrants(), "PPM"), request(), CONFIG)


def test_pixel_mode_outside_the_allow_list_is_unsupported() -> None:
    with pytest.raises(UnsupportedImage):
        render(save(Image.new("F", (4, 4)), "TIFF"), request(), CONFIG)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_truncated_is_corrupt(fmt: str) -> None:
    data = save(Image.effect_noise((200, 200), 80).convert("RGB"), fmt)
    with pytest.raises(CorruptImage):
        render(data[: len(data) // 2], request(), CONFIG)


def test_render_is_for_derivatives_only() -> None:
    with pytest.raises(ValueError):
        render(save(quadrants()), ImageRequest(source="a.png"), CONFIG)
