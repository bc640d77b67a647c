"""imgedge's own S3 client (``regional_resizer.s3``) against the embedded S3 (moto over HTTP):
every call, its errors, signatures that moto verifies, retries through the fault-injecting
proxy, many threads on one client, and ``Storage`` on it and on boto3 alike."""

from __future__ import annotations

import http.server
import io
import json
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.http_server import BackgroundHTTPServer
from infra.local.s3_server import EmbeddedS3
from regional_resizer import s3
from regional_resizer.s3 import Call, S3Client, S3Error, S3Unavailable, TooLarge
from regional_resizer.sigv4 import Credentials
from regional_resizer.storage import Storage, s3_client
from shared.errors import SourceNotFound, SourceTooLarge, UpstreamError
from tests.conftest import Buckets, make_s3_client
from tests.integration.s3_fault_proxy import Fault, FaultProxy

pytestmark = pytest.mark.integration

TESTING = Credentials("testing", "testing")
ODD_KEYS = [
    "plain.jpg",
    "a b/c+d/ü é/日本.png",
    "x~!$&'()*,;=:@%20.gif",
    "trailing/",
    "dots/../and/./more//slashes",
]


class Observed:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.lock = threading.Lock()

    def __call__(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)


def client(endpoint: str, **options: Any) -> S3Client:
    return S3Client("us-east-1", endpoint_url=endpoint, credentials=TESTING, **options)


@pytest.fixture
def lean(s3_endpoint: str) -> Iterator[S3Client]:
    made = client(s3_endpoint)
    yield made
    made.close()


@pytest.mark.parametrize("key", ODD_KEYS)
def test_every_call_on_keys_of_any_spelling(
    lean: S3Client, s3: Any, buckets: Buckets, key: str
) -> None:
    bucket = buckets.derivatives
    put = lean.put_object(
        bucket, key, b"hello", content_type="image/webp", cache_control="max-age=60",
        metadata={"source-etag": "abc"}, if_none_match="*",
    )  # fmt: skip
    assert put.status == 200
    stored = s3.get_object(Bucket=bucket, Key=key)
    assert stored["Body"].read() == b"hello"
    assert (stored["ContentType"], stored["CacheControl"]) == ("image/webp", "max-age=60")
    assert stored["Metadata"] == {"source-etag": "abc"}

    got = lean.get_object(bucket, key)
    assert (got.body, got.content_type, got.etag) == (b"hello", "image/webp", stored["ETag"])
    assert dict(got.metadata) == {"source-etag": "abc"}
    assert lean.head_object(bucket, key).etag == stored["ETag"]
    assert lean.list_objects_v2(bucket, prefix=key).keys == (key,)
    assert lean.delete_objects(bucket, [key, "never-there"]) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_errors_carry_s3s_code_or_the_bare_status(lean: S3Client, buckets: Buckets) -> None:
    bucket = buckets.originals
    with pytest.raises(S3Error) as missing:
        lean.get_object(bucket, "nope.jpg")
    assert (missing.value.status, missing.value.code) == (404, "NoSuchKey")
    with pytest.raises(S3Error) as head:
        lean.head_object(bucket, "nope.jpg")
    assert (head.value.status, head.value.code) == (404, "404")  # a HEAD has no body
    with pytest.raises(S3Error) as no_bucket:
        lean.get_object(f"gone-{uuid.uuid4().hex[:8]}", "k")
    assert no_bucket.value.code == "NoSuchBucket"
    lean.put_object(bucket, "once", b"1", if_none_match="*")
    with pytest.raises(S3Error) as again:
        lean.put_object(bucket, "once", b"2", if_none_match="*")
    assert (again.value.status, again.value.code) == (412, "PreconditionFailed")
    assert lean.get_object(bucket, "once").body == b"1"


def test_a_large_object_is_refused_unread(lean: S3Client, buckets: Buckets) -> None:
    lean.put_object(buckets.originals, "big", b"x" * 10_000)
    with pytest.raises(TooLarge) as refused:
        lean.get_object(buckets.originals, "big", max_bytes=9_999)
    assert refused.value.length == 10_000
    assert len(lean.get_object(buckets.originals, "big", max_bytes=10_000).body) == 10_000


