"""The local gallery, served by the CloudFront emulator under ``/_imgedge/`` (a prefix the
edge never routes to locally):

    /_imgedge/                   the originals, each with its number of stored derivatives
    /_imgedge/original?key=K     K's stored derivatives side by side (from the marker index):
                                 the viewer URL and canonical key, format, dimensions, bytes,
                                 and the presets (?p=NAME) that name it
    /_imgedge/demo?key=K         a responsive <img srcset> with f=auto: format negotiation;
                                 then one picture per transform parameter (g, fp, dpr, r,
                                 flip, blur, sharpen, fit=contain with bg, each watermark,
                                 a signed crop), each with its viewer URL and canonical key

It only reads: the images it shows are stored derivatives, named by their viewer URLs, so
browsing renders nothing (the demo page's images are rendered like any viewer's). The
pages are built in ``gallery_pages.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from itertools import islice
from typing import Protocol
from urllib.parse import parse_qsl, unquote

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
from shared.errors import InvalidRequest, SignatureInvalid
from shared.signing import SIGNATURE_PARAM, signature
from shared.viewer_query import read, read_query

log = logging.getLogger("imgedge.local")

Response = tuple[int, list[tuple[str, str]], bytes]

GALLERY_ROOT = pages.GALLERY_ROOT
MAX_LISTED = 500  # originals on the index page (each costs one listing of its markers)
# The index's thumbnails when the configuration has no "thumb" preset.
THUMBNAIL_QUERY = "s=256x256"
DEMO_WIDTHS = (320, 640, 1280)
DEMO_SIZES = "(max-width: 600px) 100vw, 50vw"

# The demo's transforms: (parameter, query on the original, what the picture shows). The
# cover crops are square, so that a placement moves the window on any oblong original.
COVER = "s=320x320"
WIDTH = "s=320x"
DEMO_TRANSFORMS = (
    ("cover", COVER, "the centre of the picture: the placements below move this window"),
    ("g=smart", f"{COVER}&g=smart", "the square with the most detail, colour and skin"),
    ("g=north", f"{COVER}&g=north", "the top edge (the window moves on a portrait)"),
    ("g=east", f"{COVER}&g=east", "the right edge (the window moves on a landscape)"),
    ("fp=0.3,0.25", f"{COVER}&fp=0.3,0.25", "centred 30% across and 25% down, as far as it can"),
    ("dpr=2", "s=160x&dpr=2", "320 pixels shown 160 CSS pixels wide, as on a 2x screen"),
    ("r=90", f"{WIDTH}&r=90", "turned a quarter clockwise, then 320 wide"),
    ("flip=h", f"{WIDTH}&flip=h", "mirrored left to right"),
    ("flip=v", f"{WIDTH}&flip=v", "mirrored top to bottom"),
    ("blur=5", f"{WIDTH}&blur=5", "a Gaussian blur of sigma 5 output pixels"),
    ("sharpen=2", f"{WIDTH}&sharpen=2", "an unsharp mask of sigma 2"),
    ("fit=contain&bg=000000", "s=320x160&fit=contain&bg=000000",
     "the whole picture inside a 2:1 box, padded on black"),
)  # fmt: skip
DEMO_SHARES = {"dpr=2": WIDTH}  # the query whose key each of these shares
DPR_SHOWN_WIDTH = 160  # CSS pixels: s=160x&dpr=2 on a 2x screen
DEMO_CROP = "0,0,800,600"  # pixels: it meets any original (a crop that misses is a 400)
DEMO_CROP_SHOWS = "the top-left 800x600 pixels of the upright original (or all of a smaller one)"


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
        transforms = demo_transforms(key, self.config)
        return 200, list(HEADERS), pages.demo_page(key, candidates, DEMO_SIZES, transforms)

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


def demo_transforms(key: str, config: Config) -> Sequence[pages.TransformDemo]:
    """One picture per transform parameter on original ``key``: its viewer URL and the
    canonical key the edge maps it to; a parameter the configuration does not allow, no
    watermark, no signing key: a line that says so instead."""
    uri = "/" + request_path(key)
    shown = []
    for name, query, about in DEMO_TRANSFORMS:
        demo = _transform(uri, name, query, about, config)
        shares = DEMO_SHARES.get(name)
        if shares is not None and demo.key and _key(uri, shares, config) == demo.key:
            demo = replace(demo, shares=f"{uri}?{shares}", max_width=DPR_SHOWN_WIDTH)
        shown.append(demo)
    for name, mark in config.watermarks.items():
        about = f"the watermark {name} ({mark.key}), {mark.gravity}, {mark.scale:g} of the width"
        shown.append(_transform(uri, f"wm={name}", f"{WIDTH}&wm={name}", about, config))
    if not config.watermarks:
        shown.append(pages.TransformDemo("wm", "No watermark is configured ([watermarks.NAME])."))
    shown.append(_signed_crop(uri, config))
    return shown


def _transform(uri: str, name: str, query: str, about: str, config: Config) -> pages.TransformDemo:
    try:
        key = _key(uri, query, config)
    except (InvalidRequest, SignatureInvalid) as error:
        return pages.TransformDemo(name, _refused(error))
    return pages.TransformDemo(name, about, f"{uri}?{query}", key)


def _refused(error: InvalidRequest | SignatureInvalid) -> str:
    return f"not shown: the edge answers {error.status} ({error.message})."


def _key(uri: str, query: str, config: Config) -> str:
    return normalize(uri, query, None, config).key


def _signed_crop(uri: str, config: Config) -> pages.TransformDemo:
    """The crop, signed with the last key id of ``signing_keys`` (as the resizer signs the
    URLs it redirects to): ``sig`` covers the canonical key of the exact request."""
    name = f"crop={DEMO_CROP}"
    if not config.signing_keys:
        return pages.TransformDemo(
            "crop", "No signing key is configured (signing_keys): a crop needs a signed URL."
        )
    query = f"{WIDTH}&crop={DEMO_CROP}"
    key_id, secret = list(config.signing_keys.items())[-1]
    try:
        params, _ = read_query(query, config)
        source = unquote(uri[1:])
        request = read(source, params, config, signed=True, auto=lambda: config.formats[0])
    except InvalidRequest as error:
        return pages.TransformDemo(name, _refused(error))
    signed = f"{query}&{SIGNATURE_PARAM}={signature(request.key, key_id, secret)}"
    about = f"{DEMO_CROP_SHOWS}, then 320 wide; signed with key id {key_id}"
    return _transform(uri, name, signed, about, config)


def _error(status: int, message: str) -> Response:
    return status, list(HEADERS), pages.error_page(status, message)
