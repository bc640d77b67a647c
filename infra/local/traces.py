"""``imgedge traces``: the recorded segments, grouped by trace, as JSON or a waterfall.

A trace the resizer joined to Lambda's (``regional_resizer/tracing.py``) names the edge's
own root, from the edge segment's ``edge_trace_id`` annotation, after its id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infra.local.xray_daemon import segments_path

Document = dict[str, Any]
BAR_WIDTH = 40


def read_traces(data_dir: Path, limit: int | None = None) -> list[Document]:
    """``[{"trace_id": ..., "segments": [documents as received]}]``, oldest first; the last
    ``limit`` traces if given."""
    path = segments_path(data_dir)
    traces: dict[str, list[Document]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                document = json.loads(line)
            except ValueError:
                continue
            if isinstance(document, dict) and isinstance(document.get("trace_id"), str):
                traces.setdefault(document["trace_id"], []).append(document)
    grouped = [{"trace_id": tid, "segments": docs} for tid, docs in traces.items()]
    return grouped[-limit:] if limit else grouped


def _rows(document: Document, depth: int) -> Iterator[tuple[int, Document]]:
    yield depth, document
    for child in sorted(document.get("subsegments", []), key=lambda d: d.get("start_time", 0)):
        yield from _rows(child, depth + 1)


def _label(document: Document) -> str:
    name = str(document.get("name", "?"))
    operation = document.get("aws", {}).get("operation")
    return f"{name} {operation}" if operation else name


def waterfall(trace: Document) -> str:
    """A readable timeline: one line per segment and subsegment, nested by parent."""
    segments = trace["segments"]
    by_id = {s.get("id"): s for s in segments}
    roots = [s for s in segments if s.get("parent_id") not in by_id]
    children: dict[str, list[Document]] = {}
    for s in segments:
        if s not in roots:
            children.setdefault(s["parent_id"], []).append(s)
    start = min(s["start_time"] for s in segments)
    end = max(s.get("end_time", s["start_time"]) for s in segments)
    span = max(end - start, 1e-6)

    edge_roots = {s.get("annotations", {}).get("edge_trace_id") for s in segments} - {
        None,
        trace["trace_id"],
    }
    joined = "".join(f" (edge root {root})" for root in sorted(map(str, edge_roots)))
    lines = [f"trace {trace['trace_id']}{joined}  {span * 1000:.1f} ms"]

    def emit(segment: Document, depth: int) -> None:
        for level, doc in _rows(segment, depth):
            t0 = doc["start_time"] - start
            t1 = doc.get("end_time", doc["start_time"]) - start
            lead = int(t0 / span * BAR_WIDTH)
            bar = " " * lead + "#" * max(1, int((t1 - t0) / span * BAR_WIDTH))
            flags = "".join(f" {f}" for f in ("error", "fault", "throttle") if doc.get(f))
            status = doc.get("http", {}).get("response", {}).get("status")
            note = f" {status}" if status else ""
            name = ("  " * level + _label(doc))[:36]
            lines.append(
                f"  {name:<36} {t0 * 1000:8.1f} ms {(t1 - t0) * 1000:8.1f} ms "
                f"|{bar:<{BAR_WIDTH}}|{note}{flags}"
            )
        for child in children.get(segment.get("id", ""), []):
            emit(child, depth + 1)

    for root in sorted(roots, key=lambda d: d["start_time"]):
        emit(root, 0)
    return "\n".join(lines)
