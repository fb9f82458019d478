"""Tests for indexer.extract_pdf on PDFs rendered by scripts/make_corpus.py.

Every PDF is built in tmp_path from hand-made ``Table`` objects, so the
expected cell texts are known exactly.  Bad inputs are real broken files.
"""

from __future__ import annotations

import io
from pathlib import Path

import pdfplumber
import pytest

from indexer.extract_pdf import (
    REASON_CID,
    REASON_DAMAGED,
    REASON_ENCRYPTED,
    REASON_NO_TEXT,
    extract_pdf,
    join_lines,
)
from indexer.grid import GridRow
from indexer.model import ExpenseLine, IndicatorRow, IngestError, SourceRef, Table, Target

ROOT = Path(__file__).resolve().parent.parent


from scripts import make_corpus as mc  # noqa: E402

SRC = SourceRef("hand.txt")


# ---------------------------------------------------------------- builders


def ind(l1, l2, name, value, half="", task="", function="") -> IndicatorRow:
    return IndicatorRow(
        level1=l1,
        level2=l2,
        name=name,
        value=value,
        target=Target(value),
        source=SRC,
        half_year=half,
        task=task,
        function=function,
    )


def project_table(project="教师培训费", rows=None) -> Table:
    rows = rows or (
        ind("产出指标", "数量指标", "开展全区教师培训期数", "≥12期"),
        ind("产出指标", "数量指标", "教师培训人数", "≥1500人"),
        ind("产出指标", "质量指标", "培训效果测评", "≥95%"),
        ind("效益指标", "社会效益指标", "教师持证上岗比例", "≥95%"),
        ind("满意度指标", "服务对象满意度", "参训教师满意度", "≥90%"),
    )
    return Table(
        kind="project",
        title="项目支出绩效目标表",
        unit="赣州经济技术开发区教体服务中心",
        year=2023,
        source=SRC,
        project=project,
        total_budget_wan=294.65,
        funding=(("财政拨款", 294.65), ("其他资金", 0.0), ("上年结转", 0.0)),
        goals=(("年度绩效目标", "开展全区的中小学，幼儿园教师培训工作。"),),
        rows=tuple(rows),
    )


def long_department_table(n_first=50, n_second=20) -> Table:
    """A department table whose 产出指标 label spans the page break."""
    rows = [
        ind(
            "产出指标",
            "数量指标" if i < 30 else "质量指标",
            f"第{i}项产出指标完成数量",
            f"≥{i}个",
            half=f"≥{i // 2}个",
        )
        for i in range(n_first)
    ]
    rows += [ind("效益指标", "社会效益指标", f"第{i}项效益指标", "≥90%", half="≥0%") for i in range(n_second)]
    return Table(
        kind="department",
        title="苏州市市级部门整体预算绩效目标表",
        unit="苏州市教育质量监测中心",
        year=2023,
        source=SRC,
        total_budget_wan=794.87,
        expenses=(
            ExpenseLine("基本支出", 200.1, 400.21, SRC),
            ExpenseLine("体检费", 0.0, 2.52, SRC),
        ),
        goals=(("中长期目标", "负责教育质量监测评估的理论和政策研究"), ("年度目标", "完善教育评价标准")),
        duties="(一) 负责教育质量监测评估的理论和政策研究。",
        rows=tuple(rows),
    )


def texts(row: GridRow) -> list[str]:
    return [c.text for c in row.cells]


def filled(row: GridRow) -> list[bool]:
    return [c.filled for c in row.cells]


def table_rows(rows: list[GridRow]) -> list[GridRow]:
    return [r for r in rows if r.in_table]


HEADER4 = ["一级指标", "二级指标", "三级指标", "指标值"]
HEADER5 = ["一级指标", "二级指标", "三级指标", "半年指标值", "全年指标值"]


# ---------------------------------------------------------------- good PDFs


