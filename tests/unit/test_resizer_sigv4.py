"""The resizer's SigV4 signer (``regional_resizer.sigv4``): AWS's published examples, byte
for byte; botocore's S3 signer on any key, query and headers; and the function URL
emulator's verifier (``infra.local.sigv4``), which signs with botocore for another service."""

from __future__ import annotations

import calendar
import hashlib
from urllib.parse import quote

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.local.sigv4 import AccessKey, verify
from regional_resizer.sigv4 import (
    EMPTY_SHA256,
    Credentials,
    canonical_headers,
    canonical_query,
    canonical_uri,
    sign,
)

# "Signature Calculations for the Authorization Header" (Amazon S3 API Reference): the
# examples' key, bucket and time.
S3_EXAMPLE_KEY = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
S3_EXAMPLE_NOW = calendar.timegm((2013, 5, 24, 0, 0, 0))
S3_EXAMPLE_HOST = "examplebucket.s3.amazonaws.com"
# AWS's SigV4 test suite (aws-sig-v4-test-suite): its key, host, service and time.
SUITE_KEY = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_NOW = calendar.timegm((2015, 8, 30, 12, 36, 0))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "body", "signature"),
    [
        (  # GET Object, the first 10 bytes
            "GET", "/test.txt", [], {"Range": "bytes=0-9"}, b"",
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
        (  # PUT Object: a key with "$", a Date header, a storage class
            "PUT", "/test%24file.text", [],
            {"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"},
            b"Welcome to Amazon S3.",
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        ),
        (  # GET Bucket Lifecycle: a query parameter without a value
            "GET", "/", [("lifecycle", "")], {}, b"",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        ),
        (  # GET Bucket (List Objects)
            "GET", "/", [("max-keys", "2"), ("prefix", "J")], {}, b"",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
    ],
    ids=["get-object", "put-object", "get-lifecycle", "list-objects"],
)  # fmt: skip
def test_the_s3_api_references_examples(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    signature: str,
) -> None:
    signed = sign(
        method, path, query, {"Host": S3_EXAMPLE_HOST, **headers}, sha256(body),
        S3_EXAMPLE_KEY, "us-east-1", "s3", now=S3_EXAMPLE_NOW,
    )  # fmt: skip
    assert signed.signature == signature
    assert signed.headers["X-Amz-Content-Sha256"] == sha256(body)
    assert signed.headers["X-Amz-Date"] == "20130524T000000Z"
    assert signed.headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
    )


