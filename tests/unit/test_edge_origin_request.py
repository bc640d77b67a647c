"""The edge router deployed on origin requests (``edge_trigger = "origin-request"``): it runs
on cache misses only, refuses f=auto, and behaves the same whether CloudFront's failover to
the secondary origin triggers it again with the viewer's request or with the request it
returned for the primary origin ("Use origin failover with Lambda@Edge functions")."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from edge_router.handler import NO_AUTO_AT_ORIGIN, make_handler
from shared.config import Config
from shared.contract import ImageRequest
from shared.signing import signature
from tests.unit.test_edge_handler import cf_event

SECRET = "0123456789abcdef-origin"
CONFIG = Config(signing_keys={"k1": SECRET}, sizes=(64, 128, 256))
EDGE = make_handler(CONFIG)


def origin_event(uri: str, query: str, origin: str = "s3") -> Any:
    """An origin-request event as the primary (S3) or secondary (custom) origin gets it:
    no Accept (no policy forwards it), the origin in ``request.origin``."""
    event = cf_event(uri, query, kind="origin-request")
    request = event["Records"][0]["cf"]["request"]
    request["origin"] = (
        {"s3": {"domainName": "derivatives.s3.amazonaws.com", "path": "", "customHeaders": {}}}
        if origin == "s3"
        else {"custom": {"domainName": "abc.lambda-url.eu-west-1.on.aws", "path": "",
                         "port": 443, "protocol": "https", "customHeaders": {}}}
    )  # fmt: skip
    return event


def failover_with_returned_request(first: Any) -> Any:
    """The pessimistic reading: the second invocation gets what the first returned."""
    event = origin_event("/", "", origin="custom")
    event["Records"][0]["cf"]["request"] = {
        **copy.deepcopy(first),
        "origin": event["Records"][0]["cf"]["request"]["origin"],
    }
    return event


def test_the_viewers_query_becomes_the_canonical_uri() -> None:
    first = EDGE(origin_event("/p/cat.jpg", "F=WEBP&s=250x250&utm=1"), None)
    assert (first["uri"], first["querystring"]) == ("/256x256/webp/p/cat.jpg", "")
    assert "x-imgedge-edge" in first["headers"] and "x-imgedge-trace" in first["headers"]
    timing = first["headers"]["x-imgedge-edge"][0]["value"]
    assert "event=origin-request" in timing


@pytest.mark.parametrize("query", ["s=64x&f=auto", "f=AUTO", "F=Auto&s=64x"])
def test_f_auto_is_a_400(query: str) -> None:
    result = EDGE(origin_event("/p/cat.jpg", query), None)
    assert result["status"] == "400"
    assert NO_AUTO_AT_ORIGIN in result["body"]
    assert len(result["body"]) < 300


def test_f_auto_still_negotiates_on_viewer_requests() -> None:
    chrome = "image/avif,image/webp,*/*"
    viewer = EDGE(cf_event("/p/cat.jpg", "f=auto&s=64x", chrome), None)
    assert viewer["uri"] == "/64x/avif/p/cat.jpg"


def test_other_refusals_keep_their_own_message() -> None:
    result = EDGE(origin_event("/p/cat.jpg", "s=abc&f=auto"), None)
    assert result["status"] == "400"
    assert "s must be" in result["body"]


@pytest.mark.parametrize("query", ["s=128x128&f=webp", "fit=contain&s=100x100&f=png&q=50"])
def test_failover_with_the_viewers_request_again_gives_the_same_request(query: str) -> None:
    first = EDGE(origin_event("/p/cat.jpg", query), None)
    again = EDGE(origin_event("/p/cat.jpg", query, origin="custom"), None)
    assert again["uri"] == first["uri"] and again["querystring"] == ""


def test_failover_with_the_returned_request_passes_it_on_unchanged() -> None:
    first = EDGE(origin_event("/p/cat.jpg", "s=128x128&f=webp"), None)
    event = failover_with_returned_request(first)
    again = EDGE(event, None)
    assert again == event["Records"][0]["cf"]["request"]
    assert again["headers"]["x-imgedge-edge"] == first["headers"]["x-imgedge-edge"]


def test_a_signed_size_survives_the_failover_either_way() -> None:
    """Off the allow-list, the rewritten URI is only valid with the signature it lost with
    the query string: normalizing it again would not keep it."""
    key = ImageRequest.parse("300x200/webp/p/cat.jpg", CONFIG, signed=True).key
    query = f"s=300x200&f=webp&sig={signature(key, 'k1', SECRET)}"
    first = EDGE(origin_event("/p/cat.jpg", query), None)
    assert first["uri"] == "/300x200/webp/p/cat.jpg"
    assert EDGE(failover_with_returned_request(first), None)["uri"] == first["uri"]
    assert EDGE(origin_event("/p/cat.jpg", query, origin="custom"), None)["uri"] == first["uri"]
    naive = EDGE(origin_event(first["uri"], ""), None)  # without the edge's own header
    assert naive["uri"] != first["uri"]


def test_a_viewer_request_never_takes_a_timing_header_as_its_own() -> None:
    forged = cf_event("/p/cat.jpg", "s=64x&f=webp")
    forged["Records"][0]["cf"]["request"]["headers"]["x-imgedge-edge"] = [
        {"key": "X-Imgedge-Edge", "value": "id=0000000000000000;start=1;end=2;event=x;request=y"}
    ]
    result = EDGE(forged, None)
    assert result["uri"] == "/64x/webp/p/cat.jpg"
