"""The web interface (Gradio Blocks): 检索、问答、起草、文档、导入.

``build_app`` only lays out components and wires events to ``ui.handlers``;
the engine is created lazily (``EngineHolder``) and warmed in a background
thread after the server is up, so the first page load does not wait for the
index or a model.  ``launch`` starts the server (``perfsearch serve``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio's queue recomputes a monitoring summary (a pandas DataFrame of up to the last
# 10,000 events, grouped, with percentiles) after EVERY event by default: per search a
# cost that grows with uptime (measured 10 % of the server's GIL time after ~1,500
# searches).  Nothing here shows that dashboard: compute it (almost) never, keep 1,000.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**9))
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")

import fastapi  # noqa: E402 - Gradio's own web framework (the JSON route's annotations need it here)
import gradio as gr  # noqa: E402

from search.engine import Engine  # noqa: E402
from ui import handlers as h  # noqa: E402

log = logging.getLogger(__name__)

APP_TITLE = "绩效目标检索助手"
WARMUP_TIMEOUT = 180.0
WARMUP_DELAY = 5.0
QUERY_CACHE = 4096  # query vectors kept by the server (the same words typed by many users are encoded once)
STATUS_UPDATE_SECONDS = 1.0  # how often waiting browsers get their queue position
CONCURRENCY = int(os.environ.get("PERFSEARCH_CONCURRENCY", "8") or 8)  # requests per event handled at once  # seconds after start before warming when no page has been opened yet

CSS = """
.gradio-container { width: 100% !important; max-width: 1560px !important; margin: 0 auto !important; }
.ps-queryrow { align-items: flex-end !important; }
.ps-queryrow > button { height: 44px !important; max-height: 44px !important; margin-bottom: 10px; }
#ps-header h1 { margin-bottom: 0.1em; font-size: 1.7em; }
#ps-header p { margin-top: 0; color: var(--body-text-color-subdued); }
#ps-index-status { color: var(--body-text-color-subdued); font-size: 0.95em; }
.ps-hint { color: var(--body-text-color-subdued); font-size: 0.92em; }
.prose.ps-answer { font-size: 1.15em; line-height: 1.7; padding: 12px 16px; border-radius: 8px;
  background: var(--background-fill-secondary); border-left: 4px solid var(--color-accent); }
.ps-plan { color: var(--body-text-color-subdued); font-size: 0.95em; }
.ps-examples button { font-weight: normal !important; }
#source-title { min-height: 2em; }
#source-image img { object-fit: contain; }
footer { display: none !important; }
.table-wrap [role="gridcell"] span, .table-wrap td span { font-family: var(--font) !important; }
.prose.ps-clusters { padding: 8px 14px; border-radius: 8px; background: var(--block-background-fill);
  border: 1px solid var(--border-color-primary); }
.ps-clusters:empty { display: none; }
/* Gradio's progress line ("queue: 3/14 |", "processing |") is English-only: the spinner says enough */
.meta-text, .meta-text-center { display: none !important; }
"""

# Gradio's own strings that its Simplified Chinese catalogue lacks (the rest come from it).
ZH_CN_OVERRIDES: dict[str, Any] = {
    "dataframe": {
        "filter": "筛选",
        "clear_filter": "清除筛选",
        "clear_sort": "清除排序",
        "import_empty_file": "拖入的文件为空。",
        "import_no_column_names": "拖入的文件没有列名。",
        "import_static_columns": "该表格有只读列，不能导入。",
    },
    "common": {"download_all": "全部下载", "progress": "进度", "complete": "完成", "run": "运行"},
    "status": {"queue_position": "排队中：第 {position} 位，共 {size} 位"},
    "upload_text": {"click_to_upload": "点击上传", "drop_file": "将文件拖放到此处"},
}


def _i18n() -> gr.I18n:
    return gr.I18n(**{"zh-CN": ZH_CN_OVERRIDES, "zh": ZH_CN_OVERRIDES})


def _theme() -> gr.themes.Base:
    # local fonts only: the default theme would fetch web fonts, and office networks may have no internet
    cjk = [
        "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC",
        "WenQuanYi Zen Hei", "sans-serif",
    ]  # fmt: skip
    mono = ["Noto Sans Mono CJK SC", "WenQuanYi Zen Hei Mono", "Consolas", "monospace"]
    return gr.themes.Soft(primary_hue="blue", secondary_hue="slate", neutral_hue="slate", font=cjk, font_mono=mono)


class EngineHolder:
    """Creates the ``Engine`` on first use and warms it (index, search model) in the background."""

    def __init__(self, index_dir: Path | str | None = None, model: str | None = None, engine: Engine | None = None):
        self.index_dir = index_dir
        self.model = model
        self._engine = engine
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self.warming = False
        self.warm_on_page_load = False  # set by create_server(warm=True)
        self.warm_seconds: float | None = None

    def get(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = Engine.open(self.index_dir, model=self.model)
        return self._engine

    def warm(self) -> None:
        t0 = time.perf_counter()
        try:
            engine = self.get()
            if engine.has_index():
                engine.documents()
                warm = getattr(engine, "warm", None)
                if callable(warm):
                    warm()
                else:
                    engine.search("满意度", top_k=1)  # loads the retriever and the query encoder
                    engine.qa_context()
                # what the web search adds: the relevance floor, canonical level labels, dropdowns
                from search.retrieval.chunks import ChunkTable
                from search.retrieval.filters import canonical_level_columns

                engine.search("满意度", top_k=1, matches_only=True)
                # Load now what the first burst of users would otherwise wait for, all of them at
                # once (queries are encoded together): the encoder's batch session (several queries
                # arriving together) and the model's full tokenizer (a query with Latin letters,
                # e.g. Wi-Fi; loaded lazily): measured 0.25 s and 0.65 s.
                from indexer.embedding import SMALL_QUERY_BATCH

                warm_queries = [f"预热{i}" for i in range(SMALL_QUERY_BATCH - 1)] + ["Wi-Fi warm-up"]
                engine.search_batch(warm_queries, top_k=1, matches_only=True)
                chunks = getattr(engine.retriever(), "chunks", None)
                if isinstance(chunks, ChunkTable):  # the faiss backend's chunk table (Milvus filters server-side)
                    canonical_level_columns(chunks)
                h.filter_choices(engine)
        except Exception:  # noqa: BLE001 - warm-up failures surface again on first real use
            log.exception("engine warm-up failed")
        finally:
            self.warm_seconds = time.perf_counter() - t0
            log.info("engine warm in %.1f s", self.warm_seconds)
            self.ready.set()

    def start_warmup(self, delay: float = 0.0) -> None:
        """Warm in the background (once); ``delay`` leaves the CPU to the first page load."""
        with self._lock:
            if self.warming:
                return
            self.warming = True

        def run() -> None:
            time.sleep(delay)
            self.warm()

        threading.Thread(target=run, name="perfsearch-warmup", daemon=True).start()

    def ready_engine(self) -> Engine:
        """The engine, after the background warm-up finished (so the model is not loaded twice)."""
        if self.warming and not self.ready.is_set():
            self.ready.wait(WARMUP_TIMEOUT)
        return self.get()


def upload_root() -> Path:
    """Gradio's upload cache: the only place uploaded files may be ingested from."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def _refuse_foreign(path: str | Path | None) -> None:
    from search.uploads import UPLOAD_REFUSED, is_within

    if path is None:
        return
    if "://" in str(path) or not is_within(path, upload_root()):
        log.warning("upload API: refused a path that was not uploaded")
        raise gr.Error(UPLOAD_REFUSED, title="无法导入")


