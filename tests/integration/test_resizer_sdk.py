"""The resizer's functions talk to S3 through imgedge's own client, so the Lambda runtime's
boto3 does not matter to them: the handler's init succeeds whatever botocore the runtime
has, and loads none. The boto3 clients imgedge still makes (the command line, the local
stack) are checked when made: a botocore that cannot send PutObject with IfNoneMatch fails
then, with a message that says so, rather than on every store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from regional_resizer.storage import SdkTooOld, require_conditional_writes, s3_client
from tests.conftest import REPO, Buckets
from tests.integration.test_resizer_handler import jpeg_bytes

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


def run_fresh(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter with a deployed function's environment."""
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
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def import_handler(prelude: str = "") -> subprocess.CompletedProcess[str]:
    """Import the resizer's handler as Lambda's init does; print whether botocore loaded."""
    return run_fresh(
        prelude + "\nimport sys\nimport regional_resizer.handler\n"
        "print('init ok', 'botocore' in sys.modules)\n"
    )


@pytest.mark.parametrize("prelude", ["", OLD_BOTOCORE], ids=["current", "old-botocore"])
def test_init_succeeds_whatever_botocore_the_runtime_has(prelude: str) -> None:
    done = import_handler(prelude)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["init", "ok", "True" if prelude else "False"]


def test_a_boto3_client_fails_with_a_clear_message_on_an_older_botocore() -> None:
    done = run_fresh(
        OLD_BOTOCORE + "\nfrom regional_resizer.storage import s3_client\n"
        "s3_client('http://127.0.0.1:9')\nprint('made')\n"
    )
    assert done.returncode != 0
    assert "made" not in done.stdout
    assert "SdkTooOld" in done.stderr
    assert "has no IfNoneMatch on S3 PutObject" in done.stderr


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


MISS = """
import json, sys
sys.path.insert(0, {repo!r})
from regional_resizer import handler
event = {{
    "rawPath": "/64x/png/cold.jpg",
    "requestContext": {{"http": {{"method": "GET"}}}},
    "headers": {headers!r},
}}
status = handler.handler(event, None)["statusCode"]
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{
    "boto3", "botocore", "s3transfer", "urllib3", "aws_xray_sdk"}})
print(json.dumps([status, heavy]))
"""
SAMPLED = {
    "x-imgedge-trace": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0123456789abcdef;Sampled=1",
}


@pytest.mark.parametrize("sampled", [False, True], ids=["unsampled", "sampled"])
def test_a_first_miss_loads_no_sdk_unless_it_is_traced(
    s3: Any, s3_endpoint: str, buckets: Buckets, sampled: bool
) -> None:
    """The first miss of a fresh process, end to end: an unsampled one never loads boto3
    nor aws-xray-sdk (nothing was only put off until the first request); a sampled one
    loads aws-xray-sdk (and the botocore it needs) and sends its S3 calls as subsegments."""
    s3.put_object(Bucket=buckets.originals, Key="cold.jpg", Body=jpeg_bytes())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(1.0)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "IMGEDGE_", "_X_AMZN"))
        }
        env.update(
            ORIGINALS_BUCKET=buckets.originals,
            DERIVATIVES_BUCKET=buckets.derivatives,
            AWS_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_ENDPOINT_URL_S3=s3_endpoint,
            AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{daemon.getsockname()[1]}",
        )
        code = MISS.format(repo=str(REPO), headers=SAMPLED if sampled else {})
        done = subprocess.run(
            [sys.executable, "-I", "-c", code], env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        status, heavy = json.loads(done.stdout.splitlines()[-1])
        documents = []
        try:
            while True:
                documents.append(json.loads(daemon.recv(65535).partition(b"\n")[2]))
        except TimeoutError:
            pass
    assert status == 200
    if not sampled:
        assert heavy == [] and documents == []
        return
    assert "aws_xray_sdk" in heavy and "boto3" not in heavy
    resizer = next(d for d in documents if d["name"] == "imgedge-resizer")
    calls = [s for s in resizer["subsegments"] if s["name"] == "s3"]
    assert sorted(c["aws"]["operation"] for c in calls) == [
        "GetObject", "HeadObject", "PutObject", "PutObject",
    ]  # fmt: skip
    get = next(c for c in calls if c["aws"]["operation"] == "GetObject")
    assert get["namespace"] == "aws"
    assert get["aws"]["bucket_name"] == buckets.originals and get["aws"]["key"] == "cold.jpg"
    assert get["http"]["response"]["status"] == 200
    assert resizer["start_time"] <= get["start_time"] <= get["end_time"] <= resizer["end_time"]
