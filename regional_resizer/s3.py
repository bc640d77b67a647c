"""A small S3 client for the resizer's functions, standard library only.

The deployed functions (the resizer, and the purge and precompute functions from the same
zip) need seven S3 calls: GetObject, HeadObject, PutObject (with ``If-None-Match``),
ListObjectsV2 and DeleteObjects. Importing boto3 costs a cold start far more than these
calls need, so they are made here over ``http.client``:

- Signed with SigV4 (``regional_resizer.sigv4``), the payload's SHA-256 in
  ``X-Amz-Content-Sha256`` (S3 checks the body against it).
- Credentials are read when a request is signed, never at import: from
  ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN`` (what Lambda
  sets), else from the container credentials endpoint (``AWS_CONTAINER_CREDENTIALS_FULL_URI``
  with ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` or its ``_FILE``, what Lambda gives a SnapStart
  function), cached until shortly before they expire. The region is ``AWS_REGION``
  (else ``AWS_DEFAULT_REGION``, else us-east-1).
- The endpoint is S3's regional one, virtual-hosted style (path style for a bucket name with
  a dot), unless ``AWS_ENDPOINT_URL_S3`` (else ``AWS_ENDPOINT_URL``) names another, as the
  local stack's functions have it; then path style, which every S3 emulator takes.
- Connections are kept alive and pooled per host; a pooled connection the server has
  closed meanwhile is dropped before it is used. Every method may be called from many
  threads at once.
- Timeouts: 2 s to connect, 10 s for each read.
- Retries as botocore's standard mode: at most 3 attempts; retried are connection errors
  and timeouts (also a body cut off halfway, which is read within the attempt), 500, 502,
  503 and 504, and throttling and transient error codes; the wait before attempt n+1 is a
  random fraction of 2**(n-1) seconds (at most 20 s); a retry quota (500, 5 per retry, 10
  per timeout, paid back on success) stops retrying while S3 keeps failing.
- Errors: ``S3Error`` when S3 answered (its status, and its error code, or the bare status
  where the answer had no body, as a HEAD's), ``S3Unavailable`` when it did not (after the
  retries), ``TooLarge`` for an object over the size asked for, refused before its body is
  read.

Each call, once done, is passed to the client's observer (``Call``): tracing records it.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import select
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import unquote_plus, urlsplit

from regional_resizer.sigv4 import EMPTY_SHA256, Credentials, sign, uri_encode

SERVICE = "s3"
DEFAULT_REGION = "us-east-1"
MAX_ATTEMPTS = 3
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 10.0
MAX_BACKOFF_S = 20.0
MAX_IDLE_PER_HOST = 10
USER_AGENT = "imgedge-s3/1"
S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)

RETRY_QUOTA = 500
RETRY_COST = 5
TIMEOUT_RETRY_COST = 10
NO_RETRY_INCREMENT = 1

CONTAINER_CREDENTIALS_HOST = "http://169.254.170.2"
CREDENTIALS_REFRESH_S = 10 * 60  # fetch anew this long before they expire


# --- errors --------------------------------------------------------------------------------


class S3Error(Exception):
    """S3 answered a call with an error."""

    def __init__(
        self, operation: str, status: int, code: str, message: str = "", request_id: str = ""
    ) -> None:
        super().__init__(f"{operation}: {status} {code} {message}".rstrip())
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id


class S3Unavailable(Exception):
    """No answer from S3: connection refused or reset, a timeout, a body cut off, no
    credentials; after the retries there were."""


class NoCredentials(S3Unavailable):
    """Neither the environment nor a container credentials endpoint gave credentials."""


class TooLarge(Exception):
    """The object is larger than the caller would read."""

    def __init__(self, length: int | None) -> None:
        super().__init__(f"object of {length if length is not None else 'more'} bytes")
        self.length = length


# --- results -------------------------------------------------------------------------------


class Response(NamedTuple):
    """An answer: its status, headers (names in lower case) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def etag(self) -> str:
        return self.headers.get("etag", "")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        return int(value) if value and value.isdigit() else None

    @property
    def metadata(self) -> Mapping[str, str]:
        """User metadata: ``x-amz-meta-*`` headers, the prefix taken off."""
        prefix = "x-amz-meta-"
        return MappingProxyType(
            {k[len(prefix) :]: v for k, v in self.headers.items() if k.startswith(prefix)}
        )