def only_uploaded_files(component: gr.File) -> gr.File:
    """Make ``component`` accept only files already in Gradio's upload cache.

    Gradio moves every file named in a request into its cache before the handler
    runs; for an app mounted on FastAPI (``create_server``) it does not check where
    the file was.  The component's own move step now refuses, with one neutral
    Chinese message, any path that did not arrive through the upload route (a
    posted server path, another directory, a URL), whether it exists or not.
    (Patched on the instance: a ``gr.File`` subclass would make Gradio write a
    ``.pyi`` stub next to this module.)
    """
    move_async = component.async_move_resource_to_block_cache
    move_sync = component.move_resource_to_block_cache

    async def guarded_async(url_or_file_path: str | Path | None) -> str | None:
        _refuse_foreign(url_or_file_path)
        return await move_async(url_or_file_path)

    def guarded_sync(url_or_file_path: str | Path | None) -> str | None:
        _refuse_foreign(url_or_file_path)
        return move_sync(url_or_file_path)

    component.async_move_resource_to_block_cache = guarded_async  # type: ignore[method-assign]
    component.move_resource_to_block_cache = guarded_sync  # type: ignore[method-assign]
    return component


def _dropdown(label: str, elem_id: str, scale: int = 1, min_width: int = 160) -> gr.Dropdown:
    return gr.Dropdown(
        choices=[(h.ALL_LABEL, h.ALL)],
        value=h.ALL,
        label=label,
        elem_id=elem_id,
        scale=scale,
        min_width=min_width,
        allow_custom_value=True,
        filterable=True,
    )


_WIDTHS = {
    "序号": "56px", "三级指标": "300px", "指标值": "120px", "半年指标值": "100px", "单位": "240px",
    "年度": "64px", "项目/表": "180px", "一级/二级指标": "200px", "未满足的原因": "200px", "来源": "220px",
}  # fmt: skip


def _rows_table(
    elem_id: str,
    label: str,
    max_height: int = 520,
    columns: list[str] = h.RESULT_COLUMNS,
    widths: dict[str, str] | None = None,
) -> gr.Dataframe:
    return gr.Dataframe(
        value=h.empty_frame(columns),
        headers=columns,
        label=label,
        elem_id=elem_id,
        interactive=False,
        wrap=True,
        max_height=max_height,
        column_widths=[(widths or {}).get(c, _WIDTHS[c]) for c in columns],
        buttons=[],  # Gradio's copy/fullscreen buttons are labelled in English only
    )


@dataclass
class Shared:
    """What every tab builder gets: the engine (lazy / after warm-up) and the upload limit."""

    holder: EngineHolder
    max_upload_mb: float

    def eng(self) -> Engine:
        return self.holder.get()  # cheap: Engine() only records the index directory

    def ready(self) -> Engine:
        return self.holder.ready_engine()


@dataclass
class SearchTab:
    query: gr.Textbox
    filters: list[gr.Dropdown]
    results: gr.Dataframe
    hits_state: gr.State


@dataclass
class QATab:
    rows: gr.Dataframe
    rows_state: gr.State
    near: gr.Dataframe
    near_state: gr.State


@dataclass
class DraftTab:
    examples: gr.Dataframe
    examples_state: gr.State


@dataclass
class DocsTab:
    doc_list: gr.Dataframe
    doc_keys_state: gr.State
    source_outputs: list[Any]  # the 文档 tab's source view (title, page image, text context)
    show_source: Any  # hit -> updates of [tabs, *source_outputs]
    tables: list[tuple[gr.State, gr.Dataframe]]  # its own clickable tables (rows, passages)


@dataclass
class UploadTab:
    done: Any  # the event that finishes an import (the index view is refreshed after it)


