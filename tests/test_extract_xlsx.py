"""Tests for indexer.extract_xlsx on workbooks written by scripts/make_corpus.py and openpyxl."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Border, Side

from indexer.extract_xlsx import (
    REASON_EMPTY_BOOK,
    REASON_INVALID,
    cell_text,
    extract_xlsx,
    format_number,
)
from indexer.grid import GridRow
from indexer.model import ExpenseLine, IndicatorRow, IngestError, SourceRef, Table, Target

ROOT = Path(__file__).resolve().parent.parent


from scripts import make_corpus as mc  # noqa: E402

SRC = SourceRef("hand.txt")


def ind(l1, l2, name, value, half="") -> IndicatorRow:
    return IndicatorRow(l1, l2, name, value, Target(value), SRC, half_year=half)


def department_table() -> Table:
    return Table(
        kind="department",
        title="苏州市市级部门整体预算绩效目标表",
        unit="苏州市电化教育馆",
        year=2024,
        source=SRC,
        total_budget_wan=2190.36,
        expenses=(ExpenseLine("基本支出", 516.92, 1093.84, SRC), ExpenseLine("体检费", 0.0, 8.82, SRC)),
        goals=(("年度目标", "加快推进全国“智慧教育示范区”建设。"),),
        rows=(
            ind("决策", "计划制定", "中长期规划制定健全性", "健全", half="健全"),
            ind("决策", "计划制定", "工作计划制定健全性", "健全", half="健全"),
            ind("过程", "预算执行", "预算执行率", "=100%", half="=45%"),
            ind("过程", "预算执行", "预算调整率", "=0%", half="=0%"),
            ind("过程", "预算管理", "资金使用合规性", "合规", half="合规"),
        ),
    )


def texts(row: GridRow) -> list[str]:
    return [c.text for c in row.cells]


# ---------------------------------------------------------------- rendered workbook


def test_rendered_department_table(tmp_path):
    path = mc.render_xlsx(department_table(), tmp_path / "d.xlsx")
    rows = extract_xlsx(path)

    assert [(texts(r), r.in_table, r.line) for r in rows[:2]] == [
        (["苏州市市级部门整体预算绩效目标表"], False, 1),
        (["2024年度"], False, 2),
    ]
    body = rows[2:]
    assert all(r.in_table for r in body)
    assert [texts(r) for r in body] == [
        ["单位名称", "苏州市电化教育馆", "", "", ""],
        ["部门整体资金（万元）", "资金总额", "", "2190.36", ""],
        ["部门整体资金（万元）", "支出", "", "半年计划执行数", "全年预算数"],
        ["部门整体资金（万元）", "基本支出", "", "516.92", "1093.84"],
        ["部门整体资金（万元）", "体检费", "", "0", "8.82"],
        ["年度目标", "加快推进全国“智慧教育示范区”建设。", "", "", ""],
        ["一级指标", "二级指标", "三级指标", "半年指标值", "全年指标值"],
        ["决策", "计划制定", "中长期规划制定健全性", "健全", "健全"],
        ["决策", "计划制定", "工作计划制定健全性", "健全", "健全"],
        ["过程", "预算执行", "预算执行率", "=45%", "=100%"],
        ["过程", "预算执行", "预算调整率", "=0%", "=0%"],
        ["过程", "预算管理", "资金使用合规性", "合规", "合规"],
    ]
    # Excel row numbers, no page, no bbox
    assert [r.line for r in body] == list(range(3, 3 + len(body)))
    assert all(r.page is None and r.bbox is None for r in rows)
    assert all(c.line == r.line for r in rows for c in r.cells)
    # vertical merges are filled, horizontal coverage is not
    assert [c.filled for c in body[1].cells] == [False] * 5
    assert [c.filled for c in body[2].cells] == [True, False, False, False, False]
    assert [c.filled for c in body[8].cells] == [True, True, False, False, False]
    assert [c.filled for c in body[9].cells] == [False] * 5
    assert [c.filled for c in body[10].cells] == [True, True, False, False, False]
    assert [c.filled for c in body[11].cells] == [True, False, False, False, False]
    assert body[0].source("d.xlsx").label() == "d.xlsx 第3行"


def test_rendered_workbook_has_real_merges_and_numbers(tmp_path):
    path = mc.render_xlsx([department_table()], tmp_path / "d.xlsx")
    ws = openpyxl.load_workbook(path).active
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert "A4:A7" in merged  # 部门整体资金（万元）
    assert "A10:A11" in merged and "B10:B11" in merged  # 决策 / 计划制定
    assert ws["D4"].value == 2190.36 and ws["D7"].value == 0
    assert ws["E12"].value == "=100%" and ws["E12"].data_type == "s"


def test_render_xlsx_is_deterministic(tmp_path):
    a = mc.render_xlsx(department_table(), tmp_path / "a.xlsx").read_bytes()
    b = mc.render_xlsx(department_table(), tmp_path / "b.xlsx").read_bytes()
    assert a == b


# ---------------------------------------------------------------- hand-made workbooks


def test_numbers_merges_sheets_and_empty_rows(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["资金总额", 2190.36, 0, 5.0, 0.1 + 0.2, 1093.840000001])
    ws.append([])  # blank row: skipped
    ws.append(["预算执行率", 0.95, "=100%", None, None, None])
    ws["B3"].number_format = "0%"
    ws["C3"].value = "=100%"
    ws["C3"].data_type = "s"
    ws.append(["产出指标", "数量指标", "  线上教育\n渗透报告 ", "=1份"])
    ws.append([None, None, "线上教育名师直播课", "=400节"])
    ws.merge_cells("A4:A5")
    ws.merge_cells("B4:B5")
    ws.append(["跨列标题", None, None, "x"])
    ws.merge_cells("A6:C6")
    second = wb.create_sheet("第二张")
    second.append(["满意度指标", "≥85%"])
    path = tmp_path / "hand.xlsx"
    wb.save(path)

    rows = extract_xlsx(path)
    assert [(r.line, texts(r)) for r in rows] == [
        (1, ["资金总额", "2190.36", "0", "5", "0.3", "1093.840000001"]),
        (3, ["预算执行率", "95%", "=100%", "", "", ""]),
        (4, ["产出指标", "数量指标", "线上教育渗透报告", "=1份", "", ""]),
        (5, ["产出指标", "数量指标", "线上教育名师直播课", "=400节", "", ""]),
        (6, ["跨列标题", "", "", "x", "", ""]),
        (1, ["满意度指标", "≥85%"]),
    ]
    assert [c.filled for c in rows[3].cells][:3] == [True, True, False]
    assert not any(c.filled for c in rows[4].cells)
    # no borders anywhere: everything counts as table content
    assert all(r.in_table for r in rows)


def test_formulas(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([1, 2, "=SUM(A1:B1)", "=100%", "=2套", "=A1*2"])
    path = tmp_path / "formulas.xlsx"
    wb.save(path)
    # give SUM a cached result the way Excel stores it; A1*2 stays uncalculated
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    empty_value = re.compile(rb"<f>SUM\(A1:B1\)</f><v\s*/>|<f>SUM\(A1:B1\)</f><v></v>")  # openpyxl versions differ
    assert empty_value.search(members[sheet])
    members[sheet] = empty_value.sub(b"<f>SUM(A1:B1)</f><v>3</v>", members[sheet])
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)

    rows = extract_xlsx(path)
    # real formulas show their cached result; "=100%" / "=2套" are targets typed with "="
    assert texts(rows[0]) == ["1", "2", "3", "=100%", "=2套"]  # uncalculated A1*2: empty, trimmed


def test_borders_separate_titles_from_the_grid(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["项目支出绩效目标表"])
    ws.append(["单位：万元", None, "2023年度"])
    ws.append(["一级指标", "二级指标", "三级指标", "指标值"])
    ws.append(["产出指标", "数量指标", "全年外出招商次数", "≥10 次"])
    thin = Side(style="thin")
    for row in ws.iter_rows(min_row=3, max_row=4):
        for cell in row:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
    path = tmp_path / "borders.xlsx"
    wb.save(path)

    rows = extract_xlsx(path)
    assert [(texts(r), r.in_table) for r in rows] == [
        (["项目支出绩效目标表"], False),
        (["单位：万元 2023年度"], False),
        (["一级指标", "二级指标", "三级指标", "指标值"], True),
        (["产出指标", "数量指标", "全年外出招商次数", "≥10 次"], True),
    ]


def test_format_number_and_cell_text():
    assert format_number(2190.36) == "2190.36"
    assert format_number(0) == "0"
    assert format_number(0.0) == "0"
    assert format_number(400.0) == "400"
    assert format_number(-3.5) == "-3.5"
    assert format_number(0.955, "0.0%") == "95.5%"
    assert cell_text(None) == ""
    assert cell_text("<p>1、负责</p> <p>2、研发</p>") == "1、负责 2、研发"


# ---------------------------------------------------------------- bad workbooks


def assert_ingest_error(path: Path, reason: str) -> IngestError:
    with pytest.raises(IngestError) as info:
        extract_xlsx(path)
    err = info.value
    assert reason in err.reason
    assert path.name in str(err) and reason in str(err)
    return err


def test_empty_file(tmp_path):
    p = tmp_path / "空.xlsx"
    p.write_bytes(b"")
    assert_ingest_error(p, REASON_INVALID)


def test_garbage_xlsx(tmp_path):
    p = tmp_path / "garbage.xlsx"
    p.write_bytes(bytes(range(256)) * 20)
    assert_ingest_error(p, REASON_INVALID)


def test_truncated_xlsx(tmp_path):
    data = mc.render_xlsx(department_table(), tmp_path / "ok.xlsx").read_bytes()
    p = tmp_path / "truncated.xlsx"
    p.write_bytes(data[: len(data) // 2])
    assert_ingest_error(p, REASON_INVALID)


def test_zip_that_is_not_a_workbook(tmp_path):
    p = tmp_path / "notbook.xlsx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("hello.txt", "不是工作簿")
    assert_ingest_error(p, REASON_INVALID)


def test_old_xls_or_encrypted_container(tmp_path):
    p = tmp_path / "old.xlsx"
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    err = assert_ingest_error(p, REASON_INVALID)
    assert ".xls" in err.reason


def test_empty_workbook(tmp_path):
    p = tmp_path / "blank.xlsx"
    openpyxl.Workbook().save(p)
    assert_ingest_error(p, REASON_EMPTY_BOOK)
