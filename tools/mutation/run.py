"""Runs the fast tests against each mutant of the core modules, one mutant at a time.

How (docs/mutation.md has the why):
- Each worker slot has its own copy of the product packages (``shared``, ``edge_router``,
  ``regional_resizer``) in a temporary directory, first on ``sys.path``; the tests and
  everything else are read from the repository, which is never written to. A mutant is
  written into its slot's copy and the copy is restored as soon as its run ends.
- This process imports the heavy libraries the tests use (pytest, Hypothesis, Pillow,
  boto3) once, and never a module of imgedge; each run is a fork of it that imports
  imgedge from its slot and calls ``pytest.main``. Byte code in the slots is checked by
  source hash, never by time stamp, so a mutant never runs a stale ``.pyc``.
- A first run, with a line tracer, records which tests execute which lines of the
  product (and how long each test takes). A mutant inside a function runs only the tests
  that execute one of its lines; one in module or class level code (a constant, a regex, a
  class attribute, a decorator, a default) runs the tests that execute a line reading a
  name its statement binds (``_Selector``). The tests that killed mutants before run
  first, then the fastest, and a run stops at the first failure (``-x``).
- Hypothesis runs derandomized (one fixed seed per test, no example database), so a run
  is repeatable; ``--explicit-only`` runs only the ``@example``s, which kill a mutant
  whatever the seed.
- The mutants docs/mutation.md accounts for (equivalent ones, known gaps) are not run
  unless ``--all`` is given; every other survivor is reported, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import ast
import compileall
import contextlib
import importlib
import json
import os
import py_compile
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from tools.mutation.mutants import Mutant, bound_names, mutants, mutate, unparsed

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "edge_router", "regional_resizer")
CONTRACT_PACKAGES = ("shared", "edge_router")
"""Every module of these is core: the contract, and the edge that normalizes to it."""
RESIZER_CORE = (
    "regional_resizer/plan.py",
    "regional_resizer/responses.py",
    "regional_resizer/media_types.py",
)
"""The resizer's pure rules: geometry, responses, the type of an original. Its pixel modules
(pipeline, codecs, colour, animation, resampling, jpeg_scaling) would take hours; its I/O
shells (handler, storage, purge, tracing) are the integration tests' to check."""
TEST_PATHS = ("tests/unit", "tests/property")
DOCS = REPO / "docs" / "mutation.md"
HYPOTHESIS_PROFILE = "imgedge-mutation"

# Imported once here, before any fork, so that no run pays for them again. Never a module
# of imgedge: a run must import those from its slot.
PRELOAD = (
    "pytest",
    "_pytest.python",
    "_pytest.assertion.rewrite",
    "hypothesis",
    "hypothesis.strategies",
    "hypothesis.extra",
    "PIL.Image",
    "PIL.ImageCms",
    "PIL.ImageChops",
    "PIL.ImageOps",
    "PIL.ImageStat",
    "PIL.ImageFilter",
    "pillow_heif",
    "boto3",
    "botocore.client",
    "botocore.config",
    "aws_xray_sdk.core",
)

KILLED, SURVIVED, TIMEOUT, NO_TESTS, ERROR = "killed", "survived", "timeout", "no tests", "error"


@dataclass
class Result:
    mutant: Mutant
    status: str
    seconds: float
    tests: int
    killer: str = ""


@dataclass
class Slot:
    index: int
    root: Path  # the slot's directory: its packages, its run's log and result files
    job: Mutant | None = None
    pid: int = 0
    started: float = 0.0
    deadline: float = 0.0
    tests: list[str] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.root / "run.log"

    @property
    def result(self) -> Path:
        return self.root / "result.json"


# --- the run's child processes ----------------------------------------------------------------