def search_tab(s: Shared) -> SearchTab:
    """检索: query, cascading filters, result table with paging, export."""
    with gr.Tab("检索", id="search", elem_id="tab-search"):
        with gr.Row(elem_classes=["ps-queryrow"]):
            query = gr.Textbox(
                label="检索内容",
                placeholder="输入指标名称、关键词或一句话描述，例如：师生满意度、培训人次、预算执行率",
                elem_id="search-query",
                scale=5,
                autofocus=True,
            )
            search_btn = gr.Button("检索", variant="primary", elem_id="search-btn", scale=1, min_width=120)
        with gr.Accordion("筛选条件", open=True, elem_id="search-filters"):
            with gr.Row():
                f_unit = _dropdown("单位", "f-unit", scale=3, min_width=220)
                f_year = _dropdown("年度", "f-year", min_width=110)
                f_region = _dropdown("地区", "f-region", min_width=130)
                f_kind = _dropdown("表类型", "f-kind", min_width=130)
            with gr.Row():
                f_project = _dropdown("项目", "f-project", scale=3, min_width=220)
                f_level1 = _dropdown("一级指标", "f-level1", scale=1, min_width=150)
                f_level2 = _dropdown("二级指标", "f-level2", scale=2, min_width=180)
                clear_btn = gr.Button("清除筛选", size="sm", scale=0, min_width=100, elem_id="clear-filters")
        with gr.Row(equal_height=True):
            search_status = gr.Markdown("", elem_id="search-status")
            export_xlsx = gr.Button("导出 Excel", size="sm", elem_id="export-xlsx", scale=0, min_width=110)
            export_csv = gr.Button("导出 CSV", size="sm", elem_id="export-csv", scale=0, min_width=110)
        export_file = gr.File(label="导出文件", interactive=False, elem_id="export-file", height=80, visible=False)
        clusters = gr.Markdown("", elem_id="search-clusters", elem_classes=["ps-clusters"], visible=False)
        results = _rows_table("search-results", "检索结果（点击任一行查看原文出处）")
        more_btn = gr.Button("显示更多", size="sm", elem_id="search-more", visible=False)
        hits_state = gr.State([])
        filters = [f_unit, f_year, f_region, f_kind, f_project, f_level1, f_level2]
        # an API endpoint whose result is a file Gradio serves (downloadable by any client)
        export_fmt = gr.Textbox(value="xlsx", visible=False, elem_id="export-fmt")
        export_api_btn = gr.Button(visible=False, elem_id="export-api")

    def run_search(q, unit, year, region, kind, project, level1, level2, k):
        if not (q or "").strip() and not any(v not in (None, h.ALL) for v in (unit, year, region, kind,
                                                                             project, level1, level2)):
            # nothing to search: a hint, the results on screen stay as they are
            return (h.EMPTY_QUERY_HINT, gr.update(), gr.update(), gr.update(), gr.update())
        try:
            view = h.search(s.ready(), q, unit, year, region, kind, project, level1, level2, k=k)
        except gr.Error as exc:
            gr.Warning(exc.message, title="提示")
            return (f"⚠️ {exc.message}", gr.update(), gr.update(), gr.update(), gr.update())
        return view.status, view.value, view.clusters, view.hits, gr.update(visible=view.has_more)

    def do_search(q: str, unit: str, year: str, region: str, kind: str, project: str, level1: str, level2: str):
        return run_search(q, unit, year, region, kind, project, level1, level2, h.PAGE_SIZE)

    def show_more(q, unit, year, region, kind, project, level1, level2, hits):
        # the rows shown so far are the hits kept in the session: one page more
        return run_search(q, unit, year, region, kind, project, level1, level2, len(hits or []) + h.PAGE_SIZE)

    def show_clusters(text: str):
        return gr.update(visible=bool(text))

    search_inputs = [query, *filters]
    search_outputs = [search_status, results, clusters, hits_state, more_btn]
    # Searches skip Gradio's queue (queue=False): one HTTP POST per search instead of
    # joining the queue and reading an event stream (the queue adds bookkeeping, SSE
    # messages and estimations per call, all on the event loop under the GIL).
    # Concurrency is bounded by the thread pool; query encoding is batched across
    # threads (QueryBatcher).  A failed validation shows in the status line.
    direct = {"queue": False}
    search_btn.click(do_search, search_inputs, search_outputs, api_name="search", **direct).then(
        show_clusters, clusters, clusters, api_visibility="private", show_progress="hidden", **direct
    )
    query.submit(do_search, search_inputs, search_outputs, api_visibility="private", **direct).then(
        show_clusters, clusters, clusters, api_visibility="private", show_progress="hidden", **direct
    )
    more_btn.click(show_more, [*search_inputs, hits_state], search_outputs, api_name="search_more", **direct)

    # cascading choices: unit -> year -> project, 一级 -> 二级
    def cascade_unit(unit: str, year: str, level1: str):
        c = h.filter_choices(s.eng(), unit=unit, year=year, level1=level1)
        y = year if any(v == year for _, v in c["year"]) else h.ALL
        c = h.filter_choices(s.eng(), unit=unit, year=y, level1=level1)
        return gr.update(choices=c["year"], value=y), gr.update(choices=c["project"], value=h.ALL)

    def cascade_year(unit: str, year: str, level1: str, project: str):
        c = h.filter_choices(s.eng(), unit=unit, year=year, level1=level1)
        p = project if any(v == project for _, v in c["project"]) else h.ALL
        return gr.update(choices=c["project"], value=p)

    def cascade_level1(level1: str, level2: str):
        c = h.filter_choices(s.eng(), level1=level1)
        v = level2 if any(x == level2 for _, x in c["level2"]) else h.ALL
        return gr.update(choices=c["level2"], value=v)

    quiet = {"api_visibility": "private", "show_progress": "hidden", "queue": False}
    f_unit.input(cascade_unit, [f_unit, f_year, f_level1], [f_year, f_project], **quiet)
    f_year.input(cascade_year, [f_unit, f_year, f_level1, f_project], f_project, **quiet)
    f_level1.input(cascade_level1, [f_level1, f_level2], f_level2, **quiet)

    def clear_filters():
        c = h.filter_choices(s.eng())
        return tuple(gr.update(choices=c[k], value=h.ALL) for k in h.FILTER_FIELDS)

    clear_btn.click(clear_filters, outputs=filters, api_visibility="private")

    def do_export(hits: list, fmt: str):
        return gr.File(value=str(h.export_hits(s.eng(), hits, fmt)), visible=True)

    export_xlsx.click(lambda hits: do_export(hits, "xlsx"), hits_state, export_file, api_visibility="private")
    export_csv.click(lambda hits: do_export(hits, "csv"), hits_state, export_file, api_visibility="private")

    def export_results(
        q: str,
        unit: str = "",
        year: str = "",
        region: str = "",
        kind: str = "",
        project: str = "",
        level1: str = "",
        level2: str = "",
        fmt: str = "xlsx",
    ):
        """Search and write all matches to an .xlsx (default) or .csv file; returns the file."""
        view = h.search(s.ready(), q, unit, year, region, kind, project, level1, level2, k=h.EXPORT_LIMIT)
        return str(h.export_hits(s.eng(), view.hits, "csv" if fmt == "csv" else "xlsx"))

    export_api_btn.click(export_results, [query, *filters, export_fmt], export_file, api_name="export_results")
    return SearchTab(query, filters, results, hits_state)


