"""Fifty simultaneous requests for one missing derivative: every viewer gets the same,
correct image; CloudFront's request collapsing sends one of them to the resizer; and
without collapsing, concurrent resizes still store the derivative once (If-None-Match)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_s3_client, resizer_pointed_at
from tests.integration.stack_client import Reply, Served, fetch, jpeg, start_serve

pytestmark = pytest.mark.integration

VIEWERS = 50


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_serve(tmp_path_factory.mktemp("burst") / "data", "--no-samples")
    yield served
    assert served.stop() == 0


def stampede(url: str, count: int) -> list[Reply]:
    barrier = threading.Barrier(count)

    def one(_: int) -> Reply:
        barrier.wait()
        return fetch(url)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def resizes_logged(stack: Served, path: str) -> int:
    log = (Path(stack.stderr.name)).read_text()
    return sum(
        1 for line in log.splitlines() if "REPORT imgedge-regional-resizer" in line and path in line
    )


def test_fifty_viewers_one_resize(stack: Served) -> None:
    s3 = make_s3_client(stack.s3)
    s3.put_object(Bucket="originals", Key="viral.jpg", Body=jpeg((2400, 1600)))

    replies = stampede(f"{stack.edge}/viral.jpg?s=640x480&f=webp", VIEWERS)

    assert {r.status for r in replies} == {200}
    assert len({r.body for r in replies}) == 1
    assert replies[0].image().size == (640, 480)
    stored = s3.get_object(Bucket="derivatives", Key="640x480/webp/viral.jpg")["Body"].read()
    assert stored == replies[0].body
    misses = [r for r in replies if r.headers["X-Cache"].startswith("Miss")]
    assert len(misses) == 1, [r.headers["X-Cache"] for r in replies]
    assert resizes_logged(stack, "/640x480/webp/viral.jpg") == 1


def test_concurrent_resizes_store_once_and_agree(
    buckets: Any, s3: Any, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resizer alone (no collapsing in front): racing renders of one key all answer
    the same bytes, and S3 keeps the first write (If-None-Match: *)."""
    from regional_resizer import handler as resizer
    from tests.integration.test_resizer_handler import function_url_event

    with resizer_pointed_at(monkeypatch, buckets, s3_endpoint):
        s3.put_object(Bucket=buckets.originals, Key="race.jpg", Body=jpeg((1600, 1200)))
        barrier = threading.Barrier(8)

        def one(_: int) -> dict[str, Any]:
            barrier.wait()
            return resizer.handler(function_url_event("/320x/jpeg/race.jpg"), None)

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(one, range(8)))
    assert {r["statusCode"] for r in responses} == {200}
    assert len({r["body"] for r in responses}) == 1
    head = s3.head_object(Bucket=buckets.derivatives, Key="320x/jpeg/race.jpg")
    assert head["ETag"].strip('"') == responses[0]["headers"]["etag"].strip('"')
