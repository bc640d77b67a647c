"""Threads: how many a render gets (the configuration's ``threads``, else the function's
memory), the split resize (identical pixels to one Pillow call), and AVIF on several
threads (other bytes, the same image within the tolerance docs/memory.md states)."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageChops, ImageStat

from regional_resizer import codecs, pipeline, resampling
from regional_resizer.plan import Box, Size
from shared.config import MAX_THREADS, Config, ConfigError
from shared.contract import ImageRequest
from tests.conftest import CORPUS

KERNELS = (
    Image.Resampling.LANCZOS,
    Image.Resampling.BICUBIC,
    Image.Resampling.HAMMING,
    Image.Resampling.BILINEAR,
    Image.Resampling.BOX,
)
AVIF_ERROR = 0.05
"""How much further from its source (mean absolute difference, in levels of 255) an AVIF
encoded on several threads may decode than the one encoded on one thread."""
AVIF_BYTES = 0.04
"""How much larger or smaller (relative) an AVIF encoded on several threads (in two tile
columns from 256 pixels wide) may be."""


# The threads a render gets.


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        ("128", 1),
        ("1024", 1),
        ("1769", 1),
        ("1770", 2),
        ("2048", 2),
        ("3008", 2),
        ("3538", 2),
        ("3539", 3),
        ("5307", 3),
        ("5308", 4),
        ("8845", 5),
        ("8846", 6),
        ("10240", 6),
    ],
)
def test_in_lambda_one_thread_per_vcpu_worth_of_memory(memory: str, expected: int) -> None:
    assert codecs.threads(0, memory_mb=memory, cpus=6) == expected


def test_never_more_threads_than_cpus_to_run_them() -> None:
    assert codecs.threads(0, memory_mb="10240", cpus=2) == 2
    assert codecs.threads(0, memory_mb="3008", cpus=1) == 1


def test_outside_lambda_the_cpus_the_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(codecs.MEMORY_ENV, raising=False)
    assert codecs.threads(0, cpus=4) == 4
    assert codecs.threads(0, cpus=0) == 1
    assert codecs.threads(0) >= 1


def test_the_environment_gives_the_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(codecs.MEMORY_ENV, "1769")
    assert codecs.threads(0, cpus=2) == 1
    monkeypatch.setenv(codecs.MEMORY_ENV, "2048")
    assert codecs.threads(0, cpus=2) == 2
    monkeypatch.setenv(codecs.MEMORY_ENV, "not a number")
    assert codecs.threads(0, cpus=3) == 3


def test_a_configured_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(codecs.MEMORY_ENV, "1769")
    assert codecs.threads(3, cpus=1) == 3
    assert codecs.threads(1, memory_mb="10240", cpus=6) == 1


# The configuration key.


def test_threads_defaults_to_the_memory() -> None:
    assert Config().threads == 0
    assert Config.from_mapping({"threads": 2}).threads == 2
    assert Config.from_mapping({"threads": MAX_THREADS}).to_mapping()["threads"] == MAX_THREADS


@pytest.mark.parametrize("value", [-1, MAX_THREADS + 1, 1.5, "2", True, None])
def test_threads_must_be_a_small_non_negative_integer(value: object) -> None:
    with pytest.raises(ConfigError, match=r"threads: must be an integer in 0\.\.64"):
        Config.from_mapping({"threads": value})


# The split resize.


def _image(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    """Noise in every channel (each its own), alpha included: rounding shows anywhere."""
    channels = [
        Image.effect_noise(size, 70 + 10 * i).rotate(seed + 37 * i) for i in range(len(mode))
    ]
    if mode in ("L", "La"):
        channels = channels[:1] + channels[1:]
    return Image.merge(mode, [channel.convert("L") for channel in channels])


Case = tuple[str, Size, Box, Size, Image.Resampling, float | None]


def _cases(count: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []
    for _ in range(count):
        mode = rng.choice(sorted(resampling.SPLIT_MODES))
        width, height = rng.randint(1, 260), rng.randint(1, 260)
        x0, y0 = rng.uniform(0, width / 2), rng.uniform(0, height / 2)
        box: Box = (x0, y0, rng.uniform(x0 + 0.01, width), rng.uniform(y0 + 0.01, height))
        if rng.random() < 0.25:
            box = (0.0, 0.0, float(width), float(height))
        size = (rng.randint(1, 180), rng.randint(1, 180))
        kernel = rng.choice(KERNELS)
        gap = rng.choice([None, 1.3, 2.0, 3.0])
        cases.append((mode, (width, height), box, size, kernel, gap))
    return cases


@pytest.mark.parametrize("seed", range(6))
def test_a_split_resize_is_one_resize(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every mode, kernel, box reduce; shrinks and enlargements, boxes anywhere, either
    pass first: byte for byte what one call of Pillow's resize gives, on 2, 3 and 6
    threads."""
    monkeypatch.setattr(resampling, "SPLIT_MIN_WORK", 0)
    for mode, source, box, size, kernel, gap in _cases(60, seed):
        image = _image(mode, source, seed)
        once = image.resize(size, kernel, box=box, reducing_gap=gap)
        for threads in (2, 3, 6):
            split = resampling.resize_image(image, size, kernel, box, gap, threads)
            assert (split.mode, split.size) == (once.mode, once.size)
            assert split.tobytes() == once.tobytes(), (mode, source, box, size, kernel, gap)


