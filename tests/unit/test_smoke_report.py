"""``imgedge smoke``'s report: one line per check, PASS, FAIL or SKIP with the reason, and
an exit status that only a FAIL makes non-zero."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from infra import smoke
from infra.smoke import FAIL, PASS, SKIP, Check, Report, _Run


def test_a_line_names_the_status_the_check_and_the_detail() -> None:
    assert Check("purge", SKIP, "needs write access").line() == (
        "SKIP purge            needs write access"
    )


def test_only_a_failing_check_fails_the_run() -> None:
    report = Report([Check("miss", PASS, ""), Check("trace", SKIP, "no credentials")])
    assert report.ok and report.exit_status == 0
    report.checks.append(Check("hit", FAIL, "X-Cache: Miss"))
    assert not report.ok and report.exit_status == 1
    assert report.failures == ["hit"]


class _Down(smoke.Client):
    """Every request answers 503, as a broken distribution would."""

    def get(self, path: str, query: str = "", method: str = "GET") -> smoke.Reply:
        from email.message import Message

        headers = Message()
        headers["Content-Type"] = "text/plain"
        return smoke.Reply(self.base + path, 503, headers, b"down", 1.0)


def test_a_failing_check_prints_fail_and_the_run_exits_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(smoke, "Client", _Down)
    lines: list[str] = []
    report = smoke.run("http://127.0.0.1:9", smoke.Options(), lines.append)

    by_name = {line.split()[1]: line.split()[0] for line in lines if " " in line[:5]}
    assert by_name["miss"] == FAIL and by_name["400"] == FAIL
    assert by_name["purge"] == SKIP and by_name["signed-redirect"] == SKIP
    assert by_name["trace"] == SKIP and by_name["botocore"] == SKIP
    assert all(line.split()[0] in (PASS, FAIL, SKIP) for line in lines[:-1])
    assert "SKIP purge            needs write access to the originals bucket" in "\n".join(lines)
    assert lines[-1].startswith("smoke: FAILED (miss, hit, normalization, head, 404, 400")
    assert report.exit_status == 1


def test_the_run_object_records_each_check_once() -> None:
    lines: list[str] = []
    run = _Run(smoke.Client("http://127.0.0.1:9"), smoke.Options(), lines.append)
    assert run.record("x", SKIP, "why") is False
    assert run.report.checks == [Check("x", SKIP, "why")] and lines == [
        Check("x", SKIP, "why").line()
    ]


class _FakeXRay:
    """get_trace_summaries and batch_get_traces as paginators, from canned pages."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[tuple[str, dict[str, object]]] = []

    def get_paginator(self, name: str) -> _FakeXRay.Paginator:
        return _FakeXRay.Paginator(self, name)

    class Paginator:
        def __init__(self, owner: _FakeXRay, name: str) -> None:
            self.owner, self.name = owner, name

        def paginate(self, **kwargs: object) -> list[dict[str, object]]:
            self.owner.calls.append((self.name, kwargs))
            if self.owner.error is not None:
                raise self.owner.error
            if self.name == "get_trace_summaries":
                return [{"TraceSummaries": [{"Id": "1-a"}]}]
            edge = {"name": "imgedge-edge", "annotations": {"cloudfront_request_id": "cf=="}}
            resizer = {"name": "fn", "subsegments": [{"name": "imgedge", "annotations": {}}]}
            segments = [{"Document": json.dumps(d)} for d in (edge, resizer)]
            return [{"Traces": [{"Id": "1-a", "Segments": segments}]}]


def test_x_ray_is_asked_by_the_cloudfront_request_id_annotation() -> None:
    xray = _FakeXRay()
    found = smoke.XRayTraces(xray).traces(["cf=="], datetime.now(UTC))
    assert xray.calls[0][1]["FilterExpression"] == 'annotation.cloudfront_request_id = "cf=="'
    assert xray.calls[1] == ("batch_get_traces", {"TraceIds": ["1-a"]})
    assert found[0]["trace_id"] == "1-a" and smoke._joined(found[0])


def test_x_ray_refusing_is_a_reason_to_skip() -> None:
    denied = ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetTraceSummaries")
    with pytest.raises(smoke.Unavailable, match="AccessDeniedException"):
        smoke.XRayTraces(_FakeXRay(denied)).traces(["cf=="], datetime.now(UTC))
