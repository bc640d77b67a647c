"""``imgedge precompute`` against the embedded S3 server: worker processes run the
resizer's core, which stores each derivative and its marker."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from infra import precompute
from infra.cli import main
from regional_resizer.precompute import FAILED, MADE, Job, Outcome
from shared.config import Config, load_config
from shared.contract import ImageRequest
from shared.layout import INDEX_ROOT, index_key
from tests.conftest import EVENTS, Buckets

pytestmark = pytest.mark.integration

PRESETS = """
[presets]
thumb = "s=256x256&f=webp"
card = "s=640x480&f=jpeg&q=61"
icon = "s=64x&f=auto"
"""


def jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (200, 40, 90, 128)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "imgedge.toml"
    path.write_text(PRESETS)
    return path


def precompute_run(
    s3_endpoint: str, buckets: Buckets, config_file: Path, *extra: str
) -> tuple[int, str, str]:
    """``imgedge precompute``: its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main([
            "precompute", "--s3-endpoint", s3_endpoint, "--originals-bucket", buckets.originals,
            "--derivatives-bucket", buckets.derivatives, "--config", str(config_file),
            "--workers", "2", *extra,
        ])  # fmt: skip
    return status, out.getvalue(), err.getvalue()


def stored(s3: Any, bucket: str) -> dict[str, Any]:
    """Every object of ``bucket``: key -> LastModified."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["LastModified"] for page in pages for o in page.get("Contents", ())}


def counts(summary: str) -> dict[str, int]:
    found = {}
    for line in summary.splitlines():
        name, _, number = line.partition(" ")
        if name in ("made", "skipped", "failed"):
            found[name] = int(number)
    return found


def test_makes_exactly_the_preset_keys_with_their_markers_then_skips_them(
    s3: Any, s3_endpoint: str, buckets: Buckets, config_file: Path
) -> None:
    s3.put_object(Bucket=buckets.originals, Key="photos/a.jpg", Body=jpeg((1200, 800)))
    s3.put_object(Bucket=buckets.originals, Key="logo.png", Body=png((300, 200)))

    status, out, err = precompute_run(s3_endpoint, buckets, config_file)

    assert status == 0, out + err
    # f=auto stands for every format it can yield: avif, webp and the source's family;
    # not avif for a png, whose animation (APNG) avif would not keep.
    expected = {
        "256x256/webp/photos/a.jpg", "640x480-q60/jpeg/photos/a.jpg",
        "64x/avif/photos/a.jpg", "64x/webp/photos/a.jpg", "64x/jpeg/photos/a.jpg",
        "256x256/webp/logo.png", "640x480-q60/jpeg/logo.png",
        "64x/webp/logo.png", "64x/png/logo.png",
    }  # fmt: skip
    assert counts(out) == {"made": len(expected), "skipped": 0, "failed": 0}
    objects = stored(s3, buckets.derivatives)
    derivatives = {k for k in objects if not k.startswith(INDEX_ROOT)}
    assert derivatives == expected
    config = load_config(config_file)
    requests = [ImageRequest.parse(key, config) for key in expected]
    assert {k for k in objects if k.startswith(INDEX_ROOT)} == {index_key(r) for r in requests}
    for request in requests:
        body = s3.get_object(Bucket=buckets.derivatives, Key=request.key)["Body"].read()
        with Image.open(io.BytesIO(body)) as image:
            assert (
                image.format
                == {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}[
                    str(request.format)
                ]
            )
            if request.width == 64:
                assert image.width == 64
    assert err.rstrip().splitlines()[-1].startswith(f"precompute: {len(expected)}/{len(expected)}")

    again, out, _ = precompute_run(s3_endpoint, buckets, config_file)

    assert again == 0
    assert counts(out) == {"made": 0, "skipped": len(expected), "failed": 0}
    assert stored(s3, buckets.derivatives) == objects  # nothing rewritten


def test_a_non_image_original_is_a_reported_415_failure(
    s3: Any, s3_endpoint: str, buckets: Buckets, config_file: Path
) -> None:
    s3.put_object(Bucket=buckets.originals, Key="notes.txt", Body=b"not an image\n")
    s3.put_object(Bucket=buckets.originals, Key="photos/a.jpg", Body=jpeg((400, 300)))

    status, out, _ = precompute_run(s3_endpoint, buckets, config_file, "--preset", "thumb")

    assert status == 1
    assert counts(out) == {"made": 1, "skipped": 0, "failed": 1}
    failures = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert len(failures) == 1
    assert failures[0].startswith("415 256x256/webp/notes.txt (preset thumb): ")
    assert set(stored(s3, buckets.derivatives)) == {
        "256x256/webp/photos/a.jpg",
        index_key(ImageRequest.parse("256x256/webp/photos/a.jpg", Config())),
    }


def test_prefix_and_preset_limit_the_work(
    s3: Any, s3_endpoint: str, buckets: Buckets, config_file: Path
) -> None:
    for key in ("photos/a.jpg", "photos/b.jpg", "photosets/c.jpg", "other/d.jpg"):
        s3.put_object(Bucket=buckets.originals, Key=key, Body=jpeg((300, 300)))

    status, out, _ = precompute_run(
        s3_endpoint, buckets, config_file, "--prefix", "photos/", "--preset", "thumb"
    )

    assert status == 0, out
    derivatives = {k for k in stored(s3, buckets.derivatives) if not k.startswith(INDEX_ROOT)}
    assert derivatives == {"256x256/webp/photos/a.jpg", "256x256/webp/photos/b.jpg"}


def test_an_unknown_preset_is_refused_before_any_work(
    s3_endpoint: str, buckets: Buckets, config_file: Path
) -> None:
    status, out, err = precompute_run(s3_endpoint, buckets, config_file, "--preset", "huge")
    assert status == 2
    assert "unknown preset(s) huge" in err and "thumb" in err
    assert err.startswith("imgedge precompute: unknown preset(s) huge") and err.count("\n") == 1
    assert out == ""


def test_a_bad_configuration_is_refused_before_any_work(
    s3_endpoint: str, buckets: Buckets, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[presets\n")
    status, out, err = precompute_run(s3_endpoint, buckets, broken)
    assert (status, out) == (2, "")
    assert err.startswith("imgedge precompute: ") and err.count("\n") == 1

    status, out, err = precompute_run(s3_endpoint, buckets, tmp_path / "absent.toml")
    assert (status, out) == (2, "")
    assert err.startswith("imgedge precompute: ") and "absent.toml" in err


def test_originals_that_cannot_be_listed_are_status_1(
    s3_endpoint: str, buckets: Buckets, config_file: Path
) -> None:
    gone = Buckets(originals=buckets.originals + "-none", derivatives=buckets.derivatives)
    status, out, err = precompute_run(s3_endpoint, gone, config_file)
    assert (status, out) == (1, "")
    assert err.startswith("imgedge precompute: cannot list originals: ") and "NoSuchBucket" in err
    assert err.count("\n") == 1


# --- the AWS engine's event, without AWS ---------------------------------------------------


class RecordingLambda:
    """Stands in for a boto3 Lambda client: records the call, answers ``payload``."""

    def __init__(self, payload: Any, function_error: str | None = None) -> None:
        self.payload = payload
        self.function_error = function_error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        reply: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": io.BytesIO(json.dumps(self.payload).encode()),
        }
        if self.function_error:
            reply["FunctionError"] = self.function_error
        return reply


def test_the_lambda_engine_invokes_with_the_function_url_event_of_a_miss() -> None:
    request = ImageRequest.parse("256x256/webp/photos/my cat.jpg", Config())
    client = RecordingLambda({"statusCode": 415, "body": "unsupported image format\n"})

    assert precompute.invoke(client, "imgedge-resizer", request) == (
        415,
        "unsupported image format\n",
    )

    (call,) = client.calls
    assert call["FunctionName"] == "imgedge-resizer"
    assert call["InvocationType"] == "RequestResponse"
    event = json.loads(call["Payload"])
    reference = json.loads((EVENTS / "function_url.json").read_text())
    assert set(event) <= set(reference) | {"isBase64Encoded"}
    assert set(event["requestContext"]) == set(reference["requestContext"]) - {
        "authentication",
        "authorizer",
    }
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/256x256/webp/photos/my%20cat.jpg" == request.uri
    assert event["requestContext"]["http"]["path"] == request.uri
    assert event["requestContext"]["http"]["method"] == "HEAD"
    assert event["rawQueryString"] == ""


def test_the_lambda_engine_reports_a_function_error_as_502() -> None:
    request = ImageRequest.parse("256x256/webp/a.jpg", Config())
    client = RecordingLambda({"errorMessage": "Task timed out"}, function_error="Unhandled")
    status, message = precompute.invoke(client, "f", request)
    assert status == 502 and "Task timed out" in message
    assert precompute.classify(status, message)[0] == FAILED
    assert precompute.classify(302, "")[0] == MADE


# --- progress ------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_on_a_terminal_only_and_always_a_final_line() -> None:
    job = Job("a.jpg", "thumb", ImageRequest.parse("256x256/webp/a.jpg", Config()))
    for stream, bar in ((io.StringIO(), False), (Terminal(), True)):
        progress = precompute.Progress(2, stream)
        progress.add(Outcome(job, MADE, 200))
        progress.add(Outcome(job, FAILED, 415, "nope"))
        progress.finish()
        text = stream.getvalue()
        assert ("\r[" in text) is bar
        assert text.endswith("2/2 derivatives: 1 made, 0 skipped, 1 failed in 0.0s\n")
