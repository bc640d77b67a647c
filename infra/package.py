"""``imgedge package``: the two Lambda zips, built without Docker.

- ``edge_router.zip``: ``edge_router/`` and ``shared/`` (stdlib only) and the configuration
  baked in as ``shared/imgedge.json`` (Lambda@Edge has no environment variables). Far
  below the 1 MB limit of viewer-event functions.
- ``regional_resizer.zip``: ``regional_resizer/``, ``edge_router/``, ``shared/``, the same
  baked configuration, and the runtime dependencies as manylinux wheels for the target
  Python and architecture (pip's ``--platform/--only-binary``), without boto3 and its
  dependencies, which the Lambda runtime provides. Three functions deploy from it: the
  resizer (``regional_resizer/handler.py``), the purge (``regional_resizer/purge.py``) and
  the precompute batch (``regional_resizer/precompute.py``), which plans with the edge's
  normalizer (``edge_router/normalize.py``), so that its keys are the edge's.

The resizer's zip also holds the bytecode of every module it holds (``__pycache__/*.pyc``,
hash-checked, for the target Python), compiled by that Python when it is this interpreter
or found on PATH as ``python3.N`` (else the zip holds none, and says so): Lambda's
``/var/task`` is read-only, so without it every cold start compiles every module it imports
from source, and a hash-checked file stays right whatever timestamps the zip gives them.

Both zips are deterministic (sorted entries, fixed timestamps and modes): the same inputs
give the same bytes, so CDK's asset hashes change only when the code or configuration does.
Resolved dependency trees are cached per target and requirement set under ``cache_dir``, so
a rebuild only zips. ``manifest.json`` beside the zips records what was built, for the CDK
app to check against what it deploys.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import edge_router
import regional_resizer
import shared
from shared.config import BAKED_CONFIG, Config

EDGE_ZIP = "edge_router.zip"
RESIZER_ZIP = "regional_resizer.zip"
MANIFEST = "manifest.json"
EDGE_HANDLER = "edge_router.handler.handler"
RESIZER_HANDLER = "regional_resizer.handler.handler"
PURGE_HANDLER = "regional_resizer.purge.handler"
PRECOMPUTE_BATCH_HANDLER = "regional_resizer.precompute.handler"
# The deployed packages each zip holds, whole.
EDGE_PACKAGES = (edge_router, shared)
RESIZER_PACKAGES = (regional_resizer, edge_router, shared)
BAKED_CONFIG_NAME = f"shared/{BAKED_CONFIG.name}"

MAX_EDGE_ZIP_BYTES = 1024 * 1024  # Lambda@Edge, viewer events
MAX_RESIZER_UNZIPPED_BYTES = 250 * 1024 * 1024  # Lambda, code and layers unzipped

DISTRIBUTION = "imgedge"
BUNDLED_EXTRAS = ("heic",)  # optional features the resizer zip includes
# boto3 and everything it needs: the Lambda Python runtime has them, so the zip does not.
# The resizer's S3 calls do not use them (regional_resizer/s3.py); the purge function's
# CloudFront client does.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}  # Lambda's name -> manylinux's
# The newest glibc of each Lambda Python runtime's OS: Amazon Linux 2 (3.11) has 2.26,
# Amazon Linux 2023 (3.12 and later) 2.34. Wheels must not need a newer one.
LAMBDA_GLIBC = {"3.11": (2, 26), "3.12": (2, 34), "3.13": (2, 34)}
OLDEST_MANYLINUX = (2, 17)  # manylinux2014

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

Log = Callable[[str], None]


class PackageError(RuntimeError):
    """A zip could not be built; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    """What the resizer's wheels are for: Lambda architecture, Python, newest glibc."""

    arch: str = "arm64"
    python: str = "3.12"
    glibc: tuple[int, int] | None = None  # None: the Lambda runtime's (LAMBDA_GLIBC)

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise PackageError(f"architecture: one of {sorted(ARCHITECTURES)}, not {self.arch!r}")
        if not re.fullmatch(r"3\.\d{1,2}", self.python):
            raise PackageError(f"python: a version such as 3.12, not {self.python!r}")
        if self.glibc is None and self.python not in LAMBDA_GLIBC:
            raise PackageError(
                f"python: Lambda runtimes here are {sorted(LAMBDA_GLIBC)}, not {self.python!r}"
            )

    @classmethod
    def this_machine(cls) -> Target:
        """This interpreter, processor and glibc (for running the zip here, in tests)."""
        machine = platform.machine()
        arch = next((a for a, m in ARCHITECTURES.items() if m == machine), machine)
        libc, version = platform.libc_ver()
        if libc != "glibc":
            raise PackageError("building for this machine needs glibc")
        major, minor = (int(part) for part in version.split(".")[:2])
        return cls(arch, f"{sys.version_info[0]}.{sys.version_info[1]}", (major, minor))

    @property
    def newest_glibc(self) -> tuple[int, int]:
        return self.glibc or LAMBDA_GLIBC[self.python]

    def platforms(self) -> list[str]:
        """pip ``--platform`` tags, best first: manylinux_2_N down to manylinux2014."""
        machine = ARCHITECTURES[self.arch]
        major, newest = self.newest_glibc
        tags = [
            f"manylinux_{major}_{minor}_{machine}"
            for minor in range(newest, OLDEST_MANYLINUX[1] - 1, -1)
        ]
        return [*tags, f"manylinux2014_{machine}"]

    def pip_args(self) -> list[str]:
        args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", self.python]
        for tag in self.platforms():
            args += ["--platform", tag]
        return args

    @property
    def name(self) -> str:
        return f"cp{self.python.replace('.', '')}-{self.arch}"


