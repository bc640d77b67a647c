"""imgedge against sharp on sharp's benchmark photo and friends, interleaved; one thread and
one CPU each, or ``--threads N`` and N CPUs each.

    python -m bench.vs_sharp [--rounds N] [--json FILE] [--cases a,c5] [--scratch DIR]
                             [--resampling balanced|lanczos] [--threads N]

For each case: both workers warm up, then N rounds alternate between them (imgedge first
in even rounds, sharp first in odd ones), each round timing the same number of operations
(decode, resize, encode of one output from bytes in memory). Reported: the median and the
range of operations per second over the rounds; the ratio imgedge/sharp of each round's
pair, its median and range; each worker's peak RSS during the case; the output bytes; SSIM
against the full-quality reference (``reference``) of the pixels before encoding and of the
decoded output. Operations per second are counted on each worker's CPU time (all its
threads), which other processes on a shared machine do not inflate; on wall-clock time too
(``*_wall`` in the JSON), which they do. With ``--threads N`` (N > 1) the point is time
to the answer, which CPU time does not count: the speed target is on wall-clock time. The
targets: ratio >= 1, SSIM before encoding >= sharp's, bytes within 5% of sharp's, peak RSS
at most half of sharp's.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import PIL
from PIL import Image, features

from bench import toolchain, workers
from bench.cases import ALL, CASES, SHARP_VERSION, VARIANTS, Case
from bench.machine import cpu_model
from bench.reference import reference
from tests.conftest import CORPUS

DEFAULT_ROUNDS = 11
ROUND_SECONDS = 0.4  # each side's share of a round, which sets the operations per round
BYTES_TOLERANCE = 0.05
MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


@dataclass(frozen=True)
class Side:
    ops_per_s: list[float]  # one value per round, on the worker's CPU time
    ops_per_s_wall: list[float]  # the same rounds on wall-clock time
    rss_mb: float
    bytes: int
    pre: Image.Image  # the pixels the encoder got
    post: Image.Image  # the encoded output, decoded


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    scratch = Path(args.scratch).resolve()
    toolchain.ensure_sharp(scratch)
    toolchain.ensure_numpy(scratch)
    cpus = workers.pinned_cpus(args.threads)
    results: dict[str, dict[str, Any]] = {}
    versions: dict[str, str] = {}
    for case in (ALL[key] for key in args.cases.split(",")):
        # A fresh pair per case: each peak RSS is that case's, not the largest so far.
        imgedge = workers.imgedge(CORPUS, cpus, args.resampling, args.threads)
        sharp, versions = workers.sharp(
            scratch, CORPUS, cpus, {case.key: case.sharp_spec()}, args.threads
        )
        try:
            results[case.key] = measure(case, imgedge, sharp, args.rounds, args.threads)
        finally:
            imgedge.close()
            sharp.close()
    report = {
        "command": "python -m bench.vs_sharp " + " ".join(argv or sys.argv[1:]),
        "environment": _environment(versions, max(cpus)),
        "rounds": args.rounds,
        "resampling": args.resampling,
        **({"threads": args.threads} if args.threads > 1 else {}),
        "cases": {key: value for key, value in results.items() if key in CASES},
        "variants": {key: value for key, value in results.items() if key in VARIANTS},
    }
    print(table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.vs_sharp", description=__doc__)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--cases", default=",".join(ALL), help=f"comma-separated, of {', '.join(ALL)}"
    )
    workers.add_arguments(parser, threads=True)
    args = parser.parse_args(argv)
    if args.rounds < 1 or any(key not in ALL for key in args.cases.split(",")):
        parser.error("--rounds must be positive and --cases name known cases")
    if args.threads < 1:
        parser.error("--threads must be positive")
    return args


def measure(
    case: Case, imgedge: workers.Worker, sharp: workers.Worker, rounds: int, threads: int = 1
) -> dict[str, Any]:
    print(f"{case.key}: {case.title} ...", file=sys.stderr, flush=True)
    pair = (imgedge, sharp)
    warm = [max(_timed(worker, case, 1)[0] for _ in range(2)) for worker in pair]
    n = max(1, round(ROUND_SECONDS / max(warm)))
    for worker in pair:
        worker.reset_peak()
    rates: dict[str, list[float]] = {worker.name: [] for worker in pair}
    wall: dict[str, list[float]] = {worker.name: [] for worker in pair}
    byte_counts: dict[str, int] = {}
    for index in range(rounds):
        for worker in pair if index % 2 == 0 else pair[::-1]:
            seconds, cpu_seconds, byte_counts[worker.name] = _timed(worker, case, n)
            rates[worker.name].append(n / cpu_seconds)
            wall[worker.name].append(n / seconds)
    peaks = {worker.name: worker.peak_mb() for worker in pair}
    sides = {
        worker.name: _side(worker, case, rates[worker.name], wall[worker.name], peaks[worker.name])
        for worker in pair
    }
    return summary(case, sides, reference(case, CORPUS), n, byte_counts, threads)


def _timed(worker: workers.Worker, case: Case, n: int) -> tuple[float, float, int]:
    """Wall-clock and CPU seconds of ``n`` operations, and the bytes of the output."""
    answer = worker.ask({"cmd": "run", "case": case.key, "n": n})
    return sum(answer["seconds"]), float(answer["cpu_seconds"]), int(answer["bytes"])


def _side(
    worker: workers.Worker, case: Case, rates: list[float], wall: list[float], peak: float
) -> Side:
    answer = worker.ask({"cmd": "outputs", "case": case.key})
    encoded = base64.b64decode(answer["encoded"])
    size = (answer["width"], answer["height"])
    pre = Image.frombytes(MODES[answer["channels"]], size, base64.b64decode(answer["raw"]))
    post = Image.open(io.BytesIO(encoded))
    post.load()
    return Side(rates, wall, peak, len(encoded), pre, post)


def summary(
    case: Case,
    sides: dict[str, Side],
    wanted: Image.Image,
    n: int,
    timed: dict[str, int],
    threads: int = 1,
) -> dict[str, Any]:
    from bench.ssim import ssim  # numpy is importable only once toolchain put it there

    ours, theirs = sides["imgedge"], sides["sharp"]
    for name, side in sides.items():
        if side.pre.size != wanted.size or side.post.size != wanted.size:
            raise RuntimeError(f"{case.key}: {name} made {side.post.size}, not {wanted.size}")
        if side.bytes != timed[name]:
            raise RuntimeError(f"{case.key}: {name}'s output changed size between calls")
    ratios = [a / b for a, b in zip(ours.ops_per_s, theirs.ops_per_s, strict=True)]
    wall = [a / b for a, b in zip(ours.ops_per_s_wall, theirs.ops_per_s_wall, strict=True)]
    result: dict[str, Any] = {
        "title": case.title,
        "size": list(wanted.size),
        "ops_per_round": n,
        "imgedge_ops_s": statistics.median(ours.ops_per_s),
        "imgedge_ops_s_range": [min(ours.ops_per_s), max(ours.ops_per_s)],
        "sharp_ops_s": statistics.median(theirs.ops_per_s),
        "sharp_ops_s_range": [min(theirs.ops_per_s), max(theirs.ops_per_s)],
        "ratio_median": statistics.median(ratios),
        "ratio_range": [min(ratios), max(ratios)],
        "imgedge_ops_s_wall": statistics.median(ours.ops_per_s_wall),
        "sharp_ops_s_wall": statistics.median(theirs.ops_per_s_wall),
        "ratio_median_wall": statistics.median(wall),
        "ratio_range_wall": [min(wall), max(wall)],
        "ssim_pre_imgedge": ssim(ours.pre, wanted),
        "ssim_pre_sharp": ssim(theirs.pre, wanted),
        "ssim_post_imgedge": ssim(ours.post, wanted),
        "ssim_post_sharp": ssim(theirs.post, wanted),
        "bytes_imgedge": ours.bytes,
        "bytes_sharp": theirs.bytes,
        "bytes_diff_pct": 100 * (ours.bytes / theirs.bytes - 1),
        "rss_mb_imgedge": ours.rss_mb,
        "rss_mb_sharp": theirs.rss_mb,
    }
    result["targets"] = {
        "speed": result["ratio_median" if threads == 1 else "ratio_median_wall"] >= 1.0,
        "ssim": result["ssim_pre_imgedge"] >= result["ssim_pre_sharp"],
        "bytes": abs(result["bytes_diff_pct"]) <= 100 * BYTES_TOLERANCE,
        "rss": result["rss_mb_imgedge"] <= result["rss_mb_sharp"] / 2,
    }
    return result


def table(report: dict[str, Any]) -> str:
    env = report["environment"]
    head = (
        f"imgedge (Pillow {env['pillow']}) vs sharp {env['sharp']['sharp']} "
        f"(libvips {env['sharp']['vips']}); resampling {report['resampling']}; "
        + (
            f"{threads} threads on {threads} CPUs each (speed target on wall time), "
            if (threads := report.get("threads", 1)) > 1
            else "one CPU each, "
        )
        + f"{report['rounds']} interleaved "
        f"rounds; {env['cpu_model']}; op/s on CPU time, median (range)"
    )
    columns = (
        "case",
        "imgedge op/s",
        "sharp op/s",
        "ratio",
        "ratio wall",
        "SSIM pre i/s",
        "SSIM post i/s",
        "bytes i/s",
        "RSS MB i/s",
        "targets",
    )
    rows = [columns]
    for key, r in (report["cases"] | report["variants"]).items():
        marks = "".join(
            ("+" if ok else "-") + name[0] for name, ok in r["targets"].items()
        )  # e.g. +s+s+b-r: speed, ssim, bytes, rss
        rows.append(
            (
                key,
                _rate(r["imgedge_ops_s"], r["imgedge_ops_s_range"]),
                _rate(r["sharp_ops_s"], r["sharp_ops_s_range"]),
                f"{r['ratio_median']:.2f} ({r['ratio_range'][0]:.2f}-{r['ratio_range'][1]:.2f})",
                f"{r['ratio_median_wall']:.2f}",
                f"{r['ssim_pre_imgedge']:.4f}/{r['ssim_pre_sharp']:.4f}",
                f"{r['ssim_post_imgedge']:.4f}/{r['ssim_post_sharp']:.4f}",
                f"{r['bytes_imgedge']}/{r['bytes_sharp']} ({r['bytes_diff_pct']:+.1f}%)",
                f"{r['rss_mb_imgedge']:.0f}/{r['rss_mb_sharp']:.0f}",
                marks,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    titles = [f"{key}: {r['title']}" for key, r in (report["cases"] | report["variants"]).items()]
    return "\n".join([head, "", *lines, "", *titles])


def _rate(median: float, bounds: list[float]) -> str:
    return f"{median:.1f} ({bounds[0]:.1f}-{bounds[1]:.1f})"


def _environment(sharp_versions: dict[str, str], cpu: int) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "pinned_cpu": cpu,
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "pillow_libs": {
            name: features.version(name)
            for name in ("libjpeg_turbo", "webp", "avif", "zlib_ng", "littlecms2")
        },
        "sharp": sharp_versions,
        "sharp_pinned": SHARP_VERSION,
    }


if __name__ == "__main__":
    main()
