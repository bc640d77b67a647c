"""The precompute batch handler's own logic (``regional_resizer.precompute``), in this
process, with its storage and the resizer's core replaced (the whole of it runs from the
zip against S3 in test_resizer_zip.py): what it makes, skips and reports, and when it gives
up on time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from regional_resizer import precompute
from regional_resizer.derivative import DEADLINE_MARGIN_S, Deadline, Derivative
from regional_resizer.precompute import FAILURES_LISTED, MARGIN_MS, BatchUnfinished, handler
from shared.config import Config
from shared.contract import ImageRequest
from shared.errors import UnsupportedImage
from shared.originals import OriginalsBuckets


@dataclass
class Clock:
    """A Lambda context whose remaining time each render uses up."""

    remaining_ms: int
    per_render_ms: int = 0

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Resizer:
    """The derivatives bucket and the resizer's core, standing in."""

    stored: set[str] = field(default_factory=set)
    requests: list[ImageRequest] = field(default_factory=list)
    budgets: list[float] = field(default_factory=list)
    storages: list[Any] = field(default_factory=list)
    clock: Clock | None = None
    originals: OriginalsBuckets = field(
        default_factory=lambda: OriginalsBuckets("originals", {"products/": "acme-products"})
    )

    def has_derivative(self, key: str) -> bool:
        return key in self.stored

    def make_derivative(
        self, request: ImageRequest, config: Config, storage: Any, deadline: Deadline
    ) -> Derivative:
        self.requests.append(request)
        self.storages.append(storage)
        self.budgets.append(deadline.at - time.monotonic())
        if self.clock:
            self.clock.remaining_ms -= self.clock.per_render_ms
        if request.source.endswith(".txt"):
            raise UnsupportedImage()
        self.stored.add(request.key)
        return Derivative(b"", "image/webp", kept=True)


@pytest.fixture
def resizer(monkeypatch: pytest.MonkeyPatch) -> Resizer:
    fake = Resizer()
    config = Config(presets={"thumb": "s=256x256&f=webp", "any": "s=128x&f=auto"})
    monkeypatch.setattr(precompute, "config", lambda: config)
    monkeypatch.setattr(precompute, "storage", lambda: fake)
    monkeypatch.setattr(precompute, "make_derivative", fake.make_derivative)
    monkeypatch.setenv("RENDER_TIMEOUT_S", "20")
    return fake


def batch(*keys: str, presets: list[str] | None = None) -> dict[str, Any]:
    return {"Items": [{"key": k} for k in keys], "BatchInput": {"presets": presets or []}}


def test_makes_every_preset_of_every_original_as_the_resizer_would(resizer: Resizer) -> None:
    resizer.stored.add("256x256/webp/b.png")
    result = handler(batch("a.jpg", "b.png", "notes.txt"), Clock(900_000))
    # a.jpg: thumb, and f=auto as avif, webp and jpeg; b.png: f=auto as webp and png (not
    # avif, which would not keep an APNG's frames); notes.txt fails for each of its four.
    assert (result["made"], result["skipped"], result["failed"]) == (6, 1, 4)
    assert {r.key for r in resizer.requests} >= {
        "256x256/webp/a.jpg", "128x/avif/a.jpg", "128x/webp/a.jpg", "128x/jpeg/a.jpg",
        "128x/png/b.png",
    }  # fmt: skip
    assert all(storage is resizer for storage in resizer.storages)  # the batch's own bucket
    assert result["failures"][0] == {
        "status": 415,
        "key": "256x256/webp/notes.txt",
        "preset": "thumb",
        "message": "unsupported image format",
    }
    # Each render is given the resizer's own time, less the resizer's margin.
    budget = 20 - DEADLINE_MARGIN_S
    assert all(budget - 1 < seconds <= budget for seconds in resizer.budgets), resizer.budgets


def test_a_batch_keeps_the_originals_of_its_bucket_under_the_prefix(resizer: Resizer) -> None:
    """A mapped bucket's listing may hold objects that are not originals there (their keys
    map elsewhere) and, listed under the mapped prefix, keys outside the run's prefix."""
    event = batch("products/a.jpg", "products/b/c.jpg", "photos/d.jpg", "products/x.jpg",
                  presets=["thumb"])  # fmt: skip
    event["BatchInput"] |= {"bucket": "acme-products", "prefix": "products/"}
    event["Items"].pop()
    assert handler(event, Clock(900_000))["made"] == 2
    assert {r.source for r in resizer.requests} == {"products/a.jpg", "products/b/c.jpg"}

    resizer.requests.clear()
    resizer.stored.clear()
    event["BatchInput"]["prefix"] = "products/b/"
    handler(event, Clock(900_000))
    assert {r.source for r in resizer.requests} == {"products/b/c.jpg"}

    resizer.requests.clear()  # no bucket: the default one, where products/ is not
    resizer.stored.clear()
    handler(batch("products/a.jpg", "photos/d.jpg", presets=["thumb"]), Clock(900_000))
    assert {r.source for r in resizer.requests} == {"photos/d.jpg"}


def test_presets_can_be_chosen_and_must_exist(resizer: Resizer) -> None:
    result = handler(batch("a.jpg", presets=["thumb"]), Clock(900_000))
    assert result == {"made": 1, "skipped": 0, "failed": 0, "failures": []}
    with pytest.raises(ValueError, match="unknown preset"):
        handler(batch("a.jpg", presets=["huge"]), Clock(900_000))


def test_stops_before_a_render_it_has_no_time_for(resizer: Resizer) -> None:
    clock = Clock(remaining_ms=20_000 + MARGIN_MS + 3 * 1000, per_render_ms=1000)
    resizer.clock = clock
    with pytest.raises(BatchUnfinished, match="4 of 8 derivatives left"):
        handler(batch("a.jpg", "b.jpg"), clock)
    resizer.clock = None
    assert len(resizer.requests) == 4  # time for three renders, and the one at the limit
    # The retry (with time again) skips what the first attempt stored.
    result = handler(batch("a.jpg", "b.jpg"), Clock(900_000))
    assert (result["made"], result["skipped"]) == (4, 4)


def test_lists_a_bounded_number_of_failures(resizer: Resizer) -> None:
    keys = [f"{n}.txt" for n in range(FAILURES_LISTED)]
    result = handler(batch(*keys, presets=["thumb", "any"]), Clock(10**9))
    assert result["failed"] == 4 * FAILURES_LISTED
    assert len(result["failures"]) == FAILURES_LISTED


def test_an_unexpected_failure_is_a_500_for_that_derivative_only(
    resizer: Resizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(request: ImageRequest, *args: Any) -> Derivative:
        if request.source == "bad.jpg":
            raise RuntimeError("a bug")
        return resizer.make_derivative(request, *args)

    monkeypatch.setattr(precompute, "make_derivative", broken)
    result = handler(batch("bad.jpg", "good.jpg", presets=["thumb"]), Clock(900_000))
    assert (result["made"], result["failed"]) == (1, 1)
    assert result["failures"] == [
        {
            "status": 500,
            "key": "256x256/webp/bad.jpg",
            "preset": "thumb",
            "message": "internal error",
        }
    ]
