"""Fixtures shared by every test layer.

Integration tests talk HTTP to a real S3-compatible server (moto in server mode, started
here in its own process); nothing is mocked in-process.
"""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.s3_server import EmbeddedS3

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "corpus"
EVENTS = Path(__file__).resolve().parent / "events"

# boto3 must never find real credentials or a real endpoint from the developer's machine.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session", autouse=True)
def _fake_aws_credentials() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in FAKE_AWS_ENV}
    os.environ.update(FAKE_AWS_ENV)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The HTTP endpoint of a moto S3 server that lives for the whole test session."""
    with EmbeddedS3() as server:
        yield server.endpoint


def make_s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def make_cloudfront_client(endpoint: str) -> Any:
    """A client of a local CloudFront API emulator (infra/local/cloudfront_api.py)."""
    return boto3.client(
        "cloudfront",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="session")
def s3(s3_endpoint: str) -> Any:
    return make_s3_client(s3_endpoint)


@dataclass(frozen=True)
class Buckets:
    originals: str
    derivatives: str


@pytest.fixture
def buckets(s3: Any) -> Buckets:
    """A fresh pair of buckets per test, so tests never see each other's objects."""
    suffix = uuid.uuid4().hex[:12]
    pair = Buckets(originals=f"originals-{suffix}", derivatives=f"derivatives-{suffix}")
    s3.create_bucket(Bucket=pair.originals)
    s3.create_bucket(Bucket=pair.derivatives)
    return pair


@contextmanager
def resizer_pointed_at(
    monkeypatch: pytest.MonkeyPatch, buckets: Buckets, endpoint: str
) -> Iterator[None]:
    """The handler uses these buckets at ``endpoint``, no config file; caches cleared around."""
    # Imported here: the handler loads Pillow and the resizer's core, which conftest's other
    # users (unit tests, infra tests) never need.
    from regional_resizer import handler as resizer

    monkeypatch.setenv("ORIGINALS_BUCKET", buckets.originals)
    monkeypatch.setenv("DERIVATIVES_BUCKET", buckets.derivatives)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.delenv("IMGEDGE_CONFIG", raising=False)
    resizer.config.cache_clear()
    resizer.storage.cache_clear()
    try:
        yield
    finally:
        resizer.config.cache_clear()
        resizer.storage.cache_clear()


def corpus_rows() -> list[dict[str, str]]:
    """The corpus manifest, one dict per image (the manifest, not the folder, is the list)."""
    with open(CORPUS / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))
