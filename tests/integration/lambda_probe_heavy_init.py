"""A handler module whose init phase (module import) takes 256 MiB: over a 128 MB
function's memory before any invocation (test code only)."""

from __future__ import annotations

from typing import Any

BALLAST = b"x" * (256 * 1024 * 1024)


def handler(event: Any, context: Any) -> Any:
    return len(BALLAST)
