"""Purge on change with the edge on origin requests: CloudFront caches under the viewer's
URL there, so the purge also invalidates each original's wildcard path."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from infra.local.stack import LocalStack
from regional_resizer.purge import viewer_wildcards
from tests.conftest import make_s3_client
from tests.integration.stack_client import fetch
from tests.integration.test_purge import edge_url, eventually, start_stack

pytestmark = pytest.mark.integration


def solid(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 100), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = start_stack(tmp_path_factory.mktemp("origin") / "data", edge_trigger="origin-request")
    yield local
    local.stop()


def test_one_wildcard_per_original_whatever_its_derivatives() -> None:
    purged = ["64x/png/a b.png", "128x-r90/webp/a b.png", "original/a b.png", "64x/png/c+d.png"]
    assert viewer_wildcards(purged) == ["/a%20b.png*", "/c%2Bd.png*"]


def test_a_replaced_original_is_not_served_from_the_viewer_url_s_cache(
    stack: LocalStack,
) -> None:
    s3: Any = make_s3_client(stack.s3_endpoint)
    s3.put_object(Bucket="originals", Key="c/x.png", Body=solid((220, 20, 20)))
    url = edge_url(stack) + "/c/x.png?s=64x&f=png"

    def red_and_cached() -> bool:
        reply = fetch(url)
        return (
            reply.status == 200
            and reply.headers["X-Cache"] == "Hit from cloudfront"
            and (reply.image().convert("RGB").getpixel((5, 5)) == (220, 20, 20))
        )

    eventually(red_and_cached, "the red derivative cached under the viewer URL")
    s3.put_object(Bucket="originals", Key="c/x.png", Body=solid((20, 20, 220)))

    def blue() -> bool:
        reply = fetch(url)
        return reply.status == 200 and reply.image().convert("RGB").getpixel((5, 5)) == (
            20,
            20,
            220,
        )

    eventually(blue, "the viewer URL answered from the replaced original")
