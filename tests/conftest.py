from __future__ import annotations

import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"

SEED_000 = CORPUS / "000_49ac853719709592.txt"
SEED_001 = CORPUS / "001_5faa2bc3c3b6a31c.txt"
SEED_002 = CORPUS / "002_e915be5c49c8d360.txt"
SEED_003 = CORPUS / "003_be79a3bdad299845.txt"
SEED_004 = CORPUS / "004_65f67547a9505fce.txt"
SEEDS = [SEED_000, SEED_001, SEED_002, SEED_003, SEED_004]
# the test corpus proper: files directly in corpus/ (corpus/realworld/ is the labelled real-world set)
CORPUS_FILES = sorted(p for p in CORPUS.iterdir() if p.is_file())


@functools.cache
def parsed(path: Path):
    from indexer.ingest import parse_file

    return parse_file(path)


def find_row(doc, name: str, project: str | None = None, nth: int = 0):
    hits = [
        r
        for t in doc.tables
        if project is None or t.project == project
        for r in t.rows
        if r.name == name
    ]
    assert len(hits) > nth, f"row {name!r} not found in {doc.file}"
    return hits[nth]


def levels(row) -> tuple[str, str, str, str]:
    return (row.function, row.level1, row.level2, row.task)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS
