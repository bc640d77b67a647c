"""libjpeg's DCT scaling through Pillow's decoder, 3/8 included, and what cannot be scaled."""

from __future__ import annotations

import io
import math
from fractions import Fraction
from functools import cache

import pytest
from PIL import Image, ImageChops, ImageCms, ImageOps, ImageStat

from regional_resizer import codecs, jpeg_scaling, pipeline, resampling
from shared.config import Config
from shared.contract import ImageRequest
from tests.conftest import CORPUS, corpus_rows

CONFIG = Config()
SCALES = (Fraction(8), Fraction(4), Fraction(8, 3), Fraction(2))


def jpeg(size: tuple[int, int], mode: str = "RGB", **params: object) -> bytes:
    """A smooth picture with some edges: gradients under a grid of lines."""
    ramp = Image.linear_gradient("L")
    image = ramp.resize(size)
    if mode != "L":
        across = ramp.transpose(Image.Transpose.ROTATE_90).resize(size)
        image = Image.merge("RGB", (image, across, image.point(lambda v: 255 - v)))
        image = image.convert(mode)
    for x in range(0, size[0], 37):
        image.paste(0, (x, 0, x + 2, size[1]))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **params)
    return out.getvalue()


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    stat = ImageStat.Stat(ImageChops.difference(a, b))
    return sum(stat.mean) / len(stat.mean)


SOURCES = {
    "4:2:0": jpeg((1001, 777)),
    "4:4:4": jpeg((1001, 777), subsampling=0),
    "4:2:2": jpeg((1001, 777), subsampling=1),
    "progressive": jpeg((1001, 777), progressive=True),
    "grey": jpeg((1001, 777), "L"),
    "cmyk": jpeg((1001, 777), "CMYK"),
    "photo": (CORPUS / "large_photo_2725x2225.jpg").read_bytes(),
}


@pytest.mark.parametrize("name", SOURCES)
@pytest.mark.parametrize("factor", SCALES)
def test_every_scale_decodes_the_whole_picture_smaller(name: str, factor: Fraction) -> None:
    data = SOURCES[name]
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    assert jpeg_scaling.decode_at(image, factor) == factor
    size = (math.ceil(width / factor), math.ceil(height / factor))  # libjpeg's rounding
    assert image.size == size
    image.load()
    assert image.size == size
    full = Image.open(io.BytesIO(data))
    # The same picture, aligned, as the full decode shrunk by LANCZOS or a box (the last
    # row and column hold the rounded-up remainder, so they are left out). Off by one
    # pixel, the difference would be 8-14 on the synthetic sources, 3.6-5.5 on the photo.
    crop = (0, 0, size[0] - 1, size[1] - 1)
    box = (0.0, 0.0, crop[2] * float(factor), crop[3] * float(factor))
    kernels = (Image.Resampling.LANCZOS, Image.Resampling.BOX)
    wanted = [full.resize(crop[2:], kernel, box=box) for kernel in kernels]
    limit = 1.5 if name == "photo" else 5
    assert min(mean_difference(image.crop(crop), w) for w in wanted) < limit


def test_three_eighths_is_not_forced_on_a_drafted_image() -> None:
    image = Image.open(io.BytesIO(SOURCES["4:2:0"]))
    image.draft(None, (250, 194))  # Pillow chose 1/4 already: a second draft is refused
    assert jpeg_scaling.decode_at(image, Fraction(8, 3)) == 1
    image.load()
    assert image.size == (251, 195)


def test_only_dct_coded_jpegs_are_scalable() -> None:
    assert jpeg_scaling.scalable(SOURCES["4:2:0"])
    assert jpeg_scaling.scalable(SOURCES["progressive"])
    assert not jpeg_scaling.scalable((CORPUS / "lossless_sof3.jpg").read_bytes())
    assert jpeg_scaling.scalable(b"\xff\xd8")  # nothing to tell: the decoder will say


@pytest.mark.parametrize("width", [16, 32, 64, 128])
def test_a_lossless_jpeg_is_decoded_in_full_and_then_resized(width: int) -> None:
    # libjpeg cannot scale a lossless (SOF3) JPEG; asking it to made a 422 of a good image.
    data = (CORPUS / "lossless_sof3.jpg").read_bytes()
    assert not codecs.open_image(data, CONFIG).dct_scalable
    request = ImageRequest.canonical("l.jpg", fmt="png", width=width, config=CONFIG)
    rendition = pipeline.render(data, request, CONFIG)
    assert (rendition.width, rendition.height) == (width, round(149 * width / 227))


# Shrinks that make ``plan.dct_scale`` pick each scale (the kernel gets 2x, 2.25x, 1.5x, 1.6x).
SHRINK_FOR = {Fraction(8): 16.0, Fraction(4): 9.0, Fraction(8, 3): 4.0, Fraction(2): 3.2}
# Mean difference from the full decode: LANCZOS follows 1/8 and 1/4, HAMMING (softer on
# the synthetic charts' sharp edges) 3/8 and 1/2. Measured at most 3.3 (CMYK, converted
# after the resize) and 5.3; a box
# misplaced by the DCT's rounded-up last block gave 7.3 and 4.1 (orient_landscape_3.jpg).
LIMIT = {Fraction(8): 3.5, Fraction(4): 3.5, Fraction(8, 3): 6.0, Fraction(2): 6.0}
CORPUS_JPEGS = [
    row["file"]
    for row in corpus_rows()
    if row["format"] in ("JPEG", "MPO")
    and not row["file"].startswith(("bad_", "bomb_"))
    and jpeg_scaling.scalable((CORPUS / row["file"]).read_bytes())
]
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@cache
def corpus_reference(name: str) -> Image.Image:
    """Frame 0 decoded in full, upright, in sRGB: with Pillow's high-level API only."""
    with Image.open(CORPUS / name) as opened:
        profile = opened.info.get("icc_profile")
        image = ImageOps.exif_transpose(opened)
    if profile:
        converted = ImageCms.profileToProfile(image, io.BytesIO(profile), SRGB, outputMode="RGB")
        assert converted is not None
        image = converted
    return image.convert("RGB")


def upright_width(name: str) -> int:
    with Image.open(CORPUS / name) as image:
        turned = codecs.exif_orientation(image) in (5, 6, 7, 8)
        return image.height if turned else image.width


# Each JPEG at each scale, as long as the output stays at least 16 pixels wide.
AT_SCALES = [
    (name, factor, round(upright_width(name) / SHRINK_FOR[factor]))
    for name in CORPUS_JPEGS
    for factor in SCALES
    if upright_width(name) / SHRINK_FOR[factor] >= 16
]


@pytest.mark.parametrize(("name", "factor", "width"), AT_SCALES)
def test_corpus_jpegs_at_every_scale_match_a_full_decode(
    name: str, factor: Fraction, width: int
) -> None:
    wanted = corpus_reference(name)
    config = Config(sizes=(width,))
    request = ImageRequest.canonical(name, fmt="png", width=width, config=config)
    source = codecs.open_image((CORPUS / name).read_bytes(), config)
    assert resampling.shrink_on_load(source, request) == pytest.approx(float(factor))
    out = Image.open(
        io.BytesIO(pipeline.render((CORPUS / name).read_bytes(), request, config).body)
    )
    reference = wanted.resize(out.size, Image.Resampling.LANCZOS)
    assert mean_difference(out.convert("RGB"), reference.convert("RGB")) < LIMIT[factor]