@dataclass(frozen=True)
class Built:
    """The result of ``package``: where the zips are and what is in them."""

    edge_zip: Path
    resizer_zip: Path
    manifest: dict[str, Any]


# --- requirements --------------------------------------------------------------------------


def _name_of(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise PackageError(f"cannot read requirement {requirement!r}")
    return canonical_name(match.group(1))


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resizer_requirements() -> list[str]:
    """imgedge's own dependencies plus the bundled extras, less what the runtime provides.

    Read from the installed distribution's metadata (pyproject.toml's ``dependencies`` and
    ``optional-dependencies``), so there is one list."""
    try:
        declared = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        raise PackageError("imgedge is not installed: pip install -e '.[aws]'") from None
    chosen: list[str] = []
    for line in declared:
        requirement, _, marker = line.partition(";")
        marker = marker.strip()
        extra = re.fullmatch(r"""extra\s*==\s*["']([\w-]+)["']""", marker)
        if marker and not (extra and extra.group(1) in BUNDLED_EXTRAS):
            continue
        if _name_of(requirement) not in RUNTIME_PROVIDED:
            chosen.append(requirement.strip().replace(" ", ""))
    return sorted(set(chosen))


# --- pip -----------------------------------------------------------------------------------


def _pip(args: list[str], what: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise PackageError(f"{what} failed (pip exit {done.returncode}):\n{tail}")


def resolve(requirements: list[str], target: Target, workdir: Path) -> list[tuple[str, str]]:
    """(name, version) of every distribution the requirements need on ``target``."""
    report = workdir / "resolution.json"
    _pip(
        [
            "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
            "--target", str(workdir / "dry-run"), *target.pip_args(), *requirements,
        ],
        f"resolving {requirements} for {target.name}",
    )  # fmt: skip
    installed = json.loads(report.read_text())["install"]
    return sorted(
        (canonical_name(item["metadata"]["name"]), item["metadata"]["version"])
        for item in installed
    )


def build_site(
    requirements: list[str], target: Target, cache_dir: Path, *, refresh: bool, log: Log
) -> tuple[Path, list[tuple[str, str]]]:
    """A folder with the requirements installed for ``target`` (less RUNTIME_PROVIDED),
    cached under ``cache_dir`` by target and requirement set; and what it holds."""
    key = hashlib.sha256(
        json.dumps(
            [requirements, target.platforms(), target.python, sorted(RUNTIME_PROVIDED)]
        ).encode()
    ).hexdigest()[:16]
    site = cache_dir / f"site-{target.name}-{key}"
    contents = site.with_name(site.name + ".json")
    if site.is_dir() and contents.is_file() and not refresh:
        log(f"dependencies for {target.name}: cached in {site}")
        return site, [(n, v) for n, v in json.loads(contents.read_text())]
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".building-") as tmp:
        workdir = Path(tmp)
        log(f"dependencies for {target.name}: resolving {', '.join(requirements)}")
        resolved = resolve(requirements, target, workdir)
        bundled = [(n, v) for n, v in resolved if n not in RUNTIME_PROVIDED]
        log("dependencies: " + ", ".join(f"{n}=={v}" for n, v in bundled))
        staging = workdir / "site"
        _pip(
            [
                "install", "--no-deps", "--no-compile", "--quiet", "--target", str(staging),
                *target.pip_args(), *(f"{n}=={v}" for n, v in bundled),
            ],
            f"installing wheels for {target.name}",
        )  # fmt: skip
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts
        shutil.rmtree(site, ignore_errors=True)
        os.replace(staging, site)
        contents.write_text(json.dumps(bundled))
    return site, bundled


# --- zips ----------------------------------------------------------------------------------


def _package_files(package: Any) -> Iterator[tuple[str, Path]]:
    """(name in the zip, file) for every module of a project package."""
    root = Path(package.__file__).parent
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield f"{root.name}/{path.relative_to(root).as_posix()}", path


LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the zip: the bytecode's file names


def bytecode_interpreter(python: str) -> str | None:
    """A Python ``python`` (``3.12``) to compile with: this one, else ``python3.12`` on PATH."""
    if python == f"{sys.version_info[0]}.{sys.version_info[1]}":
        return sys.executable
    return shutil.which(f"python{python}")


def bytecode(
    entries: Iterable[tuple[str, Path | bytes]], target: Target, log: Log
) -> list[tuple[str, bytes]]:
    """``__pycache__`` entries for the Python sources among ``entries``, compiled by the
    target's Python (hash-checked, named as under ``LAMBDA_TASK_ROOT``); none without one."""
    interpreter = bytecode_interpreter(target.python)
    if interpreter is None:
        log(f"no python{target.python} here: {RESIZER_ZIP} holds no bytecode")
        return []
    tag = f"cpython-{target.python.replace('.', '')}"
    sources = [(name, source) for name, source in entries if name.endswith(".py")]
    with tempfile.TemporaryDirectory(prefix="imgedge-bytecode-") as tmp:
        root = Path(tmp)
        for name, source in sources:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(source if isinstance(source, bytes) else source.read_bytes())
        done = subprocess.run(
            [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode",
             "checked-hash", "-s", str(root), "-p", LAMBDA_TASK_ROOT, str(root)],
            capture_output=True, check=False,
        )  # fmt: skip  # a module that does not compile simply has no bytecode
        compiled = []
        for name, _ in sources:
            module = Path(name)
            pyc = module.parent / "__pycache__" / f"{module.stem}.{tag}.pyc"
            if (root / pyc).is_file():
                compiled.append((pyc.as_posix(), (root / pyc).read_bytes()))
    if not compiled:
        log(f"{interpreter} compiled nothing (exit {done.returncode}): no bytecode in the zip")
    return compiled


def _tree_files(root: Path) -> Iterator[tuple[str, Path]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for filename in sorted(filenames):
            if not filename.endswith(".pyc"):
                path = Path(dirpath, filename)
                yield path.relative_to(root).as_posix(), path


def _add(archive: zipfile.ZipFile, name: str, data: bytes, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    archive.writestr(info, data)


def write_zip(path: Path, entries: Iterable[tuple[str, Path | bytes]]) -> None:
    """A deterministic zip: entries sorted, fixed timestamps, modes 644 or 755."""
    unique = dict(entries)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(unique):
            source = unique[name]
            if isinstance(source, bytes):
                _add(archive, name, source)
            else:
                _add(archive, name, source.read_bytes(), executable=os.access(source, os.X_OK))
    os.replace(tmp, path)


def baked_config(config: Config) -> bytes:
    """The configuration as both zips carry it (``shared.config.BAKED_CONFIG``): JSON, which
    a cold start reads with the json module it loads anyway."""
    return (json.dumps(config.to_mapping(), indent=1) + "\n").encode()


def config_toml(config: Config) -> bytes:
    """The configuration as a TOML file ``shared.config.load_config`` reads (``--config``)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in config.to_mapping().items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables:
        lines += ["", f"[{name}]"]
        lines += (f"{_toml_key(k)} = {_toml_value(v)}" for k, v in sorted(table.items()))
    return ("\n".join(lines) + "\n").encode()


def _toml_key(key: str) -> str:
    """A bare key where TOML allows one, else a quoted key (a prefix such as "products/")."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are valid in TOML basic strings
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table: a watermark's settings
        pairs = (f"{_toml_key(k)} = {_toml_value(v)}" for k, v in sorted(value.items()))
        return "{" + ", ".join(pairs) + "}"
    raise PackageError(f"cannot write {value!r} as TOML")


def _project_entries(packages: Iterable[Any], config: Config) -> list[tuple[str, Path | bytes]]:
    entries: list[tuple[str, Path | bytes]] = []
    for package in packages:
        entries += _package_files(package)
    entries.append((BAKED_CONFIG_NAME, baked_config(config)))
    return entries


def build_edge_zip(config: Config, out_dir: Path) -> Path:
    path = out_dir / EDGE_ZIP
    write_zip(path, _project_entries(EDGE_PACKAGES, config))
    size = path.stat().st_size
    if size > MAX_EDGE_ZIP_BYTES:
        raise PackageError(f"{path} is {size} bytes, over Lambda@Edge's {MAX_EDGE_ZIP_BYTES}")
    return path


def build_resizer_zip(
    config: Config,
    target: Target,
    out_dir: Path,
    cache_dir: Path,
    *,
    refresh: bool = False,
    log: Log = print,
) -> tuple[Path, list[tuple[str, str]]]:
    site, bundled = build_site(resizer_requirements(), target, cache_dir, refresh=refresh, log=log)
    entries: list[tuple[str, Path | bytes]] = list(_tree_files(site))
    ours = {package.__name__ for package in RESIZER_PACKAGES}
    shadowing = sorted({name.split("/")[0] for name, _ in entries} & ours)
    if shadowing:
        raise PackageError(f"a dependency ships top-level {shadowing}, which the project owns")
    entries += _project_entries(RESIZER_PACKAGES, config)
    entries += bytecode(entries, target, log)
    unzipped = sum(len(s) if isinstance(s, bytes) else s.stat().st_size for _, s in entries)
    if unzipped > MAX_RESIZER_UNZIPPED_BYTES:
        raise PackageError(f"the resizer is {unzipped} bytes unzipped, over Lambda's limit")
    path = out_dir / RESIZER_ZIP
    write_zip(path, entries)
    return path, bundled


def _digest(path: Path) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "imgedge" / "package"


def package(
    config: Config,
    target: Target,
    out_dir: Path,
    cache_dir: Path | None = None,
    *,
    refresh: bool = False,
    log: Log = print,
) -> Built:
    """Both zips and ``manifest.json`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    edge = build_edge_zip(config, out_dir)
    log(f"{edge}: {edge.stat().st_size:,} bytes")
    resizer, bundled = build_resizer_zip(
        config, target, out_dir, cache_dir or default_cache_dir(), refresh=refresh, log=log
    )
    log(f"{resizer}: {resizer.stat().st_size:,} bytes")
    manifest: dict[str, Any] = {
        "config": config.to_mapping(),
        "edge": {"zip": EDGE_ZIP, "handler": EDGE_HANDLER, "arch": "x86_64", **_digest(edge)},
        "resizer": {
            "zip": RESIZER_ZIP,
            "handler": RESIZER_HANDLER,
            "arch": target.arch,
            "python": target.python,
            "platforms": target.platforms(),
            "dependencies": [f"{n}=={v}" for n, v in bundled],
            **_digest(resizer),
        },
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return Built(edge, resizer, manifest)


def read_manifest(out_dir: Path) -> dict[str, Any]:
    path = out_dir / MANIFEST
    if not path.is_file():
        raise PackageError(f"no {path}: run `imgedge package` first")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest
