"""imgedge's resampling policy against sharp's beyond the five benchmark cases: a sweep of
target sizes over large real JPEG photos, single-threaded, on one CPU.

    python -m bench.sweep [--sources a.jpg,b.jpg] [--widths 64,128] [--boxes 256x256]
                          [--reps N] [--json FILE] [--scratch DIR]

For each source photo, each width of a ladder below the photo's upright width (the height
follows the aspect), and each cover box (a centred crop, scaled), both sides make a JPEG
q80 (``bench.cases.JPEG``, as case a). One row each, with:

- SSIM i, SSIM s: SSIM (``bench.ssim``) of the pixels each side hands its encoder against
  the full-quality reference (``bench.reference``: full decode, upright, sRGB, one LANCZOS
  step); margin = imgedge's minus sharp's, negative where imgedge keeps less of the photo.
- i ms, s ms: each side's CPU time (all its threads) for one whole operation (decode,
  resize, encode, from bytes in memory), the median of ``--reps`` runs taken alternately
  after one warm-up run each; ratio = s ms / i ms, above 1 where imgedge is faster.

Then one line: the worst margin and where, in how many rows imgedge's SSIM is below
sharp's, and the geometric mean of the ratios. It is a report, which exits 0 whatever the
numbers; it raises where the sides or the reference differ in size, with one exception: a
height of n + 0.5 pixels (a width alone, float error included) that sharp rounds the
other way; that row has no SSIM for sharp, and a line under the summary says so.

Reading it: a cover box measures geometry as well. sharp crops whole pixels after its
resize, which can put its crop half an output pixel off the exact centre that imgedge
and the reference use, and that alone costs it SSIM (0.998 -> 0.965 on 256x256 of the
3840x2160 photo): on those rows a margin in imgedge's favour says little about
resampling. Timings come from a machine that may be shared: compare ratios, not ms
across runs.

How: imgedge runs the real ``regional_resizer.pipeline`` through ``bench.imgedge_worker``'s
``run`` and ``outputs``, in a child of this module (``--worker``) that takes its cases in
a setup message, as the sharp worker does; each case's own sizes are on its allow-list,
so none snaps to another. sharp turns each photo upright first (``autoOrient``), as
imgedge always does. Both workers are pinned to one CPU and start no other thread; the
SSIM runs in a process per CPU, kept off the workers' CPU until the last case is timed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from bench import imgedge_worker, toolchain, workers
from bench.cases import CONFIG, JPEG, Case
from bench.reference import reference
from regional_resizer.codecs import exif_orientation
from regional_resizer.plan import Size, oriented
from shared.config import Config
from shared.contract import ImageRequest

SOURCES = (
    "large_photo_2725x2225.jpg",
    "ultrahdr_gainmap_3840x2160.jpg",
    "large_phone_photo_4032x3024_orient6_p3.jpg",
    "prophoto_icc.jpg",
)
WIDTHS = (64, 100, 160, 256, 320, 400, 480, 600, 720, 900, 1080, 1280, 1600, 2048, 2560, 3200)
BOXES = ((720, 588), (256, 256))
DEFAULT_REPS = 3
WORKER = [sys.executable, "-m", "bench.sweep", "--worker"]  # + the corpus folder


class SweepCase(Case):
    """A benchmark case whose own width and height are on its allow-list (the benchmark's
    ``CONFIG`` plus them), so that imgedge and the reference are asked for exactly them."""

    def request(self, config: Config = CONFIG) -> ImageRequest:
        sizes = {*config.sizes, *(side for side in (self.width, self.height) if side)}
        return super().request(dataclasses.replace(config, sizes=tuple(sorted(sizes))))

    @property
    def label(self) -> str:
        return f"{self.width}w" if self.height is None else f"{self.width}x{self.height} cover"


@dataclass(frozen=True)
class Row:
    key: str
    source: str
    request: str  # "720w" (height from the aspect) or "720x588 cover"
    width: int  # of imgedge's output and the reference
    height: int
    sharp_width: int  # of sharp's output: the same but for a rounding pixel (see _scores)
    sharp_height: int
    ssim_pre_imgedge: float
    ssim_pre_sharp: float | None  # None: sharp's size is not the reference's
    margin: float | None  # imgedge's SSIM minus sharp's
    imgedge_ms: float  # CPU time of one operation, median over the reps
    sharp_ms: float
    ratio: float  # sharp_ms / imgedge_ms: above 1, imgedge is faster
    imgedge_wall_ms: float
    sharp_wall_ms: float
    bytes_imgedge: int
    bytes_sharp: int


Timings = tuple[dict[str, float], dict[str, float]]  # CPU and wall-clock ms, by side
Scores = tuple[Size, Size, float, float | None]  # imgedge's size, sharp's, SSIM of each


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    if args.worker:
        serve(Path(args.worker), imgedge_worker.with_resampling(args.resampling))
        return
    # Only here: tests.conftest (which vs_sharp imports) brings boto3 and pytest, which the
    # worker, started from this module too, does without.
    from bench import vs_sharp
    from tests.conftest import CORPUS

    started = time.monotonic()
    scratch = Path(args.scratch).resolve()
    toolchain.ensure_sharp(scratch)
    toolchain.ensure_numpy(scratch)
    uprights = {source: _upright(CORPUS / source) for source in args.sources}
    cases = sweep_cases(uprights, args.widths, args.boxes)
    cpu = max(os.sched_getaffinity(0))
    with _workers(scratch, CORPUS, cpu, cases, args.resampling) as (imgedge, sharp, versions):
        rows = sweep(cases, (imgedge, sharp), args.reps, CORPUS, scratch)
    print(table(rows))
    print(summary(rows))
    print(f"({len(rows)} rows in {time.monotonic() - started:.0f} s)", file=sys.stderr)
    if args.json:
        report = {
            "command": "python -m bench.sweep " + " ".join(argv or sys.argv[1:]),
            "environment": vs_sharp._environment(versions, cpu),
            "reps": args.reps,
            "resampling": args.resampling,
            "rows": [dataclasses.asdict(row) for row in rows],
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sources", type=_names, default=SOURCES, help="corpus JPEGs")
    parser.add_argument(
        "--widths", type=_numbers, default=WIDTHS, help="kept where below a source's width"
    )
    parser.add_argument(
        "--boxes",
        type=_boxes,
        default=BOXES,
        help="cover boxes, WxH comma-separated; '' for none (default 720x588,256x256)",
    )
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS)
    parser.add_argument("--json", help="also write every row to this file")
    workers.add_arguments(parser)
    parser.add_argument("--worker", metavar="CORPUS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps must be positive")
    return args


def _names(text: str) -> tuple[str, ...]:
    return tuple(name for name in text.split(",") if name)


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(value) for value in _names(text))


def _boxes(text: str) -> tuple[tuple[int, int], ...]:
    return tuple((int(w), int(h)) for w, h in (box.split("x") for box in _names(text)))


def sweep_cases(
    uprights: dict[str, Size], widths: Sequence[int], boxes: Sequence[tuple[int, int]]
) -> list[SweepCase]:
    """Per source (name: upright size): each width below its width, then each box."""
    cases = []
    for source, (source_width, _) in uprights.items():
        sizes = [(width, None) for width in sorted(widths) if width < source_width]
        cases += [_case(source, width, height) for width, height in [*sizes, *boxes]]
    return cases


def _upright(path: Path) -> Size:
    with Image.open(path) as image:
        return oriented(image.size, exif_orientation(image))


def _case(source: str, width: int, height: int | None) -> SweepCase:
    fit = "cover"  # width only: the height follows the aspect, whatever the fit
    size = f"{width}x{height or ''}"
    title = f"{source} -> {size} {fit} JPEG"
    return SweepCase(f"s:{source}:{size}:{fit}", title, source, "jpeg", width, height, fit, JPEG)


@contextmanager
def _workers(
    scratch: Path, corpus: Path, cpu: int, cases: Sequence[SweepCase], resampling: str
) -> Iterator[tuple[workers.Worker, workers.Worker, dict[str, str]]]:
    """Both workers on ``cpu``, set up with the cases; and sharp's library versions."""
    argv = [*WORKER, str(corpus), "--resampling", resampling]
    imgedge = workers.Worker("imgedge", argv, cpu)
    try:
        imgedge.ask({"cmd": "setup", "cases": {c.key: dataclasses.asdict(c) for c in cases}})
        specs = {case.key: case.sharp_spec() for case in cases}
        sharp, versions = workers.sharp(scratch, corpus, cpu, specs)
        try:
            yield imgedge, sharp, versions
        finally:
            sharp.close()
    finally:
        imgedge.close()


