"""Web interface handlers, called directly (no server): search, QA, drafting, documents, upload."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import gradio as gr
import pytest

from tests.conftest import CORPUS, FAKE_MODEL, SEED_000

# A small index (one PDF with page + bbox, three text files of other provinces, one of them GBK)
# keeps the embedding work of the UI tests short; it is built once per test session.
UI_CORPUS = (
    "pdf_000_suzhou_jiance_2023.pdf",
    "other_bracket_list_2024.txt",
    "other_gbk_pipes_columns_2024.txt",
    "other_nolevels_fujian_2024.txt",
)
PDF_NAME = UI_CORPUS[0]


def _corpus_file(name: str, dest: Path) -> Path:
    src = CORPUS / name
    out = dest / name
    if src.is_file():
        shutil.copy(src, out)
    elif name == PDF_NAME:  # the PDF corpus is generated; render it when it is not there yet
        from indexer.ingest import parse_file
        from scripts.make_corpus import render_pdf

        render_pdf(parse_file(SEED_000).tables, out)
    else:
        raise FileNotFoundError(src)
    return out


def build_ui_index(base: Path, model: str | None = FAKE_MODEL) -> Path:
    """``base/ui-index`` built from ``UI_CORPUS`` with the test encoder ``fake-bigram`` (``model=None``: the
    real default model, for the browser tests and their screenshots), reused when it already exists;
    returns the index dir."""
    from search.engine import Engine

    index = base / ("ui-index" if model else "ui-index-real")
    if (index / "manifest.json").is_file():
        return index
    src = base / "ui-corpus"
    src.mkdir(parents=True, exist_ok=True)
    files = [_corpus_file(n, src) for n in UI_CORPUS]
    report = Engine.open(index, model=model).ingest([f.resolve() for f in files])
    assert not report.errors, [e.message for e in report.errors]
    return index


def copy_ui_index(tmp_path_factory: pytest.TempPathFactory, name: str, model: str | None = FAKE_MODEL) -> Path:
    """A private copy of the shared UI index (source files are referenced by absolute path)."""
    shared = build_ui_index(tmp_path_factory.getbasetemp(), model)
    dest = tmp_path_factory.mktemp(name) / "index"
    shutil.copytree(shared, dest, ignore=shutil.ignore_patterns(".lock"))
    return dest


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from search.engine import Engine

    return Engine.open(copy_ui_index(tmp_path_factory, "ui-handlers"))


@pytest.fixture(scope="module")
def h():
    from ui import handlers

    return handlers


# ---------------------------------------------------------------- pure helpers


def test_sanitize_filename(h):
    assert h.sanitize_filename("../../etc/passwd") == "passwd"
    assert h.sanitize_filename("C:\\Users\\a\\报表<1>.pdf") == "报表_1_.pdf"
    assert h.sanitize_filename("a\x00b\n.txt") == "ab.txt"
    assert h.sanitize_filename("") == "未命名文件"
    assert h.sanitize_filename("..") == "未命名文件"
    assert len(h.sanitize_filename("长" * 300 + ".pdf")) <= 120
    assert h.sanitize_filename("长" * 300 + ".pdf").endswith(".pdf")


def test_pick_by_number_cell_then_index(h):
    items = ["a", "b", "c"]
    assert h.pick(items, [3, "x"], [0, 1]) == "c"  # the 序号 cell wins (sorted tables)
    assert h.pick(items, None, [1, 4]) == "b"
    assert h.pick(items, None, 5) is None
    assert h.pick(items, ["n/a"], None) is None


# ---------------------------------------------------------------- overview and search


def test_index_summary_and_filter_choices(h, engine):
    assert "4 个文档" in h.index_summary(engine)
    choices = h.filter_choices(engine)
    units = [v for _, v in choices["unit"]]
    assert choices["unit"][0] == ("全部", "")
    assert {"苏州市教育质量监测中心", "临江市教育局", "青石县财政局"} <= set(units)
    assert ("2024年", "2024") in choices["year"] and ("2023年", "2023") in choices["year"]
    assert ("项目支出", "project") in choices["kind"] and ("部门整体", "department") in choices["kind"]
    assert "智慧校园网络升级项目" in [v for _, v in choices["project"]]


def test_search_with_unit_filter(h, engine):
    view = h.search(engine, "满意度", unit="临江市教育局")
    assert view.hits and all(hit["unit"] == "临江市教育局" for hit in view.hits)
    assert "找到" in view.status
    assert list(view.table.columns) == h.RESULT_COLUMNS
    first = view.table.iloc[0]
    assert first["单位"] == "临江市教育局" and first["来源"].startswith("other_bracket_list_2024.txt 第")
    assert any(hit["name"] == "师生满意度" for hit in view.hits)


def test_search_without_words_lists_filtered_rows(h, engine):
    view = h.search(engine, "", year="2023")
    assert view.hits and {hit["year"] for hit in view.hits} == {2023}
    with pytest.raises(gr.Error, match="请输入要检索"):
        h.search(engine, "  ")


def test_export_hits_xlsx_and_csv(h, engine, tmp_path):
    from openpyxl import load_workbook

    hits = h.search(engine, "满意度").hits
    xlsx = h.export_hits(engine, hits, "xlsx", tmp_path)
    ws = load_workbook(xlsx).active
    assert [c.value for c in ws[1]] == h.RESULT_COLUMNS
    assert ws.max_row == len(hits) + 1
    path = h.export_hits(engine, hits, "csv", tmp_path)
    with path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == h.RESULT_COLUMNS and len(rows) == len(hits) + 1
    with pytest.raises(gr.Error):
        h.export_hits(engine, [], "xlsx", tmp_path)


def test_errors_are_chinese_gr_errors(h, tmp_path):
    from search.engine import Engine

    empty = Engine.open(tmp_path / "no-index")
    with pytest.raises(gr.Error) as err:
        h.search(empty, "满意度")
    assert "还没有索引" in err.value.message
    assert "索引为空" in h.index_summary(empty)
    assert h.documents_table(empty)[1] == []


# ---------------------------------------------------------------- question answering


def test_ask_satisfaction_at_least_90(h, engine):
    view = h.ask(engine, "哪些单位设定了满意度≥90%?")
    assert "临江市教育局" in view.answer
    assert view.plan.startswith("理解为：") and "90" in view.plan
    assert "临江市教育局" in set(view.rows["单位"])
    assert all(r.get("source") for r in view.row_hits)
    # the Suzhou PDF sets ≥85%: a near miss with its reason
    assert "苏州市教育质量监测中心" in set(view.near["单位"])
    assert list(view.near.columns) == h.NEAR_COLUMNS
    with pytest.raises(gr.Error):
        h.ask(engine, "")


# ---------------------------------------------------------------- documents and sources


def test_documents_table_and_rows(h, engine):
    frame, keys = h.documents_table(engine)
    assert len(frame) == len(keys) == 5  # 青石县财政局 has two tables
    i = next(i for i, k in enumerate(keys) if k["file"] == PDF_NAME)
    rows, hits, title = h.table_rows(engine, keys[i])
    assert len(rows) == 53 and "苏州市教育质量监测中心" in title
    assert all(hit["source"]["page"] for hit in hits)


FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROSE_DOC = "chacewang_xinqu_jixiaoguanli_2022.txt"  # a real notice page without a table: 1 passage (tests/fixtures)
CLUTTER_DOC = "fujian_fuzhou_jinan_yuefeng_baisui_2024.txt"  # 5 rows without levels, 3 clutter lines


@pytest.fixture(scope="module")
def docs_engine(tmp_path_factory):
    """The UI index plus two real-world documents: one read as text only, one with page clutter."""
    from search.engine import Engine

    eng = Engine.open(copy_ui_index(tmp_path_factory, "ui-docs"))
    report = eng.ingest([FIXTURES / PROSE_DOC, CORPUS / "realworld" / CLUTTER_DOC])
    assert not report.errors
    return eng


def test_document_view_shows_the_parse_report_and_the_passages(h, docs_engine):
    frame, keys = h.documents_table(docs_engine)
    assert len(frame) == len(keys) == 7  # 5 tables of the UI corpus, the clutter document's table, the prose line
    prose = keys.index({"file": PROSE_DOC, "table": -1})
    assert list(frame.iloc[prose])[1:] == [PROSE_DOC, "", "正文（未识别到指标表）", "2022", 0]

    view = h.document_view(docs_engine, PROSE_DOC)
    assert view.report == (
        f"**解析报告：{PROSE_DOC}**（0 张表，0 条指标）\n\n"
        "- 表格以外的正文 1 段，见下方“正文”\n"
        "- 提示：未识别到指标表，已按正文导入"
    )
    assert list(view.passages.columns) == h.PASSAGE_COLUMNS and len(view.passages) == 1
    assert list(view.passages["来源"]) == [f"{PROSE_DOC} 第1行"]
    assert view.passages.iloc[0]["正文"].startswith("实施预算绩效管理是建立现代财政制度的重要内容")
    assert len(view.passages.iloc[0]["正文"]) == 324
    assert [hit["source"]["line"] for hit in view.passage_hits] == [1]
    # a passage opens its line in the source view like any row
    src = h.open_source(docs_engine, view.passage_hits[0])
    assert src.highlighted_text.startswith("实施预算绩效管理")

    view = h.document_view(docs_engine, CLUTTER_DOC)
    assert view.report == (
        f"**解析报告：{CLUTTER_DOC}**（1 张表，5 条指标）\n\n"
        "- 表 1（部门整体）：5 条指标\n"
        "- 5 条指标的一级或二级指标不明\n"
        "- 跳过网页杂项 3 行（如“打印本页”“扫一扫”）"
    )
    assert len(view.passages) == 0 and view.passage_hits == []
    with pytest.raises(gr.Error, match="已不在索引中"):
        h.document_view(docs_engine, "nope.txt")


def test_open_pdf_citation_draws_the_box(h, engine):
    hit = next(r for r in engine.rows_json() if r["doc"] == PDF_NAME and r["source"]["page"] == 2)
    view = h.open_source(engine, hit)
    assert "第2页" in view.title and hit["name"] in view.title
    img = view.image
    assert img is not None and img.width > 1000
    x0, top, x1, bottom = hit["source"]["bbox"]
    scale = img.width / 595.2756
    # the outline is red, the inside tinted yellow
    edge = img.getpixel((int((x0 + x1) / 2 * scale), int(top * scale - 3)))
    assert edge[0] > 180 and edge[1] < 90 and edge[2] < 90, edge
    inside = img.getpixel((int((x0 + 5) * scale), int((top + bottom) / 2 * scale)))
    assert inside[2] < 200 and inside[0] > 200, inside


def test_open_text_citation_highlights_the_line(h, engine):
    hit = next(r for r in engine.rows_json() if r["doc"] == "other_gbk_pipes_columns_2024.txt")
    view = h.open_source(engine, hit)
    assert view.image is None
    assert f"第{hit['source']['line']}行" in view.title
    assert hit["name"] in view.highlighted_text  # decoded from GBK
    assert 'class="ps-line ps-hl"' in view.html


def test_open_source_missing_file(h, engine):
    with pytest.raises(gr.Error, match="找不到原始文件"):
        h.open_source(engine, {"source": {"file": "不存在.txt", "page": None, "line": 3, "bbox": None}})
    with pytest.raises(gr.Error):
        h.open_source(engine, None)
    # only indexed files are opened, never a path a client names
    for name in ("../../../../etc/passwd", "/etc/passwd", "uploads/../manifest.json"):
        with pytest.raises(gr.Error, match="找不到原始文件"):
            h.open_source(engine, {"file": name, "page": None, "line": 1, "bbox": None})


def test_render_xlsx_and_text_context(tmp_path):
    from ui.render import render_source, text_context

    p = tmp_path / "a.txt"
    p.write_text("\n".join(f"第{i}行内容" for i in range(1, 31)), encoding="utf-8")
    ctx = text_context(p, 30, radius=3)
    assert [n for n, _, _ in ctx] == [27, 28, 29, 30] and ctx[-1][2]
    assert [n for n, _, hit in text_context(p, None, radius=2) if hit] == []
    xlsx = CORPUS / "xlsx_002_suzhou_zhuangbei_2023.xlsx"
    if xlsx.is_file():
        r = render_source(xlsx, line=10)
        assert r.image is None and "ps-hl" in r.html and r.highlighted_text


# ---------------------------------------------------------------- upload


def test_upload_mixed_batch(h, engine, tmp_path):
    up = tmp_path / "client"
    up.mkdir()
    text = (CORPUS / "other_bracket_list_2024.txt").read_text(encoding="utf-8")
    good = up / "临江市书香项目.txt"
    good.write_text(
        text.replace("智慧校园网络升级项目", "校园书香阅读推广项目").replace("机柜数量", "图书借阅册次"),
        encoding="utf-8",
    )
    broken = up / "坏文件.pdf"
    broken.write_bytes(b"not a pdf at all")
    wrong = up / "说明.doc"
    wrong.write_bytes(b"whatever")
    empty = up / "空白.txt"
    empty.write_text("这不是绩效目标表\n只是普通文字\n", encoding="utf-8")
    dup = up / "重复.txt"
    shutil.copy(CORPUS / "other_nolevels_fujian_2024.txt", dup)
    before = h.search(engine, "图书借阅册次")
    assert h.search(engine, "图书借阅册次") is before  # the same search again: answered from the result cache
    assert "图书借阅册次" not in {x["name"] for x in before.hits}
    steps: list[tuple[int, int, str]] = []
    view = h.upload(engine, [good, broken, wrong, empty, dup], progress=lambda i, n, name: steps.append((i, n, name)))
    status = dict(zip(view.table["文件"], view.table["结果"]))
    assert status == {
        "临江市书香项目.txt": "已导入",
        "坏文件.pdf": "未导入",
        "说明.doc": "未导入",
        "空白.txt": "已导入",  # no table: imported as text passages (issue 9)
        "重复.txt": "已存在",
    }
    assert "成功 2 个" in view.summary and "失败 2 个" in view.summary
    detail = dict(zip(view.table.iloc[:, 0], view.table.iloc[:, 2], strict=True))
    assert detail["空白.txt"] == "0 张表、0 条指标（单位未识别）；未识别到指标表，已按正文导入"
    assert steps and steps[-1][1] == 2 and steps[0][2] in ("临江市书香项目.txt", "空白.txt")
    # stored under a generated name inside the index, shown under the original name
    stored = [p.name for p in h.uploads_dir(engine).iterdir() if p.suffix == ".txt"]
    assert len(stored) == 2 and all(len(Path(n).stem) == 32 for n in stored)
    stored = [n for n in stored if h.display_name(engine, n) == "临江市书香项目.txt"]
    assert len(stored) == 1
    # searchable at once (a new index generation: the kept result is not used), with the original name
    res = h.search(engine, "图书借阅册次")
    assert res is not before
    hit = next(x for x in res.hits if x["name"] == "图书借阅册次")
    assert hit["doc"] == stored[0]
    assert h.source_label(engine, hit["source"]).startswith("临江市书香项目.txt 第")
    assert "临江市书香项目.txt" in set(h.documents_table(engine)[0]["文件"])
    assert h.open_source(engine, hit).highlighted_text


def test_upload_limits(h, engine, tmp_path):
    big = tmp_path / "大文件.txt"
    big.write_bytes(b"x" * 3000)
    view = h.upload(engine, [big], max_mb=0.001)
    assert view.table.iloc[0]["结果"] == "未导入" and "上限" in view.table.iloc[0]["说明"]
    with pytest.raises(gr.Error):
        h.upload(engine, [])


# ---------------------------------------------------------------- drafting


def test_suggest_add_check_export(h, engine, tmp_path):
    from openpyxl import load_workbook

    view = h.suggest(engine, "网络升级改造项目")
    assert view.items and list(view.table.columns) == h.SUGGESTION_COLUMNS
    assert [v for _, v in view.choices] == [str(i) for i in range(len(view.items))]
    detail = h.suggestion_detail(engine, view.items[0])
    assert list(detail.chart.columns) == ["指标值", "次数"] and len(detail.chart) >= 1
    assert detail.example_hits and detail.example_hits[0]["source"]
    frame = h.add_suggestions(None, ["0", "1"], view.items)
    assert len(frame) == 2 and list(frame.columns) == h.DRAFT_COLUMNS
    frame = h.add_suggestions(frame, ["0"], view.items)  # already there: kept once
    assert len(frame) == 2
    frame.loc[len(frame)] = ["产出指标", "数量指标", "培训人次", "", "显著提高", "", "", ""]
    checked = h.check_draft(engine, frame, "网络升级改造项目", "临江市教育局", "2025")
    assert len(checked.table) == 3
    assert "警告" in checked.table.iloc[2]["检查意见"] or "错误" in checked.table.iloc[2]["检查意见"]
    assert "检查完成" in checked.summary
    path = h.export_draft(frame, "网络升级改造项目", "临江市教育局", "2025", tmp_path)
    assert path.suffix == ".xlsx" and path.is_file()
    ws = load_workbook(path).active
    values = [c for row in ws.iter_rows(values_only=True) for c in row if c]
    assert "培训人次" in values
    with pytest.raises(gr.Error):
        h.check_draft(engine, h.draft_frame([]))
    with pytest.raises(gr.Error):
        h.add_suggestions(frame, [], view.items)
