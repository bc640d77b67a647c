"""Handlers that the Lambda emulation's tests run in worker processes (test code only).

This module also stands in for a parent's main module: a spawned worker re-imports its
parent's ``__main__`` when that is a plain module (a script, or a test runner's), and this
one imports the repo's own ``shared.config`` at module level, so a worker started with it
as ``__main__`` has the repo's copy in ``sys.modules`` before its handler loads.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import shared.config

MIB = 1024 * 1024
REPO_CONFIG_FILE = shared.config.__file__


def _allocate(mib: int) -> bytes:
    """``mib`` MiB that are really resident: every page is written."""
    return b"x" * (mib * MIB)


def memory_handler(event: dict[str, Any], context: Any) -> Any:
    """``/allocate``: hold twice the function's memory for a moment; ``/spike``: touch it
    and let go at once; anything else: the worker's pid."""
    path = event.get("rawPath", "")
    if path == "/allocate":
        held = _allocate(2 * context.memory_limit_in_mb)
        time.sleep(0.5)
        del held
    elif path == "/spike":
        del_at_once = _allocate(2 * context.memory_limit_in_mb)
        del del_at_once
    headers = {
        "x-pid": str(os.getpid()),
        # what Lambda's environment says of the function
        "x-memory-size": os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", ""),
        "x-function-name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
    }
    return {"statusCode": 200, "headers": headers, "body": ""}


def echo_handler(event: dict[str, Any], context: Any) -> Any:
    """The event it was given, as JSON."""
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(event),
    }