def test_listing_pages_through_every_key(lean: S3Client, buckets: Buckets) -> None:
    keys = sorted(f"p/{i:04d} &<>'\"" for i in range(1_005))
    for start in range(0, len(keys), 200):
        batch = keys[start : start + 200]
        threads = [
            threading.Thread(target=lean.put_object, args=(buckets.derivatives, k, b""))
            for k in batch
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    storage = Storage(lean, buckets.originals, buckets.derivatives)
    assert sorted(storage.list_keys("p/")) == keys
    storage.delete_keys(keys)
    assert list(storage.list_keys("p/")) == []


def test_many_threads_share_one_client_and_its_kept_alive_connections(
    proxy: FaultProxy, buckets: Buckets, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the proxy, which keeps connections alive (HTTP/1.1) as S3 does."""
    lean = client(proxy.url)
    bodies = {f"t/{i}": uuid.uuid4().bytes * (i + 1) for i in range(16)}
    for key, body in bodies.items():
        lean.put_object(buckets.originals, key, body)
    opened: list[str] = []
    new_connection = lean._new_connection

    def counted(target: Any) -> Any:
        opened.append(target.host)
        return new_connection(target)

    monkeypatch.setattr(lean, "_new_connection", counted)
    wrong: list[str] = []
    rounds = 15

    def read(key: str) -> None:
        for _ in range(rounds):
            if lean.get_object(buckets.originals, key).body != bodies[key]:
                wrong.append(key)

    threads = [threading.Thread(target=read, args=(key,)) for key in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert len(opened) <= 2 * len(bodies) < len(bodies) * rounds  # reused, not one per call
    idle = sum(len(conns) for conns in lean._pool.idle.values())
    assert 1 <= idle <= s3.MAX_IDLE_PER_HOST
    lean.close()
    assert sum(len(conns) for conns in lean._pool.idle.values()) == 0


# --- signatures, verified ------------------------------------------------------------------


@pytest.fixture(scope="module")
def verifying_s3() -> Iterator[tuple[str, Credentials]]:
    """A moto server of its own that checks every request's signature (moto's IAM
    authentication), and an IAM user's key that may use S3."""
    with EmbeddedS3() as server:
        admin = make_s3_client(server.endpoint)
        admin.create_bucket(Bucket="signed")
        iam = make_iam_client(server.endpoint)
        iam.create_user(UserName="imgedge")
        iam.put_user_policy(
            UserName="imgedge",
            PolicyName="s3",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="imgedge")["AccessKey"]
        reset = urllib.request.Request(
            f"{server.endpoint}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(reset, timeout=10).close()  # authentication from now on
        yield server.endpoint, Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def make_iam_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.mark.parametrize("key", ODD_KEYS)
def test_moto_verifies_every_calls_signature(
    verifying_s3: tuple[str, Credentials], key: str
) -> None:
    endpoint, credentials = verifying_s3
    signed = S3Client("us-east-1", endpoint_url=endpoint, credentials=credentials)
    signed.put_object(
        "signed", key, b"body", content_type="image/png", metadata={"a": "b"}, if_none_match="*"
    )
    assert signed.get_object("signed", key).body == b"body"
    assert signed.head_object("signed", key).etag
    assert key in signed.list_objects_v2("signed", prefix=key.split("/", maxsplit=1)[0]).keys
    assert signed.delete_objects("signed", [key]) == []
    signed.close()


def test_moto_refuses_a_wrong_secret(verifying_s3: tuple[str, Credentials]) -> None:
    endpoint, credentials = verifying_s3
    forged = S3Client(
        "us-east-1",
        endpoint_url=endpoint,
        credentials=Credentials(credentials.access_key_id, "not-the-secret"),
    )
    with pytest.raises(S3Error) as refused:
        forged.put_object("signed", "k", b"x")
    assert (refused.value.status, refused.value.code) == (403, "SignatureDoesNotMatch")


# --- retries -------------------------------------------------------------------------------


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    server = FaultProxy(s3_endpoint).start()
    yield server
    server.stop()


def retrying(proxy: FaultProxy, **options: Any) -> tuple[S3Client, list[float], Observed]:
    waits: list[float] = []
    observed = Observed()
    made = client(proxy.url, sleep=waits.append, observer=observed, **options)
    return made, waits, observed


@pytest.mark.parametrize(
    ("fault", "attempts"),
    [
        (Fault("GET", "503", times=2), 3),
        (Fault("GET", "500", times=1), 2),
        (Fault("GET", "reset", times=2), 3),
        (Fault("GET", "reset-body", times=1), 2),
        (Fault("PUT", "503", times=1), 2),
        (Fault("PUT", "reset", times=2), 3),
        (Fault("HEAD", "500", times=1), 2),
        (Fault("POST", "503", times=1), 2),
    ],
    ids=lambda v: f"{v.method}-{v.kind}x{v.times}" if isinstance(v, Fault) else str(v),
)
def test_transient_faults_are_retried_with_backoff(
    proxy: FaultProxy, buckets: Buckets, fault: Fault, attempts: int
) -> None:
    made, waits, observed = retrying(proxy)
    bucket, body = buckets.originals, b"0123456789" * 1000
    client(proxy.url).put_object(bucket, "k", body)
    proxy.inject(fault)
    if fault.method == "GET":
        assert made.get_object(bucket, "k").body == body  # never a cut-off body
    elif fault.method == "HEAD":
        assert made.head_object(bucket, "k").etag
    elif fault.method == "POST":
        assert made.delete_objects(bucket, ["k"]) == []
    else:
        made.put_object(bucket, "k", body)
    assert proxy.injected
    assert observed.calls[-1].attempts == attempts
    assert len(waits) == attempts - 1
    assert all(0 <= wait <= 2**i for i, wait in enumerate(waits))


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        (Fault("GET", "503"), S3Error, "SlowDown"),
        (Fault("GET", "500"), S3Error, "InternalError"),
        (Fault("GET", "reset"), S3Unavailable, None),
        (Fault("GET", "reset-body"), S3Unavailable, None),
        (Fault("PUT", "503"), S3Error, "SlowDown"),
    ],
    ids=lambda v: f"{v.method}-{v.kind}" if isinstance(v, Fault) else None,
)
def test_persistent_faults_fail_after_three_attempts(
    proxy: FaultProxy, buckets: Buckets, fault: Fault, error: type[Exception], code: str | None
) -> None:
    made, waits, observed = retrying(proxy)
    client(proxy.url).put_object(buckets.originals, "k", b"x" * 100)
    proxy.inject(fault)
    with pytest.raises(error) as raised:
        if fault.method == "GET":
            made.get_object(buckets.originals, "k")
        else:
            made.put_object(buckets.originals, "k", b"y")
    if code is not None:
        assert isinstance(raised.value, S3Error) and raised.value.code == code
    assert len(proxy.injected) == 3
    assert len(waits) == 2
    assert observed.calls[-1].attempts == 3


