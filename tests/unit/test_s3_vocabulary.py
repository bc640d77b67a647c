"""The S3 vocabulary every imgedge S3 caller shares (``regional_resizer.storage``): which
answers mean "no such object", and the client's retries and timeouts."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from regional_resizer.storage import S3_CLIENT_CONFIG, error_code, is_missing, s3_client


def s3_error(code: str | None, status: int) -> ClientError:
    """botocore's error for an answer: a GET names its code in the body, a HEAD cannot."""
    response: dict[str, object] = {"ResponseMetadata": {"HTTPStatusCode": status}}
    if code is not None:
        response["Error"] = {"Code": code, "Message": ""}
    return ClientError(response, "GetObject" if code else "HeadObject")


@pytest.mark.parametrize(
    ("code", "status", "missing", "missing_to_a_reader"),
    [
        ("NoSuchKey", 404, True, True),
        ("NoSuchBucket", 404, True, True),
        ("NotFound", 404, True, True),  # botocore's name for a HEAD's bare 404
        (None, 404, True, True),
        ("AccessDenied", 403, False, True),  # how S3 answers a missing key without ListBucket
        (None, 403, False, True),
        ("SlowDown", 503, False, False),
        ("InternalError", 500, False, False),
    ],
)
def test_which_answers_mean_missing(
    code: str | None, status: int, missing: bool, missing_to_a_reader: bool
) -> None:
    error = s3_error(code, status)
    assert error_code(error) == (code or str(status))
    assert is_missing(error) is missing
    assert is_missing(error, denied_is_missing=True) is missing_to_a_reader


def test_every_client_has_the_same_retries_and_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
    client = s3_client()
    assert client.meta.endpoint_url == "http://127.0.0.1:1"  # boto3's own configuration
    other = s3_client("http://127.0.0.1:2", region_name="eu-west-1")
    assert (other.meta.endpoint_url, other.meta.region_name) == ("http://127.0.0.1:2", "eu-west-1")
    for made in (client, other):
        assert made.meta.config.retries == S3_CLIENT_CONFIG.retries
        assert made.meta.config.connect_timeout == S3_CLIENT_CONFIG.connect_timeout
        assert made.meta.config.read_timeout == S3_CLIENT_CONFIG.read_timeout
