"""S3 for the regional functions: the one way imgedge makes an S3 client, says which of
S3's answers mean "no such object", reads originals, and writes and deletes derivatives.

There is deliberately no method that writes to an originals bucket. An original is read
from the bucket its key maps to (``shared.originals``: ``originals_buckets``, else the
default originals bucket), watermark overlays and the fallback image alike. S3's errors are
translated here, once: a missing original is SourceNotFound, anything else UpstreamError.

The deployed functions talk to S3 through imgedge's own client (``regional_resizer.s3``,
standard library only: a cold start imports no SDK): ``Storage.from_environment``. A
``Storage`` may also be given a boto3 client (the command line, the local tools, tests),
with the same behaviour: its answers are translated into the same errors.

Derivatives are written with ``If-None-Match: *``. boto3 clients are made here too
(``s3_client``, for the command line and the local stack), and botocore knows
``IfNoneMatch`` only since S3's conditional writes (August 2024): every such client is
checked when it is made (``require_conditional_writes``, from the service model it loaded
anyway), so an SDK too old fails then, with a message, instead of on the first store.
The derivatives bucket's layout (derivatives plus a per-original marker index) is
``shared.layout``'s.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from regional_resizer import s3, tracing
from shared.config import Config, load_config
from shared.errors import SourceNotFound, SourceTooLarge, UpstreamError
from shared.originals import OriginalsBuckets

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

# Standard retry mode: exponential backoff with jitter on throttling and 5xx, bounded. The
# same as ``regional_resizer.s3``'s own.
S3_CLIENT_SETTINGS: Mapping[str, Any] = MappingProxyType(
    {
        "retries": {"mode": "standard", "max_attempts": s3.MAX_ATTEMPTS},
        "connect_timeout": s3.CONNECT_TIMEOUT_S,
        "read_timeout": s3.READ_TIMEOUT_S,
    }
)

MISSING = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
"""Error codes for an object that is not there. A HEAD has no body to name the error in:
its code is the bare status ("404") or botocore's "NotFound"."""
DENIED = frozenset({"403", "AccessDenied", "Forbidden"})
"""Error codes of a refusal. Without ``s3:ListBucket`` on a bucket, this is also how S3
answers for a key it does not have (GetObject and HeadObject, "Permissions")."""

DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys
_ALREADY_WRITTEN = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


class SdkTooOld(RuntimeError):
    """The botocore at hand cannot send a conditional PutObject."""