def test_project_table_cells_merges_and_titles(tmp_path):
    pdf = mc.render_pdf([project_table()], tmp_path / "p.pdf")
    rows = extract_pdf(pdf)

    assert [(texts(r), r.in_table) for r in rows[:2]] == [
        (["项目支出绩效目标表"], False),
        (["2023年度"], False),
    ]
    body = rows[2:]
    assert all(r.in_table for r in body)
    assert [texts(r) for r in body] == [
        ["项目名称", "教师培训费", "", ""],
        ["实施单位", "赣州经济技术开发区教体服务中心", "", ""],
        ["项目资金（万元）", "年度资金总额", "", "294.65"],
        ["项目资金（万元）", "财政拨款", "", "294.65"],
        ["项目资金（万元）", "其他资金", "", "0"],
        ["项目资金（万元）", "上年结转", "", "0"],
        ["年度绩效目标", "开展全区的中小学，幼儿园教师培训工作。", "", ""],
        HEADER4,
        ["产出指标", "数量指标", "开展全区教师培训期数", "≥12期"],
        ["产出指标", "数量指标", "教师培训人数", "≥1500人"],
        ["产出指标", "质量指标", "培训效果测评", "≥95%"],
        ["效益指标", "社会效益指标", "教师持证上岗比例", "≥95%"],
        ["满意度指标", "服务对象满意度", "参训教师满意度", "≥90%"],
    ]
    # vertically covered cells are filled, horizontally covered ones are plain ""
    assert filled(body[2]) == [False] * 4
    assert filled(body[3]) == [True, False, False, False]
    assert filled(body[5]) == [True, False, False, False]
    assert filled(body[8]) == [False] * 4
    assert filled(body[9]) == [True, True, False, False]
    assert filled(body[10]) == [True, False, False, False]
    assert filled(body[11]) == [False] * 4


def test_pages_lines_and_bboxes(tmp_path):
    rows = extract_pdf(mc.render_pdf([project_table()], tmp_path / "p.pdf"))
    assert {r.page for r in rows} == {1}
    assert all(r.line is None for r in rows)
    tops = [r.bbox[1] for r in rows]
    assert tops == sorted(tops), "rows must come top to bottom"
    for r in rows:
        assert r.bbox is not None
        x0, top, x1, bottom = r.bbox
        assert x0 < x1 and top < bottom
        for c in r.cells:
            assert c.bbox is not None
            assert x0 - 0.01 <= c.bbox[0] < c.bbox[2] <= x1 + 0.01
            assert top - 0.01 <= c.bbox[1] < c.bbox[3] <= bottom + 0.01
    # the cells of one table row share the row band and tile it left to right
    grid = table_rows(rows)
    for r in grid:
        xs = [(c.bbox[0], c.bbox[2]) for c in r.cells]
        assert all(abs(a[1] - b[0]) < 0.01 for a, b in zip(xs, xs[1:], strict=False))
    assert rows[0].source("p.pdf").label() == "p.pdf 第1页"


def test_wrapped_cell_text_is_joined_exactly(tmp_path):
    long_name = "构建基于数据的区域教育质量评估监测体系并打造助力苏州教育全面生态优化的测评制度≥22套"
    latin = "hello world monitoring platform maintenance and operation report"
    table = project_table(
        rows=(
            ind("产出指标", "数量指标", long_name, "≥22套"),
            ind("产出指标", "数量指标", latin, "按进度实施"),
            ind(
                "产出指标",
                "负责全市义务教育学业质量监测的组织管理工作",
                "组织全市初中学校学生参测",
                "≥32万人次",
            ),
        )
    )
    rows = table_rows(extract_pdf(mc.render_pdf([table], tmp_path / "w.pdf")))
    data = rows[-3:]
    assert texts(data[0]) == ["产出指标", "数量指标", long_name, "≥22套"]
    assert texts(data[1]) == ["产出指标", "数量指标", latin, "按进度实施"]
    assert texts(data[2]) == [
        "产出指标",
        "负责全市义务教育学业质量监测的组织管理工作",
        "组织全市初中学校学生参测",
        "≥32万人次",
    ]


def test_join_lines():
    assert join_lines("监测评估监\n测体系≥22\n套") == "监测评估监测体系≥22套"
    assert join_lines("hello\nworld") == "hello world"
    assert join_lines("abc-\ndef") == "abc-def"
    assert join_lines("覆盖率\n≥95%") == "覆盖率≥95%"
    assert join_lines("\n\n") == ""


def test_continuation_is_joined_over_page_break(tmp_path):
    table = long_department_table()
    pdf = mc.render_pdf([table], tmp_path / "long.pdf")

    # the raw PDF really has a repeated header and an empty, cut label on page 2
    with pdfplumber.open(pdf) as doc:
        assert len(doc.pages) == 2
        raw = doc.pages[1].find_tables({"vertical_strategy": "lines", "horizontal_strategy": "lines"})
        assert len(raw) == 1
        raw_rows = raw[0].extract()
    assert raw_rows[0] == HEADER5
    assert raw_rows[1][0] == ""  # the cut 产出指标 cell is empty at the top of page 2

    rows = extract_pdf(pdf)
    grid = table_rows(rows)
    assert [r.page for r in rows if not r.in_table] == [1, 1]
    assert sum(1 for r in grid if texts(r) == HEADER5) == 1, "repeated header must be dropped"
    header_at = next(i for i, r in enumerate(grid) if texts(r) == HEADER5)
    data = grid[header_at + 1 :]
    assert len(data) == len(table.rows) == 70
    expected = [[r.level1, r.level2, r.name, r.half_year, r.value] for r in table.rows]
    assert [texts(r) for r in data] == expected
    assert {r.page for r in data} == {1, 2}

    # the first continuation row keeps the cut 产出指标 label, marked filled
    first_p2 = next(i for i, r in enumerate(data) if r.page == 2)
    assert first_p2 < 50, "the break must fall inside the 产出指标 span for this test"
    assert data[first_p2].cells[0].text == "产出指标"
    assert data[first_p2].cells[0].filled
    assert all(r.cells[0].filled for r in data[first_p2:50])
    assert not data[50].cells[0].filled and data[50].cells[0].text == "效益指标"


