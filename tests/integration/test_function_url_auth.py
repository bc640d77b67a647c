"""The function URL emulator in the deployed shape, auth type AWS_IAM behind CloudFront's
origin access control: only SigV4-signed requests (service lambda) by an accepted key reach
the function, which then sees the AWS_IAM event; everything else is a 403 as function URLs
answer it. HttpOrigin, CloudFront's side, signs."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from infra.local.function_url import FORBIDDEN_MESSAGE, FunctionUrlServer
from infra.local.lambda_runtime import FunctionSpec, WorkerPool
from infra.local.origins import HttpOrigin
from infra.local.sigv4 import AccessKey, sign_headers
from tests.conftest import EVENTS

pytestmark = pytest.mark.integration

KEY = AccessKey("imgedge-local", "imgedge-local")
OTHER = AccessKey("someone-else", "their-secret")
PATH = "/256x256/webp/photos/my%20cat.jpg?trace=1&a=2"


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(
    base: str, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
) -> Answer:
    """Exactly these headers (Host included), nothing added."""
    parts = urlsplit(base)
    assert parts.hostname is not None and parts.port is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        conn.close()


def signed(
    base: str, method: str, target: str, key: AccessKey, **options: Any
) -> list[tuple[str, str]]:
    return sign_headers(method, f"{base}{target}", [("Accept", "image/webp")], key, **options)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    spec = FunctionSpec(
        handler="tests.integration.lambda_probes:echo_handler", name="echo", memory_mb=256
    )
    started = WorkerPool(spec, size=1).start()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def iam_url(pool: WorkerPool) -> Iterator[str]:
    server = FunctionUrlServer(pool, accepted_keys=[KEY]).start()  # AWS_IAM by default
    try:
        yield server.url
    finally:
        server.stop()


def assert_forbidden(answer: Answer, error_type: str) -> None:
    assert answer.status == 403
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["x-amzn-ErrorType"] == error_type
    assert answer.headers["x-amzn-RequestId"]


def test_an_unsigned_request_is_forbidden(iam_url: str) -> None:
    host = urlsplit(iam_url).netloc
    answer = send(iam_url, "GET", PATH, [("Host", host), ("Accept", "image/webp")])
    assert_forbidden(answer, "AccessDeniedException")
    assert answer.json() == {"Message": FORBIDDEN_MESSAGE}


def test_a_signed_request_reaches_the_function_with_the_iam_authorizer(iam_url: str) -> None:
    answer = send(iam_url, "GET", PATH, signed(iam_url, "GET", PATH, KEY))
    assert answer.status == 200, answer.body
    event = answer.json()
    context = event["requestContext"]
    assert context["accountId"] == "123456789012"
    assert context["authentication"] is None
    assert context["authorizer"] == {
        "iam": {
            "accessKey": "imgedge-local",
            "accountId": "123456789012",
            "callerId": KEY.user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": "arn:aws:iam::123456789012:user/imgedge-local",
            "userId": KEY.user_id,
        }
    }
    example = json.loads((EVENTS / "function_url.json").read_text())["requestContext"]
    assert list(context) == list(example)  # the documented AWS_IAM shape, in its order
    assert list(context["authorizer"]["iam"]) == list(example["authorizer"]["iam"])
    assert event["rawPath"] == "/256x256/webp/photos/my%20cat.jpg"
    assert event["queryStringParameters"] == {"trace": "1", "a": "2"}


@pytest.mark.parametrize(
    ("case", "error_type"),
    [
        ("wrong secret", "InvalidSignatureException"),
        ("unknown key", "UnrecognizedClientException"),
        ("other path", "InvalidSignatureException"),
        ("other method", "InvalidSignatureException"),
        ("changed header", "InvalidSignatureException"),
        ("20 minutes old", "InvalidSignatureException"),
        ("20 minutes ahead", "InvalidSignatureException"),
        ("other region", "InvalidSignatureException"),
    ],
)
def test_a_request_not_signed_by_an_accepted_key_is_forbidden(
    iam_url: str, case: str, error_type: str
) -> None:
    method, target = "GET", PATH
    options: dict[str, Any] = {}
    key = KEY
    if case == "wrong secret":
        key = AccessKey(KEY.access_key_id, "not-the-secret")
    elif case == "unknown key":
        key = OTHER
    elif case == "20 minutes old":
        options = {"now": time.time() - 20 * 60}
    elif case == "20 minutes ahead":
        options = {"now": time.time() + 20 * 60}
    elif case == "other region":
        options = {"region": "eu-west-1"}
    headers = signed(iam_url, method, target, key, **options)
    if case == "other path":
        target = PATH.replace("256x256", "512x512")
    elif case == "other method":
        method = "HEAD"
    elif case == "changed header":
        headers = [(n, "image/avif" if n == "Accept" else v) for n, v in headers]
    answer = send(iam_url, method, target, headers)
    assert_forbidden(answer, error_type)
    if method != "HEAD":
        assert set(answer.json()) == {"message"}
    if case == "wrong secret":
        assert answer.json()["message"].startswith(
            "The request signature we calculated does not match the signature you provided."
        )
    if case == "20 minutes old":
        assert answer.json()["message"].startswith("Signature expired")


def test_a_body_must_be_the_one_signed(iam_url: str) -> None:
    """Lambda takes no unsigned payloads: the body's hash is part of the signature."""
    body = b'{"example": "test"}'
    headers = sign_headers(
        "POST", f"{iam_url}/p", [("Content-Type", "application/json")], KEY, body=body
    )
    assert send(iam_url, "POST", "/p", headers, body).status == 200
    assert_forbidden(
        send(iam_url, "POST", "/p", headers, b'{"example": "evil"}'), "InvalidSignatureException"
    )
    unsigned_payload = [
        (n, "UNSIGNED-PAYLOAD" if n == "X-Amz-Content-Sha256" else v) for n, v in headers
    ]
    assert_forbidden(
        send(iam_url, "POST", "/p", unsigned_payload, body), "InvalidSignatureException"
    )


