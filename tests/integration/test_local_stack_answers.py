"""`imgedge serve` end to end, where what CloudFront caches decides what a viewer gets: a
signed output too large for a function URL to return, followed to the image, and a HEAD
for a new size followed by a GET of it. With the edge router on viewer requests and on
origin requests, where a signed size must survive the failover's second run of the
router."""

from __future__ import annotations

import io
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from infra.distribution import EDGE_TRIGGERS
from regional_resizer.responses import MAX_INLINE_BYTES
from shared.config import Config
from shared.contract import ImageRequest
from shared.signing import signature
from tests.conftest import make_s3_client
from tests.integration.stack_client import (
    Reply,
    Served,
    descendants,
    fetch,
    jpeg,
    put_original,
    start_serve,
    wait_gone,
)

pytestmark = pytest.mark.integration

SECRET = "0123456789abcdef-stack"
CONFIG = Config.from_mapping({"signing_keys": {"k1": SECRET}})


@pytest.fixture(scope="module", params=EDGE_TRIGGERS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("answers")
    config = folder / "imgedge.toml"
    config.write_text(f'signing_keys = {{ k1 = "{SECRET}" }}\n')
    served = start_serve(
        folder / "data", "--no-samples", "--config", str(config), "--edge-trigger", request.param
    )
    yield served
    children = descendants(served.process.pid)
    assert served.stop(signal.SIGINT) == 0
    assert wait_gone(children) == set()


@pytest.fixture(scope="module")
def s3(stack: Served) -> Any:
    return make_s3_client(stack.s3)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


NOT_FOLLOWING = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def fetch_once(url: str, method: str = "GET") -> Reply:
    """One request; a redirect is answered, not followed."""
    request = urllib.request.Request(url, method=method)
    try:
        with NOT_FOLLOWING.open(request, timeout=60) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read())


def noise_png(size: tuple[int, int]) -> bytes:
    """A PNG that does not compress: its rendition at nearly the same size stays as large."""
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "PNG")
    return out.getvalue()


def test_a_signed_output_over_the_inline_limit_is_followed_to_the_image(
    stack: Served, s3: Any
) -> None:
    put_original(s3, "big/noise.png", noise_png((1800, 1300)), "image/png")
    request = ImageRequest.parse("1799x/png/big/noise.png", CONFIG, signed=True)
    sig = signature(request.key, "k1", SECRET)
    url = f"{stack.edge}/big/noise.png?s=1799x&f=png&sig={sig}"

    first = fetch_once(url)
    assert first.status == 302, first.body[:200]
    assert first.headers["Cache-Control"] == "no-store"
    location = first.headers["Location"]
    assert location.startswith("/big/noise.png?") and "sig=k1." in location

    stored = s3.get_object(Bucket="derivatives", Key=request.key)["Body"].read()
    assert len(stored) > MAX_INLINE_BYTES  # the real limit, not a lowered one

    followed = fetch_once(stack.edge + location)
    assert followed.status == 200, followed.body[:200]
    assert followed.headers["Content-Type"] == "image/png"
    assert followed.body == stored
    assert followed.image().size == (1799, 1299)

    again = fetch_once(url)  # the viewer's own URL now hits the stored derivative
    assert again.status == 200
    assert again.body == stored
    assert fetch(url).status == 200  # and a client that follows redirects gets it too


def test_the_redirect_is_never_cached(stack: Served, s3: Any) -> None:
    put_original(s3, "big/twice.png", noise_png((1800, 1300)), "image/png")
    request = ImageRequest.parse("1798x/png/big/twice.png", CONFIG, signed=True)
    url = f"{stack.edge}/big/twice.png?s=1798x&f=png&sig={signature(request.key, 'k1', SECRET)}"
    assert fetch_once(url).status == 302
    second = fetch_once(url)
    assert second.status == 200  # from S3: the 302 was not kept
    assert second.headers["X-Cache"] == "Miss from cloudfront"


def test_a_head_for_a_new_size_leaves_nothing_empty_for_the_get(stack: Served, s3: Any) -> None:
    put_original(s3, "head/cat.jpg", jpeg())
    url = f"{stack.edge}/head/cat.jpg?s=320x&f=webp"

    head = fetch_once(url, "HEAD")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["Cache-Control"] == "no-store"
    assert "320x/webp/head/cat.jpg" in {
        item["Key"] for item in s3.list_objects_v2(Bucket="derivatives")["Contents"]
    }

    get = fetch_once(url)
    assert get.status == 200
    assert get.headers["X-Cache"] == "Miss from cloudfront"  # not the HEAD's answer
    assert "immutable" in get.headers["Cache-Control"]  # S3's copy
    assert get.image().size[0] == 320

    hit = fetch_once(url)
    assert hit.headers["X-Cache"] == "Hit from cloudfront"
    assert hit.body == get.body


def test_a_head_that_hits_still_answers_from_the_cache(stack: Served, s3: Any) -> None:
    put_original(s3, "head/dog.jpg", jpeg())
    url = f"{stack.edge}/head/dog.jpg?s=256x&f=webp"
    assert fetch_once(url).status == 200
    head = fetch_once(url, "HEAD")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["X-Cache"] == "Hit from cloudfront"
