"""regional_resizer.zip is self-contained: unzipped into an empty folder, its handler runs
in an isolated interpreter whose path is that folder and boto3 (which the Lambda runtime
provides, so the zip leaves it out: here it comes from a folder of its own, installed with
`pip install --target`), against the embedded S3, on a function URL event."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from infra.package import Built
from tests.conftest import EVENTS, Buckets
from tests.infra.conftest import PACKAGE_CACHE

pytestmark = pytest.mark.integration

TRACE_ID = "1-5f84c7a1-0123456789abcdef01234567"


def lambda_runtime_boto3() -> Path:
    """boto3 and its dependencies at the versions of this environment, in a folder (cached)."""
    version = metadata.version("boto3")
    folder = PACKAGE_CACHE / f"lambda-runtime-boto3-{version}"
    if not (folder / "boto3").is_dir():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
             "--target", str(folder), f"boto3=={version}"],
            check=True,
        )  # fmt: skip
    return folder


CHILD = """
import json, sys, sysconfig
task, runtime = sys.argv[1], sys.argv[2]
sys.path[:0] = [task, runtime]
from regional_resizer.handler import handler
import PIL, aws_xray_sdk
response = handler(json.loads(sys.stdin.read()), None)
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
modules = {name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}
outside = sorted(n for n, f in modules.items() if f and not f.startswith((task, runtime, *stdlib)))
print(json.dumps({"response": response, "outside": outside,
                  "pil": PIL.__file__, "xray": aws_xray_sdk.__file__}))
"""


def sample_png() -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((600, 400)).convert("RGBA").save(out, "PNG")
    return out.getvalue()


def test_resizer_zip_runs_alone_against_s3(
    packaged_here: Built, s3: Any, s3_endpoint: str, buckets: Buckets, tmp_path: Path
) -> None:
    task = tmp_path / "task"  # Lambda's /var/task
    with zipfile.ZipFile(packaged_here.resizer_zip) as archive:
        archive.extractall(task)
    runtime = lambda_runtime_boto3()
    s3.put_object(
        Bucket=buckets.originals, Key="sample.png", Body=sample_png(), ContentType="image/png"
    )
    event = json.loads((EVENTS / "function_url.json").read_text())
    event.update(rawPath="/256x256/webp/sample.png", rawQueryString="", body=None)
    event.pop("queryStringParameters", None)
    event["requestContext"]["http"].update(method="GET", path="/256x256/webp/sample.png")
    event["headers"] = {"x-imgedge-trace": f"Root={TRACE_ID};Parent=0123456789abcdef;Sampled=1"}

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(5)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ORIGINALS_BUCKET": buckets.originals,
            "DERIVATIVES_BUCKET": buckets.derivatives,
            "AWS_ENDPOINT_URL_S3": s3_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        }
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", CHILD, str(task), str(runtime)],
            input=json.dumps(event), capture_output=True, text=True, env=env, cwd=tmp_path,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        segment = daemon.recv(65536)
    result = json.loads(done.stdout)

    # Everything it loaded came from the zip, the runtime's boto3, or the stdlib.
    assert result["outside"] == []
    assert result["pil"].startswith(str(task)) and result["xray"].startswith(str(task))
    response = result["response"]
    assert response["statusCode"] == 200, response
    assert response["headers"]["content-type"] == "image/webp"
    body = base64.b64decode(response["body"])
    image = Image.open(io.BytesIO(body))
    assert (image.format, image.size) == ("WEBP", (256, 256))
    stored = s3.get_object(Bucket=buckets.derivatives, Key="256x256/webp/sample.png")
    assert stored["Body"].read() == body
    assert stored["ContentType"] == "image/webp"
    # aws-xray-sdk (and wrapt) from the zip traced it and sent the segment to the daemon.
    assert TRACE_ID.encode() in segment and b"imgedge-resizer" in segment
    assert time.monotonic() - started < 60


CHILD_BATCH = """
import json, sys, sysconfig
task, runtime = sys.argv[1], sys.argv[2]
sys.path[:0] = [task, runtime]
from regional_resizer.precompute import BatchUnfinished, handler

class Context:
    def __init__(self, ms):
        self.ms = ms
    def get_remaining_time_in_millis(self):
        return self.ms

event = json.loads(sys.stdin.read())
first = handler(event, Context(900_000))
again = handler(event, Context(900_000))
try:
    handler(event, Context(10_000))  # less than one render (RENDER_TIMEOUT_S=20) is left
    unfinished = None
except BatchUnfinished as error:
    unfinished = str(error)
stdlib = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
modules = {name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}
outside = sorted(n for n, f in modules.items() if f and not f.startswith((task, runtime, *stdlib)))
print(json.dumps({"first": first, "again": again, "unfinished": unfinished, "outside": outside}))
"""


def test_precompute_batch_runs_alone_from_the_resizer_zip(
    packaged_here: Built, s3: Any, s3_endpoint: str, buckets: Buckets, tmp_path: Path
) -> None:
    """The state machine's batch function, as Lambda runs it: from the unzipped resizer zip
    alone (the plan, the skip, the resizer's core), against the embedded S3."""
    task = tmp_path / "task"
    with zipfile.ZipFile(packaged_here.resizer_zip) as archive:
        archive.extractall(task)
    s3.put_object(Bucket=buckets.originals, Key="photos/sample.png", Body=sample_png())
    s3.put_object(Bucket=buckets.originals, Key="notes.txt", Body=b"not an image")
    event = {
        "Items": [{"key": "photos/sample.png"}, {"key": "notes.txt"}],
        "BatchInput": {"presets": ["thumb"]},  # s=256x256&f=webp, the default configuration's
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ORIGINALS_BUCKET": buckets.originals,
        "DERIVATIVES_BUCKET": buckets.derivatives,
        "RENDER_TIMEOUT_S": "20",
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CHILD_BATCH, str(task), str(lambda_runtime_boto3())],
        input=json.dumps(event), capture_output=True, text=True, env=env, cwd=tmp_path,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["outside"] == []
    failure = {
        "status": 415,
        "key": "256x256/webp/notes.txt",
        "preset": "thumb",
        "message": "unsupported image format",
    }
    assert result["first"] == {"made": 1, "skipped": 0, "failed": 1, "failures": [failure]}
    assert result["again"] == {"made": 0, "skipped": 1, "failed": 1, "failures": [failure]}
    assert result["unfinished"] == "2 of 2 derivatives left when time ran out"
    stored = s3.get_object(Bucket=buckets.derivatives, Key="256x256/webp/photos/sample.png")
    image = Image.open(io.BytesIO(stored["Body"].read()))
    assert (image.format, image.size) == ("WEBP", (256, 256))
    markers = s3.list_objects_v2(Bucket=buckets.derivatives, Prefix="_index/")["Contents"]
    assert [m["Key"].split("/", 2)[2] for m in markers] == ["256x256/webp"]  # its marker
