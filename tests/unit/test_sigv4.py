"""SigV4 for the function URL's AWS_IAM auth type (infra.local.sigv4), and the AWS_IAM
event shape against the documented example (tests/events/function_url.json: Lambda
Developer Guide, "Invoking Lambda function URLs", request payload format 2.0)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from infra.local.events import function_url_event
from infra.local.sigv4 import AccessKey, SignatureRejected, sign_headers, verify
from tests.conftest import EVENTS

KEY = AccessKey("AKIAIMGEDGELOCAL", "secret")
URL = "http://127.0.0.1:4321"
TARGET = "/256x/webp/photos/my%20cat.jpg?s=1&a=2"
NOW = 1_700_000_000.0


def signed(**options: Any) -> list[tuple[str, str]]:
    options.setdefault("now", NOW)
    return sign_headers("GET", URL + TARGET, [("Accept", "image/webp")], KEY, **options)


def rejected(headers: list[tuple[str, str]], **options: Any) -> SignatureRejected:
    options.setdefault("now", NOW)
    with pytest.raises(SignatureRejected) as caught:
        verify(
            options.pop("method", "GET"),
            options.pop("target", TARGET),
            headers,
            options.pop("body", b""),
            [KEY],
            **options,
        )
    return caught.value


def test_a_signed_request_verifies_and_names_its_key() -> None:
    headers = signed()
    names = [name for name, _ in headers]
    assert names[:2] == ["Host", "Accept"]
    assert {"X-Amz-Date", "X-Amz-Content-Sha256", "Authorization"} <= set(names)
    authorization = dict(headers)["Authorization"]
    assert authorization.startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAIMGEDGELOCAL/20231114/us-east-1/lambda/aws4_request, "
        "SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date, Signature="
    )
    assert verify("GET", TARGET, headers, b"", [AccessKey("x", "y"), KEY], now=NOW) is KEY


def test_signing_replaces_any_signing_headers_of_the_viewers() -> None:
    headers = sign_headers(
        "GET",
        URL + TARGET,
        [("Authorization", "Bearer x"), ("X-Amz-Date", "19700101T000000Z")],
        KEY,
        now=NOW,
    )
    assert [v for n, v in headers if n == "Authorization"] == [dict(headers)["Authorization"]]
    assert dict(headers)["X-Amz-Date"] == "20231114T221320Z"
    assert verify("GET", TARGET, headers, b"", [KEY], now=NOW) is KEY


def test_a_request_signed_by_botocore_verifies() -> None:
    request = AWSRequest(method="PUT", url=URL + "/a/b?z=1&y=", data=b"data")
    SigV4Auth(KEY.botocore(), "lambda", "us-east-1").add_auth(request)
    headers = [("Host", "127.0.0.1:4321"), *request.headers.items()]
    assert verify("PUT", "/a/b?z=1&y=", headers, b"data", [KEY]) is KEY


def test_no_signature_is_missing() -> None:
    assert rejected([("Host", "127.0.0.1:4321")]).kind == "missing"


@pytest.mark.parametrize(
    "change",
    [
        {"target": TARGET.replace("256x", "512x")},
        {"target": TARGET.replace("a=2", "a=3")},
        {"method": "HEAD"},
        {"body": b"x"},
        {"now": NOW + 15 * 60 + 1},
        {"now": NOW - 15 * 60 - 1},
        {"region": "eu-west-1"},
    ],
)
def test_anything_else_than_what_was_signed_is_invalid(change: dict[str, Any]) -> None:
    assert rejected(signed(), **change).kind == "invalid"


def test_within_fifteen_minutes_either_way_verifies() -> None:
    for skew in (-14 * 60, 14 * 60):
        assert verify("GET", TARGET, signed(), b"", [KEY], now=NOW + skew) is KEY


def test_a_changed_or_dropped_signed_header_is_invalid() -> None:
    changed = [(n, "image/avif" if n == "Accept" else v) for n, v in signed()]
    assert rejected(changed).kind == "invalid"
    dropped = [(n, v) for n, v in signed() if n != "Accept"]
    assert rejected(dropped).kind == "invalid"


def test_an_unsigned_payload_is_refused() -> None:
    headers = [(n, "UNSIGNED-PAYLOAD" if n == "X-Amz-Content-Sha256" else v) for n, v in signed()]
    assert rejected(headers).kind == "invalid"


def test_host_and_date_must_be_signed() -> None:
    request = AWSRequest(method="GET", url=URL + "/p")
    SigV4Auth(KEY.botocore(), "lambda", "us-east-1").add_auth(request)
    headers = [("Host", "127.0.0.1:4321"), *request.headers.items()]
    authorization = dict(headers)["Authorization"]
    without_host = authorization.replace(
        "SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date"
    )
    headers = [(n, without_host if n == "Authorization" else v) for n, v in headers]
    refused = rejected(headers, target="/p", now=time.time())
    assert (refused.kind, refused.message) == (
        "invalid",
        "SignedHeaders must be sorted and include host and x-amz-date",
    )


def test_unknown_keys_and_tokens_are_unrecognized() -> None:
    stranger = sign_headers("GET", URL + TARGET, [], AccessKey("AKIASTRANGER", "s"), now=NOW)
    assert rejected(stranger).kind == "unrecognized"
    with_token = AccessKey(KEY.access_key_id, KEY.secret_access_key, session_token="t1")
    tokened = sign_headers("GET", URL + TARGET, [], with_token, now=NOW)
    assert rejected(tokened).kind == "unrecognized"  # KEY was issued without a token
    assert verify("GET", TARGET, tokened, b"", [with_token], now=NOW) is with_token
    stolen = [(n, "t2" if n == "X-Amz-Security-Token" else v) for n, v in tokened]
    with pytest.raises(SignatureRejected):
        verify("GET", TARGET, stolen, b"", [with_token], now=NOW)


def test_malformed_authorization_is_invalid() -> None:
    for value in ("Bearer abc", "AWS4-HMAC-SHA256 Credential=x", "AWS4-HMAC-SHA1 " + "x" * 80):
        headers = [(n, value if n == "Authorization" else v) for n, v in signed()]
        assert rejected(headers).kind == "invalid", value
    twice = [*signed(), ("Authorization", dict(signed())["Authorization"])]
    assert rejected(twice).kind == "invalid"


# --- the AWS_IAM event ----------------------------------------------------------------------


def test_the_iam_event_has_the_documented_shape() -> None:
    example = json.loads((EVENTS / "function_url.json").read_text())
    event = function_url_event(
        method="POST",
        raw_path="/my/path",
        raw_query="parameter1=value1&parameter1=value2&parameter2=value",
        headers=[("Header1", "value1"), ("Header2", "value1"), ("Header2", "value2")],
        body=b"Hello from client!",
        source_ip="123.123.123.123",
        domain_name="abcdefg.lambda-url.us-east-1.on.aws",
        request_id="id",
        now=1583348638.390,
        iam=AccessKey("AKIA...", "s", account_id="111122223333").iam_authorizer(),
    )
    context, documented = event["requestContext"], example["requestContext"]
    assert list(context) == list(documented)  # accountId, apiId, authentication, authorizer, ...
    assert context["accountId"] == "123456789012"  # the function owner's
    assert context["authentication"] is None
    iam, documented_iam = context["authorizer"]["iam"], documented["authorizer"]["iam"]
    assert list(iam) == list(documented_iam)
    for key in ("accessKey", "accountId", "cognitoIdentity", "principalOrgId"):
        assert iam[key] == documented_iam[key], key
    assert iam["userArn"] == "arn:aws:iam::111122223333:user/imgedge-local"
    assert iam["callerId"] == iam["userId"]
    assert iam["userId"].startswith("AIDA") and len(iam["userId"]) == 21


def test_without_iam_the_event_stays_the_none_shape() -> None:
    event = function_url_event(
        method="GET",
        raw_path="/",
        raw_query="",
        headers=[],
        body=b"",
        source_ip="127.0.0.1",
        domain_name="abcdefg.lambda-url.us-east-1.on.aws",
    )
    context = event["requestContext"]
    assert context["accountId"] == "anonymous"
    assert "authorizer" not in context and "authentication" not in context
