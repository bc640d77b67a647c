"""``imgedge smoke URL``: check a running imgedge (a CloudFront distribution, or the local
stack) from the outside, one line per check, ``PASS``, ``FAIL`` or ``SKIP`` (with the
reason: the check needs something it was not given).

Over HTTP only:
- miss: a variant nobody asked for yet is rendered (200, WebP, ``X-Cache: Miss``, nosniff)
- hit: the same URL again comes from the cache (``X-Cache: Hit``, the same bytes)
- normalization: the same parameters in another order and case, with an unknown one, are
  the same cache entry (a hit, the same bytes)
- head-then-get: a HEAD of a new size (200, no body), then a GET of it (200, an image)
- 404: an original that does not exist; 400: a parameter that makes no sense
and the miss and hit latencies. The original (``--key``, default ``sample.png``) must exist
in the originals bucket.

With write access to the originals bucket (an S3 client and the bucket's name):
- purge: an original named ``a (1)~+!'.jpg`` is uploaded, a derivative fetched, the
  original replaced by another picture, and the new picture must be served within a
  timeout; then the original is deleted
- signed-redirect (needs a signing key id and secret as well): a signed size of a noise PNG,
  whose output exceeds what a function URL returns inline, answers a redirect that is
  followed to a 200 with the image

With the traces (``TraceSource``: X-Ray's API, or the local stack's daemon records):
- trace: the edge's and the resizer's segments of one request in one trace, found by the
  annotation ``cloudfront_request_id`` (the response's ``X-Amz-Cf-Id``)
- botocore: the resizer's botocore version, from the annotation ``botocore_version`` its
  segment carries in that trace (never a response header)

Each original the run uploads has a fresh name under ``imgedge-smoke/`` and is deleted
afterwards (the purge then removes its derivatives).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from shared import formats

MISS = "Miss from cloudfront"
HIT = "Hit from cloudfront"
FRESH_VARIANT_TRIES = 5
HIT_TRIES = 3
HIT_RETRY_DELAY_S = 1.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SMOKE_PREFIX = "imgedge-smoke"
PURGE_NAME = "a (1)~+!'.jpg"
PURGE_POLL_S = 2.0
TRACE_POLL_S = 2.0
EXTRA_TRACED_REQUESTS = 20  # fresh renders to find one the edge sampled
EDGE_SEGMENT = "imgedge-edge"
RESIZER_SEGMENT = "imgedge-resizer"  # the local stack's; on Lambda: an "imgedge" subsegment
RESIZER_SUBSEGMENT = "imgedge"
REQUEST_ID_ANNOTATION = "cloudfront_request_id"
BOTOCORE_ANNOTATION = "botocore_version"
NOISE_SIZE = (1800, 1300)  # its PNG rendition at 1799 wide is well over the inline limit

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"

Out = Callable[[str], None]
Document = dict[str, Any]


@dataclass
class Reply:
    url: str
    status: int
    headers: Message
    body: bytes
    ms: float

    def header(self, name: str) -> str:
        return self.headers.get(name, "") or ""


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # PASS, FAIL or SKIP
    detail: str

    def line(self) -> str:
        return f"{self.status} {self.name:<16} {self.detail}"


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    miss_ms: float | None = None
    hit_ms: float | None = None

    @property
    def failures(self) -> list[str]:
        return [c.name for c in self.checks if c.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Client:
    def __init__(self, base_url: str, timeout_s: float = 60.0) -> None:
        if "://" not in base_url:
            base_url = "https://" + base_url
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.timeout_s = timeout_s
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if parts.hostname in LOOPBACK:
            handlers.append(urllib.request.ProxyHandler({}))  # never via a proxy
        self._opener = urllib.request.build_opener(*handlers)
        self.request_ids: list[str] = []  # X-Amz-Cf-Id of every answer the resizer rendered

    def get(self, path: str, query: str = "", method: str = "GET") -> Reply:
        """One request; a redirect is answered, not followed."""
        url = self.base + path + (f"?{query}" if query else "")
        headers = {"User-Agent": "imgedge-smoke"}
        request = urllib.request.Request(url, headers=headers, method=method)
        started = time.perf_counter()
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                status, got, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            with error:
                status, got, body = error.code, error.headers, error.read()
        reply = Reply(url, status, got, body, (time.perf_counter() - started) * 1000)
        if reply.header("X-Cache") != HIT and reply.header("X-Amz-Cf-Id"):
            self.request_ids.append(reply.header("X-Amz-Cf-Id"))
        return reply


# --- what the checks need besides HTTP -------------------------------------------------------


class Unavailable(Exception):
    """A check cannot run here; the message says why (its SKIP reason)."""


class TraceSource:
    """Where the traces of the requests this run made can be read."""

    def traces(self, request_ids: Sequence[str], since: datetime) -> list[Document]:
        """``[{"trace_id": ..., "segments": [documents]}]`` of the traces whose edge segment
        has one of ``request_ids`` as its ``cloudfront_request_id``; raises Unavailable."""
        raise NotImplementedError


class LocalTraces(TraceSource):
    """The local stack's X-Ray daemon records, as ``imgedge traces`` reads them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def traces(self, request_ids: Sequence[str], since: datetime) -> list[Document]:
        from infra.local.traces import read_traces

        wanted = set(request_ids)
        return [t for t in read_traces(self.data_dir) if _edge_request_ids(t) & wanted]


