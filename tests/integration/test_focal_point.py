"""The focal point stored with an original (S3 user metadata ``focal-point: X,Y``), end to
end: a cover crop that names no place centres on it; changing it by copying the object onto
itself with new metadata is an ObjectCreated event, so the purge removes the derivatives
and the next request follows the new point. A malformed value is a centred crop, never an
error. And the resizer's core takes back a derivative whose focal point changed while it
was made (the copy keeps the ETag, so the ETag alone would not tell)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from infra.local.events import DISTRIBUTION_ID
from infra.local.stack import LocalStack
from regional_resizer import derivative
from regional_resizer.derivative import Deadline, make_derivative
from regional_resizer.pipeline import Rendition, render
from regional_resizer.storage import Storage, s3_client
from shared.config import Config
from shared.contract import ImageRequest
from shared.layout import index_key
from tests.conftest import Buckets, make_s3_client
from tests.integration.stack_client import Reply, fetch
from tests.integration.test_purge import (
    cloudfront_client,
    edge_url,
    eventually,
    keys,
    start_stack,
    wait_completed,
)

pytestmark = pytest.mark.integration

RED, BLUE = (230, 20, 20), (20, 20, 230)


def halves(size: tuple[int, int] = (400, 200)) -> bytes:
    """Red on the left half, blue on the right: a square cover crop is one colour where
    the focal point puts it, both when centred."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def colour_at(reply: Reply, x: int, y: int) -> tuple[int, int, int]:
    assert reply.status == 200, reply.body[:200]
    pixel = reply.image().convert("RGB").getpixel((x, y))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def near(actual: tuple[int, int, int], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - e) <= 12 for a, e in zip(actual, expected, strict=True))


def set_focal_point(s3: Any, bucket: str, key: str, value: str) -> None:
    """How an operator changes it: a copy of the object onto itself with new metadata."""
    s3.copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": bucket, "Key": key},
        Metadata={"focal-point": value},
        MetadataDirective="REPLACE",
        ContentType="image/png",
    )


def invalidation_ids(cloudfront: Any) -> set[str]:
    listed = cloudfront.list_invalidations(DistributionId=DISTRIBUTION_ID)["InvalidationList"]
    return {summary["Id"] for summary in listed.get("Items", [])}


def new_invalidation(cloudfront: Any, before: set[str], path: str) -> dict[str, Any]:
    """The first invalidation not in ``before`` that names ``path``, once it exists (an
    earlier one may name it too: the upload's own purge, if its event came late)."""
    found: list[dict[str, Any]] = []

    def made() -> bool:
        for invalidation_id in invalidation_ids(cloudfront) - before:
            invalidation = cloudfront.get_invalidation(
                DistributionId=DISTRIBUTION_ID, Id=invalidation_id
            )["Invalidation"]
            if path in invalidation["InvalidationBatch"]["Paths"]["Items"]:
                found.append(invalidation)
                return True
        return False

    eventually(made, f"a new invalidation of {path}")
    return found[0]


