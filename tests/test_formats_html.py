"""Web pages as sites publish them: spans, nested layout tables, clutter, encodings, disguised files."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.extract_html import extract_html, rows_from_html, table_grid
from indexer.formats import detect_format
from indexer.ingest import parse_file
from indexer.model import IngestError

INDICATORS = """
<tr><td>一级指标</td><td>二级指标</td><td>三级指标</td><td>指标值</td></tr>
<tr><td rowspan="3">产出指标</td><td rowspan="2">数量指标</td><td>培训人次</td><td>≥500人次</td></tr>
<tr><td>覆盖学校数</td><td>=12所</td></tr>
<tr><td>质量指标</td><td>培训合格率</td><td>≥95%</td></tr>
<tr><td>满意度指标</td><td>服务对象满意度指标</td><td>学员满意度</td><td>≥90%</td></tr>
"""

PAGE = """<html><head><meta charset="{charset}"><title>公开</title>
<script>document.write('<table><tr><td>广告</td><td>位</td></tr></table>')</script></head>
<body>
<div id="nav"><a href="/">首页</a> | <a href="#">政务公开</a></div>
<div class="crumb2">当前位置：<a href="/">首页</a> &gt; <a href="#">预算</a></div>
<table width="1000"><tr><td class="left"><table><tr><td><a href="#">栏目导航</a></td></tr>
<tr><td><a href="#">部门预算</a></td></tr></table></td>
<td>
<!-- <table><tr><td>注释里的表</td><td>x</td></tr></table> -->
<h2>项目支出绩效目标表</h2><p>2024年度</p>
<table border="1">
<tr><td>项目名称</td><td colspan="3">教师培训项目</td></tr>
<tr><td>实施单位</td><td colspan="3">临江市教育局</td></tr>
{indicators}
</table>
<div style="display:none"><table><tr><td>隐藏</td><td>表格</td></tr></table></div>
<p>填报说明：本表由项目单位填报。</p>
</td></tr></table>
<div class="footer">版权所有：临江市人民政府 网站标识码 1234</div>
</body></html>"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def expected_rows():
    return [
        ("产出指标", "数量指标", "培训人次", "≥500人次"),
        ("产出指标", "数量指标", "覆盖学校数", "=12所"),
        ("产出指标", "质量指标", "培训合格率", "≥95%"),
        ("满意度指标", "服务对象满意度指标", "学员满意度", "≥90%"),
    ]


def rows_of(doc):
    return [(r.level1, r.level2, r.name, r.value) for r in doc.rows]


@pytest.mark.parametrize(("charset", "encoding"), [("utf-8", "utf-8"), ("gb2312", "gb18030"), ("GBK", "gbk")])
def test_page_in_declared_encoding(tmp_path, charset, encoding):
    p = write(tmp_path, "page.html", PAGE.format(charset=charset, indicators=INDICATORS), encoding)
    doc = parse_file(p)
    assert rows_of(doc) == expected_rows()
    t = doc.tables[0]
    assert (t.kind, t.project, t.unit, t.year) == ("project", "教师培训项目", "临江市教育局", 2024)
    assert [r.source.line for r in doc.rows] == [4, 5, 6, 7] and {r.source.sheet for r in doc.rows} == {"表1"}


def test_gbk_page_without_declaration_is_detected(tmp_path):
    page = PAGE.format(charset="x", indicators=INDICATORS).replace('<meta charset="x">', "")
    p = write(tmp_path, "page.htm", page, "gbk")
    rows, encoding = extract_html(p)
    assert encoding == "gb18030"
    assert rows_of(parse_file(p)) == expected_rows()


def test_layout_tables_hidden_and_commented_tables_are_not_data(tmp_path):
    p = write(tmp_path, "page.html", PAGE.format(charset="utf-8", indicators=INDICATORS))
    rows, _ = extract_html(p)
    texts = [c.text for r in rows for c in r.cells]
    for junk in ("首页", "栏目导航", "部门预算", "当前位置", "注释里的表", "隐藏", "广告", "版权所有", "填报说明：本表由项目单位填报。"):
        assert not any(junk in t for t in texts), junk
    assert texts[0] == "项目支出绩效目标表"
    assert {r.sheet for r in rows if r.in_table} == {"表1"}


def test_rowspan_and_colspan_follow_the_grid_contract():
    import lxml.html

    table = lxml.html.fromstring(f"<table>{INDICATORS}</table>")
    grid = table_grid(table)
    assert [c.text for c in grid[2]] == ["产出指标", "数量指标", "覆盖学校数", "=12所"]
    assert [c.filled for c in grid[2]] == [True, True, False, False]
    # a rowspan running past the table end is cut at the last row
    short = lxml.html.fromstring('<table><tr><td rowspan="9">甲</td><td>1</td></tr><tr><td>2</td></tr></table>')
    assert [[c.text for c in r] for r in table_grid(short)] == [["甲", "1"], ["甲", "2"]]
    # colspan: covered positions are empty strings, not copies
    wide = lxml.html.fromstring('<table><tr><td colspan="3">资金总额</td><td>14</td></tr></table>')
    assert [c.text for c in table_grid(wide)[0]] == ["资金总额", "", "", "14"]


def test_cell_line_breaks_join_like_pdf_cells():
    import lxml.html

    table = lxml.html.fromstring("<table><tr><td><p>构建基于数据的区域教育质量评估监</p><p>测体系</p></td>"
                                 "<td>≥22<br/>套</td></tr></table>")
    assert [c.text for c in table_grid(table)[0]] == ["构建基于数据的区域教育质量评估监测体系", "≥22套"]


def test_xls_that_is_really_a_web_page(tmp_path):
    # many sites export "Excel" files that are HTML tables
    p = write(tmp_path, "导出.xls", PAGE.format(charset="utf-8", indicators=INDICATORS))
    assert detect_format(p) == "html"
    assert rows_of(parse_file(p)) == expected_rows()


def test_page_without_tables_or_text_is_a_clear_error(tmp_path):
    p = write(tmp_path, "empty.html", "<html><body><script>x()</script></body></html>")
    with pytest.raises(IngestError, match="网页中没有找到表格"):
        parse_file(p)
    with pytest.raises(IngestError):
        rows_from_html("   ", "x.html")


def test_mht_web_archive(tmp_path):
    import base64

    html = PAGE.format(charset="gb2312", indicators=INDICATORS).encode("gb18030")
    mht = (
        b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"b1\"\r\n\r\n--b1\r\n"
        b"Content-Type: text/html; charset=\"gb2312\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(html) + b"\r\n--b1--\r\n"
    )
    p = tmp_path / "page.mht"
    p.write_bytes(mht)
    assert rows_of(parse_file(p)) == expected_rows()