class ListPage(NamedTuple):
    keys: tuple[str, ...]
    next_token: str | None  # None: the last page


class DeleteFailure(NamedTuple):
    key: str
    code: str
    message: str


class Call(NamedTuple):
    """One call as the observer sees it, once it is over."""

    operation: str
    bucket: str
    key: str | None
    region: str
    start: float  # time.time()
    end: float
    attempts: int
    status: int | None = None  # None: no answer
    error_code: str | None = None
    request_id: str | None = None
    id_2: str | None = None
    exception: BaseException | None = None


Observer = Callable[[Call], None]
CredentialSource = Callable[[], Credentials]


# --- credentials ---------------------------------------------------------------------------


class EnvironmentCredentials:
    """Lambda's credentials: the environment's keys, read at each call (a function's
    environment may change them), else the container credentials endpoint's, cached."""

    def __init__(self, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[Credentials, float] | None = None
        self._timeout_s = timeout_s

    def __call__(self) -> Credentials:
        key = os.environ.get("AWS_ACCESS_KEY_ID")
        secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
        if key and secret:
            return Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)
        url = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        relative = os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        if not url and relative:
            url = CONTAINER_CREDENTIALS_HOST + relative
        if not url:
            raise NoCredentials("no AWS credentials in the environment")
        with self._lock:
            if self._cached is None or self._cached[1] - time.time() < CREDENTIALS_REFRESH_S:
                self._cached = self._fetch(url)
            return self._cached[0]

    def _fetch(self, url: str) -> tuple[Credentials, float]:
        token = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        token_file = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        if token_file:
            with open(token_file, encoding="utf-8") as f:
                token = f.read().strip()
        parts = urlsplit(url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname or "", parts.port, timeout=self._timeout_s)
        try:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", target or "/", headers={"Authorization": token} if token else {})
            answer = conn.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as error:
            raise NoCredentials(f"container credentials endpoint: {error}") from error
        finally:
            conn.close()
        if answer.status != 200:
            raise NoCredentials(f"container credentials endpoint answered {answer.status}")
        data = json.loads(body)
        expires = _epoch(str(data.get("Expiration") or "")) or time.time() + 3600
        credentials = Credentials(data["AccessKeyId"], data["SecretAccessKey"], data.get("Token"))
        return credentials, expires


def _epoch(iso: str) -> float | None:
    if not iso:
        return None
    from datetime import datetime  # only with container credentials

    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def static_credentials(credentials: Credentials) -> CredentialSource:
    return lambda: credentials


# --- retries -------------------------------------------------------------------------------


class RetryQuota:
    """botocore standard mode's retry quota: retries draw on it, successes refill it."""

    def __init__(self, capacity: int = RETRY_QUOTA) -> None:
        self._lock = threading.Lock()
        self.capacity = capacity
        self.available = capacity

    def acquire(self, timeout: bool) -> int:
        cost = TIMEOUT_RETRY_COST if timeout else RETRY_COST
        with self._lock:
            if cost > self.available:
                return 0
            self.available -= cost
            return cost

    def release(self, amount: int) -> None:
        with self._lock:
            self.available = min(self.capacity, self.available + amount)


class _Retryable(Exception):
    """An attempt that may be tried again: S3's answer, or what broke the connection."""

    def __init__(self, response: Response | None, error: BaseException | None) -> None:
        super().__init__(str(error or response))
        self.response = response
        self.error = error


# --- the client ----------------------------------------------------------------------------


class _Target(NamedTuple):
    scheme: str
    host: str  # as in the Host header (with a port that is not the scheme's default)
    hostname: str
    port: int
    path: str  # percent-encoded


@dataclass
class _Pool:
    lock: threading.Lock = field(default_factory=threading.Lock)
    idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = field(default_factory=dict)


