"""A miss end to end through the local stack, against the transform alone, in the same run.

    python -m bench.miss [--rounds N] [--cases a,b,c,d,e,w960] [--memory MB] [--json FILE]

Starts ``imgedge serve`` (embedded S3, the CloudFront emulator with the edge router, the
function URL and the resizer's workers) on free ports of 127.0.0.1, without samples and
with the benchmark's configuration (``bench.cases.CONFIG``: imgedge's defaults, 588 among
the sizes), its resizer held to ``--memory`` MB (the deployment's default, 1,769, unless
given: a settings file says so to the stack), which gives its renders their thread count
(``codecs.threads``: one thread up to 1,769 MB); the transform alone renders on as many.
Then, for each round and each case of ``bench.cases.CASES`` (the sources and
outputs of ``bench.vs_sharp``, and ``EXTRA``'s 960 px wide WebP):

1. a fresh copy of the case's source is uploaded under a key of its own, and the round
   waits until the upload's own purge has run (its two index listings appear in the S3
   server's log), so that no purge runs while the round is timed and none takes a
   derivative back;
2. interleaved (which goes first alternates by round): the transform alone, in this
   process (``regional_resizer.pipeline.render`` on the same bytes and request), and the
   miss, a GET of the viewer URL of that fresh key through the edge, which must answer
   200 ``X-Cache: Miss`` with an image of the transform's size.

Each miss is fenced in the S3 server's request log (``python -m moto.server`` logs one
line per request) by an unsigned request of the bench's own before and after it; the
S3 calls of the miss are the bucket requests between the fences, less the first one, the
origin group's GET of the derivative from the derivatives bucket (its primary origin). The
rest is the resizer's: counted, never assumed.

Reported per case: the median end-to-end miss time over the median transform time (the
ratio; the target is at most 1.15 for outputs 640 px wide or more), the output width, the
S3 calls per miss (the most common count; every round's is kept), the resizer's
Server-Timing phases (medians) and whether the miss's bytes are the transform's. Two
warm-up rounds (one per resizer worker) are not counted. ``--json FILE`` writes
``{"cases": {NAME: {"width", "ratio", "s3_calls", ...}}}``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from PIL import Image

from bench.cases import AVIF, CASES, CONFIG, PHOTO, WEBP, Case
from bench.machine import cpu_model
from bench.servers import ImgedgeStack, get
from infra.functions import RESIZER
from infra.local.credentials import DERIVATIVES_BUCKET, ORIGINALS_BUCKET
from infra.package import config_toml
from regional_resizer import codecs
from regional_resizer.pipeline import render
from shared.contract import ImageRequest
from shared.layout import index_prefix, overlay_prefix
from shared.urls import viewer_path
from tests.conftest import CORPUS

DEFAULT_ROUNDS = 11
WARM_UP_ROUNDS = 2  # the stack's two resizer workers each pay their first render once
TARGET_RATIO = 1.15
TARGET_MIN_WIDTH = 640
PURGE_WAIT_S = 30.0
LOG_WAIT_S = 5.0
FENCE_PREFIX = "_bench-miss-fence"
BUCKETS = (ORIGINALS_BUCKET, DERIVATIVES_BUCKET)
PHASES = ("s3-get", "decode", "resize", "encode", "s3-put")

FLOOR = "floor"
EXTRA = {
    "w960": Case("w960", "JPEG 2725x2225 -> 960w WebP", PHOTO, "webp", 960, None, "cover", WEBP),
    FLOOR: Case(
        FLOOR, "JPEG 128x128 gray -> 128 px AVIF", "grayscale.jpg", "avif", 128, 128, "inside", AVIF
    ),
}
"""Beyond vs_sharp's cases: a larger output, where the fixed cost of a miss weighs less, and
one that measures that fixed cost (``with_floor``): next to nothing to decode or resize,
then an encode of about 13 ms, long enough for the index marker's write (begun once the
original has decoded) to be over before the derivative's, as in the other cases."""
ALL = CASES | EXTRA


# --- the S3 server's request log -----------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_REQUEST_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3})')


