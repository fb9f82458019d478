"""The real web interface in headless Chromium (Python Playwright, Debian's /usr/bin/chromium).

One ``perfsearch serve`` process and one browser page serve the whole module; the
steps build on each other (search, question, citation, draft, upload) and each
saves a screenshot into tests/artifacts/ui/.  With ``PERFSEARCH_SCREENSHOTS=DIR``
the screenshots used by the README are also copied there (scripts/screenshots.py).

These tests never skip: without Chromium they fail and say how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from tests.test_ui_api import free_port
from tests.test_ui_handlers import copy_ui_index

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("PERFSEARCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = ROOT / "tests" / "artifacts" / "ui"
MAX_UPLOAD_MB = 5
TIMEOUT_MS = 120_000  # generous: the first search loads the embedding model on a 2-core machine
README_SHOTS = {  # screenshot -> docs/screenshots name (one per tab)
    "01_search.png": "search.png",
    "02_qa.png": "qa.png",
    "05_draft.png": "draft.png",
    "03_document_pdf.png": "documents.png",
    "06_upload.png": "upload.png",
}


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.wait_for_timeout(400)  # let transitions settle
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    target = os.environ.get("PERFSEARCH_SCREENSHOTS")
    if target and name in README_SHOTS:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / README_SHOTS[name])
    return path


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``perfsearch serve`` on a free port with a built index; yields (url, started_at)."""
    index = copy_ui_index(tmp_path_factory, "ui-browser", model=None)  # the real model: screenshots for the README
    port = free_port()
    log = tmp_path_factory.mktemp("ui-browser-log") / "serve.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "serve", "--index", str(index), "--port", str(port),
             "--max-upload-mb", str(MAX_UPLOAD_MB)],  # fmt: skip
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PERFSEARCH_AUTH": ""},
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"perfsearch serve exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"perfsearch serve did not answer within 120 s:\n{log.read_text(errors='replace')}")
                time.sleep(0.2)
        yield url, started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the browser tests need Debian's chromium "
            "(apt-get install -y chromium chromium-driver; .ci/run does this). Never run `playwright install`."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser, app):
    url, _ = app
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True, locale="en-US")
    ctx.set_default_timeout(TIMEOUT_MS)
    pg = ctx.new_page()
    yield pg
    ctx.close()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    page.wait_for_timeout(300)


def cell(page, table: str, row: int, col: int):
    return page.locator(f'#{table} [data-testid="cell-{row}-{col}"]')


def column(page, table: str, col: int) -> list[str]:
    return [t.strip() for t in page.locator(f'#{table} [role="gridcell"][data-col="{col}"]').all_inner_texts()]


def choose(page, dropdown: str, option: str) -> None:
    page.locator(f"#{dropdown} input").click()
    page.get_by_role("option", name=option, exact=True).click()


# ---------------------------------------------------------------- the steps


def test_first_page_is_ready_quickly(page, app):
    url, started = app
    t0 = time.monotonic()
    page.goto(url)
    page.wait_for_selector("#ps-index-status :text('索引：')")
    load = time.monotonic() - t0
    since_start = time.monotonic() - started
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "startup.txt").write_text(
        f"page load {load:.1f} s; process start to first page ready {since_start:.1f} s\n", encoding="utf-8"
    )
    print(f"page load {load:.1f} s, start-to-first-page {since_start:.1f} s")
    assert load < 10, f"first page took {load:.1f} s"
    assert since_start < 60, f"server start + first page took {since_start:.1f} s"
    # Gradio's own widgets are Chinese even in an English browser
    assert page.evaluate("navigator.language") == "zh-CN"


ENGLISH = ("Copy table data", "Fullscreen", "Filter", "Clear filters", "Error", "queue:", "Clear sort",
           "Sort ascending", "Drop File Here", "Click to Upload", "Loading", "processing")  # fmt: skip


def english_on_page(page) -> list[str]:
    text = page.evaluate("document.body.innerText")
    labels = page.evaluate(
        "Array.from(document.querySelectorAll('[aria-label],[title]'))"
        ".filter(e => e.offsetParent !== null)"
        ".map(e => (e.getAttribute('aria-label') || '') + ' ' + (e.getAttribute('title') || ''))"
    )
    return [w for w in ENGLISH if w in text or any(w in x for x in labels)]