def _timings(case: SweepCase, pair: tuple[workers.Worker, workers.Worker], reps: int) -> Timings:
    """Each worker's median CPU and wall-clock ms for one operation: one warm-up run each,
    then ``reps`` runs each, imgedge first in even reps and sharp first in odd ones."""
    from bench import vs_sharp

    print(f"timing {case.source} {case.label} ...", file=sys.stderr, flush=True)
    for worker in pair:
        vs_sharp._timed(worker, case, 1)
    cpu: dict[str, list[float]] = {worker.name: [] for worker in pair}
    wall: dict[str, list[float]] = {worker.name: [] for worker in pair}
    for index in range(reps):
        for worker in pair if index % 2 == 0 else pair[::-1]:
            seconds, cpu_seconds, _ = vs_sharp._timed(worker, case, 1)
            cpu[worker.name].append(1000 * cpu_seconds)
            wall[worker.name].append(1000 * seconds)
    return _medians(cpu), _medians(wall)


def _medians(values: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(each) for name, each in values.items()}


def sweep(
    cases: Sequence[SweepCase],
    pair: tuple[workers.Worker, workers.Worker],
    reps: int,
    corpus: Path,
    scratch: Path,
) -> list[Row]:
    """Each case timed, then its outputs fetched from the workers and scored in a pool of
    processes, one per CPU. Until the last case is timed, this process and the pool keep
    off the workers' CPU (if there is another one), so that they do not share it."""
    from bench import vs_sharp

    everywhere = os.sched_getaffinity(0)
    timed = os.sched_getaffinity(pair[0].process.pid)  # the CPU both workers are pinned to
    os.sched_setaffinity(0, everywhere - timed or everywhere)  # the pool inherits it
    spawn = multiprocessing.get_context("spawn")  # no copy of the workers' pipes
    pool = ProcessPoolExecutor(len(everywhere), spawn, toolchain.ensure_numpy, (scratch,))
    try:
        pending: list[tuple[SweepCase, Timings, tuple[int, int], Future[Scores]]] = []
        for case in cases:
            times = _timings(case, pair, reps)
            ours, theirs = (vs_sharp._side(worker, case, [], [], 0.0) for worker in pair)
            scores = pool.submit(_scores, case, corpus, ours.pre, theirs.pre)
            pending.append((case, times, (ours.bytes, theirs.bytes), scores))
        _spread(everywhere)
        left = sum(not scores.done() for *_, scores in pending)
        print(f"SSIM of the last {left} cases ...", file=sys.stderr, flush=True)
        return [_row(case, t, b, scores.result()) for case, t, b, scores in pending]
    finally:
        pool.shutdown(cancel_futures=True)
        os.sched_setaffinity(0, everywhere)


