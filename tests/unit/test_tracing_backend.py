"""The tracing module against aws-xray-sdk, in fresh interpreters (the SDK chooses its
Lambda or plain context when it is imported): what reaches a daemon's UDP port. The edge's
trace comes in X-Imgedge-Trace; Lambda's in _X_AMZN_TRACE_ID or the event's
X-Amzn-Trace-Id, and when its root is another one, everything is written into it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from typing import Any

import botocore

from tests.conftest import REPO

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
LAMBDA_ROOT = "1-6a1b2c3d-0123456789abcdef01234567"  # the root Lambda gave the invocation
EDGE_ID = "0123456789abcdef"
SCRIPT = textwrap.dedent(
    """
    import json, os
    from regional_resizer import tracing
    t = tracing.start({
        "x-imgedge-trace": "Root=%(root)s;Parent=0123456789abcdef;Sampled=1",
        "x-imgedge-edge": "id=0123456789abcdef;start=1700000000.1;end=1700000000.2;"
                          "event=viewer-request;request=abc",
        **json.loads(os.environ.get("EVENT_HEADERS", "{}")),
    })
    with t.span("decode"):
        pass
    t.annotate(cache_key="k")
    t.finish(404)
    print(t.server_timing())
    """
) % {"root": ROOT}


def run_traced(env: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    """Run SCRIPT with ``env``; its stdout and the segment documents a daemon received."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(1.0)
        address = f"127.0.0.1:{sock.getsockname()[1]}"
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            cwd=REPO,
            env={"PATH": "/usr/bin:/bin", "AWS_XRAY_DAEMON_ADDRESS": address, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        documents = []
        try:
            while True:
                header, _, body = sock.recv(65535).partition(b"\n")
                assert json.loads(header) == {"format": "json", "version": 1}
                documents.append(json.loads(body))
        except TimeoutError:
            pass
    return result.stdout, documents


def test_outside_lambda_the_resizer_begins_its_own_segment_under_the_edge() -> None:
    out, documents = run_traced({})
    by_name = {d["name"]: d for d in documents}
    resizer, edge = by_name["imgedge-resizer"], by_name["imgedge-edge"]
    assert resizer["trace_id"] == edge["trace_id"] == ROOT
    assert resizer["parent_id"] == edge["id"] == "0123456789abcdef"
    assert resizer["error"] is True and resizer["http"]["response"]["status"] == 404
    assert [s["name"] for s in resizer["subsegments"]] == ["decode"]
    assert out.startswith("edge;dur=100.0, decode;dur=")


def test_in_lambda_subsegments_hang_under_lambdas_own_segment() -> None:
    lambda_parent = "53995c3f42cd8ad8"
    out, documents = run_traced(
        {
            "LAMBDA_TASK_ROOT": "/var/task",
            "_X_AMZN_TRACE_ID": f"Root={ROOT};Parent={lambda_parent};Sampled=1",
        }
    )
    by_name = {d["name"]: d for d in documents}
    top = by_name["imgedge"]  # Lambda's segment is read-only: annotations go here
    assert top["parent_id"] == lambda_parent
    # and the resizer's botocore version, for `imgedge smoke`, never in a response
    assert top["annotations"] == {"cache_key": "k", "botocore_version": botocore.__version__}
    assert top["error"] is True
    assert by_name["decode"]["parent_id"] == top["id"]
    assert by_name["imgedge-edge"]["trace_id"] == ROOT
    assert "decode;dur=" in out


def test_a_broken_daemon_address_never_fails_the_request() -> None:
    out, documents = run_traced({"AWS_XRAY_DAEMON_ADDRESS": "not an address"})
    assert documents == []
    assert "decode;dur=" in out


def test_outside_lambda_a_lambda_root_of_its_own_holds_edge_and_resizer() -> None:
    _, documents = run_traced({"_X_AMZN_TRACE_ID": f"Root={LAMBDA_ROOT};Sampled=1"})
    by_name = {d["name"]: d for d in documents}
    resizer, edge = by_name["imgedge-resizer"], by_name["imgedge-edge"]
    assert resizer["trace_id"] == edge["trace_id"] == LAMBDA_ROOT
    assert resizer["parent_id"] == edge["id"] == EDGE_ID
    assert "parent_id" not in edge  # the first segment of Lambda's trace
    assert edge["annotations"]["edge_trace_id"] == ROOT
    assert resizer["annotations"]["edge_trace_id"] == ROOT
    assert [s["name"] for s in resizer["subsegments"]] == ["decode"]


def test_without_the_environment_the_events_trace_header_is_lambdas() -> None:
    header = json.dumps({"x-amzn-trace-id": f"Root={LAMBDA_ROOT}"})
    _, documents = run_traced({"EVENT_HEADERS": header})
    by_name = {d["name"]: d for d in documents}
    assert by_name["imgedge-resizer"]["trace_id"] == LAMBDA_ROOT
    assert by_name["imgedge-edge"]["trace_id"] == LAMBDA_ROOT
    assert by_name["imgedge-edge"]["annotations"]["edge_trace_id"] == ROOT


def test_in_lambda_the_edge_segment_is_written_into_lambdas_trace() -> None:
    lambda_parent = "53995c3f42cd8ad8"
    _, documents = run_traced(
        {
            "LAMBDA_TASK_ROOT": "/var/task",
            "_X_AMZN_TRACE_ID": f"Root={LAMBDA_ROOT};Parent={lambda_parent};Sampled=1",
        }
    )
    by_name = {d["name"]: d for d in documents}
    top, edge = by_name["imgedge"], by_name["imgedge-edge"]
    assert top["trace_id"] == edge["trace_id"] == LAMBDA_ROOT
    assert top["parent_id"] == lambda_parent
    assert top["annotations"] == {
        "edge_trace_id": ROOT,
        "cache_key": "k",
        "botocore_version": botocore.__version__,
    }
    assert edge["annotations"]["edge_trace_id"] == ROOT
    assert edge["start_time"] < top["start_time"]
    assert by_name["decode"]["trace_id"] == LAMBDA_ROOT


def test_in_lambda_an_unsampled_lambda_trace_leaves_the_edge_in_its_own() -> None:
    _, documents = run_traced(
        {
            "LAMBDA_TASK_ROOT": "/var/task",
            "_X_AMZN_TRACE_ID": f"Root={LAMBDA_ROOT};Parent=53995c3f42cd8ad8;Sampled=0",
        }
    )
    assert [d["name"] for d in documents] == ["imgedge-edge"]
    assert documents[0]["trace_id"] == ROOT
    assert "edge_trace_id" not in documents[0]["annotations"]
