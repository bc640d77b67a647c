"""`imgedge serve` end to end, over real HTTP: the command runs as a subprocess, originals go
in through the S3 API it prints, images come out of its edge URL. The stack runs once with
the edge router on viewer requests and once on origin requests (``--edge-trigger``); where
the two differ (a spelling's own cache entry, a cached 400, f=auto), the test says which.

Also the function URL emulator on its own (worker crashes, timeouts, the event it builds),
with the handler below running in its worker processes.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.distribution import EDGE_TRIGGERS, ORIGIN_REQUEST, VIEWER_REQUEST
from infra.local.function_url import FunctionUrlServer
from infra.local.lambda_runtime import FunctionSpec, WorkerPool
from infra.local.s3_server import EmbeddedS3
from infra.package import BAKED_CONFIG_NAME, EDGE_ZIP, build_edge_zip
from shared.config import load_config
from tests.conftest import make_s3_client
from tests.integration.stack_client import (
    Served,
    descendants,
    fetch,
    jpeg,
    max_age,
    put_original,
    start_serve,
    wait_gone,
)

pytestmark = pytest.mark.integration

LONG_MAX_AGE = 30 * 24 * 3600


@pytest.fixture(scope="module", params=EDGE_TRIGGERS)
def edge_trigger(request: pytest.FixtureRequest) -> str:
    """The event the stack's edge router runs on; every test of the stack runs with both."""
    return str(request.param)