def status_count(page) -> int:
    import re

    m = re.search(r"找到 (\d+) 条", page.locator("#search-status").inner_text())
    assert m, page.locator("#search-status").inner_text()
    return int(m.group(1))


def test_nonsense_query_says_nothing_matches(page):
    open_tab(page, "检索")
    page.locator("#search-query textarea").fill("qzxv乱码测试")
    page.locator("#search-btn").click()
    page.locator("#search-status :text('没有找到相关指标')").wait_for()
    assert page.locator('#search-results [role="gridcell"]').count() == 0
    assert not page.locator("#search-clusters").is_visible()


def test_empty_query_keeps_the_results(page):
    page.locator("#search-query textarea").fill("师生满意度")
    page.locator("#search-btn").click()
    cell(page, "search-results", 0, 1).wait_for()
    before = column(page, "search-results", 1)
    page.locator("#search-query textarea").fill("")
    page.locator("#search-btn").click()
    page.locator("#search-status :text('请输入要检索')").wait_for()
    assert column(page, "search-results", 1) == before  # a hint, the results stay
    assert not english_on_page(page)


def test_search_with_a_filter(page):
    open_tab(page, "检索")
    page.locator("#search-query textarea").fill("满意度")
    choose(page, "f-unit", "临江市教育局")
    page.locator("#search-btn").click()
    page.locator("#search-status :text('找到')").wait_for()
    cell(page, "search-results", 0, 1).wait_for()
    units = column(page, "search-results", 3)
    assert units and set(units) == {"临江市教育局"}
    assert "师生满意度" in column(page, "search-results", 1)
    assert status_count(page) == len(units)  # the true count, no padding with other units' rows
    assert not page.locator("#search-more").is_visible()
    # cascading choices: only the unit's own years and projects can be picked
    page.locator("#f-project input").click()
    options = [o.replace("✓", "").strip() for o in page.get_by_role("option").all_inner_texts()]
    assert options == ["全部", "智慧校园网络升级项目"], options
    page.keyboard.press("Escape")
    shot(page, "01_search.png")


def row_numbers(page, table: str) -> list[int]:
    """Every 序号 of a (virtualised) table: scroll it to the end, collecting the rows shown."""
    page.evaluate(
        f"document.querySelectorAll('#{table} *').forEach(e => {{ if (e.scrollHeight > e.clientHeight) e.scrollTop = 0; }})"
    )
    page.wait_for_timeout(300)
    seen: set[int] = set()
    for _ in range(60):
        before = len(seen)
        seen |= {int(x) for x in column(page, table, 0) if x.isdigit()}
        if len(seen) == before and before:
            break
        page.locator(f'#{table} [role="gridcell"][data-col="0"]').last.scroll_into_view_if_needed()
        page.wait_for_timeout(200)
    return sorted(seen)


def test_paging_shows_more(page):
    open_tab(page, "检索")
    page.locator("#clear-filters").click()
    page.wait_for_timeout(500)
    page.locator("#search-query textarea").fill("")
    choose(page, "f-unit", "苏州市教育质量监测中心")
    page.locator("#search-btn").click()
    page.locator("#search-status :text('显示前 30 条')").wait_for()
    total = status_count(page)
    assert total > 30
    assert row_numbers(page, "search-results") == list(range(1, 31))
    page.locator("#search-more").click()
    page.locator(f"#search-status :text('显示前 {min(60, total)} 条'), #search-status :text('找到 {total} 条相关指标。')"
                 ).first.wait_for()  # fmt: skip
    assert row_numbers(page, "search-results") == list(range(1, min(60, total) + 1))


def test_export_downloads_a_file(page, tmp_path):
    from openpyxl import load_workbook

    page.locator("#export-xlsx").click()
    link = page.locator("#export-file a").first
    link.wait_for()
    with page.expect_download() as dl:
        link.click()
    out = tmp_path / "results.xlsx"
    dl.value.save_as(out)
    ws = load_workbook(out).active
    assert ws.cell(1, 2).value == "三级指标" and ws.max_row >= 31


