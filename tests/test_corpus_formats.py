"""The PDFs and the xlsx made from the seed tables give the same rows as their text versions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import CORPUS, parsed

PAIRS = [
    ("000_49ac853719709592.txt", "pdf_000_suzhou_jiance_2023.pdf"),
    ("003_be79a3bdad299845.txt", "pdf_003_ganzhou_jiaoti_2023.pdf"),
    ("004_65f67547a9505fce.txt", "pdf_004_huangyuan_2024.pdf"),
    ("002_e915be5c49c8d360.txt", "xlsx_002_suzhou_zhuangbei_2023.xlsx"),
]


def row_key(r):
    return (r.function, r.level1, r.level2, r.task, r.name, r.half_year, r.value, r.target.to_json())


def table_key(t):
    return (
        t.kind, t.project, t.unit, t.year, t.total_budget_wan,
        [(e.name, e.half_year, e.annual) for e in t.expenses], list(t.funding), [g for g, _ in t.goals],
    )


@pytest.mark.parametrize(("text_name", "other_name"), PAIRS)
def test_same_rows_as_text_version(text_name: str, other_name: str):
    text_doc, other = parsed(CORPUS / text_name), parsed(CORPUS / other_name)
    assert [row_key(r) for r in other.rows] == [row_key(r) for r in text_doc.rows]
    assert [table_key(t) for t in other.tables] == [table_key(t) for t in text_doc.tables]
    assert (other.unit, other.year, other.region, other.title) == (
        text_doc.unit, text_doc.year, text_doc.region, text_doc.title,
    )


def test_pdf_rows_cite_page_and_bbox():
    doc = parsed(CORPUS / "pdf_000_suzhou_jiance_2023.pdf")
    assert doc.fmt == "pdf"
    for r in doc.rows:
        assert r.source.page is not None and r.source.line is None
        x0, top, x1, bottom = r.source.bbox
        assert 0 <= x0 < x1 <= 600 and 0 <= top < bottom <= 850
    # the department table continues over three pages (header repeated, not read as a row)
    assert Counter(r.source.page for r in doc.rows) == {1: 9, 2: 42, 3: 2}
    assert not any(r.name == "三级指标" for r in doc.rows)
    r = next(r for r in doc.rows if r.name == "支付进度符合率")
    assert (r.level1, r.level2, r.source.page) == ("过程", "预算执行", 1)


def test_pdf_department_then_ten_projects():
    doc = parsed(CORPUS / "pdf_003_ganzhou_jiaoti_2023.pdf")
    assert [t.kind for t in doc.tables] == ["department"] + ["project"] * 10
    # each project starts on its own page after the two-page department table
    assert [t.rows[0].source.page for t in doc.tables] == [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert doc.tables[0].rows[-1].source.page == 2


def test_xlsx_rows_cite_sheet_rows():
    doc = parsed(CORPUS / "xlsx_002_suzhou_zhuangbei_2023.xlsx")
    assert doc.fmt == "xlsx"
    r = next(r for r in doc.rows if r.name == "师生满意度")
    assert r.source.page is None and r.source.line == 82 and r.value == "98%"


def test_generator_rebuilds_equivalent_files(tmp_path: Path):
    from scripts.make_corpus import build_corpus

    written = build_corpus(CORPUS, tmp_path)
    assert sorted(p.name for p in written) == sorted(o for _, o in PAIRS)
    for text_name, other_name in PAIRS:
        rebuilt = parsed(tmp_path / other_name)
        assert [row_key(r) for r in rebuilt.rows] == [row_key(r) for r in parsed(CORPUS / text_name).rows]
