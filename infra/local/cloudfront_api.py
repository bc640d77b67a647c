"""The part of CloudFront's control API that invalidates: CreateInvalidation, GetInvalidation
and ListInvalidations of one distribution, over the real REST-XML protocol (API version
2020-05-31), so boto3's ``create_invalidation``, ``get_invalidation``,
``list_invalidations`` and the ``invalidation_completed`` waiter run unchanged against the
local stack (``AWS_ENDPOINT_URL_CLOUDFRONT``).

What it emulates, and where AWS says so:

- An invalidation is asynchronous. CreateInvalidation answers 201 with a ``Location``
  header (the invalidation's URI) and Status ``InProgress``; the invalidation reaches the
  emulator's cache only when it completes, ``completion_delay_s`` later, and then reads
  ``Completed`` (API Reference, CreateInvalidation and the Invalidation data type:
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateInvalidation.html,
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_Invalidation.html). On
  AWS each edge starts at once but nothing says when a given edge is done, so the
  pessimistic reading is used: every cached copy is served until Completed. The default
  delay, DEFAULT_COMPLETION_DELAY_S, is 5 s: long enough to see that a purge is not
  instant, short enough for the local stack and the tests. AWS usually takes longer (its
  own waiter polls GetInvalidation every 20 s, up to 30 times); a client must poll.
- In progress at one time, per distribution: up to 3,000 file paths, and separately up to
  15 wildcard (``*``) paths; a request over either gets TooManyInvalidationsInProgress
  (400) and creates nothing ("Concurrent invalidation request maximum",
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html).
  The documents give no other size for a batch; BatchTooLarge (413) answers one that
  could never fit those quotas (more than 3,000 file paths, or more than 15 wildcards).
- Paths ("What you need to know when invalidating paths", https://docs.aws.amazon.com/
  AmazonCloudFront/latest/DeveloperGuide/invalidation-specifying-objects.html): through
  the API a path begins with ``/``, is at most 4,000 characters, has ``*`` only as its last
  character, and has its non-ASCII and unsafe characters URL-encoded; anything else is
  InvalidArgument (400). A path matches the cached URI exactly, case included, query
  string ignored (``ResponseCache.invalidate``). Every path counts, duplicates included.
- Quantity must equal the number of paths: InconsistentQuantities (400); an empty batch
  invalidates nothing and is refused (InvalidArgument).
- CallerReference: the same reference with the same paths returns the invalidation made
  the first time (nothing new is created or counted); with other paths it is
  InvalidationBatchAlreadyExists (the API names the error but not its status: 409 here,
  as CloudFront's other ``AlreadyExists`` errors). Paths are compared in order.
- ListInvalidations: most recent first, ``Marker`` is the ID of the previous page's last
  invalidation, at most 100 a page whatever ``MaxItems`` asks
  (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ListInvalidations.html).
- Errors have CloudFront's XML shape (``ErrorResponse/Error/{Type,Code,Message}``,
  ``RequestId``) and the status the API gives each code, so boto3 raises ClientError with
  the right ``Error.Code``: NoSuchDistribution and NoSuchInvalidation are 404.

Not emulated: CreateInvalidation's request rate, which AWS does not document and answers
with Throttling (400) when exceeded; signatures (any credentials are accepted).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import secrets
import string
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Self
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from infra.local.cache import ResponseCache
from infra.local.http_server import BackgroundHTTPServer

log = logging.getLogger("imgedge.cloudfront-api")

API_VERSION = "2020-05-31"
NAMESPACE = f"http://cloudfront.amazonaws.com/doc/{API_VERSION}/"

DEFAULT_COMPLETION_DELAY_S = 5.0
MAX_FILE_PATHS_IN_PROGRESS = 3000
MAX_WILDCARD_PATHS_IN_PROGRESS = 15
MAX_PATH_CHARS = 4000
MAX_LIST_ITEMS = 100

IN_PROGRESS, COMPLETED = "InProgress", "Completed"
# Printable ASCII that RFC 1738 does not call unsafe ('%' is the escape itself).
_PATH_CHARS = frozenset(string.ascii_letters + string.digits + "/%-._!$&'()*+,;=:@")
_ID_CHARS = string.ascii_uppercase + string.digits


class ApiError(Exception):
    """A CloudFront error: the HTTP status, the error code and its message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def _invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidArgument", message)


@dataclass
class Invalidation:
    id: str
    paths: tuple[str, ...]
    reference: str
    created: float = field(default_factory=time.time)  # wall clock, for CreateTime
    status: str = IN_PROGRESS

    @property
    def wildcards(self) -> int:
        return sum(path.endswith("*") for path in self.paths)

    @property
    def files(self) -> int:
        return len(self.paths) - self.wildcards


