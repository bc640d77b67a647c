"""bench.miss's own parts, without a stack: the S3 server's log read back, each miss's S3
calls between its fences, the uploads' purges, the numbers of a case and the JSON's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import miss
from shared.layout import index_prefix, overlay_prefix

SOURCE = "bench-miss/n/0/a/photo.jpg"
KEY = "720x588/jpeg/bench-miss/n/0/a/photo.jpg"


def line(request: str, status: int = 200, colour: bool = False) -> str:
    quoted = f'"{request} HTTP/1.1"'
    if colour:  # werkzeug colours 4xx lines
        quoted = f"\x1b[33m{quoted}\x1b[0m"
    return f"127.0.0.1 - - [08/Dec/2026 00:27:34] {quoted} {status} -"


def fenced(tag: str, *requests: str) -> list[str]:
    return [
        line(f"HEAD /originals/{miss.fence_key(tag + '/start')}", 404, colour=True),
        *requests,
        line(f"HEAD /originals/{miss.fence_key(tag + '/end')}", 404, colour=True),
    ]


MISS = [
    line(f"GET /derivatives/{KEY}", 404, colour=True),  # the origin group's primary
    line("POST /"),  # SQS, polled by the purge's event source
    line(f"GET /originals/{SOURCE}"),
    line("PUT /derivatives/_index/c4477de1c717b6a5c485dcb2398a8b03/720x588/jpeg"),
    line(f"PUT /derivatives/{KEY}"),
    line(f"HEAD /originals/{SOURCE}"),
]


def test_the_log_is_read_with_colours_and_without_other_lines() -> None:
    text = "\n".join(["moto started", line("POST /"), *MISS, " * Running on http://x"])
    logged = miss.parse_log(text)
    assert [str(request) for request in logged][:3] == [
        "POST /",
        f"GET /derivatives/{KEY}",
        "POST /",
    ]
    assert logged[1].status == 404 and logged[1].bucket == "derivatives" and logged[1].key == KEY
    assert len(logged) == 1 + len(MISS)


def test_a_miss_counts_the_calls_between_its_fences_less_the_origins() -> None:
    text = "\n".join(
        [line("PUT /originals/x"), *fenced("0/a", *MISS), line(f"GET /derivatives/{KEY}")]
    )
    window = miss.between_fences(miss.parse_log(text), "0/a")
    calls = miss.resizer_calls(window, KEY)
    assert [str(call) for call in calls] == [
        f"GET /originals/{SOURCE}",
        "PUT /derivatives/_index/c4477de1c717b6a5c485dcb2398a8b03/720x588/jpeg",
        f"PUT /derivatives/{KEY}",
        f"HEAD /originals/{SOURCE}",
    ]
    # a taken-back derivative: its DeleteObjects counts too
    more = miss.resizer_calls([*window, *miss.parse_log(line("POST /derivatives?delete"))], KEY)
    assert len(more) == 5


def test_fences_and_the_origins_read_must_be_there() -> None:
    logged = miss.parse_log("\n".join(fenced("1/b", *MISS)))
    with pytest.raises(ValueError, match="fences"):
        miss.between_fences(logged, "1/c")
    with pytest.raises(ValueError, match="origin"):
        miss.resizer_calls(miss.between_fences(logged, "1/b")[2:], KEY)
    assert miss.between_fences(miss.parse_log("\n".join(fenced("2/a"))), "2/a") == []


def test_the_uploads_purge_is_seen_by_its_two_listings() -> None:
    def listing(prefix: str) -> str:
        return line(f"GET /derivatives?list-type=2&prefix={prefix}&encoding-type=url")

    one = miss.parse_log(listing(index_prefix(SOURCE)))
    assert not miss.purged(one, SOURCE)
    both = miss.parse_log(
        "\n".join([listing(index_prefix(SOURCE)), listing(overlay_prefix(SOURCE))])
    )
    assert miss.purged(both, SOURCE)
    assert not miss.purged(both, "bench-miss/n/0/b/photo.jpg")


def test_the_log_is_read_from_where_it_stood(tmp_path: Path) -> None:
    path = tmp_path / "s3.log"
    path.write_text(line("PUT /originals/before") + "\n")
    log = miss.S3Log(path)
    with path.open("a") as out:
        out.write(line("PUT /originals/after") + "\n")
    assert [str(request) for request in log.requests()] == ["PUT /originals/after"]


def test_server_timing() -> None:
    header = "edge;dur=0.2, s3-get;dur=3.6, decode;dur=12, s3-put;desc=x;dur=6.9, bad;dur=y"
    assert miss.server_timing(header) == {"edge": 0.2, "s3-get": 3.6, "decode": 12.0,
                                          "s3-put": 6.9}  # fmt: skip


def test_a_case_summary_and_the_json_shape() -> None:
    summary = miss.summarise(
        width=720,
        height=588,
        miss_ms=[30.0, 28.0, 40.0],
        transform_ms=[24.0, 25.0, 26.0],
        s3_calls=[4, 4, 5],
    )
    assert summary["ratio"] == pytest.approx(30.0 / 25.0)
    assert summary["s3_calls"] == 4 and summary["s3_calls_per_round"] == [4, 4, 5]
    assert summary["target"] is False  # 1.2 > 1.15 at 720 px
    small = miss.summarise(width=256, height=209, miss_ms=[9.0], transform_ms=[3.0], s3_calls=[4])
    assert small["target"] is True  # no target under 640 px

    report = miss.report_json({"a": summary, "b": small})
    assert list(report) == ["cases"]
    decoded = json.loads(json.dumps(report))
    for name in ("a", "b"):
        case = decoded["cases"][name]
        assert list(case)[:3] == ["width", "ratio", "s3_calls"]
        assert isinstance(case["width"], int) and isinstance(case["s3_calls"], int)
        assert isinstance(case["ratio"], float)
    with pytest.raises(ValueError, match="lacks"):
        miss.report_json({"a": {"width": 1, "ratio": 1.0}})


def test_the_cases_are_vs_sharps_and_a_larger_one() -> None:
    from bench.cases import CASES

    assert set(CASES) <= set(miss.ALL)
    assert miss.ALL["w960"].width == 960


def test_the_floor_bounds_each_case_from_below() -> None:
    floor = miss.summarise(
        width=128, height=128, miss_ms=[40.0, 30.0, 33.0], transform_ms=[14.0, 13.0, 13.0],
        s3_calls=[4, 4, 4],
    )  # fmt: skip
    assert floor["round_overhead_ms"] == pytest.approx(20.0)  # 26, 17, 20: their median
    big = miss.summarise(width=960, height=784, miss_ms=[150.0], transform_ms=[125.0], s3_calls=[4])
    cases = miss.with_floor({"w960": big, miss.FLOOR: floor})
    assert cases["w960"]["least_ratio"] == pytest.approx(1 + 20.0 / 125.0)
    assert "least_ratio" not in miss.with_floor({"w960": big})["w960"]
    assert "least" in miss.table(cases)
