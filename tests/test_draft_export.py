"""Export drafts to xlsx / csv; the xlsx ingests back to the same rows."""

from __future__ import annotations

import csv

import openpyxl
import pytest

from indexer.ingest import parse_file
from search.drafting.draft import Draft, DraftError, DraftRow, draft_from_table
from search.drafting.export import export_draft, merge_spans
from tests.conftest import CORPUS, SEED_000, SEED_003, parsed

GBK = CORPUS / "other_gbk_pipes_columns_2024.txt"  # has a 指标解释 column
CSV = CORPUS / "other_csv_export_2024.csv"


def rows_of(table):
    return [
        (r.level1, r.level2, r.name, r.value, r.half_year, dict(r.extras).get("指标解释", ""))
        for r in table.rows
    ]


def test_merge_spans():
    assert merge_spans(["a", "a", "b", "", "", "c", "c", "c"]) == [(0, 1), (5, 7)]
    assert merge_spans([]) == []


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize(
    ("path", "table_index"),
    [(SEED_003, i) for i in range(11)] + [(SEED_000, 0), (GBK, 0), (CSV, 0)],
)
def test_export_round_trip_through_ingestion(tmp_path, path, table_index, suffix):
    doc = parsed(path)
    table = doc.tables[table_index]
    draft = draft_from_table(table, doc.unit, doc.year)
    out = export_draft(draft, tmp_path / f"out{suffix}")
    back = parse_file(out)
    assert len(back.tables) == 1
    t = back.tables[0]
    assert (t.kind, t.project, t.unit, t.year) == (
        table.kind,
        table.project,
        table.unit or doc.unit,
        table.year,
    )
    assert rows_of(t) == rows_of(table)
    assert [r.target for r in t.rows] == [r.target for r in table.rows]


def test_xlsx_layout(tmp_path):
    doc = parsed(SEED_003)
    table = next(t for t in doc.tables if t.project == "教研活动经费")
    out = export_draft(draft_from_table(table, doc.unit, doc.year), tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(out).active
    assert ws["A1"].value == "项目支出绩效目标表" and ws["A1"].font.bold
    assert [ws.cell(row=r, column=1).value for r in range(2, 5)] == ["（2023年度）", "项目名称", "实施单位"]
    assert [c.value for c in ws[5]] == ["一级指标", "二级指标", "三级指标", "指标值"]
    assert all(c.font.bold for c in ws[5])
    merged = sorted(str(r) for r in ws.merged_cells.ranges)
    # 产出指标 spans 8 rows (7..14), 数量指标 4, 质量指标 3; single rows are not merged
    assert merged == sorted(["A1:D1", "A2:D2", "B3:D3", "B4:D4", "A7:A14", "B7:B10", "B11:B13"])
    assert ws.column_dimensions["C"].width == 42
    assert ws["C7"].alignment.wrap_text
    assert ws["D7"].value == "≥150 次" and ws["D7"].data_type == "s"


def test_xlsx_half_year_and_explanation_columns(tmp_path):
    d = Draft(
        year=2025,
        kind="department",
        unit="某中心",
        rows=(
            DraftRow("产出指标", "数量指标", "培训人次", "≥500人次", "≥200人次", "全年参训教师人次"),
            DraftRow("满意度指标", "服务对象满意度指标", "教师满意度", "≥90%"),
        ),
    )
    out = export_draft(d, tmp_path / "h.xlsx")
    ws = openpyxl.load_workbook(out).active
    assert [c.value for c in ws[4]] == [
        "一级指标",
        "二级指标",
        "三级指标",
        "半年指标值",
        "全年指标值",
        "指标解释",
    ]
    assert ws["A3"].value == "单位名称" and ws["B3"].value == "某中心"
    t = parse_file(out).tables[0]
    assert rows_of(t) == [
        ("产出指标", "数量指标", "培训人次", "≥500人次", "≥200人次", "全年参训教师人次"),
        ("满意度指标", "服务对象满意度指标", "教师满意度", "≥90%", "", ""),
    ]
    assert t.unit == "某中心" and t.kind == "department"


def test_csv_has_bom_and_same_rows(tmp_path):
    doc = parsed(SEED_000)
    d = draft_from_table(doc.tables[0], doc.unit, doc.year)
    out = export_draft(d, tmp_path / "t.csv")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.reader(fh))
    assert lines[0] == ["苏州市市级部门整体预算绩效目标表"]
    assert lines[1] == ["（2023年度）"]
    assert lines[2] == ["单位名称", "苏州市教育质量监测中心"]
    assert lines[3] == ["一级指标", "二级指标", "三级指标", "半年指标值", "全年指标值"]
    body = [tuple(x) for x in lines[4:]]
    assert body == [(r.level1, r.level2, r.name, r.half_year, r.value) for r in d.rows]


def test_unsupported_suffix(tmp_path):
    with pytest.raises(DraftError, match="^t.pdf：不支持的导出格式“.pdf”，请使用 .xlsx 或 .csv$"):
        export_draft(Draft(), tmp_path / "t.pdf")
