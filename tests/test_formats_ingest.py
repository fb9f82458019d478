"""A folder as a budget officer downloads it: every file read or named with the reason it was skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from indexer.formats import SUPPORTED_SUFFIXES, content_matches, detect_format
from indexer.pipeline import scan_paths
from scripts.make_corpus_formats import DOCX_NAME, HTML_NAME, XLS_NAME
from tests.conftest import CORPUS, SEED_000


def downloads(tmp_path: Path) -> Path:
    d = tmp_path / "下载"
    d.mkdir()
    for name in (HTML_NAME, DOCX_NAME, XLS_NAME, SEED_000.name):
        shutil.copy(CORPUS / name, d / name)
    (d / "汇报.pptx").write_bytes(b"PK\x03\x04pptx")
    (d / "附件.zip").write_bytes(b"PK\x03\x04zip")
    (d / "~$绩效目标.docx").write_bytes(b"owner")
    (d / ".DS_Store").write_bytes(b"\x00")
    # a page saved "complete": its assets folder holds images and scripts that are not documents
    assets = d / "html_001_suzhou_dianhua_2024_files"
    assets.mkdir()
    (assets / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (assets / "jquery.js").write_text("x", encoding="utf-8")
    return d


def test_scan_reads_documents_and_names_the_rest(tmp_path):
    d = downloads(tmp_path)
    scan = scan_paths([d])
    assert sorted(f.name for f in scan.files) == sorted([HTML_NAME, DOCX_NAME, XLS_NAME, SEED_000.name])
    reasons = {s.file: s.reason for s in scan.skipped}
    assert set(reasons) == {"汇报.pptx", "附件.zip", "~$绩效目标.docx", ".DS_Store"}
    assert reasons[".DS_Store"] == "隐藏文件或文件夹，已跳过"
    assert reasons["附件.zip"].startswith("不支持的文件类型“.zip”：压缩包需要先解压")
    assert "临时锁文件" in reasons["~$绩效目标.docx"]
    assert "另存为 PDF 或 Excel" in reasons["汇报.pptx"]


def test_pipeline_report_names_skipped_files(tmp_path):
    from indexer.pipeline import ingest_paths
    from indexer.store import IndexStore

    d = downloads(tmp_path)
    report = ingest_paths([d], IndexStore(tmp_path / "ix"))
    assert sorted(report.added) == sorted([HTML_NAME, DOCX_NAME, XLS_NAME, SEED_000.name]) and report.ok
    assert sorted(e.file for e in report.skipped) == sorted(["汇报.pptx", "附件.zip", "~$绩效目标.docx", ".DS_Store"])
    assert "跳过 4 个" in report.summary()
    assert report.n_tables == 1 + 1 + 11 + 11


def test_cli_ingest_names_skipped_files_and_reads_all_formats(tmp_path):
    from tests.conftest import FAKE_MODEL
    from ui.cli import main

    d = downloads(tmp_path)
    r = CliRunner().invoke(main, ["ingest", str(d), "--index", str(tmp_path / "ix"), "--no-progress",
                                  "--model", FAKE_MODEL])
    assert r.exit_code == 0, r.output
    out = r.output
    assert "新增 4 个" in out and "跳过 4 个" in out and "失败" not in out
    assert "跳过：附件.zip：不支持的文件类型“.zip”：压缩包需要先解压，再导入解压后的文件夹" in out
    assert "跳过：汇报.pptx：" in out and "跳过：~$绩效目标.docx：" in out
    assert "logo.png" not in out
    rows = CliRunner().invoke(main, ["rows", "--json", "--index", str(tmp_path / "ix")])
    assert '"sheet": "项目支出"' in rows.output and '"sheet": "表1"' in rows.output


def test_unsupported_file_named_explicitly_is_skipped_with_reason(tmp_path):
    from indexer.pipeline import collect_files

    p = tmp_path / "说明.rtf"
    p.write_text("{\\rtf1}", encoding="ascii")
    skipped: list = []
    files, errors = collect_files([p], skipped)
    assert files == [] and errors == []
    assert [e.message for e in skipped] == [
        "说明.rtf：不支持的文件类型“.rtf”：RTF 文档暂不支持；请用 Word 或 WPS 另存为 .docx 后再导入"
    ]


def test_web_upload_accepts_exactly_the_cli_list():
    from ui import handlers

    assert handlers.ALLOWED_UPLOAD_SUFFIXES == SUPPORTED_SUFFIXES
    for suffix in (".html", ".htm", ".docx", ".doc", ".wps", ".xls", ".et", ".xlsx", ".csv", ".png", ".jpg", ".pdf"):
        assert suffix in SUPPORTED_SUFFIXES


def test_content_first_detection_and_upload_sniffing(tmp_path):
    docx_as_doc = tmp_path / "附件.doc"
    shutil.copy(CORPUS / DOCX_NAME, docx_as_doc)
    assert detect_format(docx_as_doc) == "docx" and content_matches(docx_as_doc)
    html_as_xls = tmp_path / "导出.xls"
    shutil.copy(CORPUS / HTML_NAME, html_as_xls)
    assert detect_format(html_as_xls) == "html" and content_matches(html_as_xls)
    fake_pdf = tmp_path / "假.pdf"
    fake_pdf.write_bytes(b"<html>not a pdf</html>")
    assert not content_matches(fake_pdf)
    fake_png = tmp_path / "假.png"
    fake_png.write_text("hello", encoding="utf-8")
    assert not content_matches(fake_png)
    assert detect_format(CORPUS / XLS_NAME) == "xls"


def test_document_view_highlights_the_cited_row_on_its_own_sheet():
    from tests.conftest import parsed
    from ui.render import render_source

    doc = parsed(CORPUS / XLS_NAME)
    project_row = doc.tables[1].rows[0]
    src = project_row.source
    shown = render_source(CORPUS / XLS_NAME, line=src.line, sheet=src.sheet)
    assert project_row.name in shown.highlighted_text and "项目支出" in shown.html
    # the same row number on the other sheet is another row
    other = render_source(CORPUS / XLS_NAME, line=src.line, sheet="部门整体")
    assert project_row.name not in other.highlighted_text
    html_row = parsed(CORPUS / HTML_NAME).rows[-1]
    shown = render_source(CORPUS / HTML_NAME, line=html_row.source.line, sheet=html_row.source.sheet)
    assert html_row.name in shown.highlighted_text