def check_paths(paths: list[str]) -> None:
    """Refuse a batch CloudFront would refuse whatever else is in progress."""
    if not paths:
        raise _invalid("An invalidation batch needs at least one path.")
    for path in paths:
        if (
            not path.startswith("/")
            or len(path) > MAX_PATH_CHARS
            or "*" in path[:-1]
            or not _PATH_CHARS.issuperset(path)
        ):
            raise _invalid("Your request contains one or more invalid invalidation paths.")
    probe = Invalidation("", tuple(paths), "")
    if probe.files > MAX_FILE_PATHS_IN_PROGRESS or probe.wildcards > MAX_WILDCARD_PATHS_IN_PROGRESS:
        raise ApiError(413, "BatchTooLarge", "Invalidation batch specified is too large.")


class Invalidations:
    """One distribution's invalidations: created InProgress, applied (``apply(paths)``) and
    Completed ``delay_s`` later by a background thread, kept for listing afterwards."""

    def __init__(self, apply: Callable[[list[str]], object], delay_s: float) -> None:
        self.apply, self.delay_s = apply, delay_s
        self._all: list[Invalidation] = []  # oldest first
        self._by_id: dict[str, Invalidation] = {}
        self._by_reference: dict[str, Invalidation] = {}
        self._due: list[tuple[float, int, Invalidation]] = []  # (time.monotonic(), seq, ...)
        self._seq = itertools.count()
        self._changed = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="invalidations", daemon=True)

    def create(self, paths: list[str], reference: str) -> tuple[Invalidation, bool]:
        """The invalidation of ``paths``, and whether it is new (False: a resubmission)."""
        check_paths(paths)
        with self._changed:
            earlier = self._by_reference.get(reference)
            if earlier is not None:
                if earlier.paths != tuple(paths):
                    raise ApiError(
                        409,
                        "InvalidationBatchAlreadyExists",
                        "An invalidation with this CallerReference has other paths.",
                    )
                return earlier, False
            new = Invalidation(self._new_id(), tuple(paths), reference)
            running = [i for i in self._all if i.status == IN_PROGRESS]
            if (
                sum(i.files for i in running) + new.files > MAX_FILE_PATHS_IN_PROGRESS
                or sum(i.wildcards for i in running) + new.wildcards
                > MAX_WILDCARD_PATHS_IN_PROGRESS
            ):
                raise ApiError(
                    400,
                    "TooManyInvalidationsInProgress",
                    "Processing your request will cause you to exceed the maximum number of "
                    "in-progress invalidations.",
                )
            self._all.append(new)
            self._by_id[new.id] = self._by_reference[reference] = new
            heapq.heappush(self._due, (time.monotonic() + self.delay_s, next(self._seq), new))
            self._changed.notify()
            return new, True

    def get(self, invalidation_id: str) -> Invalidation:
        with self._changed:
            found = self._by_id.get(invalidation_id)
        if found is None:
            raise ApiError(404, "NoSuchInvalidation", "The specified invalidation does not exist.")
        return found

    def page(self, marker: str, max_items: int) -> tuple[list[Invalidation], str | None]:
        """Up to ``max_items`` invalidations after ``marker``, newest first, and the next
        page's marker (None on the last page)."""
        with self._changed:
            newest_first = self._all[::-1]
        start = 0
        if marker:
            ids = [i.id for i in newest_first]
            if marker not in ids:
                raise _invalid("The marker is not an invalidation of this distribution.")
            start = ids.index(marker) + 1
        items = newest_first[start : start + max_items]
        more = start + max_items < len(newest_first)
        return items, (items[-1].id if more and items else None)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        with self._changed:
            while not self._stopping:
                now = time.monotonic()
                if self._due and self._due[0][0] <= now:
                    invalidation = heapq.heappop(self._due)[2]
                    # The cache first: whoever reads Completed never gets a stale copy.
                    removed = self.apply(list(invalidation.paths))
                    invalidation.status = COMPLETED
                    log.info("invalidation %s completed (removed %s)", invalidation.id, removed)
                    continue
                self._changed.wait(self._due[0][0] - now if self._due else None)

    def _new_id(self) -> str:
        while True:  # IDs look like AWS's: "I" and 13 upper-case letters or digits
            candidate = "I" + "".join(secrets.choice(_ID_CHARS) for _ in range(13))
            if candidate not in self._by_id:
                return candidate


# --- the XML documents ---------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_batch(body: bytes) -> tuple[list[str], str]:
    """The paths and caller reference of an InvalidationBatch document."""
    if not body:
        raise ApiError(400, "MissingBody", "This operation requires a body.")
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise _invalid("The request body is not well-formed XML.") from None
    if _local(root.tag) != "InvalidationBatch":
        raise _invalid("The request body is not an InvalidationBatch.")
    fields = {_local(child.tag): child for child in root}
    paths_el, reference_el = fields.get("Paths"), fields.get("CallerReference")
    if paths_el is None or reference_el is None or not (reference_el.text or ""):
        raise _invalid("An InvalidationBatch needs Paths and a CallerReference.")
    parts = {_local(child.tag): child for child in paths_el}
    quantity = (parts["Quantity"].text or "").strip() if "Quantity" in parts else ""
    if not quantity.isdigit():
        raise _invalid("Paths needs a Quantity.")
    items = parts.get("Items")
    paths = [el.text or "" for el in items if _local(el.tag) == "Path"] if items is not None else []
    if int(quantity) != len(paths):
        raise ApiError(
            400,
            "InconsistentQuantities",
            "The value of Quantity and the size of Items don't match.",
        )
    return paths, reference_el.text or ""