def test_department_block_and_budget(tmp_path):
    rows = table_rows(extract_pdf(mc.render_pdf([long_department_table(3, 1)], tmp_path / "d.pdf")))
    assert [texts(r) for r in rows[:6]] == [
        ["单位名称", "苏州市教育质量监测中心", "", "", ""],
        ["单位主要职能", "(一) 负责教育质量监测评估的理论和政策研究。", "", "", ""],
        ["部门整体资金（万元）", "资金总额", "", "794.87", ""],
        ["部门整体资金（万元）", "支出", "", "半年计划执行数", "全年预算数"],
        ["部门整体资金（万元）", "基本支出", "", "200.1", "400.21"],
        ["部门整体资金（万元）", "体检费", "", "0", "2.52"],
    ]
    assert [c.filled for c in rows[3].cells] == [True, False, False, False, False]


def test_function_and_task_columns(tmp_path):
    rows_in = (
        ind(
            "产出指标",
            "数量指标",
            "指标1: 创新创业课程开设数量",
            "≥560个",
            function="职能1: 教育督导",
            task="督导检查",
        ),
        ind("产出指标", "数量指标", "指标2: 检查频次", "≥100次", function="职能1: 教育督导", task="督导检查"),
        ind("满意度指标", "服务对象满意度指标", "指标1: 教师满意度", "≥90%", function="职能1: 教育督导"),
        ind(
            "产出指标",
            "数量指标",
            "指标1: 支持信息系统建设数量",
            "≥18个",
            function="职能2: 教育基本信息的统计",
        ),
    )
    table = Table("department", "2024年部门整体支出绩效目标批复表", "潢源县教育局", 2024, SRC, rows=rows_in)
    rows = table_rows(extract_pdf(mc.render_pdf([table], tmp_path / "f.pdf")))
    header_at = next(i for i, r in enumerate(rows) if "三级指标" in texts(r))
    assert texts(rows[header_at]) == ["核心职能", "一级指标", "二级指标", "重点工作", "三级指标", "指标值"]
    data = rows[header_at + 1 :]
    assert [texts(r) for r in data] == [
        ["职能1: 教育督导", "产出指标", "数量指标", "督导检查", "指标1: 创新创业课程开设数量", "≥560个"],
        ["职能1: 教育督导", "产出指标", "数量指标", "督导检查", "指标2: 检查频次", "≥100次"],
        ["职能1: 教育督导", "满意度指标", "服务对象满意度指标", "", "指标1: 教师满意度", "≥90%"],
        ["职能2: 教育基本信息的统计", "产出指标", "数量指标", "", "指标1: 支持信息系统建设数量", "≥18个"],
    ]
    assert filled(data[1]) == [True, True, True, True, False, False]
    assert filled(data[2]) == [True, False, False, False, False, False]
    assert filled(data[3]) == [False] * 6  # 产出指标 is not merged across functions


def test_tables_on_new_pages_are_not_joined(tmp_path):
    tables = [long_department_table(3, 1), project_table("教研活动经费"), project_table("教育督导专项经费")]
    rows = extract_pdf(mc.render_pdf(tables, tmp_path / "multi.pdf"))
    titles = [(r.page, texts(r)[0]) for r in rows if not r.in_table]
    assert titles == [
        (1, "苏州市市级部门整体预算绩效目标表"),
        (1, "2023年度"),
        (2, "项目支出绩效目标表"),
        (2, "2023年度"),
        (3, "项目支出绩效目标表"),
        (3, "2023年度"),
    ]
    headers = [r.page for r in rows if texts(r) == HEADER4]
    assert headers == [2, 3], "each project keeps its own header"
    # reading order: on each page the title rows come before that page's table rows
    for page in (1, 2, 3):
        on_page = [r for r in rows if r.page == page]
        assert not on_page[0].in_table and not on_page[1].in_table
        assert all(r.in_table for r in on_page[2:])


