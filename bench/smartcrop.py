"""imgedge's content-aware crop (``g=smart``) against libvips' attention crop (sharp's
``position: "attention"``), and what ``g=smart`` costs.

    python -m bench.smartcrop [--json FILE] [--rounds N] [--scratch DIR]

Pictures: photographs from the test corpus (``PHOTOS``) and pictures generated here with a
known subject off centre (``generated``). Each is cropped to a square and to 16:9 across its
orientation (9:16 for a landscape picture, 16:9 for a portrait one), so that there is a
place to choose along one axis.

Reported for each picture and crop: the window imgedge chooses and the one sharp chooses,
both in pixels of the upright original; their IoU (intersection over union); for a
generated picture, whether imgedge's window holds the whole subject. imgedge's window is
the pipeline's own focal point for the request (``pipeline.smart_focus``:
``smartcrop.focus`` on a small copy of the upright picture), the largest window of the
crop's aspect centred there and kept inside the picture. sharp's is the crop offset it
reports, scaled back to the original.

Timing: the pipeline's ``render`` of every photo and crop (WebP, the crops' sizes)
with ``g=smart`` against the same render centred, in one process, interleaved (the order
alternates each round); ``time_ratio`` is the median over the rounds of the ratio of the
rounds' total times. Times are the process's CPU time, which other work on a shared
machine does not inflate.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from bench import toolchain
from bench.workers import REPO
from regional_resizer import pipeline
from shared.config import Config
from shared.contract import ImageRequest

CORPUS = REPO / "tests" / "corpus"
BENCH = Path(__file__).resolve().parent

PHOTOS = (
    "large_photo_2725x2225.jpg",
    "large_phone_photo_4032x3024_orient6_p3.jpg",
    "avif_large_3024x4032_p3.avif",
    "ultrahdr_gainmap_3840x2160.jpg",
    "prophoto_icc.jpg",
    "orient_landscape_1.jpg",
    "orient_portrait_6.jpg",
    "progressive.jpg",
    "adobe_rgb_icc.jpg",
    "cmyk_swop_icc.jpg",
    "grayscale_gray_icc.jpg",
    "mpo_stereo.mpo",
    "webp_lossy.webp",
)
"""Photographs sharp reads too (not HEIC: sharp's libvips has no HEVC decoder)."""

# The crops, as the output sizes asked for (sizes on imgedge's default allow-list).
SQUARE = (480, 480)
WIDE = (1280, 720)
TALL = (720, 1280)
DEFAULT_ROUNDS = 7

Box = tuple[float, float, float, float]  # left, top, right, bottom


@dataclass(frozen=True)
class Picture:
    name: str
    path: Path
    size: tuple[int, int]  # upright
    subject: Box | None = None  # where the known subject is (generated pictures)

    def crops(self) -> tuple[tuple[int, int], ...]:
        width, height = self.size
        return (SQUARE, TALL if width >= height else WIDE)


# --- The pure parts: windows, IoU, generated pictures -------------------------------------


def window(size: tuple[int, int], crop: tuple[int, int], centre: tuple[float, float]) -> Box:
    """The largest window of ``crop``'s aspect inside a picture of ``size``, centred on
    ``centre`` (fractions of the picture) as far as the picture allows."""
    width, height = size
    scale = min(width / crop[0], height / crop[1])
    w, h = crop[0] * scale, crop[1] * scale
    left = min(max(centre[0] * width - w / 2, 0.0), width - w)
    top = min(max(centre[1] * height - h / 2, 0.0), height - h)
    return left, top, left + w, top + h


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes; 0 for two empty ones."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def holds(outer: Box, inner: Box, slack: float = 0.5) -> bool:
    """Whether ``inner`` lies within ``outer`` (give or take ``slack`` pixels)."""
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


@dataclass(frozen=True)
class Generated:
    name: str
    image: Image.Image
    subject: Box


SUBJECT_KINDS = ("texture", "saturated", "skin")
BACKGROUNDS = ("smooth", "noisy")


def generated() -> list[Generated]:
    """Pictures with one known subject off centre: each kind of subject (a textured shape
    in muted colours, a flat saturated shape, a shaded skin-toned one) on a smooth or a
    gently noisy background, near either end of a landscape and of a portrait picture,
    and two with alpha (the background transparent). The same pictures on every run."""
    pictures = []
    rnd = random.Random(20240611)
    for orientation, size in (("landscape", (1600, 1000)), ("portrait", (1000, 1600))):
        for kind in SUBJECT_KINDS:
            for background in BACKGROUNDS:
                for end in (0.2, 0.8):
                    across = rnd.uniform(0.35, 0.65)
                    centre = (end, across) if orientation == "landscape" else (across, end)
                    name = f"{orientation}-{kind}-{background}-{round(end * 100)}"
                    image, subject = picture(size, kind, background, centre, rnd)
                    pictures.append(Generated(name, image, subject))
        place = (0.8, 0.3) if orientation == "landscape" else (0.3, 0.8)
        image, subject = picture(size, "texture", "smooth", place, rnd, alpha=True)
        pictures.append(Generated(f"{orientation}-texture-transparent", image, subject))
    return pictures


def picture(
    size: tuple[int, int],
    kind: str,
    background: str,
    centre: tuple[float, float],
    rnd: random.Random,
    alpha: bool = False,
) -> tuple[Image.Image, Box]:
    """One picture of ``size`` with a subject of ``kind`` centred at ``centre`` (fractions);
    the subject's box. With ``alpha``, RGBA and the background transparent."""
    width, height = size
    base = _background(size, background, rnd)
    diameter = round(0.22 * min(size))
    x = round(centre[0] * width - diameter / 2)
    y = round(centre[1] * height - diameter / 2)
    box = (x, y, x + diameter, y + diameter)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse(box, fill=255)
    base.paste(_subject(size, kind, box, rnd), (0, 0), mask)
    if alpha:
        base.putalpha(mask.point(lambda v: 255 if v else 0))
    return base, (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def _background(size: tuple[int, int], kind: str, rnd: random.Random) -> Image.Image:
    """A muted vertical gradient; ``noisy``: with gentle, blurred grain on top."""
    width, height = size
    top = tuple(rnd.randrange(90, 170) for _ in range(3))
    bottom = tuple(min(255, v + rnd.randrange(-25, 25)) for v in top)
    column = Image.new("RGB", (1, 256))
    column.putdata(
        [
            tuple(round(a + (b - a) * i / 255) for a, b in zip(top, bottom, strict=True))
            for i in range(256)
        ]
    )
    image = column.resize(size, Image.Resampling.BILINEAR)
    if kind == "noisy":
        grain = Image.new("L", (width // 4, height // 4))
        grain.putdata([128 + rnd.randrange(-12, 13) for _ in range(grain.width * grain.height)])
        grain = grain.resize(size, Image.Resampling.BILINEAR).filter(ImageFilter.BoxBlur(1))
        image = Image.merge("RGB", [_add_grain(band, grain) for band in image.split()])
    return image


def _add_grain(band: Image.Image, grain: Image.Image) -> Image.Image:
    return ImageChops.add(band, grain, scale=1.0, offset=-128)


def _subject(
    size: tuple[int, int], kind: str, box: tuple[int, int, int, int], rnd: random.Random
) -> Image.Image:
    """A layer of ``size`` whose part inside ``box`` is the subject."""
    layer = Image.new("RGB", size)
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = box
    if kind == "texture":  # stripes and checks in two muted colours
        light = tuple(rnd.randrange(150, 200) for _ in range(3))
        dark = tuple(rnd.randrange(40, 90) for _ in range(3))
        draw.rectangle(box, fill=light)
        step = max(4, (right - left) // 14)
        for i, x in enumerate(range(left, right, step)):
            for j, y in enumerate(range(top, bottom, step)):
                if (i + j) % 2:
                    draw.rectangle((x, y, x + step - 1, y + step - 1), fill=dark)
    elif kind == "saturated":
        hue = rnd.choice(((220, 30, 40), (30, 60, 220), (240, 180, 0), (20, 170, 60)))
        draw.rectangle(box, fill=hue)
    else:  # skin, lit from one side
        tone = rnd.choice(((224, 172, 138), (198, 134, 100), (141, 85, 60)))
        steps = 24
        for i in range(steps):
            shade = 0.8 + 0.3 * i / steps
            fill = tuple(min(255, round(v * shade)) for v in tone)
            x0 = left + (right - left) * i // steps
            draw.rectangle((x0, top, right, bottom), fill=fill)
    return layer


# --- imgedge's and sharp's windows --------------------------------------------------------


def imgedge_window(data: bytes, size: tuple[int, int], crop: tuple[int, int]) -> Box:
    """The window ``g=smart`` crops: the pipeline's own focal point for the request
    (``smartcrop.focus`` on its small copy of the upright picture), and the largest
    window of the crop's aspect centred there."""
    config = Config()
    request = ImageRequest.canonical(
        "bench", fmt="webp", width=crop[0], height=crop[1], gravity="smart", config=config
    )
    decoded = pipeline.decode(data, request, config)
    upright = pipeline.orient(decoded.image, decoded.orientation)
    return window(size, crop, pipeline.smart_focus(upright, decoded, request))


def upright_size(data: bytes) -> tuple[int, int]:
    """The picture's size once upright, as the pipeline decodes it."""
    config = Config()
    request = ImageRequest.canonical("bench", fmt="webp", config=config)
    size: tuple[int, int] = pipeline.decode(data, request, config).size
    return size


def sharp_windows(scratch: Path, jobs: list[tuple[Picture, tuple[int, int]]]) -> list[Box]:
    """sharp's attention crop of each (picture, crop), in pixels of the upright picture."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("the benchmark needs node on the PATH")
    asked = [{"path": str(p.path), "width": c[0], "height": c[1]} for p, c in jobs]
    answer = subprocess.run(
        [node, str(BENCH / "smartcrop_sharp.mjs"), str(scratch)],
        input=json.dumps(asked),
        capture_output=True,
        text=True,
        check=True,
    )
    return [
        from_sharp(picture.size, crop, found["left"], found["top"])
        for (picture, crop), found in zip(jobs, json.loads(answer.stdout), strict=True)
    ]


def from_sharp(size: tuple[int, int], crop: tuple[int, int], left: int, top: int) -> Box:
    """sharp's crop, at ``left``, ``top`` of the picture resized to cover ``crop``, in
    pixels of the picture (of ``size``)."""
    scale = max(crop[0] / size[0], crop[1] / size[1])
    return left / scale, top / scale, (left + crop[0]) / scale, (top + crop[1]) / scale


# --- Timing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    ratio: float  # the median over the rounds of the rounds' total times' ratio
    ratios: list[float]  # each round's
    per_render: dict[str, float]  # each picture and crop's median ratio over the rounds
    centred_ms: float  # the median round's total time, centred


def time_ratio(pictures: list[Picture], rounds: int) -> Timing:
    """(time with g=smart) / (time centred), each round rendering every picture and crop
    both ways, the order alternating."""
    config = Config()
    work = []
    for picture in pictures:
        data = picture.path.read_bytes()
        for crop in picture.crops():
            requests = [
                ImageRequest.canonical(
                    picture.name,
                    fmt="webp",
                    width=crop[0],
                    height=crop[1],
                    gravity=gravity,
                    config=config,
                )
                for gravity in ("smart", None)
            ]
            work.append((f"{picture.name} {crop[0]}x{crop[1]}", data, requests))
    for _, data, requests in work:  # warm up: imports, codecs, caches
        for request in requests:
            pipeline.render(data, request, config)
    ratios, totals = [], []
    each: dict[str, list[float]] = {key: [] for key, _, _ in work}
    for round_ in range(rounds):
        spent = [0.0, 0.0]
        order = (0, 1) if round_ % 2 == 0 else (1, 0)
        for key, data, requests in work:
            times = [0.0, 0.0]
            for side in order:
                start = time.process_time()
                pipeline.render(data, requests[side], config)
                times[side] = time.process_time() - start
            spent = [spent[0] + times[0], spent[1] + times[1]]
            each[key].append(times[0] / times[1] if times[1] else 1.0)
        ratios.append(spent[0] / spent[1])
        totals.append(spent[1])
    per_render = {key: statistics.median(values) for key, values in each.items()}
    return Timing(statistics.median(ratios), ratios, per_render, 1000 * statistics.median(totals))


# --- The run ------------------------------------------------------------------------------


def photos() -> list[Picture]:
    result = []
    for name in PHOTOS:
        path = CORPUS / name
        result.append(Picture(name, path, upright_size(path.read_bytes())))
    return result


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    scratch = Path(args.scratch).resolve()
    toolchain.ensure_sharp(scratch)
    with tempfile.TemporaryDirectory(prefix="imgedge-smartcrop-") as folder:
        made = []
        for item in generated():
            path = Path(folder) / f"{item.name}.png"
            item.image.save(path, compress_level=1)
            made.append(Picture(item.name, path, item.image.size, item.subject))
        pictures = photos() + made
        jobs = [(p, crop) for p in pictures for crop in p.crops()]
        theirs = sharp_windows(scratch, jobs)
        rows: list[dict[str, Any]] = []
        for (picture, crop), their in zip(jobs, theirs, strict=True):
            ours = imgedge_window(picture.path.read_bytes(), picture.size, crop)
            kept = None if picture.subject is None else holds(ours, picture.subject)
            kept_by_sharp = None if picture.subject is None else holds(their, picture.subject)
            rows.append(
                {
                    "picture": picture.name,
                    "crop": f"{crop[0]}x{crop[1]}",
                    "imgedge": [round(v) for v in ours],
                    "sharp": [round(v) for v in their],
                    "iou": iou(ours, their),
                    "subject_kept": kept,
                    "subject_kept_by_sharp": kept_by_sharp,
                }
            )
        timing = time_ratio(pictures[: len(PHOTOS)], args.rounds)
    summary = summarise(rows, timing.ratio)
    subject_rows = [row for row in rows if row["subject_kept"] is not None]
    print(table(rows))
    print()
    print(f"mean IoU against sharp (attention) over the photos: {summary['mean_iou']:.3f}")
    print(
        f"mean IoU over the generated pictures: "
        f"{statistics.fmean(row['iou'] for row in subject_rows):.3f}"
    )
    print(f"subjects inside imgedge's crop: {summary['subjects_kept']}/{summary['subjects']}")
    by_sharp = sum(1 for row in subject_rows if row["subject_kept_by_sharp"])
    print(f"subjects inside sharp's crop: {by_sharp}/{len(subject_rows)}")
    print(
        f"time g=smart / centred: {timing.ratio:.3f} (median of {args.rounds} rounds; "
        f"{min(timing.ratios):.3f}..{max(timing.ratios):.3f}; a round centred: "
        f"{timing.centred_ms:.0f} ms of CPU)"
    )
    slowest = sorted(timing.per_render.items(), key=lambda item: item[1])
    print(
        "per render, median over the rounds: "
        f"{slowest[0][1]:.2f} ({slowest[0][0]}) .. {slowest[-1][1]:.2f} ({slowest[-1][0]})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(summary) + "\n")


def summarise(rows: list[dict[str, Any]], ratio: float) -> dict[str, Any]:
    """What ``--json`` writes: the mean IoU over the photos (the rows without a known
    subject), how many known subjects imgedge's crop kept of how many, the time ratio."""
    photo_rows = [row for row in rows if row["subject_kept"] is None]
    subject_rows = [row for row in rows if row["subject_kept"] is not None]
    return {
        "mean_iou": statistics.fmean(row["iou"] for row in photo_rows),
        "subjects_kept": sum(1 for row in subject_rows if row["subject_kept"]),
        "subjects": len(subject_rows),
        "time_ratio": ratio,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'picture':44} {'crop':>9} {'imgedge':>22} {'sharp':>22} {'IoU':>5}  subject"]
    for row in rows:
        kept = {None: "", True: "kept", False: "LOST"}[row["subject_kept"]]
        if row["subject_kept_by_sharp"] is False:
            kept += " (sharp: lost)"
        lines.append(
            f"{row['picture']:44} {row['crop']:>9} {_box(row['imgedge']):>22} "
            f"{_box(row['sharp']):>22} {row['iou']:5.2f}  {kept}"
        )
    return "\n".join(lines)


def _box(box: list[int]) -> str:
    return f"{box[0]},{box[1]}-{box[2]},{box[3]}"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.smartcrop", description=__doc__)
    parser.add_argument("--json", help="write the summary to this file")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="timing rounds")
    parser.add_argument(
        "--scratch",
        default=str(REPO / ".imgedge" / "bench"),
        help="where sharp is installed (once)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