def test_question_with_cited_rows(page):
    open_tab(page, "问答")
    page.locator(".qa-example", has_text="满意度≥90%").click()
    cell(page, "qa-rows", 0, 1).wait_for()
    page.locator("#qa-answer").wait_for()
    assert "临江市教育局" in page.locator("#qa-answer").inner_text()
    assert "理解为" in page.locator("#qa-plan").inner_text()
    assert "临江市教育局" in column(page, "qa-rows", 3)
    assert page.locator("#qa-near-box").is_visible()
    shot(page, "02_qa.png")


def test_citation_opens_the_document_view(page):
    # a PDF citation: the page is rendered with the row's box drawn
    open_tab(page, "检索")
    page.locator("#clear-filters").click()
    page.locator("#search-query textarea").fill("网络通讯故障率")
    page.locator("#search-btn").click()
    page.locator('#search-results [role="gridcell"][data-col="7"]', has_text=".pdf").first.wait_for()
    page.locator('#search-results [role="gridcell"][data-col="7"]', has_text=".pdf").first.click()
    img = page.locator("#source-image img")
    img.wait_for()
    page.wait_for_function("document.querySelector('#source-image img').naturalWidth > 1000")
    assert page.get_by_role("tab", name="文档", exact=True).get_attribute("aria-selected") == "true"
    title = page.locator("#source-title").inner_text()
    assert "pdf_000_suzhou_jiance_2023.pdf 第" in title and "页" in title and "红框" in title
    shot(page, "03_document_pdf.png")
    # a text citation from a question: the lines around it, the cited line highlighted
    open_tab(page, "问答")
    page.locator('#qa-rows [role="gridcell"][data-col="7"]', has_text="other_bracket_list_2024.txt").first.click()
    hl = page.locator("#source-html .ps-hl")
    hl.wait_for()
    assert "师生满意度" in hl.inner_text()
    assert "第13行" in page.locator("#source-title").inner_text()
    shot(page, "04_document_text.png")


def test_document_list_shows_the_parse_report(page):
    open_tab(page, "文档")
    page.locator('#doc-list [role="gridcell"][data-col="1"]', has_text="other_nolevels_fujian_2024.txt").first.click()
    page.wait_for_function("document.querySelector('#doc-report').innerText.includes('解析报告')")
    report = page.locator("#doc-report").inner_text()
    assert "解析报告：other_nolevels_fujian_2024.txt（2 张表，11 条指标）" in report
    assert "6 条指标的一级或二级指标不明" in report
    cell(page, "doc-rows", 0, 2).wait_for()
    assert not page.locator("#doc-passages").is_visible()  # this document's text is all in its tables


def test_draft_from_suggestions_checked_and_downloaded(page, tmp_path):
    from openpyxl import load_workbook

    open_tab(page, "起草")
    page.locator("#draft-input textarea").fill("网络升级改造项目")
    page.locator("#suggest-btn").click()
    cell(page, "suggestions", 0, 3).wait_for()
    first = cell(page, "suggestions", 0, 3).inner_text().strip()
    cell(page, "suggestions", 0, 3).click()  # its value distribution and examples
    cell(page, "suggest-examples", 0, 1).wait_for()
    # the value chart: counts start at zero, so every bar has a height proportional to its count
    bars = chart_bars(page)
    counts = sorted(int(c) for c in _cells_of_chart(page))
    assert bars and len(bars) == len(counts) and min(bars) > 0
    tallest = max(bars)
    for b, c in zip(sorted(bars), counts):
        assert abs(b / tallest - c / max(counts)) < 0.05, (bars, counts)
    note = page.locator("#suggest-detail").inner_text()
    shown = len(column(page, "suggest-examples", 0))
    assert f"列出全部 {shown} 个来源" in note or f"列出其中 {shown} 个来源" in note
    page.locator("#pick-all-btn").click()
    page.wait_for_timeout(500)
    page.locator("#add-btn").click()
    cell(page, "draft-table", 0, 2).wait_for()
    assert first in column(page, "draft-table", 2)
    page.locator("#check-btn").click()
    page.locator("#check-summary :text('检查完成')").wait_for()
    notes = [n for n in column(page, "draft-table", 4) if n]
    assert notes, "the checker's findings are shown beside the rows"
    page.locator("#export-draft-btn").click()
    link = page.locator("#draft-file a").first
    link.wait_for()
    with page.expect_download() as dl:
        link.click()
    out = tmp_path / "draft.xlsx"
    dl.value.save_as(out)
    assert zipfile.is_zipfile(out)
    cells = [c for row in load_workbook(out).active.iter_rows(values_only=True) for c in row if c]
    assert first in cells
    page.locator("#check-summary").scroll_into_view_if_needed()
    shot(page, "05_draft.png")