@dataclass(frozen=True)
class Logged:
    """One request in the S3 server's log."""

    method: str
    target: str  # path and query, as sent
    status: int

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path)

    @property
    def bucket(self) -> str:
        return self.path.lstrip("/").partition("/")[0]

    @property
    def key(self) -> str:
        return self.path.lstrip("/").partition("/")[2]

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def parse_log(text: str) -> list[Logged]:
    """Every request line of a werkzeug request log (colour codes and other lines ignored)."""
    found = []
    for line in text.splitlines():
        match = _REQUEST_LINE.search(_ANSI.sub("", line))
        if match:
            found.append(Logged(match[1], match[2], int(match[3])))
    return found


def fence_key(tag: str) -> str:
    return f"{FENCE_PREFIX}/{tag}"


def between_fences(requests: Sequence[Logged], tag: str) -> list[Logged]:
    """The requests logged between the fences ``tag/start`` and ``tag/end``; ValueError if
    either is missing."""
    keys = [request.key if request.bucket == ORIGINALS_BUCKET else "" for request in requests]
    start, end = fence_key(f"{tag}/start"), fence_key(f"{tag}/end")
    if start not in keys or end not in keys:
        raise ValueError(f"fences {tag} not both in the log")
    first = keys.index(start)
    return list(requests[first + 1 : keys.index(end, first)])


def resizer_calls(window: Iterable[Logged], derivative_key: str) -> list[Logged]:
    """The S3 calls the resizer made for one miss, from the requests logged during it: the
    requests on the buckets (not SQS's), less the first, which must be the origin group's
    GET of the derivative from its primary origin."""
    calls = [request for request in window if request.bucket in BUCKETS]
    first = calls[0] if calls else None
    if (
        first is None
        or first.method != "GET"
        or first.bucket != DERIVATIVES_BUCKET
        or first.key != derivative_key
    ):
        raise ValueError(f"the miss did not start with the origin's GET of {derivative_key}")
    return calls[1:]


def purged(requests: Iterable[Logged], source: str) -> bool:
    """Whether the purge of ``source``'s upload has read both of its index prefixes."""
    listed = {
        request.query.get("prefix")
        for request in requests
        if request.bucket == DERIVATIVES_BUCKET and request.method == "GET" and not request.key
    }
    return {index_prefix(source), overlay_prefix(source)} <= listed


