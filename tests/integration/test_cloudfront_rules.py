"""The CloudFront emulator holds the viewer-request function and the cache to CloudFront's
documented rules, over real HTTP: deliberately bad edge functions (tests/integration/
edge_functions.py) run in Lambda-like workers held to 128 MB and 5 s, in front of a real
HTTP origin that counts what reaches it, and a real S3 origin (moto)."""

from __future__ import annotations

import email.utils
import hashlib
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from infra.distribution import describe
from infra.local.cloudfront import CloudFrontServer
from infra.local.http_server import BackgroundHTTPServer
from infra.local.lambda_runtime import FunctionSpec, WorkerPool
from infra.local.origins import HttpOrigin, S3Origin
from shared.config import Config
from tests.conftest import Buckets
from tests.integration.stack_client import Reply, fetch

pytestmark = pytest.mark.integration

BODY = bytes(range(256)) * 8  # 2,048 bytes
ETAG = '"' + hashlib.md5(BODY, usedforsecurity=False).hexdigest() + '"'
LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"
ERROR_MAX_AGE = 60


class _Origin(BaseHTTPRequestHandler):
    """``/pass/image/...``: an image, cacheable. ``/pass/status/CODE[/CACHE-CONTROL]``: that
    status, with that Cache-Control if given. Each request is counted by path and query."""

    server: OriginServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.seen[self.path] += 1
        parts = self.path.partition("?")[0].split("/")
        if parts[2] == "image":
            status, body = 200, BODY
            headers = {
                "Content-Type": "image/webp",
                "Cache-Control": "public, max-age=3600",
                "ETag": ETAG,
                "Last-Modified": LAST_MODIFIED,
            }
        else:
            status, body = int(parts[3]), b"error\n"
            headers = {"Content-Type": "text/plain"}
            if len(parts) > 4:
                headers["Cache-Control"] = parts[4].replace("_", " ")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET  # noqa: N815


class OriginServer(BackgroundHTTPServer):
    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0, _Origin)
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()


@dataclass
class Distribution:
    edge: str  # the emulator's URL
    origin: OriginServer

    def get(self, path: str, method: str = "GET", **headers: str) -> Reply:
        return fetch(self.edge + path, method, headers)

    def reached(self, path: str) -> int:
        with self.origin.lock:
            return sum(n for seen, n in self.origin.seen.items() if seen.partition("?")[0] == path)


@pytest.fixture(scope="module")
def edge_pool() -> Iterator[WorkerPool]:
    spec = describe(Config(error_max_age=ERROR_MAX_AGE))
    function = FunctionSpec(
        handler="tests.integration.edge_functions:handler",
        name="test-edge",
        memory_mb=spec.edge.memory_mb,
        timeout_s=spec.edge.timeout_s,
    )
    pool = WorkerPool(function, size=2).start()
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def cloudfront(edge_pool: WorkerPool) -> Iterator[Distribution]:
    spec = describe(Config(error_max_age=ERROR_MAX_AGE))
    origin = OriginServer().start()
    server = CloudFrontServer(spec, edge_pool.invoke, HttpOrigin(origin.url)).start()
    yield Distribution(server.url, origin)
    server.stop()
    origin.stop()


# --- the edge function's result ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "x_cache"),
    [
        ("/add-x-cache/a.jpg", 502, "LambdaValidationError from cloudfront"),
        ("/change-host/a.jpg", 502, "LambdaValidationError from cloudfront"),
        ("/long-uri/a.jpg", 502, "LambdaValidationError from cloudfront"),
        ("/big-response/a.jpg", 502, "LambdaValidationError from cloudfront"),
        ("/raise/a.jpg", 503, "LambdaExecutionError from cloudfront"),
        ("/small-response/a.jpg", 418, "LambdaGeneratedResponse from cloudfront"),
    ],
)
def test_edge_results_get_what_cloudfront_gives(
    cloudfront: Distribution, path: str, status: int, x_cache: str
) -> None:
    reply = cloudfront.get(path)
    assert (reply.status, reply.headers["X-Cache"]) == (status, x_cache)
    assert cloudfront.reached(path) == 0


def test_an_edge_function_past_five_seconds_is_a_503(cloudfront: Distribution) -> None:
    reply = cloudfront.get("/sleep/a.jpg")
    assert (reply.status, reply.headers["X-Cache"]) == (503, "LambdaExecutionError from cloudfront")
    assert cloudfront.get("/pass/image/after-sleep.webp").status == 200  # a fresh worker


def test_an_edge_function_past_128_mb_is_a_503_and_the_next_gets_a_fresh_worker(
    cloudfront: Distribution,
) -> None:
    for _ in range(2):  # both workers, in turn
        reply = cloudfront.get("/allocate/a.jpg")
        assert reply.status == 503
        assert reply.headers["X-Cache"] == "LambdaExecutionError from cloudfront"
    assert cloudfront.get("/pass/image/after-allocate.webp").status == 200


def test_a_url_over_8192_bytes_is_a_414(cloudfront: Distribution) -> None:
    """Scheme and host count: https://127.0.0.1:PORT/... (the emulator's own Host)."""
    room = 8192 - len("https://" + cloudfront.edge.removeprefix("http://"))
    path = "/pass/image/a.webp?q="
    path += "a" * (room - len(path) + 1)
    reply = cloudfront.get(path)
    assert (reply.status, reply.headers["X-Cache"]) == (414, "Error from cloudfront")
    assert cloudfront.reached("/pass/image/a.webp") == 0
    assert cloudfront.get(path[:-1]).status == 200  # 8,192 bytes: allowed


