"""Every file of the test corpus gives exactly the rows it gave before the generic parser (issue 9).

tests/data/corpus_rows_before_issue9.json was written by the parser as it was before issue 9
(commit e6de2a2): per file, per table (kind, project, rows of function, 一级, 二级, 重点工作, name,
half-year value, value, page, line).  Parsed targets are left out (the value lexicon has its own tests).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CORPUS, CORPUS_FILES, parsed

SNAPSHOT = json.loads((Path(__file__).parent / "data" / "corpus_rows_before_issue9.json").read_text(encoding="utf-8"))


def _now(path: Path):
    doc = parsed(path)
    return [
        [t.kind, t.project, [[r.function, r.level1, r.level2, r.task, r.name, r.half_year, r.value, r.source.page,
                              r.source.line] for r in t.rows]]
        for t in doc.tables
    ]


@pytest.mark.parametrize("name", sorted(SNAPSHOT))
def test_same_rows_as_before(name: str):
    assert _now(CORPUS / name) == SNAPSHOT[name]


def test_snapshot_files_exist():
    assert set(SNAPSHOT) <= {p.name for p in CORPUS_FILES}
