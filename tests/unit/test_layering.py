"""Dependencies point one way.

What each function loads is what its package imports: the purge function, deployed from
the resizer's zip, loads no part of the image pipeline.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def modules_loaded_by(module: str) -> list[str]:
    """The modules a fresh interpreter has loaded once it has imported ``module``."""
    script = f"import json, sys, {module}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_the_purge_function_does_not_load_the_image_pipeline() -> None:
    loaded = modules_loaded_by("regional_resizer.purge")
    assert "regional_resizer.purge" in loaded
    pipeline = {"PIL", "pillow_heif", "aws_xray_sdk"}
    assert [name for name in loaded if name.split(".")[0] in pipeline] == []
    assert [name for name in loaded if name.startswith("regional_resizer.")] == [
        "regional_resizer.purge",
        "regional_resizer.storage",
    ]
