"""An original the resizer refuses (too many bytes, too many pixels, corrupt data) is refused
once per error TTL: CloudFront caches the refusal, so a repeat does not reach the resizer,
which would otherwise fetch the large original again. CloudFront never caches 413 or 422;
the resizer answers 415 with a max-age, which it does cache (docs/contract.md).

The stack runs in this process so that the tests can count what reaches its origin group,
with the edge router on viewer requests and on origin requests."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from infra.distribution import EDGE_TRIGGERS
from infra.local.stack import LocalStack
from tests.conftest import make_s3_client
from tests.integration.stack_client import fetch, max_age
from tests.integration.test_purge import edge_url, start_stack

pytestmark = pytest.mark.integration

MAX_SOURCE_BYTES = 200_000
MAX_SOURCE_PIXELS = 1_000_000
ERROR_MAX_AGE = 60


def jpeg(size: tuple[int, int], *, noise: bool = False) -> bytes:
    picture = (
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
        if noise
        else Image.new("RGB", size, (30, 120, 200))
    )
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=95)
    return out.getvalue()


@pytest.fixture(scope="module", params=EDGE_TRIGGERS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("refusals")
    config = root / "imgedge.toml"
    config.write_text(
        f"max_source_bytes = {MAX_SOURCE_BYTES}\n"
        f"max_source_pixels = {MAX_SOURCE_PIXELS}\n"
        f"error_max_age = {ERROR_MAX_AGE}\n"
    )
    local = start_stack(root / "data", config_path=Path(config), edge_trigger=request.param)
    yield local
    local.stop()


@pytest.fixture(scope="module")
def s3(stack: LocalStack) -> Any:
    return make_s3_client(stack.s3_endpoint)


def origin_requests(stack: LocalStack) -> int:
    assert stack.cloudfront is not None
    return stack.cloudfront.origin_requests


@pytest.mark.parametrize(
    ("name", "body", "says"),
    [
        ("heavy.jpg", jpeg((1000, 800), noise=True), "too large"),
        ("wide.jpg", jpeg((2000, 1000)), "dimensions"),
        ("cut.jpg", jpeg((600, 400), noise=True)[:20_000], "corrupt"),
    ],
)
def test_a_refused_original_is_not_read_again_within_the_error_ttl(
    stack: LocalStack, s3: Any, name: str, body: bytes, says: str
) -> None:
    if says == "too large":
        assert len(body) > MAX_SOURCE_BYTES
    s3.put_object(Bucket="originals", Key=f"refused/{name}", Body=body)
    url = f"{edge_url(stack)}/refused/{name}?s=256x256&f=webp"

    before = origin_requests(stack)
    first = fetch(url)
    assert first.status == 415
    assert says in first.body.decode()
    assert max_age(first.headers["Cache-Control"]) == ERROR_MAX_AGE
    assert origin_requests(stack) == before + 1

    for _ in range(2):
        again = fetch(url)
        assert again.status == 415
        assert says in again.body.decode()
        assert "Age" in again.headers  # from CloudFront's cache
    assert origin_requests(stack) == before + 1  # neither repeat reached the resizer
