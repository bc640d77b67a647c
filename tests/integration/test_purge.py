"""Purge on change, end to end through the local stack: replacing an original through the
S3 API makes the next request return the new picture; deleting it removes its derivatives
and makes its URLs 404. Nothing is scanned: markers name each original's derivatives."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from shared.layout import index_prefix
from tests.conftest import make_s3_client
from tests.integration.stack_client import Reply, Served, fetch, start_serve

pytestmark = pytest.mark.integration

PROPAGATION_S = 8.0  # the watcher polls every 0.5 s; a purge takes well under a second


def solid(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), color).save(out, "JPEG", quality=95)
    return out.getvalue()


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PROPAGATION_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {PROPAGATION_S}s: {what}")
        time.sleep(0.1)


def keys(s3: Any, bucket: str, prefix: str = "") -> set[str]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {item["Key"] for item in listing}


def red_share(reply: Reply) -> float:
    r, g, b = reply.image().convert("RGB").resize((1, 1)).getpixel((0, 0))  # type: ignore[misc]
    return float(r) / max(1.0, float(r + g + b))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_serve(tmp_path_factory.mktemp("purge") / "data", "--no-samples")
    yield served
    assert served.stop() == 0


@pytest.fixture(scope="module")
def s3(stack: Served) -> Any:
    return make_s3_client(stack.s3)


def test_replacing_an_original_serves_the_new_picture(stack: Served, s3: Any) -> None:
    s3.put_object(Bucket="originals", Key="p/cat.jpg", Body=solid((220, 20, 20)))
    s3.put_object(Bucket="originals", Key="p/cat.jpg/other.jpg", Body=solid((220, 20, 20)))
    urls = [f"{stack.edge}/p/cat.jpg?s=64x&f=png", f"{stack.edge}/p/cat.jpg?s=128x128&f=webp"]
    for url in urls:
        assert red_share(fetch(url)) > 0.8
        assert fetch(url).headers["X-Cache"] == "Hit from cloudfront"
    assert fetch(f"{stack.edge}/p/cat.jpg/other.jpg?s=64x").status == 200
    assert keys(s3, "derivatives", index_prefix("p/cat.jpg")) == {
        index_prefix("p/cat.jpg") + "64x/png",
        index_prefix("p/cat.jpg") + "128x128/webp",
    }

    s3.put_object(Bucket="originals", Key="p/cat.jpg", Body=solid((20, 20, 220)))

    eventually(
        lambda: "64x/png/p/cat.jpg" not in keys(s3, "derivatives"), "stale derivative deleted"
    )
    for url in urls:

        def shows_the_new_picture(url: str = url) -> bool:
            return red_share(fetch(url)) < 0.2

        eventually(shows_the_new_picture, f"{url} shows the new picture")
    # the other original, whose key merely starts with this one's, kept its derivative
    assert "64x/jpeg/p/cat.jpg/other.jpg" in keys(s3, "derivatives")


def test_deleting_an_original_removes_its_derivatives_and_its_urls_404(
    stack: Served, s3: Any
) -> None:
    s3.put_object(Bucket="originals", Key="p/gone.jpg", Body=solid((10, 200, 10)))
    url = f"{stack.edge}/p/gone.jpg?s=64x&f=webp"
    assert fetch(url).status == 200
    assert fetch(f"{stack.edge}/p/gone.jpg").status == 200  # the original, byte for byte
    assert {"64x/webp/p/gone.jpg", "original/p/gone.jpg"} <= keys(s3, "derivatives")

    s3.delete_object(Bucket="originals", Key="p/gone.jpg")

    eventually(
        lambda: (
            not keys(s3, "derivatives", index_prefix("p/gone.jpg"))
            and not {"64x/webp/p/gone.jpg", "original/p/gone.jpg"} & keys(s3, "derivatives")
        ),
        "derivatives and markers deleted",
    )
    eventually(lambda: fetch(url).status == 404, "the derivative URL 404s")
    assert fetch(f"{stack.edge}/p/gone.jpg").status == 404
    assert keys(s3, "originals", "p/gone") == set()


def test_changes_through_the_s3_api_are_events_in_s3s_format(tmp_path: Path) -> None:
    from infra.local.s3_events import changes

    before = {"a b.jpg": ('"1"', 10), "gone.jpg": ('"2"', 20), "same.jpg": ('"3"', 30)}
    after = {"a b.jpg": ('"9"', 11), "same.jpg": ('"3"', 30), "new.jpg": ('"4"', 40)}
    records = changes("originals", before, after)
    named = {(r["eventName"], r["s3"]["object"]["key"]) for r in records}
    assert named == {
        ("ObjectCreated:Put", "a+b.jpg"),
        ("ObjectCreated:Put", "new.jpg"),
        ("ObjectRemoved:Delete", "gone.jpg"),
    }
    created = next(r for r in records if r["s3"]["object"]["key"] == "new.jpg")
    assert created["s3"]["object"]["eTag"] == "4" and created["s3"]["object"]["size"] == 40
    assert created["eventSource"] == "aws:s3" and created["eventVersion"] == "2.1"


def test_any_s3_endpoint_gets_purges_from_listing_changes(tmp_path: Path) -> None:
    """With --s3-endpoint (no SQS assumed) the stack polls listings instead."""
    from infra.local.s3_server import EmbeddedS3

    with EmbeddedS3() as external:
        served = start_serve(tmp_path / "data", "--no-samples", "--s3-endpoint", external.endpoint)
        try:
            s3 = make_s3_client(external.endpoint)
            s3.put_object(Bucket="originals", Key="w.jpg", Body=solid((200, 10, 10)))
            time.sleep(1.0)  # let the poller see the original before the derivative exists
            url = f"{served.edge}/w.jpg?s=64x&f=png"
            assert red_share(fetch(url)) > 0.8
            s3.put_object(Bucket="originals", Key="w.jpg", Body=solid((10, 10, 200)))
            eventually(lambda: red_share(fetch(url)) < 0.2, "the new picture is served")
        finally:
            assert served.stop() == 0
