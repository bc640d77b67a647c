"""The trace headers' grammar to the character: which roots, ids, event types and request
ids are read, and the bounds of a plausible edge timing."""

from __future__ import annotations

import time

import pytest

from shared.trace_context import EdgeTiming, TraceHeader, new_trace_root

ROOTS_READ = [
    "1-00000000-000000000000000000000000",
    "1-ffffffff-ffffffffffffffffffffffff",
    "1-99999999-aaaaaaaaaaaaaaaaaaaaaaaa",
    "1-aaaaaaaa-999999999999999999999999",
    "1-5759e988-bd862e3fe1be46a994272793",
]
ROOTS_IGNORED = [
    "1-0000000g-000000000000000000000000",
    "1-00000000-00000000000000000000000g",
    "1-0000000-000000000000000000000000",
    "1-00000000-0000000000000000000000000",
    "2-00000000-000000000000000000000000",
    "",
]


@pytest.mark.parametrize("root", ROOTS_READ)
def test_any_hex_root_is_read(root: str) -> None:
    assert TraceHeader.parse(f"Root={root}") == TraceHeader(root=root)
    assert TraceHeader.parse(f"Root={root.upper()}") == TraceHeader(root=root)


@pytest.mark.parametrize("root", ROOTS_IGNORED)
def test_a_header_without_a_root_of_that_shape_is_ignored(root: str) -> None:
    assert TraceHeader.parse(f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1") is None
    assert TraceHeader.parse("Parent=53995c3f42cd8ad8;Sampled=1") is None


def test_a_parent_of_any_hex_is_read_and_any_other_is_dropped() -> None:
    root = ROOTS_READ[0]
    for parent in ("0000000000000000", "ffffffffffffffff", "9a9a9a9a9a9a9a9a"):
        assert TraceHeader.parse(f"Root={root};Parent={parent}") == TraceHeader(root, parent)
    for parent in ("000000000000000g", "00000000000000000", "000000000000000"):
        assert TraceHeader.parse(f"Root={root};Parent={parent}") == TraceHeader(root)
    assert TraceHeader.parse(f"Root={root};Sampled=1").sampled is True  # type: ignore[union-attr]
    assert TraceHeader.parse(f"Root={root};Sampled=0").sampled is False  # type: ignore[union-attr]


def test_only_the_first_512_characters_are_read() -> None:
    head = f"Root={ROOTS_READ[0]};x="
    fits = 512 - len(head) - len(";Sampled=1")  # padding that ends the header at 512
    for extra, sampled in ((0, True), (1, None), (1000, None)):
        header = head + "p" * (fits + extra) + ";Sampled=1"
        assert len(header) == 512 + extra
        assert TraceHeader.parse(header) == TraceHeader(ROOTS_READ[0], sampled=sampled)


def test_a_new_root_holds_the_time_in_hex() -> None:
    before = int(time.time())
    epoch = int(new_trace_root().split("-")[1], 16)
    assert before <= epoch <= int(time.time())
    assert new_trace_root(0x5759E988).startswith("1-5759e988-")


TIMING = "id=0123456789abcdef;start={start};end={end};event={event};request={request}"


def timing(
    start: float = 1700000000.0,
    end: float = 1700000000.5,
    event: str = "viewer-request",
    request: str = "abc",
) -> EdgeTiming | None:
    return EdgeTiming.parse(TIMING.format(start=start, end=end, event=event, request=request))


def test_a_timing_is_read_to_the_millisecond_with_its_parent() -> None:
    parsed = EdgeTiming.parse(
        "id=0123456789abcdef;start=10;end=10.5;event=origin-request;request=r;"
        "parent=fedcba9876543210"
    )
    assert parsed == EdgeTiming("0123456789abcdef", 10.0, 10.5, "origin-request", "r",
                                "fedcba9876543210")  # fmt: skip
    assert parsed.duration_ms == 500.0
    assert EdgeTiming.parse(parsed.format()) == parsed
    assert timing() is not None and timing().parent is None  # type: ignore[union-attr]


def test_a_timing_must_be_plausible() -> None:
    assert timing(start=5, end=5) is not None  # no time at all
    assert timing(start=5, end=64.999) is not None  # under a minute
    assert timing(start=5, end=65) is None  # a minute: no edge function runs that long
    assert timing(start=5, end=4.999) is None
    assert timing(start=0, end=1) is None  # before 1970: a forged value
    assert timing(start=-1, end=1) is None
    assert timing(start=0.001, end=1) is not None


@pytest.mark.parametrize(
    "request_id",
    ["A", "Z", "a", "z", "0", "9", "_", "=", "+", "/", ".", "-", "x" * 128,
     "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="],
)  # fmt: skip
def test_any_cloudfront_request_id_is_read(request_id: str) -> None:
    parsed = timing(request=request_id)
    assert parsed is not None and parsed.request_id == request_id


@pytest.mark.parametrize("request_id", ["x" * 129, "a b", "a,b", "é", "a:b"])
def test_other_request_ids_are_not(request_id: str) -> None:
    assert timing(request=request_id) is None


@pytest.mark.parametrize("event", ["a", "z", "-", "viewer-request", "x" * 32])
def test_any_event_type_of_lower_case_and_dashes_is_read(event: str) -> None:
    parsed = timing(event=event)
    assert parsed is not None and parsed.event_type == event


@pytest.mark.parametrize("event", ["x" * 33, "Viewer", "a_b", "a1"])
def test_other_event_types_are_not(event: str) -> None:
    assert timing(event=event) is None


def test_a_timing_lacking_a_field_is_ignored() -> None:
    full = "id=0123456789abcdef;start=1;end=1;event=v;request=r"
    assert EdgeTiming.parse(full) is not None
    for field in ("id", "start", "end", "event", "request"):
        partial = ";".join(p for p in full.split(";") if not p.startswith(field + "="))
        assert EdgeTiming.parse(partial) is None, field
    assert EdgeTiming.parse(full + ";parent=zz") is None


def test_headers_are_frozen_hashable_values() -> None:
    header = TraceHeader(ROOTS_READ[0], "0123456789abcdef", True)
    edge = EdgeTiming("0123456789abcdef", 1.0, 2.0, "viewer-request", "r")
    assert len({header, TraceHeader(ROOTS_READ[0], "0123456789abcdef", True)}) == 1
    assert len({edge, EdgeTiming("0123456789abcdef", 1.0, 2.0, "viewer-request", "r")}) == 1
    with pytest.raises(AttributeError):
        header.root = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        edge.start = 0.0  # type: ignore[misc]