def qa_tab(s: Shared) -> QATab:
    """问答: a question, the answer in words, the rows it rests on and the near misses."""
    with gr.Tab("问答", id="qa", elem_id="tab-qa"):
        with gr.Row(elem_classes=["ps-queryrow"]):
            question = gr.Textbox(
                label="问题",
                placeholder="用一句话提问，例如：哪些单位设定了满意度≥90%?",
                elem_id="qa-question",
                scale=5,
            )
            ask_btn = gr.Button("提问", variant="primary", elem_id="qa-btn", scale=1, min_width=120)
        gr.Markdown("示例问题（点击即可提问）：", elem_classes=["ps-hint"])
        with gr.Row(elem_classes=["ps-examples"]):
            example_btns = [
                gr.Button(q, size="sm", elem_classes=["qa-example"], min_width=100) for q in h.EXAMPLE_QUESTIONS
            ]
        answer_md = gr.Markdown("", elem_id="qa-answer", elem_classes=["ps-answer"], visible=False)
        plan_md = gr.Markdown("", elem_id="qa-plan", elem_classes=["ps-plan"])
        qa_rows = _rows_table("qa-rows", "依据的指标（点击任一行查看原文出处）", max_height=440)
        with gr.Accordion("未满足条件或未量化的指标", open=False, elem_id="qa-near-box") as near_box:
            qa_near = _rows_table("qa-near", "这些指标不计入答案（点击查看出处）", max_height=320, columns=h.NEAR_COLUMNS)
        qa_rows_state = gr.State([])
        qa_near_state = gr.State([])

    def do_ask(q: str):
        try:
            view = h.ask(s.ready(), q)
        except gr.Error as exc:  # a hint; the answer on screen stays
            gr.Warning(exc.message, title="提示")
            return gr.update(), f"⚠️ {exc.message}", gr.update(), gr.update(), gr.update(), gr.update()
        return view.answer, view.plan, view.rows, view.near, view.row_hits, view.near_hits

    def after_ask(near: list):
        label = f"未满足条件或未量化的指标（{len(near)} 条）" if near else "未满足条件或未量化的指标（无）"
        return gr.update(visible=True), gr.Accordion(label=label, open=bool(near))

    ask_outputs = [answer_md, plan_md, qa_rows, qa_near, qa_rows_state, qa_near_state]

    def wire_ask(event: Any) -> None:
        event.then(after_ask, qa_near_state, [answer_md, near_box], api_visibility="private", show_progress="hidden")

    wire_ask(ask_btn.click(do_ask, question, ask_outputs, api_name="ask"))
    wire_ask(question.submit(do_ask, question, ask_outputs, api_visibility="private"))
    for b, q in zip(example_btns, h.EXAMPLE_QUESTIONS):
        wire_ask(
            b.click(lambda q=q: q, outputs=question, api_visibility="private").then(
                do_ask, question, ask_outputs, api_visibility="private"
            )
        )
    return QATab(qa_rows, qa_rows_state, qa_near, qa_near_state)


def draft_tab(s: Shared) -> DraftTab:
    """起草: suggestions for a project, their value distribution and sources, the editable draft."""
    with gr.Tab("起草", id="draft", elem_id="tab-draft"):
        with gr.Row(elem_classes=["ps-queryrow"]):
            draft_input = gr.Textbox(
                label="项目名称或绩效目标",
                placeholder="例如：教师培训项目；或：组织全区中小学教师参加业务培训，提升教学能力",
                elem_id="draft-input",
                scale=5,
            )
            suggest_btn = gr.Button("获取指标建议", variant="primary", elem_id="suggest-btn", scale=1, min_width=140)
        suggest_status = gr.Markdown("", elem_id="suggest-status")
        with gr.Row():
            with gr.Column(scale=3):
                suggestions = gr.Dataframe(
                    value=h.empty_frame(h.SUGGESTION_COLUMNS),
                    headers=h.SUGGESTION_COLUMNS,
                    label="建议的指标（按一级/二级指标分组；点击一行查看指标值分布和出处）",
                    elem_id="suggestions",
                    buttons=[],
                    interactive=False,
                    wrap=True,
                    max_height=380,
                    column_widths=["56px", "14%", "18%", "34%", "16%", "12%"],
                )
                pick = gr.CheckboxGroup(
                    choices=[], label="勾选要加入草稿的指标（编号同上表）", elem_id="suggest-pick", type="value"
                )
                with gr.Row():
                    add_btn = gr.Button("加入草稿", variant="primary", elem_id="add-btn", size="sm")
                    pick_all_btn = gr.Button("全选", size="sm", elem_id="pick-all-btn")
            with gr.Column(scale=2, min_width=320):
                chart = gr.BarPlot(
                    value=None,
                    x="指标值",
                    y="次数",
                    title="指标值分布",
                    elem_id="suggest-chart",
                    height=240,
                    sort="-y",
                    y_axis_format="d",
                    x_label_angle=0,
                )
                chart_note = gr.Markdown("", elem_id="suggest-detail")
                examples = _rows_table(
                    "suggest-examples",
                    "使用过该指标的表（点击查看出处）",
                    max_height=300,
                    columns=h.EXAMPLE_COLUMNS,
                    widths={"序号": "48px", "三级指标": "130px", "单位": "120px", "来源": "150px", "指标值": "80px"},
                )
        suggest_state = gr.State([])
        examples_state = gr.State([])

        gr.Markdown("### 绩效目标表草稿\n可直接在表格中修改、补充或删除内容（清空一行即删除）。")
        with gr.Row():
            d_project = gr.Textbox(label="项目名称", elem_id="draft-project", scale=3)
            d_unit = gr.Textbox(label="实施单位", elem_id="draft-unit", scale=3)
            d_year = gr.Textbox(label="年度", elem_id="draft-year", scale=1, min_width=100)
            d_funds = gr.Textbox("", label="项目资金（万元）", elem_id="draft-funds", scale=1, min_width=130)
        d_goal = gr.Textbox("", label="年度绩效目标", elem_id="draft-goal", lines=2,
                            placeholder="例如：组织全区中小学教师参加业务培训 2000 人次，提升教学能力")  # fmt: skip
        draft_table = gr.Dataframe(
            value=h.draft_frame([]),
            headers=h.DRAFT_COLUMNS,
            label="草稿指标（半年指标值、权重、指标解释按需填写）",
            elem_id="draft-table",
            buttons=[],
            interactive=True,
            wrap=True,
            max_height=520,
            column_widths=["9%", "11%", "20%", "9%", "9%", "6%", "14%", "22%"],
            static_columns=[len(h.DRAFT_COLUMNS) - 1],
        )
        with gr.Row():
            check_btn = gr.Button("检查草稿", variant="primary", elem_id="check-btn")
            export_draft_btn = gr.Button("导出 Excel", elem_id="export-draft-btn")
            clear_draft_btn = gr.Button("清空草稿", variant="stop", elem_id="clear-draft-btn")
        check_summary = gr.Markdown("", elem_id="check-summary")
        draft_file = gr.File(label="草稿文件", interactive=False, elem_id="draft-file", height=80, visible=False)

    detail_outputs = [chart, chart_note, examples, examples_state]

    def detail_of(item: dict | None) -> tuple:
        if item is None:
            return gr.update(), gr.update(), gr.update(), []
        d = h.suggestion_detail(s.eng(), item)
        # counts start at zero: equal counts would otherwise give an empty chart
        chart_value = gr.BarPlot(value=d.chart, y_lim=[0, max(1, d.y_max)])
        return chart_value, d.note, d.examples, d.example_hits

    def do_suggest(text: str):
        try:
            view = h.suggest(s.ready(), text)
        except gr.Error as exc:  # a hint; the suggestions on screen stay
            gr.Warning(exc.message, title="提示")
            return f"⚠️ {exc.message}", gr.update(), gr.update()
        return view.status, view.table, view.items

    def after_suggest(items: list, text: str):
        if not (text or "").strip():  # nothing was asked: leave everything as it is
            return (gr.update(),) * (2 + len(detail_outputs))
        return (
            gr.update(choices=h.suggestion_choices(items), value=[]),
            text.strip() if text and len(text.strip()) <= 40 else gr.update(),
            *detail_of(items[0] if items else None),
        )

    def wire_suggest(event: Any) -> None:
        event.then(
            after_suggest,
            [suggest_state, draft_input],
            [pick, d_project, *detail_outputs],
            api_visibility="private",
            show_progress="hidden",
        )

    suggest_outputs = [suggest_status, suggestions, suggest_state]
    wire_suggest(suggest_btn.click(do_suggest, draft_input, suggest_outputs, api_name="suggest"))
    wire_suggest(draft_input.submit(do_suggest, draft_input, suggest_outputs, api_visibility="private"))

    def on_suggestion_select(items: list, evt: gr.SelectData):
        return detail_of(h.pick(items, evt.row_value, evt.index))

    suggestions.select(on_suggestion_select, suggest_state, detail_outputs, api_visibility="private")
    pick_all_btn.click(
        lambda items: [c[1] for c in h.suggestion_choices(items)], suggest_state, pick, api_visibility="private"
    )

    def do_add(frame: Any, picked: list, items: list):
        try:
            return h.add_suggestions(frame, picked, items)
        except gr.Error as exc:
            gr.Warning(exc.message, title="提示")
            return gr.update()

    # needs the suggestions of this browser session: not an API endpoint
    add_btn.click(do_add, [draft_table, pick, suggest_state], draft_table, api_visibility="private")

    def do_check(frame: Any, project: str, unit: str, year: str, goal: str = "", funds: str = ""):
        try:
            view = h.check_draft(s.eng(), frame, project, unit, year, goal, funds)
        except gr.Error as exc:  # e.g. an empty draft: a hint, the table stays
            gr.Warning(exc.message, title="提示")
            return gr.update(), f"⚠️ {exc.message}"
        return view.table, view.summary

    check_btn.click(
        do_check, [draft_table, d_project, d_unit, d_year, d_goal, d_funds], [draft_table, check_summary],
        api_name="check",
    )

    def do_export_draft(frame: Any, project: str, unit: str, year: str, goal: str = "", funds: str = "") -> str:
        return str(h.export_draft(frame, project, unit, year, goal=goal, funds=funds))

    export_draft_btn.click(
        do_export_draft, [draft_table, d_project, d_unit, d_year, d_goal, d_funds], draft_file,
        api_name="export_draft",
    ).then(lambda: gr.update(visible=True), outputs=draft_file, api_visibility="private", show_progress="hidden")
    clear_draft_btn.click(lambda: (h.draft_frame([]), ""), outputs=[draft_table, check_summary], api_visibility="private")
    return DraftTab(examples, examples_state)