def test_disallowed_viewer_headers_never_reach_the_function(cloudfront: Distribution) -> None:
    """The function adds nothing, but a viewer's X-Cache would be in the request it returns
    if CloudFront had shown it: CloudFront does not, so the request is valid."""
    reply = cloudfront.get("/pass/image/hidden.webp", **{"X-Cache": "Hit", "X-Real-IP": "1.2.3.4"})
    assert reply.status == 200


# --- the cache key and what reaches the origin ---------------------------------------------


def test_the_query_string_is_neither_key_nor_forwarded(cloudfront: Distribution) -> None:
    first = cloudfront.get("/pass/image/query.webp?a=1")
    second = cloudfront.get("/pass/image/query.webp?a=2")
    assert first.headers["X-Cache"] == "Miss from cloudfront"
    assert second.headers["X-Cache"] == "Hit from cloudfront"
    with cloudfront.origin.lock:
        assert dict(cloudfront.origin.seen).get("/pass/image/query.webp") == 1
        assert not any("?" in path for path in cloudfront.origin.seen)


def test_a_head_is_cached_but_never_serves_a_get(cloudfront: Distribution) -> None:
    path = "/pass/image/head-first.webp"
    head = cloudfront.get(path, "HEAD")
    assert (head.status, head.body, head.headers["X-Cache"]) == (200, b"", "Miss from cloudfront")
    assert cloudfront.get(path, "HEAD").headers["X-Cache"] == "Hit from cloudfront"
    got = cloudfront.get(path)
    assert (got.body, got.headers["X-Cache"]) == (BODY, "Miss from cloudfront")
    assert cloudfront.get(path).headers["X-Cache"] == "Hit from cloudfront"
    again = cloudfront.get(path, "HEAD")
    assert again.headers["X-Cache"] == "Hit from cloudfront"
    assert again.headers["Content-Length"] == str(len(BODY))


def test_a_range_is_a_206_from_the_cache(cloudfront: Distribution) -> None:
    path = "/pass/image/range.webp"
    miss = cloudfront.get(path, Range="bytes=0-9")
    assert (miss.status, miss.body) == (200, BODY)  # the origin ignores Range: all of it
    hit = cloudfront.get(path, Range="bytes=10-19")
    assert (hit.status, hit.body) == (206, BODY[10:20])
    assert hit.headers["Content-Range"] == f"bytes 10-19/{len(BODY)}"
    assert hit.headers["X-Cache"] == "Hit from cloudfront"
    assert cloudfront.get(path, Range="bytes=-5").body == BODY[-5:]
    past = cloudfront.get(path, Range=f"bytes={len(BODY)}-")
    assert (past.status, past.headers["Content-Range"]) == (416, f"bytes */{len(BODY)}")


def test_responses_vary_on_accept_for_caches_between_cloudfront_and_the_viewer(
    cloudfront: Distribution,
) -> None:
    for path in ("/pass/image/vary.webp", "/pass/status/404"):
        assert cloudfront.get(path).headers.get_all("Vary") == ["Accept"], path


def test_a_generated_response_gets_no_policy_headers(cloudfront: Distribution) -> None:
    """No AWS page says the response headers policy applies to a response a
    viewer-request function generates: the emulator adds nothing to one."""
    reply = cloudfront.get("/small-response/a.jpg")
    assert reply.status == 418
    for name in ("Vary", "X-Content-Type-Options", "Content-Security-Policy"):
        assert name not in reply.headers


def test_conditional_requests_are_304s(cloudfront: Distribution) -> None:
    path = "/pass/image/conditional.webp"
    assert cloudfront.get(path).status == 200
    assert cloudfront.get(path, **{"If-None-Match": ETAG}).status == 304
    assert cloudfront.get(path, **{"If-None-Match": '"other"'}).status == 200
    assert cloudfront.get(path, **{"If-Modified-Since": LAST_MODIFIED}).status == 304
    earlier = email.utils.formatdate(0, usegmt=True)
    assert cloudfront.get(path, **{"If-Modified-Since": earlier}).status == 200


# --- error caching per status --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "cached"),
    [
        ("/pass/status/404", True),  # always cached: the distribution's 60 s
        ("/pass/status/404/no-store", False),  # no-store stops a 404 from being cached
        ("/pass/status/400", False),  # 400 only with max-age
        ("/pass/status/400/max-age=5", True),
        ("/pass/status/403", False),
        ("/pass/status/413/max-age=60", False),  # never cached
        ("/pass/status/422/max-age=60", False),
        ("/pass/status/503/no-store", False),  # the distribution's TTL for 503 is 0
        ("/pass/status/501/no-cache", False),
        ("/pass/status/501", True),  # CloudFront's default 10 s: not configured
    ],
)
def test_errors_are_cached_per_status(cloudfront: Distribution, path: str, cached: bool) -> None:
    first = cloudfront.get(path)
    second = cloudfront.get(path)
    assert first.status == second.status == int(path.split("/")[3])
    assert cloudfront.reached(path) == (1 if cached else 2)


# --- the S3 origin behind OAC --------------------------------------------------------------


def test_s3_behind_oac_answers_403_for_a_missing_key(
    s3_endpoint: str, s3: Any, buckets: Buckets
) -> None:
    s3.put_object(Bucket=buckets.derivatives, Key="here.webp", Body=BODY)
    origin = S3Origin(buckets.derivatives, s3_endpoint)
    assert origin.fetch("GET", "/here.webp", "", []).read_all() == BODY
    for method in ("GET", "HEAD"):
        missing = origin.fetch(method, "/not-here.webp", "", [])
        assert missing.status == 403
        missing.close()
    assert b"AccessDenied" in origin.fetch("GET", "/not-here.webp", "", []).read_all()
