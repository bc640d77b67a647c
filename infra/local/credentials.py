"""The local stack's AWS identity and names: one region and one pair of credentials for its
own clients, for the functions it runs and for the tools pointed at its S3 endpoint (any
credentials work against the embedded S3 server; these keep a developer's own out of it),
and the default names of its buckets and data directory."""

from __future__ import annotations

from pathlib import Path

ORIGINALS_BUCKET = "originals"
DERIVATIVES_BUCKET = "derivatives"
DATA_DIR = Path(".imgedge")
REGION = "us-east-1"
ACCESS_KEY_ID = "imgedge-local"
SECRET_ACCESS_KEY = "imgedge-local"


def client_settings() -> dict[str, str]:
    """boto3 client arguments for the local stack's endpoints."""
    return {
        "region_name": REGION,
        "aws_access_key_id": ACCESS_KEY_ID,
        "aws_secret_access_key": SECRET_ACCESS_KEY,
    }
