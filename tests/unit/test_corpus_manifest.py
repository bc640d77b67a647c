"""tests/corpus carries its own images: its manifest and its files agree, byte for byte."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import CORPUS, corpus_rows

ROWS = {row["file"]: row for row in corpus_rows()}
NOT_IMAGES = {"MANIFEST.tsv", "README.md"}


def test_manifest_lists_exactly_the_files_of_the_folder() -> None:
    names = [row["file"] for row in corpus_rows()]
    assert names == sorted(set(names)), "one row per file, sorted by name"
    assert set(names) == {path.name for path in CORPUS.iterdir()} - NOT_IMAGES


@pytest.mark.parametrize("name", sorted(ROWS))
def test_row_matches_its_file_and_says_where_it_is_from(name: str) -> None:
    row = ROWS[name]
    data = (CORPUS / name).read_bytes()
    assert (int(row["bytes"]), row["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    for column in ("source_repo", "licence", "tests"):
        assert row[column].strip(), column
