"""S3 for the regional functions: the one way imgedge makes an S3 client, says which of
S3's answers mean "no such object", reads originals, and writes and deletes derivatives.

There is deliberately no method that writes to the originals bucket. botocore errors are
translated here, once: a missing original is SourceNotFound, anything else UpstreamError.

Derivatives are written with ``PutObject(IfNoneMatch="*")``, which botocore knows only since
S3's conditional writes (August 2024). The zip relies on the runtime's boto3 rather than
bundling one (docs/deploying.md says why), so every client is checked when it is made
(``require_conditional_writes``, from the service model it loaded anyway): an SDK too old
fails then, with a message, instead of on the first store. The resizer makes its client at
init, so such a deployment fails before any request.
The derivatives bucket's layout (derivatives plus a per-original marker index) is
``shared.layout``'s. The command line and the local stack make their clients here too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import boto3
import botocore
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import SourceNotFound, SourceTooLarge, UpstreamError

# Standard retry mode: exponential backoff with jitter on throttling and 5xx, bounded.
S3_CLIENT_CONFIG = BotoConfig(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=10,
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


def require_conditional_writes(client: Any) -> None:
    """Raise SdkTooOld unless ``client``'s S3 service model has ``IfNoneMatch`` on PutObject
    (without it, botocore refuses the parameter, and every store would fail)."""
    operation = client.meta.service_model.operation_model("PutObject")
    if "IfNoneMatch" not in operation.input_shape.members:
        raise SdkTooOld(
            f"botocore {botocore.__version__} has no IfNoneMatch on S3 PutObject, which "
            "imgedge needs to store a derivative once (S3 conditional writes, botocore 1.35 "
            "and later). Deploy on a Lambda Python runtime whose SDK has it (python3.12 or "
            "later: the runtime table lists each runtime's SDK version), or run with a newer "
            "boto3 and botocore."
        )


def s3_client(endpoint_url: str | None = None, **settings: str) -> Any:
    """An S3 client with imgedge's retries and timeouts, able to write conditionally
    (``require_conditional_writes``). Without ``endpoint_url``, boto3's own configuration
    applies (AWS_ENDPOINT_URL_S3 names another endpoint, as the local stack's functions
    have it); ``settings`` are boto3's client arguments (``region_name``,
    ``aws_access_key_id``, ``aws_secret_access_key``)."""
    client = boto3.client("s3", endpoint_url=endpoint_url, config=S3_CLIENT_CONFIG, **settings)
    require_conditional_writes(client)
    return client


def error_code(error: ClientError) -> str:
    """S3's error code; the HTTP status where the response had no body to name one."""
    code = error.response.get("Error", {}).get("Code")
    if code:
        return str(code)
    return str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def is_missing(error: ClientError, *, denied_is_missing: bool = False) -> bool:
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


@dataclass(frozen=True)
class Version:
    """What an original's derivatives are made of: its bytes (ETag) and its rendered
    metadata."""

    etag: str
    rendered: tuple[str | None, ...]

    @classmethod
    def of(cls, etag: object, metadata: Mapping[str, str]) -> Version:
        return cls(str(etag or ""), tuple(metadata.get(name) for name in RENDERED_METADATA))


@dataclass(frozen=True)
class Original:
    body: bytes
    content_type: str
    etag: str
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """S3 user metadata, names in lower case without ``x-amz-meta-``."""

    @property
    def version(self) -> Version:
        return Version.of(self.etag, self.metadata)