@pytest.mark.parametrize(
    ("source", "size", "kernel", "gap"),
    [
        ((2725, 2225), (1600, 1307), Image.Resampling.BICUBIC, 2.0),  # large, one pass each
        ((2725, 2225), (720, 588), Image.Resampling.LANCZOS, 2.0),  # box reduce first
        ((1362, 1112), (720, 588), Image.Resampling.HAMMING, 1.3),  # after a DCT shrink
        ((600, 2400), (150, 300), Image.Resampling.LANCZOS, None),  # tall: vertical first
        ((2048, 1536), (256, 192), Image.Resampling.LANCZOS, 2.0),
    ],
)
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_large_split_resizes_are_one_resize(
    source: tuple[int, int],
    size: tuple[int, int],
    kernel: Image.Resampling,
    gap: float | None,
    mode: str,
) -> None:
    image = Image.open(CORPUS / "large_photo_2725x2225.jpg").convert(mode).resize(source)
    box = (0.0, 0.0, float(source[0]), float(source[1]))
    once = image.resize(size, kernel, box=box, reducing_gap=gap)
    split = resampling.resize_image(image, size, kernel, box, gap, 2)
    assert split.tobytes() == once.tobytes()


def test_small_resizes_stay_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> Image.Image:
        raise AssertionError("split")

    monkeypatch.setattr(resampling, "_split", refuse)
    image = _image("RGB", (200, 150), 1)
    resampling.resize_image(image, (64, 48), Image.Resampling.LANCZOS, (0, 0, 200, 150), 2.0, 2)


def test_a_render_is_the_same_on_more_threads() -> None:
    """JPEG, PNG, WebP: the same bytes whatever the thread count."""
    data = (CORPUS / "large_photo_2725x2225.jpg").read_bytes()
    for fmt, width in (("jpeg", 1600), ("webp", 720), ("png", 256)):
        request = ImageRequest(
            source="a.jpg", format=fmt, width=width, quality=None if fmt == "png" else 80
        )
        one = pipeline.render(data, request, Config(threads=1)).body
        two = pipeline.render(data, request, Config(threads=2)).body
        assert one == two, fmt


# AVIF on several threads.


def _error(encoded: bytes, source: Image.Image) -> tuple[float, float]:
    """Mean absolute difference from ``source`` of the decoded image: over the colour
    channels, and of alpha (0 without)."""
    decoded = Image.open(io.BytesIO(encoded))
    assert (decoded.mode, decoded.size) == (source.mode, source.size)
    means = ImageStat.Stat(ImageChops.difference(source, decoded)).mean
    return sum(means[:3]) / 3, (means[3] if len(means) > 3 else 0.0)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("large_photo_2725x2225.jpg", (128, 105)),
        ("large_photo_2725x2225.jpg", (256, 209)),
        ("large_phone_photo_4032x3024_orient6_p3.jpg", (720, 540)),
        ("rgba_large_2048x1536.png", (256, 192)),
    ],
)
def test_avif_on_more_threads_is_as_good(name: str, size: tuple[int, int], mode: str) -> None:
    """libaom's bytes change from one thread to several, not between several counts, and
    the image stays as good: as close to its source (``AVIF_ERROR``), as large
    (``AVIF_BYTES``)."""
    source = Image.open(CORPUS / name).convert(mode).resize(size, Image.Resampling.LANCZOS)
    if mode == "RGBA" and source.getchannel("A").getextrema() == (255, 255):  # alpha to keep
        source.putalpha(Image.linear_gradient("L").rotate(30).resize(size))
    one = codecs.encode(source, "avif", 50, threads=1)
    assert codecs.encode(source, "avif", 50, threads=1) == one  # one count, one output
    colour, alpha = _error(one, source)
    many = [codecs.encode(source, "avif", 50, threads=n) for n in (2, 3, 4)]
    assert many[0] == many[1] == many[2]
    assert abs(len(many[0]) / len(one) - 1) <= AVIF_BYTES
    many_colour, many_alpha = _error(many[0], source)
    assert abs(many_colour - colour) <= AVIF_ERROR
    assert abs(many_alpha - alpha) <= AVIF_ERROR


@pytest.mark.parametrize(
    ("width", "threads", "columns"),
    [(4096, 1, 1), (255, 2, 1), (255, 6, 1), (256, 2, 2), (720, 2, 2), (4096, 6, 2)],
)
def test_avif_tile_columns(width: int, threads: int, columns: int) -> None:
    assert codecs.avif_tile_columns(width, threads) == columns


def test_avif_on_two_threads_is_encoded_in_two_tile_columns() -> None:
    """The tile columns reach libaom: the bytes on two threads are those of Pillow's own
    encode in two columns, and not those of one."""
    source = Image.open(CORPUS / "large_photo_2725x2225.jpg").resize((256, 209))
    ours = codecs.encode(source, "avif", 50, threads=2)

    def pillow(tile_cols: int) -> bytes:
        out = io.BytesIO()
        options = {"speed": codecs.AVIF_SPEED, "subsampling": codecs.AVIF_SUBSAMPLING}
        source.save(out, "AVIF", quality=50, max_threads=2, tile_cols=tile_cols, **options)
        return out.getvalue()

    assert ours == pillow(1)  # log2 of the column count
    assert ours != pillow(0)