class XRayTraces(TraceSource):
    """X-Ray's API: GetTraceSummaries with an annotation filter, then BatchGetTraces."""

    FILTER_BATCH = 10  # request ids per filter expression

    def __init__(self, client: Any) -> None:
        self.client = client

    def traces(self, request_ids: Sequence[str], since: datetime) -> list[Document]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            ids: list[str] = []
            for batch in _batches(list(request_ids), self.FILTER_BATCH):
                expression = " OR ".join(
                    f'annotation.{REQUEST_ID_ANNOTATION} = "{rid}"' for rid in batch
                )
                pages = self.client.get_paginator("get_trace_summaries").paginate(
                    StartTime=since - timedelta(minutes=1),
                    EndTime=datetime.now(UTC) + timedelta(minutes=1),
                    FilterExpression=expression,
                )
                ids += [s["Id"] for page in pages for s in page.get("TraceSummaries", [])]
            found: list[Document] = []
            for batch in _batches(sorted(set(ids)), 5):  # BatchGetTraces takes 5 at a time
                for page in self.client.get_paginator("batch_get_traces").paginate(TraceIds=batch):
                    for trace in page.get("Traces", []):
                        found.append(
                            {
                                "trace_id": trace["Id"],
                                "segments": [
                                    json.loads(s["Document"]) for s in trace.get("Segments", [])
                                ],
                            }
                        )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if "AccessDenied" in code or code in ("UnrecognizedClientException", "Throttling"):
                raise Unavailable(f"X-Ray refused ({code})") from error
            raise
        except BotoCoreError as error:  # no credentials, no region, no network
            raise Unavailable(f"X-Ray unreachable ({error})") from error
        return found


@dataclass
class Originals:
    """Write access to the originals bucket: a boto3 S3 client and the bucket's name."""

    s3: Any
    bucket: str

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)


@dataclass
class Options:
    key: str = "sample.png"
    originals: Originals | None = None
    no_originals: str = "no originals bucket given"  # the SKIP reason without one
    signing_key: tuple[str, str] | None = None  # (key id, secret)
    traces: TraceSource | None = None
    no_traces: str = "no traces to read"
    purge_timeout_s: float = 300.0
    trace_timeout_s: float = 120.0
    extra_traced_requests: int = EXTRA_TRACED_REQUESTS


# --- the run ---------------------------------------------------------------------------------


def _describe(reply: Reply) -> str:
    cache = f"X-Cache: {reply.header('X-Cache') or '-'}"
    return f"{reply.status} {reply.header('Content-Type') or '-'}, {len(reply.body)} bytes, {cache}"