@pytest.fixture(scope="module")
def stack(edge_trigger: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("stack") / "data"
    served = start_serve(data, "--edge-trigger", edge_trigger)
    yield served
    children = descendants(served.process.pid)
    assert served.stop(signal.SIGINT) == 0
    assert wait_gone(children) == set()


@pytest.fixture(scope="module")
def at_origin(edge_trigger: str) -> bool:
    """The edge router runs on origin requests (cache misses) rather than viewer requests."""
    assert edge_trigger in (VIEWER_REQUEST, ORIGIN_REQUEST)
    return edge_trigger == ORIGIN_REQUEST


@pytest.fixture(scope="module")
def s3(stack: Served) -> Any:
    return make_s3_client(stack.s3)


# --- HTTP helpers --------------------------------------------------------------------------


def test_prints_real_ports_and_sample_urls(stack: Served) -> None:
    for url in (stack.edge, stack.s3):
        assert url.startswith("http://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
    assert stack.edge != stack.s3
    assert len(stack.samples) >= 3
    assert all(url.startswith(stack.edge + "/") for url in stack.samples)
    assert f"{stack.edge}/sample.png?s=256x256&f=webp" in stack.samples


def test_resize_is_a_miss_then_a_hit_and_stored_in_s3(stack: Served, s3: Any) -> None:
    put_original(s3, "photos/cat.jpg", jpeg())
    url = f"{stack.edge}/photos/cat.jpg?s=256x256&f=webp"

    first = fetch(url)
    assert first.status == 200, first.body[:200]
    assert first.headers["Content-Type"] == "image/webp"
    assert first.headers["X-Cache"] == "Miss from cloudfront"
    assert "Age" not in first.headers
    with first.image() as image:
        assert (image.format, image.size) == ("WEBP", (256, 256))

    second = fetch(url)
    assert second.status == 200
    assert second.headers["X-Cache"] == "Hit from cloudfront"
    assert int(second.headers["Age"]) >= 0
    assert second.body == first.body
    for name in ("Via", "X-Amz-Cf-Id", "X-Amz-Cf-Pop"):
        assert second.headers[name]
    assert second.headers["Via"].endswith(".cloudfront.net (CloudFront)")
    assert second.headers["X-Amz-Cf-Id"] != first.headers["X-Amz-Cf-Id"]

    stored = s3.get_object(Bucket="derivatives", Key="256x256/webp/photos/cat.jpg")
    assert stored["ContentType"] == "image/webp"
    assert max_age(stored["CacheControl"]) >= LONG_MAX_AGE
    assert stored["Body"].read() == first.body


@pytest.fixture(scope="module")
def dog(stack: Served, s3: Any) -> str:
    """An original whose 256x256 webp is already in the edge cache."""
    put_original(s3, "photos/dog.jpg", jpeg())
    url = f"{stack.edge}/photos/dog.jpg"
    assert fetch(f"{url}?s=256x256&f=webp").headers["X-Cache"] == "Miss from cloudfront"
    return url


@pytest.mark.parametrize(
    "query",
    ["f=webp&s=256x256", "S=256x256&F=WEBP", "s=256x256&f=webp&utm_source=x", "s=250x250&f=webp"],
)
def test_spellings_of_one_request_share_one_derivative(
    at_origin: bool, s3: Any, dog: str, query: str
) -> None:
    """On viewer requests every spelling is the canonical key's one cache entry. On origin
    requests the key is the query as spelled (CloudFront counts order and case), so a new
    spelling misses once, and its miss is the stored derivative, not a new render."""
    stored = s3.get_object(Bucket="derivatives", Key="256x256/webp/photos/dog.jpg")
    reply = fetch(f"{dog}?{query}")
    assert reply.status == 200
    if at_origin:
        assert reply.headers["X-Cache"] == "Miss from cloudfront"
        assert reply.headers["ETag"] == stored["ETag"]  # S3's object, not a fresh render
        assert fetch(f"{dog}?{query}").headers["X-Cache"] == "Hit from cloudfront"
    else:
        assert reply.headers["X-Cache"] == "Hit from cloudfront"
    with reply.image() as image:
        assert image.size == (256, 256)


def test_the_url_helpers_spelling_is_the_one_cache_entry(stack: Served, s3: Any) -> None:
    """What pages should write (shared.urls): one spelling per output, so on origin requests
    too a second page asking for the same output hits."""
    from shared.config import Config
    from shared.urls import image_url

    put_original(s3, "photos/helper.jpg", jpeg())
    first = image_url("photos/helper.jpg", base=stack.edge, config=Config(), s="250x250", f="WEBP")
    second = image_url("photos/helper.jpg", base=stack.edge, config=Config(), f="webp", s="256x256")
    assert first == second == f"{stack.edge}/photos/helper.jpg?s=256x256&f=webp"
    assert fetch(first).headers["X-Cache"] == "Miss from cloudfront"
    assert fetch(second).headers["X-Cache"] == "Hit from cloudfront"


def test_the_original_comes_back_byte_for_byte(stack: Served, s3: Any) -> None:
    body = jpeg((640, 480))
    put_original(s3, "photos/original.jpg", body)
    reply = fetch(f"{stack.edge}/photos/original.jpg")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "image/jpeg"
    assert reply.body == body
    assert fetch(f"{stack.edge}/photos/original.jpg").headers["X-Cache"] == "Hit from cloudfront"


def test_a_bad_parameter_is_a_400_with_a_short_max_age(stack: Served, at_origin: bool) -> None:
    """Generated by the edge. CloudFront never caches a viewer-request function's own
    response, and caches an origin-request function's ("Generate HTTP responses in request
    triggers"), for the error TTL: the short max-age is for both."""
    seen = []
    for _ in range(2):
        reply = fetch(f"{stack.edge}/photos/cat.jpg?s=abc&f=webp")
        assert reply.status == 400
        assert b"s must be" in reply.body
        assert max_age(reply.headers["Cache-Control"]) <= 300
        seen.append(reply.headers["X-Cache"])
    generated = "LambdaGeneratedResponse from cloudfront"
    if at_origin:
        assert seen == [generated, "Error from cloudfront"]
    else:
        assert seen == [generated, generated]


def test_f_auto_follows_accept_on_viewer_requests_and_is_a_400_on_origin_requests(
    stack: Served, at_origin: bool
) -> None:
    url = f"{stack.edge}/photos/portrait.jpg?s=64x&f=auto"  # a still: avif when accepted
    reply = fetch(url, headers={"Accept": "image/avif,image/webp,*/*"})
    if at_origin:
        assert reply.status == 400
        assert b"f=auto" in reply.body
        assert "Vary" not in reply.headers
    else:
        assert reply.status == 200
        assert reply.headers["Content-Type"] == "image/avif"
        assert reply.headers["Vary"] == "Accept"


def test_a_missing_original_is_a_404(stack: Served) -> None:
    reply = fetch(f"{stack.edge}/photos/{uuid.uuid4().hex}.jpg?s=256x256&f=webp")
    assert reply.status == 404
    assert reply.headers["X-Cache"] == "Error from cloudfront"
    assert max_age(reply.headers["Cache-Control"]) <= 300


def test_a_text_file_named_jpg_is_unsupported(stack: Served, s3: Any) -> None:
    put_original(s3, "notes.jpg", b"this is not an image\n" * 10, "text/plain")
    reply = fetch(f"{stack.edge}/notes.jpg?s=256x256&f=webp")
    assert reply.status == 415
    assert not reply.headers["Content-Type"].startswith("image/")


def test_sample_urls_serve_images(stack: Served, at_origin: bool) -> None:
    for url in stack.samples:
        reply = fetch(url, headers={"Accept": "image/avif,image/webp,*/*"})
        if at_origin and "f=auto" in url:
            assert reply.status == 400, url
            continue
        assert reply.status == 200, url
        assert reply.headers["Content-Type"].startswith("image/"), url
    with fetch(f"{stack.edge}/sample.png?s=256x256&f=webp").image() as image:
        assert (image.format, image.size) == ("WEBP", (256, 256))
        assert image.mode == "RGBA"  # transparency kept
    with fetch(f"{stack.edge}/photos/portrait.jpg?s=x512&f=jpeg").image() as image:
        width, height = image.size
        assert height == 512
        assert width < height  # EXIF orientation 6 applied: a portrait


def test_head_and_conditional_requests(stack: Served) -> None:
    url = f"{stack.edge}/sample.png?s=256x256&f=webp"
    full = fetch(url)
    head = fetch(url, method="HEAD")
    assert head.status == 200
    assert head.body == b""
    assert head.headers["Content-Length"] == str(len(full.body))
    assert head.headers["X-Cache"] == "Hit from cloudfront"
    not_modified = fetch(url, headers={"If-None-Match": full.headers["ETag"]})
    assert not_modified.status == 304
    assert not_modified.body == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_only_get_and_head_are_allowed(stack: Served, method: str) -> None:
    reply = fetch(f"{stack.edge}/sample.png?s=256x256&f=webp", method=method)
    assert reply.status == 403
    assert reply.headers["X-Cache"] == "Error from cloudfront"


def test_every_response_carries_the_security_headers(stack: Served) -> None:
    for url in (
        f"{stack.edge}/sample.png?s=256x256&f=webp",
        f"{stack.edge}/sample.png?s=abc",
        f"{stack.edge}/missing.png?s=64x64",
        f"{stack.edge}/sample.png",
    ):
        reply = fetch(url)
        assert reply.headers["X-Content-Type-Options"] == "nosniff", url
        assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'"), url
    assert fetch(stack.edge + "/x", method="POST").headers["X-Content-Type-Options"] == "nosniff"


# --- another S3 endpoint, no samples, SIGTERM ----------------------------------------------


def test_given_s3_endpoint_no_samples_and_sigterm(tmp_path: Path) -> None:
    with EmbeddedS3(log=tmp_path / "own-s3.log") as own_s3:
        served = start_serve(tmp_path / "data", "--s3-endpoint", own_s3.endpoint, "--no-samples")
        try:
            assert served.s3 == own_s3.endpoint
            assert served.samples == []
            children = descendants(served.process.pid)
            commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children]
            assert not any(b"moto.server" in command for command in commands)

            s3 = make_s3_client(own_s3.endpoint)
            assert s3.list_objects_v2(Bucket="originals")["KeyCount"] == 0
            put_original(s3, "given/cat.jpg", jpeg())
            reply = fetch(f"{served.edge}/given/cat.jpg?s=128x128&f=png")
            assert reply.status == 200
            with reply.image() as image:
                assert (image.format, image.size) == ("PNG", (128, 128))
            assert s3.head_object(Bucket="derivatives", Key="128x128/png/given/cat.jpg")
        finally:
            exit_code = served.stop(signal.SIGTERM)
        assert exit_code == 0
        assert wait_gone(children) == set()


def test_the_edge_runs_from_its_package_with_the_configuration_baked_in(tmp_path: Path) -> None:
    """As Lambda@Edge runs it: the zip `imgedge package` builds, extracted, with the
    configuration inside it; the edge worker has no IMGEDGE_CONFIG to read."""
    config = tmp_path / "imgedge.toml"
    config.write_text("sizes = [100, 200]\n")
    data = tmp_path / "data"
    served = start_serve(data, "--config", str(config), "--no-samples")
    try:
        with zipfile.ZipFile(data / "edge" / EDGE_ZIP) as built:
            baked = json.loads(built.read(BAKED_CONFIG_NAME))
        assert baked["sizes"] == [100, 200]
        with tempfile.TemporaryDirectory() as scratch:
            rebuilt = build_edge_zip(load_config(config), Path(scratch))
            assert rebuilt.read_bytes() == (data / "edge" / EDGE_ZIP).read_bytes()
        assert (data / "edge" / "task" / "edge_router" / "handler.py").is_file()
        put_original(make_s3_client(served.s3), "baked/cat.jpg", jpeg())
        with fetch(f"{served.edge}/baked/cat.jpg?s=150x150&f=png").image() as image:
            assert image.size == (200, 200)  # snapped up to the baked allow-list
    finally:
        assert served.stop(signal.SIGTERM) == 0


# --- the function URL emulator on its own --------------------------------------------------


def probe_handler(event: dict[str, Any], context: Any) -> Any:
    """Runs in the emulator's worker processes: behaves as the path says."""
    path = event["rawPath"]
    if path == "/crash":
        os._exit(3)
    if path == "/sleep":
        time.sleep(30)
    if path == "/raise":
        raise RuntimeError("boom")
    if path == "/plain":
        return {"hello": "world"}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-pid": str(os.getpid())},
        "cookies": ["seen=1"],
        "body": base64.b64encode(
            json.dumps(
                {
                    "event": event,
                    "function_name": context.function_name,
                    "memory": context.memory_limit_in_mb,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                    "env": os.environ.get("PROBE_ENV"),
                }
            ).encode()
        ).decode(),
        "isBase64Encoded": True,
    }