def docs_tab(s: Shared) -> DocsTab:
    """文档: the imported tables, a table's rows, a document's parse report and text, and the
    source view every result table opens (PDF page with the row boxed, or the lines around it)."""
    with gr.Tab("文档", id="docs", elem_id="tab-docs"):
        with gr.Row():
            with gr.Column(scale=5, min_width=420):
                doc_list = gr.Dataframe(
                    value=h.empty_frame(h.DOC_COLUMNS),
                    headers=h.DOC_COLUMNS,
                    label="已导入的绩效目标表（点击一行查看表内指标、解析报告和正文）",
                    elem_id="doc-list",
                    buttons=[],
                    interactive=False,
                    wrap=True,
                    max_height=360,
                    column_widths=["48px", "150px", "160px", "130px", "56px", "60px"],
                )
                table_title = gr.Markdown("", elem_id="table-title")
                table_rows = _rows_table(
                    "doc-rows",
                    "表内指标（点击查看出处）",
                    max_height=460,
                    columns=h.TABLE_ROW_COLUMNS,
                    widths={"一级/二级指标": "140px", "三级指标": "200px", "半年指标值": "80px",
                            "指标值": "90px", "来源": "150px", "序号": "52px"},
                )
                doc_report = gr.Markdown("", elem_id="doc-report")
                doc_passages = gr.Dataframe(
                    value=h.empty_frame(h.PASSAGE_COLUMNS),
                    headers=h.PASSAGE_COLUMNS,
                    label="正文（表格以外保留的文字，点击查看出处）",
                    elem_id="doc-passages",
                    buttons=[],
                    interactive=False,
                    wrap=True,
                    max_height=320,
                    column_widths=["52px", "70%", "150px"],
                    visible=False,
                )
            with gr.Column(scale=6, min_width=480):
                source_title = gr.Markdown(
                    "在任意结果表格中点击一行，即可在这里看到该指标的原文出处。", elem_id="source-title"
                )
                source_image = gr.Image(
                    label="原文页面",
                    type="pil",
                    interactive=False,
                    visible=False,
                    elem_id="source-image",
                    buttons=["download"],
                    format="png",
                )
                source_html = gr.HTML("", elem_id="source-html", visible=False)
        doc_keys_state = gr.State([])
        table_rows_state = gr.State([])
        passages_state = gr.State([])

    def show_source(hit: dict[str, Any] | None):
        if hit is None:
            return (gr.update(),) * 4
        view = h.open_source(s.eng(), hit)
        has_img = view.image is not None
        return (
            gr.Tabs(selected="docs"),
            view.title,
            gr.update(value=view.image if has_img else None, visible=has_img),
            gr.update(value=view.html, visible=bool(view.html)),
        )

    def on_doc_select(keys: list, evt: gr.SelectData):
        key = h.pick(keys, evt.row_value, evt.index)
        if key is None:
            return gr.update(), gr.update(), [], gr.update(), gr.update(), [], *(gr.update(),) * 3
        doc = h.document_view(s.eng(), key["file"])
        passages = gr.update(value=doc.passages, visible=bool(doc.passage_hits))
        if int(key.get("table", -1)) < 0:  # a document without an indicator table: its text
            title = f"**{h.display_name(s.eng(), key['file'])}**：未识别到指标表，下方为导入的正文。"
            frame, rows = h.empty_frame(h.TABLE_ROW_COLUMNS), []
            first = doc.passage_hits[0] if doc.passage_hits else None
        else:
            frame, rows, title = h.table_rows(s.eng(), key)
            first = {"source": rows[0]["source"]} if rows else None
        src = show_source(first) if first else (gr.update(),) * 4
        return title, frame, rows, doc.report, passages, doc.passage_hits, src[1], src[2], src[3]

    doc_list.select(
        on_doc_select,
        doc_keys_state,
        [table_title, table_rows, table_rows_state, doc_report, doc_passages, passages_state,
         source_title, source_image, source_html],  # fmt: skip
        api_visibility="private",
    )
    return DocsTab(doc_list, doc_keys_state, [source_title, source_image, source_html], show_source,
                   [(table_rows_state, table_rows), (passages_state, doc_passages)])  # fmt: skip