def _enter_child(slot: Slot, explicit_only: bool) -> None:
    """In a fresh fork: own process group, output to the slot's log, imgedge from the
    slot, Hypothesis's profile for mutation runs."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    log = os.open(slot.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.chdir(REPO)
    sys.path.insert(0, str(slot.root))
    for package in PACKAGES:
        module = importlib.import_module(package)
        if not str(module.__file__).startswith(str(slot.root)):
            raise RuntimeError(f"{package} imported from {module.__file__}, not the slot")

    from hypothesis import HealthCheck, Phase, settings

    settings.register_profile(
        HYPOTHESIS_PROFILE,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit,) if explicit_only else tuple(Phase),
    )
    settings.load_profile(HYPOTHESIS_PROFILE)


def _pytest(args: list[str], plugin: object) -> int:
    import pytest

    code = pytest.main(
        [
            *("-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts="),
            # Hypothesis, imported before the fork, cannot have its asserts rewritten.
            *("-W", "ignore::pytest.PytestAssertRewriteWarning"),
            *args,
        ],
        plugins=[plugin],
    )
    sys.stdout.flush()
    sys.stderr.flush()
    return int(code)


class _Select:
    """Runs only the given tests, in the given order; notes the first that fails."""

    def __init__(self, tests: Sequence[str], result: Path) -> None:
        self.rank = {nodeid: i for i, nodeid in enumerate(tests)}
        self.result = result
        self.killer = ""

    def pytest_collection_modifyitems(self, config: Any, items: list[Any]) -> None:
        keep = [item for item in items if item.nodeid in self.rank]
        drop = [item for item in items if item.nodeid not in self.rank]
        if drop:
            config.hook.pytest_deselected(items=drop)
        keep.sort(key=lambda item: self.rank[item.nodeid])
        items[:] = keep

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed and not self.killer:
            self.killer = report.nodeid
            self.result.write_text(json.dumps({"killer": report.nodeid}))


class _Coverage:
    """Which lines of the core modules each test executes, and how long it takes."""

    def __init__(self, files: dict[str, str], result: Path) -> None:
        self.files = files  # path as the code objects name it -> repository path
        self.result = result
        self.current: set[tuple[str, int]] | None = None
        self.tests: dict[str, dict[str, Any]] = {}
        self.failed: set[str] = set()

    def _trace(self, frame: FrameType, event: str, arg: object) -> Any:
        lines = self.current
        path = self.files.get(frame.f_code.co_filename)
        if lines is None or path is None:
            return None
        lines.add((path, frame.f_lineno))

        def local(frame: FrameType, event: str, arg: object) -> Any:
            if event == "line":
                lines.add((path, frame.f_lineno))
            return local

        return local

    def _hookwrapper(self, item: Any) -> Iterator[None]:
        lines: set[tuple[str, int]] = set()
        self.current = lines
        sys.settrace(self._trace)
        threading.settrace(self._trace)
        started = time.perf_counter()
        try:
            yield
        finally:
            sys.settrace(None)
            threading.settrace(None)
            self.current = None
        by_path: dict[str, list[int]] = {}
        for path, line in sorted(lines):
            by_path.setdefault(path, []).append(line)
        self.tests[item.nodeid] = {"seconds": time.perf_counter() - started, "lines": by_path}

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.failed.add(report.nodeid)

    def pytest_sessionfinish(self) -> None:
        for nodeid in self.failed:
            self.tests.pop(nodeid, None)
        self.result.write_text(json.dumps({"tests": self.tests, "failed": sorted(self.failed)}))


def _coverage_plugin(coverage: _Coverage) -> object:
    import pytest

    class Plugin:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Iterator[None]:
            yield from coverage._hookwrapper(item)

        def pytest_runtest_logreport(self, report: Any) -> None:
            coverage.pytest_runtest_logreport(report)

        def pytest_sessionfinish(self) -> None:
            coverage.pytest_sessionfinish()

    return Plugin()


def _fork(slot: Slot, body: Callable[[], int]) -> int:
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 3
        try:
            code = body()
        except BaseException as error:  # report it in the log, as pytest would
            print(f"mutation run failed: {error!r}", file=sys.stderr)
            sys.stderr.flush()
        finally:
            os._exit(code)
    with contextlib.suppress(OSError):  # the child did it first
        os.setpgid(pid, pid)
    return pid


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):  # it has ended already
        os.killpg(pid, signal.SIGKILL)


# --- this process --------------------------------------------------------------------------


@dataclass
class Plan:
    modules: list[str]
    jobs: int
    explicit_only: bool
    verbose: bool
    run_documented: bool
    only: set[str] = field(default_factory=set)  # mutant ids; empty: every mutant


def _preload() -> None:
    for name in PRELOAD:
        with contextlib.suppress(ImportError):  # an optional extra
            importlib.import_module(name)
    for name in sys.modules:
        if name.split(".")[0] in (*PACKAGES, "tests", "infra", "bench"):
            raise RuntimeError(f"{name} was imported before the runs: it must come from a slot")
    try:
        from PIL import Image

        Image.init()  # every image plugin, once
    except ImportError:
        pass


def _snapshot() -> dict[str, bytes]:
    """Every file of the product packages as it is now: the run's one view of them, however
    the working tree changes meanwhile."""
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(REPO).as_posix()] = path.read_bytes()
    return files


def _make_slot(index: int, base: Path, snapshot: dict[str, bytes]) -> Slot:
    root = base / f"slot{index}"
    for path, data in snapshot.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    compileall.compile_dir(
        root,
        quiet=1,
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )
    return Slot(index=index, root=root)


def _test_files() -> list[str]:
    files: list[str] = []
    for path in TEST_PATHS:
        files += sorted(str(p.relative_to(REPO)) for p in (REPO / path).rglob("test_*.py"))
    return files


def _coverage(slots: list[Slot], explicit_only: bool) -> dict[str, dict[str, Any]]:
    """Every fast test's lines and time, from one traced run split over the slots."""
    files = _test_files()
    sizes = {f: (REPO / f).stat().st_size for f in files}
    groups: list[list[str]] = [[] for _ in slots]
    for name in sorted(files, key=lambda f: -sizes[f]):
        min(groups, key=lambda g: sum(sizes[f] for f in g)).append(name)
    pids: dict[int, Slot] = {}
    for slot, group in zip(slots, groups, strict=True):
        if not group:
            continue
        slot.result.unlink(missing_ok=True)

        def body(slot: Slot = slot, group: list[str] = group) -> int:
            _enter_child(slot, explicit_only)
            names = {str(REPO / path): path for path in _traced_modules()}
            names.update({str(slot.root / path): path for path in _traced_modules()})
            coverage = _Coverage(names, slot.result)
            return _pytest(group, _coverage_plugin(coverage))

        slot.pid = _fork(slot, body)  # the run's cleanup kills it if the run is stopped
        pids[slot.pid] = slot
    tests: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    while pids:
        pid, status = os.waitpid(-1, 0)
        slot = pids.pop(pid)
        slot.pid = 0
        if not slot.result.exists():
            sys.stdout.write(slot.log.read_text(errors="replace")[-4000:])
            raise SystemExit(f"the traced run of the tests failed (status {status})")
        data = json.loads(slot.result.read_text())
        tests.update(data["tests"])
        failed += data["failed"]
    if failed:
        print(f"{len(failed)} tests fail without any mutant, left out: {', '.join(failed)}")
    return tests