def _spread(cpus: set[int]) -> None:
    """This process and its children from ``multiprocessing`` (the pool) onto ``cpus``."""
    for process in multiprocessing.active_children():
        if process.pid is not None:
            os.sched_setaffinity(process.pid, cpus)
    os.sched_setaffinity(0, cpus)


def _scores(case: SweepCase, corpus: Path, ours: Image.Image, theirs: Image.Image) -> Scores:
    """SSIM of imgedge's and of sharp's pixels against the reference (in a pool process).
    Sizes must agree, but for a height that sharp rounds the other way (a width alone on a
    source whose height at that scale is n + 0.5 pixels, give or take its float error):
    sharp's SSIM is then None, there being no reference of its size to compare it with."""
    from bench.ssim import ssim  # numpy is importable only once toolchain put it there

    wanted = reference(case, corpus)
    sizes = {"imgedge": ours.size, "sharp": theirs.size, "reference": wanted.size}
    if ours.size != wanted.size or not (theirs.size == wanted.size or _rounding(case, sizes)):
        raise RuntimeError(f"{case.key}: output sizes differ: {sizes}")
    ssim_theirs = ssim(theirs, wanted) if theirs.size == wanted.size else None
    return wanted.size, theirs.size, ssim(ours, wanted), ssim_theirs