class S3Log:
    """The embedded S3 server's log, read from where it stood when this was made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def requests(self) -> list[Logged]:
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            return parse_log(log.read().decode("utf-8", "replace"))

    def wait_for(self, done: Any, what: str, timeout_s: float) -> list[Logged]:
        """The requests logged so far, once ``done(requests)`` holds."""
        deadline = time.monotonic() + timeout_s
        while True:
            requests = self.requests()
            if done(requests):
                return requests
            if time.monotonic() > deadline:
                raise RuntimeError(f"not in the S3 server's log after {timeout_s:g} s: {what}")
            time.sleep(0.02)


def send_fence(s3_endpoint: str, tag: str) -> None:
    """An unsigned HEAD of a key nobody writes: one line in the log, whatever it answers."""
    parts = urlsplit(s3_endpoint)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("HEAD", f"/{ORIGINALS_BUCKET}/{fence_key(tag)}")
        connection.getresponse().read()
    finally:
        connection.close()


# --- one case ------------------------------------------------------------------------------


@dataclass
class CaseRuns:
    case: Case
    source_bytes: bytes
    miss_ms: list[float] = field(default_factory=list)
    transform_ms: list[float] = field(default_factory=list)
    s3_calls: list[int] = field(default_factory=list)
    s3_requests: list[str] = field(default_factory=list)  # the last miss's, in order
    timings: dict[str, list[float]] = field(default_factory=dict)
    width: int = 0
    height: int = 0
    same_bytes: list[bool] = field(default_factory=list)
    rendered: bytes = b""  # the transform's output, the last time it ran

    def summary(self) -> dict[str, Any]:
        miss, transform = statistics.median(self.miss_ms), statistics.median(self.transform_ms)
        return summarise(
            width=self.width,
            height=self.height,
            miss_ms=self.miss_ms,
            transform_ms=self.transform_ms,
            s3_calls=self.s3_calls,
        ) | {
            "title": self.case.title,
            "s3_requests": self.s3_requests,
            "server_timing_ms": {
                name: statistics.median(values) for name, values in self.timings.items()
            },
            "overhead_ms": miss - transform,
            "same_bytes": all(self.same_bytes),
        }


def summarise(
    *,
    width: int,
    height: int,
    miss_ms: Sequence[float],
    transform_ms: Sequence[float],
    s3_calls: Sequence[int],
) -> dict[str, Any]:
    """A case's numbers: the three the JSON must have (``width``, ``ratio``, ``s3_calls``)
    and the distributions behind them."""
    miss, transform = statistics.median(miss_ms), statistics.median(transform_ms)
    calls = Counter(s3_calls).most_common(1)[0][0] if s3_calls else 0
    return {
        "width": int(width),
        "ratio": miss / transform,
        "s3_calls": int(calls),
        "height": int(height),
        "rounds": len(miss_ms),
        "miss_ms": miss,
        "miss_ms_range": [min(miss_ms), max(miss_ms)],
        "transform_ms": transform,
        "transform_ms_range": [min(transform_ms), max(transform_ms)],
        "round_ratios": [m / t for m, t in zip(miss_ms, transform_ms, strict=True)],
        "round_overhead_ms": statistics.median(
            m - t for m, t in zip(miss_ms, transform_ms, strict=True)
        ),
        "round_ratio_median": statistics.median(
            m / t for m, t in zip(miss_ms, transform_ms, strict=True)
        ),
        "s3_calls_per_round": list(s3_calls),
        "target": width < TARGET_MIN_WIDTH or miss / transform <= TARGET_RATIO,
    }


def server_timing(header: str) -> dict[str, float]:
    """``name;dur=ms, ...`` -> {name: ms}."""
    found = {}
    for entry in header.split(","):
        name, _, rest = entry.strip().partition(";")
        for part in rest.split(";"):
            key, _, value = part.strip().partition("=")
            if key == "dur":
                with contextlib.suppress(ValueError):
                    found[name] = float(value)
    return found


class MissRun:
    """The stack and the cases of one run."""

    def __init__(self, stack: ImgedgeStack, cases: Sequence[Case], memory_mb: int) -> None:
        self.stack = stack
        self.runs = {
            case.key: CaseRuns(case, (CORPUS / case.source).read_bytes()) for case in cases
        }
        self.threads = codecs.threads(CONFIG.threads, str(memory_mb))  # the resizer's count
        self.config = replace(CONFIG, threads=self.threads)
        self.nonce = uuid.uuid4().hex[:8]
        from infra.local.stack import s3_client

        self.s3 = s3_client(stack.s3)
        self.log = S3Log(stack.data_dir / "s3.log")

    def round(self, index: int, *, counted: bool) -> None:
        runs = list(self.runs.values())
        runs = runs[index % len(runs) :] + runs[: index % len(runs)]  # who goes first rotates
        sources = {run.case.key: f"bench-miss/{self.nonce}/{index}/{run.case.key}/{run.case.source}"
                   for run in runs}  # fmt: skip
        for run in runs:
            self.s3.put_object(
                Bucket=ORIGINALS_BUCKET, Key=sources[run.case.key], Body=run.source_bytes
            )
        self.log.wait_for(
            lambda logged: all(purged(logged, source) for source in sources.values()),
            "the uploads' own purges",
            PURGE_WAIT_S,
        )
        for run in runs:
            first = ("transform", "miss") if index % 2 == 0 else ("miss", "transform")
            for what in first:
                if what == "transform":
                    self._transform(run, counted=counted)
                else:
                    self._miss(run, sources[run.case.key], f"{index}/{run.case.key}", counted)

    def _transform(self, run: CaseRuns, *, counted: bool) -> None:
        request = run.case.request(self.config)
        started = time.perf_counter()
        rendition = render(run.source_bytes, request, self.config)
        elapsed = (time.perf_counter() - started) * 1000
        run.width, run.height = rendition.width, rendition.height
        run.rendered = rendition.body
        if counted:
            run.transform_ms.append(elapsed)

    def _miss(self, run: CaseRuns, source: str, tag: str, counted: bool) -> None:
        case = run.case
        request = ImageRequest.canonical(
            source, fmt=case.fmt, width=case.width, height=case.height, fit=case.fit,
            config=CONFIG,
        )  # fmt: skip
        url = self.stack.edge + viewer_path(request, CONFIG)
        send_fence(self.stack.s3, f"{tag}/start")
        started = time.perf_counter()
        status, headers, body = get(url)
        elapsed = (time.perf_counter() - started) * 1000
        send_fence(self.stack.s3, f"{tag}/end")
        if status != 200 or not headers.get("x-cache", "").startswith("Miss"):
            raise RuntimeError(f"{url}: {status} {headers.get('x-cache')}: {body[:200]!r}")
        with Image.open(io.BytesIO(body)) as image:
            size = image.size
        if size != (run.width, run.height) and run.width:
            raise RuntimeError(f"{url}: {size}, the transform made {(run.width, run.height)}")
        window = self.log.wait_for(
            lambda logged: bool(_fenced(logged, tag)), f"the fences of {tag}", LOG_WAIT_S
        )
        calls = resizer_calls(between_fences(window, tag), request.key)
        if not counted:
            return
        run.miss_ms.append(elapsed)
        run.s3_calls.append(len(calls))
        run.s3_requests = [str(call) for call in calls]
        for name, ms in server_timing(headers.get("server-timing", "")).items():
            run.timings.setdefault(name, []).append(ms)
        run.same_bytes.append(body == run.rendered)


def _fenced(logged: Sequence[Logged], tag: str) -> bool:
    try:
        between_fences(logged, tag)
    except ValueError:
        return False
    return True


# --- the report ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "cpu": cpu_model() or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def report_json(cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What ``--json`` writes: ``{"cases": {NAME: {"width", "ratio", "s3_calls", ...}}}``."""
    for name, numbers in cases.items():
        missing = {"width", "ratio", "s3_calls"} - set(numbers)
        if missing:
            raise ValueError(f"case {name} lacks {sorted(missing)}")
    return {
        "cases": {
            name: {
                "width": int(numbers["width"]),
                "ratio": float(numbers["ratio"]),
                "s3_calls": int(numbers["s3_calls"]),
                **{k: v for k, v in numbers.items() if k not in ("width", "ratio", "s3_calls")},
            }
            for name, numbers in cases.items()
        }
    }


