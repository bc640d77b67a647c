"""The regional resizer's handler, given real function URL (payload 2.0) events, against
the embedded S3 server over HTTP."""

from __future__ import annotations

import base64
import copy
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from infra.local.s3_server import free_port
from regional_resizer import derivative, pipeline, responses
from regional_resizer import handler as resizer
from regional_resizer.pipeline import Rendition
from shared.layout import index_prefix
from tests.conftest import EVENTS, Buckets, resizer_pointed_at

pytestmark = pytest.mark.integration

BASE_EVENT: dict[str, Any] = json.loads((EVENTS / "function_url.json").read_text())


def function_url_event(path: str, method: str = "GET") -> dict[str, Any]:
    event = copy.deepcopy(BASE_EVENT)
    event["rawPath"] = path
    event["rawQueryString"] = ""
    event.pop("queryStringParameters", None)
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    return event


def jpeg_bytes(size: tuple[int, int] = (800, 600)) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def env(
    buckets: Buckets, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Buckets]:
    with resizer_pointed_at(monkeypatch, buckets, s3_endpoint):
        yield buckets


def use_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str) -> None:
    path = tmp_path / "imgedge.toml"
    path.write_text(text)
    monkeypatch.setenv("IMGEDGE_CONFIG", str(path))
    resizer.config.cache_clear()


def keys(s3: Any, bucket: str) -> dict[str, str]:
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {obj["Key"]: obj["ETag"] for obj in listing}


def body_of(response: dict[str, Any]) -> bytes:
    assert response["isBase64Encoded"] is True
    return base64.b64decode(response["body"])


def test_miss_renders_stores_and_returns_the_derivative(env: Buckets, s3: Any) -> None:
    s3.put_object(Bucket=env.originals, Key="photos/cat.jpg", Body=jpeg_bytes())
    originals_before = keys(s3, env.originals)

    response = resizer.handler(function_url_event("/256x256/webp/photos/cat.jpg"), None)

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "image/webp"
    assert "max-age=31536000" in response["headers"]["cache-control"]
    image = Image.open(io.BytesIO(body_of(response)))
    assert (image.format, image.size) == ("WEBP", (256, 256))
    stored = s3.get_object(Bucket=env.derivatives, Key="256x256/webp/photos/cat.jpg")
    assert stored["ContentType"] == "image/webp"
    assert "max-age=31536000" in stored["CacheControl"]
    assert stored["Body"].read() == body_of(response)
    assert keys(s3, env.originals) == originals_before  # the original is never written


def test_percent_encoded_path_is_decoded_once(env: Buckets, s3: Any) -> None:
    s3.put_object(Bucket=env.originals, Key="my cat%20.jpg", Body=jpeg_bytes())
    response = resizer.handler(function_url_event("/256x/jpeg/my%20cat%2520.jpg"), None)
    assert response["statusCode"] == 200
    assert Image.open(io.BytesIO(body_of(response))).size == (256, 192)
    assert "256x/jpeg/my cat%20.jpg" in keys(s3, env.derivatives)


def test_original_is_returned_byte_for_byte(env: Buckets, s3: Any) -> None:
    original = jpeg_bytes()
    s3.put_object(Bucket=env.originals, Key="a/b.jpg", Body=original, ContentType="text/plain")
    response = resizer.handler(function_url_event("/original/a/b.jpg"), None)
    assert response["statusCode"] == 200
    assert body_of(response) == original
    assert response["headers"]["content-type"] == "image/jpeg"  # sniffed, not trusted
    assert response["headers"]["x-content-type-options"] == "nosniff"


def test_head_renders_but_returns_no_body(env: Buckets, s3: Any) -> None:
    s3.put_object(Bucket=env.originals, Key="h.jpg", Body=jpeg_bytes())
    response = resizer.handler(function_url_event("/64x/png/h.jpg", "HEAD"), None)
    assert (response["statusCode"], response["body"]) == (200, "")
    assert "64x/png/h.jpg" in keys(s3, env.derivatives)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/0300x300/webp/x.jpg", 400),  # leading zero: not the canonical spelling
        ("/9000x/webp/x.jpg", 400),  # beyond the hard limit, signed or not
        ("/256x256-cover/webp/x.jpg", 400),  # default spelled out: not canonical
        ("/256x256/gif/x.jpg", 400),
        ("/256x256/webp/../x.jpg", 400),
        ("/256x256/webp/%ff.jpg", 400),
        ("/x.jpg", 400),
        ("/256x256/webp/missing.jpg", 404),
        ("/original/missing.jpg", 404),
    ],
)
def test_bad_keys_and_missing_originals(env: Buckets, s3: Any, path: str, status: int) -> None:
    s3.put_object(Bucket=env.originals, Key="x.jpg", Body=jpeg_bytes())
    response = resizer.handler(function_url_event(path), None)
    assert response["statusCode"] == status
    assert response["headers"]["cache-control"] == "public, max-age=60"
    assert keys(s3, env.derivatives) == {}