def _rounding(case: Case, sizes: dict[str, Size]) -> bool:
    """Whether sharp's size is the reference's but for the rounding of a free height."""
    (width, height), (sharp_width, sharp_height) = sizes["reference"], sizes["sharp"]
    return case.height is None and width == sharp_width and abs(height - sharp_height) == 1


def _row(case: SweepCase, times: Timings, byte_counts: tuple[int, int], scores: Scores) -> Row:
    (cpu, wall), ((width, height), sharp_size, ssim_ours, ssim_theirs) = times, scores
    return Row(
        key=case.key,
        source=case.source,
        request=case.label,
        width=width,
        height=height,
        sharp_width=sharp_size[0],
        sharp_height=sharp_size[1],
        ssim_pre_imgedge=ssim_ours,
        ssim_pre_sharp=ssim_theirs,
        margin=None if ssim_theirs is None else ssim_ours - ssim_theirs,
        imgedge_ms=cpu["imgedge"],
        sharp_ms=cpu["sharp"],
        ratio=cpu["sharp"] / cpu["imgedge"],
        imgedge_wall_ms=wall["imgedge"],
        sharp_wall_ms=wall["sharp"],
        bytes_imgedge=byte_counts[0],
        bytes_sharp=byte_counts[1],
    )


def table(rows: Sequence[Row]) -> str:
    lines = [("source", "size", "output", "SSIM i", "SSIM s", "margin", "i ms", "s ms", "ratio")]
    for r in rows:
        lines.append(
            (
                r.source,
                r.request,
                f"{r.width}x{r.height}",
                f"{r.ssim_pre_imgedge:.4f}",
                "-" if r.ssim_pre_sharp is None else f"{r.ssim_pre_sharp:.4f}",
                "-" if r.margin is None else f"{r.margin:+.4f}",
                f"{r.imgedge_ms:.1f}",
                f"{r.sharp_ms:.1f}",
                f"{r.ratio:.2f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    left = 3  # source, size and output read left-aligned; the numbers right-aligned
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i < left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def summary(rows: Sequence[Row]) -> str:
    """The worst margin and where, the rows where imgedge's SSIM is below sharp's, the
    geometric mean of the speed ratios; then a line for each row without a margin."""
    if not rows:
        return "no rows: no width is below any source's width"
    margins = [(r.margin, r) for r in rows if r.margin is not None]
    speed = statistics.geometric_mean(r.ratio for r in rows)
    line = f"speed ratio sharp/imgedge: geometric mean {speed:.2f} (>1: imgedge faster)"
    if margins:
        worst, where = min(margins, key=lambda pair: pair[0])
        behind = sum(margin < 0 for margin, _ in margins)
        line = (
            f"worst SSIM margin {worst:+.4f} ({where.source} {where.request}); imgedge's SSIM "
            f"below sharp's in {behind} of {len(margins)} rows; {line}"
        )
    unscored = [
        f"{r.source} {r.request}: sharp made {r.sharp_width}x{r.sharp_height}, not "
        f"{r.width}x{r.height} (a height of n + 0.5 rounded the other way): no SSIM for it"
        for r in rows
        if r.margin is None
    ]
    return "\n".join([line, *unscored])


def serve(corpus: Path, config: Config) -> None:
    """The imgedge worker of this sweep: ``bench.imgedge_worker``'s protocol and its ``run``
    and ``outputs``, with the cases sent first, as ``{"cmd": "setup", "cases": {key: the
    fields of a SweepCase}}`` (the sharp worker's setup), instead of ``bench.cases.ALL``."""
    cases: dict[str, SweepCase] = {}
    sources: dict[str, bytes] = {}
    for line in sys.stdin:
        message = json.loads(line)
        answer: dict[str, Any] = {}
        if message["cmd"] == "quit":
            break
        if message["cmd"] == "setup":
            cases = {key: SweepCase(**fields) for key, fields in message["cases"].items()}
        else:
            case = cases[message["case"]]
            data = sources.setdefault(case.source, (corpus / case.source).read_bytes())
            if message["cmd"] == "run":
                answer = imgedge_worker.run(case, data, int(message["n"]), config)
            else:
                answer = imgedge_worker.outputs(case, data, config)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
