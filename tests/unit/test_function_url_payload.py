"""The function URL's 6 MB response limit is held against the JSON of the handler's return
value; ``payload_bytes`` counts a plain body instead of serializing it, and must agree with
serializing everything, to the byte."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.function_url import MAX_RESPONSE_BYTES, ResponseError, http_response, payload_bytes


def serialized(result: Any) -> int:
    return len(json.dumps(result, default=str))


@given(
    body=st.one_of(st.text(), st.binary().map(lambda b: base64.b64encode(b).decode()), st.none()),
    headers=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    extra=st.one_of(st.none(), st.integers(), st.text(max_size=4)),
)
def test_payload_bytes_is_the_length_of_the_json(body: Any, headers: Any, extra: Any) -> None:
    result = {"statusCode": 200, "headers": headers, "body": body, "x": extra}
    assert payload_bytes(result) == serialized(result)


@pytest.mark.parametrize("body", ['a"b', "a\\b", "tab\tin", "\x7f", "é", "\u2028", "", "QUJD/+=="])
def test_bodies_json_escapes_are_counted_as_escaped(body: str) -> None:
    result = {"statusCode": 200, "body": body, "isBase64Encoded": False}
    assert payload_bytes(result) == serialized(result)


@pytest.mark.parametrize("result", ["text", [1, 2], {"message": "x"}, None, 3])
def test_any_other_value_is_serialized(result: Any) -> None:
    assert payload_bytes(result) == serialized(result)


def test_the_limit_is_at_the_same_byte_as_before() -> None:
    shell = {"statusCode": 200, "headers": {}, "isBase64Encoded": False, "body": ""}
    room = MAX_RESPONSE_BYTES - serialized(shell)
    at_limit = shell | {"body": "A" * room}
    assert payload_bytes(at_limit) == serialized(at_limit) == MAX_RESPONSE_BYTES
    assert http_response(at_limit)[2] == b"A" * room
    with pytest.raises(ResponseError):
        http_response(shell | {"body": "A" * (room + 1)})
    escaped = shell | {"body": '"' * (room // 2 + 1)}  # each quote is two bytes of JSON
    with pytest.raises(ResponseError):
        http_response(escaped)
