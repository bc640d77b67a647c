"""``imgedge ls`` against the embedded S3 server, over derivatives the real resizer made
(through ``imgedge precompute``); and the header reader it measures them with."""

from __future__ import annotations

import io
import json
import uuid
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from infra import inventory
from infra.cli import main
from shared.config import Config
from shared.contract import ImageRequest
from shared.layout import index_key
from tests.conftest import Buckets

pytestmark = pytest.mark.integration

PRESETS = """
[presets]
thumb = "s=256x256&f=webp"
wide = "s=320x&f=avif"
flat = "s=192x&f=png"
card = "s=384x&f=jpeg"
"""
PHOTO = "photos/a.jpg"
NOTES = "notes.txt"


def jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


@pytest.fixture(scope="module")
def stocked(s3: Any, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Buckets:
    """Two originals, one with derivatives in four formats."""
    suffix = uuid.uuid4().hex[:12]
    buckets = Buckets(originals=f"originals-{suffix}", derivatives=f"derivatives-{suffix}")
    for bucket in (buckets.originals, buckets.derivatives):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=buckets.originals, Key=PHOTO, Body=jpeg((900, 600)))
    s3.put_object(Bucket=buckets.originals, Key=NOTES, Body=b"hello\n")
    config = tmp_path_factory.mktemp("config") / "imgedge.toml"
    config.write_text(PRESETS)
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        status = main([
            "precompute", "--s3-endpoint", s3_endpoint, "--originals-bucket", buckets.originals,
            "--derivatives-bucket", buckets.derivatives, "--config", str(config),
            "--workers", "2", "--prefix", "photos/",
        ])  # fmt: skip
    assert status == 0
    return buckets


