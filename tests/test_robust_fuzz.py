"""Fuzz test: mutated seed texts, workbooks and PDFs only ever give a Document or an IngestError.

Hypothesis with a fixed seed (``derandomize=True``) and a bounded number of
examples keeps the run to a few seconds and the same on every machine.  The
bigger mutation run is ``scripts/mutation_run.py``.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.ingest import parse_file
from indexer.model import Document, IngestError
from indexer.settings import IngestSettings
from tests.conftest import CORPUS, SEED_003

SEEDS = {p.name: p.read_bytes() for p in sorted(CORPUS.iterdir()) if p.suffix in (".txt", ".csv")}
LIMITS = IngestSettings(file_seconds=20)


def fuzz(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples, derandomize=True, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


_counter = itertools.count()


@st.composite
def mutated(draw, seeds: dict[str, bytes]) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[name])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 300))]
        elif op == "truncate":
            del data[i:]
        elif op == "duplicate":
            j = min(len(data), i + draw(st.integers(1, 400)))
            data[j:j] = data[i:j] * draw(st.integers(1, 5))
    return name, bytes(data)


def _parse(tmp_path: Path, name: str, data: bytes) -> Document | IngestError:
    p = tmp_path / f"{next(_counter):05d}_{name}"
    p.write_bytes(data)
    try:
        return parse_file(p, settings=LIMITS)
    except IngestError as exc:  # the one allowed failure: a typed error with a Chinese reason
        assert exc.reason and exc.file == p.name
        return exc
    finally:
        p.unlink()


@fuzz(80)
@given(case=mutated(SEEDS))
def test_mutated_texts_give_documents_or_typed_errors(tmp_path_factory, case):
    name, data = case
    out = _parse(tmp_path_factory.mktemp("fz"), name, data)
    assert isinstance(out, (Document, IngestError))


@pytest.fixture(scope="module")
def pdf_seed(tmp_path_factory) -> dict[str, bytes]:
    from scripts import make_corpus as mc

    doc = parse_file(SEED_003)
    pdf = mc.render_pdf(doc.tables[:1], tmp_path_factory.mktemp("pdf") / "seed.pdf")
    return {"seed.pdf": pdf.read_bytes()}


@pytest.fixture(scope="module")
def xlsx_seed() -> dict[str, bytes]:
    import openpyxl

    wb = openpyxl.Workbook()
    for line in SEED_003.read_text(encoding="utf-8").splitlines():
        wb.active.append(line.split("\t"))
    buf = io.BytesIO()
    wb.save(buf)
    return {"seed.xlsx": buf.getvalue()}


@pytest.mark.slow  # mutated PDFs without a usable text layer go to OCR: a fresh OCR process each (~2 CPU-s)
def test_mutated_pdfs_give_documents_or_typed_errors(tmp_path, pdf_seed):
    @fuzz(25)
    @given(case=mutated(pdf_seed))
    def run(case):
        assert isinstance(_parse(tmp_path, *case), (Document, IngestError))

    run()


def test_mutated_workbooks_give_documents_or_typed_errors(tmp_path, xlsx_seed):
    @fuzz(25)
    @given(case=mutated(xlsx_seed))
    def run(case):
        assert isinstance(_parse(tmp_path, *case), (Document, IngestError))

    run()
