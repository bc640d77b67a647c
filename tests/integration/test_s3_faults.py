"""S3 faults between the resizer and S3 (a fault-injecting proxy on loopback): retried
where botocore's standard retry mode can, otherwise a 5xx that is never cached; never a
partial or wrong derivative in S3, never a write to the original."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from regional_resizer import handler as resizer
from tests.conftest import Buckets, resizer_pointed_at
from tests.integration.s3_fault_proxy import Fault, FaultProxy
from tests.integration.test_resizer_handler import function_url_event, jpeg_bytes

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(
    buckets: Buckets, s3: Any, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    server = FaultProxy(s3_endpoint).start()
    with resizer_pointed_at(monkeypatch, buckets, server.url):
        s3.put_object(Bucket=buckets.originals, Key="f.jpg", Body=jpeg_bytes())
        yield server
        server.stop()


def derivatives(s3: Any, bucket: str) -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listing
        if not item["Key"].startswith("_index/")
    }


def assert_nothing_wrong_stored(s3: Any, buckets: Buckets) -> None:
    """Whatever is stored is the complete, right image; the original is untouched."""
    for key, body in derivatives(s3, buckets.derivatives).items():
        assert key == "256x/webp/f.jpg"
        image = Image.open(io.BytesIO(body))
        image.load()  # a truncated file raises here
        assert image.size == (256, 192)
    original = s3.get_object(Bucket=buckets.originals, Key="f.jpg")["Body"].read()
    assert original == jpeg_bytes()


@pytest.mark.parametrize(
    "fault",
    [
        Fault("GET", "503", times=2),
        Fault("GET", "500", times=1),
        Fault("GET", "reset", times=1),
        Fault("PUT", "503", times=2, path_contains="256x"),
        Fault("PUT", "reset", times=1, path_contains="256x"),
        Fault("GET", "slow", times=1, delay_s=0.5),
    ],
    ids=lambda f: f"{f.method}-{f.kind}x{f.times}",
)
def test_transient_faults_are_retried(
    proxy: FaultProxy, buckets: Buckets, s3: Any, fault: Fault
) -> None:
    proxy.inject(fault)
    response = resizer.handler(function_url_event("/256x/webp/f.jpg"), None)
    assert proxy.injected, "the fault never fired"
    assert response["statusCode"] == 200
    image = Image.open(io.BytesIO(base64.b64decode(response["body"])))
    assert image.size == (256, 192)
    assert derivatives(s3, buckets.derivatives) == {
        "256x/webp/f.jpg": base64.b64decode(response["body"])
    }
    assert_nothing_wrong_stored(s3, buckets)


@pytest.mark.parametrize(
    "fault",
    [
        Fault("GET", "503"),
        Fault("GET", "500"),
        Fault("GET", "reset-body", path_contains="f.jpg"),
        Fault("PUT", "503", path_contains="256x"),
        Fault("PUT", "reset", path_contains="256x"),
    ],
    ids=lambda f: f"{f.method}-{f.kind}-always",
)
def test_persistent_faults_are_an_uncached_5xx_and_store_nothing(
    proxy: FaultProxy, buckets: Buckets, s3: Any, fault: Fault
) -> None:
    proxy.inject(fault)
    response = resizer.handler(function_url_event("/256x/webp/f.jpg"), None)
    assert proxy.injected
    assert response["statusCode"] in (502, 503)
    assert response["headers"]["cache-control"] == "no-store"
    assert derivatives(s3, buckets.derivatives) == {}
    assert_nothing_wrong_stored(s3, buckets)
    proxy.inject()  # healed: the same request now succeeds
    assert resizer.handler(function_url_event("/256x/webp/f.jpg"), None)["statusCode"] == 200
    assert_nothing_wrong_stored(s3, buckets)
