"""Every image of the shared corpus, through ``render``, in every output format.

Decodable rows must give the oriented size, the right mode and alpha, and pixels close to
a reference made independently with Pillow's high-level API (``exif_transpose``,
``ImageCms.profileToProfile``, ``convert``, ``resize``). Hostile rows must raise the one
expected ``ImgedgeError`` with a 4xx status; bombs must be refused from the header, which a
subprocess shows by time and peak memory.

Decisions documented here:
- ``bad_crc_idat.png`` is accepted, as Pillow accepts it: Pillow does not check IDAT CRCs;
  the output is the same as that of the intact ``rgba_transparency.png``.
- ``bad_broken_frame.gif``: frame 0 is intact, a later one is not: every output is frame 0
  alone (``regional_resizer.animation``).
- Animated GIF, APNG, WebP and AVIF keep every frame (and their durations) in webp and png
  (APNG) output; jpeg and avif output is the first frame. An APNG's default image that is
  not part of its animation is the still, not a frame.
- HEIC decodes when pillow-heif is installed, else it is ``UnsupportedImage``.
- SVG (not in the corpus) is not an image Pillow opens: ``UnsupportedImage``; the resizer
  serves SVG originals unchanged, with headers that stop scripts (``responses``).
"""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageOps, ImageSequence, ImageStat

from regional_resizer import codecs
from regional_resizer.pipeline import Rendition, render
from regional_resizer.plan import plan
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import CorruptImage, ImgedgeError, TooManyPixels, UnsupportedImage
from tests.conftest import CORPUS, REPO, corpus_rows

CONFIG = Config()
FORMATS = ("jpeg", "png", "webp", "avif")
ROWS = {row["file"]: row for row in corpus_rows()}
HEIF = importlib.util.find_spec("pillow_heif") is not None
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

EXPECTED_ERRORS: dict[str, type[ImgedgeError]] = {
    "bad_truncated_progressive.jpg": CorruptImage,
    "bad_truncated.png": CorruptImage,
    "bad_truncated_half.jpg": CorruptImage,
    "bad_corrupt_header.jpg": CorruptImage,
    "bad_zero_bytes.jpg": UnsupportedImage,
    "bad_text_named.jpg": UnsupportedImage,
    "bad_crc_ihdr.png": UnsupportedImage,  # Pillow's PNG reader does check the IHDR CRC
    "jxl_unsupported.jxl": UnsupportedImage,
    "bomb_real_65536x65536.png": TooManyPixels,
    "bomb_real_20000x14000.jpg": TooManyPixels,
    "bomb_declared_huge.gif": TooManyPixels,
    "bomb_declared_50000x50000.png": TooManyPixels,
    "bomb_warnzone_10000x10000.png": TooManyPixels,
    "bomb_declared_65500x65500.jpg": TooManyPixels,
    "bomb_declared_10000x10000.jpg": TooManyPixels,
    "bomb_17000x17000.avif": UnsupportedImage,  # libavif itself refuses to identify it
    "bomb_ztxt_text_chunk.png": CorruptImage,  # a text chunk, not pixels, inflates too far
}
if not HEIF:
    EXPECTED_ERRORS |= {"heic_small.heif": UnsupportedImage, "heic_photo.heic": UnsupportedImage}
ACCEPTED_DESPITE_NAME = {"bad_crc_idat.png", "bad_broken_frame.gif"}

DECODABLE = [name for name in ROWS if name not in EXPECTED_ERRORS]
ANIMATED = [
    name
    for name in DECODABLE
    if ROWS[name]["format"] in ("GIF", "PNG", "WEBP", "AVIF") and int(ROWS[name]["frames"]) > 1
]
ANIMATED_OUTPUTS = ("webp", "png")
BOMBS = [name for name in ROWS if name.startswith("bomb_")]
ORIENTED = [f"orient_{kind}_{n}.jpg" for kind in ("landscape", "portrait") for n in range(2, 9)]

# Mean absolute difference (0..255, RGB flattened on white) from the reference: PNG per
# pixel (measured: at most 2.1, the CMYK chart, where "balanced" BICUBIC meets LANCZOS's
# sharper edges and the colour is converted after the resize; a missed ICC conversion
# gives 10..14, a wrong turn ~59); lossy formats per 2x2 block, since 4:2:0 chroma is per
# block (measured: at most ~7).
SIMILAR = {"png": 3.0, "webp": 6.0, "avif": 7.0, "jpeg": 8.0}