@pytest.mark.parametrize(
    ("path", "query", "signature"),
    [
        ("/", [], "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        (
            "/",
            [("Param2", "value2"), ("Param1", "value1")],
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        ("/%E1%88%B4", [], "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    ],
    ids=["get-vanilla", "get-vanilla-query-order-key-case", "get-utf8"],
)
def test_the_sigv4_test_suite(path: str, query: list[tuple[str, str]], signature: str) -> None:
    signed = sign(
        "GET", path, query, {"Host": "example.amazonaws.com"}, EMPTY_SHA256, SUITE_KEY,
        "us-east-1", "service", now=SUITE_NOW, content_sha256_header=False,
    )  # fmt: skip
    assert signed.signature == signature
    assert signed.headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}"
    )


def test_canonical_forms() -> None:
    assert canonical_query([("b", "2"), ("a", "x y/z"), ("a", "1"), ("A", "")]) == (
        "A=&a=1&a=x%20y%2Fz&b=2"
    )
    block, names = canonical_headers([("X-B", " 2 "), ("x-a", "a   b"), ("x-b", "3")])
    assert (block, names) == ("x-a:a b\nx-b:2,3\n", "x-a;x-b")
    assert canonical_uri("/a/./b//c/../d") == "/a/./b//c/../d"  # S3: as sent
    assert canonical_uri("/a/./b//c/../d", double_encode=True) == "/a/b/d"
    assert canonical_uri("/%E1%88%B4", double_encode=True) == "/%25E1%2588%25B4"
    assert canonical_uri("") == "/"


def test_a_session_token_is_sent_and_signed() -> None:
    key = Credentials("AKID", "secret", "the token")
    signed = sign("GET", "/k", [], {"Host": "h"}, EMPTY_SHA256, key, "eu-west-1", "s3", now=0)
    assert signed.headers["X-Amz-Security-Token"] == "the token"
    assert "x-amz-security-token" in signed.headers["Authorization"]
    assert "x-amz-security-token:the token\n" in signed.canonical_request


def test_a_callers_own_signing_headers_are_replaced() -> None:
    headers = {"Host": "h", "Authorization": "forged", "X-Amz-Date": "19990101T000000Z"}
    signed = sign("GET", "/", [], headers, EMPTY_SHA256, SUITE_KEY, "us-east-1", "s3", now=0)
    assert signed.headers["X-Amz-Date"] == "19700101T000000Z"
    assert "forged" not in signed.canonical_request
    assert "19990101" not in signed.canonical_request
    with pytest.raises(ValueError, match="Host"):
        sign("GET", "/", [], {}, EMPTY_SHA256, SUITE_KEY, "us-east-1", "s3", now=0)


def botocore_signature(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    credentials: Credentials,
    timestamp: str,
) -> str:
    """botocore's S3 signer over exactly ``headers`` (with the date and payload hash)."""
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers.items():
        request.headers[name] = value
    request.context["timestamp"] = timestamp
    auth = S3SigV4Auth(
        BotoCredentials(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        ),
        "s3",
        "eu-west-1",
    )
    canonical = auth.canonical_request(request)
    return str(auth.signature(auth.string_to_sign(request, canonical), request))


KEYS = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00\r\n"),
    min_size=1,
    max_size=40,
)
VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
NAMES = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    key=KEYS,
    query=st.lists(st.tuples(NAMES, VALUES), max_size=4),
    metadata=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), VALUES, max_size=3
    ),
    body=st.binary(max_size=64),
    token=st.none() | st.just("session/token=="),
)
def test_the_same_signature_as_botocores_s3_signer(
    key: str,
    query: list[tuple[str, str]],
    metadata: dict[str, str],
    body: bytes,
    token: str | None,
) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    path = "/bucket/" + quote(key, safe="-_.~/")
    headers = {"Host": "127.0.0.1:9000", "Content-Type": "image/webp"}
    headers |= {f"x-amz-meta-{name}": value for name, value in metadata.items()}
    signed = sign(
        "PUT", path, query, headers, sha256(body), credentials, "eu-west-1", "s3", now=SUITE_NOW
    )
    query_string = "&".join(f"{quote(n, safe='-_.~')}={quote(v, safe='-_.~')}" for n, v in query)
    url = f"http://127.0.0.1:9000{path}" + (f"?{query_string}" if query_string else "")
    expected = botocore_signature(
        "PUT",
        url,
        {**headers, **{k: v for k, v in signed.headers.items() if k != "Authorization"}},
        body,
        credentials,
        signed.headers["X-Amz-Date"],
    )
    assert signed.signature == expected


def test_the_function_url_emulator_accepts_its_signature() -> None:
    """The emulator verifies with botocore's SigV4 for service ``lambda``, the way Lambda
    verifies CloudFront's signature: a request signed here passes, a changed one fails."""
    key = AccessKey("AKIDLOCAL", "local-secret", "local-token")
    body = b'{"a": 1}'
    headers = {"Host": "127.0.0.1:8000", "Content-Type": "application/json"}
    signed = sign(
        "POST", "/some/path%20here", [("q", "a b")], headers, sha256(body),
        Credentials(key.access_key_id, key.secret_access_key, key.session_token),
        "us-east-1", "lambda", double_encode=True,
    )  # fmt: skip
    sent = [*headers.items(), *signed.headers.items()]
    assert verify("POST", "/some/path%20here?q=a%20b", sent, body, [key]) == key
    with pytest.raises(Exception, match="signature"):
        verify("POST", "/some/path%20here?q=a%20c", sent, body, [key])