class _Selector:
    """Which tests can see a mutant.

    Inside a function: the tests that execute one of its lines. Outside (a constant, a
    regex, a class attribute, a decorator or a default), or in a function no test runs
    itself (one that module level code calls): the tests that execute a line of a function
    that reads one of the names its statement binds, following those names through other
    module and class level statements that read them (``sizes = DEFAULT_SIZES`` in a
    class: then every ``.sizes``), plus every test in a file that names one of them.
    Failing all of that: every test that runs a line of its module."""

    def __init__(self, tests: dict[str, dict[str, Any]], snapshot: dict[str, bytes]) -> None:
        self.tests = tests
        self.by_line: dict[tuple[str, int], set[str]] = {}
        self.by_module: dict[str, set[str]] = {}
        for nodeid, data in tests.items():
            for path, lines in data["lines"].items():
                self.by_module.setdefault(path, set()).add(nodeid)
                for line in lines:
                    self.by_line.setdefault((path, line), set()).add(nodeid)
        self.uses: dict[str, set[tuple[str, int]]] = {}  # name -> lines in functions
        self.feeds: dict[str, set[str]] = {}  # name -> names bound by statements using it
        self.anywhere: dict[str, set[str]] = {}  # name -> modules that use it unbound
        for path in _traced_modules():
            source = snapshot.get(path) or (REPO / path).read_bytes()
            self._index(path, ast.parse(source))
        self.test_texts = {
            path: (REPO / path).read_text(encoding="utf-8") for path in _test_files()
        }

    def _index(self, path: str, tree: ast.Module) -> None:
        def visit(node: ast.AST, in_function: bool, bound: tuple[str, ...]) -> None:
            for name, value in ast.iter_fields(node):
                children = value if isinstance(value, list) else [value]
                for child in children:
                    if not isinstance(child, ast.AST):
                        continue
                    inner, names = in_function, bound
                    if name == "body" and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                        inner = True
                    elif name == "body" and isinstance(node, ast.Module | ast.ClassDef):
                        names = bound_names(child)
                        if isinstance(node, ast.ClassDef):
                            names = names or (node.name,)
                    self._note(path, child, inner, names)
                    visit(child, inner, names)

        visit(tree, False, ())

    def _note(self, path: str, node: ast.AST, in_function: bool, bound: tuple[str, ...]) -> None:
        if isinstance(node, ast.alias) and node.asname:
            self.feeds.setdefault(node.name, set()).add(node.asname)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            name = node.id
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            name = node.attr
        else:
            return
        if in_function:
            self.uses.setdefault(name, set()).add((path, node.lineno))
        elif bound:
            self.feeds.setdefault(name, set()).update(bound)
        else:
            self.anywhere.setdefault(name, set()).add(path)

    def _readers(self, bound: Sequence[str]) -> set[str]:
        """The tests that run code reading one of ``bound``, or a name a statement reading
        one of them binds (and so on), and every test in a file that names one."""
        chosen: set[str] = set()
        names: set[str] = set()
        todo = list(bound)
        while todo:
            name = todo.pop()
            if name in names:
                continue
            names.add(name)
            todo += self.feeds.get(name, ())
            for path in self.anywhere.get(name, ()):
                chosen |= self.by_module.get(path, set())
            for line in self.uses.get(name, ()):
                chosen |= self.by_line.get(line, set())
        words = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(names))) + r")\b")
        files = {path for path, text in self.test_texts.items() if words.search(text)}
        return chosen | {nodeid for nodeid in self.tests if nodeid.split("::")[0] in files}

    def select(self, mutant: Mutant, kills: dict[str, int]) -> list[str]:
        chosen: set[str] = set()
        if mutant.in_function:
            for number in mutant.lines:
                chosen |= self.by_line.get((mutant.path, number), set())
        if not chosen and mutant.names:  # module level; or a function only it calls
            chosen = self._readers(mutant.names)
        if not chosen:
            chosen = set(self.by_module.get(mutant.path, ()))
        # A test file may have gone since the traced run (the tree is a working copy).
        files = {nodeid.split("::")[0] for nodeid in chosen}
        gone = {path for path in files if not (REPO / path).is_file()}
        chosen = {nodeid for nodeid in chosen if nodeid.split("::")[0] not in gone}
        # Those that killed mutants before first, then the fastest.
        return sorted(chosen, key=lambda t: (-kills.get(t, 0), self.tests[t]["seconds"], t))


