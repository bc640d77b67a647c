"""Several originals buckets (``originals_buckets``) against the embedded S3 server: the
resizer's core reads each original from the bucket its key maps to, ``imgedge precompute``
and ``imgedge ls`` find the originals of every bucket (and only those), and, through the
local stack, replacing an original in a mapped bucket purges its derivatives."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from infra.cli import main
from infra.local.stack import LocalStack
from regional_resizer.derivative import Deadline, make_derivative
from regional_resizer.storage import Storage, s3_client
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import SourceNotFound
from shared.layout import INDEX_ROOT
from tests.conftest import Buckets, make_s3_client
from tests.integration.stack_client import fetch
from tests.integration.test_precompute import jpeg, stored
from tests.integration.test_purge import (
    cloudfront_client,
    edge_url,
    invalidation_of,
    red_share,
    solid,
    start_stack,
    wait_completed,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def mapped(s3: Any, buckets: Buckets) -> dict[str, str]:
    """Two buckets of their own for "products/" and "avatars/"."""
    suffix = uuid.uuid4().hex[:12]
    mapping = {"products/": f"products-{suffix}", "avatars/": f"avatars-{suffix}"}
    for bucket in mapping.values():
        s3.create_bucket(Bucket=bucket)
    return mapping


@pytest.fixture
def config_file(tmp_path: Path, mapped: dict[str, str]) -> Path:
    path = tmp_path / "imgedge.toml"
    lines = [f'"{prefix}" = "{bucket}"' for prefix, bucket in mapped.items()]
    path.write_text('[presets]\nthumb = "s=64x&f=webp"\n[originals_buckets]\n' + "\n".join(lines))
    return path


def test_the_core_reads_each_original_from_its_bucket(
    s3: Any, s3_endpoint: str, buckets: Buckets, mapped: dict[str, str]
) -> None:
    config = Config.from_mapping({"originals_buckets": mapped})
    storage = Storage(
        s3_client(s3_endpoint), config.originals(buckets.originals), buckets.derivatives
    )
    s3.put_object(Bucket=mapped["products/"], Key="products/shoe.jpg", Body=jpeg((200, 100)))
    s3.put_object(Bucket=buckets.originals, Key="photos/cat.jpg", Body=jpeg((200, 100)))
    # Not an original: its key maps to the products bucket, which does not hold it.
    s3.put_object(Bucket=buckets.originals, Key="products/boot.jpg", Body=jpeg((200, 100)))

    for key in ("64x/webp/products/shoe.jpg", "64x/webp/photos/cat.jpg"):
        made = make_derivative(
            ImageRequest.parse(key, config), config, storage, Deadline.within(60)
        )
        assert made.kept
    with pytest.raises(SourceNotFound):
        request = ImageRequest.parse("64x/webp/products/boot.jpg", config)
        make_derivative(request, config, storage, Deadline.within(60))

    derivatives = {k for k in stored(s3, buckets.derivatives) if not k.startswith(INDEX_ROOT)}
    assert derivatives == {"64x/webp/products/shoe.jpg", "64x/webp/photos/cat.jpg"}
    for bucket in mapped.values():  # nothing is ever written to an originals bucket
        assert set(stored(s3, bucket)) <= {"products/shoe.jpg"}


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        status = main(argv)
    return status, out.getvalue()


def test_precompute_and_ls_cover_every_bucket(
    s3: Any, s3_endpoint: str, buckets: Buckets, mapped: dict[str, str], config_file: Path
) -> None:
    for bucket, key in (
        (buckets.originals, "photos/cat.jpg"),
        (mapped["products/"], "products/shoe.jpg"),
        (mapped["products/"], "products/hat.jpg"),
        (mapped["avatars/"], "avatars/me.jpg"),
        (buckets.originals, "avatars/not-an-original.jpg"),  # its key maps elsewhere
        (mapped["products/"], "photos/not-an-original.jpg"),
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=jpeg((200, 100)))
    where = ["--s3-endpoint", s3_endpoint, "--originals-bucket", buckets.originals,
             "--derivatives-bucket", buckets.derivatives, "--config", str(config_file)]  # fmt: skip

    status, _ = run(["precompute", *where, "--workers", "2", "--prefix", "products/s"])
    assert status == 0
    assert {k for k in stored(s3, buckets.derivatives) if not k.startswith(INDEX_ROOT)} == {
        "64x/webp/products/shoe.jpg"
    }
    status, _ = run(["precompute", *where, "--workers", "2"])
    assert status == 0
    assert {k for k in stored(s3, buckets.derivatives) if not k.startswith(INDEX_ROOT)} == {
        "64x/webp/photos/cat.jpg",
        "64x/webp/products/shoe.jpg",
        "64x/webp/products/hat.jpg",
        "64x/webp/avatars/me.jpg",
    }

    status, out = run(["ls", *where, "--json"])
    assert status == 0
    listed = {row["key"]: row["derivatives"] for row in json.loads(out)}
    assert listed == {
        "avatars/me.jpg": 1,
        "photos/cat.jpg": 1,
        "products/hat.jpg": 1,
        "products/shoe.jpg": 1,
    }
    assert list(listed) == sorted(listed)
    status, out = run(["ls", *where, "--json", "products/hat.jpg"])
    assert status == 0
    assert json.loads(out)["original"]["key"] == "products/hat.jpg"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("mapped")
    config = folder / "imgedge.toml"
    config.write_text('[originals_buckets]\n"products/" = "acme-products"\n')
    local = start_stack(folder / "data", config_path=config)
    yield local
    local.stop()


def test_replacing_an_original_in_a_mapped_bucket_purges_it(stack: LocalStack) -> None:
    s3 = make_s3_client(stack.s3_endpoint)
    cloudfront = cloudfront_client(stack)
    url = f"{edge_url(stack)}/products/shoe.jpg?s=64x&f=png"
    s3.put_object(Bucket="acme-products", Key="products/shoe.jpg", Body=solid((220, 20, 20)))
    assert red_share(fetch(url)) > 0.8
    assert fetch(url).headers["X-Cache"] == "Hit from cloudfront"
    assert "64x/png/products/shoe.jpg" in stored(s3, "derivatives")

    s3.put_object(Bucket="acme-products", Key="products/shoe.jpg", Body=solid((20, 20, 220)))

    invalidation = invalidation_of(cloudfront, "/64x/png/products/shoe.jpg")
    assert "64x/png/products/shoe.jpg" not in stored(s3, "derivatives")
    wait_completed(cloudfront, invalidation["Id"])
    assert red_share(fetch(url)) < 0.2