def _path(key: str) -> str:
    return "/" + quote(key.lstrip("/"))


def _fresh_params() -> dict[str, str]:
    """A random size and quality, so that each run finds fresh variants (sizes and
    qualities snap to the allow-lists, so a rare one may be cached already)."""
    width, height = 100 + secrets.randbelow(900), 100 + secrets.randbelow(900)
    return {"s": f"{width}x{height}", "f": formats.WEBP.name, "q": str(1 + secrets.randbelow(100))}


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


class _Run:
    def __init__(self, client: Client, options: Options, out: Out) -> None:
        self.client = client
        self.options = options
        self.out = out
        self.report = Report()
        self.started = datetime.now(UTC)

    def record(self, name: str, status: str, detail: str) -> bool:
        check = Check(name, status, detail)
        self.report.checks.append(check)
        self.out(check.line())
        return status == PASS

    def check(self, name: str, ok: bool, reply: Reply, expected: str) -> bool:
        detail = f"{_describe(reply)}, {reply.ms:.0f} ms"
        if not ok:
            detail += f"; expected {expected}: {reply.url}"
        return self.record(name, PASS if ok else FAIL, detail)

    def fail(self, name: str, error: Exception) -> None:
        self.record(name, FAIL, f"{type(error).__name__}: {error}")

    # --- over HTTP ---------------------------------------------------------------------

    def cache(self) -> None:
        client, key = self.client, self.options.key
        path = _path(key)
        for _ in range(FRESH_VARIANT_TRIES):
            params = _fresh_params()
            miss = client.get(path, _query(params))
            if miss.header("X-Cache") != HIT:
                break
        if self.check(
            "miss",
            miss.status == 200
            and miss.header("X-Cache") == MISS
            and miss.header("Content-Type") == formats.WEBP.media_type
            and formats.identify(miss.body) is formats.WEBP
            and miss.header("X-Content-Type-Options") == "nosniff",
            miss,
            f"200 {formats.WEBP.media_type}, X-Cache: {MISS}, X-Content-Type-Options: nosniff "
            f"(is {key!r} in the originals bucket?)",
        ):
            self.report.miss_ms = miss.ms

        # CloudFront may need a moment (or another request) to have stored it.
        for attempt in range(HIT_TRIES):
            hit = client.get(path, _query(params))
            if hit.header("X-Cache") == HIT or attempt == HIT_TRIES - 1:
                break
            time.sleep(HIT_RETRY_DELAY_S)
        if self.check(
            "hit",
            hit.status == 200 and hit.header("X-Cache") == HIT and hit.body == miss.body,
            hit,
            f"200, X-Cache: {HIT}, the miss's bytes",
        ):
            self.report.hit_ms = hit.ms

        # Another spelling of the same request: one canonical key, so the same cache entry.
        respelled = "&".join(
            [f"smoke={secrets.token_hex(4)}"]
            + [f"{k.upper()}={v.upper()}" for k, v in reversed(list(params.items()))]
        )
        same = client.get(path, respelled)
        self.check(
            "normalization",
            same.status == 200 and same.header("X-Cache") == HIT and same.body == miss.body,
            same,
            f"200, X-Cache: {HIT} and the same bytes for ?{respelled}",
        )

    def head_then_get(self) -> None:
        path = _path(self.options.key)
        for _ in range(FRESH_VARIANT_TRIES):
            query = _query(_fresh_params())
            head = self.client.get(path, query, method="HEAD")
            if head.header("X-Cache") != HIT:
                break
        if not self.check(
            "head",
            head.status == 200
            and not head.body
            and formats.is_image_media_type(head.header("Content-Type")),
            head,
            "200, an image type, no body",
        ):
            return
        got = self.client.get(path, query)
        kind = formats.identify(got.body)
        self.check(
            "get-after-head",
            got.status == 200
            and kind is not None
            and got.header("Content-Type") == kind.media_type,
            got,
            "200 with the image's body (not the HEAD's empty one)",
        )

    def errors(self) -> None:
        missing = self.client.get(f"/{SMOKE_PREFIX}-missing-{secrets.token_hex(8)}.png", "s=64x64")
        self.check("404", missing.status == 404, missing, "404 for an original that does not exist")
        bad = self.client.get(_path(self.options.key), "s=banana")
        self.check("400", bad.status == 400, bad, "400 for s=banana")

    # --- with the originals bucket -------------------------------------------------------

    def purge(self) -> None:
        originals = self.options.originals
        if originals is None:
            self.record(
                "purge",
                SKIP,
                f"needs write access to the originals bucket: {self.options.no_originals}",
            )
            return
        key = f"{SMOKE_PREFIX}/{secrets.token_hex(6)}/{PURGE_NAME}"
        path, query = _path(key), "s=320x240&f=webp"
        try:
            originals.put(key, _jpeg((200, 40, 40)), formats.JPEG.media_type)
        except Exception as error:
            self.record("purge", SKIP, f"cannot write to s3://{originals.bucket}: {error}")
            return
        try:
            first = self.client.get(path, query)
            if first.status != 200 or formats.identify(first.body) is None:
                self.check("purge", False, first, f"200 and an image for {key!r}")
                return
            originals.put(key, _jpeg((40, 40, 200)), formats.JPEG.media_type)
            replaced = time.monotonic()
            deadline = replaced + self.options.purge_timeout_s
            while True:
                now = self.client.get(path, query)
                fresh = now.status == 200 and now.body != first.body
                if fresh or time.monotonic() > deadline:
                    break
                time.sleep(PURGE_POLL_S)
            waited = time.monotonic() - replaced
            self.record(
                "purge",
                PASS if fresh and formats.identify(now.body) is not None else FAIL,
                f"{key!r}: the replaced original served after {waited:.1f} s"
                if fresh
                else f"{key!r}: still the old picture after {waited:.0f} s ({_describe(now)})",
            )
        except Exception as error:
            self.fail("purge", error)
        finally:
            _quietly(lambda: originals.delete(key))

    def signed_redirect(self) -> None:
        originals, signing = self.options.originals, self.options.signing_key
        if signing is None:
            self.record("signed-redirect", SKIP, "needs a signing key id and secret")
            return
        if originals is None:
            self.record(
                "signed-redirect",
                SKIP,
                f"needs write access to the originals bucket: {self.options.no_originals}",
            )
            return
        from regional_resizer.responses import MAX_INLINE_BYTES
        from shared.config import Config
        from shared.contract import ImageRequest
        from shared.signing import signature

        key = f"{SMOKE_PREFIX}/{secrets.token_hex(6)}/noise.png"
        try:
            originals.put(key, _noise_png(NOISE_SIZE), formats.PNG.media_type)
        except Exception as error:
            self.record(
                "signed-redirect", SKIP, f"cannot write to s3://{originals.bucket}: {error}"
            )
            return
        try:
            width = NOISE_SIZE[0] - 1
            request = ImageRequest.parse(f"{width}x/png/{key}", Config(), signed=True)
            sig = signature(request.key, *signing)
            first = self.client.get(_path(key), f"s={width}x&f=png&sig={sig}")
            location = first.header("Location")
            if first.status not in (301, 302, 303, 307, 308) or not location:
                self.check("signed-redirect", False, first, "a redirect (over the inline limit)")
                return
            if location.startswith("/"):
                path, _, query = location.partition("?")
            else:
                parts = urlsplit(location)
                path, query = parts.path, parts.query
            followed = self.client.get(path, query)
            self.check(
                "signed-redirect",
                followed.status == 200
                and formats.identify(followed.body) is formats.PNG
                and len(followed.body) > MAX_INLINE_BYTES,
                followed,
                f"200, a PNG over {MAX_INLINE_BYTES} bytes at {location}",
            )
        except Exception as error:
            self.fail("signed-redirect", error)
        finally:
            _quietly(lambda: originals.delete(key))

    # --- with the traces -------------------------------------------------------------------

    def trace(self) -> None:
        source = self.options.traces
        if source is None:
            self.record("trace", SKIP, self.options.no_traces)
            self.record("botocore", SKIP, f"read from the trace: {self.options.no_traces}")
            return
        path = _path(self.options.key)
        for _ in range(self.options.extra_traced_requests):  # the edge samples a share
            self.client.get(path, _query({**_fresh_params(), "f": "jpeg"}))
        ids = list(dict.fromkeys(self.client.request_ids))
        deadline = time.monotonic() + self.options.trace_timeout_s
        try:
            while True:
                found = [t for t in source.traces(ids, self.started) if _joined(t)]
                if found or time.monotonic() > deadline:
                    break
                time.sleep(TRACE_POLL_S)
        except Unavailable as error:
            self.record("trace", SKIP, str(error))
            self.record("botocore", SKIP, f"read from the trace: {error}")
            return
        except Exception as error:
            self.fail("trace", error)
            self.record("botocore", SKIP, "no trace read")
            return
        if not found:
            self.record(
                "trace",
                FAIL,
                f"no trace held the edge's and the resizer's segments "
                f"of any of {len(ids)} rendered requests (X-Amz-Cf-Id) within "
                f"{self.options.trace_timeout_s:.0f} s; is trace_sampling_rate 0?",
            )
            self.record("botocore", SKIP, "no trace found")
            return
        trace = found[0]
        request_id = sorted(_edge_request_ids(trace))[0]
        self.record(
            "trace",
            PASS,
            f"{trace['trace_id']}: {EDGE_SEGMENT} and the resizer for X-Amz-Cf-Id {request_id}",
        )
        versions = {
            str(doc["annotations"][BOTOCORE_ANNOTATION])
            for t in found
            for doc in _documents(t)
            if BOTOCORE_ANNOTATION in doc.get("annotations", {})
        }
        if versions:
            self.record(
                "botocore", PASS, f"the resizer runs botocore {', '.join(sorted(versions))}"
            )
        else:
            self.record(
                "botocore", FAIL, f"no {BOTOCORE_ANNOTATION} annotation in {trace['trace_id']}"
            )


