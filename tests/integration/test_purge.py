"""Purge on change, end to end through the local stack: replacing an original through the
S3 API makes the next request return the new picture; deleting it removes its derivatives
and makes its URLs 404. Nothing is scanned: markers name each original's derivatives.

Invalidations are asynchronous, as on CloudFront: the tests find the purge's invalidation
and poll GetInvalidation until it is Completed (the waiter, every second), as a client of
CloudFront would; until then the edge still serves what it had cached. The stack runs in
this process so that the tests can reach its CloudFront API emulator."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from PIL import Image

from infra.local.events import DISTRIBUTION_ID
from infra.local.stack import LocalStack, StackOptions
from regional_resizer.purge import invalidation_paths
from shared.contract import uri_of
from shared.layout import index_prefix
from tests.conftest import make_s3_client
from tests.integration.stack_client import Reply, fetch

pytestmark = pytest.mark.integration

PROPAGATION_S = 8.0  # events arrive within a second; a purge takes well under a second
COMPLETION = {"Delay": 1, "MaxAttempts": 30}  # the waiter's default polls every 20 s


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


def start_stack(data_dir: Path, **options: Any) -> LocalStack:
    stack = LocalStack(
        StackOptions(port=0, s3_port=0, data_dir=data_dir, samples=False, **options),
        out=io.StringIO(),
    )
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    return stack


def cloudfront_client(stack: LocalStack) -> Any:
    assert stack.cloudfront_api is not None
    return boto3.client(
        "cloudfront",
        endpoint_url=stack.cloudfront_api.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def edge_url(stack: LocalStack) -> str:
    assert stack.cloudfront is not None
    return stack.cloudfront.url


def invalidation_of(cloudfront: Any, path: str) -> dict[str, Any]:
    """The invalidation the purge makes for ``path``, once it exists."""
    found: list[dict[str, Any]] = []

    def made() -> bool:
        listed = cloudfront.list_invalidations(DistributionId=DISTRIBUTION_ID)
        for summary in listed["InvalidationList"].get("Items", []):
            invalidation = cloudfront.get_invalidation(
                DistributionId=DISTRIBUTION_ID, Id=summary["Id"]
            )["Invalidation"]
            if path in invalidation["InvalidationBatch"]["Paths"]["Items"]:
                found.append(invalidation)
                return True
        return False

    eventually(made, f"an invalidation of {path}")
    return found[0]


def status(cloudfront: Any, invalidation_id: str) -> str:
    found = cloudfront.get_invalidation(DistributionId=DISTRIBUTION_ID, Id=invalidation_id)
    return str(found["Invalidation"]["Status"])


def wait_completed(cloudfront: Any, invalidation_id: str) -> None:
    waiter = cloudfront.get_waiter("invalidation_completed")
    waiter.wait(DistributionId=DISTRIBUTION_ID, Id=invalidation_id, WaiterConfig=COMPLETION)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = start_stack(tmp_path_factory.mktemp("purge") / "data")
    yield local
    local.stop()


@pytest.fixture(scope="module")
def s3(stack: LocalStack) -> Any:
    return make_s3_client(stack.s3_endpoint)


@pytest.fixture(scope="module")
def cloudfront(stack: LocalStack) -> Any:
    return cloudfront_client(stack)


def test_replacing_an_original_serves_the_new_picture(
    stack: LocalStack, s3: Any, cloudfront: Any
) -> None:
    edge = edge_url(stack)
    s3.put_object(Bucket="originals", Key="p/cat.jpg", Body=solid((220, 20, 20)))
    s3.put_object(Bucket="originals", Key="p/cat.jpg/other.jpg", Body=solid((220, 20, 20)))
    urls = [f"{edge}/p/cat.jpg?s=64x&f=png", f"{edge}/p/cat.jpg?s=128x128&f=webp"]
    for url in urls:
        assert red_share(fetch(url)) > 0.8
        assert fetch(url).headers["X-Cache"] == "Hit from cloudfront"
    assert fetch(f"{edge}/p/cat.jpg/other.jpg?s=64x").status == 200
    assert keys(s3, "derivatives", index_prefix("p/cat.jpg")) == {
        index_prefix("p/cat.jpg") + "64x/png",
        index_prefix("p/cat.jpg") + "128x128/webp",
    }

    s3.put_object(Bucket="originals", Key="p/cat.jpg", Body=solid((20, 20, 220)))

    invalidation = invalidation_of(cloudfront, "/64x/png/p/cat.jpg")
    assert invalidation["InvalidationBatch"]["Paths"]["Items"] == [
        "/128x128/webp/p/cat.jpg",
        "/64x/png/p/cat.jpg",
    ]
    assert "64x/png/p/cat.jpg" not in keys(s3, "derivatives")
    # In progress: the edge still serves the old picture from its cache.
    for url in urls:
        reply = fetch(url)
        assert red_share(reply) > 0.8 and reply.headers["X-Cache"] == "Hit from cloudfront"
    assert status(cloudfront, invalidation["Id"]) == "InProgress"

    wait_completed(cloudfront, invalidation["Id"])

    for url in urls:
        assert red_share(fetch(url)) < 0.2, f"{url} shows the new picture"
    # the other original, whose key merely starts with this one's, kept its derivative
    assert "64x/jpeg/p/cat.jpg/other.jpg" in keys(s3, "derivatives")


@pytest.mark.parametrize("name", ["a (1)~+!'.jpg", "ü.jpg", "a b.jpg"])
def test_replacing_an_original_with_special_characters_serves_the_new_picture(
    stack: LocalStack, s3: Any, cloudfront: Any, name: str
) -> None:
    """The invalidation path is the cache key the edge made, in the spelling CloudFront's
    API takes: the purge's invalidation reaches the cached copy."""
    source = f"names/{name}"
    url = f"{edge_url(stack)}/{quote(source)}?s=64x&f=png"
    s3.put_object(Bucket="originals", Key=source, Body=solid((220, 20, 20)))
    assert red_share(fetch(url)) > 0.8
    assert fetch(url).headers["X-Cache"] == "Hit from cloudfront"
    assert "64x/png/" + source in keys(s3, "derivatives")  # S3 answered for the key

    s3.put_object(Bucket="originals", Key=source, Body=solid((20, 20, 220)))

    path = uri_of("64x/png/" + source)
    invalidation = invalidation_of(cloudfront, path)
    assert set(invalidation["InvalidationBatch"]["Paths"]["Items"]) == set(
        invalidation_paths("64x/png/" + source)
    )
    wait_completed(cloudfront, invalidation["Id"])

    reply = fetch(url)
    assert reply.status == 200
    assert red_share(reply) < 0.2, f"{url} shows the new picture"


