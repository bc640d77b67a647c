"""Lambda@Edge gets no layers and a 1 MB zip: the edge and the contract import only the
standard library and each other. This walks their imports and fails on anything else."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EDGE_PACKAGES = ("edge_router", "shared")


def imported_top_levels(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_edge_imports_only_stdlib_and_shared() -> None:
    files = [f for pkg in EDGE_PACKAGES for f in sorted((REPO / pkg).rglob("*.py"))]
    assert files, "no edge sources found"
    allowed = set(sys.stdlib_module_names) | set(EDGE_PACKAGES) | {"__future__"}
    offenders = {
        f"{f.relative_to(REPO)}: {name}"
        for f in files
        for name in imported_top_levels(f)
        if name not in allowed
    }
    assert not offenders, offenders
