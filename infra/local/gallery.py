"""The local gallery, served by the CloudFront emulator under ``/_imgedge/`` (a prefix the
edge never routes to locally):

    /_imgedge/                   the originals, each with its number of stored derivatives
    /_imgedge/original?key=K     K's stored derivatives side by side (from the marker index):
                                 the viewer URL and canonical key, format, dimensions, bytes,
                                 and the presets (?p=NAME) that name it
    /_imgedge/demo?key=K         a responsive <img srcset> with f=auto: format negotiation

It only reads: the images it shows are stored derivatives, named by their viewer URLs, so
browsing renders nothing (the demo page's images are rendered like any viewer's). The
pages are built in ``gallery_pages.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Protocol
from urllib.parse import parse_qsl

from botocore.exceptions import BotoCoreError, ClientError

from edge_router.normalize import normalize
from infra.inventory import (
    DerivativeInfo,
    OriginalInfo,
    parse_stored,
    request_path,
    viewer_path,
)
from infra.local import gallery_pages as pages
from regional_resizer.precompute import preset_requests
from shared import formats
from shared.config import Config
from shared.errors import InvalidRequest

log = logging.getLogger("imgedge.local")

Response = tuple[int, list[tuple[str, str]], bytes]

GALLERY_ROOT = pages.GALLERY_ROOT
MAX_LISTED = 500  # originals on the index page (each costs one listing of its markers)
# The index's thumbnails when the configuration has no "thumb" preset.
THUMBNAIL_QUERY = "s=256x256"
DEMO_WIDTHS = (320, 640, 1280)
DEMO_SIZES = "(max-width: 600px) 100vw, 50vw"


def _demo_accepts() -> tuple[tuple[str, str], ...]:
    """The Accept headers the demo explains f=auto with, one per outcome: each of its
    choices named with those it prefers less, then none ("image/avif,image/webp,*/*",
    "image/webp,*/*", "*/*")."""
    choices = formats.AUTO_PREFERENCE
    named = [
        (fmt.name, ",".join([*(less.media_type for less in choices[i:]), "*/*"]))
        for i, fmt in enumerate(choices)
    ]
    return (*named, ("neither", "*/*"))


DEMO_ACCEPTS = _demo_accepts()
HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]


class Catalogue(Protocol):
    """What the gallery reads (``infra.inventory.Inventory`` over the two buckets)."""

    def originals(self, prefix: str = "") -> Iterable[OriginalInfo]: ...
    def original(self, key: str) -> OriginalInfo | None: ...
    def derivatives(self, source: str) -> list[DerivativeInfo]: ...
    def count_derivatives(self, source: str) -> int: ...


class Gallery:
    def __init__(self, catalogue: Catalogue, config: Config) -> None:
        self.catalogue = catalogue
        self.config = config

    def respond(self, path: str, query: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
        """Status, headers and body for a GET of ``path`` (under ``/_imgedge/``)."""
        try:
            params = dict(parse_qsl(query, keep_blank_values=True, errors="strict"))
        except ValueError:
            return _error(400, "The query string is not valid UTF-8.")
        try:
            if path == GALLERY_ROOT:
                return self.index()
            if path == GALLERY_ROOT + "original":
                return self.original(params.get("key", ""))
            if path == GALLERY_ROOT + "demo":
                return self.demo(params.get("key", ""))
        except (ClientError, BotoCoreError):
            log.exception("gallery: S3 failed for %s", path)
            return _error(502, "S3 failed; see the stack's log.")
        return _error(404, "No such page.")

    def index(self) -> Response:
        listed = list(islice(self.catalogue.originals(), MAX_LISTED + 1))
        rows = [(o, self.catalogue.count_derivatives(o.key)) for o in listed[:MAX_LISTED]]
        thumbnail = "p=thumb" if "thumb" in self.config.presets else THUMBNAIL_QUERY
        truncated = len(listed) > MAX_LISTED
        return 200, list(HEADERS), pages.index_page(rows, truncated, thumbnail)

    def original(self, key: str) -> Response:
        if not key:
            return _error(400, "Name an original: ?key=...")
        original = self.catalogue.original(key)
        derivatives = self.catalogue.derivatives(key)
        if original is None and not derivatives:
            return _error(404, f"No original {key!r}.")
        presets = self._presets_of(key)
        shown = [(d, self._viewer_url(d), presets.get(d.key, [])) for d in derivatives]
        return 200, list(HEADERS), pages.original_page(key, original, shown)

    def demo(self, key: str) -> Response:
        if not key:
            return _error(400, "Name an original: ?key=...")
        if self.catalogue.original(key) is None:
            return _error(404, f"No original {key!r}.")
        try:
            candidates = demo_candidates(key, self.config)
        except InvalidRequest as error:
            return _error(404, f"{key!r} cannot be asked for: {error.message}.")
        return 200, list(HEADERS), pages.demo_page(key, candidates, DEMO_SIZES)

    def _presets_of(self, source: str) -> dict[str, list[str]]:
        """Canonical key -> the presets that name it for ``source``."""
        named: dict[str, list[str]] = {}
        for name, query in self.config.presets.items():
            try:
                requests = preset_requests(source, query, self.config)
            except InvalidRequest:
                continue
            for request in requests:
                named.setdefault(request.key, []).append(name)
        return named

    def _viewer_url(self, derivative: DerivativeInfo) -> str:
        request = parse_stored(derivative.key, self.config)
        return viewer_path(request, self.config) if request is not None else ""


def demo_candidates(key: str, config: Config) -> Sequence[pages.DemoCandidate]:
    """Each width's ``f=auto`` URL, and the key it becomes for each kind of viewer."""
    uri = "/" + request_path(key)
    candidates = []
    for width in DEMO_WIDTHS:
        query = f"s={width}x&f=auto"
        keys = [
            (label, normalize(uri, query, accept, config).key) for label, accept in DEMO_ACCEPTS
        ]
        candidates.append(pages.DemoCandidate(width, f"{uri}?{query}", keys))
    return candidates


def _error(status: int, message: str) -> Response:
    return status, list(HEADERS), pages.error_page(status, message)