def test_a_read_timeout_is_retried(proxy: FaultProxy, buckets: Buckets) -> None:
    made, _, observed = retrying(proxy, read_timeout_s=0.3)
    client(proxy.url).put_object(buckets.originals, "k", b"x")
    proxy.inject(Fault("GET", "slow", times=1, delay_s=1.0))
    assert made.get_object(buckets.originals, "k").body == b"x"
    assert observed.calls[-1].attempts == 2
    proxy.inject(Fault("GET", "slow", delay_s=1.0))
    with pytest.raises(S3Unavailable):
        made.get_object(buckets.originals, "k")


def test_a_refused_connection_is_unavailable_after_the_retries() -> None:
    waits: list[float] = []
    made = client("http://127.0.0.1:9", sleep=waits.append)
    with pytest.raises(S3Unavailable):
        made.head_object("b", "k")
    assert len(waits) == 2


def test_client_errors_are_not_retried(proxy: FaultProxy, buckets: Buckets) -> None:
    made, waits, observed = retrying(proxy)
    with pytest.raises(S3Error):
        made.get_object(buckets.originals, "missing")
    assert waits == [] and observed.calls[-1].attempts == 1
    assert observed.calls[-1].status == 404 and observed.calls[-1].error_code == "NoSuchKey"


def test_the_retry_quota_stops_retrying_and_refills() -> None:
    quota = s3.RetryQuota(12)
    assert [quota.acquire(timeout=False) for _ in range(3)] == [5, 5, 0]
    assert quota.acquire(timeout=True) == 0
    quota.release(5)
    assert quota.acquire(timeout=False) == 5
    quota.release(100)
    assert quota.available == 12


# --- credentials ---------------------------------------------------------------------------


