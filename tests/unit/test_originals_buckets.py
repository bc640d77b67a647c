"""Several originals buckets (``originals_buckets``): the configuration's validation, which
bucket a key is read from (longest prefix, else the default), the listings that find every
original, and the purge's refusal of an object that is not an original where it is."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from regional_resizer import s3
from regional_resizer.purge import purging_records
from regional_resizer.storage import Storage
from shared.config import Config, ConfigError
from shared.originals import OriginalsBuckets

MAPPING = {
    "products/": "acme-products",
    "products/shoes/": "acme-shoes",
    "avatars/": "acme-avatars",
}
ORIGINALS = OriginalsBuckets("acme-originals", MAPPING)


def test_the_mapping_is_read_frozen_and_written_back() -> None:
    config = Config.from_mapping({"originals_buckets": MAPPING})
    assert isinstance(config.originals_buckets, MappingProxyType)
    assert config.to_mapping()["originals_buckets"] == MAPPING
    assert Config.from_mapping(config.to_mapping()) == config
    assert Config().originals_buckets == {}


def test_every_bad_prefix_and_bucket_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        Config.from_mapping(
            {
                "originals_buckets": {
                    "": "acme-a",
                    "products": "acme-b",
                    "/avatars/": "acme-c",
                    "ok/": "Not_A_Bucket",
                },
                "sizes": [],
            }
        )
    problems = raised.value.problems
    assert sum("originals_buckets: prefix" in p for p in problems) == 3
    assert any("originals_buckets.ok/: 'Not_A_Bucket'" in p for p in problems)
    assert any(p.startswith("sizes:") for p in problems)


def test_a_table_is_required() -> None:
    with pytest.raises(ConfigError, match="originals_buckets: must be a table"):
        Config.from_mapping({"originals_buckets": ["products/"]})


def test_the_longest_prefix_wins_and_the_prefix_stays_in_the_key() -> None:
    assert ORIGINALS.bucket_of("products/shoe.jpg") == "acme-products"
    assert ORIGINALS.bucket_of("products/shoes/red.jpg") == "acme-shoes"
    assert ORIGINALS.bucket_of("avatars/me.png") == "acme-avatars"
    assert ORIGINALS.bucket_of("productsx/a.jpg") == "acme-originals"
    assert ORIGINALS.bucket_of("a.jpg") == "acme-originals"
    assert ORIGINALS.buckets == ("acme-originals", "acme-products", "acme-shoes", "acme-avatars")
    assert Config.from_mapping({"originals_buckets": MAPPING}).originals("x") == (
        OriginalsBuckets("x", MAPPING)
    )


def test_an_object_is_an_original_only_in_the_bucket_its_key_maps_to() -> None:
    assert ORIGINALS.holds("acme-products", "products/shoe.jpg")
    assert not ORIGINALS.holds("acme-products", "products/shoes/red.jpg")
    assert not ORIGINALS.holds("acme-originals", "products/shoe.jpg")
    assert not ORIGINALS.holds("acme-products", "shoe.jpg")


def test_the_listings_cover_a_prefix() -> None:
    assert ORIGINALS.listings() == [
        ("acme-originals", ""),
        ("acme-products", "products/"),
        ("acme-shoes", "products/shoes/"),
        ("acme-avatars", "avatars/"),
    ]
    assert ORIGINALS.listings("products/s") == [
        ("acme-originals", "products/s"),
        ("acme-products", "products/s"),
        ("acme-shoes", "products/shoes/"),
    ]
    assert ORIGINALS.listings("photos/") == [("acme-originals", "photos/")]


class Recording:
    """An ``s3.S3Client`` stand-in that records which bucket each read goes to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def get_object(self, bucket: str, key: str, *, max_bytes: int | None = None) -> s3.Response:
        self.calls.append(("get", bucket, key))
        return s3.Response(
            200, MappingProxyType({"etag": '"e"', "content-type": "image/png"}), b"x"
        )

    def head_object(self, bucket: str, key: str) -> s3.Response:
        self.calls.append(("head", bucket, key))
        return s3.Response(200, MappingProxyType({"etag": '"e"'}), b"")


def test_storage_reads_each_original_from_its_bucket() -> None:
    client = Recording()
    storage = Storage(s3.S3Client.__new__(s3.S3Client), ORIGINALS, "acme-derivatives")
    storage._s3 = client  # type: ignore[assignment]
    storage.get_original("products/shoe.jpg", 100)
    storage.get_original("brand/logo.png", 100)
    storage.original_version("products/shoes/red.jpg")
    assert client.calls == [
        ("get", "acme-products", "products/shoe.jpg"),
        ("get", "acme-originals", "brand/logo.png"),
        ("head", "acme-shoes", "products/shoes/red.jpg"),
    ]
    assert storage.originals_bucket == "acme-originals"


def record(bucket: str, key: str, event: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {"eventName": event, "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}


def test_the_purge_takes_events_from_every_originals_bucket() -> None:
    event = {
        "Records": [
            record("acme-products", "products/a+b.jpg"),
            record("acme-originals", "photos/cat.jpg", "ObjectRemoved:Delete"),
            record("acme-shoes", "products/shoes/red.jpg"),
        ]
    }
    found = [key for _, key in purging_records(event, ORIGINALS)]
    assert found == ["products/a b.jpg", "photos/cat.jpg", "products/shoes/red.jpg"]


def test_the_purge_ignores_objects_that_are_not_originals_where_they_are() -> None:
    event = {
        "Records": [
            record("acme-derivatives", "products/a.jpg"),  # a foreign bucket
            record("acme-originals", "products/a.jpg"),  # served from acme-products
            record("acme-products", "avatars/me.png"),  # served from acme-avatars
            record("acme-products", "products/shoes/red.jpg"),  # served from acme-shoes
        ]
    }
    assert purging_records(event, ORIGINALS) == []
