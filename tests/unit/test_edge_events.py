"""The edge handler's reading of CloudFront's event and its own responses, to the letter:
CloudFront rejects a generated response or a header in any other shape."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from edge_router.handler import first_header, generated_response, make_handler, set_header
from shared.config import Config
from shared.errors import (
    ImgedgeError,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    SignatureInvalid,
    SourceNotFound,
)
from shared.trace_context import EDGE_TIMING_HEADER, EDGE_TRACE_HEADER, EdgeTiming
from tests.conftest import EVENTS

VIEWER_REQUEST: dict[str, Any] = json.loads((EVENTS / "viewer_request.json").read_text())
CONFIG = Config(error_max_age=30)
EDGE = make_handler(CONFIG)


def event(uri: str = "/a.jpg", query: str = "s=64x") -> dict[str, Any]:
    copied = copy.deepcopy(VIEWER_REQUEST)
    request = copied["Records"][0]["cf"]["request"]
    request["uri"], request["querystring"] = uri, query
    return copied


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (InvalidRequest("s must not be zero"), "400", "Bad Request"),
        (SignatureInvalid(), "403", "Forbidden"),
        (SourceNotFound(), "404", "Not Found"),
        (InternalError(), "500", "Internal Server Error"),
        (MethodNotAllowed(), "405", "Error"),  # any other status: a plain reason
    ],
)
def test_a_generated_response_in_cloudfronts_shape(
    error: ImgedgeError, status: str, reason: str
) -> None:
    response = generated_response(error, CONFIG)
    assert (response["status"], response["statusDescription"]) == (status, reason)
    assert response["body"] == error.message + "\n"
    assert set(response) == {"status", "statusDescription", "headers", "body"}
    headers = response["headers"]
    assert headers["content-type"] == [
        {"key": "Content-Type", "value": "text/plain; charset=utf-8"}
    ]
    assert headers["cache-control"] == [{"key": "Cache-Control", "value": "public, max-age=30"}]
    assert headers["x-content-type-options"] == [
        {"key": "X-Content-Type-Options", "value": "nosniff"}
    ]
    assert headers["content-security-policy"] == [
        {"key": "Content-Security-Policy", "value": "default-src 'none'"}
    ]
    for name, values in headers.items():  # CloudFront's shape, or it answers 502
        assert [set(value) for value in values] == [{"key", "value"}]
        assert values[0]["key"].lower() == name


def test_a_generated_message_is_cut_at_200_characters() -> None:
    for length, kept in ((199, 199), (200, 200), (201, 200), (5000, 200)):
        error = InvalidRequest("x" * (length - len("invalid request: ")))
        assert len(error.message) == length
        assert generated_response(error, CONFIG)["body"] == error.message[:kept] + "\n"


def test_a_refused_request_is_answered_by_the_edge() -> None:
    result = EDGE(event("/a.jpg", "s=0x"), None)
    assert result["status"] == "400"
    assert result["body"].startswith("invalid request: ")
    assert result["body"].endswith("\n")
    assert result["headers"]["cache-control"] == [
        {"key": "Cache-Control", "value": "public, max-age=30"}
    ]


def test_an_event_without_a_query_string_asks_for_the_original() -> None:
    missing = event("/a.jpg")
    del missing["Records"][0]["cf"]["request"]["querystring"]
    assert EDGE(missing, None)["uri"] == "/original/a.jpg"


def test_headers_are_read_first_value_first_and_written_in_cloudfronts_shape() -> None:
    request: dict[str, Any] = {
        "headers": {"accept": [{"key": "Accept", "value": "image/webp"}, {"value": "x"}]}
    }
    assert first_header(request, "accept") == "image/webp"
    assert first_header(request, "user-agent") is None
    assert first_header({}, "accept") is None
    assert first_header({"headers": {"accept": []}}, "accept") is None
    set_header(request, "X-Amzn-Trace-Id", "Root=1")
    assert request["headers"]["x-amzn-trace-id"] == [{"key": "X-Amzn-Trace-Id", "value": "Root=1"}]
    bare: dict[str, Any] = {}
    set_header(bare, "X-Imgedge-Edge", "id=1")
    assert bare == {"headers": {"x-imgedge-edge": [{"key": "X-Imgedge-Edge", "value": "id=1"}]}}


def test_the_first_accept_value_decides_auto() -> None:
    two = event("/a.jpg", "f=auto")
    two["Records"][0]["cf"]["request"]["headers"]["accept"] = [
        {"key": "Accept", "value": "image/webp"},
        {"key": "Accept", "value": "image/avif"},
    ]
    assert EDGE(two, None)["uri"] == "/full/webp/a.jpg"


def test_an_event_without_its_type_or_request_id_is_a_viewer_request_of_unknown_id() -> None:
    bare = event()
    config = bare["Records"][0]["cf"]["config"]
    del config["eventType"], config["requestId"]
    result = EDGE(bare, None)
    timing = EdgeTiming.parse(result["headers"]["x-imgedge-edge"][0]["value"])
    assert timing is not None
    assert (timing.event_type, timing.request_id) == ("viewer-request", "unknown")
    assert result["headers"]["x-imgedge-edge"][0]["key"] == "X-Imgedge-Edge"


def test_the_forwarded_trace_headers_have_the_names_the_origin_policy_forwards() -> None:
    forwarded = EDGE(event(), None)["headers"]
    assert (EDGE_TRACE_HEADER, EDGE_TIMING_HEADER) == ("x-imgedge-trace", "x-imgedge-edge")
    assert forwarded[EDGE_TRACE_HEADER][0]["key"] == "X-Imgedge-Trace"
    assert forwarded[EDGE_TIMING_HEADER][0]["key"] == "X-Imgedge-Edge"