def test_a_request_signed_by_botocore_itself_is_accepted(iam_url: str) -> None:
    """Any SigV4 client's request verifies, not only the emulator's own signer's."""
    body = b"hello"
    request = AWSRequest(method="POST", url=f"{iam_url}/my/path?b=2&a=1", data=body)
    request.headers["Content-Type"] = "text/plain"
    SigV4Auth(KEY.botocore(), "lambda", "us-east-1").add_auth(request)
    headers = [("Host", urlsplit(iam_url).netloc), *request.headers.items()]
    answer = send(iam_url, "POST", "/my/path?b=2&a=1", headers, body)
    assert answer.status == 200, answer.body
    event = answer.json()
    assert event["body"] == "hello"
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == KEY.access_key_id


def test_http_origin_signs_every_request_when_given_a_key(iam_url: str) -> None:
    origin = HttpOrigin(iam_url, name="function-url", signing_key=KEY)
    response = origin.fetch(
        "GET",
        "/256x/webp/a.jpg",
        "x=1",
        [("Accept", "image/webp"), ("Authorization", "viewer's own")],
    )
    assert response.status == 200
    event = json.loads(response.read_all())
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == KEY.access_key_id
    assert event["headers"]["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=imgedge-local/"
    )
    head = HttpOrigin(iam_url, signing_key=KEY).fetch("HEAD", "/256x/webp/a.jpg", "", [])
    assert head.status == 200
    head.close()

    unsigned = HttpOrigin(iam_url).fetch("GET", "/256x/webp/a.jpg", "", [])
    assert unsigned.status == 403
    unsigned.close()
    stranger = HttpOrigin(iam_url, signing_key=OTHER).fetch("GET", "/256x/webp/a.jpg", "", [])
    assert stranger.status == 403
    stranger.close()


def test_auth_type_none_takes_any_request_with_the_none_event(pool: WorkerPool) -> None:
    server = FunctionUrlServer(pool, auth_type="NONE").start()
    try:
        host = urlsplit(server.url).netloc
        answer = send(server.url, "GET", "/x", [("Host", host)])
    finally:
        server.stop()
    assert answer.status == 200
    context = answer.json()["requestContext"]
    assert context["accountId"] == "anonymous"
    assert "authorizer" not in context


def test_an_unknown_auth_type_is_refused(pool: WorkerPool) -> None:
    with pytest.raises(ValueError, match="auth_type"):
        FunctionUrlServer(pool, auth_type="COGNITO")  # type: ignore[arg-type]