def __getattr__(name: str) -> Any:
    """``S3_CLIENT_CONFIG``: botocore's Config of ``S3_CLIENT_SETTINGS``, made on first use
    (importing this module loads no botocore)."""
    if name == "S3_CLIENT_CONFIG":
        from botocore.config import Config as BotoConfig

        return BotoConfig(**S3_CLIENT_SETTINGS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def require_conditional_writes(client: Any) -> None:
    """Raise SdkTooOld unless ``client``'s S3 service model has ``IfNoneMatch`` on PutObject
    (without it, botocore refuses the parameter, and every store would fail)."""
    import botocore

    operation = client.meta.service_model.operation_model("PutObject")
    if "IfNoneMatch" not in operation.input_shape.members:
        raise SdkTooOld(
            f"botocore {botocore.__version__} has no IfNoneMatch on S3 PutObject, which "
            "imgedge needs to store a derivative once (S3 conditional writes, botocore 1.35 "
            "and later). Run with a newer boto3 and botocore."
        )


def s3_client(endpoint_url: str | None = None, **settings: str) -> Any:
    """A boto3 S3 client with imgedge's retries and timeouts, able to write conditionally
    (``require_conditional_writes``), for the command line and the local stack. Without
    ``endpoint_url``, boto3's own configuration applies (AWS_ENDPOINT_URL_S3 names another
    endpoint, as the local stack's functions have it); ``settings`` are boto3's client
    arguments (``region_name``, ``aws_access_key_id``, ``aws_secret_access_key``)."""
    import boto3
    from botocore.config import Config as BotoConfig

    config = BotoConfig(**S3_CLIENT_SETTINGS)
    client = boto3.client("s3", endpoint_url=endpoint_url, config=config, **settings)
    require_conditional_writes(client)
    return client


def error_code(error: ClientError | s3.S3Error) -> str:
    """S3's error code; the HTTP status where the response had no body to name one."""
    if isinstance(error, s3.S3Error):
        return error.code or str(error.status)
    code = error.response.get("Error", {}).get("Code")
    if code:
        return str(code)
    return str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def is_missing(error: ClientError | s3.S3Error, *, denied_is_missing: bool = False) -> bool:
    """Whether ``error`` says the object is not there. ``denied_is_missing`` for a caller
    whose role may not list the bucket, to whom S3 answers a missing key with 403."""
    code = error_code(error)
    return code in MISSING or (denied_is_missing and code in DENIED)


FOCAL_POINT = "focal-point"
"""The user metadata (``x-amz-meta-focal-point: X,Y``) that says where a cover crop of the
original centres when the request names no place (``derivative.stored_focal_point``)."""
RENDERED_METADATA = (FOCAL_POINT,)
"""User metadata that changes how an original renders. A copy of the object onto itself
that changes it keeps the ETag (the bytes are the same), so a version is both."""


class Version(NamedTuple):
    """What an original's derivatives are made of: its bytes (ETag) and its rendered
    metadata."""

    etag: str
    rendered: tuple[str | None, ...]

    @classmethod
    def of(cls, etag: object, metadata: Mapping[str, str]) -> Version:
        return cls(str(etag or ""), tuple(metadata.get(name) for name in RENDERED_METADATA))


_NO_METADATA: Mapping[str, str] = MappingProxyType({})  # read-only: one serves every Original


class Original(NamedTuple):
    body: bytes
    content_type: str
    etag: str
    metadata: Mapping[str, str] = _NO_METADATA
    """S3 user metadata, names in lower case without ``x-amz-meta-``."""

    @property
    def version(self) -> Version:
        return Version.of(self.etag, self.metadata)


class Storage:
    """Originals read, derivatives written, listed and deleted. ``client``: an
    ``s3.S3Client``, or a boto3 S3 client (``s3_client``). ``originals``: the originals
    buckets, or the one bucket that holds every original."""

    def __init__(
        self, client: Any, originals: str | OriginalsBuckets, derivatives_bucket: str
    ) -> None:
        self._s3: s3.S3Client | _Boto3 = (
            client if isinstance(client, s3.S3Client | _Boto3) else _Boto3(client)
        )
        self.originals = (
            originals if isinstance(originals, OriginalsBuckets) else (OriginalsBuckets(originals))
        )
        self.derivatives_bucket = derivatives_bucket

    @property
    def originals_bucket(self) -> str:
        """The default originals bucket: where a key that matches no prefix is."""
        return self.originals.default

    @classmethod
    def from_environment(cls, config: Config | None = None) -> Storage:
        """A function's storage: the buckets ORIGINALS_BUCKET (with ``config``'s
        ``originals_buckets``; the function's configuration file without one) and
        DERIVATIVES_BUCKET name, through imgedge's S3 client, each call recorded in the
        request's trace."""
        client = s3.S3Client.from_environment(observer=tracing.record_s3_call)
        config = config if config is not None else load_config()
        originals = config.originals(os.environ["ORIGINALS_BUCKET"])
        return cls(client, originals, os.environ["DERIVATIVES_BUCKET"])

    def get_original(self, key: str, max_bytes: int) -> Original:
        """The original's bytes and metadata, refused unread if S3 says it is larger than
        ``max_bytes``."""
        try:
            response = self._s3.get_object(self.originals.bucket_of(key), key, max_bytes=max_bytes)
        except s3.TooLarge:
            raise SourceTooLarge(f"more than {max_bytes} bytes") from None
        except s3.S3Error as error:
            if is_missing(error):
                raise SourceNotFound() from None
            raise UpstreamError() from error
        except s3.S3Unavailable as error:
            raise UpstreamError() from error
        return Original(
            body=response.body,
            content_type=response.content_type,
            etag=response.etag,
            metadata=_user_metadata(response.metadata),
        )

    def put_derivative(
        self, key: str, body: bytes, content_type: str, cache_control: str, source_etag: str
    ) -> bool:
        """Store a derivative once (``If-None-Match: *``). False if it already existed: a
        concurrent miss for the same key wrote the same output first."""
        try:
            self._s3.put_object(
                self.derivatives_bucket,
                key,
                body,
                content_type=content_type,
                cache_control=cache_control,
                metadata={"source-etag": source_etag.strip('"')},
                if_none_match="*",
            )
        except s3.S3Error as error:
            if error_code(error) in _ALREADY_WRITTEN:
                return False
            raise UpstreamError() from error
        except s3.S3Unavailable as error:
            raise UpstreamError() from error
        return True

    def original_version(self, key: str) -> Version | None:
        """The original's current version (HeadObject); None once it is gone."""
        try:
            response = self._s3.head_object(self.originals.bucket_of(key), key)
        except s3.S3Error as error:
            if is_missing(error):
                return None
            raise UpstreamError() from error
        except s3.S3Unavailable as error:
            raise UpstreamError() from error
        return Version.of(response.etag, _user_metadata(response.metadata))

    def has_derivative(self, key: str) -> bool:
        """Whether the derivatives bucket holds ``key`` (HeadObject). A 403 counts as absent,
        as for CloudFront's origin group: a role that may read the bucket's objects but not
        list them gets 403 for a key the bucket does not have."""
        try:
            self._s3.head_object(self.derivatives_bucket, key)
        except s3.S3Error as error:
            if is_missing(error, denied_is_missing=True):
                return False
            raise UpstreamError() from error
        except s3.S3Unavailable as error:
            raise UpstreamError() from error
        return True

    def put_marker(self, key: str) -> None:
        """An empty index marker (``shared.layout``); written before the derivative."""
        try:
            self._s3.put_object(self.derivatives_bucket, key, b"", content_type="text/plain")
        except (s3.S3Error, s3.S3Unavailable) as error:
            raise UpstreamError() from error

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix`` in the derivatives bucket, page by page."""
        token: str | None = None
        while True:
            try:
                page = self._s3.list_objects_v2(
                    self.derivatives_bucket, prefix=prefix, continuation_token=token
                )
            except (s3.S3Error, s3.S3Unavailable) as error:
                raise UpstreamError() from error
            yield from page.keys
            if page.next_token is None:
                return
            token = page.next_token

    def delete_keys(self, keys: Sequence[str]) -> None:
        """Delete from the derivatives bucket, in batches; a key already gone is fine."""
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                failures = self._s3.delete_objects(self.derivatives_bucket, batch)
            except (s3.S3Error, s3.S3Unavailable) as error:
                raise UpstreamError() from error
            if failures:
                raise UpstreamError(f"{len(failures)} deletes failed")


def _user_metadata(metadata: Mapping[str, str]) -> Mapping[str, str]:
    """User metadata with lower-case names (HTTP header names are case-insensitive)."""
    return MappingProxyType({str(k).lower(): str(v) for k, v in metadata.items()})


class _Boto3:
    """A boto3 S3 client behind ``s3.S3Client``'s methods: the same answers, the same
    errors (a ClientError is an ``s3.S3Error``, any other botocore error
    ``s3.S3Unavailable``)."""

    def __init__(self, client: Any) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self._client = client
        self._failures = (ClientError, BotoCoreError)

    def _call(self, operation: str, method: str, **params: Any) -> Any:
        try:
            return getattr(self._client, method)(**params)
        except self._failures as error:
            raise self._translated(operation, error) from error

    def _translated(self, operation: str, error: Exception) -> Exception:
        response = getattr(error, "response", None)
        if response is None:
            return s3.S3Unavailable(f"{operation}: {error!r}")
        metadata = response.get("ResponseMetadata", {})
        status = int(metadata.get("HTTPStatusCode") or 0)
        return s3.S3Error(
            operation,
            status,
            error_code(error),
            str(response.get("Error", {}).get("Message", "")),
            str(metadata.get("RequestId", "")),
        )

    def get_object(self, bucket: str, key: str, *, max_bytes: int | None = None) -> s3.Response:
        response = self._call("GetObject", "get_object", Bucket=bucket, Key=key)
        stream = response["Body"]
        try:
            length = int(response.get("ContentLength", 0))
            if max_bytes is not None and length > max_bytes:
                raise s3.TooLarge(length)
            body: bytes = stream.read(None if max_bytes is None else max_bytes + 1)
        except self._failures as error:
            raise self._translated("GetObject", error) from error
        finally:
            stream.close()
        if max_bytes is not None and len(body) > max_bytes:
            raise s3.TooLarge(None)
        return self._response(response, body)

    def head_object(self, bucket: str, key: str) -> s3.Response:
        return self._response(self._call("HeadObject", "head_object", Bucket=bucket, Key=key))

    def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        cache_control: str | None = None,
        metadata: Mapping[str, str] | None = None,
        if_none_match: str | None = None,
    ) -> s3.Response:
        params: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body}
        for name, value in (
            ("ContentType", content_type),
            ("CacheControl", cache_control),
            ("Metadata", dict(metadata) if metadata is not None else None),
            ("IfNoneMatch", if_none_match),
        ):
            if value is not None:
                params[name] = value
        return self._response(self._call("PutObject", "put_object", **params))

    def list_objects_v2(
        self, bucket: str, *, prefix: str = "", continuation_token: str | None = None
    ) -> s3.ListPage:
        params = {"Bucket": bucket, "Prefix": prefix}
        if continuation_token is not None:
            params["ContinuationToken"] = continuation_token
        page = self._call("ListObjectsV2", "list_objects_v2", **params)
        keys = tuple(str(item["Key"]) for item in page.get("Contents", []))
        token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
        return s3.ListPage(keys, token)

    def delete_objects(self, bucket: str, keys: Sequence[str]) -> list[s3.DeleteFailure]:
        response = self._call(
            "DeleteObjects",
            "delete_objects",
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
        return [
            s3.DeleteFailure(
                str(e.get("Key", "")), str(e.get("Code", "")), str(e.get("Message", ""))
            )
            for e in response.get("Errors", [])
        ]

    @staticmethod
    def _response(response: Mapping[str, Any], body: bytes = b"") -> s3.Response:
        headers: dict[str, str] = {}
        for name, value in (response.get("Metadata") or {}).items():
            headers[f"x-amz-meta-{str(name).lower()}"] = str(value)
        for name, field_name in (("etag", "ETag"), ("content-type", "ContentType")):
            if response.get(field_name) is not None:
                headers[name] = str(response[field_name])
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 200)
        return s3.Response(status, MappingProxyType(headers), body)