def upload_tab(s: Shared) -> UploadTab:
    """导入: files uploaded through this page only, each file's outcome."""
    with gr.Tab("导入", id="upload", elem_id="tab-upload"):
        gr.Markdown(
            f"上传绩效目标表文件（PDF（含扫描件）、Word/WPS、Excel、网页、图片、TXT/CSV，单个文件不超过 {s.max_upload_mb:g} MB），"
            "导入后立即可以检索和问答。某个文件失败不影响其他文件。",
            elem_classes=["ps-hint"],
        )
        upload_files = gr.File(
            label="选择文件",
            file_count="multiple",
            file_types=list(h.ALLOWED_UPLOAD_SUFFIXES),
            elem_id="upload-files",
            height=160,
        )
        only_uploaded_files(upload_files)
        upload_btn = gr.Button("开始导入", variant="primary", elem_id="upload-btn")
        upload_summary = gr.Markdown("", elem_id="upload-summary")
        upload_table = gr.Dataframe(
            value=h.empty_frame(h.UPLOAD_COLUMNS),
            headers=h.UPLOAD_COLUMNS,
            label="导入结果",
            elem_id="upload-results",
            buttons=[],
            interactive=False,
            wrap=True,
            column_widths=["30%", "90px", "60%"],
        )

    def do_upload(files: list | None, progress=gr.Progress()):  # noqa: B008 - Gradio's progress injection
        progress(0, desc="准备导入……")

        def cb(i: int, n: int, name: str) -> None:
            tail = "，随后更新检索索引……" if i == n else ""
            progress((i - 1, n), desc=f"正在导入 {name}{tail}", unit="个文件")

        view = h.upload(s.ready(), files, max_mb=s.max_upload_mb, upload_root=upload_root(), progress=cb)
        return view.summary, view.table

    done = upload_btn.click(do_upload, upload_files, [upload_summary, upload_table], api_name="upload").then(
        lambda: None, outputs=upload_files, api_visibility="private", show_progress="hidden"
    )
    return UploadTab(done)


def build_app(
    holder: EngineHolder | Engine | Path | str | None = None,
    *,
    max_upload_mb: float = h.DEFAULT_MAX_UPLOAD_MB,
) -> gr.Blocks:
    """Lay out the five tabs (one builder each) and the links between them: the index
    overview and dropdowns filled at page load and after an import, and every result
    table opening its row's source in the 文档 tab.  Nothing is loaded here."""
    if not isinstance(holder, EngineHolder):
        holder = EngineHolder(engine=holder) if isinstance(holder, Engine) else EngineHolder(holder)
    s = Shared(holder, max_upload_mb)

    with gr.Blocks(title=APP_TITLE, analytics_enabled=False, fill_width=True) as demo:
        demo.holder = holder  # type: ignore[attr-defined]
        demo.max_upload_mb = max_upload_mb  # type: ignore[attr-defined]
        with gr.Row(elem_id="ps-header"):
            gr.Markdown(
                f"# {APP_TITLE}\n预算绩效目标表的检索、问答与起草：所有结果均可追溯到原文出处。",
            )
        index_status = gr.Markdown("正在读取索引……", elem_id="ps-index-status")

        with gr.Tabs(selected="search", elem_id="ps-tabs") as tabs:
            search = search_tab(s)
            qa = qa_tab(s)
            draft = draft_tab(s)
            docs = docs_tab(s)
            upload = upload_tab(s)

        # the index overview, the dropdowns and the document list: at page load and after an import
        def refresh() -> tuple:
            engine = s.eng()
            if holder.warm_on_page_load:
                holder.start_warmup()  # after the first page has its data: load the search model now
            try:
                summary = h.index_summary(engine)
                if holder.warming and not holder.ready.is_set():
                    summary += "（正在加载检索模型……首次检索可能需要等待几秒）"
                choices = h.filter_choices(engine)
                doc_frame, keys = h.documents_table(engine)
            except gr.Error as exc:
                return (f"⚠️ {exc.message}",) + tuple(gr.update() for _ in search.filters) + (gr.update(), [])
            updates = tuple(gr.update(choices=choices[k]) for k in h.FILTER_FIELDS)
            return (summary, *updates, doc_frame, keys)

        refresh_outputs = [index_status, *search.filters, docs.doc_list, docs.doc_keys_state]
        demo.load(refresh, outputs=refresh_outputs, api_name="refresh", show_progress="hidden")
        upload.done.then(refresh, outputs=refresh_outputs, api_visibility="private", show_progress="hidden")

        # citations: a click in any result table opens the row's source in the 文档 tab
        source_outputs = [tabs, *docs.source_outputs]

        def open_from(state: gr.State, table: gr.Dataframe) -> None:
            def on_select(items: list, evt: gr.SelectData):
                return docs.show_source(h.pick(items, evt.row_value, evt.index))

            table.select(on_select, state, source_outputs, api_visibility="private")

        for state, table in [
            (search.hits_state, search.results),
            (qa.rows_state, qa.rows),
            (qa.near_state, qa.near),
            (draft.examples_state, draft.examples),
            *docs.tables,
        ]:
            open_from(state, table)

        def open_citation(source: dict) -> dict:
            """The cited place as text: title, and the highlighted line (text/xlsx) or page (PDF)."""
            view = h.open_source(s.eng(), source)
            return {"title": view.title, "highlighted": view.highlighted_text, "has_image": view.image is not None}

        gr.api(open_citation, api_name="open_source")

    return demo


