"""The web page, Word and old-Excel files made from seed tables give the rows of their text versions."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from indexer.office import soffice_path
from scripts.make_corpus_formats import (
    DOC_NAME,
    DOCX_NAME,
    HTML_NAME,
    JOBS,
    XLS_NAME,
    build_formats_corpus,
)
from tests.conftest import CORPUS, parsed
from tests.test_corpus_formats import row_key, table_key

needs_soffice = pytest.mark.skipif(
    soffice_path() is None, reason="需要 LibreOffice（scripts/system_deps.sh 会安装）"
)


@pytest.mark.parametrize(("text_name", "other_name", "which"), JOBS, ids=[j[1] for j in JOBS])
def test_same_rows_as_text_version(text_name: str, other_name: str, which: slice):
    if other_name == DOC_NAME and soffice_path() is None:
        pytest.skip("需要 LibreOffice（scripts/system_deps.sh 会安装）")
    text_doc, other = parsed(CORPUS / text_name), parsed(CORPUS / other_name)
    assert [row_key(r) for r in other.rows] == [row_key(r) for r in text_doc.rows]
    assert [table_key(t) for t in other.tables] == [table_key(t) for t in text_doc.tables]
    assert (other.unit, other.year, other.region, other.title) == (
        text_doc.unit, text_doc.year, text_doc.region, text_doc.title,
    )


def test_html_page_encoding_citations_and_no_clutter():
    doc = parsed(CORPUS / HTML_NAME)
    assert (doc.fmt, doc.encoding) == ("html", "gb18030")
    assert len(doc.tables) == 1 and len(doc.rows) == 71
    assert {r.source.sheet for r in doc.rows} == {"表1"}
    r = next(r for r in doc.rows if r.name == "学校用户对视频会议的满意度")
    assert r.value == "≥85%" and r.source.line == 100
    assert r.source.page is None and r.source.bbox is None
    assert r.source.label() == f"{HTML_NAME} 表1 第{r.source.line}行"
    assert r.source.to_json()["sheet"] == "表1"
    # rows are numbered inside the table: the first indicator comes after the header block
    assert 1 < doc.rows[0].source.line < doc.rows[-1].source.line
    everything = " ".join(
        [t.title for t in doc.tables] + [r.name + r.value + r.level1 + r.level2 for r in doc.rows]
    )
    for clutter in ("首页", "网站标识码", "分享到", "当前位置", "部门决算", "统计"):
        assert clutter not in everything


def test_docx_several_tables_with_titles_between():
    doc = parsed(CORPUS / DOCX_NAME)
    assert doc.fmt == "docx"
    assert [t.kind for t in doc.tables] == ["department"] + ["project"] * 10
    # each Word table is cited by its number; the project name paragraphs sit between tables
    assert [t.rows[0].source.sheet for t in doc.tables] == [f"表{i}" for i in range(1, 12)]
    assert doc.tables[1].project == "招商引资工作经费"
    # text after the last table (填报人/联系电话) is not an indicator
    assert not any("联系电话" in r.name or "填报人" in r.name for r in doc.rows)


def test_docx_grid_expands_vertical_and_horizontal_merges():
    import docx

    from indexer.extract_docx import table_grid

    d = docx.Document(str(CORPUS / DOCX_NAME))
    grid = table_grid(d.tables[0]._tbl)
    header = next(i for i, row in enumerate(grid) if row[0].text == "一级指标")
    first, second = grid[header + 1], grid[header + 2]
    # 一级/二级 labels merged down (vMerge): the row below carries them as filled copies
    assert first[0].text == second[0].text == "产出指标" and not first[0].filled and second[0].filled
    # the 单位名称 value spans the remaining columns (gridSpan): covered cells are empty
    assert grid[0][0].text == "单位名称" and grid[0][1].text and all(c.text == "" for c in grid[0][2:])


@needs_soffice
def test_doc_is_read_through_libreoffice():
    doc = parsed(CORPUS / DOC_NAME)
    assert doc.fmt == "doc" and len(doc.rows) == 47
    assert doc.rows[0].source.file == DOC_NAME and doc.rows[0].source.sheet == "表1"


def test_missing_libreoffice_gives_chinese_install_hint(tmp_path, monkeypatch):
    from indexer.ingest import parse_file
    from indexer.model import IngestError

    monkeypatch.setenv("PERFSEARCH_SOFFICE", str(tmp_path / "no-such-soffice"))
    p = tmp_path / "附件1.doc"
    p.write_bytes((CORPUS / DOC_NAME).read_bytes() if (CORPUS / DOC_NAME).exists() else b"\xd0\xcf\x11\xe0")
    with pytest.raises(IngestError) as info:
        parse_file(p)
    msg = info.value.message
    assert msg.startswith("附件1.doc：读取Word 97-2003 (.doc)需要 LibreOffice，但本机没有安装")
    assert "apt-get install -y libreoffice-writer-nogui" in msg and "另存为 .docx" in msg


def test_xls_two_sheets_cite_their_sheet():
    doc = parsed(CORPUS / XLS_NAME)
    assert doc.fmt == "xls"
    dept, *projects = doc.tables
    assert {r.source.sheet for r in dept.rows} == {"部门整体"}
    assert {r.source.sheet for t in projects for r in t.rows} == {"项目支出"}
    r = projects[0].rows[0]
    assert r.source.label() == f"{XLS_NAME} 工作表“项目支出” 第{r.source.line}行"
    # Excel row numbers restart on the second sheet
    assert projects[0].rows[0].source.line < dept.rows[-1].source.line


def test_single_sheet_xlsx_keeps_plain_citation():
    doc = parsed(CORPUS / "xlsx_002_suzhou_zhuangbei_2023.xlsx")
    assert all(r.source.sheet is None for r in doc.rows)
    assert "sheet" not in doc.rows[0].source.to_json()


def _md5(p: Path) -> str:
    return hashlib.md5(p.read_bytes()).hexdigest()


def test_generator_is_deterministic_and_rebuilds_equivalent_files(tmp_path: Path):
    written = build_formats_corpus(CORPUS, tmp_path, ocr=False, doc=False)
    assert sorted(p.name for p in written) == sorted([HTML_NAME, DOCX_NAME, XLS_NAME])
    for p in written:
        assert _md5(p) == _md5(CORPUS / p.name), p.name


def test_wps_spreadsheet_et_in_biff_form_is_read_like_xls(tmp_path):
    from indexer.formats import detect_format
    from indexer.ingest import parse_file

    et = tmp_path / "绩效目标.et"
    et.write_bytes((CORPUS / XLS_NAME).read_bytes())
    assert detect_format(et) == "et"
    doc = parse_file(et)
    assert [row_key(r) for r in doc.rows] == [row_key(r) for r in parsed(CORPUS / XLS_NAME).rows]
    assert doc.rows[0].source.file == "绩效目标.et"


@needs_soffice
def test_wps_document_goes_through_libreoffice(tmp_path):
    from indexer.ingest import parse_file

    wps = tmp_path / "附件.wps"
    wps.write_bytes((CORPUS / DOC_NAME).read_bytes())
    doc = parse_file(wps)
    assert doc.fmt == "doc" and [row_key(r) for r in doc.rows] == [row_key(r) for r in parsed(CORPUS / DOC_NAME).rows]


def test_damaged_files_give_chinese_reasons(tmp_path):
    from indexer.ingest import parse_file
    from indexer.model import IngestError

    bad_xls = tmp_path / "坏.xls"
    bad_xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(IngestError, match="不是有效的 Excel 97-2003"):
        parse_file(bad_xls)
    bad_docx = tmp_path / "坏.docx"
    bad_docx.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(IngestError, match="不是有效的 Word"):
        parse_file(bad_docx)