def chart_bars(page) -> list[float]:
    """Heights (px) of the bars of the value chart (Vega renders them as SVG paths)."""
    page.locator("#suggest-chart svg").first.wait_for()
    page.wait_for_timeout(500)
    return page.evaluate(
        "Array.from(document.querySelectorAll('#suggest-chart svg .mark-rect path'))"
        ".map(p => p.getBBox().height)"
    )


def _cells_of_chart(page) -> list[str]:
    """The counts the chart shows (its data), read from the suggestion's value distribution."""
    return page.evaluate(
        "Array.from(document.querySelectorAll('#suggest-chart svg .mark-rect path'))"
        ".map(p => (p.getAttribute('aria-label') || '').match(/次数: (\\d+)/)?.[1] || '0')"
    )


def test_every_tab_is_chinese(page):
    for tab in ("检索", "问答", "起草", "文档", "导入"):
        open_tab(page, tab)
        found = english_on_page(page)
        assert not found, (tab, found)
    # the column menu of a result table (sort / filter) is Chinese too
    open_tab(page, "检索")
    page.locator("#search-results th").nth(1).hover()
    page.locator("#search-results th .cell-menu-button").first.dispatch_event("click")
    menu_text = page.locator(".cell-menu").first
    menu_text.wait_for()
    assert "升序" in menu_text.inner_text() and "筛选" in menu_text.inner_text(), menu_text.inner_text()
    assert not english_on_page(page), english_on_page(page)
    page.keyboard.press("Escape")


def test_upload_size_limit_is_said_in_chinese(page, tmp_path):
    big = tmp_path / "很大的表.txt"
    big.write_bytes(b"x" * (MAX_UPLOAD_MB + 1) * 1024 * 1024)
    open_tab(page, "导入")
    page.locator('#upload-files input[type="file"]').set_input_files([str(big)])
    toast = page.locator(".toast-body, .toast-wrap").filter(has_text="文件超过单个文件大小上限").first
    toast.wait_for()
    assert "很大的表.txt" in toast.inner_text()
    assert not english_on_page(page), english_on_page(page)
    for close in page.locator('[data-testid="toast-close"]').all():
        close.click()


def test_upload_becomes_searchable(page, tmp_path):
    src = tmp_path / "临江市书香校园项目.txt"
    text = (CORPUS / "other_bracket_list_2024.txt").read_text(encoding="utf-8")
    src.write_text(
        text.replace("智慧校园网络升级项目", "书香校园阅读推广项目").replace("机柜数量", "图书借阅册次"),
        encoding="utf-8",
    )
    bad = tmp_path / "扫描件.pdf"
    bad.write_bytes(b"%PDF-1.4\nthis is not a real pdf")
    open_tab(page, "导入")
    page.locator('#upload-files input[type="file"]').set_input_files([str(src), str(bad)])
    page.locator("#upload-files :text('扫描件')").wait_for()  # uploaded to the server, ready to import
    page.locator("#upload-btn").click()
    page.locator("#upload-summary :text('导入完成')").wait_for()
    results = dict(zip(column(page, "upload-results", 0), column(page, "upload-results", 1)))
    assert results == {"临江市书香校园项目.txt": "已导入", "扫描件.pdf": "失败"}
    shot(page, "06_upload.png")
    open_tab(page, "检索")
    page.locator("#search-query textarea").fill("图书借阅册次")
    page.locator("#search-btn").click()
    page.locator('#search-results [role="gridcell"]', has_text="图书借阅册次").first.wait_for()
    sources = column(page, "search-results", 7)
    assert any(s.startswith("临江市书香校园项目.txt 第") for s in sources), sources
    shot(page, "07_upload_searchable.png")
