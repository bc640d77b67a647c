"""The emulators' events, compared with AWS's own examples in tests/events/:

- viewer_request.json: CloudFront Developer Guide, "Lambda@Edge event structure",
  example viewer request.
- function_url.json: Lambda Developer Guide, "Invoking Lambda function URLs", request
  payload format (version 2.0).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from infra.local.events import (
    from_cf_headers,
    function_url_event,
    new_edge_request_id,
    new_trace_id,
    to_cf_headers,
    viewer_request_event,
)
from infra.local.function_url import ResponseError, http_response
from tests.conftest import EVENTS


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def shape(value: Any) -> Any:
    """Keys and value types, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


# --- CloudFront viewer request -------------------------------------------------------------


def test_viewer_request_event_is_cloudfronts_example() -> None:
    example = load("viewer_request.json")
    config = example["Records"][0]["cf"]["config"]
    event = viewer_request_event(
        method="GET",
        uri="/",
        querystring="",
        headers=[
            ("Host", "d111111abcdef8.cloudfront.net"),
            ("User-Agent", "curl/7.66.0"),
            ("accept", "*/*"),
        ],
        client_ip="203.0.113.178",
        request_id=config["requestId"],
        distribution_id=config["distributionId"],
        distribution_domain=config["distributionDomainName"],
    )
    assert event == example
    assert json.dumps(event) == json.dumps(example)  # same key order too


def test_viewer_request_keeps_repeats_and_spelling_and_drops_hop_by_hop_headers() -> None:
    event = viewer_request_event(
        method="GET",
        uri="/photos/cat.jpg",
        querystring="s=256x256&f=webp",
        headers=[
            ("Accept", "image/webp"),
            ("X-Custom", "a"),
            ("x-custom", "b"),
            ("Connection", "keep-alive"),
        ],
        client_ip="127.0.0.1",
        request_id=new_edge_request_id(),
    )
    request = event["Records"][0]["cf"]["request"]
    assert request["querystring"] == "s=256x256&f=webp"  # raw, without '?'
    assert request["headers"] == {
        "accept": [{"key": "Accept", "value": "image/webp"}],
        "x-custom": [{"key": "X-Custom", "value": "a"}, {"key": "x-custom", "value": "b"}],
    }
    assert shape(event) == shape(load("viewer_request.json")) | shape(event)


def test_cloudfront_header_shape_round_trips() -> None:
    pairs = [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    assert from_cf_headers(to_cf_headers(pairs)) == pairs
    assert from_cf_headers({"x-a": [{"value": "1"}]}) == [("x-a", "1")]


def test_edge_request_ids_look_like_cloudfronts() -> None:
    example = load("viewer_request.json")["Records"][0]["cf"]["config"]["requestId"]
    pattern = r"[A-Za-z0-9_-]{54,55}=="  # URL-safe base64 (the docs' examples: 55 and 54)
    assert re.fullmatch(pattern, example)
    made = new_edge_request_id()
    assert re.fullmatch(pattern, made)
    assert made != new_edge_request_id()


def test_trace_ids_are_xray_shaped() -> None:
    assert re.fullmatch(r"Root=1-5e6a8a9e-[0-9a-f]{24}", new_trace_id(now=1584040606))


# --- Lambda function URL -------------------------------------------------------------------


def example_like_event(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "method": "POST",
        "raw_path": "/my/path",
        "raw_query": "parameter1=value1&parameter1=value2&parameter2=value",
        "headers": [
            ("Header1", "value1"),
            ("header2", "value1"),
            ("Header2", "value2"),
            ("Cookie", "cookie1; cookie2"),
            ("Content-Type", "text/plain"),
            ("User-Agent", "agent"),
        ],
        "body": b"Hello from client!",
        "source_ip": "123.123.123.123",
        "domain_name": "abcdefg.lambda-url.us-east-1.on.aws",
        "request_id": "id",
        "now": 1583348638.390,
    }
    return function_url_event(**(arguments | overrides))


# Keys the documentation says Lambda "sets to null or excludes from the JSON", and the IAM
# authorizer, which exists only with the AWS_IAM auth type.
OPTIONAL_KEYS = {"pathParameters", "stageVariables"}
OPTIONAL_CONTEXT_KEYS = {"authentication", "authorizer"}


def test_function_url_event_has_the_documented_shape() -> None:
    example = load("function_url.json")
    event = example_like_event()
    assert list(event) == [key for key in example if key not in OPTIONAL_KEYS]
    context, example_context = event["requestContext"], example["requestContext"]
    assert list(context) == [k for k in example_context if k not in OPTIONAL_CONTEXT_KEYS]
    assert shape(context["http"]) == shape(example_context["http"])
    for key in ("version", "routeKey", "rawPath", "rawQueryString", "cookies", "body"):
        assert event[key] == example[key], key
    assert event["queryStringParameters"] == example["queryStringParameters"]
    assert event["isBase64Encoded"] is False
    assert event["headers"] == {
        "header1": "value1",
        "header2": "value1,value2",  # lower-cased and comma-joined, as in the example
        "content-type": "text/plain",
        "user-agent": "agent",
    }
    assert context["http"] == example_context["http"]
    for key in ("requestId", "routeKey", "stage", "timeEpoch"):
        assert context[key] == example_context[key], key
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["time"])
    assert context["time"] == "04/Mar/2020:19:03:58 +0000"
    assert context["domainName"] == "abcdefg.lambda-url.us-east-1.on.aws"
    assert context["domainPrefix"] == context["apiId"] == "abcdefg"


def test_a_get_without_query_or_body_leaves_those_keys_out() -> None:
    event = example_like_event(
        method="GET", raw_query="", headers=[("Accept", "image/webp")], body=b""
    )
    assert "queryStringParameters" not in event
    assert "cookies" not in event
    assert "body" not in event
    assert event["isBase64Encoded"] is False
    assert event["headers"] == {"accept": "image/webp"}
    assert event["requestContext"]["http"]["userAgent"] == ""


def test_binary_bodies_are_base64() -> None:
    data = bytes(range(256))
    event = example_like_event(headers=[("Content-Type", "image/png")], body=data)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == data


def test_hop_by_hop_headers_never_reach_the_function() -> None:
    event = example_like_event(headers=[("Connection", "close"), ("TE", "trailers")])
    assert event["headers"] == {}


# --- function URL responses ----------------------------------------------------------------


def test_a_response_dict_becomes_status_headers_cookies_and_body() -> None:
    status, headers, body = http_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "image/webp", "Cache-Control": "max-age=1"},
            "cookies": ["a=1; Max-Age=60", "b=2"],
            "body": base64.b64encode(b"\x00\x01").decode(),
            "isBase64Encoded": True,
        }
    )
    assert status == 201
    assert headers == [
        ("Content-Type", "image/webp"),
        ("Cache-Control", "max-age=1"),
        ("Set-Cookie", "a=1; Max-Age=60"),
        ("Set-Cookie", "b=2"),
    ]
    assert body == b"\x00\x01"


@pytest.mark.parametrize("result", ["Hello, world!", {"message": "Hello, world!"}, [1, 2]])
def test_anything_without_status_code_is_a_200_json_response(result: Any) -> None:
    status, headers, body = http_response(result)
    assert status == 200
    assert headers == [("Content-Type", "application/json")]
    assert json.loads(body) == result


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": 99},
        {"statusCode": 200, "body": "!!!", "isBase64Encoded": True},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "body": "x" * (6 * 1024 * 1024 + 1)},
    ],
)
def test_invalid_or_oversized_responses_are_refused(result: Any) -> None:
    with pytest.raises(ResponseError):
        http_response(result)
