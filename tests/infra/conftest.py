"""Fixtures for the AWS deployment's tests: the zips (built once per session; the wheels
come from PyPI the first time and from build/package-cache after), and the synthesized
templates (one synth per session). Nothing here talks to AWS."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.package import Built, Target, package
from shared.config import Config, load_config
from tests.conftest import REPO

# jsii's Node.js (20 here) prints a banner per process once Node is past its end of life.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

PACKAGE_CACHE = REPO / "build" / "package-cache"
HOME_REGION = "eu-west-1"

# Not the defaults, so that the tests see them arrive where they belong.
CONFIG_TOML = """\
sizes = [64, 128, 256, 512]
derivative_max_age = 2592000
error_max_age = 30
trace_sampling_rate = 0.25
"""
SETTINGS_TOML = f"""\
stack_name = "imgtest"
region = "{HOME_REGION}"
resizer_memory_mb = 2048
resizer_timeout_s = 20
origin_read_timeout_s = 30
derivative_expiry_days = 90
log_retention_days = 14
price_class = "PriceClass_200"
purge_reserved_concurrency = 5
precompute_max_concurrency = 12
precompute_items_per_batch = 150
precompute_tolerated_failure_percentage = 10
"""


@dataclass(frozen=True)
class Files:
    config: Path
    settings: Path

    def load_config(self) -> Config:
        return load_config(self.config)


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    folder = tmp_path_factory.mktemp("deployment")
    config, settings = folder / "imgedge.toml", folder / "settings.toml"
    config.write_text(CONFIG_TOML)
    settings.write_text(SETTINGS_TOML)
    return Files(config, settings)


def _quiet(line: str) -> None:
    pass


@pytest.fixture(scope="session")
def packaged(files: Files, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Both zips for the default target (arm64, Python 3.12), with the test configuration."""
    out = tmp_path_factory.mktemp("dist")
    return package(files.load_config(), Target(), out, PACKAGE_CACHE, log=_quiet)


@pytest.fixture(scope="session")
def packaged_here(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Both zips for this machine (processor, Python, glibc), with the default configuration."""
    out = tmp_path_factory.mktemp("dist-here")
    return package(Config(), Target.this_machine(), out, PACKAGE_CACHE, log=_quiet)


@dataclass(frozen=True)
class Synthesized:
    out: Path
    templates: dict[str, dict[str, Any]]  # stack name -> template
    printed: str

    @property
    def main(self) -> dict[str, Any]:
        return self.templates["imgtest"]

    @property
    def edge(self) -> dict[str, Any]:
        return self.templates["imgtest-edge"]


@pytest.fixture(scope="session")
def synthesized(
    files: Files, packaged: Built, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Synthesized]:
    """`imgedge synth` (in this process: one jsii runtime for the session) on the zips."""
    import contextlib
    import io

    from infra.cli import main

    out = tmp_path_factory.mktemp("cdk.out")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(
            ["synth", "--no-package", "--dist", str(packaged.edge_zip.parent),
             "--config", str(files.config), "--settings", str(files.settings),
             "--out", str(out)]
        )  # fmt: skip
    assert status == 0, printed.getvalue()
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in out.glob("*.template.json")
    }
    yield Synthesized(out, templates, printed.getvalue())