def request_for(fmt: str) -> ImageRequest:
    return ImageRequest(source="corpus/img", format=fmt, width=256, height=256, fit="inside")


@cache
def rendered(name: str, fmt: str) -> Rendition:
    return render((CORPUS / name).read_bytes(), request_for(fmt), CONFIG)


def decode(rendition: Rendition) -> Image.Image:
    image = Image.open(io.BytesIO(rendition.body))
    image.load()
    return image


@cache
def reference(name: str, frame: int = 0) -> tuple[Image.Image, tuple[int, int]]:
    """A frame (the first by default), oriented, in sRGB, RGBA, resized like the request;
    and the oriented source size. Built with Pillow's high-level API only."""
    with Image.open(CORPUS / name) as opened:
        opened.seek(frame)
        profile = opened.info.get("icc_profile")
        image = ImageOps.exif_transpose(opened)
    if profile and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(
                image, io.BytesIO(profile), SRGB, outputMode=out_mode
            )
            assert converted is not None
            image = converted
        except ImageCms.PyCMSError:
            pass
    source_size = image.size
    geometry = plan(*source_size, request_for("png"))
    resized = image.convert("RGBA").resize(geometry.size, Image.Resampling.LANCZOS)
    return resized, source_size


def on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, "white")
    background.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
    return background


def extrema(band: Image.Image) -> tuple[float, float]:
    low, high = ImageStat.Stat(band).extrema[0]
    return low, high


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / len(a.getbands())


def test_the_error_table_names_corpus_rows() -> None:
    assert set(EXPECTED_ERRORS) <= set(ROWS)
    hostile = {name for name in ROWS if name.startswith(("bad_", "bomb_"))}
    assert hostile - ACCEPTED_DESPITE_NAME <= set(EXPECTED_ERRORS)


@cache
def animation_of(name: str) -> tuple[list[int], list[int]]:
    """The frames a browser animates (an APNG's separate default image is not one of them;
    a frame identical to the one before lengthens it) and their durations in ms, as Pillow
    reads them; no frames if one does not decode."""
    indices: list[int] = []
    durations: list[int] = []
    previous = None
    with Image.open(CORPUS / name) as opened:
        first = 1 if opened.info.get("default_image") else 0
        try:
            for index in range(first, getattr(opened, "n_frames", 1)):
                opened.seek(index)
                frame = opened.convert("RGBA")
                duration = round(opened.info["duration"])
                if previous is not None and frame.tobytes() == previous.tobytes():
                    durations[-1] += duration
                    continue
                indices.append(index)
                durations.append(duration)
                previous = frame
        except OSError:
            return [], []
    return indices, durations


def first_output_frame(name: str, fmt: str) -> int:
    """The source frame that the output's first frame shows."""
    indices, _ = animation_of(name) if name in ANIMATED else ([], [])
    return indices[0] if fmt in ANIMATED_OUTPUTS and len(indices) > 1 else 0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", DECODABLE)
def test_decodable(name: str, fmt: str) -> None:
    result = rendered(name, fmt)
    out = decode(result)
    expected, source_size = reference(name, first_output_frame(name, fmt))
    row = ROWS[name]

    # The oriented size: the manifest's, turned for orientations 5..8.
    if row["width"]:
        stored = (int(row["width"]), int(row["height"]))
        turned = row["exif_orientation"] in ("5", "6", "7", "8")
        assert source_size == (stored[::-1] if turned else stored)
    assert out.size == (result.width, result.height) == expected.size
    assert out.format == fmt.upper() and result.content_type == f"image/{fmt}"

    # Mode and alpha.
    source_alpha = expected.getchannel("A")
    transparent = extrema(source_alpha)[0] < 255
    if fmt == "jpeg":
        assert out.mode in ("L", "RGB")
        if extrema(source_alpha)[0] == 0:  # fully transparent areas: white, not black
            clear = source_alpha.point(lambda a: 255 if a == 0 else 0)
            assert min(ImageStat.Stat(out, clear).mean) > 240
    else:
        assert out.mode in (("L", "LA", "RGB", "RGBA") if fmt == "png" else ("RGB", "RGBA"))
        if transparent:
            assert out.mode.endswith("A")
            assert mean_difference(out.getchannel("A"), source_alpha) < 4

    # Pixels: the reference, both flattened on white. Skipped for 16-bit gray (Pillow's own
    # conversion clips it; see below) and, in lossy formats, for pixel art under 16 pixels.
    actual, wanted = on_white(out), on_white(expected)
    if fmt != "png":
        if min(out.size) < 16:
            return
        actual, wanted = actual.reduce(2), wanted.reduce(2)
    if row["mode"] != "I;16":
        assert mean_difference(actual, wanted) < SIMILAR[fmt]


