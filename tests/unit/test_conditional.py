"""Range and conditional requests as the CloudFront emulator answers them from its cache."""

from __future__ import annotations

import pytest

from infra.local.conditional import UNSATISFIABLE, ByteRange, byte_range, not_modified

LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-10", ByteRange(990, 999)),
        ("bytes=-5000", ByteRange(0, 999)),  # a suffix longer than the body: all of it
        ("bytes=990-5000", ByteRange(990, 999)),  # the last position is clamped
        ("BYTES = 5-5", ByteRange(5, 5)),
        ("bytes=1000-", UNSATISFIABLE),
        ("bytes=5000-6000", UNSATISFIABLE),
        ("bytes=-0", UNSATISFIABLE),
        (None, None),
        ("bytes=9-3", None),  # invalid: ignored
        ("bytes=0-1,5-6", None),  # several ranges: the whole body
        ("items=0-1", None),
        ("bytes=a-b", None),
        ("bytes=-", None),
        ("bytes=5", None),
    ],
)
def test_byte_range(header: str | None, expected: ByteRange | None) -> None:
    assert byte_range(header, 1000) == expected


def test_content_range_names_the_whole_length() -> None:
    assert ByteRange(0, 99).content_range(1000) == "bytes 0-99/1000"


def test_an_empty_body_satisfies_no_range() -> None:
    assert byte_range("bytes=0-", 0) is UNSATISFIABLE
    assert byte_range("bytes=-1", 0) is UNSATISFIABLE


@pytest.mark.parametrize(
    ("if_none_match", "expected"),
    [('"abc"', True), ('W/"abc"', True), ('"x", "abc"', True), ("*", True), ('"x"', False)],
)
def test_if_none_match(if_none_match: str, expected: bool) -> None:
    assert not_modified({"if-none-match": if_none_match}, {"etag": '"abc"'}) is expected


def test_if_none_match_without_an_etag_is_modified() -> None:
    assert not not_modified({"if-none-match": '"abc"'}, {})


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (LAST_MODIFIED, True),
        ("Thu, 22 Oct 2026 07:28:00 GMT", True),
        ("Tue, 20 Oct 2026 07:28:00 GMT", False),
        ("not a date", False),
    ],
)
def test_if_modified_since(since: str, expected: bool) -> None:
    assert not_modified({"if-modified-since": since}, {"last-modified": LAST_MODIFIED}) is expected


def test_if_none_match_decides_over_if_modified_since() -> None:
    """RFC 9110 13.1.3: with If-None-Match present, If-Modified-Since is not evaluated."""
    request = {"if-none-match": '"other"', "if-modified-since": LAST_MODIFIED}
    response = {"etag": '"abc"', "last-modified": LAST_MODIFIED}
    assert not not_modified(request, response)


def test_no_validators_no_304() -> None:
    assert not not_modified({}, {"etag": '"abc"', "last-modified": LAST_MODIFIED})