# Gradio picks the language of its own widgets (upload box, table menus, toasts) from
# ``navigator.language``; the interface is Chinese, so report Chinese before its scripts run.
# Strings some Gradio widgets write in English whatever the locale (not in its catalogue):
# rewritten in place when they appear (text and aria-label/title), e.g. the client-side
# upload size check "File(s) exceed the maximum allowed size of 50.0 MB: "a.pdf"".
ENGLISH_TO_CHINESE: tuple[tuple[str, str], ...] = (
    (r"^File\(s\) exceed the maximum allowed size of (.+?): (.*)$", "文件超过单个文件大小上限（$1），未上传：$2"),
    (r"^Error$", "错误"), (r"^Warning$", "提示"), (r"^Info$", "提示"),
    (r"^Copy table data$", "复制表格"), (r"^Copied to clipboard$", "已复制"),
    (r"^Fullscreen$", "全屏"), (r"^Exit fullscreen mode$", "退出全屏"), (r"^Open cell menu$", "打开列菜单"),
    (r"^Clear$", "清除"), (r"^Close$", "关闭"), (r"^Download$", "下载"),
    (r"^queue: (\d+)/(\d*) \|$", "排队：$1/$2 |"), (r"^processing \|$", "处理中 |"),
    (r"^Loading\.*$", "加载中……"), (r"^Connection errored out\.?$", "与服务器的连接中断，请刷新页面。"),
)  # fmt: skip


def _locale_script() -> bytes:
    import json

    rules = json.dumps([[a, b] for a, b in ENGLISH_TO_CHINESE], ensure_ascii=False)
    js = (
        "(function(){try{var d=Object.defineProperty,p=Navigator.prototype;"
        "d(p,'language',{get:function(){return 'zh-CN'},configurable:true});"
        "d(p,'languages',{get:function(){return ['zh-CN','zh']},configurable:true});}catch(e){}"
        "var R=" + rules + ".map(function(r){return [new RegExp(r[0]),r[1]]});"
        "function tr(s){if(!s)return s;var t=s.trim();for(var i=0;i<R.length;i++){if(R[i][0].test(t))"
        "return s.replace(t,t.replace(R[i][0],R[i][1]));}return s;}"
        "function fix(n){if(n.nodeType===3){var v=tr(n.nodeValue);if(v!==n.nodeValue)n.nodeValue=v;return;}"
        "if(n.nodeType!==1)return;['aria-label','title'].forEach(function(a){var v=n.getAttribute(a);"
        "if(v){var w=tr(v);if(w!==v)n.setAttribute(a,w);}});"
        "var w=document.createTreeWalker(n,5),x;while((x=w.nextNode())){if(x.nodeType===3){var y=tr(x.nodeValue);"
        "if(y!==x.nodeValue)x.nodeValue=y;}else{['aria-label','title'].forEach(function(a){var v=x.getAttribute(a);"
        "if(v){var z=tr(v);if(z!==v)x.setAttribute(a,z);}});}}}"
        "new MutationObserver(function(ms){ms.forEach(function(m){if(m.type==='characterData')fix(m.target);"
        "else if(m.type==='attributes')fix(m.target);else m.addedNodes.forEach(fix);});})"
        ".observe(document.documentElement,{subtree:true,childList:true,characterData:true,attributes:true,"
        "attributeFilter:['aria-label','title']});})();"
    )
    return ("<script>" + js + "</script>").encode("utf-8")


LOCALE_SCRIPT = _locale_script()


class ChineseLocale:
    """ASGI middleware: inject ``LOCALE_SCRIPT`` at the top of the HTML page served at ``/``."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "GET" or scope.get("path") not in ("", "/"):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if b"text/html" in ctype and b"<head>" in body:
                body = body.replace(b"<head>", b"<head>" + LOCALE_SCRIPT, 1)
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


class LoginThrottle:
    """Per-client backoff after failed logins: after ``free`` failures a client must wait
    ``base * 2**(n - free)`` seconds (at most ``cap``) before the next try; a success resets it."""

    def __init__(self, free: int = 3, base: float = 2.0, cap: float = 300.0, clock: Any = time.monotonic):
        self.free, self.base, self.cap, self.clock = free, base, cap, clock
        self._fails: dict[str, tuple[int, float]] = {}  # client -> (failures, time of the last)
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> float:
        """How long ``client`` must still wait before trying again (0: may try now)."""
        with self._lock:
            n, last = self._fails.get(client, (0, 0.0))
        if n < self.free:
            return 0.0
        delay = min(self.cap, self.base * 2 ** (n - self.free))
        return max(0.0, last + delay - self.clock())

    def failed(self, client: str) -> None:
        with self._lock:
            n, _ = self._fails.get(client, (0, 0.0))
            self._fails[client] = (n + 1, self.clock())
            if len(self._fails) > 10_000:  # forget the oldest clients
                for k in sorted(self._fails, key=lambda k: self._fails[k][1])[:5_000]:
                    del self._fails[k]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._fails.pop(client, None)


class ThrottledLogin:
    """ASGI middleware: apply ``LoginThrottle`` to Gradio's ``POST /login`` (per client address)."""

    def __init__(self, app: Any, throttle: LoginThrottle):
        self.app = app
        self.throttle = throttle

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope.get("type") != "http"
            or scope.get("method") != "POST"
            or scope.get("path", "").rstrip("/") != "/login"
        ):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        wait = self.throttle.wait_seconds(client)
        if wait > 0:
            import json

            body = json.dumps({"detail": f"登录失败次数过多，请 {int(wait) + 1} 秒后再试。"}, ensure_ascii=False).encode()
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(int(wait) + 1).encode())]})
            await send({"type": "http.response.body", "body": body})
            return

        async def watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                status = int(message.get("status", 0))
                if status == 200:
                    self.throttle.succeeded(client)
                elif 400 <= status < 500:
                    self.throttle.failed(client)
            await send(message)

        await self.app(scope, receive, watch)


JSON_SEARCH_PATH = "/api/search"


