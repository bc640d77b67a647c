"""Dependencies point one way.

    shared                      the contract: the standard library only
    edge_router                 shared and the standard library (Lambda@Edge: no layers,
                                a 1 MB zip)
    regional_resizer            shared, edge_router and its wheels
    infra, bench                anything above; infra.aws (the CDK app) and infra.local
                                (the emulators) never reach each other: both read the
                                distribution's description (infra/distribution.py)

The deployed packages import nothing from infra, bench or tests, and no module of any of
these packages takes part in an import cycle. Every import counts, wherever it is written:
at module level, inside a function, under ``if TYPE_CHECKING``.

What each function loads is what its package imports: the purge function, deployed from
the resizer's zip, loads no part of the image pipeline.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOYED = ("shared", "edge_router", "regional_resizer")
TOOLING = ("infra", "bench")
NOT_FOR_DEPLOYED = ("infra", "bench", "tests")
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


@dataclass(frozen=True)
class Import:
    """One import statement's target: ``module`` as written (absolute), and where."""

    source: str  # the importing module
    module: str
    path: Path
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``: dotted name -> file."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found[module_name(root, path)] = path
    return found


def imports_of(name: str, path: Path) -> Iterator[Import]:
    """Every import in the file, as absolute names: ``from a import b`` is ``a.b``, a
    module or an attribute of ``a`` (``resolve`` tells which)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, path, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                target = module if alias.name == "*" else f"{module}.{alias.name}"
                yield Import(name, target, path, node.lineno)


def resolve(module: str, known: dict[str, Path]) -> str | None:
    """The project module an import loads: the longest known prefix of its name."""
    while module and module not in known:
        module = module.rpartition(".")[0]
    return module or None


def graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = {resolve(i.module, known) for i in imports_of(name, path)}
        edges[name] = {t for t in targets if t is not None and t != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component of two or more
    modules (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(_cycle_through(component, edges) for component in components)


def _cycle_through(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest cycle from the component's first module back to itself."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges[node] & members):
                if child == start:
                    return [*paths[node], start]
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {component}")  # a component always has one


def reaches(edges: dict[str, set[str]], start: str, targets: tuple[str, ...]) -> list[str]:
    """A shortest import chain from ``start`` to a module under ``targets``; [] if none."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges.get(node, ())):
                if child in paths:
                    continue
                paths[child] = [*paths[node], child]
                if _under(child, targets):
                    return paths[child]
                following.append(child)
        frontier = following
    return []


def _under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


# --- the rules -----------------------------------------------------------------------------


def layering_violations(root: Path) -> list[str]:
    """Every broken rule of the module docstring, one line each."""
    known = modules_of(root, (*DEPLOYED, *TOOLING))
    everything = modules_of(root, (*DEPLOYED, *TOOLING, "tests"))
    problems: list[str] = []
    for name, path in known.items():
        top = name.split(".")[0]
        for imported in imports_of(name, path):
            target = imported.module.split(".")[0]
            where = f"{path.relative_to(root)}:{imported.line}"
            if top in DEPLOYED and target in NOT_FOR_DEPLOYED:
                problems.append(f"{where}: {name} (deployed) imports {imported.module}")
            if top == "shared" and target not in STDLIB and target != "shared":
                problems.append(f"{where}: shared imports {imported.module}, not stdlib")
            if top == "edge_router" and target not in STDLIB | {"shared", "edge_router"}:
                problems.append(f"{where}: the edge imports {imported.module}")
            resolved = resolve(imported.module, everything)
            for side, other in (("infra.aws", "infra.local"), ("infra.local", "infra.aws")):
                if _under(name, (side,)) and resolved and _under(resolved, (other,)):
                    problems.append(f"{where}: {name} imports {imported.module}")
    edges = graph(known)
    for side, other in (("infra.aws", "infra.local"), ("infra.local", "infra.aws")):
        for name in sorted(n for n in known if _under(n, (side,))):
            chain = reaches(edges, name, (other,))
            if len(chain) > 2:  # a direct import is reported above, with its line
                problems.append(f"{side} reaches {other}: {' -> '.join(chain)}")
    for cycle in cycles(edges):
        problems.append(f"import cycle: {' -> '.join(cycle)}")
    return sorted(set(problems))


def test_dependencies_point_one_way() -> None:
    known = modules_of(REPO, (*DEPLOYED, *TOOLING))
    assert len(known) > 50, "the project's modules were not found"
    edges = graph(known)
    # The walk sees imports at every level, relative ones included.
    assert "regional_resizer.derivative" in edges["regional_resizer.handler"]
    assert "regional_resizer.precompute" in edges["infra.precompute"]
    problems = layering_violations(REPO)
    assert not problems, "\n".join(problems)


def test_the_purge_function_does_not_load_the_image_pipeline() -> None:
    loaded = modules_loaded_by("regional_resizer.purge")
    assert "regional_resizer.purge" in loaded
    pipeline = {"PIL", "pillow_heif", "aws_xray_sdk"}
    assert [name for name in loaded if name.split(".")[0] in pipeline] == []
    assert [name for name in loaded if name.startswith("regional_resizer.")] == [
        "regional_resizer.purge",
        "regional_resizer.s3",
        "regional_resizer.sigv4",
        "regional_resizer.storage",
        "regional_resizer.tracing",
    ]


def modules_loaded_by(module: str) -> list[str]:
    """The modules a fresh interpreter has loaded once it has imported ``module``."""
    script = f"import json, sys, {module}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout)
    return loaded


# --- the checker itself, on a made-up project ----------------------------------------------

BROKEN = {
    "shared/__init__.py": "",
    "shared/contract.py": "import json\nimport PIL\n",
    "edge_router/__init__.py": "",
    "edge_router/handler.py": "from shared import contract\nimport boto3\n",
    "regional_resizer/__init__.py": "",
    "regional_resizer/handler.py": "def later():\n    from infra.inventory import Inventory\n",
    "regional_resizer/storage.py": "from . import handler\n",
    "infra/__init__.py": "",
    "infra/inventory.py": "def later():\n    from infra.local.stack import KEY\n",
    "infra/local/__init__.py": "",
    "infra/local/stack.py": "from infra.inventory import Inventory\n",
    "infra/local/emulator.py": "from infra import shared_description\n",
    "infra/shared_description.py": "from infra.aws import app\n",
    "infra/aws/__init__.py": "",
    "infra/aws/app.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
    "    from infra.local import stack\n",
    "bench/__init__.py": "",
    "bench/run.py": "from regional_resizer.storage import handler\n",
}


def test_the_checker_finds_each_kind_of_violation(tmp_path: Path) -> None:
    for name, text in BROKEN.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    problems = layering_violations(tmp_path)
    expected = [
        "edge_router/handler.py:2: the edge imports boto3",
        "import cycle: infra.inventory -> infra.local.stack -> infra.inventory",
        "infra.local reaches infra.aws: infra.local.emulator -> infra.shared_description -> "
        "infra.aws.app",
        "infra/aws/app.py:3: infra.aws.app imports infra.local.stack",
        "regional_resizer/handler.py:2: regional_resizer.handler (deployed) imports "
        "infra.inventory.Inventory",
        "shared/contract.py:2: shared imports PIL, not stdlib",
    ]
    assert problems == sorted(expected), "\n".join(problems)


@pytest.mark.parametrize(
    ("edges", "found"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c", "a"]]),
        ({"a": {"b", "c"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b", "a"], ["c", "d", "c"]]),
    ],
)
def test_cycles_are_reported_as_chains(edges: dict[str, set[str]], found: list[list[str]]) -> None:
    assert cycles(edges) == found
