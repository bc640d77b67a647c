"""What a cold start of the resizer pays before its first byte: importing the handler, as
Lambda's init imports it, against the naive baseline of a function that imports boto3 and
Pillow.

    python -m bench.coldstart [--zip FILE] [--rounds N] [--json FILE] [--cache-dir DIR]

``regional_resizer.zip`` is built for this machine (``infra.package``, wheels for this
processor, Python and glibc; ``--zip`` takes one already built) and unzipped into a
temporary folder, Lambda's ``/var/task``. Each measurement is a fresh ``python -I -B``
process (isolated from the environment and the user's site, and writing no bytecode, as
``/var/task`` is read-only and the zip holds none) whose first ``sys.path`` entry is that
folder, with the rest of this interpreter's path after it as Lambda's runtime folder (its
boto3) comes after the function's code. The process gets a deployed function's environment
(the buckets, a region, credentials), so the handler's init does all it does on Lambda, and
times the process's CPU time (``time.process_time``: what other work on a shared machine
does not inflate; the modules are read from the page cache, warmed first) spent in:

- handler: ``import regional_resizer.handler``;
- baseline: ``import boto3, PIL.Image`` (Pillow from the zip, boto3 from the runtime).

The two alternate (the order swaps each round), one unmeasured round of each first;
reported are the medians over ``--rounds`` rounds and their ratio. ``--json FILE`` writes
``{"handler_ms": ..., "baseline_ms": ..., "ratio": ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from infra.package import Target, build_resizer_zip, default_cache_dir
from shared.config import load_config

HANDLER = "import regional_resizer.handler"
BASELINE = "import boto3, PIL.Image"
ROUNDS = 15
TARGET_RATIO = 0.6
FUNCTION_ENV = {
    "ORIGINALS_BUCKET": "originals",
    "DERIVATIVES_BUCKET": "derivatives",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "token",
    "AWS_LAMBDA_FUNCTION_NAME": "imgedge-resizer",
    "TZ": ":UTC",
    "LANG": "en_US.UTF-8",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
}

CHILD = """
import sys, time
sys.path.insert(0, {task!r})
started = time.process_time()
{statement}
print((time.process_time() - started) * 1000)
"""


def import_ms(task: Path, statement: str) -> float:
    """Milliseconds ``statement`` takes in a fresh isolated interpreter over ``task``."""
    done = subprocess.run(
        [sys.executable, "-I", "-B", "-c", CHILD.format(task=str(task), statement=statement)],
        env={**FUNCTION_ENV, "LAMBDA_TASK_ROOT": str(task)},
        cwd=task,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{statement!r} failed:\n{done.stderr[-3000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def measure(task: Path, rounds: int) -> dict[str, float]:
    """Median import times of the handler and the baseline, interleaved."""
    import_ms(task, HANDLER)  # warm the page cache; not counted
    import_ms(task, BASELINE)
    times: dict[str, list[float]] = {HANDLER: [], BASELINE: []}
    for round_ in range(rounds):
        order = (HANDLER, BASELINE) if round_ % 2 == 0 else (BASELINE, HANDLER)
        for statement in order:
            times[statement].append(import_ms(task, statement))
    handler_ms = statistics.median(times[HANDLER])
    baseline_ms = statistics.median(times[BASELINE])
    return {
        "handler_ms": round(handler_ms, 1),
        "baseline_ms": round(baseline_ms, 1),
        "ratio": round(handler_ms / baseline_ms, 3),
    }


def build_zip(out_dir: Path, cache_dir: Path) -> Path:
    path, _ = build_resizer_zip(
        load_config(), Target.this_machine(), out_dir, cache_dir, log=lambda _: None
    )
    return path


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="imgedge-coldstart-") as tmp:
        zip_path = Path(args.zip) if args.zip else build_zip(Path(tmp), Path(args.cache_dir))
        task = Path(tmp) / "task"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(task)
        result = measure(task, args.rounds)
    print(
        f"cold start (CPU time), {args.rounds} fresh processes each, interleaved "
        f"({platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs)\n"
        f"  handler   {HANDLER:<34} {result['handler_ms']:8.1f} ms (median)\n"
        f"  baseline  {BASELINE:<34} {result['baseline_ms']:8.1f} ms (median)\n"
        f"  ratio     {result['ratio']:.3f} (target <= {TARGET_RATIO})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result) + "\n")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.coldstart", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--zip", help="an existing regional_resizer.zip (default: build one)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="processes of each kind")
    parser.add_argument("--json", metavar="FILE", help="write handler_ms, baseline_ms, ratio")
    parser.add_argument(
        "--cache-dir",
        default=str(default_cache_dir()),
        help="where the zip's dependency wheels are cached (infra.package)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


if __name__ == "__main__":
    main()