def add_json_api(
    root: Any, holder: EngineHolder, auth: tuple[str, str] | None = None, throttle: LoginThrottle | None = None
) -> None:
    """``GET /api/search?q=…&unit=…&year=…&k=30``: the web search as plain JSON, for API clients.

    Same handler, filters, relevance floor, copies rule and result cache as the 检索 tab,
    without Gradio's per-call machinery (sessions, pre/postprocessing of components).
    With ``auth`` the route needs HTTP Basic credentials (the login of the web page);
    failed attempts count towards the same per-client backoff as the login form.
    """
    import secrets

    from fastapi.responses import JSONResponse

    def refuse(client: str) -> JSONResponse | None:
        if auth is None:
            return None
        wait = throttle.wait_seconds(client) if throttle else 0.0
        if wait > 0:
            return JSONResponse({"detail": f"登录失败次数过多，请 {int(wait) + 1} 秒后再试。"}, status_code=429,
                                headers={"Retry-After": str(int(wait) + 1)})  # fmt: skip
        return None

    def check_login(request: fastapi.Request) -> JSONResponse | None:
        if auth is None:
            return None
        import base64

        client = request.client.host if request.client else "?"
        blocked = refuse(client)
        if blocked is not None:
            return blocked
        header = request.headers.get("authorization", "")
        ok = False
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
                ok = secrets.compare_digest(user.encode(), auth[0].encode()) and secrets.compare_digest(
                    password.encode(), auth[1].encode()
                )
            except (ValueError, UnicodeDecodeError):
                ok = False
        if ok:
            if throttle:
                throttle.succeeded(client)
            return None
        if throttle and header:
            throttle.failed(client)
        return JSONResponse({"detail": "需要登录：请用 HTTP Basic 方式提供网页的账号和密码。"}, status_code=401,
                            headers={"WWW-Authenticate": 'Basic realm="perfsearch", charset="UTF-8"'})  # fmt: skip

    def search_json(
        request: fastapi.Request,
        q: str = "",
        unit: str = "",
        year: str = "",
        region: str = "",
        kind: str = "",
        project: str = "",
        level1: str = "",
        level2: str = "",
        k: int = h.PAGE_SIZE,
    ) -> Any:
        denied = check_login(request)
        if denied is not None:
            return denied
        try:
            view = h.search(holder.ready_engine(), q, unit, year, region, kind, project, level1, level2,
                            k=min(max(1, k), h.EXPORT_LIMIT))  # fmt: skip
        except gr.Error as exc:
            return JSONResponse({"detail": exc.message}, status_code=400)
        return {
            "status": view.status,
            "total": view.total,
            "shown": len(view.hits),
            "columns": list(h.RESULT_COLUMNS),
            "rows": view.rows,
            "hits": view.hits,
            "clusters": [line[2:] for line in view.clusters.splitlines() if line.startswith("- ")],
        }

    root.add_api_route(JSON_SEARCH_PATH, search_json, methods=["GET"], include_in_schema=False)


@dataclass
class Server:
    """A running (or ready to run) web server: the uvicorn server, the Gradio app and the URL."""

    server: Any
    demo: gr.Blocks
    url: str
    holder: EngineHolder | None = None  # warmed once the server accepts connections
    thread: threading.Thread | None = None

    def start(self, timeout: float = 60.0) -> Server:
        """Serve in a background thread; return once the port accepts connections."""
        self.thread = threading.Thread(target=self.server.run, name="perfsearch-web", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"网页服务未能启动：{self.url}")
            time.sleep(0.05)
        if self.holder is not None:
            # normally the first page load starts the warm-up (see refresh); else start it a bit later
            timer = threading.Timer(WARMUP_DELAY, self.holder.start_warmup)
            timer.daemon = True
            timer.start()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.demo.close()
        h.cleanup_exports()


def skip_missing_matplotlib() -> None:
    """Gradio wraps every call in ``import matplotlib`` (twice, to switch its backend); when
    matplotlib is not installed each failed import searches ``sys.path`` again (measured 9 %
    of the server's CPU for searches answered from the result cache).  Record the absence
    once: ``None`` in ``sys.modules`` makes the import fail at once, as it would anyway."""
    import importlib.util
    import sys

    if "matplotlib" not in sys.modules and importlib.util.find_spec("matplotlib") is None:
        sys.modules["matplotlib"] = None  # type: ignore[assignment]


def serving_threads() -> None:
    """One compute thread per request: the server runs many small searches at once on few cores.

    FAISS (OpenMP) would otherwise start a thread team per query search; with several
    requests in flight these teams spin against each other (measured 18 ms per flat
    search of 400 vectors under load vs under 1 ms with one thread).  Query encoding
    already runs one batch at a time (``search.retrieval.retrieve.QueryBatcher``)."""
    from search.retrieval.retrieve import set_query_cache

    set_query_cache(QUERY_CACHE)
    from search.config import EngineConfig

    skip_missing_matplotlib()
    n = EngineConfig.from_env().faiss_threads
    try:
        import faiss

        faiss.omp_set_num_threads(n)
    except (ImportError, AttributeError):  # pragma: no cover - faiss is a dependency
        pass


def create_server(
    holder: EngineHolder,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    max_upload_mb: float = h.DEFAULT_MAX_UPLOAD_MB,
    warm: bool = True,
) -> Server:
    """The Gradio app mounted on a FastAPI app served by uvicorn (not started yet).

    The engine warms up in a background thread once the server starts, so the
    first page is served while the index and the search model load.
    """
    import fastapi
    import uvicorn

    holder.warm_on_page_load = warm
    serving_threads()
    demo = build_app(holder, max_upload_mb=max_upload_mb)
    # status_update_rate: queue positions are sent once a second; Gradio's default ("auto")
    # sends every waiting client an estimate each time any job starts, O(waiting²) SSE
    # messages under load, written by the event loop and parsed by every client
    demo.queue(default_concurrency_limit=CONCURRENCY, status_update_rate=STATUS_UPDATE_SECONDS)
    root = fastapi.FastAPI(title=APP_TITLE, docs_url=None, redoc_url=None, openapi_url=None)
    throttle = LoginThrottle() if auth else None
    add_json_api(root, holder, auth, throttle)  # before Gradio's mount at "/", which takes every other path
    app = gr.mount_gradio_app(
        root,
        demo,
        path="",
        server_name=host,
        server_port=port,
        footer_links=[],
        auth=auth,
        auth_message="请输入账号和密码登录绩效目标检索助手" if auth else None,
        max_file_size=f"{max_upload_mb:g}mb",
        ssr_mode=False,
        show_error=True,
        mcp_server=False,
        pwa=False,
        theme=_theme(),
        css=CSS,
        i18n=_i18n(),
    )
    asgi: Any = ChineseLocale(app)
    if throttle is not None:
        asgi = ThrottledLogin(asgi, throttle)
    # http/loop "auto": httptools and uvloop when installed (dependencies), else h11/asyncio
    # open event streams (a browser tab, a gradio_client) would hold a graceful shutdown for the
    # whole join timeout of Server.stop: Ctrl+C closes them after a short grace period instead
    config = uvicorn.Config(asgi, host=host, port=port, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=2)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return Server(uvicorn.Server(config), demo, f"http://{shown}:{port}/", holder if warm else None)
