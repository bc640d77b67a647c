"""`imgedge package`: what is in each zip, for which platform, and that the edge zip runs
on its own with the configuration baked into it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from infra import package as package_module
from infra.package import (
    MAX_EDGE_ZIP_BYTES,
    RUNTIME_PROVIDED,
    Built,
    PackageError,
    Target,
    baked_config,
    build_edge_zip,
    build_resizer_zip,
    config_toml,
    resizer_requirements,
)
from shared.config import Config, Watermark
from tests.conftest import EVENTS, REPO
from tests.infra.conftest import PACKAGE_CACHE, Files

ELF_MACHINES = {"x86_64": 62, "arm64": 183}  # e_machine of x86-64 and AArch64
PROJECT_TOP_LEVELS = ("shared", "edge_router", "regional_resizer", "infra", "bench", "tests")


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def read(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def third_party_imports(package: str, paths: list[Path] | None = None) -> set[str]:
    """Top-level modules a project package (or these files) imports that are neither stdlib
    nor the project's."""
    found: set[str] = set()
    for path in paths if paths is not None else (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    project = {"shared", "edge_router", "regional_resizer", "infra", "__future__"}
    return found - set(sys.stdlib_module_names) - project


# --- the edge zip --------------------------------------------------------------------------


def test_edge_zip_is_project_code_and_the_baked_configuration(packaged: Built) -> None:
    entries = names(packaged.edge_zip)
    assert "edge_router/handler.py" in entries
    assert "shared/contract.py" in entries
    assert all(n.startswith(("edge_router/", "shared/")) for n in entries), entries
    assert [n for n in entries if not n.endswith(".py")] == ["shared/imgedge.json"]
    assert packaged.edge_zip.stat().st_size < MAX_EDGE_ZIP_BYTES / 10  # far below 1 MB


def test_both_zips_bake_the_given_configuration(packaged: Built, files: Files) -> None:
    for path in (packaged.edge_zip, packaged.resizer_zip):
        baked = json.loads(read(path, "shared/imgedge.json"))
        assert Config.from_mapping(baked) == files.load_config()
    assert packaged.manifest["config"] == json.loads(json.dumps(files.load_config().to_mapping()))


def test_baked_json_and_toml_round_trip_every_kind_of_value() -> None:
    config = Config(
        sizes=(10, 20),
        trace_sampling_rate=1e-05,
        formats=("webp",),
        blur_sigmas=(0.25, 3.0),
        background_colours=("ff0000",),
        watermarks={"logo": Watermark(key='brand/logo "v2".png', gravity="nw", opacity=0.5)},
        originals_buckets={"products/": "acme-products", 'a "b"/': "acme-ab"},
    )
    assert Config.from_mapping(json.loads(baked_config(config))) == config
    assert Config.from_mapping(tomllib.loads(config_toml(config).decode())) == config


def test_edge_zip_runs_alone_with_its_baked_configuration(packaged: Built, tmp_path: Path) -> None:
    """Unzipped into an empty folder and run by an isolated interpreter without
    site-packages: only the stdlib and the zip. s=300 snaps to 512 with the test
    configuration's sizes (the defaults would give 320)."""
    folder = tmp_path / "edge"
    with zipfile.ZipFile(packaged.edge_zip) as archive:
        archive.extractall(folder)
    event = json.loads((EVENTS / "viewer_request.json").read_text())
    request = event["Records"][0]["cf"]["request"]
    request["uri"], request["querystring"] = "/sample.png", "s=300x300&f=webp"
    script = f"""
import json, sys, sysconfig
sys.path.insert(0, {str(folder)!r})
from edge_router.handler import handler
result = handler(json.loads(sys.stdin.read()), None)
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None)
    and not module.__file__.startswith(({str(folder)!r},) + stdlib)
)
print(json.dumps({{"uri": result["uri"], "query": result["querystring"], "outside": outside}}))
"""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        input=json.dumps(event), capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {"uri": "/512x512/webp/sample.png", "query": "", "outside": []}


# --- the resizer zip -----------------------------------------------------------------------


def test_resizer_requirements_are_the_projects_less_the_runtimes() -> None:
    requirements = {r.split(">")[0].split("=")[0].lower() for r in resizer_requirements()}
    assert requirements == {"pillow", "aws-xray-sdk", "pillow-heif"}
    assert not requirements & RUNTIME_PROVIDED


def _top_level(entries: list[str]) -> set[str]:
    return {n.split("/")[0].removesuffix(".py") for n in entries}


def test_resizer_zip_has_every_import_but_not_boto3(packaged: Built) -> None:
    top = _top_level(names(packaged.resizer_zip))
    assert {"regional_resizer", "shared", "PIL", "pillow_heif", "aws_xray_sdk", "wrapt"} <= top
    provided = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3"}
    assert not top & provided
    for module in third_party_imports("regional_resizer") - {"boto3", "botocore"}:
        assert module in top, f"regional_resizer imports {module}, which the zip lacks"
    dependencies = packaged.manifest["resizer"]["dependencies"]
    assert not {d.split("==")[0] for d in dependencies} & RUNTIME_PROVIDED


def test_resizer_zip_holds_the_deployed_packages_whole_and_no_tooling(packaged: Built) -> None:
    """Three functions deploy from the resizer's zip: the resizer, the purge and the
    precompute batch, all modules of regional_resizer/ that plan with the edge's normalizer.
    The zip holds those packages as they are in the repository, and nothing of infra/ (no
    CDK, no command line, no local stack)."""
    entries = names(packaged.resizer_zip)
    ours = [n for n in entries if n.split("/")[0] in PROJECT_TOP_LEVELS]
    expected = {
        path.relative_to(REPO).as_posix()
        for package in ("regional_resizer", "edge_router", "shared")
        for path in (REPO / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert set(ours) == expected | {"shared/imgedge.json"}
    assert {"regional_resizer/precompute.py", "regional_resizer/purge.py"} <= set(ours)
    for name in ("regional_resizer/precompute.py", "edge_router/normalize.py"):
        assert read(packaged.resizer_zip, name) == (REPO / name).read_bytes()
    top = _top_level(entries)
    for package in ("regional_resizer", "edge_router", "shared"):
        for module in third_party_imports(package) - {"boto3", "botocore"}:
            assert module in top, f"{package} imports {module}, which the zip lacks"


def test_the_resizer_zip_refuses_a_dependency_that_shadows_a_package(
    files: Files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    (site / "shared").mkdir(parents=True)
    (site / "shared" / "__init__.py").write_text("")
    monkeypatch.setattr(package_module, "build_site", lambda *args, **kwargs: (site, []))
    with pytest.raises(PackageError, match=r"ships top-level \['shared'\]"):
        build_resizer_zip(files.load_config(), Target(), tmp_path, tmp_path, log=lambda _: None)


@pytest.mark.parametrize("built", ["packaged", "packaged_here"])
def test_native_code_is_for_the_target(built: str, request: pytest.FixtureRequest) -> None:
    package: Built = request.getfixturevalue(built)
    arch, python = package.manifest["resizer"]["arch"], package.manifest["resizer"]["python"]
    tag = f"cpython-{python.replace('.', '')}"
    imaging = [n for n in names(package.resizer_zip) if n.startswith("PIL/_imaging.c")]
    assert len(imaging) == 1 and tag in imaging[0], imaging
    elf = read(package.resizer_zip, imaging[0])
    assert elf[:4] == b"\x7fELF"
    assert int.from_bytes(elf[18:20], "little") == ELF_MACHINES[arch]


def test_platform_tags_follow_the_lambda_runtime_os() -> None:
    arm = Target("arm64", "3.12").platforms()
    assert arm[0] == "manylinux_2_34_aarch64"  # Amazon Linux 2023
    assert arm[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    assert Target("x86_64", "3.11").platforms()[0] == "manylinux_2_26_x86_64"  # AL2


def test_zips_are_deterministic(packaged: Built, files: Files, tmp_path: Path) -> None:
    """The same inputs give the same bytes, so CDK's asset hashes only move with the code."""
    config = files.load_config()
    assert build_edge_zip(config, tmp_path).read_bytes() == packaged.edge_zip.read_bytes()
    again, _ = build_resizer_zip(config, Target(), tmp_path, PACKAGE_CACHE, log=lambda _: None)
    assert again.read_bytes() == packaged.resizer_zip.read_bytes()


def test_the_resizer_zip_holds_hash_checked_bytecode_for_its_python(packaged_here: Built) -> None:
    """Lambda's /var/task is read-only: without bytecode in the zip, every cold start
    compiles what it imports. Built by the target's own Python (this one, here)."""
    python = packaged_here.manifest["resizer"]["python"]
    tag = f"cpython-{python.replace('.', '')}"
    entries = set(names(packaged_here.resizer_zip))
    for module in ("regional_resizer/handler.py", "regional_resizer/s3.py", "PIL/Image.py"):
        folder, _, file = module.rpartition("/")
        pyc = f"{folder}/__pycache__/{file.removesuffix('.py')}.{tag}.pyc"
        assert pyc in entries, pyc
        flags = int.from_bytes(read(packaged_here.resizer_zip, pyc)[4:8], "little")
        assert flags == 0b11  # hash-based, checked against the source