def stored_and_cached(s3: Any, urls: list[str], stored: set[str]) -> None:
    """Wait until every URL is a cache hit and every key stored: an upload's own event may
    purge what was made before the purge ran."""
    eventually(
        lambda: (
            all(fetch(url).headers["X-Cache"] == "Hit from cloudfront" for url in urls)
            and stored <= keys(s3, "derivatives")
        ),
        f"{sorted(stored)} stored and cached",
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = start_stack(tmp_path_factory.mktemp("focal") / "data")
    yield local
    local.stop()


@pytest.fixture(scope="module")
def stack_s3(stack: LocalStack) -> Any:
    return make_s3_client(stack.s3_endpoint)


def test_a_cover_crop_follows_the_stored_focal_point_and_its_change_purges(
    stack: LocalStack, stack_s3: Any
) -> None:
    s3, cloudfront, edge = stack_s3, cloudfront_client(stack), edge_url(stack)
    s3.put_object(
        Bucket="originals",
        Key="fp/pic.png",
        Body=halves(),
        ContentType="image/png",
        Metadata={"focal-point": "0,0.5"},
    )
    url = f"{edge}/fp/pic.png?s=100x100&f=png"
    assert near(colour_at(fetch(url), 64, 64), RED)
    # the request's own gravity, and a size that crops nothing, ignore the stored point
    assert near(colour_at(fetch(f"{edge}/fp/pic.png?s=100x100&f=png&g=e"), 64, 64), BLUE)
    inside = fetch(f"{edge}/fp/pic.png?s=100x&f=png")
    assert near(colour_at(inside, 10, 25), RED) and near(colour_at(inside, 90, 25), BLUE)
    stored_and_cached(s3, [url], {"128x128/png/fp/pic.png"})
    before = invalidation_ids(cloudfront)

    set_focal_point(s3, "originals", "fp/pic.png", "1,0.5")

    invalidation = new_invalidation(cloudfront, before, "/128x128/png/fp/pic.png")
    # every derivative of the original goes, whether the focal point changed it or not
    assert len(invalidation["InvalidationBatch"]["Paths"]["Items"]) == 3
    assert "/128x/png/fp/pic.png" in invalidation["InvalidationBatch"]["Paths"]["Items"]
    eventually(
        lambda: "128x128/png/fp/pic.png" not in keys(s3, "derivatives"), "the derivative purged"
    )
    wait_completed(cloudfront, invalidation["Id"])
    reply = fetch(url)
    assert reply.headers["X-Cache"] != "Hit from cloudfront"
    assert near(colour_at(reply, 64, 64), BLUE), "the new focal point is followed"


@pytest.mark.parametrize("value", ["0.5", "2,0.5", "left,top", "nan,nan"])
def test_a_malformed_focal_point_is_a_centred_crop(
    stack: LocalStack, stack_s3: Any, value: str
) -> None:
    key = f"fp/bad-{len(value)}-{value[0]}.png"
    stack_s3.put_object(
        Bucket="originals",
        Key=key,
        Body=halves(),
        ContentType="image/png",
        Metadata={"focal-point": value},
    )
    reply = fetch(f"{edge_url(stack)}/{key}?s=100x100&f=png")
    assert near(colour_at(reply, 10, 64), RED) and near(colour_at(reply, 118, 64), BLUE)


# --- the resizer's core on its own, against the embedded S3 server -------------------------


@pytest.fixture
def storage(buckets: Buckets, s3_endpoint: str) -> Storage:
    return Storage(s3_client(s3_endpoint), buckets.originals, buckets.derivatives)


def test_get_original_returns_the_metadata(storage: Storage, s3: Any) -> None:
    s3.put_object(
        Bucket=storage.originals_bucket,
        Key="m.png",
        Body=halves(),
        Metadata={"focal-point": "0.25,0.5", "Other": "x"},
    )
    original = storage.get_original("m.png", 10_000_000)
    assert original.metadata["focal-point"] == "0.25,0.5"
    assert original.metadata["other"] == "x"
    assert storage.original_version("m.png") == original.version
    assert storage.original_version("gone.png") is None


def test_a_derivative_whose_focal_point_changed_meanwhile_is_taken_back(
    storage: Storage, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = storage.originals_bucket
    s3.put_object(Bucket=bucket, Key="r.png", Body=halves(), Metadata={"focal-point": "0,0.5"})

    def render_then_move_the_point(*args: Any, **kwargs: Any) -> Rendition:
        rendition = render(*args, **kwargs)
        set_focal_point(s3, bucket, "r.png", "1,0.5")
        return rendition

    monkeypatch.setattr(derivative, "render", render_then_move_the_point)
    config = Config()
    request = ImageRequest.parse("128x128/png/r.png", config)
    made = make_derivative(request, config, storage, Deadline.within(60))

    assert not made.kept
    assert (
        s3.head_object(Bucket=bucket, Key="r.png")["ETag"]
        == storage.get_original("r.png", 10_000_000).etag
    )  # the copy kept the ETag: only the focal point tells
    pixel = Image.open(io.BytesIO(made.body)).convert("RGB").getpixel((64, 64))
    assert isinstance(pixel, tuple) and near((pixel[0], pixel[1], pixel[2]), RED)  # made of the old
    assert set(keys(s3, storage.derivatives_bucket)) == {index_key(request)}


def test_an_unchanged_focal_point_keeps_the_derivative(storage: Storage, s3: Any) -> None:
    bucket = storage.originals_bucket
    s3.put_object(Bucket=bucket, Key="k.png", Body=halves(), Metadata={"focal-point": "1,0.5"})
    config = Config()
    request = ImageRequest.parse("128x128/png/k.png", config)
    made = make_derivative(request, config, storage, Deadline.within(60))
    assert made.kept
    pixel = Image.open(io.BytesIO(made.body)).convert("RGB").getpixel((64, 64))
    assert isinstance(pixel, tuple) and near((pixel[0], pixel[1], pixel[2]), BLUE)
    assert set(keys(s3, storage.derivatives_bucket)) == {request.key, index_key(request)}