class S3Client:
    """S3's REST API for the calls imgedge makes; safe to share between threads."""

    def __init__(
        self,
        region: str = DEFAULT_REGION,
        *,
        endpoint_url: str | None = None,
        credentials: CredentialSource | Credentials | None = None,
        observer: Observer | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        if isinstance(credentials, Credentials):
            credentials = static_credentials(credentials)
        self._credentials: CredentialSource = credentials or EnvironmentCredentials()
        self.observer = observer
        self.max_attempts = max_attempts
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self._sleep = sleep
        self._jitter = jitter
        self.quota = RetryQuota()
        self._pool = _Pool()
        self._ssl_context: Any = None
        # Idle connections are closed once the client is gone, as by ``close``.
        weakref.finalize(self, _close_idle, self._pool)

    @classmethod
    def from_environment(cls, observer: Observer | None = None) -> S3Client:
        """A client as the function's environment configures it (module docstring)."""
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        endpoint = None
        if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() != "true":
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return cls(region or DEFAULT_REGION, endpoint_url=endpoint or None, observer=observer)

    # --- the operations --------------------------------------------------------------------

    def get_object(self, bucket: str, key: str, *, max_bytes: int | None = None) -> Response:
        """The object; ``TooLarge`` (its body unread) when it has more than ``max_bytes``."""
        return self._call("GetObject", "GET", bucket, key, max_bytes=max_bytes)

    def head_object(self, bucket: str, key: str) -> Response:
        return self._call("HeadObject", "HEAD", bucket, key)

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
    ) -> Response:
        headers: dict[str, str] = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if cache_control is not None:
            headers["Cache-Control"] = cache_control
        for name, value in (metadata or {}).items():
            headers[f"x-amz-meta-{name}"] = value
        if if_none_match is not None:
            headers["If-None-Match"] = if_none_match
        return self._call("PutObject", "PUT", bucket, key, headers=headers, body=body)

    def list_objects_v2(
        self, bucket: str, *, prefix: str = "", continuation_token: str | None = None
    ) -> ListPage:
        """One page of keys under ``prefix``."""
        query = [("list-type", "2"), ("encoding-type", "url"), ("prefix", prefix)]
        if continuation_token is not None:
            query.append(("continuation-token", continuation_token))
        answer = self._call("ListObjectsV2", "GET", bucket, None, query=query)
        root = _xml(answer.body)
        keys = tuple(unquote_plus(_text(item, "Key")) for item in _children(root, "Contents"))
        truncated = _text(root, "IsTruncated").lower() == "true"
        token = _text(root, "NextContinuationToken") or None
        return ListPage(keys, token if truncated else None)

    def delete_objects(self, bucket: str, keys: Sequence[str]) -> list[DeleteFailure]:
        """Delete up to 1,000 keys in one call (quiet: only failures are answered)."""
        objects = "".join(f"<Object><Key>{_xml_escape(key)}</Key></Object>" for key in keys)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="{S3_XMLNS}">'
            f"<Quiet>true</Quiet>{objects}</Delete>"
        ).encode()
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        headers = {"Content-Type": "application/xml", "Content-MD5": md5}
        answer = self._call(
            "DeleteObjects", "POST", bucket, None, query=[("delete", "")], headers=headers,
            body=body,
        )  # fmt: skip
        if not answer.body.strip():
            return []
        return [
            DeleteFailure(_text(error, "Key"), _text(error, "Code"), _text(error, "Message"))
            for error in _children(_xml(answer.body), "Error")
        ]

    def close(self) -> None:
        """Close every idle connection."""
        _close_idle(self._pool)

    # --- one call: attempts and the observer -----------------------------------------------

    def _call(
        self,
        operation: str,
        method: str,
        bucket: str,
        key: str | None,
        *,
        query: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        max_bytes: int | None = None,
    ) -> Response:
        """Attempts until one succeeds, one fails for good, or retrying must stop; then
        the observer is told."""
        start = time.time()
        attempt = acquired = 0
        answer: Response | None = None
        failure: BaseException | None = None
        try:
            while True:
                attempt += 1
                try:
                    answer = self._attempt(
                        operation, method, bucket, key, query, headers or {}, body, max_bytes
                    )
                except _Retryable as retryable:
                    timeout = isinstance(retryable.error, TimeoutError)
                    cost = self.quota.acquire(timeout) if attempt < self.max_attempts else 0
                    if cost == 0:
                        raise self._final(operation, retryable) from retryable.error
                    acquired = cost
                    self._sleep(min(self._random() * 2 ** (attempt - 1), MAX_BACKOFF_S))
                    continue
                self.quota.release(acquired or NO_RETRY_INCREMENT)
                return answer
        except BaseException as error:
            failure = error
            raise
        finally:
            if self.observer is not None:
                self._observe(operation, bucket, key, start, attempt, answer, failure)

    def _observe(
        self,
        operation: str,
        bucket: str,
        key: str | None,
        start: float,
        attempts: int,
        answer: Response | None,
        failure: BaseException | None,
    ) -> None:
        call = Call(operation, bucket, key, self.region, start, time.time(), attempts)
        if answer is not None:
            call = call._replace(
                status=answer.status,
                request_id=answer.headers.get("x-amz-request-id"),
                id_2=answer.headers.get("x-amz-id-2"),
            )
        if isinstance(failure, S3Error):
            call = call._replace(
                status=failure.status, error_code=failure.code,
                request_id=failure.request_id or None,
            )  # fmt: skip
        elif failure is not None:
            call = call._replace(exception=failure)
        try:
            assert self.observer is not None
            self.observer(call)
        except Exception:  # an observer never fails a call
            pass

    def _random(self) -> float:
        """A fraction in [0, 1) for a retry's wait (``random`` is loaded by the first
        retry, which most processes never make)."""
        if self._jitter is None:
            import random

            self._jitter = random.random
        return self._jitter()

    @staticmethod
    def _final(operation: str, retryable: _Retryable) -> Exception:
        if retryable.response is not None:
            return _error_of(operation, retryable.response)
        return S3Unavailable(f"{operation}: {retryable.error!r}")

    # --- one attempt -----------------------------------------------------------------------

    def _attempt(
        self,
        operation: str,
        method: str,
        bucket: str,
        key: str | None,
        query: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
        max_bytes: int | None,
    ) -> Response:
        target = self._target(bucket, key)
        request_headers = {"Host": target.host, **headers}
        if method in ("PUT", "POST"):
            request_headers["Content-Length"] = str(len(body))
        payload_sha256 = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        signed = sign(
            method, target.path, query, request_headers, payload_sha256, self._credentials(),
            self.region, SERVICE,
        )  # fmt: skip
        request_headers.update(signed.headers)
        request_headers["User-Agent"] = USER_AGENT
        url = target.path + _query_string(query)
        conn = self._connection(target)
        reusable = False
        answer: http.client.HTTPResponse | None = None
        try:
            conn.request(method, url, body=body if body else None, headers=request_headers)
            answer = conn.getresponse()
            response_headers = {name.lower(): value for name, value in answer.getheaders()}
            length = response_headers.get("content-length")
            if (
                max_bytes is not None
                and 200 <= answer.status < 300
                and length is not None
                and length.isdigit()
                and int(length) > max_bytes
            ):
                raise TooLarge(int(length))
            if max_bytes is not None and 200 <= answer.status < 300 and length is None:
                data = answer.read(max_bytes + 1)  # chunked: a short body raises
                if len(data) > max_bytes:
                    raise TooLarge(None)
                data += answer.read()  # the chunked body's end
            else:
                data = answer.read()  # with a Content-Length, a short body raises
            # After a server error, a new connection: what went wrong may have left the
            # old one out of step.
            reusable = not answer.will_close and answer.status < 500
        except (OSError, http.client.HTTPException) as error:
            raise _Retryable(None, error) from error
        finally:
            if reusable:
                self._release(target, conn)
            else:
                if answer is not None:
                    answer.close()
                conn.close()
        response = Response(answer.status, MappingProxyType(response_headers), data)
        if 200 <= answer.status < 300:
            return response
        if _retryable(response):
            raise _Retryable(response, None)
        raise _error_of(operation, response)

    def _target(self, bucket: str, key: str | None) -> _Target:
        key_path = "/" + uri_encode(key, keep_slash=True) if key is not None else ""
        if self.endpoint_url is not None:
            parts = urlsplit(self.endpoint_url)
            scheme = parts.scheme or "https"
            base = parts.path.rstrip("/")
            path = f"{base}/{uri_encode(bucket, keep_slash=False)}{key_path}"
            return _Target(
                scheme, parts.netloc, parts.hostname or "", _port(parts.port, scheme), path
            )
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        regional = f"s3.{self.region}.{suffix}"
        if _virtual_hostable(bucket):
            host = f"{bucket}.{regional}"
            return _Target("https", host, host, 443, key_path or "/")
        return _Target("https", regional, regional, 443, f"/{bucket}{key_path}")

    # --- connections -----------------------------------------------------------------------

    def _connection(self, target: _Target) -> http.client.HTTPConnection:
        slot = (target.scheme, target.hostname, target.port)
        while True:
            with self._pool.lock:
                idle = self._pool.idle.get(slot)
                conn = idle.pop() if idle else None
            if conn is None:
                break
            if _still_open(conn):
                return conn
            conn.close()
        conn = self._new_connection(target)
        try:
            conn.connect()
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            raise _Retryable(None, error) from error
        if conn.sock is not None:
            conn.sock.settimeout(self.read_timeout_s)
        return conn

    def _new_connection(self, target: _Target) -> http.client.HTTPConnection:
        if target.scheme == "https":
            if self._ssl_context is None:
                import ssl  # loaded with http.client already

                self._ssl_context = ssl.create_default_context()
            return http.client.HTTPSConnection(
                target.hostname, target.port, timeout=self.connect_timeout_s,
                context=self._ssl_context,
            )  # fmt: skip
        return http.client.HTTPConnection(
            target.hostname, target.port, timeout=self.connect_timeout_s
        )

    def _release(self, target: _Target, conn: http.client.HTTPConnection) -> None:
        slot = (target.scheme, target.hostname, target.port)
        with self._pool.lock:
            idle = self._pool.idle.setdefault(slot, [])
            if len(idle) < MAX_IDLE_PER_HOST:
                idle.append(conn)
                return
        conn.close()


