"""examples/next-image-loader.js, run by Node.js: for a width and quality on imgedge's
allow-lists it writes byte for byte the URL ``image_url`` writes; off them, a URL the edge
reads as the same request (it snaps them), for every viewer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest

from edge_router.normalize import normalize
from shared.config import DEFAULT_SIZES, Config
from shared.contract import ImageRequest
from shared.urls import image_url
from tests.conftest import REPO

LOADER = REPO / "examples" / "next-image-loader.js"
BASE = "https://img.example.com"
CONFIG = Config()
ACCEPTS = (None, "image/webp,*/*", "image/avif,image/webp,*/*")

NEXT_DEVICE_SIZES = (640, 750, 828, 1080, 1200, 1920, 2048, 3840)  # next/image's defaults
NEXT_IMAGE_SIZES = (16, 32, 48, 64, 96, 128, 256, 384)
Case = dict[str, Any]  # what next/image passes a loader (a quality of null: none given)
KEYS = ("/photos/cat.jpg", "photos/my cat~*ü.png", "/a+b/c%20d.gif", "noext")
CASES: list[Case] = [
    {"src": src, "width": width, "quality": quality}
    for src in KEYS
    for width in (*NEXT_IMAGE_SIZES, *NEXT_DEVICE_SIZES, 5000)
    for quality in (None, 75, 79)
]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def run_loader(cases: list[Case]) -> list[str]:
    script = (
        f"import loader from {json.dumps(LOADER.as_uri())};\n"
        "const cases = JSON.parse(process.argv[1]);\n"
        "console.log(JSON.stringify(cases.map((c) => loader(c))));\n"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script, json.dumps(cases)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "NEXT_PUBLIC_IMGEDGE_URL": BASE + "/"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    urls: list[str] = json.loads(done.stdout)
    return urls


def back(url: str, accept: str | None) -> ImageRequest:
    parts = urlsplit(url)
    return normalize(parts.path, parts.query, accept, CONFIG)


def test_the_loader_writes_image_urls_url_or_one_the_edge_reads_alike() -> None:
    same = 0
    for case, url in zip(CASES, run_loader(CASES), strict=True):
        src, width, quality = case["src"], case["width"], case["quality"]
        expected = image_url(
            src.removeprefix("/"), base=BASE, config=CONFIG, s=f"{width}x", f="auto", q=quality
        )
        on_lists = width in CONFIG.sizes and quality in (None, *CONFIG.qualities)
        if on_lists:
            assert url == expected
            same += 1
        else:
            assert url != expected
        for accept in ACCEPTS:
            assert back(url, accept) == back(expected, accept), (case, accept)
    assert same > len(CASES) // 2


def test_nexts_default_widths_off_imgedges_sizes() -> None:
    """docs/page-builders.md: only 750 of next's default widths is off imgedge's sizes."""
    assert sorted({*NEXT_DEVICE_SIZES, *NEXT_IMAGE_SIZES} - set(DEFAULT_SIZES)) == [750]
