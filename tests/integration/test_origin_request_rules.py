"""The CloudFront emulator with the edge function on origin requests (the ``origin-request``
edge trigger of infra/distribution.py), over real HTTP: probe functions
(tests/integration/origin_edge_functions.py) in front of an origin group of two recording
HTTP origins. What it holds the function to, from the CloudFront Developer Guide:

- it runs on misses only, and sees the query string only because the cache policy keys on
  all of it; the cache key is the query as the viewer spelled it ("Restrictions on all
  edge functions", Query strings; "Cache content based on query string parameters");
- on failover it runs again, with the request it returned ("Use origin failover with
  Lambda@Edge functions", the pessimistic reading of "the same request");
- its read-only headers are those of origin request events (Via, but not Host);
- a response it generates may be 1 MB and is cached ("Quotas on Lambda@Edge"; "Generate
  HTTP responses in request triggers")."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from infra.distribution import ORIGIN_REQUEST, describe
from infra.local.cloudfront import CloudFrontServer
from infra.local.http_server import BackgroundHTTPServer
from infra.local.lambda_runtime import FunctionSpec, WorkerPool
from infra.local.origins import HttpOrigin, OriginGroup
from shared.config import Config
from tests.integration.stack_client import Reply, fetch

pytestmark = pytest.mark.integration


class _Recording(BaseHTTPRequestHandler):
    server: RecordingOrigin
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        status = self.server.status
        body = b"from " + self.server.name.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Cache-Control", "max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class RecordingOrigin(BackgroundHTTPServer):
    def __init__(self, name: str, status: int) -> None:
        super().__init__("127.0.0.1", 0, _Recording)
        self.name, self.status = name, status
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()


@dataclass
class Group:
    edge: str
    primary: RecordingOrigin
    secondary: RecordingOrigin

    def get(self, path: str) -> Reply:
        return fetch(self.edge + path)

    def last(self, origin: RecordingOrigin) -> tuple[str, dict[str, str]]:
        with origin.lock:
            return origin.seen[-1]


@pytest.fixture(scope="module")
def group() -> Iterator[Group]:
    spec = describe(Config(), ORIGIN_REQUEST)
    pool = WorkerPool(
        FunctionSpec(
            handler="tests.integration.origin_edge_functions:handler",
            name="test-origin-edge",
            memory_mb=spec.edge.memory_mb,
            timeout_s=spec.edge.timeout_s,
        ),
        size=2,
    ).start()
    primary = RecordingOrigin("primary", 404).start()
    secondary = RecordingOrigin("secondary", 200).start()
    origin = OriginGroup(
        HttpOrigin(primary.url, "primary"),
        HttpOrigin(secondary.url, "secondary"),
        spec.failover_statuses,
    )
    server = CloudFrontServer(spec, pool.invoke, origin).start()
    yield Group(server.url, primary, secondary)
    server.stop()
    primary.stop()
    secondary.stop()
    pool.close()


def test_failover_runs_the_function_again_on_what_it_returned(group: Group) -> None:
    reply = group.get("/record/a.jpg?s=64x&f=webp")
    assert (reply.status, reply.body) == (200, b"from secondary")
    first_path, first = group.last(group.primary)
    path, seen = group.last(group.secondary)
    assert first_path == path == "/rewritten/record/a.jpg"  # the query went with the rewrite
    assert (first["x-runs"], seen["x-runs"]) == ("1", "2")
    primary_domain = group.primary.url.removeprefix("http://")
    secondary_domain = group.secondary.url.removeprefix("http://")
    assert seen["x-origins"] == f"{primary_domain},{secondary_domain}"
    assert seen["x-query"] == "s=64x&f=webp"  # all of it: the cache policy keys on all
    assert "x-amz-cf-id" in seen  # hidden from the function, sent to the origin


def test_the_cache_key_is_the_query_as_spelled_and_hits_skip_the_function(group: Group) -> None:
    count = len(group.secondary.seen)
    for query in ("a=1&b=2", "a=1&b=2", "b=2&a=1", "A=1&b=2"):
        group.get(f"/record/key.jpg?{query}")
    assert len(group.secondary.seen) == count + 3  # the repeat was a hit: no run, no origin
    assert group.get("/record/key.jpg?a=1&b=2").headers["X-Cache"] == "Hit from cloudfront"


def test_read_only_headers_are_the_origin_request_events(group: Group) -> None:
    via = group.get("/add-via/a.jpg")
    assert (via.status, via.headers["X-Cache"]) == (502, "LambdaValidationError from cloudfront")
    host = group.get("/change-host/a.jpg")  # Host is read-only on viewer requests only
    assert host.status == 200


def test_a_generated_response_may_be_a_megabyte_and_is_cached(group: Group) -> None:
    first = group.get("/generate-41k/a.jpg")
    assert (first.status, len(first.body)) == (200, 41 * 1024)
    assert first.headers["X-Cache"] == "LambdaGeneratedResponse from cloudfront"
    again = group.get("/generate-41k/a.jpg")
    assert again.headers["X-Cache"] == "Hit from cloudfront"
    too_big = group.get("/generate-2m/a.jpg")
    assert (too_big.status, too_big.headers["X-Cache"]) == (
        502,
        "LambdaValidationError from cloudfront",
    )