def _time(seconds: float) -> str:
    stamp = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def invalidation_xml(invalidation: Invalidation) -> bytes:
    items = "".join(f"<Path>{escape(p)}</Path>" for p in invalidation.paths)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Invalidation xmlns="{NAMESPACE}">'
        f"<Id>{invalidation.id}</Id><Status>{invalidation.status}</Status>"
        f"<CreateTime>{_time(invalidation.created)}</CreateTime><InvalidationBatch>"
        f"<Paths><Quantity>{len(invalidation.paths)}</Quantity><Items>{items}</Items></Paths>"
        f"<CallerReference>{escape(invalidation.reference)}</CallerReference>"
        "</InvalidationBatch></Invalidation>"
    ).encode()


def list_xml(
    items: list[Invalidation], marker: str, max_items: int, next_marker: str | None
) -> bytes:
    summaries = "".join(
        f"<InvalidationSummary><Id>{i.id}</Id><CreateTime>{_time(i.created)}</CreateTime>"
        f"<Status>{i.status}</Status></InvalidationSummary>"
        for i in items
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><InvalidationList xmlns="{NAMESPACE}">'
        f"<Marker>{escape(marker)}</Marker>"
        + (f"<NextMarker>{next_marker}</NextMarker>" if next_marker else "")
        + f"<MaxItems>{max_items}</MaxItems>"
        f"<IsTruncated>{'true' if next_marker else 'false'}</IsTruncated>"
        f"<Quantity>{len(items)}</Quantity>"
        + (f"<Items>{summaries}</Items>" if items else "")
        + "</InvalidationList>"
    ).encode()


def error_xml(error: ApiError, request_id: str) -> bytes:
    return (
        f'<?xml version="1.0"?><ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type>'
        f"<Code>{error.code}</Code><Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


# --- HTTP ----------------------------------------------------------------------------------

_ROUTE = re.compile(rf"/{API_VERSION}/distribution/([^/]+)/invalidation(?:/([^/]+))?")


class _Handler(BaseHTTPRequestHandler):
    server: CloudFrontApiServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def do_GET(self) -> None:
        self._answer(b"")

    def _answer(self, body: bytes) -> None:
        request_id = str(uuid.uuid4())
        url = urlsplit(self.path)
        location = ""
        try:
            route = _ROUTE.fullmatch(url.path)
            if route is None:
                raise ApiError(404, "NoSuchResource", "A resource that was specified is not valid.")
            if route[1] != self.server.distribution_id:
                raise ApiError(
                    404, "NoSuchDistribution", "The specified distribution does not exist."
                )
            invalidations, invalidation_id = self.server.invalidations, route[2]
            if self.command == "POST" and invalidation_id is None:  # CreateInvalidation
                paths, reference = parse_batch(body)
                invalidation, new = invalidations.create(paths, reference)
                if new:
                    log.info("invalidation %s of %d paths: InProgress", invalidation.id, len(paths))
                status, document = 201, invalidation_xml(invalidation)
                location = f"{self.server.url}{url.path}/{invalidation.id}"
            elif self.command == "GET" and invalidation_id is not None:  # GetInvalidation
                status, document = 200, invalidation_xml(invalidations.get(invalidation_id))
            elif self.command == "GET":  # ListInvalidations
                status, document = 200, self._list(invalidations, url.query)
            else:
                raise ApiError(404, "NoSuchResource", "A resource that was specified is not valid.")
        except ApiError as error:
            status, document = error.status, error_xml(error, request_id)
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(document)))
        self.send_header("x-amz-request-id", request_id)
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(document)

    @staticmethod
    def _list(invalidations: Invalidations, query: str) -> bytes:
        params = {name: values[-1] for name, values in parse_qs(query).items()}
        asked = params.get("MaxItems", str(MAX_LIST_ITEMS))
        if not asked.isdigit() or int(asked) < 1:
            raise _invalid("MaxItems must be a positive integer.")
        max_items, marker = min(int(asked), MAX_LIST_ITEMS), params.get("Marker", "")
        items, next_marker = invalidations.page(marker, max_items)
        return list_xml(items, marker, max_items, next_marker)

    def log_message(self, format: str, *args: object) -> None:
        log.debug(format, *args)


class CloudFrontApiServer(BackgroundHTTPServer):
    """The invalidation API of one distribution, acting on the emulator's cache."""

    thread_name = "cloudfront-api"

    def __init__(
        self,
        cache: ResponseCache,
        distribution_id: str,
        host: str = "127.0.0.1",
        completion_delay_s: float | None = None,
    ) -> None:
        super().__init__(host, 0, _Handler)
        self.distribution_id = distribution_id
        delay = DEFAULT_COMPLETION_DELAY_S if completion_delay_s is None else completion_delay_s
        self.invalidations = Invalidations(cache.invalidate, delay)

    def start(self) -> Self:
        self.invalidations.start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        self.invalidations.stop()