@pytest.mark.parametrize("name", ORIENTED)
def test_orientations_match_orientation_1(name: str) -> None:
    baseline = name.rsplit("_", 1)[0] + "_1.jpg"
    small = ImageRequest(source="a", format="png", width=64, height=64, fit="inside")
    out = decode(render((CORPUS / name).read_bytes(), small, CONFIG))
    upright = decode(render((CORPUS / baseline).read_bytes(), small, CONFIG))
    assert out.size == upright.size
    # 2-5.2 with the Generic RGB profile converted (decoded at 1/4 scale, whose 8x8 blocks
    # follow the stored image, not the upright one), ~14 without, ~59 when wrongly oriented
    assert mean_difference(out, upright) < 7


def test_fully_transparent_palette() -> None:
    jpeg = decode(rendered("palette_fully_transparent.png", "jpeg"))
    assert extrema(jpeg.convert("L"))[0] >= 250  # all white
    for fmt in ("png", "webp", "avif"):
        out = decode(rendered("palette_fully_transparent.png", fmt))
        assert extrema(out.getchannel("A")) == (0, 0)


def test_sixteen_bit_gray_is_scaled_and_keeps_its_trns() -> None:
    # Its 16-bit samples are 0..255 of 65535 (near black); sample 255 is the tRNS key.
    out = decode(rendered("png_16bit_gray_trns.png", "png"))
    assert out.mode == "LA"
    gray, alpha = out.getchannel("L"), out.getchannel("A")
    opaque = alpha.point(lambda a: 255 if a == 255 else 0)
    assert ImageStat.Stat(gray, opaque).extrema[0][1] <= 2
    assert extrema(alpha) == (0, 255)


def test_cmyk_icc_is_applied() -> None:
    out = decode(rendered("cmyk_swop_icc.jpg", "png"))
    with Image.open(CORPUS / "cmyk_swop_icc.jpg") as raw:
        naive = raw.convert("RGB").resize(out.size, Image.Resampling.LANCZOS)
    assert mean_difference(out, naive) > 5  # the naive conversion is visibly different


def test_bad_crc_idat_is_accepted_like_pillow_does() -> None:
    for fmt in ("png", "jpeg"):
        damaged = decode(rendered("bad_crc_idat.png", fmt))
        intact = decode(
            render((CORPUS / "rgba_transparency.png").read_bytes(), request_for(fmt), CONFIG)
        )
        assert damaged.mode == intact.mode and mean_difference(damaged, intact) == 0


@pytest.mark.parametrize("name", sorted(EXPECTED_ERRORS))
def test_hostile(name: str) -> None:
    with pytest.raises(ImgedgeError) as raised:
        render((CORPUS / name).read_bytes(), request_for("webp"), CONFIG)
    assert type(raised.value) is EXPECTED_ERRORS[name]
    assert raised.value.is_client_error