@pytest.fixture(scope="module")
def function_url() -> Iterator[str]:
    spec = FunctionSpec(
        handler=f"{__name__}:probe_handler",
        name="probe",
        env={"PROBE_ENV": "from-the-stack"},
        memory_mb=256,
        timeout_s=1.5,
    )
    pool = WorkerPool(spec, size=1).start()
    server = FunctionUrlServer(pool, auth_type="NONE").start()  # signing: test_function_url_auth
    try:
        yield server.url
    finally:
        server.stop()
        pool.close()


def test_function_url_event_and_context(function_url: str) -> None:
    reply = fetch(
        f"{function_url}/some/path%20x?a=1&a=2&b=",
        headers={"Cookie": "c1=1; c2=2", "Accept": "image/webp", "X-Two": "x"},
    )
    assert reply.status == 200
    assert reply.headers["Set-Cookie"] == "seen=1"
    seen = json.loads(reply.body)
    event = seen["event"]
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/some/path%20x"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["cookies"] == ["c1=1", "c2=2"]
    assert event["headers"]["accept"] == "image/webp"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], http["sourceIp"]) == (
        "GET",
        event["rawPath"],
        "127.0.0.1",
    )
    assert seen["function_name"] == "probe"
    assert seen["memory"] == 256
    assert 0 < seen["remaining_ms"] <= 1500
    assert seen["env"] == "from-the-stack"


def test_a_plain_return_value_is_json(function_url: str) -> None:
    reply = fetch(f"{function_url}/plain")
    assert (reply.status, reply.headers["Content-Type"]) == (200, "application/json")
    assert json.loads(reply.body) == {"hello": "world"}


@pytest.mark.parametrize("path", ["/crash", "/sleep", "/raise"])
def test_a_failed_invocation_is_a_502_and_the_worker_recovers(function_url: str, path: str) -> None:
    before = fetch(f"{function_url}/pid").headers["x-pid"]
    started = time.monotonic()
    assert fetch(f"{function_url}{path}").status == 502
    assert time.monotonic() - started < 10
    after = fetch(f"{function_url}/pid")
    assert after.status == 200
    if path == "/raise":
        assert after.headers["x-pid"] == before  # a handler error leaves the worker alive
    else:
        assert after.headers["x-pid"] != before  # a dead or timed-out worker was replaced
