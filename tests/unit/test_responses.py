"""The resizer's function URL responses, without S3: what a viewer's browser and CloudFront
are told about each image, redirect and error."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from regional_resizer import responses
from shared.config import Config
from shared.errors import (
    CorruptImage,
    DeadlineExceeded,
    ImgedgeError,
    InternalError,
    InvalidRequest,
    SignatureInvalid,
    SourceNotFound,
    UpstreamError,
)

CONFIG = Config()
YEAR = 365 * 24 * 3600
BODY = b"\x89PNG\r\n\x1a\n not really a png"
SAFE = {"x-content-type-options": "nosniff", "content-security-policy": "default-src 'none'"}
FUNCTION_URL_MAX_RESPONSE = 6 * 1024 * 1024


def test_a_derivative_is_cached_for_the_configured_age_and_never_revalidated() -> None:
    response = responses.image(BODY, "image/png", CONFIG)
    assert response == {
        "statusCode": 200,
        "headers": {
            "content-type": "image/png",
            "cache-control": f"public, max-age={YEAR}, immutable",
            "etag": '"' + hashlib.md5(BODY).hexdigest() + '"',
            **SAFE,
        },
        "body": base64.b64encode(BODY).decode("ascii"),
        "isBase64Encoded": True,
    }
    assert base64.b64decode(response["body"]) == BODY
    assert responses.derivative_cache_control(Config(derivative_max_age=60)) == (
        "public, max-age=60, immutable"
    )
    short = responses.image(BODY, "image/webp", Config(derivative_max_age=7))
    assert short["headers"]["cache-control"] == "public, max-age=7, immutable"
    assert short["headers"]["content-type"] == "image/webp"


def test_head_has_the_headers_without_the_body() -> None:
    get = responses.image(BODY, "image/png", CONFIG)
    head = responses.image(BODY, "image/png", CONFIG, head=True)
    assert head["headers"] == get["headers"]
    assert head["body"] == ""
    assert head["isBase64Encoded"] is False
    assert head["statusCode"] == 200


def test_an_uncacheable_image_is_no_store() -> None:
    response = responses.image(BODY, "image/jpeg", CONFIG, cacheable=False)
    assert response["headers"]["cache-control"] == "no-store"
    assert response["headers"]["x-content-type-options"] == "nosniff"
    assert response["headers"]["content-security-policy"] == "default-src 'none'"
    assert base64.b64decode(response["body"]) == BODY


def test_the_etag_names_the_bytes() -> None:
    one = responses.image(b"one", "image/png", CONFIG)["headers"]["etag"]
    two = responses.image(b"two", "image/png", CONFIG)["headers"]["etag"]
    assert one != two
    assert one == responses.image(b"one", "image/webp", CONFIG)["headers"]["etag"]


def test_a_large_output_is_a_redirect_to_the_stored_copy() -> None:
    response = responses.redirect_to_stored("/4096x/png/big%20one.png")
    assert response == {
        "statusCode": 302,
        "headers": {"location": "/4096x/png/big%20one.png", "cache-control": "no-store", **SAFE},
        "body": "",
        "isBase64Encoded": False,
    }


def test_the_largest_inline_image_fits_a_function_url_response() -> None:
    body = bytes(responses.MAX_INLINE_BYTES)
    response = responses.image(body, "image/png", CONFIG)
    assert len(json.dumps(response)) < FUNCTION_URL_MAX_RESPONSE


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidRequest("not a canonical key"), 400),
        (SignatureInvalid(), 403),
        (SourceNotFound(), 404),
        (CorruptImage(), 415),
    ],
)
def test_a_viewers_mistake_is_cached_briefly(error: ImgedgeError, status: int) -> None:
    response = responses.error(error, Config(error_max_age=42))
    assert response == {
        "statusCode": status,
        "headers": {
            "content-type": "text/plain; charset=utf-8",
            "cache-control": "public, max-age=42",
            **SAFE,
        },
        "body": error.message + "\n",
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("error", [UpstreamError(), DeadlineExceeded(), InternalError()])
def test_a_failure_of_imgedge_or_the_platform_is_never_cached(error: ImgedgeError) -> None:
    response = responses.error(error, CONFIG)
    assert response["statusCode"] == error.status >= 500
    assert response["headers"]["cache-control"] == "no-store"
    assert response["headers"]["x-content-type-options"] == "nosniff"
    assert response["headers"]["content-security-policy"] == "default-src 'none'"
    assert response["body"] == error.message + "\n"


def test_every_response_stops_a_browser_from_running_what_it_gets() -> None:
    for response in (
        responses.image(b"<svg onload=alert(1)>", "image/svg+xml", CONFIG),
        responses.image(BODY, "image/png", CONFIG, head=True, cacheable=False),
        responses.redirect_to_stored("/a"),
        responses.error(InvalidRequest(), CONFIG),
        responses.error(InternalError(), CONFIG),
    ):
        for name, value in SAFE.items():
            assert response["headers"][name] == value


def test_a_head_answer_has_no_body_and_is_never_cached() -> None:
    for response in (
        responses.image(BODY, "image/png", CONFIG),
        responses.error(InvalidRequest(), CONFIG),
        responses.redirect_to_stored("/a"),
    ):
        head = responses.without_body(response)
        assert head == {
            **response,
            "headers": {**response["headers"], "cache-control": "no-store"},
            "body": "",
            "isBase64Encoded": False,
        }
