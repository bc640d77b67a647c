"""The local function URL's trace, as the pessimistic reading of Lambda: every invocation
runs in a fresh trace root whatever X-Amzn-Trace-Id the request carries, set where Lambda
sets it (``_X_AMZN_TRACE_ID`` for that invocation, and the event's header); adopting the
incoming header is an explicit option."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.function_url import FunctionUrlServer
from infra.local.lambda_runtime import FunctionSpec, WorkerPool
from shared.trace_context import TraceHeader
from tests.integration.stack_client import fetch

pytestmark = pytest.mark.integration

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
INCOMING = f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1"


def trace_probe(event: dict[str, Any], context: Any) -> Any:
    """What the invocation sees of its trace."""
    return {
        "env": os.environ.get("_X_AMZN_TRACE_ID"),
        "header": event["headers"].get("x-amzn-trace-id"),
    }


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    spec = FunctionSpec(handler=f"{__name__}:trace_probe", name="trace-probe", memory_mb=256)
    started = WorkerPool(spec, size=1).start()
    yield started
    started.close()


def seen(url: str) -> tuple[TraceHeader, TraceHeader]:
    reply = fetch(url + "/x", headers={"X-Amzn-Trace-Id": INCOMING})
    assert reply.status == 200
    body = json.loads(reply.body)
    env, header = TraceHeader.parse(body["env"]), TraceHeader.parse(body["header"])
    assert env is not None and header is not None
    return env, header


def test_each_invocation_gets_a_fresh_root_whatever_the_request_carries(
    pool: WorkerPool,
) -> None:
    server = FunctionUrlServer(pool, auth_type="NONE").start()
    try:
        (env1, header1), (env2, header2) = seen(server.url), seen(server.url)
    finally:
        server.stop()
    assert ROOT not in (env1.root, env2.root)
    assert env1.root == header1.root and env2.root == header2.root
    assert env1.root != env2.root
    assert env1.parent is not None and env1.sampled is True  # as Lambda's runtime sets it
    assert header1.parent is None  # the incoming header is replaced, not passed on


def test_adopting_the_incoming_header_is_an_option(pool: WorkerPool) -> None:
    server = FunctionUrlServer(pool, auth_type="NONE", adopt_trace_header=True).start()
    try:
        env, header = seen(server.url)
    finally:
        server.stop()
    assert env.root == header.root == ROOT


def test_an_invocation_without_a_trace_has_no_trace_environment(pool: WorkerPool) -> None:
    assert pool.invoke({"headers": {}}, trace_id="Root=" + ROOT).result["env"] == "Root=" + ROOT
    assert pool.invoke({"headers": {}}).result["env"] is None  # not the previous one's
