"""The purge's invalidation retries, against a CloudFront client that refuses on cue: which
refusals are waited out, how long it waits, and when it gives up (raising, so that Lambda
runs the event again)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from regional_resizer import purge


class RefusingCloudFront:
    """Refuses ``refusals`` create_invalidation calls with ``code``, then accepts."""

    def __init__(self, code: str, refusals: int) -> None:
        self.code, self.refusals = code, refusals
        self.calls: list[dict[str, Any]] = []

    def create_invalidation(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        if len(self.calls) <= self.refusals:
            raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "CreateInvalidation")
        return {"Invalidation": {"Id": f"I{len(self.calls)}", "Status": "InProgress"}}


def invalidate(
    client: Any, paths: list[str], budget_s: float = 60.0
) -> tuple[list[str], list[float]]:
    pauses: list[float] = []
    ids = purge.invalidate(
        client, "EDIST", paths, "event", time.monotonic() + budget_s, sleep=pauses.append
    )
    return ids, pauses


@pytest.mark.parametrize("code", ["TooManyInvalidationsInProgress", "Throttling"])
def test_a_refusal_for_now_is_retried_with_growing_pauses(code: str) -> None:
    client = RefusingCloudFront(code, refusals=6)

    ids, pauses = invalidate(client, ["/64x/png/a.jpg"])

    assert ids == ["I7"] and len(client.calls) == 7
    assert all(call == client.calls[0] for call in client.calls)  # the same batch each time
    ceilings = [1.0, 2.0, 4.0, 8.0, 16.0, 20.0]
    assert all(c / 2 <= p <= c for p, c in zip(pauses, ceilings, strict=True)), pauses


def test_past_the_deadline_the_refusal_is_raised() -> None:
    client = RefusingCloudFront("TooManyInvalidationsInProgress", refusals=100)

    with pytest.raises(ClientError) as refused:
        invalidate(client, ["/a.jpg"], budget_s=0.4)  # less than the first pause's least

    assert refused.value.response["Error"]["Code"] == "TooManyInvalidationsInProgress"
    assert len(client.calls) == 1


def test_other_errors_are_raised_at_once() -> None:
    client = RefusingCloudFront("AccessDenied", refusals=1)

    with pytest.raises(ClientError):
        invalidate(client, ["/a.jpg"])

    assert len(client.calls) == 1


def test_batches_of_1000_with_references_that_name_the_change_and_the_batch() -> None:
    paths = [f"/64x/png/{i:04d}.jpg" for i in range(2500)]
    client = RefusingCloudFront("Throttling", refusals=0)

    ids, _ = invalidate(client, paths)
    again = RefusingCloudFront("Throttling", refusals=0)
    invalidate(again, paths)
    other = RefusingCloudFront("Throttling", refusals=0)
    purge.invalidate(other, "EDIST", paths, "another event", time.monotonic() + 60)

    batches = [call["InvalidationBatch"] for call in client.calls]
    assert [b["Paths"]["Quantity"] for b in batches] == [1000, 1000, 500]
    assert [p for b in batches for p in b["Paths"]["Items"]] == paths
    references = [b["CallerReference"] for b in batches]
    assert len(set(references)) == 3 and len(ids) == 3
    assert references == [c["InvalidationBatch"]["CallerReference"] for c in again.calls]
    assert not set(references) & {c["InvalidationBatch"]["CallerReference"] for c in other.calls}
