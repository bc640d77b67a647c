"""Hostile URLs against the edge handler itself (CloudFront's real viewer-request event)
and against the resizer's reading of the path it is given.

Whatever a viewer sends, the edge does one of two things and never raises:
- forwards the request with ``uri`` rewritten to a canonical key: ASCII, starting with '/',
  no query; ``ImageRequest.parse`` of it gives it back, and the resizer reads the very same
  request from it (it asks S3 for that source and nothing else);
- answers a generated 400 or 403: a small text body, cached briefly.
A table of known attacks pins the exact outcome of each; spellings of one output share one
key, different outputs never do.
"""

from __future__ import annotations

import copy
import json
import string
from typing import Any, NoReturn
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge_router.handler import make_handler
from regional_resizer import handler as resizer
from shared.config import Config
from shared.contract import MAX_SOURCE_KEY_BYTES, ImageRequest
from shared.errors import InvalidRequest, SourceNotFound
from shared.signing import signature
from tests.conftest import EVENTS

SECRET = "hostile-test-secret-0123456789"
CONFIG = Config(signing_keys={"k1": SECRET})
EDGE = make_handler(CONFIG)
VIEWER_REQUEST: dict[str, Any] = json.loads((EVENTS / "viewer_request.json").read_text())
FUNCTION_URL: dict[str, Any] = json.loads((EVENTS / "function_url.json").read_text())
ERROR_CACHE_CONTROL = f"public, max-age={CONFIG.error_max_age}"
MAX_GENERATED_BODY = 256  # bytes: the edge cuts messages at 200 characters


def sig(key: str, key_id: str = "k1") -> str:
    return "sig=" + signature(key, key_id, SECRET)


# --- running both stages -------------------------------------------------------------------


