"""The CloudFront invalidation API emulator, through boto3 over HTTP as the purge calls it:
invalidations are asynchronous (InProgress, then Completed, and only then gone from the
cache), the in-progress quotas and the per-request limits answer with CloudFront's error
codes and statuses, and GetInvalidation, ListInvalidations and the ``invalidation_completed``
waiter work unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.local.cache import CachedResponse, ResponseCache
from infra.local.cloudfront_api import API_VERSION, CloudFrontApiServer
from tests.conftest import make_cloudfront_client

pytestmark = pytest.mark.integration

DISTRIBUTION = "EIMGEDGETEST"
DELAY_S = 1.0
QUICK = {"Delay": 1, "MaxAttempts": 20}  # the waiter's default is every 20 s


@pytest.fixture
def cache() -> ResponseCache:
    return ResponseCache()


@pytest.fixture
def api(cache: ResponseCache) -> Iterator[CloudFrontApiServer]:
    server = CloudFrontApiServer(cache, DISTRIBUTION, completion_delay_s=DELAY_S).start()
    yield server
    server.stop()


@pytest.fixture
def cloudfront(api: CloudFrontApiServer) -> Any:
    return make_cloudfront_client(api.url)


def create(cloudfront: Any, paths: list[str], reference: str = "") -> Any:
    return cloudfront.create_invalidation(
        DistributionId=DISTRIBUTION,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": reference or f"ref-{paths[0]}-{len(paths)}",
        },
    )


def refusal(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def wait(cloudfront: Any, invalidation_id: str) -> None:
    waiter = cloudfront.get_waiter("invalidation_completed")
    waiter.wait(DistributionId=DISTRIBUTION, Id=invalidation_id, WaiterConfig=QUICK)


def status(cloudfront: Any, invalidation_id: str) -> str:
    found = cloudfront.get_invalidation(DistributionId=DISTRIBUTION, Id=invalidation_id)
    return str(found["Invalidation"]["Status"])


def cached(cache: ResponseCache, key: str) -> None:
    entry = CachedResponse(200, "OK", [("Content-Type", "image/png")], b"old picture")
    assert cache.put(key, entry, ttl=3600)


def test_an_invalidation_is_in_progress_and_reaches_the_cache_only_when_completed(
    api: CloudFrontApiServer, cache: ResponseCache, cloudfront: Any
) -> None:
    cached(cache, "/64x/png/a.jpg")
    cached(cache, "/64x/png/b.jpg?v=1")
    cached(cache, "/64x/png/kept.jpg")

    created = create(cloudfront, ["/64x/png/a.jpg", "/64x/png/b*"])

    invalidation = created["Invalidation"]
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert invalidation["Status"] == "InProgress"
    assert created["Location"] == (
        f"{api.url}/{API_VERSION}/distribution/{DISTRIBUTION}/invalidation/{invalidation['Id']}"
    )
    assert invalidation["InvalidationBatch"]["Paths"]["Items"] == ["/64x/png/a.jpg", "/64x/png/b*"]
    # accepted is not done: the edge still serves what it cached
    assert cache.get("/64x/png/a.jpg") is not None
    assert cache.get("/64x/png/b.jpg?v=1") is not None
    assert status(cloudfront, invalidation["Id"]) == "InProgress"

    wait(cloudfront, invalidation["Id"])

    assert status(cloudfront, invalidation["Id"]) == "Completed"
    assert cache.get("/64x/png/a.jpg") is None
    assert cache.get("/64x/png/b.jpg?v=1") is None
    assert cache.get("/64x/png/kept.jpg") is not None
    listed = cloudfront.list_invalidations(DistributionId=DISTRIBUTION)["InvalidationList"]
    assert [(i["Id"], i["Status"]) for i in listed["Items"]] == [(invalidation["Id"], "Completed")]


def test_3000_file_paths_in_progress_at_most_then_room_again(cloudfront: Any) -> None:
    first = create(cloudfront, [f"/a/{i}.jpg" for i in range(2000)])
    second = create(cloudfront, [f"/b/{i}.jpg" for i in range(1000)])  # 3,000 in progress

    assert refusal(lambda: create(cloudfront, ["/c/3001.jpg"])) == (
        "TooManyInvalidationsInProgress",
        400,
    )
    # wildcards have a quota of their own
    assert create(cloudfront, ["/w/*"])["Invalidation"]["Status"] == "InProgress"

    for created in (first, second):
        wait(cloudfront, created["Invalidation"]["Id"])
    assert create(cloudfront, ["/c/3001.jpg"])["Invalidation"]["Status"] == "InProgress"


def test_15_wildcard_paths_in_progress_at_most_then_room_again(cloudfront: Any) -> None:
    ten = create(cloudfront, [f"/w{i}/*" for i in range(10)])
    five = create(cloudfront, [f"/v{i}*" for i in range(5)])

    assert refusal(lambda: create(cloudfront, ["/u/*"])) == ("TooManyInvalidationsInProgress", 400)
    assert refusal(lambda: create(cloudfront, ["/u/file.jpg", "/u/*"]))[0] == (
        "TooManyInvalidationsInProgress"
    )
    assert create(cloudfront, ["/u/file.jpg"])["Invalidation"]["Status"] == "InProgress"

    wait(cloudfront, ten["Invalidation"]["Id"])
    wait(cloudfront, five["Invalidation"]["Id"])
    assert create(cloudfront, ["/u/*"])["Invalidation"]["Status"] == "InProgress"


def test_a_batch_that_could_never_fit_is_too_large(cloudfront: Any) -> None:
    too_many_files = [f"/f/{i}.jpg" for i in range(3001)]
    assert refusal(lambda: create(cloudfront, too_many_files)) == ("BatchTooLarge", 413)
    too_many_wildcards = [f"/w{i}/*" for i in range(16)]
    assert refusal(lambda: create(cloudfront, too_many_wildcards)) == ("BatchTooLarge", 413)
    # ... and a refused request takes nothing from the quota
    assert create(cloudfront, [f"/f/{i}.jpg" for i in range(3000)])


@pytest.mark.parametrize(
    "path",
    [
        "images/cat.jpg",  # the API wants the leading slash (the console does not)
        "/images/*/cat.jpg",  # a wildcard only at the end
        "/" + "a" * 4000,  # 4,001 characters
        "/images/caf\u00e9.jpg",  # non-ASCII: URL-encoded
        "/images/a cat.jpg",  # unsafe: URL-encoded
    ],
)
def test_invalid_paths_are_refused(cloudfront: Any, path: str) -> None:
    assert refusal(lambda: create(cloudfront, ["/ok.jpg", path])) == ("InvalidArgument", 400)


def test_quantity_must_match_the_paths_and_a_batch_needs_one(cloudfront: Any) -> None:
    def mismatched() -> Any:
        return cloudfront.create_invalidation(
            DistributionId=DISTRIBUTION,
            InvalidationBatch={
                "Paths": {"Quantity": 2, "Items": ["/a.jpg"]},
                "CallerReference": "mismatched",
            },
        )

    def empty() -> Any:
        return cloudfront.create_invalidation(
            DistributionId=DISTRIBUTION,
            InvalidationBatch={"Paths": {"Quantity": 0}, "CallerReference": "empty"},
        )

    assert refusal(mismatched) == ("InconsistentQuantities", 400)
    assert refusal(empty) == ("InvalidArgument", 400)
    assert (
        "Items"
        not in cloudfront.list_invalidations(DistributionId=DISTRIBUTION)["InvalidationList"]
    )


def test_a_caller_reference_names_one_invalidation(cloudfront: Any) -> None:
    first = create(cloudfront, ["/a.jpg", "/b.jpg"], reference="purge-1")

    again = create(cloudfront, ["/a.jpg", "/b.jpg"], reference="purge-1")

    assert again["Invalidation"]["Id"] == first["Invalidation"]["Id"]
    listed = cloudfront.list_invalidations(DistributionId=DISTRIBUTION)["InvalidationList"]
    assert listed["Quantity"] == 1
    assert refusal(lambda: create(cloudfront, ["/a.jpg"], reference="purge-1")) == (
        "InvalidationBatchAlreadyExists",
        409,
    )


def test_unknown_distribution_and_invalidation(cloudfront: Any) -> None:
    assert refusal(lambda: cloudfront.get_invalidation(DistributionId="ENOSUCH", Id="I123")) == (
        "NoSuchDistribution",
        404,
    )
    assert refusal(
        lambda: cloudfront.create_invalidation(
            DistributionId="ENOSUCH",
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/a.jpg"]},
                "CallerReference": "x",
            },
        )
    ) == ("NoSuchDistribution", 404)
    assert refusal(
        lambda: cloudfront.get_invalidation(DistributionId=DISTRIBUTION, Id="INOSUCH")
    ) == ("NoSuchInvalidation", 404)


def test_list_invalidations_newest_first_in_pages(cloudfront: Any) -> None:
    ids = [create(cloudfront, [f"/{n}.jpg"])["Invalidation"]["Id"] for n in range(5)]

    page = cloudfront.list_invalidations(DistributionId=DISTRIBUTION, MaxItems="2")
    listed = page["InvalidationList"]
    assert [i["Id"] for i in listed["Items"]] == ids[::-1][:2]
    assert listed["IsTruncated"] is True and listed["NextMarker"] == ids[3]
    assert listed["Quantity"] == 2

    paginator = cloudfront.get_paginator("list_invalidations")
    pages = paginator.paginate(DistributionId=DISTRIBUTION, PaginationConfig={"PageSize": 2})
    assert [i["Id"] for p in pages for i in p["InvalidationList"].get("Items", [])] == ids[::-1]