def core_modules() -> list[str]:
    """The modules ``make mutate`` mutates."""
    contract = sorted(
        path.relative_to(REPO).as_posix()
        for package in CONTRACT_PACKAGES
        for path in (REPO / package).glob("*.py")
        if path.name != "__init__.py"
    )
    return [*contract, *RESIZER_CORE]


def _git_state() -> str:
    """The commit the run tests, and whether the product's files differ from it."""
    try:
        head = _git("rev-parse", "--short", "HEAD").strip()
        dirty = _git("status", "--porcelain", "--", *PACKAGES).splitlines()
    except OSError:
        return "not a git checkout"
    return f"commit {head}" + (f", {len(dirty)} product files changed since" if dirty else "")


def _git(*args: str) -> str:
    run = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return run.stdout


def _traced_modules() -> list[str]:
    """Every module the traced run records lines of: the product packages' and infra's."""
    return sorted(
        str(path.relative_to(REPO))
        for package in (*PACKAGES, "infra")
        for path in (REPO / package).rglob("*.py")
    )


def _start(
    slot: Slot, mutant: Mutant, selected: list[str], sources: dict[str, str], explicit_only: bool
) -> None:
    target = slot.root / mutant.path
    target.write_text(mutate(sources[mutant.path], mutant.index), encoding="utf-8")
    slot.result.unlink(missing_ok=True)
    # A test file may have gone since the traced run (the tree is someone's working copy).
    files = sorted(
        f for f in {nodeid.split("::")[0] for nodeid in selected} if (REPO / f).is_file()
    )
    select = _Select(selected, slot.result)

    def body() -> int:
        _enter_child(slot, explicit_only)
        return _pytest(["-x", *files], select)

    slot.job, slot.tests = mutant, selected
    slot.started = time.monotonic()
    slot.pid = _fork(slot, body)