def viewer_request(uri: str, query: str, accept: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(VIEWER_REQUEST)
    request = event["Records"][0]["cf"]["request"]
    request["uri"], request["querystring"] = uri, query
    if accept is None:
        del request["headers"]["accept"]
    else:
        request["headers"]["accept"] = [{"key": "Accept", "value": accept}]
    return event


def edge(uri: str, query: str = "", accept: str | None = None) -> str:
    """The rewritten URI, or the generated response's status ("400", "403"), after checking
    every invariant of either outcome."""
    result = EDGE(viewer_request(uri, query, accept), None)
    if "status" in result:
        assert result["status"] in ("400", "403"), result
        assert result["headers"]["cache-control"] == [
            {"key": "Cache-Control", "value": ERROR_CACHE_CONTROL}
        ]
        assert result["headers"]["content-type"][0]["value"] == "text/plain; charset=utf-8"
        assert len(result["body"].encode()) <= MAX_GENERATED_BODY, result["body"]
        assert "x-amzn-trace-id" not in result["headers"]
        return str(result["status"])
    uri_out = result["uri"]
    assert result["querystring"] == ""
    assert uri_out.isascii() and uri_out.startswith("/") and "?" not in uri_out, uri_out
    key = unquote(uri_out[1:], errors="strict")
    request = ImageRequest.parse(key, CONFIG, signed=True)  # signed sizes too
    assert request.uri == uri_out
    try:
        ImageRequest.parse(key, CONFIG)
    except InvalidRequest:
        pass  # a signed size: the edge never takes it without its signature
    else:  # an origin-request trigger (a second run) would change nothing...
        rerun = EDGE(viewer_request(uri_out, "", accept), None)
        assert rerun.get("uri") == uri_out, rerun
    # The resizer reads exactly this request from the path CloudFront sends it.
    assert resizer_asks(uri_out) == (404, [request.source])
    return str(uri_out)


class NoOriginals:
    """The resizer's storage, standing in: records which original is asked for, has none,
    and must not be asked for anything else."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_original(self, source: str, max_bytes: int) -> NoReturn:
        self.asked.append(source)
        raise SourceNotFound()

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"the resizer called storage.{name} for a request it refused")


def resizer_asks(raw_path: str) -> tuple[int, list[str]]:
    """The resizer's status for a function URL request of ``raw_path`` (404: the key
    parsed and the original was asked for), and the originals it asked storage for."""
    event = copy.deepcopy(FUNCTION_URL)
    event.pop("queryStringParameters", None)
    event["rawQueryString"] = ""
    event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
    event["requestContext"]["http"]["method"] = "GET"
    event["headers"] = {}
    originals = NoOriginals()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resizer, "storage", lambda: originals)
        patch.setattr(resizer, "config", lambda: CONFIG)
        response = resizer.handler(event, None)
    status = response["statusCode"]
    assert status in (400, 404), response
    assert response["headers"]["cache-control"] == ERROR_CACHE_CONTROL
    if status == 400:
        assert originals.asked == []
    return status, originals.asked


# --- the table -----------------------------------------------------------------------------

LONG = "a" * 10 * 1024
MAX_SOURCE = "a" * MAX_SOURCE_KEY_BYTES
SIGNED = "300x200/webp/a.jpg"

# (uri, query, accept, expected): a status, or the rewritten URI.
TABLE: list[tuple[str, str, str | None, str]] = [
    # path traversal, plain and encoded, and empty segments
    ("/a/../b.jpg", "", None, "400"),
    ("/../a.jpg", "s=256x", None, "400"),
    ("/a/%2e%2e/b.jpg", "", None, "400"),
    ("/a/%2E%2E%2Fb.jpg", "", None, "400"),
    ("/%2e%2e%2f%2e%2e%2fetc/passwd", "", None, "400"),
    ("/a/.%2e/b.jpg", "s=64x", None, "400"),
    ("/./a.jpg", "", None, "400"),
    ("/%2e", "", None, "400"),
    ("/a%2F%2Fb.jpg", "", None, "400"),
    ("//a.jpg", "", None, "400"),
    ("/a//b.jpg", "s=64x", None, "400"),
    ("/a.jpg/", "", None, "400"),
    ("/", "", None, "400"),
    ("/", "s=64x", None, "400"),
    ("a.jpg", "", None, "400"),
    ("/a%5Cb.jpg", "", None, "400"),
    ("/a%5C..%5Cb.jpg", "s=64x", None, "400"),
    ("/a\\b.jpg", "", None, "400"),
    ("/a/%2e%2e%5c%2e%2e%5cb.jpg", "", None, "400"),
    # NUL and control characters
    ("/a%00.jpg", "", None, "400"),
    ("/a.jpg%00.png", "s=64x", None, "400"),
    ("/a%0A.jpg", "", None, "400"),
    ("/a%0D%0ASet-Cookie:%20x=1", "", None, "400"),
    ("/a%09.jpg", "", None, "400"),
    ("/a%1F.jpg", "", None, "400"),
    ("/a%7F.jpg", "", None, "400"),
    ("/a\x00.jpg", "", None, "400"),
    ("/a.jpg", "s=256x%00", None, "400"),
    ("/a.jpg", "f=we%00bp", None, "400"),
    ("/a.jpg", "f=webp%0A", None, "/full/webp/a.jpg"),  # surrounding whitespace is spelling
    # overlong URIs and query strings, and the limits themselves
    ("/" + LONG, "", None, "400"),
    ("/" + LONG, "s=64x", None, "400"),
    ("/a.jpg", "s=256x&utm=" + LONG, None, "400"),
    ("/a.jpg", "s=" + "9" * 10 * 1024, None, "400"),
    ("/a.jpg", "&".join(["x=1"] * 33), None, "400"),
    ("/a.jpg", "&".join(["x=1"] * 31 + ["s=64x"]), None, "/64x/jpeg/a.jpg"),
    ("/" + MAX_SOURCE, "", None, "/original/" + MAX_SOURCE),
    ("/" + MAX_SOURCE, "s=64x", None, "/64x/jpeg/" + MAX_SOURCE),
    ("/" + MAX_SOURCE + "a", "", None, "400"),
    ("/" + "%C3%A9" * 341, "", None, "/original/" + "%C3%A9" * 341),
    ("/" + "%C3%A9" * 480, "", None, "/original/" + "%C3%A9" * 480),  # 960 bytes: the most
    ("/" + "%C3%A9" * 481, "", None, "400"),  # 962 bytes: a key too long
    # not UTF-8: overlong encodings of '.', stray bytes, encoded surrogates, cut sequences
    ("/a%C0%AE.jpg", "", None, "400"),
    ("/%C0%AE%C0%AE/a.jpg", "", None, "400"),
    ("/a/%C0%AE%C0%AE%C0%AFb.jpg", "s=64x", None, "400"),
    ("/a%FF.jpg", "", None, "400"),
    ("/a%ED%A0%80.jpg", "", None, "400"),
    ("/a%E2%80.jpg", "", None, "400"),
    ("/a.jpg", "s=%FF", None, "400"),
    ("/a.jpg", "s=256x&f=%C0%AE", None, "400"),
    ("/a.jpg", "s=256x&utm=%E9", None, "/256x/jpeg/a.jpg"),  # an ignored parameter is ignored
    ("/a.jpg", "s=256x&f=%E9", None, "400"),  # a read one must be UTF-8
    # escapes that are not escapes are characters like any other
    ("/a%zz.jpg", "", None, "/original/a%25zz.jpg"),
    ("/a%2.jpg", "", None, "/original/a%252.jpg"),
    ("/a%25.jpg", "s=256x", None, "/256x/jpeg/a%25.jpg"),
    # Unicode look-alikes stay characters: never a separator, never a dot segment
    ("/a%EF%BC%8Fb.jpg", "", None, "/original/a%EF%BC%8Fb.jpg"),  # fullwidth solidus
    ("/a\uff0fb.jpg", "", None, "/original/a%EF%BC%8Fb.jpg"),  # the same, unencoded
    ("/a%E2%88%95b.jpg", "", None, "/original/a%E2%88%95b.jpg"),  # division slash
    ("/a%EF%BC%BCb.jpg", "", None, "/original/a%EF%BC%BCb.jpg"),  # fullwidth backslash
    ("/%E2%80%A4%E2%80%A4/a.jpg", "", None, "/original/%E2%80%A4%E2%80%A4/a.jpg"),  # U+2024 x2
    ("/\u2024\u2024/a.jpg", "s=64x", None, "/64x/jpeg/%E2%80%A4%E2%80%A4/a.jpg"),
    ("/%EF%BC%8E%EF%BC%8E/a.jpg", "", None, "/original/%EF%BC%8E%EF%BC%8E/a.jpg"),  # U+FF0E x2
    ("/a/.%CC%81./b.jpg", "", None, "/original/a/.%CC%81./b.jpg"),  # combining acute
    ("/%CC%81", "", None, "/original/%CC%81"),
    # precomposed and decomposed are two S3 keys, and so two keys here (no normalization)
    ("/caf%C3%A9.jpg", "", None, "/original/caf%C3%A9.jpg"),
    ("/cafe%CC%81.jpg", "", None, "/original/cafe%CC%81.jpg"),
    # sizes: huge, negative, float, zero, hex, exponent, signs, other digits
    ("/a.jpg", "s=1e3x", None, "400"),
    ("/a.jpg", "s=0x10", None, "400"),
    ("/a.jpg", "s=0x", None, "400"),
    ("/a.jpg", "s=x0", None, "400"),
    ("/a.jpg", "s=0", None, "400"),
    ("/a.jpg", "s=-5x", None, "400"),
    ("/a.jpg", "s=%2B256x", None, "400"),
    ("/a.jpg", "s=99999999999x", None, "400"),
    ("/a.jpg", "s=99999x", None, "400"),
    ("/a.jpg", "s=8193x", None, "400"),
    ("/a.jpg", "s=8192x", None, "/4096x/jpeg/a.jpg"),  # the largest allowed size caps it
    ("/a.jpg", "s=1.5x", None, "400"),
    ("/a.jpg", "s=256.0x", None, "400"),
    ("/a.jpg", "s=256x256x256", None, "400"),
    ("/a.jpg", "s=256%C3%97256", None, "400"),  # multiplication sign
    ("/a.jpg", "s=%EF%BC%92%EF%BC%95%EF%BC%96x", None, "400"),  # fullwidth digits
    ("/a.jpg", "s=x", None, "400"),
    ("/a.jpg", "s=", None, "400"),
    ("/a.jpg", "s", None, "400"),
    ("/a.jpg", "s=00256x", None, "/256x/jpeg/a.jpg"),
    ("/a.jpg", "s=1x1", None, "/16x16/jpeg/a.jpg"),
    ("/a.jpg", "s=256x&q=0", None, "400"),
    ("/a.jpg", "s=256x&q=101", None, "400"),
    ("/a.jpg", "s=256x&q=-1", None, "400"),
    ("/a.jpg", "s=256x&q=1e2", None, "400"),
    ("/a.jpg", "s=256x&q=0x50", None, "400"),
    ("/a.jpg", "s=256x&q=80.0", None, "400"),
    ("/a.jpg", "s=256x&q=075", None, "/256x-q75/jpeg/a.jpg"),
    ("/a.jpg", "s=256x256&fit=fill", None, "400"),
    ("/a.jpg", "f=gif", None, "400"),
    ("/a.jpg", "f=", None, "400"),
    # repeated and unknown parameters
    ("/a.jpg", "s=256x&s=512x", None, "400"),
    ("/a.jpg", "s=250x&s=256x", None, "400"),  # conflicting as written, even if both snap
    ("/a.jpg", "s=256x;f=webp", None, "400"),  # ';' separates nothing
    ("/a.jpg", "p=card&p=thumb", None, "400"),
    ("/a.jpg", "p=thumb&s=256x256", None, "400"),
    ("/a.jpg", "p=../thumb", None, "400"),
    ("/a.jpg", "utm_source=x&fbclid=%00&v=1", None, "/original/a.jpg"),
    # a derivative's key, asked for directly
    ("/256x256/webp/a.jpg", "", None, "/256x256/webp/a.jpg"),
    ("/300x300/webp/a.jpg", "", None, "/original/300x300/webp/a.jpg"),  # off the allow-list
    ("/256x256-cover/webp/a.jpg", "", None, "/original/256x256-cover/webp/a.jpg"),
    ("/256x256/jpg/a.jpg", "", None, "/original/256x256/jpg/a.jpg"),
    ("/0256x256/webp/a.jpg", "", None, "/original/0256x256/webp/a.jpg"),
    ("/256x256/webp/a.jpg", "s=64x", None, "/64x/jpeg/256x256/webp/a.jpg"),
    ("/original/a.jpg", "", None, "/original/a.jpg"),
    ("/original/original/a.jpg", "", None, "/original/original/a.jpg"),
    # signed URLs; the signed key itself, without its signature, is not that derivative
    ("/a.jpg", f"s=300x200&f=webp&{sig(SIGNED)}", None, f"/{SIGNED}"),
    ("/a.jpg", f"{sig(SIGNED).upper()}&F=WEBP&S=300X200", None, f"/{SIGNED}"),
    (f"/{SIGNED}", "", None, f"/original/{SIGNED}"),
    (f"/{SIGNED}", sig(SIGNED), None, "400"),
    ("/256x256/webp/a.jpg", sig("256x256/webp/a.jpg"), None, "400"),
    ("/a.jpg", sig(SIGNED), None, "400"),
    ("/a.jpg", "s=300x200&f=webp", None, "/320x256/webp/a.jpg"),  # unsigned: snapped
    ("/a.jpg", f"s=300x201&f=webp&{sig(SIGNED)}", None, "403"),
    ("/b.jpg", f"s=300x200&f=webp&{sig(SIGNED)}", None, "403"),
    ("/a.jpg", "s=300x200&f=webp&sig=k1." + "0" * 32, None, "403"),
    ("/a.jpg", "s=300x200&f=webp&sig=k9." + sig(SIGNED).split(".")[1], None, "403"),
    ("/a.jpg", "s=300x200&f=webp&sig=", None, "403"),
    ("/a.jpg", f"s=300x200&f=webp&{sig(SIGNED)}&sig=k1.{'0' * 32}", None, "400"),
    ("/a.jpg", f"s=9000x&f=webp&{sig('9000x/webp/a.jpg')}", None, "400"),  # hard limit
    # Accept: only explicit, non-zero types count
    ("/a.jpg", "f=auto", "image/avif;q=0, image/webp;q=abc", "/full/jpeg/a.jpg"),
    ("/a.jpg", "f=auto", "IMAGE/WEBP", "/full/webp/a.jpg"),
    ("/a.jpg", "f=auto", "image/*, */*", "/full/jpeg/a.jpg"),
    ("/a.jpg", "f=auto", ",;=," * 2000 + "image/avif", "/full/jpeg/a.jpg"),
]


@pytest.mark.parametrize(
    ("uri", "query", "accept", "expected"),
    TABLE,
    ids=[f"{i}:{u[:40]}?{q[:40]}" for i, (u, q, _, _) in enumerate(TABLE)],
)
def test_known_hostile_inputs(uri: str, query: str, accept: str | None, expected: str) -> None:
    assert edge(uri, query, accept) == expected


# Spellings of one output: each group gives one key, and no two groups share one.
SPELLINGS: dict[str, list[tuple[str, str, str | None]]] = {
    "/256x256/webp/a.jpg": [
        ("/a.jpg", "s=256x256&f=webp", None),
        ("/a.jpg", "F=WEBP&S=256X256", None),
        ("/a.jpg", "s=200x250&f=webp", None),  # snaps up to the allow-list
        ("/a.jpg", "s=0256x00256&f=webp&fit=cover&q=80", None),  # defaults spelled out
        ("/a.jpg", "s=256x256&f=webp&s=256x256&utm=1&&", None),
        ("/a.jpg", "%73=256x256&f=%77ebp", None),
        ("/a.jpg", "s=%20256x256%20&f=webp", None),
        ("/a.jpg", "p=thumb", None),
        ("/a.jpg", "P=THUMB&p=thumb", None),
        ("/a.jpg", "s=256x256&f=auto", "image/webp,*/*"),
        ("/%61.jpg", "s=256x256&f=webp", None),
        ("/a%2Ejpg", "s=256x256&f=webp", None),
        ("/256x256/webp/a.jpg", "", None),
        ("/256x256/webp/a.jpg", "utm=1", None),
        ("/%32%35%36x256/webp/a.jpg", "", None),
    ],
    "/256x/jpeg/a.jpg": [
        ("/a.jpg", "s=256x", None),
        ("/a.jpg", "s=256X&f=jpg", None),
        ("/a.jpg", "s=256x&f=JPEG&fit=contain", None),  # fit needs both sides
        ("/a.jpg", "s=256x&f=auto", "*/*"),
        ("/256x/jpeg/a.jpg", "", None),
    ],
    "/original/a.jpg": [
        ("/a.jpg", "", None),
        ("/a.jpg", "utm=1&v=%20", None),
        ("/original/a.jpg", "", None),
        ("/original%2Fa.jpg", "", None),
    ],
    "/original/a/b.jpg": [("/a/b.jpg", "", None), ("/a%2Fb.jpg", "", None)],  # %2F is '/'
    "/256x256-contain/png/a.jpg": [
        ("/a.jpg", "s=256x256&f=png&fit=contain", None),
        ("/a.jpg", "s=256x256&f=png&fit=contain&q=50", None),  # png has no quality
        ("/256x256-contain/png/a.jpg", "", None),
    ],
}


def test_spellings_of_one_output_share_one_key_and_outputs_never_share() -> None:
    seen: dict[str, str] = {}
    for expected, spellings in SPELLINGS.items():
        for uri, query, accept in spellings:
            key = edge(uri, query, accept)
            assert key == expected, (uri, query, accept)
            assert seen.setdefault(key, expected) == expected
    assert len(seen) == len(SPELLINGS)


# The resizer's own reading of paths the edge would never send (the function URL is only
# reachable through CloudFront's OAC, but it trusts nothing): (raw path, status, source).
RESIZER_TABLE: list[tuple[str, int, str | None]] = [
    ("/256x256/webp/a/../b.jpg", 400, None),
    ("/256x256/webp/a/%2e%2e/b.jpg", 400, None),
    ("/256x256/webp/a/%2E%2E%2Fb.jpg", 400, None),
    ("/256x256/webp/a%2F%2Fb.jpg", 400, None),
    ("/256x256/webp//a.jpg", 400, None),
    ("//256x256/webp/a.jpg", 400, None),
    ("/256x256/webp/a%5Cb.jpg", 400, None),
    ("/256x256/webp/a%00.jpg", 400, None),
    ("/256x256/webp/a%0A.jpg", 400, None),
    ("/256x256/webp/a%7F.jpg", 400, None),
    ("/256x256/webp/" + LONG, 400, None),
    ("/original/" + MAX_SOURCE + "a", 400, None),
    ("/256x256/webp/a%C0%AE.jpg", 400, None),
    ("/256x256/webp/a%FF.jpg", 400, None),
    ("/1e3x/webp/a.jpg", 400, None),
    ("/0x10/webp/a.jpg", 400, None),
    ("/-5x/webp/a.jpg", 400, None),
    ("/99999999999x/webp/a.jpg", 400, None),
    ("/8193x/webp/a.jpg", 400, None),
    ("/0256x/webp/a.jpg", 400, None),  # the resizer is strict: canonical spelling only
    ("/256x256-cover/webp/a.jpg", 400, None),
    ("/256x256-q80/webp/a.jpg", 400, None),  # the default quality is never spelled
    ("/256x256/WEBP/a.jpg", 400, None),
    ("/256x256/jpg/a.jpg", 400, None),
    ("/256x256/gif/a.jpg", 400, None),
    ("/256x256/webp/", 400, None),
    ("/256x256/webp/a.jpg/", 400, None),
    ("/a.jpg", 400, None),
    ("256x256/webp/a.jpg", 400, None),
    ("/256x256/webp/a.jpg", 404, "a.jpg"),
    ("/%32%35%36x256/webp/a.jpg", 404, "a.jpg"),  # decoded once, then canonical
    ("/256x256/webp/a%2525.jpg", 404, "a%25.jpg"),  # ... and only once
    ("/300x300/webp/a.jpg", 404, "a.jpg"),  # any size: only a signed URL routes it here
    ("/original/a%EF%BC%8Fb.jpg", 404, "a\uff0fb.jpg"),
    ("/original/%E2%80%A4%E2%80%A4/a.jpg", 404, "\u2024\u2024/a.jpg"),
    ("/original/" + MAX_SOURCE, 404, MAX_SOURCE),
]


@pytest.mark.parametrize(
    ("raw_path", "status", "source"),
    RESIZER_TABLE,
    ids=[f"{i}:{p[:50]}" for i, (p, _, _) in enumerate(RESIZER_TABLE)],
)
def test_the_resizer_reads_hostile_paths_strictly(
    raw_path: str, status: int, source: str | None
) -> None:
    assert resizer_asks(raw_path) == (status, [source] if source else [])


# --- properties ----------------------------------------------------------------------------

# Hostile pieces, and plausible ones, so that every outcome comes up: 400, 403 and
# forwarded requests for originals and derivatives.
HOSTILE = (
    "..", ".", "%2e%2e", "%2E%2E%2F", "%2F", "%2f%2f", "%5C", "\\", "%00", "%0A", "%0d",
    "%7F", "%C0%AE", "%C0%AF", "%FF", "%E2%80", "%ED%A0%80", "%", "%2", "%zz", "%25", "+",
    " ", "%20", "?", "#", "&", "=", "\uff0f", "%EF%BC%8F", "\u2024\u2024", "%E2%80%A4",
    "\u0301", "%CC%81", "\x00", "\x7f", "\u202e", "",
)  # fmt: skip
WORDS = (
    "a.jpg", "photos", "cat.png", "anim.gif", "é", "%C3%A9", "original", "full", "256x256",
    "300x200", "256x", "x256", "0256x", "256x256-contain", "256x256-q50", "1e3x", "webp",
    "jpeg", "jpg", "avif", "png", "WEBP",
)  # fmt: skip
SIZES = (
    "256x256", "256x", "x256", "300x200", "0x0", "1e3x", "0x10", "-5x", "99999999999x",
    "8192x", "8193x", "1.5x", "256X256", " 256x ", "00256x", "16x16",
)  # fmt: skip
OTHER_VALUES = (
    "webp", "WEBP", "jpg", "jpeg", "avif", "png", "auto", "gif", "80", "075", "0", "101",
    "1e2", "contain", "inside", "cover", "fill", "thumb", "card", "nope", "%00", "%FF",
    "%C0%AE", "k1." + "0" * 32, "k1.zz", "", "=",
)  # fmt: skip
NAMES = ("s", "f", "q", "fit", "p", "sig", "S", "F", "FIT", "utm", "")

pieces = st.sampled_from(WORDS) | st.sampled_from(HOSTILE) | st.text(max_size=3)
hostile_text = st.lists(pieces, max_size=12).map("".join)
paths = st.lists(st.sampled_from(WORDS) | pieces | hostile_text, min_size=1, max_size=5).map(
    "/".join
)
huge = st.builds(
    lambda piece, count: piece * count,
    st.sampled_from(["a", "a/", "%41", "é", "%C3%A9", "s=1&", "../"]),
    st.integers(300, 12_000),
)
uris = st.one_of(
    st.sampled_from(["/a.jpg", "/photos/cat.png", "/256x256/webp/a.jpg", f"/{SIGNED}"]),
    paths.map(lambda path: "/" + path),
    st.text(max_size=40),
    huge.map(lambda text: "/" + text),
)
pairs = st.one_of(
    st.tuples(st.just("s"), st.sampled_from(SIZES)),
    st.tuples(st.sampled_from(NAMES), st.sampled_from(OTHER_VALUES)),
    st.tuples(st.sampled_from(NAMES) | st.text(max_size=3), hostile_text),
    st.tuples(st.just("sig"), st.just(sig(SIGNED).removeprefix("sig="))),
)
plausible_queries = st.lists(
    st.sampled_from(["s=256x256", "s=300x200", "S=64X", "s=1e3x", "s=0x10"])
    | st.sampled_from(["f=webp", "f=auto", "F=JPG", "f=gif", "q=50", "fit=contain", "p=thumb"])
    | st.sampled_from([sig(SIGNED), "sig=k1." + "0" * 32, "sig=k1.zz", "utm=%FF", "x=1"]),
    max_size=4,
).map("&".join)
queries = st.one_of(
    plausible_queries,
    st.lists(pairs, max_size=5).map(lambda ps: "&".join(f"{n}={v}" for n, v in ps)),
    st.text(max_size=40),
    huge,
)
accepts = st.none() | st.sampled_from(
    ["image/avif,image/webp,*/*", "image/webp", "*/*", "image/avif;q=0", "IMAGE/AVIF;Q=1"]
) | st.text(max_size=40)  # fmt: skip
keys = st.one_of(
    st.tuples(st.sampled_from(SIZES + WORDS), st.sampled_from(WORDS), paths).map("/".join),
    paths.map(lambda path: "original/" + path),
    hostile_text,
    st.text(max_size=60),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(uris, queries, accepts)
@example("/a/%2e%2e/b.jpg", "s=256x", None)
@example("/a%EF%BC%8Fb.jpg", "s=256x256&f=auto", "image/avif")
@example("/" + "a" * 961, "", None)
def test_the_edge_forwards_a_canonical_key_or_answers_400_or_403(
    uri: str, query: str, accept: str | None
) -> None:
    edge(uri, query, accept)  # it checks every invariant of both outcomes


@settings(max_examples=300, deadline=None)
@given(keys)
def test_the_resizer_takes_a_key_only_in_its_canonical_spelling(text: str) -> None:
    for raw_path in ("/" + text, "/" + quote(text, safe="/%")):
        status, asked = resizer_asks(raw_path)
        if status == 404:
            key = unquote(raw_path[1:], errors="strict")
            request = ImageRequest.parse(key, CONFIG, signed=True)
            assert request.key == key and asked == [request.source]
    try:
        request = ImageRequest.parse(text, CONFIG, signed=True)
    except InvalidRequest:
        return
    assert request.key == text


# Spellings generated: any canonical request, spelled by a viewer in any of the ways the
# contract allows, gives the request's own key.

SAFE_RAW = frozenset(string.ascii_letters + string.digits + "-._~")


@st.composite
def spelled_path(draw: st.DrawFn, text: str) -> str:
    """``text`` as a URI path: each character as it is or percent-encoded (either case)."""
    out = []
    for char in text:
        escaped = "".join(f"%{b:02X}" for b in char.encode())
        if draw(st.booleans()):
            escaped = escaped.lower()
        raw_ok = char in SAFE_RAW or char == "/" or (not char.isascii() and char.isprintable())
        out.append(char if raw_ok and draw(st.booleans()) else escaped)
    return "/" + "".join(out)


segments = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", ".."))
sources = st.lists(segments, min_size=1, max_size=3).map("/".join).map(lambda s: s + ".jpg")


@st.composite
def requests_and_spellings(draw: st.DrawFn) -> tuple[ImageRequest, str, str, str | None]:
    source = draw(sources)
    fmt = draw(st.sampled_from(CONFIG.formats))
    width = draw(st.none() | st.sampled_from(CONFIG.sizes))
    height = draw(st.none() | st.sampled_from(CONFIG.sizes))
    fit = draw(st.sampled_from(("cover", "contain", "inside")))
    quality = draw(st.none() | st.sampled_from(CONFIG.qualities))
    request = ImageRequest.canonical(
        source, fmt=fmt, width=width, height=height, fit=fit, quality=quality, config=CONFIG
    )
    if draw(st.booleans()):  # the key itself as the path, perhaps with noise
        query = draw(st.sampled_from(["", "utm=1", "v=2&x=%20"]))
        return request, draw(spelled_path(request.key)), query, None

    def side(value: int | None) -> str:
        if value is None:
            return ""
        index = CONFIG.sizes.index(value)
        lowest = CONFIG.sizes[index - 1] + 1 if index else 1
        spelled = str(draw(st.integers(lowest, value)))  # anything that snaps up to it
        return "0" * draw(st.integers(0, 5 - len(spelled))) + spelled

    params: list[tuple[str, str]] = []
    if request.width or request.height:
        params.append(("s", f"{side(request.width)}{draw(st.sampled_from('xX'))}"))
        params[-1] = ("s", params[-1][1] + side(request.height))
    accept = None
    if fmt in ("avif", "webp") and draw(st.booleans()):
        params.append(("f", "auto"))
        accept = "image/avif,image/webp,*/*" if fmt == "avif" else "image/webp,image/avif;q=0"
    else:
        params.append(("f", "jpg" if fmt == "jpeg" and draw(st.booleans()) else fmt))
    if request.fit != "cover" or draw(st.booleans()):
        params.append(("fit", request.fit))
    if request.quality is not None:
        params.append(("q", str(request.quality)))
    elif fmt != "png" and draw(st.booleans()):
        params.append(("q", str(CONFIG.quality_for(fmt))))
    params += draw(st.lists(st.sampled_from([("utm", "x"), ("v", "%20"), ("", "")]), max_size=2))
    params += draw(st.lists(st.sampled_from(params), max_size=2))  # repeats
    params = draw(st.permutations(params))
    shout = draw(st.booleans())
    query = "&".join(
        f"{n.upper() if shout else n}={v.upper() if shout else v}" if n else "" for n, v in params
    )
    return request, draw(spelled_path(source)), query, accept


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests_and_spellings())
def test_every_spelling_of_a_request_gives_its_key(
    spelled: tuple[ImageRequest, str, str, str | None],
) -> None:
    request, uri, query, accept = spelled
    assert edge(uri, query, accept) == request.uri


def test_the_table_has_no_duplicate_rows() -> None:
    rows = [(uri, query, accept) for uri, query, accept, _ in TABLE]
    assert len(rows) == len(set(rows))


def test_a_forwarded_uri_is_taken_again_whatever_its_length() -> None:
    forwarded = edge("/" + "%C3%A9" * 341)
    assert len(forwarded) > 2048  # longer than any URI a viewer may send itself
    assert edge(forwarded) == forwarded