def test_other_methods_are_refused(env: Buckets) -> None:
    response = resizer.handler(function_url_event("/256x/webp/x.jpg", "POST"), None)
    assert response["statusCode"] == 405


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 415),
        (b"hello, I am text in a .jpg\n", 415),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, 415),  # a JPEG signature and nothing else
    ],
)
def test_not_an_image(env: Buckets, s3: Any, body: bytes, status: int) -> None:
    s3.put_object(Bucket=env.originals, Key="bad.jpg", Body=body)
    response = resizer.handler(function_url_event("/256x/webp/bad.jpg"), None)
    assert response["statusCode"] == status
    assert response["headers"]["cache-control"] == "public, max-age=60"
    assert keys(s3, env.derivatives) == {}


def test_truncated_image_is_415(env: Buckets, s3: Any) -> None:
    data = jpeg_bytes((1600, 1200))
    s3.put_object(Bucket=env.originals, Key="cut.jpg", Body=data[: len(data) // 2])
    response = resizer.handler(function_url_event("/256x/webp/cut.jpg"), None)
    assert response["statusCode"] == 415
    assert "corrupt" in response["body"]
    assert response["headers"]["cache-control"] == "public, max-age=60"
    assert keys(s3, env.derivatives) == {}


def test_pixel_limit_is_415(
    env: Buckets, s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path, "max_source_pixels = 100000\n")
    s3.put_object(Bucket=env.originals, Key="big.jpg", Body=jpeg_bytes((800, 600)))
    response = resizer.handler(function_url_event("/256x/webp/big.jpg"), None)
    assert response["statusCode"] == 415
    assert "dimensions" in response["body"]
    assert response["headers"]["cache-control"] == "public, max-age=60"
    assert keys(s3, env.derivatives) == {}


def test_byte_limit_is_415(
    env: Buckets, s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_config(monkeypatch, tmp_path, "max_source_bytes = 1000\n")
    s3.put_object(Bucket=env.originals, Key="heavy.jpg", Body=jpeg_bytes())
    response = resizer.handler(function_url_event("/256x/webp/heavy.jpg"), None)
    assert response["statusCode"] == 415
    assert "too large" in response["body"]
    assert response["headers"]["cache-control"] == "public, max-age=60"
    assert keys(s3, env.derivatives) == {}


def test_output_too_large_to_inline_is_stored_and_redirected(
    env: Buckets, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(responses, "MAX_INLINE_BYTES", 100)
    s3.put_object(Bucket=env.originals, Key="r.jpg", Body=jpeg_bytes())
    response = resizer.handler(function_url_event("/256x/png/r.jpg"), None)
    assert response["statusCode"] == 302
    assert response["headers"]["location"] == "/256x/png/r.jpg"
    assert response["headers"]["cache-control"] == "no-store"
    assert "256x/png/r.jpg" in keys(s3, env.derivatives)


def test_storage_outage_is_a_5xx_that_is_never_cached(
    env: Buckets, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    resizer.storage.cache_clear()
    response = resizer.handler(function_url_event("/256x/webp/x.jpg"), None)
    assert response["statusCode"] == 502
    assert response["headers"]["cache-control"] == "no-store"


def test_existing_derivative_is_not_overwritten(env: Buckets, s3: Any) -> None:
    s3.put_object(Bucket=env.originals, Key="once.jpg", Body=jpeg_bytes())
    first = resizer.handler(function_url_event("/128x/jpeg/once.jpg"), None)
    etag = keys(s3, env.derivatives)["128x/jpeg/once.jpg"]
    second = resizer.handler(function_url_event("/128x/jpeg/once.jpg"), None)
    assert first["statusCode"] == second["statusCode"] == 200
    assert keys(s3, env.derivatives)["128x/jpeg/once.jpg"] == etag


def test_every_stored_object_has_its_index_marker(env: Buckets, s3: Any) -> None:
    s3.put_object(Bucket=env.originals, Key="m/cat.jpg", Body=jpeg_bytes())
    for path in ("/256x256/webp/m/cat.jpg", "/original/m/cat.jpg"):
        assert resizer.handler(function_url_event(path), None)["statusCode"] == 200
    prefix = index_prefix("m/cat.jpg")
    assert set(keys(s3, env.derivatives)) == {
        "256x256/webp/m/cat.jpg",
        "original/m/cat.jpg",
        prefix + "256x256/webp",
        prefix + "original",
    }


def test_original_replaced_while_rendering_takes_the_derivative_back(
    env: Buckets, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=env.originals, Key="race.jpg", Body=jpeg_bytes())
    real_render = pipeline.render  # what the resizer's core imported as its `render`

    def render_then_replace(*args: Any, **kwargs: Any) -> Rendition:
        rendition = real_render(*args, **kwargs)
        s3.put_object(Bucket=env.originals, Key="race.jpg", Body=jpeg_bytes((300, 200)))
        return rendition

    monkeypatch.setattr(derivative, "render", render_then_replace)
    response = resizer.handler(function_url_event("/128x/jpeg/race.jpg"), None)
    assert response["statusCode"] == 200
    assert response["headers"]["cache-control"] == "no-store"
    assert "128x/jpeg/race.jpg" not in keys(s3, env.derivatives)


def test_server_timing_names_every_phase(env: Buckets, s3: Any) -> None:
    s3.put_object(Bucket=env.originals, Key="t.jpg", Body=jpeg_bytes())
    response = resizer.handler(function_url_event("/128x/webp/t.jpg"), None)
    names = [part.split(";")[0] for part in response["headers"]["server-timing"].split(", ")]
    assert names == ["s3-get", "decode", "resize", "encode", "s3-put"]
