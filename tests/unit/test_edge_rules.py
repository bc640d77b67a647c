"""What CloudFront accepts from a viewer-request function, held against the rules of
"Restrictions on all edge functions" and "Quotas" (infra/local/edge_rules.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.local.edge_rules import (
    EdgeValidationError,
    check_request,
    check_response,
    exposed,
    is_disallowed,
)

LIMIT = 40 * 1024


def sent() -> dict[str, Any]:
    return {
        "clientIp": "203.0.113.178",
        "method": "GET",
        "uri": "/a.jpg",
        "querystring": "s=256x256",
        "headers": {
            "host": [{"key": "Host", "value": "d111111abcdef8.cloudfront.net"}],
            "user-agent": [{"key": "User-Agent", "value": "curl/8.0"}],
            "accept": [{"key": "Accept", "value": "image/webp"}],
        },
    }


def returned(**changes: Any) -> dict[str, Any]:
    request = copy.deepcopy(sent())
    request.update(uri="/256x256/webp/a.jpg", querystring="")
    request.update(changes)
    return request


def with_header(name: str, value: str, key: str | None = None) -> dict[str, Any]:
    request = returned()
    request["headers"][name] = [{"key": key or name, "value": value}]
    return request


def test_a_rewritten_request_is_accepted() -> None:
    uri, query, headers = check_request(sent(), with_header("x-amzn-trace-id", "Root=1-a-b"))
    assert (uri, query) == ("/256x256/webp/a.jpg", "")
    assert ("x-amzn-trace-id", "Root=1-a-b") in headers
    assert ("Host", "d111111abcdef8.cloudfront.net") in headers


@pytest.mark.parametrize(
    "name",
    ["x-cache", "x-amz-cf-id", "x-amz-cf-anything", "x-edge-location", "x-forwarded-proto",
     "x-real-ip", "connection", "upgrade", "x-amzn-requestid", "x-amzn-auth", "expect"],
)  # fmt: skip
def test_adding_a_disallowed_header_is_refused(name: str) -> None:
    with pytest.raises(EdgeValidationError, match="disallowed"):
        check_request(sent(), with_header(name, "1"))
    generated = {"status": "200", "headers": {name: [{"key": name, "value": "1"}]}}
    with pytest.raises(EdgeValidationError, match="disallowed"):
        check_response(generated, LIMIT)


@pytest.mark.parametrize("name", ["host", "via", "content-length", "transfer-encoding"])
def test_touching_a_read_only_header_is_refused(name: str) -> None:
    with pytest.raises(EdgeValidationError, match="read-only"):
        check_request(sent(), with_header(name, "changed.example"))
    removed = returned()
    removed["headers"].pop("host")
    with pytest.raises(EdgeValidationError, match="read-only"):
        check_request(sent(), removed)


def test_a_read_only_header_sent_back_unchanged_is_fine() -> None:
    check_request(sent(), returned())


@pytest.mark.parametrize(
    ("uri", "query", "ok"),
    [
        ("/" + "a" * 8190, "", True),  # 8,191 characters
        ("/" + "a" * 8191, "", False),  # 8,192
        ("/a", "q=" + "b" * 8186, True),  # 2 + 1 + 8,188 = 8,191
        ("/a", "q=" + "b" * 8187, False),
        ("/" + "a" * 8999, "", False),
    ],
)
def test_the_uri_and_query_string_stay_under_8192_characters(
    uri: str, query: str, ok: bool
) -> None:
    request = returned(uri=uri, querystring=query)
    if ok:
        check_request(sent(), request)
    else:
        with pytest.raises(EdgeValidationError, match="8,192"):
            check_request(sent(), request)


@pytest.mark.parametrize(
    "bad", [None, "a string", {"uri": "no-slash"}, {"uri": "/a", "querystring": 5}]
)
def test_malformed_results_are_refused(bad: Any) -> None:
    with pytest.raises(EdgeValidationError):
        check_request(sent(), bad)


@pytest.mark.parametrize(
    ("name", "entries"),
    [
        ("Accept", [{"key": "Accept", "value": "x"}]),  # the name is not lower-case
        ("accept", [{"key": "Accept-Language", "value": "x"}]),  # key names another header
        ("accept", [{"key": "Accept"}]),  # no value
        ("accept", {"key": "Accept", "value": "x"}),  # not a list
    ],
)
def test_malformed_headers_are_refused(name: str, entries: Any) -> None:
    request = returned()
    request["headers"][name] = entries
    with pytest.raises(EdgeValidationError):
        check_request(sent(), request)


def test_the_method_cannot_change() -> None:
    with pytest.raises(EdgeValidationError, match="method"):
        check_request(sent(), returned(method="POST"))


def test_a_generated_response_is_read_with_its_headers_and_body() -> None:
    response = check_response(
        {
            "status": "400",
            "statusDescription": "Bad Request",
            "headers": {"content-type": [{"key": "Content-Type", "value": "text/plain"}]},
            "body": "bad size\n",
        },
        LIMIT,
    )
    assert (response.status, response.reason, response.body) == (400, "Bad Request", b"bad size\n")
    assert response.headers == [("Content-Type", "text/plain")]
    assert check_response(
        {"status": 200, "body": "aGk=", "bodyEncoding": "base64"}, LIMIT
    ).body == (b"hi")


def test_a_generated_response_counts_headers_toward_40_kb() -> None:
    header = {"x-pad": [{"key": "X-Pad", "value": "p" * 20_000}]}
    check_response({"status": "200", "headers": header, "body": "b" * 20_000}, LIMIT)
    with pytest.raises(EdgeValidationError, match="over"):
        check_response({"status": "200", "headers": header, "body": "b" * 21_000}, LIMIT)


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "abc"},
        {"status": "99"},
        {"status": "600"},
        {"status": "200", "body": 5},
        {"status": "200", "body": "!!", "bodyEncoding": "base64"},
        {"status": "200", "bodyEncoding": "gzip"},
    ],
)
def test_malformed_generated_responses_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(EdgeValidationError):
        check_response(bad, LIMIT)


def test_disallowed_headers_are_hidden_from_the_function() -> None:
    viewer = [
        ("Host", "h"),
        ("X-Forwarded-Proto", "https"),
        ("X-Amz-Cf-Id", "x"),
        ("Accept", "*/*"),
    ]
    assert exposed(viewer) == [("Host", "h"), ("Accept", "*/*")]
    assert is_disallowed("X-EDGE-Whatever") and not is_disallowed("x-amzn-trace-id")
