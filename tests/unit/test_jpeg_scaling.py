"""libjpeg's DCT scaling through Pillow's decoder, 3/8 included, and what cannot be scaled."""

from __future__ import annotations

import io
import math
from fractions import Fraction

import pytest
from PIL import Image, ImageChops, ImageStat

from regional_resizer import codecs, jpeg_scaling, pipeline
from shared.config import Config
from shared.contract import ImageRequest
from tests.conftest import CORPUS

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