def ls(
    capsys: pytest.CaptureFixture[str], s3_endpoint: str, buckets: Buckets, *argv: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main([
        "ls", *argv, "--s3-endpoint", s3_endpoint, "--originals-bucket", buckets.originals,
        "--derivatives-bucket", buckets.derivatives,
    ])  # fmt: skip
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_ls_lists_the_originals_with_their_number_of_derivatives(
    capsys: pytest.CaptureFixture[str], s3: Any, s3_endpoint: str, stocked: Buckets
) -> None:
    status, out, _ = ls(capsys, s3_endpoint, stocked, "--json")

    assert status == 0
    listed = {item["key"]: item for item in json.loads(out)}
    assert set(listed) == {PHOTO, NOTES}
    for key in (PHOTO, NOTES):
        head = s3.head_object(Bucket=stocked.originals, Key=key)
        assert listed[key]["bytes"] == head["ContentLength"]
    assert listed[PHOTO]["derivatives"] == 4
    assert listed[NOTES]["derivatives"] == 0

    status, table, _ = ls(capsys, s3_endpoint, stocked)

    assert status == 0
    header, *rows = table.splitlines()
    assert header.split() == ["key", "bytes", "last", "modified", "derivatives"]
    assert sorted(row.split()[0] for row in rows) == [NOTES, PHOTO]
    assert next(row for row in rows if row.startswith(PHOTO)).split()[-1] == "4"


def test_ls_key_lists_its_derivatives_with_format_dimensions_bytes_and_saving(
    capsys: pytest.CaptureFixture[str], s3: Any, s3_endpoint: str, stocked: Buckets
) -> None:
    status, out, _ = ls(capsys, s3_endpoint, stocked, PHOTO, "--json")

    assert status == 0
    found = json.loads(out)
    original_bytes = s3.head_object(Bucket=stocked.originals, Key=PHOTO)["ContentLength"]
    assert found["original"]["bytes"] == original_bytes
    derivatives = {d["key"]: d for d in found["derivatives"]}
    assert set(derivatives) == {
        "256x256/webp/photos/a.jpg",
        "320x/avif/photos/a.jpg",
        "192x/png/photos/a.jpg",
        "384x/jpeg/photos/a.jpg",
    }
    for key, listed in derivatives.items():
        body = s3.get_object(Bucket=stocked.derivatives, Key=key)["Body"].read()
        with Image.open(io.BytesIO(body)) as image:
            assert (listed["format"], listed["width"], listed["height"]) == (
                image.format.lower() if image.format else None,
                image.width,
                image.height,
            )
        assert listed["bytes"] == len(body)
        assert listed["saving_percent"] == round(100 * (1 - len(body) / original_bytes), 1)
        assert listed["missing"] is False
    assert (
        derivatives["320x/avif/photos/a.jpg"]["width"],
        derivatives["320x/avif/photos/a.jpg"]["height"],
    ) == (320, 213)

    status, table, _ = ls(capsys, s3_endpoint, stocked, PHOTO)

    assert status == 0
    header, *rows = table.splitlines()
    assert header.split() == ["key", "format", "WxH", "bytes", "saving"]
    row = next(r.split() for r in rows if r.startswith("256x256/webp/"))
    webp = derivatives["256x256/webp/photos/a.jpg"]
    assert row == [
        "256x256/webp/photos/a.jpg",
        "webp",
        "256x256",
        str(webp["bytes"]),
        f"{webp['saving_percent']:.1f}%",
    ]


def test_a_marker_without_its_object_is_listed_as_missing(
    capsys: pytest.CaptureFixture[str], s3: Any, s3_endpoint: str, buckets: Buckets
) -> None:
    s3.put_object(Bucket=buckets.originals, Key=PHOTO, Body=jpeg((100, 100)))
    gone = ImageRequest.parse("512x/webp/photos/a.jpg", Config())
    s3.put_object(Bucket=buckets.derivatives, Key=index_key(gone), Body=b"")

    status, table, _ = ls(capsys, s3_endpoint, buckets, PHOTO)

    assert status == 0
    assert table.splitlines()[1].split() == ["512x/webp/photos/a.jpg", "webp", "(missing)"]
    status, out, _ = ls(capsys, s3_endpoint, buckets, PHOTO, "--json")
    (listed,) = json.loads(out)["derivatives"]
    assert listed["missing"] is True and listed["bytes"] is None


def test_ls_of_an_unknown_original_says_so(
    capsys: pytest.CaptureFixture[str], s3_endpoint: str, buckets: Buckets
) -> None:
    status, out, err = ls(capsys, s3_endpoint, buckets, "photos/none.jpg")
    assert status == 1
    assert "no original 'photos/none.jpg'" in err
    assert (out, err) == ("", f"imgedge ls: no original 'photos/none.jpg' in {buckets.originals}\n")


def test_ls_of_an_original_gone_but_with_derivatives_lists_them_and_says_so(
    capsys: pytest.CaptureFixture[str], s3: Any, s3_endpoint: str, buckets: Buckets
) -> None:
    left = ImageRequest.parse("512x/webp/photos/gone.jpg", Config())
    s3.put_object(Bucket=buckets.derivatives, Key=index_key(left), Body=b"")

    status, table, err = ls(capsys, s3_endpoint, buckets, "photos/gone.jpg")

    assert status == 0
    assert err == f"imgedge ls: no original 'photos/gone.jpg' in {buckets.originals}\n"
    assert table.splitlines()[1].split() == ["512x/webp/photos/gone.jpg", "webp", "(missing)"]


def test_ls_of_a_bucket_that_is_not_there_is_one_line_and_status_1(
    capsys: pytest.CaptureFixture[str], s3_endpoint: str, buckets: Buckets
) -> None:
    gone = Buckets(originals=buckets.originals + "-none", derivatives=buckets.derivatives)
    status, out, err = ls(capsys, s3_endpoint, gone)
    assert (status, out) == (1, "")
    assert err.startswith("imgedge ls: An error occurred (NoSuchBucket)") and err.count("\n") == 1


# --- dimensions from the first 64 KB -------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("WEBP", {"quality": 90, "method": 0}),
        ("WEBP", {"lossless": True, "method": 0, "quality": 0}),
        ("AVIF", {"quality": 90, "speed": 10}),
        ("JPEG", {"quality": 95}),
        ("PNG", {"compress_level": 1}),
        ("GIF", {}),
    ],
)
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_image_header_reads_dimensions_from_a_truncated_file(
    fmt: str, options: dict[str, Any], mode: str
) -> None:
    if fmt == "JPEG" and mode == "RGBA":
        mode = "RGB"
    image = Image.effect_noise((801, 603), 90).convert(mode)
    if mode == "RGBA":  # real transparency: WebP then writes the extended (VP8X) header
        image.putalpha(Image.linear_gradient("L").resize(image.size))
    out = io.BytesIO()
    image.save(out, fmt, **options)
    data = out.getvalue()
    assert len(data) > inventory.HEADER_BYTES  # the header reader sees a part only

    assert inventory.image_header(data[: inventory.HEADER_BYTES]) == (fmt.lower(), 801, 603)


def test_image_header_of_something_else_is_none(tmp_path: Path) -> None:
    assert inventory.image_header(b"hello\n") is None
    assert inventory.image_header(b"RIFF\0\0\0\0WEBPVP8 ") is None
