"""``imgedge smoke`` against a running ``imgedge serve`` with a signing key configured: the
stack's originals bucket, configuration and trace records are found through its
``stack.json``, so every check runs (none is skipped) and passes."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.stack_client import Served, descendants, start_serve, wait_gone

pytestmark = pytest.mark.integration

SECRET = "0123456789abcdef-smoke"
CHECKS = (
    "miss", "hit", "normalization", "head", "get-after-head", "404", "400", "purge",
    "signed-redirect", "trace", "botocore",
)  # fmt: skip


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("smoke") / "data"


@pytest.fixture(scope="module")
def stack(data_dir: Path) -> Iterator[Served]:
    config = data_dir.parent / "imgedge.toml"
    config.write_text(f'signing_keys = {{ k1 = "{SECRET}" }}\ntrace_sampling_rate = 1.0\n')
    served = start_serve(data_dir, "--config", str(config))  # uploads sample.png
    yield served
    children = descendants(served.process.pid)
    assert served.stop(signal.SIGINT) == 0
    assert wait_gone(children) == set()


@pytest.fixture(scope="module")
def smoked(stack: Served, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", "smoke", stack.edge, "--data-dir", str(data_dir),
         "--purge-timeout", "30"],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def lines_of(smoked: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each check's status by name."""
    return {
        line.split()[1]: line.split()[0]
        for line in smoked.stdout.splitlines()
        if line.split()[:1] in (["PASS"], ["FAIL"], ["SKIP"])
    }


def test_every_check_passes_and_the_exit_status_is_0(
    smoked: subprocess.CompletedProcess[str],
) -> None:
    statuses = lines_of(smoked)
    assert statuses == dict.fromkeys(CHECKS, "PASS"), smoked.stdout + smoked.stderr
    assert smoked.returncode == 0
    assert smoked.stdout.splitlines()[-1] == "smoke: ok"
    assert "the resizer runs botocore " in smoked.stdout
