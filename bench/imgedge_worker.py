"""The imgedge side of the benchmark: one process answering JSON lines on stdin/stdout.
Usage: python -m bench.imgedge_worker <corpus dir> [balanced|lanczos] [threads]

    {"cmd": "run", "case": "a", "n": 5}   -> {"seconds": [...], "cpu_seconds": 0.1, "bytes": 68000}
    {"cmd": "outputs", "case": "a"}       -> the encoded output and the pixels before encoding
    {"cmd": "quit"}

It calls the real ``regional_resizer.pipeline.render`` (``transform`` for the pixels
before encoding) with the configuration's ``threads`` at the count given (1 by default:
libjpeg, libwebp and zlib have none; libaom gets that many, and libavif's decoder too).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

from bench.cases import ALL, CONFIG, Case
from regional_resizer import codecs, pipeline
from shared.config import Config

CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


def _with_speed(case: Case, threads: int = 1) -> None:
    """Set the AVIF speed this case asks for (the engine's own otherwise), on ``threads``.
    The AVIF plugin (libavif, libaom, dav1d: 1.4 MB resident) is loaded by AVIF cases only,
    as in the resizer, where Pillow loads it on the first AVIF image."""
    if case.fmt == "avif":
        from PIL import AvifImagePlugin

        AvifImagePlugin.DEFAULT_MAX_THREADS = threads
    codecs.AVIF_SPEED = case.avif_speed or DEFAULT_AVIF_SPEED


def run(case: Case, data: bytes, n: int, config: Config = CONFIG) -> dict[str, Any]:
    _with_speed(case, config.threads or 1)
    request = case.request()
    seconds, size = [], 0
    cpu = time.process_time()  # the whole process's CPU time, as node's cpuUsage()
    for _ in range(n):
        start = time.perf_counter()
        size = len(pipeline.render(data, request, config).body)
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "cpu_seconds": time.process_time() - cpu, "bytes": size}


def outputs(case: Case, data: bytes, config: Config = CONFIG) -> dict[str, Any]:
    _with_speed(case, config.threads or 1)
    request = case.request()
    body = pipeline.render(data, request, config).body
    image: Image.Image = pipeline.transform(data, request, config).images[0]
    return {
        "encoded": base64.b64encode(body).decode("ascii"),
        "raw": base64.b64encode(image.tobytes()).decode("ascii"),
        "width": image.width,
        "height": image.height,
        "channels": CHANNELS[image.mode],
    }


def with_resampling(resampling: str, threads: int = 1) -> Config:
    """The benchmark's configuration with another ``resampling``, on ``threads``."""
    return dataclasses.replace(CONFIG, resampling=resampling, threads=threads)


def main() -> None:
    corpus = Path(sys.argv[1])  # not tests.conftest: its imports (boto3) would weigh here
    config = with_resampling(
        sys.argv[2] if len(sys.argv) > 2 else CONFIG.resampling,
        int(sys.argv[3]) if len(sys.argv) > 3 else 1,
    )
    sources: dict[str, bytes] = {}
    for line in sys.stdin:
        message = json.loads(line)
        if message["cmd"] == "quit":
            break
        case = ALL[message["case"]]
        data = sources.setdefault(case.source, (corpus / case.source).read_bytes())
        if message["cmd"] == "run":
            answer = run(case, data, int(message["n"]), config)
        else:
            answer = outputs(case, data, config)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


DEFAULT_AVIF_SPEED = codecs.AVIF_SPEED

if __name__ == "__main__":
    main()