# --- helpers -------------------------------------------------------------------------------


def _close_idle(pool: _Pool) -> None:
    with pool.lock:
        idle = [conn for conns in pool.idle.values() for conn in conns]
        pool.idle.clear()
    for conn in idle:
        conn.close()


def _port(port: int | None, scheme: str) -> int:
    return port or (443 if scheme == "https" else 80)


def _virtual_hostable(bucket: str) -> bool:
    """A bucket name that can be a TLS host name label (no dots: the certificate is a
    single-level wildcard)."""
    return (
        3 <= len(bucket) <= 63
        and "." not in bucket
        and bucket == bucket.lower()
        and all(c.isalnum() or c == "-" for c in bucket)
        and bucket[0].isalnum()
        and bucket[-1].isalnum()
    )


def _still_open(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection is still usable: nothing to read on it (a closed one
    reads as end of file)."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _query_string(query: Iterable[tuple[str, str]]) -> str:
    parts = [
        uri_encode(name, keep_slash=False)
        + (f"={uri_encode(value, keep_slash=False)}" if value else "")
        for name, value in query
    ]
    return "?" + "&".join(parts) if parts else ""


def _retryable(response: Response) -> bool:
    if response.status in TRANSIENT_STATUSES:
        return True
    code = _error_fields(response.body).get("Code", "")
    return code in THROTTLING_CODES or code in TRANSIENT_CODES


def _error_of(operation: str, response: Response) -> S3Error:
    fields = _error_fields(response.body)
    return S3Error(
        operation,
        response.status,
        fields.get("Code") or str(response.status),
        fields.get("Message", ""),
        fields.get("RequestId") or response.headers.get("x-amz-request-id", ""),
    )


def _error_fields(body: bytes) -> dict[str, str]:
    """Code, Message and RequestId of an S3 error document; {} for none."""
    if not body.strip():
        return {}
    try:
        root = _xml(body)
    except ValueError:
        return {}
    return {name: _text(root, name) for name in ("Code", "Message", "RequestId")}


def _xml(body: bytes) -> Any:
    from xml.etree import ElementTree  # only for listings, deletes and errors

    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise ValueError(f"not XML: {error}") from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: Any, name: str) -> Iterator[Any]:
    return (child for child in element if _local(child.tag) == name)


def _text(element: Any, name: str) -> str:
    for child in _children(element, name):
        return str(child.text or "")
    return ""


def _xml_escape(text: str) -> str:
    """A key as XML character data: markup characters and line ends as references (S3
    keys may hold them)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", "&#13;")
        .replace("\n", "&#10;")
        .replace("\t", "&#9;")
    )