def _finish(slot: Slot, status: int | None, sources: dict[str, str]) -> Result:
    """The slot's run has ended (``status`` None: it ran out of time); restore the slot."""
    assert slot.job is not None
    mutant = slot.job
    (slot.root / mutant.path).write_text(sources[mutant.path], encoding="utf-8")
    seconds = time.monotonic() - slot.started
    killer = ""
    if slot.result.exists():
        killer = json.loads(slot.result.read_text()).get("killer", "")
    if status is None:
        outcome = TIMEOUT
    elif os.WIFSIGNALED(status):
        outcome = KILLED
        killer = killer or f"signal {os.WTERMSIG(status)}"
    else:
        code = os.WEXITSTATUS(status)
        # 0 passed; 1 a test failed; 2 collection failed (an import broke); else the tool
        outcome = {0: SURVIVED, 1: KILLED, 2: KILLED}.get(code, ERROR)
        if code == 2:
            killer = killer or "collection (import) error"
        if outcome == ERROR:
            killer = f"pytest exit code {code}: see the log below\n" + _tail(slot.log)
    slot.job, slot.pid = None, 0
    return Result(mutant, outcome, seconds, len(slot.tests), killer)


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


EQUIVALENT, GAP = "equivalent", "known gap"


def documented() -> dict[str, str]:
    """The mutants docs/mutation.md accounts for, by id: "equivalent" (its table of
    equivalent mutants) or "known gap" (its table of known gaps)."""
    if not DOCS.exists():
        return {}
    text = DOCS.read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for heading, kind in (("Equivalent mutants", EQUIVALENT), ("Known gaps", GAP)):
        section = re.search(rf"^## {heading}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
        for ident in re.findall(r"^\| `([0-9a-f]{8})`", section[1] if section else "", re.M):
            out[ident] = kind
    return out


def _stop(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends a run as Ctrl-C does: its runs killed, its temporary copies removed."""
    raise SystemExit(128 + signum)


def run(plan: Plan) -> int:
    began = time.monotonic()
    signal.signal(signal.SIGTERM, _stop)
    snapshot = _snapshot()
    sources = {path: snapshot[path].decode("utf-8") for path in plan.modules}
    all_mutants = [
        m
        for path in plan.modules
        for m in mutants(path, sources[path])
        if not plan.only or m.ident in plan.only
    ]
    mode = "explicit @examples only" if plan.explicit_only else "Hypothesis derandomized"
    print(
        f"imgedge mutation run: {len(all_mutants)} mutants in {len(plan.modules)} modules, "
        f"{plan.jobs} workers, tests of {' and '.join(TEST_PATHS)} ({mode}); {_git_state()}",
        flush=True,
    )
    for path, source in sources.items():  # ast.unparse alone must change nothing that runs
        if ast.dump(ast.parse(unparsed(source))) != ast.dump(ast.parse(source)):
            raise SystemExit(f"{path}: ast.unparse does not give back the same tree")
    _preload()
    base = Path(tempfile.mkdtemp(prefix="imgedge-mutation-"))
    slots = [_make_slot(i, base, snapshot) for i in range(plan.jobs)]
    results: list[Result] = []
    try:
        tests = _coverage(slots, plan.explicit_only)
        print(f"traced run: {len(tests)} tests in {time.monotonic() - began:.0f}s", flush=True)
        results = _run_all(plan, slots, all_mutants, tests, snapshot)
    finally:
        for slot in slots:
            if slot.pid:
                _kill(slot.pid)
                os.waitpid(slot.pid, 0)
        shutil.rmtree(base, ignore_errors=True)
    return _report(plan, results, time.monotonic() - began)


def _run_all(
    plan: Plan,
    slots: list[Slot],
    all_mutants: list[Mutant],
    tests: dict[str, dict[str, Any]],
    snapshot: dict[str, bytes],
) -> list[Result]:
    sources = {path: snapshot[path].decode("utf-8") for path in plan.modules}
    selector = _Selector(tests, snapshot)
    kills: dict[str, int] = {}
    docs = {} if plan.run_documented or plan.only else documented()
    queue = deque(m for m in all_mutants if m.ident not in docs)
    results = [Result(m, docs[m.ident], 0.0, 0) for m in all_mutants if m.ident in docs]
    total = len(all_mutants)
    while queue or any(slot.job for slot in slots):
        for slot in slots:
            while slot.job is None and queue:
                mutant = queue.popleft()
                selected = selector.select(mutant, kills)
                if not selected:
                    results.append(Result(mutant, NO_TESTS, 0.0, 0))
                    continue
                _start(slot, mutant, selected, sources, plan.explicit_only)
                budget = sum(tests[nodeid]["seconds"] for nodeid in selected)
                slot.deadline = slot.started + 20 + 5 * budget
        pid, status = os.waitpid(-1, os.WNOHANG) if any(s.job for s in slots) else (0, 0)
        finished: list[tuple[Slot, int | None]] = []
        if pid:
            finished += [(slot, status) for slot in slots if slot.pid == pid]
        now = time.monotonic()
        for slot in slots:
            if slot.job and slot.pid != pid and now > slot.deadline:
                _kill(slot.pid)
                os.waitpid(slot.pid, 0)
                finished.append((slot, None))
        if not finished:
            time.sleep(0.005)
            continue
        for slot, child_status in finished:
            result = _finish(slot, child_status, sources)
            results.append(result)
            if result.status == KILLED and result.killer in tests:
                kills[result.killer] = kills.get(result.killer, 0) + 1
            if plan.verbose or result.status in (SURVIVED, ERROR):
                m = result.mutant
                print(
                    f"[{len(results)}/{total}] {result.status}: {m.path}:{m.line} [{m.ident}] "
                    f"{m.describe()} ({result.tests} tests, {result.seconds:.1f}s)"
                    + (f" {result.killer}" if result.killer else ""),
                    flush=True,
                )
            elif len(results) % 100 == 0:
                print(f"[{len(results)}/{total}]", flush=True)
    return results


def _report(plan: Plan, results: list[Result], seconds: float) -> int:
    docs = documented()
    order = {path: i for i, path in enumerate(plan.modules)}
    results.sort(key=lambda r: (order[r.mutant.path], r.mutant.index))
    print()
    print(
        f"{'module':34} {'mutants':>7} {'killed':>6} {'survived':>8} {'gaps':>4} "
        f"{'equiv.':>6} {'score':>6}"
    )
    rows: list[tuple[str, list[Result]]] = [
        (p, [r for r in results if r.mutant.path == p]) for p in plan.modules
    ]
    for name, mine in [*rows, ("all", results)]:
        killed = sum(r.status in (KILLED, TIMEOUT) for r in mine)
        equivalent = sum(r.status == EQUIVALENT for r in mine)
        gaps = sum(r.status == GAP for r in mine)
        survived = len(mine) - killed - equivalent - gaps
        counted = len(mine) - equivalent
        score = f"{100 * killed / counted:5.1f}%" if counted else "    -"
        print(f"{name:34} {len(mine):7} {killed:6} {survived:8} {gaps:4} {equivalent:6} {score}")
    print(
        "score: killed / (mutants - equivalent); a timeout counts as killed; known gaps and "
        "equivalent mutants are those docs/mutation.md lists"
        + ("" if plan.run_documented else " (not run: --all runs them)")
    )
    new = [r for r in results if r.status in (SURVIVED, NO_TESTS, ERROR)]
    if new:
        print(f"\nsurvivors not in docs/mutation.md ({len(new)}): add a test, or document them")
        for r in new:
            m = r.mutant
            print(f"  {m.path}:{m.line} [{m.ident}] {r.status:8} {m.scope}: {m.describe()}")
            if r.status == ERROR:
                print("    " + r.killer.replace("\n", "\n    "))
    killed_documented = [
        r for r in results if r.status in (KILLED, TIMEOUT) and r.mutant.ident in docs
    ]
    if killed_documented:
        print("\nin docs/mutation.md but killed now (take them out of it):")
        for r in killed_documented:
            m = r.mutant
            print(f"  {m.path}:{m.line} [{m.ident}] by {r.killer}: {m.describe()}")
    present = {r.mutant.ident for r in results}
    stale = sorted(ident for ident in docs if ident not in present)
    if stale and not plan.only and set(plan.modules) == set(core_modules()):
        print(f"\nin docs/mutation.md but no such mutant any more: {', '.join(stale)}")
    minutes, secs = divmod(round(seconds), 60)
    print(f"\n{date.today().isoformat()}: took {minutes}m{secs:02d}s with {plan.jobs} workers")
    return 1 if new else 0


def _list(modules: list[str]) -> int:
    for path in modules:
        for m in mutants(path, (REPO / path).read_text(encoding="utf-8")):
            where = "" if m.in_function else " (import time)"
            print(f"{m.path}:{m.line} [{m.ident}] {m.scope}{where}: {m.describe()}")
    return 0


def _show(modules: list[str], ident: str) -> int:
    import difflib

    for path in modules:
        source = (REPO / path).read_text(encoding="utf-8")
        for m in mutants(path, source):
            if m.ident == ident:
                before = unparsed(source).splitlines(keepends=True)
                after = mutate(source, m.index).splitlines(keepends=True)
                sys.stdout.writelines(difflib.unified_diff(before, after, path, path + " (mutant)"))
                return 0
    print(f"no mutant {ident}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(
        prog="python -m tools.mutation",
        description="Mutation testing of imgedge's core modules against its fast tests.",
    )
    parser.add_argument(
        "modules", nargs="*", help="modules to mutate (default: the core, see docs/mutation.md)"
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=os.cpu_count() or 1, help="parallel runs (cores)"
    )
    parser.add_argument(
        "--explicit-only",
        action="store_true",
        help="Hypothesis runs only @example cases: what kills a mutant whatever the seed",
    )
    parser.add_argument(
        "--id", action="append", default=[], metavar="ID", help="run only this mutant (repeatable)"
    )
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--show", metavar="ID", help="print one mutant as a diff")
    parser.add_argument(
        "--all",
        action="store_true",
        help="run the mutants docs/mutation.md accounts for too (to check it still holds)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every mutant's fate")
    args = parser.parse_args(argv)
    modules = [m.replace(os.sep, "/") for m in args.modules] or core_modules()
    for path in modules:
        if not (REPO / path).is_file() or path.split("/")[0] not in PACKAGES:
            parser.error(f"{path}: not a module of {', '.join(PACKAGES)}")
    if args.list:
        raise SystemExit(_list(modules))
    if args.show:
        raise SystemExit(_show(modules, args.show))
    jobs = max(1, args.jobs)
    plan = Plan(modules, jobs, args.explicit_only, args.verbose, args.all, set(args.id))
    raise SystemExit(run(plan))