def table(cases: dict[str, dict[str, Any]]) -> str:
    columns = ("case", "output", "miss ms", "transform ms", "ratio", "least", "S3 calls",
               "s3-get", "s3-put", "other ms", "target")  # fmt: skip
    rows = [columns]
    for name, r in cases.items():
        timing = r.get("server_timing_ms", {})
        resizer = sum(timing.get(phase, 0.0) for phase in PHASES)
        rows.append(
            (
                name,
                f"{r['width']}x{r['height']}",
                f"{r['miss_ms']:.1f} ({r['miss_ms_range'][0]:.0f}-{r['miss_ms_range'][1]:.0f})",
                f"{r['transform_ms']:.1f} ({r['transform_ms_range'][0]:.0f}-"
                f"{r['transform_ms_range'][1]:.0f})",
                f"{r['ratio']:.2f} ({min(r['round_ratios']):.2f}-{max(r['round_ratios']):.2f})",
                f"{r['least_ratio']:.2f}" if "least_ratio" in r else "-",
                str(r["s3_calls"]),
                f"{timing.get('s3-get', 0.0):.1f}",
                f"{timing.get('s3-put', 0.0):.1f}",
                f"{r['miss_ms'] - resizer:.1f}",
                ("ok" if r["target"] else "MISSED") if r["width"] >= TARGET_MIN_WIDTH else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    notes = [
        "miss: GET through the edge, end to end; transform: pipeline.render in-process; "
        "medians (range) over the rounds; ratio = median miss / median transform (range: "
        "each round's own)",
        "s3-get, s3-put: the resizer's Server-Timing (medians); other: the miss less all of "
        "the resizer's phases (edge, origin group, function URL, worker, HTTP)",
        f"target: ratio <= {TARGET_RATIO} for outputs {TARGET_MIN_WIDTH} px wide or more",
        f"least: 1 + a miss's fixed cost (the {FLOOR} case's miss less its transform, median "
        "over its rounds) over the case's transform",
    ]
    first = next(iter(cases.values()), {})
    if "transform_threads" in first:
        notes.append(
            f"resizer at {first['resizer_memory_mb']} MB: both sides render on "
            f"{first['transform_threads']} thread(s)"
        )
    titles = [f"{name}: {r['title']}" for name, r in cases.items() if "title" in r]
    return "\n".join([*lines, "", *notes, *titles])


def run(
    rounds: int, case_keys: Sequence[str], scratch: Path, memory_mb: int = RESIZER.memory_mb
) -> dict[str, dict[str, Any]]:
    config_file = scratch / "bench-config.toml"
    config_file.write_bytes(config_toml(CONFIG))
    settings_file = scratch / "bench-settings.toml"
    settings_file.write_text(f"resizer_memory_mb = {memory_mb}\n")
    extra = ("--no-samples", "--config", str(config_file), "--settings", str(settings_file))
    with ImgedgeStack(scratch / "data", *extra) as stack:
        miss_run = MissRun(stack, [ALL[key] for key in case_keys], memory_mb)
        for index in range(WARM_UP_ROUNDS + rounds):
            counted = index >= WARM_UP_ROUNDS
            print(f"round {index - WARM_UP_ROUNDS + 1 if counted else 'warm-up'} ...",
                  file=sys.stderr, flush=True)  # fmt: skip
            miss_run.round(index, counted=counted)
        threads = {"transform_threads": miss_run.threads, "resizer_memory_mb": memory_mb}
        return with_floor({key: miss_run.runs[key].summary() | threads for key in case_keys})


def with_floor(cases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each case with ``least_ratio``: its ratio had its miss cost its transform plus the
    fixed cost of a miss, which the floor case measures (the median of its rounds' miss less
    transform): the edge, the origin group's read, the function URL, the handler, and the
    S3 calls that must stay in a row. No overlap takes a ratio much below it."""
    floor = cases.get(FLOOR)
    if floor is None:
        return cases
    # Each round's miss less its transform, which ran next to it: steadier than the
    # difference of the two medians on a shared machine.
    fixed = floor["round_overhead_ms"]
    return {
        name: numbers | {"least_ratio": 1 + fixed / numbers["transform_ms"]}
        for name, numbers in cases.items()
    }


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.miss",
        description="Misses through the local stack against the transform alone.",
    )
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument(
        "--cases", default=",".join(ALL), help=f"comma-separated, of {', '.join(ALL)}"
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=RESIZER.memory_mb,
        metavar="MB",
        help="the resizer's memory, which sets its threads and the transform's "
        f"(default {RESIZER.memory_mb})",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the numbers here")
    args = parser.parse_args(argv)
    if args.rounds < 1 or any(key not in ALL for key in args.cases.split(",")):
        parser.error("--rounds must be positive and --cases name known cases")
    if not 128 <= args.memory <= 10_240:
        parser.error("--memory is 128..10240 MB, as Lambda allows")
    return args


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    command = "python -m bench.miss " + " ".join(sys.argv[1:] if argv is None else argv)
    environment = machine()
    scratch = Path(tempfile.mkdtemp(prefix="imgedge-miss-"))
    try:
        cases = run(args.rounds, args.cases.split(","), scratch, args.memory)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{command.strip()}  ({time.strftime('%Y-%m-%d')}; {environment['cpu']}, "
          f"{environment['cores']} cores, Python {environment['python']}, load average at "
          f"start {environment['load_average'][0]})")  # fmt: skip
    print(table(cases))
    if args.json:
        args.json.write_text(json.dumps(report_json(cases), indent=2) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
