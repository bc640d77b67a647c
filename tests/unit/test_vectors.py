"""The edge's normalization, checked against the vectors in tests/vectors.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_router.normalize import normalize
from shared.config import Config
from shared.errors import ImgedgeError

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors.json").read_text(encoding="utf-8")
)["normalize"]


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{v['uri']}?{v['query']}" for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    config = Config()
    if "expect" in vector:
        request = normalize(vector["uri"], vector["query"], vector.get("accept"), config)
        assert request.uri == vector["expect"]
    else:
        with pytest.raises(ImgedgeError) as raised:
            normalize(vector["uri"], vector["query"], vector.get("accept"), config)
        assert raised.value.status == vector["status"]
