"""Where a running local stack can be found: ``imgedge serve`` writes ``stack.json`` into its
data directory once it is ready and removes it when it stops. ``imgedge env``, ``ls``,
``precompute`` and ``traces`` read it when they are given no endpoint, so that they talk
to the local stack rather than to AWS.

    {"pid": 4242, "edge": "http://127.0.0.1:8080", "s3_endpoint": "http://127.0.0.1:9000",
     "originals_bucket": "originals", "derivatives_bucket": "derivatives",
     "region": "us-east-1", "xray_daemon": "127.0.0.1:41234", "traces_dir": "/.../.imgedge",
     "config": null}

A file whose process is gone (a stack that was killed) is ignored. ``traces_dir`` is the
directory ``imgedge traces`` reads, or null when the stack sends its traces to a daemon
of its own (``imgedge serve --xray-daemon``). ``config`` is the configuration file the
stack runs with (null: the defaults), which ``imgedge precompute`` then renders with.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from infra.local.credentials import DATA_DIR

STATE_FILE = "stack.json"
DEFAULT_DATA_DIR = DATA_DIR


@dataclass(frozen=True)
class StackState:
    pid: int
    edge: str
    s3_endpoint: str
    originals_bucket: str
    derivatives_bucket: str
    region: str
    xray_daemon: str  # HOST:PORT
    traces_dir: str | None  # absolute; None: the traces go to an external daemon
    config: str | None = None  # the configuration file, absolute; None: the defaults
    data_dir: str = ""  # where the file was found (absolute); not stored in it

    @property
    def alive(self) -> bool:
        return process_alive(self.pid)


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def write_state(data_dir: Path, state: StackState) -> Path:
    """Write ``state`` in ``data_dir`` whole (readers never see half a file)."""
    path = state_path(data_dir)
    record = asdict(state)
    del record["data_dir"]
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def remove_state(data_dir: Path, pid: int | None = None) -> None:
    """Remove the state file, if it still describes process ``pid`` (default: this one)."""
    path = state_path(data_dir)
    state = read_state(path)
    if state is not None and state.pid == (os.getpid() if pid is None else pid):
        path.unlink(missing_ok=True)


def read_state(path: Path) -> StackState | None:
    """The state in ``path``; None if there is none or it is not one."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(StackState)}
        state = StackState(**{k: v for k, v in record.items() if k in known - {"data_dir"}})
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    if not isinstance(state.pid, int) or not isinstance(state.s3_endpoint, str):
        return None
    return replace(state, data_dir=str(path.parent.resolve()))


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process, alive
        return True
    return True


def _candidates(start: Path) -> Iterator[Path]:
    here = start.resolve()
    for folder in (here, *here.parents):
        yield folder / DEFAULT_DATA_DIR


def find_running(data_dir: Path | None = None, start: Path | None = None) -> StackState | None:
    """The running stack whose data directory is ``data_dir``; without one, the running
    stack of ``.imgedge`` in ``start`` (default: the current directory) or the nearest
    parent directory that has one."""
    folders = [data_dir] if data_dir is not None else _candidates(start or Path.cwd())
    for folder in folders:
        state = read_state(state_path(folder))
        if state is not None and state.alive:
            return state
    return None
