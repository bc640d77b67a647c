"""What the benchmark installs into its scratch folder, once: sharp (npm) and numpy (pip)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.cases import SHARP_VERSION

NUMPY = "numpy>=1.26,<3"


def ensure_sharp(scratch: Path) -> Path:
    """``sharp@SHARP_VERSION`` under ``scratch/node_modules``; npm runs only if it is not
    there yet. sharp's npm packages carry a prebuilt libvips, so nothing compiles."""
    package = scratch / "node_modules" / "sharp" / "package.json"
    if package.is_file() and json.loads(package.read_text())["version"] == SHARP_VERSION:
        return scratch
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise SystemExit("the benchmark needs node and npm on the PATH")
    scratch.mkdir(parents=True, exist_ok=True)
    print(f"installing sharp@{SHARP_VERSION} into {scratch} ...", file=sys.stderr)
    quiet = ("--no-audit", "--no-fund", "--no-save")
    subprocess.run(
        [npm, "install", "--prefix", str(scratch), *quiet, f"sharp@{SHARP_VERSION}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return scratch


def ensure_numpy(scratch: Path) -> None:
    """numpy importable from ``scratch/pylib`` (pip --target), put first on ``sys.path``."""
    target = scratch / "pylib"
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))
    if (target / "numpy").is_dir():
        return
    print(f"installing {NUMPY} into {target} ...", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), NUMPY],
        check=True,
    )