def test_deleting_an_original_removes_its_derivatives_and_its_urls_404(
    stack: LocalStack, s3: Any, cloudfront: Any
) -> None:
    edge = edge_url(stack)
    s3.put_object(Bucket="originals", Key="p/gone.jpg", Body=solid((10, 200, 10)))
    url = f"{edge}/p/gone.jpg?s=64x&f=webp"
    assert fetch(url).status == 200
    assert fetch(f"{edge}/p/gone.jpg").status == 200  # the original, byte for byte
    assert {"64x/webp/p/gone.jpg", "original/p/gone.jpg"} <= keys(s3, "derivatives")

    s3.delete_object(Bucket="originals", Key="p/gone.jpg")

    invalidation = invalidation_of(cloudfront, "/64x/webp/p/gone.jpg")
    assert invalidation["InvalidationBatch"]["Paths"]["Items"] == [
        "/64x/webp/p/gone.jpg",
        "/original/p/gone.jpg",
    ]
    assert fetch(url).headers["X-Cache"] == "Hit from cloudfront"  # still cached, for now
    eventually(
        lambda: (
            not keys(s3, "derivatives", index_prefix("p/gone.jpg"))
            and not {"64x/webp/p/gone.jpg", "original/p/gone.jpg"} & keys(s3, "derivatives")
        ),
        "derivatives and markers deleted",
    )

    wait_completed(cloudfront, invalidation["Id"])

    assert fetch(url).status == 404
    assert fetch(f"{edge}/p/gone.jpg").status == 404
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
        local = start_stack(tmp_path / "data", s3_endpoint=external.endpoint)
        try:
            s3, cloudfront = make_s3_client(external.endpoint), cloudfront_client(local)
            s3.put_object(Bucket="originals", Key="w.jpg", Body=solid((200, 10, 10)))
            time.sleep(1.0)  # let the poller see the original before the derivative exists
            url = f"{edge_url(local)}/w.jpg?s=64x&f=png"
            assert red_share(fetch(url)) > 0.8
            s3.put_object(Bucket="originals", Key="w.jpg", Body=solid((10, 10, 200)))
            invalidation = invalidation_of(cloudfront, "/64x/png/w.jpg")
            wait_completed(cloudfront, invalidation["Id"])
            assert red_share(fetch(url)) < 0.2, "the new picture is served"
        finally:
            local.stop()