class _Credentials(http.server.BaseHTTPRequestHandler):
    server: CredentialsEndpoint

    def do_GET(self) -> None:
        self.server.seen.append(self.headers.get("Authorization"))
        body = json.dumps(
            {
                "AccessKeyId": "AKIDCONTAINER",
                "SecretAccessKey": "secret",
                "Token": "token",
                "Expiration": "2099-01-01T00:00:00Z",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class CredentialsEndpoint(BackgroundHTTPServer):
    thread_name = "credentials"

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0, _Credentials)
        self.seen: list[str | None] = []


def test_credentials_come_from_the_environment_then_the_container_endpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    source = s3.EnvironmentCredentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    assert source() == Credentials("AKIDENV", "env-secret", "env-token")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(s3.NoCredentials):
        source()
    endpoint = CredentialsEndpoint().start()
    try:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{endpoint.url}/creds")
        token_file = tmp_path / "token"
        token_file.write_text("file-token\n")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
        assert source() == Credentials("AKIDCONTAINER", "secret", "token")
        assert source() == Credentials("AKIDCONTAINER", "secret", "token")
        assert endpoint.seen == ["file-token"]  # fetched once, cached until near expiry
    finally:
        endpoint.stop()


def test_the_environment_chooses_the_endpoint_and_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws = S3Client.from_environment()
    assert (aws.region, aws.endpoint_url) == ("eu-central-1", None)
    assert aws._target("my-bucket", "a b").host == "my-bucket.s3.eu-central-1.amazonaws.com"
    assert aws._target("my-bucket", "a b").path == "/a%20b"
    assert aws._target("my.bucket", "k").host == "s3.eu-central-1.amazonaws.com"
    assert aws._target("my.bucket", "k").path == "/my.bucket/k"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2/base/")
    local = S3Client.from_environment()
    assert local.endpoint_url == "http://127.0.0.1:2/base"
    assert local._target("b", "k/x").path == "/base/b/k/x"
    assert local._target("b", None).host == "127.0.0.1:2"


# --- Storage, on either client -------------------------------------------------------------


@pytest.fixture(params=["imgedge", "boto3"])
def storage(request: pytest.FixtureRequest, s3_endpoint: str, buckets: Buckets) -> Storage:
    made = client(s3_endpoint) if request.param == "imgedge" else s3_client(s3_endpoint)
    return Storage(made, buckets.originals, buckets.derivatives)


def test_storage_behaves_the_same_on_either_client(storage: Storage, s3: Any) -> None:
    s3.put_object(
        Bucket=storage.originals_bucket, Key="o.jpg", Body=b"abc", ContentType="image/jpeg",
        Metadata={"Focal-Point": "0.5,0.5"},
    )  # fmt: skip
    original = storage.get_original("o.jpg", 3)
    assert (original.body, original.content_type) == (b"abc", "image/jpeg")
    assert dict(original.metadata) == {"focal-point": "0.5,0.5"}
    assert storage.original_version("o.jpg") == original.version
    assert storage.original_version("gone.jpg") is None
    with pytest.raises(SourceTooLarge):
        storage.get_original("o.jpg", 2)
    with pytest.raises(SourceNotFound):
        storage.get_original("gone.jpg", 10)
    assert storage.put_derivative("d", b"1", "image/png", "max-age=1", '"etag"') is True
    assert storage.put_derivative("d", b"2", "image/png", "max-age=1", '"etag"') is False
    stored = s3.get_object(Bucket=storage.derivatives_bucket, Key="d")
    assert stored["Body"].read() == b"1" and stored["Metadata"] == {"source-etag": "etag"}
    assert storage.has_derivative("d") and not storage.has_derivative("e")
    storage.put_marker("_index/m")
    assert sorted(storage.list_keys("")) == ["_index/m", "d"]
    storage.delete_keys(["d", "_index/m", "never"])
    assert list(storage.list_keys("")) == []


def test_storage_on_an_unreachable_s3_is_upstream_error() -> None:
    storage = Storage(client("http://127.0.0.1:9", sleep=lambda _: None), "o", "d")
    for call in (
        lambda: storage.get_original("k", 1),
        lambda: storage.original_version("k"),
        lambda: storage.has_derivative("k"),
        lambda: storage.put_marker("k"),
        lambda: storage.put_derivative("k", b"", "t", "c", "e"),
        lambda: list(storage.list_keys("")),
        lambda: storage.delete_keys(["k"]),
    ):
        with pytest.raises(UpstreamError):
            call()


def test_the_observer_sees_each_call_once(lean: S3Client, buckets: Buckets) -> None:
    observed = Observed()
    lean.observer = observed
    lean.put_object(buckets.originals, "k", io.BytesIO(b"x").getvalue())
    with pytest.raises(S3Error):
        lean.get_object(buckets.originals, "nope")
    put, get = observed.calls
    assert (put.operation, put.bucket, put.key, put.status) == (
        "PutObject", buckets.originals, "k", 200,
    )  # fmt: skip
    assert (get.operation, get.status, get.error_code) == ("GetObject", 404, "NoSuchKey")
    assert put.start <= put.end <= get.start <= get.end