def run(base_url: str, options: Options | None = None, out: Out = print) -> Report:
    """Every check against ``base_url``, one line each to ``out``; the report."""
    options = options or Options()
    state = _Run(Client(base_url), options, out)
    state.cache()
    state.head_then_get()
    state.errors()
    state.purge()
    state.signed_redirect()
    state.trace()
    report = state.report
    if report.miss_ms is not None and report.hit_ms is not None:
        out(f"latency: miss {report.miss_ms:.0f} ms, hit {report.hit_ms:.0f} ms")
    out("smoke: ok" if report.ok else f"smoke: FAILED ({', '.join(report.failures)})")
    return report


# --- helpers ---------------------------------------------------------------------------------


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _documents(trace: Document) -> Iterator[Document]:
    def walk(doc: Document) -> Iterator[Document]:
        yield doc
        for child in doc.get("subsegments", []):
            yield from walk(child)

    for segment in trace.get("segments", []):
        yield from walk(segment)


def _edge_request_ids(trace: Document) -> set[str]:
    return {
        str(s.get("annotations", {}).get(REQUEST_ID_ANNOTATION))
        for s in trace.get("segments", [])
        if s.get("name") == EDGE_SEGMENT
    } - {"None"}


def _joined(trace: Document) -> bool:
    """Whether ``trace`` holds the edge's segment and the resizer's work."""
    names = {d.get("name") for d in _documents(trace)}
    has_resizer = RESIZER_SEGMENT in names or RESIZER_SUBSEGMENT in names
    return EDGE_SEGMENT in names and has_resizer


def _quietly(call: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):  # clean-up only
        call()


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (640, 480)) -> bytes:
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", size, colour)
    ImageDraw.Draw(picture).rectangle((size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


def _noise_png(size: tuple[int, int]) -> bytes:
    """A PNG that does not compress: its rendition at nearly the same size stays as large."""
    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "PNG")
    return out.getvalue()