def test_render_is_deterministic(tmp_path):
    a = mc.render_pdf([project_table()], tmp_path / "a.pdf").read_bytes()
    b = mc.render_pdf([project_table()], tmp_path / "b.pdf").read_bytes()
    assert a == b


# ---------------------------------------------------------------- bad PDFs


def assert_ingest_error(path: Path, reason: str) -> IngestError:
    with pytest.raises(IngestError) as info:
        extract_pdf(path)
    err = info.value
    assert reason in err.reason
    assert path.name in str(err)
    assert reason in str(err)
    return err


def test_empty_file(tmp_path):
    p = tmp_path / "空文件.pdf"
    p.write_bytes(b"")
    assert_ingest_error(p, REASON_DAMAGED)


def test_binary_garbage(tmp_path):
    p = tmp_path / "garbage.pdf"
    p.write_bytes(bytes(range(256)) * 40)
    assert_ingest_error(p, REASON_DAMAGED)


def test_truncated_pdf(tmp_path):
    data = mc.render_pdf([project_table()], tmp_path / "full.pdf").read_bytes()
    p = tmp_path / "truncated.pdf"
    p.write_bytes(data[: len(data) // 2])
    assert_ingest_error(p, REASON_DAMAGED)


def test_corrupted_body(tmp_path):
    data = bytearray(mc.render_pdf([project_table()], tmp_path / "full.pdf").read_bytes())
    # keep the %PDF header and the %%EOF trailer, destroy everything in between
    for i in range(20, len(data) - 40):
        data[i] = (i * 7919) % 256
    p = tmp_path / "corrupted.pdf"
    p.write_bytes(bytes(data))
    assert_ingest_error(p, REASON_DAMAGED)


def test_encrypted_pdf(tmp_path):
    from reportlab.pdfgen import canvas

    p = tmp_path / "encrypted.pdf"
    c = canvas.Canvas(str(p), encrypt="secret", invariant=1)
    c.drawString(72, 720, "performance targets")
    c.save()
    assert_ingest_error(p, REASON_ENCRYPTED)


def test_scanned_pdf_without_text_layer(tmp_path):
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    img = Image.new("RGB", (400, 200), "white")
    draw = ImageDraw.Draw(img)
    for y in range(20, 200, 30):
        draw.line((20, y, 380, y), fill="black", width=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    buf.seek(0)
    p = tmp_path / "scanned.pdf"
    c = canvas.Canvas(str(p), invariant=1)
    c.drawImage(ImageReader(buf), 72, 400, width=400, height=200)
    c.save()
    assert_ingest_error(p, REASON_NO_TEXT)


def test_cid_only_pdf(tmp_path):
    """Type0 / Identity-H fonts without a unicode map: pdfminer only sees (cid:N) glyphs."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    ok = mc.render_pdf([project_table()], tmp_path / "ok.pdf", font="STSong-Light")
    assert "项目支出绩效目标表" in texts(extract_pdf(ok)[0])  # decodable before the rewrite
    data = ok.read_bytes()
    assert b"/UniGB-UCS2-H" in data and b"(GB1)" in data
    # same-length rewrites keep every xref offset valid: identity encoding, unknown ordering
    data = data.replace(b"/UniGB-UCS2-H", b"/Identity-H  ").replace(b"(GB1)", b"(XX1)")
    p = tmp_path / "cid.pdf"
    p.write_bytes(data)
    with pdfplumber.open(p) as doc:
        chars = [c["text"] for c in doc.pages[0].chars if c["text"].strip()]
    assert chars and all(t.startswith("(cid:") for t in chars)
    err = assert_ingest_error(p, REASON_CID)
    assert err.page == 1


def test_pdf_with_stripped_tounicode(tmp_path):
    """Embedded TrueType subsets whose /ToUnicode is gone decode to (cid:N) and Latin-1 mojibake."""
    data = mc.render_pdf([project_table()], tmp_path / "ok.pdf").read_bytes()
    assert data.count(b"/ToUnicode") >= 1
    p = tmp_path / "no_tounicode.pdf"
    p.write_bytes(data.replace(b"/ToUnicode", b"/NoUnicode"))
    with pdfplumber.open(p) as doc:
        assert "(cid:" in doc.pages[0].extract_text()
    assert_ingest_error(p, REASON_CID)


def test_missing_file_is_an_ingest_error(tmp_path):
    with pytest.raises(IngestError) as info:
        extract_pdf(tmp_path / "missing.pdf")
    assert "missing.pdf" in str(info.value)