@pytest.mark.parametrize("name", ["heic_small.heif", "heic_photo.heic"])
def test_heic_is_unsupported_without_pillow_heif(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import pillow_heif fails
    codecs._heif_registered.cache_clear()
    try:
        with pytest.raises(UnsupportedImage):
            render((CORPUS / name).read_bytes(), request_for("webp"), CONFIG)
    finally:
        codecs._heif_registered.cache_clear()


_MEASURE_BOMBS = """
import json, sys, time
from pathlib import Path
from regional_resizer.pipeline import render
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import ImgedgeError

def peak_kib():
    # VmHWM belongs to this process image; ru_maxrss would carry the parent's over exec.
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])

def measure(path, config):
    data = Path(path).read_bytes()
    before, start = peak_kib(), time.perf_counter()
    try:
        render(data, request, config)
        outcome = "rendered"
    except ImgedgeError as error:
        outcome = type(error).__name__
    grew = peak_kib() - before
    return [outcome, time.perf_counter() - start, grew]

request = ImageRequest(source="a", format="webp", width=256, height=256, fit="inside")
warm_up, control, *bombs = sys.argv[1:]
measure(warm_up, Config())  # plugins, codecs
report = {path: measure(path, Config()) for path in bombs}
# The control decodes a 100 Mpx bomb with the limits lifted: the measure can see it.
lifted = Config(max_source_pixels=200_000_000, max_total_pixels=200_000_000)
report["control"] = measure(control, lifted)
print(json.dumps(report))
"""


def test_bombs_are_refused_from_the_header() -> None:
    """Peak RSS in a fresh process (tracemalloc cannot show it: Pillow allocates pixels
    outside Python's allocator). Decoding the smallest of these bombs takes 100 MB."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("a child's own peak memory is read from /proc/self/status (VmHWM)")
    paths = [str(CORPUS / name) for name in BOMBS]
    warm_up, control = CORPUS / "progressive.jpg", CORPUS / "bomb_warnzone_10000x10000.png"
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", _MEASURE_BOMBS, str(warm_up), str(control), *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(completed.stdout)
    for name, path in zip(BOMBS, paths, strict=True):
        outcome, seconds, grew_kib = report[path]
        assert outcome == EXPECTED_ERRORS[name].__name__, name
        assert seconds < 2, name
        assert grew_kib < 16 * 1024, name
    outcome, _, grew_kib = report["control"]
    assert outcome == "rendered" and grew_kib > 48 * 1024


@pytest.mark.parametrize("fmt", ANIMATED_OUTPUTS)
@pytest.mark.parametrize("name", ANIMATED)
def test_animations_keep_their_frames_and_timing(name: str, fmt: str) -> None:
    indices, durations = animation_of(name)
    result = rendered(name, fmt)
    with Image.open(io.BytesIO(result.body)) as out:
        if not indices:  # a broken later frame: frame 0 alone
            assert name == "bad_broken_frame.gif"
            assert result.frames == getattr(out, "n_frames", 1) == 1
            return
        assert result.frames == getattr(out, "n_frames", 1) == len(indices) > 1
        for index, duration in zip(indices, durations, strict=True):
            out.seek(indices.index(index))
            out.load()  # WebP reads a frame's duration on load
            assert out.info["duration"] == pytest.approx(duration, abs=1)
            frame, _ = reference(name, index)
            actual, wanted = on_white(out), on_white(frame)
            if fmt == "webp":
                actual, wanted = actual.reduce(2), wanted.reduce(2)
            assert mean_difference(actual, wanted) < SIMILAR[fmt], index


def test_dispose_previous_is_composited() -> None:
    # Its frames differ only by what frame 1 draws and frame 2 undoes: had disposal been
    # ignored, frame 2 would keep frame 1's drawing.
    with Image.open(io.BytesIO(rendered("animated_dispose_previous.gif", "webp").body)) as out:
        frames = [on_white(frame.copy()) for frame in ImageSequence.Iterator(out)]
    assert len(frames) == 3
    assert mean_difference(frames[0], frames[1]) > 1
    assert mean_difference(frames[2], frames[0]) < mean_difference(frames[2], frames[1])


@pytest.mark.parametrize("fmt", ["jpeg", "avif"])
@pytest.mark.parametrize(
    "name", [*ANIMATED, "mpo_stereo.mpo", "tiff_multipage.tiff", "heic_photo.heic"]
)
def test_still_outputs_are_the_first_frame(name: str, fmt: str) -> None:
    """Animations in jpeg or avif, and MPO, multi-page TIFF and HEIF in every format, give
    frame 0 (checked in full by test_decodable); here: one frame, said so."""
    if name.startswith("heic") and not HEIF:
        pytest.skip("pillow-heif is not installed")
    assert rendered(name, fmt).frames == 1
    with Image.open(io.BytesIO(rendered(name, fmt).body)) as out:
        assert getattr(out, "n_frames", 1) == 1


def test_corpus_is_where_the_manifest_says() -> None:
    assert Path(CORPUS / "MANIFEST.tsv").is_file()
    assert len(ROWS) == 87
