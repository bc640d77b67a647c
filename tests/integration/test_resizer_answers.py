"""What the regional resizer's handler answers where CloudFront's caching matters: outputs
too large to return inline (signed or not, kept or taken back) and HEAD misses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from edge_router.normalize import normalize
from regional_resizer import derivative, pipeline, responses
from regional_resizer import handler as resizer
from regional_resizer.pipeline import Rendition
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import SignatureInvalid
from shared.signing import signature
from tests.conftest import Buckets, resizer_pointed_at
from tests.integration.test_resizer_handler import (
    function_url_event,
    jpeg_bytes,
    keys,
    use_config,
)

pytestmark = pytest.mark.integration

KEYS_TOML = 'signing_keys = { old = "0123456789abcdef-old", new = "0123456789abcdef-new" }\n'


@pytest.fixture
def env(buckets: Buckets, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Buckets]:
    with resizer_pointed_at(monkeypatch, buckets, s3_endpoint):
        yield buckets


def signed_config() -> Config:
    return Config.from_mapping(
        {"signing_keys": {"old": "0123456789abcdef-old", "new": "0123456789abcdef-new"}}
    )


def routed(location: str, config: Config) -> ImageRequest:
    """What the edge makes of a redirect's location."""
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc) == ("", "")
    return normalize(parts.path, parts.query, "image/avif,image/webp", config)


# --- outputs over the inline limit ---------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "333x222/png/signed/a b.jpg",
        "333x-q60/jpeg/signed/ü.jpg",
        "300x200-contain/webp/signed/c.jpg",
        "x123/avif/signed/d.jpg",
    ],
)
def test_a_signed_size_is_redirected_to_a_signed_url_the_edge_routes_to_it(
    env: Buckets, s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str
) -> None:
    use_config(monkeypatch, tmp_path, KEYS_TOML)
    monkeypatch.setattr(responses, "MAX_INLINE_BYTES", 100)
    request = ImageRequest.parse(key, signed_config(), signed=True)
    s3.put_object(Bucket=env.originals, Key=request.source, Body=jpeg_bytes())

    response = resizer.handler(function_url_event(request.uri), None)

    assert response["statusCode"] == 302
    assert response["headers"]["cache-control"] == "no-store"
    assert key in keys(s3, env.derivatives)
    location = response["headers"]["location"]
    assert "&sig=new." in location  # the last key the configuration lists
    assert routed(location, signed_config()) == request  # verified, and the same key
    with pytest.raises(SignatureInvalid):  # the signature is the one that unlocks it
        routed(location.replace("sig=new.", "sig=old."), signed_config())


def test_the_viewer_url_is_signed_exactly_as_a_viewer_would_sign_it() -> None:
    config = signed_config()
    request = ImageRequest.parse("333x222/png/p.jpg", config, signed=True)
    secret = config.signing_keys["new"]
    assert resizer.stored_location(request, config) == (
        f"/p.jpg?s=333x222&f=png&sig={signature(request.key, 'new', secret)}"
    )


def test_a_signed_redirect_keeps_every_transform_option() -> None:
    config = signed_config()
    for key in (
        "333x222-crop5,6,700,500-fp0.25,0.75-r90-fliph-blur2-sharpen1-bg123456/webp/p.jpg",
        "full-crop0,0,10,10/png/p.jpg",
        "333x222-gsmart-q60/jpeg/p.jpg",
    ):
        request = ImageRequest.parse(key, config, signed=True)
        assert routed(resizer.stored_location(request, config), config) == request


def test_an_allowed_size_is_redirected_to_its_canonical_uri() -> None:
    config = signed_config()
    for key in ("256x/png/a b.jpg", "original/x.png", "full/webp/y.jpg"):
        request = ImageRequest.parse(key, config)
        assert resizer.stored_location(request, config) == request.uri
        assert routed(request.uri, config) == request


def test_an_output_over_the_limit_whose_original_changed_is_redirected_not_inlined(
    env: Buckets, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(responses, "MAX_INLINE_BYTES", 100)
    s3.put_object(Bucket=env.originals, Key="race.jpg", Body=jpeg_bytes())
    real_render = pipeline.render

    def render_then_replace(*args: Any, **kwargs: Any) -> Rendition:
        rendition = real_render(*args, **kwargs)
        s3.put_object(Bucket=env.originals, Key="race.jpg", Body=jpeg_bytes((300, 200)))
        return rendition

    monkeypatch.setattr(derivative, "render", render_then_replace)
    response = resizer.handler(function_url_event("/256x/png/race.jpg"), None)

    assert response["statusCode"] == 302
    assert response["body"] == ""
    assert response["headers"]["cache-control"] == "no-store"
    assert response["headers"]["location"] == "/256x/png/race.jpg"
    assert "256x/png/race.jpg" not in keys(s3, env.derivatives)  # taken back

    monkeypatch.setattr(derivative, "render", real_render)  # the next request: kept
    again = resizer.handler(function_url_event("/256x/png/race.jpg"), None)
    assert again["statusCode"] == 302
    assert "256x/png/race.jpg" in keys(s3, env.derivatives)


# --- HEAD ----------------------------------------------------------------------------------


def test_a_head_miss_stores_the_derivative_but_its_answer_is_never_cached(
    env: Buckets, s3: Any
) -> None:
    s3.put_object(Bucket=env.originals, Key="h.jpg", Body=jpeg_bytes())
    head = resizer.handler(function_url_event("/64x/webp/h.jpg", "HEAD"), None)
    assert (head["statusCode"], head["body"]) == (200, "")
    assert head["headers"]["cache-control"] == "no-store"
    assert head["headers"]["content-type"] == "image/webp"
    assert "64x/webp/h.jpg" in keys(s3, env.derivatives)

    stored = s3.get_object(Bucket=env.derivatives, Key="64x/webp/h.jpg")
    assert "immutable" in stored["CacheControl"]  # what S3 serves to the next GET
    assert len(stored["Body"].read()) > 0


@pytest.mark.parametrize(("path", "status"), [("/64x/webp/gone.jpg", 404), ("/x.jpg", 400)])
def test_a_head_error_is_never_cached_either(env: Buckets, path: str, status: int) -> None:
    response = resizer.handler(function_url_event(path, "HEAD"), None)
    assert (response["statusCode"], response["body"]) == (status, "")
    assert response["headers"]["cache-control"] == "no-store"


def test_a_get_error_keeps_its_short_max_age(env: Buckets) -> None:
    response = resizer.handler(function_url_event("/64x/webp/gone.jpg"), None)
    assert response["statusCode"] == 404
    assert response["headers"]["cache-control"].startswith("public, max-age=")
