"""The resizer relies on the Lambda runtime's boto3, and checks at init that its botocore can
send PutObject with IfNoneMatch: an older one fails the function's init with a message that
says so, rather than every store."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from regional_resizer.storage import SdkTooOld, require_conditional_writes, s3_client
from tests.conftest import REPO

pytestmark = pytest.mark.integration

# An S3 service model as a botocore from before S3's conditional writes had it.
OLD_BOTOCORE = """
import botocore.loaders

real = botocore.loaders.Loader.load_service_model

def without_if_none_match(self, service_name, type_name, api_version=None):
    model = real(self, service_name, type_name, api_version)
    if service_name == "s3" and type_name == "service-2":
        model["shapes"]["PutObjectRequest"]["members"].pop("IfNoneMatch", None)
    return model

botocore.loaders.Loader.load_service_model = without_if_none_match
"""


def import_handler(prelude: str = "") -> subprocess.CompletedProcess[str]:
    """Import the resizer's handler as Lambda's init does, in a fresh interpreter."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "IMGEDGE_", "_X_AMZN"))
    }
    env.update(
        ORIGINALS_BUCKET="originals",
        DERIVATIVES_BUCKET="derivatives",
        AWS_REGION="eu-west-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    code = prelude + "\nimport regional_resizer.handler\nprint('init ok')\n"
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_succeeds_with_a_botocore_that_writes_conditionally() -> None:
    done = import_handler()
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "init ok"


def test_init_fails_with_a_clear_message_on_an_older_botocore() -> None:
    done = import_handler(OLD_BOTOCORE)
    assert done.returncode != 0
    assert "init ok" not in done.stdout
    assert "SdkTooOld" in done.stderr
    assert "has no IfNoneMatch on S3 PutObject" in done.stderr
    assert "python3.12 or later" in done.stderr


def fake_client(members: dict[str, Any]) -> Any:
    operation = SimpleNamespace(input_shape=SimpleNamespace(members=members))
    model = SimpleNamespace(operation_model=lambda name: operation)
    return SimpleNamespace(meta=SimpleNamespace(service_model=model))


def test_the_check_reads_the_service_model() -> None:
    require_conditional_writes(fake_client({"Bucket": 1, "IfNoneMatch": 1}))
    with pytest.raises(SdkTooOld, match=r"botocore [0-9.]+ has no IfNoneMatch"):
        require_conditional_writes(fake_client({"Bucket": 1}))


def test_every_client_imgedge_makes_is_checked() -> None:
    client = s3_client("http://127.0.0.1:9", region_name="us-east-1")
    model = client.meta.service_model.operation_model("PutObject")
    assert "IfNoneMatch" in model.input_shape.members
