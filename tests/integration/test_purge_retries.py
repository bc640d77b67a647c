"""The purge against a CloudFront that says "not now": the real handler, with the local
runtime's Lambda context, against the embedded S3 server and the invalidation API emulator
(whose in-progress quota is filled first).

A refused invalidation is retried with backoff within the invocation's time; past it the
invocation fails, so that Lambda runs the event again, and the same event then still
invalidates the same paths although its first attempt had deleted the derivatives."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.local.cache import CachedResponse, ResponseCache
from infra.local.cloudfront_api import CloudFrontApiServer
from infra.local.lambda_runtime import LambdaContext
from infra.local.s3_events import event_record
from regional_resizer import purge
from shared.contract import uri_of
from shared.layout import index_prefix
from tests.conftest import Buckets, make_cloudfront_client

pytestmark = pytest.mark.integration

DISTRIBUTION = "EIMGEDGEPURGE"
DELAY_S = 3.0  # how long the quota stays full: longer than the short budget below
QUICK = {"Delay": 1, "MaxAttempts": 30}
VARIANTS = ("64x/png", "128x128/webp")


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


@pytest.fixture
def env(
    buckets: Buckets, s3_endpoint: str, api: CloudFrontApiServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Buckets]:
    monkeypatch.setenv("ORIGINALS_BUCKET", buckets.originals)
    monkeypatch.setenv("DERIVATIVES_BUCKET", buckets.derivatives)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFRONT", api.url)
    monkeypatch.setenv("DISTRIBUTION_ID", DISTRIBUTION)
    purge.storage.cache_clear()
    purge.cloudfront.cache_clear()
    yield buckets
    purge.storage.cache_clear()
    purge.cloudfront.cache_clear()


def context(remaining_s: float) -> LambdaContext:
    return LambdaContext(
        function_name="imgedge-purge",
        memory_limit_in_mb=256,
        aws_request_id="00000000-0000-4000-8000-000000000001",
        deadline=time.time() + remaining_s,
    )


def store(s3: Any, buckets: Buckets, cache: ResponseCache, source: str) -> list[str]:
    """Derivatives of ``source`` with their markers, cached at the edge; their URIs."""
    for variant in VARIANTS:
        s3.put_object(Bucket=buckets.derivatives, Key=index_prefix(source) + variant, Body=b"")
        s3.put_object(Bucket=buckets.derivatives, Key=f"{variant}/{source}", Body=b"old")
        entry = CachedResponse(200, "OK", [("Content-Type", "image/png")], b"old")
        cache.put(uri_of(f"{variant}/{source}"), entry, ttl=3600)
    return sorted(uri_of(f"{variant}/{source}") for variant in VARIANTS)


def keys(s3: Any, bucket: str, prefix: str = "") -> set[str]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {item["Key"] for item in listing}


def fill_quota(cloudfront: Any) -> str:
    """3,000 file paths in progress (the distribution's maximum) for DELAY_S."""
    created = cloudfront.create_invalidation(
        DistributionId=DISTRIBUTION,
        InvalidationBatch={
            "Paths": {"Quantity": 3000, "Items": [f"/filler/{i}.jpg" for i in range(3000)]},
            "CallerReference": f"filler-{time.time_ns()}",
        },
    )
    return str(created["Invalidation"]["Id"])


def invalidation(cloudfront: Any, invalidation_id: str) -> Any:
    return cloudfront.get_invalidation(DistributionId=DISTRIBUTION, Id=invalidation_id)[
        "Invalidation"
    ]


def wait(cloudfront: Any, invalidation_id: str) -> None:
    waiter = cloudfront.get_waiter("invalidation_completed")
    waiter.wait(DistributionId=DISTRIBUTION, Id=invalidation_id, WaiterConfig=QUICK)


def event(buckets: Buckets, source: str, name: str) -> dict[str, Any]:
    return {"Records": [event_record(buckets.originals, source, name, '"0f"', 3)]}


def test_a_refused_invalidation_is_retried_until_cloudfront_has_room(
    env: Buckets,
    s3: Any,
    cache: ResponseCache,
    cloudfront: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    paths = store(s3, env, cache, "p/a.jpg")
    filler = fill_quota(cloudfront)

    result = purge.handler(event(env, "p/a.jpg", "ObjectCreated:Put"), context(30))

    refusals = [r.getMessage() for r in caplog.records if "invalidation_refused" in r.getMessage()]
    assert refusals and all("TooManyInvalidationsInProgress" in r for r in refusals)
    assert invalidation(cloudfront, filler)["Status"] == "Completed"  # room came back
    [made] = result["invalidations"]
    assert invalidation(cloudfront, made)["InvalidationBatch"]["Paths"]["Items"] == paths
    assert not {f"{variant}/p/a.jpg" for variant in VARIANTS} & keys(s3, env.derivatives)
    # an overwritten original keeps its markers: its derivatives come back under them
    assert len(keys(s3, env.derivatives, index_prefix("p/a.jpg"))) == len(VARIANTS)
    assert all(cache.get(path) is not None for path in paths)  # InProgress: still served
    wait(cloudfront, made)
    assert all(cache.get(path) is None for path in paths)


def test_out_of_time_the_purge_fails_and_the_same_event_invalidates_on_its_retry(
    env: Buckets, s3: Any, cache: ResponseCache, cloudfront: Any
) -> None:
    paths = store(s3, env, cache, "p/gone.jpg")
    removed = event(env, "p/gone.jpg", "ObjectRemoved:Delete")
    filler = fill_quota(cloudfront)

    # A budget that runs out while the quota is full: the invocation fails.
    with pytest.raises(ClientError) as refused:
        purge.handler(removed, context(purge.RESERVE_S + 1.0))

    assert refused.value.response["Error"]["Code"] == "TooManyInvalidationsInProgress"
    assert invalidation(cloudfront, filler)["Status"] == "InProgress"
    listed = cloudfront.list_invalidations(DistributionId=DISTRIBUTION)["InvalidationList"]
    assert [i["Id"] for i in listed["Items"]] == [filler]
    # The derivatives are gone, but their markers wait for the invalidation.
    assert not {f"{variant}/p/gone.jpg" for variant in VARIANTS} & keys(s3, env.derivatives)
    assert len(keys(s3, env.derivatives, index_prefix("p/gone.jpg"))) == len(VARIANTS)

    wait(cloudfront, filler)  # Lambda retries a minute later; the quota has room by then
    retried = purge.handler(removed, context(30))

    [made] = retried["invalidations"]
    assert invalidation(cloudfront, made)["InvalidationBatch"]["Paths"]["Items"] == paths
    assert keys(s3, env.derivatives, index_prefix("p/gone.jpg")) == set()
    wait(cloudfront, made)
    assert all(cache.get(path) is None for path in paths)


def test_a_duplicated_event_resubmits_the_same_invalidation(
    env: Buckets, s3: Any, cache: ResponseCache, cloudfront: Any
) -> None:
    store(s3, env, cache, "p/twice.jpg")
    changed = event(env, "p/twice.jpg", "ObjectCreated:Put")

    first = purge.handler(changed, context(30))
    second = purge.handler(changed, context(30))  # Lambda may deliver an event twice

    assert first["invalidations"] == second["invalidations"]
    listed = cloudfront.list_invalidations(DistributionId=DISTRIBUTION)["InvalidationList"]
    assert listed["Quantity"] == 1
    # another change of the same original is another invalidation
    third = purge.handler(event(env, "p/twice.jpg", "ObjectCreated:Put"), context(30))
    assert third["invalidations"] != first["invalidations"]


def test_an_error_that_waiting_cannot_cure_fails_at_once(
    env: Buckets, s3: Any, cache: ResponseCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(s3, env, cache, "p/lost.jpg")
    monkeypatch.setenv("DISTRIBUTION_ID", "ENOSUCH")
    started = time.monotonic()

    with pytest.raises(ClientError) as refused:
        purge.handler(event(env, "p/lost.jpg", "ObjectRemoved:Delete"), context(30))

    assert refused.value.response["Error"]["Code"] == "NoSuchDistribution"
    assert time.monotonic() - started < purge.FIRST_BACKOFF_S
    assert len(keys(s3, env.derivatives, index_prefix("p/lost.jpg"))) == len(VARIANTS)


@pytest.fixture(autouse=True)
def _purge_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="imgedge.purge")
