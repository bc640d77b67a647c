"""S3 access for the resizer and the purge: read originals, write and delete derivatives.

There is deliberately no method that writes to the originals bucket. botocore errors are
translated here, once: a missing original is SourceNotFound, anything else UpstreamError.
The derivatives bucket's layout (derivatives plus a per-original marker index) is
``shared.layout``'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from shared.errors import SourceNotFound, SourceTooLarge, UpstreamError

_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}
DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys
_ALREADY_WRITTEN = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


@dataclass(frozen=True)
class Original:
    body: bytes
    content_type: str
    etag: str


class Storage:
    def __init__(self, client: Any, originals_bucket: str, derivatives_bucket: str) -> None:
        self._s3 = client
        self.originals_bucket = originals_bucket
        self.derivatives_bucket = derivatives_bucket

    def get_original(self, key: str, max_bytes: int) -> Original:
        """The original's bytes, refused unread if S3 says it is larger than ``max_bytes``."""
        try:
            response = self._s3.get_object(Bucket=self.originals_bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _MISSING:
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
            if _error_code(error) in _ALREADY_WRITTEN:
                return False
            raise UpstreamError() from error
        except BotoCoreError as error:
            raise UpstreamError() from error
        return True

    def original_etag(self, key: str) -> str | None:
        """The original's current ETag; None once it is gone."""
        try:
            response = self._s3.head_object(Bucket=self.originals_bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _MISSING:
                return None
            raise UpstreamError() from error
        except BotoCoreError as error:
            raise UpstreamError() from error
        return str(response.get("ETag") or "")

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


def _error_code(error: ClientError) -> str:
    code = error.response.get("Error", {}).get("Code")
    if code:
        return str(code)
    return str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