class Storage:
    def __init__(self, client: Any, originals_bucket: str, derivatives_bucket: str) -> None:
        self._s3 = client
        self.originals_bucket = originals_bucket
        self.derivatives_bucket = derivatives_bucket

    @classmethod
    def from_environment(cls) -> Storage:
        """A function's storage: the buckets ORIGINALS_BUCKET and DERIVATIVES_BUCKET name."""
        return cls(s3_client(), os.environ["ORIGINALS_BUCKET"], os.environ["DERIVATIVES_BUCKET"])

    def get_original(self, key: str, max_bytes: int) -> Original:
        """The original's bytes and metadata, refused unread if S3 says it is larger than
        ``max_bytes``."""
        try:
            response = self._s3.get_object(Bucket=self.originals_bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                raise SourceNotFound() from None
            raise UpstreamError() from error
        except BotoCoreError as error:
            raise UpstreamError() from error
        stream = response["Body"]
        try:
            if int(response.get("ContentLength", 0)) > max_bytes:
                raise SourceTooLarge(f"more than {max_bytes} bytes")
            body: bytes = stream.read(max_bytes + 1)
        except BotoCoreError as error:
            raise UpstreamError() from error
        finally:
            stream.close()
        if len(body) > max_bytes:
            raise SourceTooLarge(f"more than {max_bytes} bytes")
        return Original(
            body=body,
            content_type=str(response.get("ContentType") or ""),
            etag=str(response.get("ETag") or ""),
            metadata=_user_metadata(response),
        )

    def put_derivative(
        self, key: str, body: bytes, content_type: str, cache_control: str, source_etag: str
    ) -> bool:
        """Store a derivative once (``If-None-Match: *``). False if it already existed: a
        concurrent miss for the same key wrote the same output first."""
        try:
            self._s3.put_object(
                Bucket=self.derivatives_bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                CacheControl=cache_control,
                Metadata={"source-etag": source_etag.strip('"')},
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error_code(error) in _ALREADY_WRITTEN:
                return False
            raise UpstreamError() from error
        except BotoCoreError as error:
            raise UpstreamError() from error
        return True

    def original_version(self, key: str) -> Version | None:
        """The original's current version (HeadObject); None once it is gone."""
        try:
            response = self._s3.head_object(Bucket=self.originals_bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return None
            raise UpstreamError() from error
        except BotoCoreError as error:
            raise UpstreamError() from error
        return Version.of(response.get("ETag"), _user_metadata(response))

    def has_derivative(self, key: str) -> bool:
        """Whether the derivatives bucket holds ``key`` (HeadObject). A 403 counts as absent,
        as for CloudFront's origin group: a role that may read the bucket's objects but not
        list them gets 403 for a key the bucket does not have."""
        try:
            self._s3.head_object(Bucket=self.derivatives_bucket, Key=key)
        except ClientError as error:
            if is_missing(error, denied_is_missing=True):
                return False
            raise UpstreamError() from error
        except BotoCoreError as error:
            raise UpstreamError() from error
        return True

    def put_marker(self, key: str) -> None:
        """An empty index marker (``shared.layout``); written before the derivative."""
        self._call(
            "put_object",
            Bucket=self.derivatives_bucket,
            Key=key,
            Body=b"",
            ContentType="text/plain",
        )

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix`` in the derivatives bucket, page by page."""
        token: dict[str, str] = {}
        while True:
            page = self._call(
                "list_objects_v2", Bucket=self.derivatives_bucket, Prefix=prefix, **token
            )
            for item in page.get("Contents", []):
                yield str(item["Key"])
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def delete_keys(self, keys: Sequence[str]) -> None:
        """Delete from the derivatives bucket, in batches; a key already gone is fine."""
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
            response = self._call(
                "delete_objects",
                Bucket=self.derivatives_bucket,
                Delete={"Objects": batch, "Quiet": True},
            )
            if response.get("Errors"):
                raise UpstreamError(f"{len(response['Errors'])} deletes failed")

    def _call(self, operation: str, **params: Any) -> Any:
        try:
            return getattr(self._s3, operation)(**params)
        except (ClientError, BotoCoreError) as error:
            raise UpstreamError() from error


def _user_metadata(response: Mapping[str, Any]) -> Mapping[str, str]:
    """A GetObject or HeadObject answer's user metadata (botocore lower-cases the names)."""
    metadata = response.get("Metadata") or {}
    return MappingProxyType({str(k).lower(): str(v) for k, v in metadata.items()})
