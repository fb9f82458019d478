"""Handlers behind the web interface: call the ``Engine`` and format its results.

Every function here takes the engine as its first argument, calls it and turns
the result into what the Gradio components show (pandas DataFrames, Markdown,
HTML, PIL images, file paths).  No retrieval, answering or checking logic
lives here; unit tests call these functions directly.

Errors reach the user as ``gr.Error`` carrying the Chinese message of the
library's typed exception (``EngineError``, ``IngestError``, ``DraftError`` ...).
"""

from __future__ import annotations

import collections
import contextlib
import csv
import functools
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from indexer.model import IngestError, SourceRef
from indexer.store import IndexUnavailable
from search import uploads as _uploads
from search.engine import Engine, EngineError
from search.uploads import (  # noqa: F401 - re-exported for the app
    ALLOWED_UPLOAD_SUFFIXES,
    DEFAULT_MAX_UPLOAD_MB,
    UploadRefused,
    sanitize_filename,
)
from ui.render import Rendered, RenderError, render_source

log = logging.getLogger(__name__)

ALL = ""  # dropdown value meaning "no filter"
ALL_LABEL = "全部"
KIND_LABELS = {"department": "部门整体", "project": "项目支出"}
EXAMPLE_QUESTIONS = (
    "哪些单位设定了满意度≥90%?",
    "培训类项目一般设定哪些产出指标？",
    "预算执行率的目标值通常是多少？",
    "哪些项目的资金总额超过100万元？",
)

RESULT_COLUMNS = ["序号", "三级指标", "指标值", "单位", "年度", "项目/表", "一级/二级指标", "来源"]
ROW_COLUMNS = RESULT_COLUMNS
TABLE_ROW_COLUMNS = ["序号", "一级/二级指标", "三级指标", "半年指标值", "指标值", "来源"]
EXAMPLE_COLUMNS = ["序号", "三级指标", "指标值", "单位", "来源"]
NEAR_COLUMNS = ["序号", "三级指标", "指标值", "单位", "年度", "项目/表", "未满足的原因", "来源"]
DOC_COLUMNS = ["序号", "文件", "单位", "项目/表", "年度", "指标数"]
DRAFT_COLUMNS = ["一级指标", "二级指标", "三级指标", "半年指标值", "指标值", "权重", "指标解释", "检查意见"]
SUGGESTION_COLUMNS = ["序号", "一级指标", "二级指标", "建议指标", "常用指标值", "使用单位数"]
UPLOAD_COLUMNS = ["文件", "结果", "说明"]
SEVERITY_LABELS = {"error": "错误", "warning": "警告", "info": "提示"}
CHECK_OK = "通过"


# ---------------------------------------------------------------- errors


class UserError(Exception):
    """A problem the user can fix (Chinese message); shown as ``gr.Error``."""


_USER_EXCEPTIONS: tuple[type[BaseException], ...] = (
    EngineError,
    IndexUnavailable,
    IngestError,
    RenderError,
    UploadRefused,
    UserError,
)


def _typed_exceptions() -> tuple[type[BaseException], ...]:
    """The library's user-facing exception types (optional modules included when present)."""
    extra: list[type[BaseException]] = []
    for mod, name in (
        ("search.drafting.draft", "DraftError"),
        ("search.retrieval.filters", "FilterError"),
        ("search.drafting.suggest", "SuggestError"),
        ("search.qa.answer", "AnswerError"),
        ("search.retrieval.retrieve", "SearchError"),
    ):
        with contextlib.suppress(ImportError, AttributeError):
            extra.append(getattr(__import__(mod, fromlist=[name]), name))
    return _USER_EXCEPTIONS + tuple(extra)


def user_errors(fn: Callable) -> Callable:
    """Turn the library's typed exceptions into ``gr.Error`` with their Chinese message."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except _typed_exceptions() as exc:
            msg = getattr(exc, "message", None) or str(exc)
            raise gr.Error(msg, title="出错了") from exc

    return wrapper


# ---------------------------------------------------------------- names and sources


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def uploads_dir(engine: Engine) -> Path:
    return _uploads.uploads_dir(engine.index_dir)


def display_name(engine: Engine, file: str) -> str:
    """The name shown for an indexed file: the original name of an upload, else the file name."""
    return _uploads.display_name(engine.index_dir, file)


def source_label(engine: Engine, source: dict[str, Any] | None, names: dict[str, str] | None = None) -> str:
    """``names``: the uploads' original names (``search.uploads.load_names``) when the caller already has them."""
    if not source:
        return ""
    ref = SourceRef.from_json(source)
    shown = names.get(ref.file, ref.file) if names is not None else display_name(engine, ref.file)
    return replace(ref, file=shown).label()  # the one citation format (sheet included)


def source_path(engine: Engine, file: str) -> Path | None:
    """Where the indexed file ``file`` is on disk (from the index manifest), or None.

    Only files recorded in the manifest are ever opened: a citation coming from
    a client cannot name an arbitrary path.
    """
    try:
        info = engine.store.manifest().files.get(str(file))
    except IndexUnavailable:
        info = None
    if info is None:
        return None
    candidates: list[Path] = []
    raw = info.get("path") or ""
    if raw:
        p = Path(raw)
        candidates.append(p)
        if not p.is_absolute():
            candidates.append(Path(engine.index_dir).resolve().parent / p)
    candidates.append(uploads_dir(engine) / Path(str(file)).name)
    for c in candidates:
        if c.is_file():
            return c
    return None


# ---------------------------------------------------------------- index overview


def index_summary(engine: Engine) -> str:
    if not engine.has_index():
        return "索引为空：请在「导入」页上传绩效目标表（PDF / TXT / XLSX），导入后即可检索。"
    docs = engine.documents()
    n_tables = sum(len(d.tables) for d in docs)
    n_rows = sum(len(d.rows) for d in docs)
    return f"索引：{len(docs)} 个文档、{n_tables} 张绩效目标表、{n_rows} 条指标"


def _choices(values: Iterable[Any], labels: dict[Any, str] | None = None) -> list[tuple[str, str]]:
    uniq = sorted({str(v) for v in values if v not in (None, "")})
    return [(ALL_LABEL, ALL)] + [((labels or {}).get(v, v), v) for v in uniq]


FILTER_FIELDS = ("unit", "year", "region", "kind", "project", "level1", "level2")


def filter_choices(
    engine: Engine, unit: str = ALL, year: str = ALL, level1: str = ALL
) -> dict[str, list[tuple[str, str]]]:
    """Dropdown choices filled from the index: ``{field: [(label, value), ...]}``.

    They cascade: years are those of the chosen unit, projects those of the chosen
    unit and year, 二级 labels those under the chosen 一级, so an impossible
    combination cannot be picked.  一级/二级 are the canonical labels
    (``search.retrieval.levels``): ``效益 / 效益指标 / 效益指標 / 项目效益指标`` are one choice.
    """
    from indexer.normalize import key
    from search.retrieval.levels import canonical_levels, group_order, level1_matches

    if not engine.has_index():
        return {k: [(ALL_LABEL, ALL)] for k in FILTER_FIELDS}
    want_unit = key(unit) if unit not in (None, ALL) else ""
    want_year = None
    if year not in (None, ALL):
        with contextlib.suppress(TypeError, ValueError):
            want_year = int(year)
    units, years, regions, kinds, projects, l1, l2 = (set() for _ in range(7))
    for d in engine.documents():
        if d.region:
            regions.add(d.region)
        for t in d.tables:
            u = t.unit or d.unit
            units.add(u)
            kinds.add(t.kind)
            if want_unit and want_unit not in key(u):
                continue
            y = t.year if t.year is not None else d.year
            if y is not None:
                years.add(y)
            if want_year is not None and y != want_year:
                continue
            if t.project:
                projects.add(t.project)
            for r in t.rows:
                c1, c2 = canonical_levels(r.level1, r.level2, r.name)
                l1.add(c1)
                if level1 in (None, ALL) or level1_matches(level1, c1):
                    l2.add((c1, c2))
    level2 = sorted({b for _, b in l2 if b}, key=lambda b: min(group_order(a, b2) for a, b2 in l2 if b2 == b))
    return {
        "unit": _choices(units),
        "year": [(ALL_LABEL, ALL)] + [(f"{y}年", str(y)) for y in sorted(years, reverse=True)],
        "region": _choices(regions),
        "kind": _choices(kinds, KIND_LABELS),
        "project": _choices(projects),
        "level1": [(ALL_LABEL, ALL)] + [(a, a) for a in sorted((a for a in l1 if a), key=lambda a: group_order(a, ""))],
        "level2": [(ALL_LABEL, ALL)] + [(b, b) for b in level2],
    }


# ---------------------------------------------------------------- row tables


def _kind_project(hit: dict[str, Any]) -> str:
    if hit.get("project"):
        return str(hit["project"])
    return KIND_LABELS.get(str(hit.get("table") or ""), "部门整体")


def _levels(hit: dict[str, Any]) -> str:
    return " / ".join(x for x in (hit.get("level1"), hit.get("level2")) if x)


def rows_data(engine: Engine, hits: Sequence[dict[str, Any]], columns: Sequence[str] = RESULT_COLUMNS) -> list[list]:
    """Row dicts (``row_to_json`` shape, maybe with ``score``/``reason``) -> the cells the user sees."""
    names = _uploads.load_names(engine.index_dir) if "来源" in columns else {}  # once per table, not per row
    getters: dict[str, Callable[[int, dict[str, Any]], Any]] = {
        "序号": lambda i, h: i,
        "三级指标": lambda i, h: h.get("name", ""),
        "指标值": lambda i, h: h.get("value", ""),
        "半年指标值": lambda i, h: h.get("half_year", ""),
        "单位": lambda i, h: h.get("unit", ""),
        "年度": lambda i, h: f"{h['year']}" if h.get("year") else "",
        "项目/表": lambda i, h: _kind_project(h),
        "一级/二级指标": lambda i, h: _levels(h),
        "未满足的原因": lambda i, h: h.get("reason", ""),
        "来源": lambda i, h: source_label(engine, h.get("source"), names),
    }
    row = [getters[c] for c in columns]
    return [[g(i, h) for g in row] for i, h in enumerate(hits, start=1)]


def rows_frame(engine: Engine, hits: Sequence[dict[str, Any]], columns: Sequence[str] = RESULT_COLUMNS) -> pd.DataFrame:
    """Row dicts (``row_to_json`` shape, maybe with ``score``/``reason``) -> the table the user sees."""
    return pd.DataFrame(rows_data(engine, hits, columns), columns=list(columns), dtype=object)


def empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame([], columns=list(columns))


def pick(items: Sequence[Any], row_value: Sequence[Any] | None, index: Any) -> Any | None:
    """The item a click in a numbered table refers to: by its ``序号`` cell, else by row index."""
    n = None
    if row_value:
        with contextlib.suppress(TypeError, ValueError):
            n = int(float(row_value[0])) - 1
    if n is None:
        if isinstance(index, (list, tuple)):
            index = index[0] if index else None
        with contextlib.suppress(TypeError, ValueError):
            n = int(index)
    if n is None or not 0 <= n < len(items):
        return None
    return items[n]


# ---------------------------------------------------------------- search


@dataclass
class SearchView:
    status: str
    rows: list[list]  # the cells of the result table (RESULT_COLUMNS)
    clusters: str
    hits: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0  # true number of matches (hits holds the first of them)

    @property
    def has_more(self) -> bool:
        return self.total > len(self.hits)

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=RESULT_COLUMNS, dtype=object)

    @property
    def value(self) -> dict[str, Any]:
        """The result table as the ``gr.Dataframe`` value: plain lists, no pandas on the way
        (a DataFrame costs the server ~2 ms per search to build and serialise)."""
        return {"headers": list(RESULT_COLUMNS), "data": self.rows}


def _filters_kwargs(unit: str, year: str, region: str, kind: str, project: str, level1: str, level2: str) -> dict:
    out: dict[str, Any] = {}
    for k, v in (
        ("unit", unit), ("region", region), ("table", kind), ("project", project),
        ("level1", level1), ("level2", level2),
    ):  # fmt: skip
        if v not in (None, ALL):
            out[k] = v
    if year not in (None, ALL):
        with contextlib.suppress(TypeError, ValueError):
            out["year"] = int(year)
    return out


def _engine_search(engine: Engine, query: str, filters: dict[str, Any], k: int) -> tuple[list[dict], list[Any], int]:
    """Matches of ``query`` (above the relevance floor) or, without words, the filtered rows:
    (the first ``k`` hits, clusters, true number of matches)."""
    if not query:
        hits, total = browse(engine, filters, k)
        return hits, [], total
    result = engine.search(query, top_k=k, filters=filters, matches_only=True)
    hits = [h if isinstance(h, dict) else h.to_json() for h in result.hits]
    total = getattr(result, "total", None)
    return hits, list(getattr(result, "clusters", []) or []), len(hits) if total is None else int(total)


def browse(engine: Engine, filters: dict[str, Any], k: int) -> tuple[list[dict], int]:
    """Rows matching the filters, in index order, each indicator once (copies of one table
    in several formats are one row, by the search's own rule): (the first ``k``, total)."""
    from search.retrieval.filters import Filters
    from search.retrieval.retrieve import copy_identity

    f = Filters.from_json(filters)
    regions = {d.file: d.region for d in engine.documents()}
    seen: set[tuple] = set()
    out: list[dict] = []
    total = 0
    for r in engine.rows_json():
        if not f.matches(r, regions.get(r["doc"], "")):
            continue
        ident = copy_identity(r)
        if ident in seen:
            continue
        seen.add(ident)
        total += 1
        if len(out) < k:
            out.append(r)
    return out, total


def cluster_lines(clusters: Sequence[Any], limit: int = 8) -> list[str]:
    """Phrasings used by several units, e.g. ``师生满意度 — 3 个单位使用：A、B、C``."""
    lines = []
    for c in clusters:
        units = _get(c, "units", ()) or ()
        variants = _get(c, "variants", ()) or ()
        if len(units) < 2 and len(variants) < 2:
            continue
        label = getattr(c, "label", None)
        lines.append(str(label(max_units=4)) if callable(label) else str(_get(c, "name", c)))
        if len(lines) >= limit:
            break
    return lines


PAGE_SIZE = 30
EXPORT_LIMIT = 5000  # rows written by an export (all matches in practice)
EMPTY_QUERY_HINT = "请输入要检索的指标名称或关键词，或至少选择一个筛选条件。"


SEARCH_CACHE_SIZE = 512  # result pages kept per server (same words and filters from many users, paging)
_search_cache: collections.OrderedDict[tuple, SearchView] = collections.OrderedDict()
_search_cache_lock = threading.Lock()


@user_errors
def search(
    engine: Engine,
    query: str,
    unit: str = ALL,
    year: str = ALL,
    region: str = ALL,
    kind: str = ALL,
    project: str = ALL,
    level1: str = ALL,
    level2: str = ALL,
    k: int = PAGE_SIZE,
) -> SearchView:
    """The first ``k`` matches and their true number; a query matching nothing says so.

    Results are kept per (index generation, query, filters, k): the same search from
    another user, or again after "显示更多", is answered without searching.  A new
    generation (an upload) makes every kept result unreachable."""
    query = (query or "").strip()
    filters = _filters_kwargs(unit, year, region, kind, project, level1, level2)
    if not query and not filters:
        raise UserError(EMPTY_QUERY_HINT)
    engine.require_index()
    try:
        generation = engine.store.manifest().generation
    except IndexUnavailable:
        generation = None
    key = (str(engine.index_dir), generation, getattr(engine, "model", None), query,
           tuple(sorted(filters.items())), max(1, int(k)))  # fmt: skip
    if generation is not None:
        with _search_cache_lock:
            view = _search_cache.get(key)
            if view is not None:
                _search_cache.move_to_end(key)
                return view
    view = _search(engine, query, filters, max(1, int(k)))
    if generation is not None:
        with _search_cache_lock:
            _search_cache[key] = view
            while len(_search_cache) > SEARCH_CACHE_SIZE:
                _search_cache.popitem(last=False)
    return view


def _search(engine: Engine, query: str, filters: dict[str, Any], k: int) -> SearchView:
    hits, clusters, total = _engine_search(engine, query, filters, k)
    lines = cluster_lines(clusters)
    clusters_md = ""
    if lines:
        clusters_md = "**同类指标的常见表述**\n\n" + "\n".join(f"- {x}" for x in lines)
    if not hits:
        status = "没有找到相关指标。可以换一种说法，或减少筛选条件。" if query else "没有符合筛选条件的指标。"
    elif total > len(hits):
        status = (f"找到 {total} 条相关指标，显示前 {len(hits)} 条（点击「显示更多」继续查看）。"
                  "点击任一行可在「文档」页查看原文出处。")
    else:
        status = f"找到 {total} 条相关指标。点击任一行可在「文档」页查看原文出处。"
    return SearchView(status, rows_data(engine, hits), clusters_md, hits, total)


# ---------------------------------------------------------------- export files

EXPORT_DIR_NAME = "perfsearch-exports"
EXPORT_MAX_AGE = 3600.0  # seconds an export file stays downloadable
_export_lock = threading.Lock()
_export_dirs: set[Path] = set()


def export_root() -> Path:
    """Where export files are written: inside Gradio's cache, so Gradio serves them without copying."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()) / EXPORT_DIR_NAME


def new_export_dir(root: Path | None = None) -> Path:
    """A fresh directory for one export; exports older than ``EXPORT_MAX_AGE`` are removed first."""
    import shutil
    import time

    base = Path(root or export_root())
    base.mkdir(parents=True, exist_ok=True)
    now = time.time()
    with _export_lock:
        for d in list(base.iterdir()):
            with contextlib.suppress(OSError):
                if now - d.stat().st_mtime > EXPORT_MAX_AGE:
                    shutil.rmtree(d, ignore_errors=True)
                    _export_dirs.discard(d)
        d = base / uuid.uuid4().hex
        d.mkdir()
        _export_dirs.add(d)
    return d


def cleanup_exports() -> int:
    """Remove every export directory this process created (server stop); returns how many."""
    import shutil

    with _export_lock:
        dirs = list(_export_dirs)
        _export_dirs.clear()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
    return len(dirs)


def export_hits(engine: Engine, hits: Sequence[dict[str, Any]], fmt: str, out_dir: Path | str | None = None) -> Path:
    """Write the current results to an .xlsx or .csv file and return its path."""
    if not hits:
        raise gr.Error("没有可导出的结果，请先检索。", title="无法导出")
    frame = rows_frame(engine, hits)
    out_dir = Path(out_dir) if out_dir else new_export_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        path = out_dir / "检索结果.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(frame.columns)
            w.writerows(frame.itertuples(index=False))
        return path
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    path = out_dir / "检索结果.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "检索结果"
    ws.append(list(frame.columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="D9E1F2")
    for row in frame.itertuples(index=False):
        ws.append([str(v) if not isinstance(v, int) else v for v in row])
    widths = {"序号": 6, "三级指标": 40, "指标值": 14, "单位": 30, "年度": 8, "项目/表": 24, "一级/二级指标": 26, "来源": 34}
    for c, name in enumerate(frame.columns, start=1):
        ws.column_dimensions[get_column_letter(c)].width = widths.get(name, 16)
        for cell in ws[get_column_letter(c)][1:]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    wb.save(path)
    return path


# ---------------------------------------------------------------- question answering


@dataclass
class AskView:
    answer: str
    plan: str
    rows: pd.DataFrame
    near: pd.DataFrame
    row_hits: list[dict[str, Any]] = field(default_factory=list)
    near_hits: list[dict[str, Any]] = field(default_factory=list)


def _as_dicts(items: Iterable[Any] | None) -> list[dict[str, Any]]:
    out = []
    for x in items or []:
        if isinstance(x, dict):
            out.append(x)
        elif hasattr(x, "to_json"):
            out.append(x.to_json())
        else:
            out.append(dict(x))
    return out


_INTENT_WORDS = {
    "which_units": "按单位汇总",
    "which_projects": "按项目汇总",
    "list_indicators": "列出指标",
    "unit_value": "查看指标值",
    "count": "计数",
    "compare": "对比",
    "budget": "查看资金",
    "fallback_search": "按相关度检索",
}


def plan_text(answer: Any) -> str:
    """The question as the engine understood it, in words ("满意度类指标，全年指标值 ≥ 90%，按单位汇总")."""
    for attr in ("plan_text", "plan_words", "describe_plan", "understood"):
        v = getattr(answer, attr, None)
        if callable(v):
            v = v()
        if isinstance(v, str) and v:
            return v
    plan = getattr(answer, "plan", None)
    for attr in ("describe", "words", "explain"):
        v = getattr(plan, attr, None)
        if callable(v):
            v = v()
        if isinstance(v, str) and v:
            return v
    if plan is None:
        return ""
    # a plain reading of the plan's fields until the answer module describes plans itself
    parts = []
    concept = getattr(plan, "concept", None)
    if concept:
        parts.append(f"“{concept}”相关指标" if getattr(plan, "concept_free", False) else f"{concept}类指标")
    f = getattr(plan, "filters", None)
    for attr, fmt in (("units", "单位：{}"), ("years", "年度：{}"), ("regions", "地区：{}"), ("projects", "项目：{}")):
        vals = getattr(f, attr, ()) or ()
        if vals:
            parts.append(fmt.format("、".join(str(v) for v in vals)))
    table = getattr(f, "table", None)
    if table:
        parts.append(KIND_LABELS.get(table, table) + "表")
    cond = getattr(plan, "condition", None)
    if cond is not None:
        column = "半年指标值" if getattr(plan, "column", "annual") == "half_year" else "全年指标值"
        label = cond.label() if hasattr(cond, "label") else str(cond)
        parts.append(f"{column} {label[:1]} {label[1:]}" if label[:1] in "≥≤<>=" else f"{column} {label}")
    intent = getattr(plan, "intent", "")
    if intent in _INTENT_WORDS:
        parts.append(_INTENT_WORDS[intent])
    return "，".join(parts)


def _table_as_row(t: dict[str, Any]) -> dict[str, Any]:
    """A cited table of a budget answer, shown as one line of the cited-rows table."""
    total = t.get("total_budget_wan")
    sources = t.get("sources") or []
    return {
        **t,
        "name": "资金总额",
        "value": "未填写" if total is None else f"{total:g} 万元",
        "level1": "",
        "level2": "",
        "source": t.get("source") or (sources[0] if sources else None),
    }


@user_errors
def ask(engine: Engine, question: str) -> AskView:
    question = (question or "").strip()
    if not question:
        raise UserError("请输入问题，例如：哪些单位设定了满意度≥90%?")
    engine.require_index()
    if not hasattr(engine, "ask"):
        raise UserError("问答功能尚未启用（等待问答模块），请先使用「检索」页。")
    answer = engine.ask(question)
    text = getattr(answer, "text", None) or getattr(answer, "answer", "") or ""
    plan = plan_text(answer)
    if plan and not plan.startswith("理解为"):
        plan = "理解为：" + plan
    rows = _as_dicts(getattr(answer, "rows", [])) + [_table_as_row(t) for t in _as_dicts(getattr(answer, "tables", []))]
    near = _as_dicts(getattr(answer, "near_misses", []))
    near += [{**r, "reason": r.get("reason") or "未量化，不参与比较"} for r in _as_dicts(getattr(answer, "unquantified", []))]
    return AskView(
        answer=str(text),
        plan=plan,
        rows=rows_frame(engine, rows, ROW_COLUMNS),
        near=rows_frame(engine, near, NEAR_COLUMNS),
        row_hits=rows,
        near_hits=near,
    )


# ---------------------------------------------------------------- documents and sources


@dataclass
class SourceView:
    title: str
    image: Any | None = None
    html: str = ""
    highlighted_text: str = ""


def _doc_index(engine: Engine) -> list[tuple[str, int]]:
    return [(d.file, ti) for d in engine.documents() for ti in range(len(d.tables))]


NO_TABLE_LABEL = "正文（未识别到指标表）"


@user_errors
def documents_table(engine: Engine) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """One line per ingested table (a document without any: one line for its text) and
    the keys (file, table index; -1 for the text) behind each line."""
    if not engine.has_index():
        return empty_frame(DOC_COLUMNS), []
    data, keys = [], []
    for d in engine.documents():
        for ti, t in enumerate(d.tables):
            year = t.year if t.year is not None else d.year
            data.append(
                [
                    len(data) + 1,
                    display_name(engine, d.file),
                    t.unit or d.unit,
                    t.project or KIND_LABELS.get(t.kind, t.kind),
                    f"{year}" if year else "",
                    len(t.rows),
                ]
            )
            keys.append({"file": d.file, "table": ti})
        if not d.tables:
            data.append([len(data) + 1, display_name(engine, d.file), d.unit, NO_TABLE_LABEL,
                         f"{d.year}" if d.year else "", 0])  # fmt: skip
            keys.append({"file": d.file, "table": -1})
    return pd.DataFrame(data, columns=DOC_COLUMNS, dtype=object), keys


PASSAGE_COLUMNS = ["序号", "正文", "来源"]


@dataclass
class DocumentView:
    """What the 文档 tab shows about one ingested document besides its indicator rows."""

    report: str  # the parse report in Chinese (Markdown)
    passages: pd.DataFrame  # the text kept besides the tables (PASSAGE_COLUMNS)
    passage_hits: list[dict[str, Any]] = field(default_factory=list)  # {"source": …} per passage line


def report_markdown(doc: Any, shown_name: str) -> str:
    """The parse report of ``doc`` (``indexer.report.report_for``) as the 文档 tab shows it:
    counts, rows per table, what was skipped and why rows may be missing."""
    from indexer.report import report_for

    rep = report_for(doc)
    head = f"**解析报告：{shown_name}**（{rep.tables} 张表，{rep.rows} 条指标）"
    lines = []
    for i, t in enumerate(doc.tables, start=1):
        what = t.project or KIND_LABELS.get(t.kind, t.kind)
        lines.append(f"- 表 {i}（{what}）：{len(t.rows)} 条指标")
    if rep.empty_value:
        lines.append(f"- {rep.empty_value} 条指标没有指标值")
    if rep.unknown_level:
        lines.append(f"- {rep.unknown_level} 条指标的一级或二级指标不明")
    if rep.clutter_lines:
        lines.append(f"- 跳过网页杂项 {rep.clutter_lines} 行（如“打印本页”“扫一扫”）")
    if rep.passages:
        lines.append(f"- 表格以外的正文 {rep.passages} 段，见下方“正文”")
    lines += [f"- 提示：{w}" for w in rep.warnings]
    return head + ("\n\n" + "\n".join(lines) if lines else "")


@user_errors
def document_view(engine: Engine, file: str) -> DocumentView:
    """Parse report and text passages of the ingested document ``file``."""
    doc = next((d for d in engine.documents() if d.file == file), None)
    if doc is None:
        raise UserError("该文档已不在索引中，请刷新列表。")
    names = _uploads.load_names(engine.index_dir)
    shown = names.get(doc.file, doc.file)
    hits = [{"source": p.source.to_json()} for p in doc.passages]
    data = [[i, p.text, source_label(engine, h["source"], names)]
            for i, (p, h) in enumerate(zip(doc.passages, hits), start=1)]  # fmt: skip
    return DocumentView(report_markdown(doc, shown), pd.DataFrame(data, columns=PASSAGE_COLUMNS, dtype=object), hits)


@user_errors
def table_rows(engine: Engine, key: dict[str, Any]) -> tuple[pd.DataFrame, list[dict[str, Any]], str]:
    """The indicator rows of one ingested table, as shown in the document view."""
    from indexer.model import row_to_json

    doc = next((d for d in engine.documents() if d.file == key.get("file")), None)
    if doc is None or not 0 <= int(key.get("table", -1)) < len(doc.tables):
        raise UserError("该文档已不在索引中，请刷新列表。")
    t = doc.tables[int(key["table"])]
    rows = [row_to_json(doc, t, r) for r in t.rows]
    kind = KIND_LABELS.get(t.kind, t.kind)
    year = t.year if t.year is not None else doc.year
    parts = [f"**{display_name(engine, doc.file)}**", t.unit or doc.unit, f"{year}年" if year else "", kind, t.project]
    if t.total_budget_wan is not None:
        parts.append(f"资金总额 {t.total_budget_wan:,.2f} 万元")
    title = " · ".join(p for p in parts if p) + f"（{len(t.rows)} 条指标）"
    return rows_frame(engine, rows, TABLE_ROW_COLUMNS), rows, title


@user_errors
def open_source(engine: Engine, hit: dict[str, Any] | None) -> SourceView:
    """Render the place a row (or table) came from: PDF page with the box, or the lines around it."""
    if not hit:
        raise UserError("没有可打开的出处。")
    source = hit.get("source") if "source" in hit else hit
    if not source or not source.get("file"):
        raise UserError("这一行没有记录出处。")
    file = source["file"]
    path = source_path(engine, file)
    label = source_label(engine, source)
    if path is None:
        raise UserError(f"找不到原始文件 {display_name(engine, file)}（可能已被移动或删除）。")
    rendered: Rendered = render_source(
        path, page=source.get("page"), line=source.get("line"), bbox=source.get("bbox"), sheet=source.get("sheet")
    )
    parts = [f"**出处：{label}**"]
    if hit.get("name"):
        who = " · ".join(str(x) for x in (hit.get("unit"), _kind_project(hit)) if x)
        parts.append(f"指标「{hit['name']}」 {hit.get('value', '')}" + (f"（{who}）" if who else ""))
    if rendered.image is not None:
        parts.append("红框标出的是该指标在原文中的位置。" if source.get("bbox") else "")
    elif source.get("line"):
        parts.append("黄色高亮的是该指标所在的行。")
    return SourceView(
        title="\n\n".join(p for p in parts if p),
        image=rendered.image,
        html=rendered.html,
        highlighted_text=rendered.highlighted_text,
    )


# ---------------------------------------------------------------- upload


@dataclass
class UploadView:
    summary: str
    table: pd.DataFrame
    added: list[str] = field(default_factory=list)


@user_errors
def upload(
    engine: Engine,
    files: Sequence[str | Path] | None,
    *,
    max_mb: float = DEFAULT_MAX_UPLOAD_MB,
    upload_root: Path | str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> UploadView:
    """Store uploads under generated names in ``<index>/uploads/`` and ingest them (``search.uploads``).

    ``upload_root``: where uploaded files must be (the web app passes Gradio's upload
    cache); anything else is refused with one neutral message.  One bad file never
    stops the others: each gets its own line (imported, skipped or failed with the reason).
    """
    paths = [Path(f if isinstance(f, (str, Path)) else str(getattr(f, "path", None) or f.name)) for f in files or []]
    if not paths:
        raise UserError(f"请先选择要导入的文件（支持 {_uploads.suffix_list()}）。")
    outcomes = _uploads.ingest_uploads(engine, paths, max_mb=max_mb, upload_root=upload_root, progress=progress)
    results = [[o.shown, o.status, o.detail] for o in outcomes]
    n_ok = sum(1 for o in outcomes if o.status == _uploads.IMPORTED)
    n_bad = sum(1 for o in outcomes if o.status in (_uploads.FAILED, _uploads.SKIPPED))
    n_dup = sum(1 for o in outcomes if o.status == _uploads.DUPLICATE)
    summary = f"导入完成：成功 {n_ok} 个"
    if n_dup:
        summary += f"，已存在 {n_dup} 个"
    if n_bad:
        summary += f"，失败 {n_bad} 个（原因见下表，其余文件不受影响）"
    summary += "。" + (" 新导入的指标已可在「检索」页查到。" if n_ok else "")
    return UploadView(summary, pd.DataFrame(results, columns=UPLOAD_COLUMNS), [o.shown for o in outcomes if o.status == _uploads.IMPORTED])


# ---------------------------------------------------------------- drafting


DRAFT_FIELDS = ("level1", "level2", "name", "half_year", "value", "weight", "explanation")  # DRAFT_COLUMNS[:-1]


def iter_draft_rows(frame: pd.DataFrame | list | dict | None) -> Iterator[tuple[str, ...]]:
    """(一级, 二级, 三级, 半年指标值, 指标值, 权重, 指标解释) of every non-empty line of the editable
    draft table; columns are found by their header (older 4-column tables still read)."""
    if frame is None:
        return
    if isinstance(frame, dict):
        frame = pd.DataFrame(frame.get("data", []), columns=frame.get("headers"))
    if isinstance(frame, list):
        frame = pd.DataFrame(frame)
    headers = [str(c) for c in frame.columns]
    if set(DRAFT_COLUMNS[:3]) <= set(headers):
        where = [headers.index(c) if c in headers else None for c in DRAFT_COLUMNS[: len(DRAFT_FIELDS)]]
    else:  # positional: 一级, 二级, 三级, 指标值
        where = [0, 1, 2, None, 3, None, None]
    for row in frame.itertuples(index=False):
        cells = list(row)
        vals = []
        for i in where:
            v = cells[i] if i is not None and i < len(cells) else None
            vals.append("" if v is None or (isinstance(v, float) and v != v) else str(v).strip())
        if any(vals[:3]) or vals[4]:
            yield tuple(vals)


def draft_from_frame(frame: Any, project: str = "", unit: str = "", year: Any = None, goal: str = "",
                     funds: Any = ""):  # fmt: skip
    from search.drafting.draft import Draft, DraftRow

    y = None
    with contextlib.suppress(TypeError, ValueError):
        y = int(year) if year not in (None, "") else None
    rows = tuple(DraftRow(**dict(zip(DRAFT_FIELDS, vals))) for vals in iter_draft_rows(frame))
    funds_text = "" if funds in (None, "") else (f"{funds:g}" if isinstance(funds, float) else str(funds).strip())
    return Draft(unit=unit or "", year=y, kind="project", project=project or "", rows=rows,
                 goal=(goal or "").strip(), funds=funds_text)  # fmt: skip


def draft_frame(rows: Iterable[Sequence[str]], notes: Sequence[str] | None = None) -> pd.DataFrame:
    """The editable draft table: rows as (一级, 二级, 三级, 半年指标值, 指标值, 权重, 指标解释)
    (shorter rows are padded), plus the checker's note."""
    n = len(DRAFT_FIELDS)
    data = []
    for i, r in enumerate(list(rows)):
        note = notes[i] if notes and i < len(notes) else ""
        cells = [*list(r)[:n]] + [""] * (n - len(list(r)[:n]))
        data.append([*cells, note])
    return pd.DataFrame(data, columns=DRAFT_COLUMNS)


def _draft_cells(r: Any) -> tuple[str, ...]:
    return tuple(getattr(r, f) for f in DRAFT_FIELDS)


@dataclass
class CheckView:
    table: pd.DataFrame
    summary: str


@user_errors
def check_draft(engine: Engine, frame: Any, project: str = "", unit: str = "", year: Any = None,
                goal: str = "", funds: Any = "") -> CheckView:  # fmt: skip
    draft = draft_from_frame(frame, project, unit, year, goal, funds)
    if not draft.rows:
        raise UserError("草稿还没有指标：请先在上方获取建议并加入草稿，或直接在表格中填写。")
    reports = engine.check(draft)
    notes: list[list[str]] = [[] for _ in draft.rows]
    table_level: list[str] = []
    counts = {"error": 0, "warning": 0, "info": 0}
    for rep in reports:
        for f in rep.findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1
            text = f"【{SEVERITY_LABELS.get(f.severity, f.severity)}】{f.message}"
            if f.row_index is not None and 0 <= f.row_index < len(notes):
                notes[f.row_index].append(text)
            else:
                table_level.append(text)
    table = draft_frame(
        [_draft_cells(r) for r in draft.rows],
        ["；".join(n) if n else CHECK_OK for n in notes],
    )
    if not any(counts.values()):
        summary = "检查完成：未发现问题。"
    else:
        summary = (
            f"检查完成：错误 {counts['error']} 条，警告 {counts['warning']} 条，提示 {counts['info']} 条。"
            "各条意见已写在表格最右列。"
        )
    if table_level:
        summary += "\n\n**整表意见**\n\n" + "\n".join(f"- {t}" for t in table_level)
    return CheckView(table, summary)


@user_errors
def export_draft(frame: Any, project: str = "", unit: str = "", year: Any = None, out_dir: Path | str | None = None,
                 *, goal: str = "", funds: Any = "") -> Path:  # fmt: skip
    """The draft as an .xlsx 绩效目标表 (年度绩效目标, 项目资金, 半年指标值, 权重, 指标解释 when filled in)."""
    from search.drafting.export import export_draft as _export

    draft = draft_from_frame(frame, project, unit, year, goal, funds)
    if not draft.rows:
        raise UserError("草稿还没有指标，无法导出。")
    out_dir = Path(out_dir) if out_dir else new_export_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    base = sanitize_filename(project, "") if project else ""
    name = f"{base}绩效目标表.xlsx" if base else "绩效目标表草稿.xlsx"
    return _export(draft, out_dir / name)


# ---------------------------------------------------------------- suggestions


@dataclass
class SuggestView:
    status: str
    table: pd.DataFrame
    choices: list[tuple[str, str]]
    items: list[dict[str, Any]]


CHART_BARS = 12


@dataclass
class SuggestionDetail:
    chart: pd.DataFrame
    note: str
    examples: pd.DataFrame
    example_hits: list[dict[str, Any]]
    y_max: int = 1  # the chart's y axis runs from 0 to this count


def _flatten_suggestions(result: Any) -> list[dict[str, Any]]:
    """Suggestion groups (一级/二级 -> suggestions) as flat dicts carrying their group labels."""
    groups = _get(result, "groups", result)
    items: list[dict[str, Any]] = []
    for g in groups or []:
        level1 = _get(g, "level1", "")
        level2 = _get(g, "level2", "")
        for s in _get(g, "suggestions", None) or _get(g, "items", None) or []:
            d = s if isinstance(s, dict) else (s.to_json() if hasattr(s, "to_json") else dict(vars(s)))
            items.append({**d, "level1": d.get("level1") or level1, "level2": d.get("level2") or level2})
    return items


def _value_counts(item: dict[str, Any]) -> list[tuple[str, int]]:
    out = []
    for v in item.get("values") or []:
        if isinstance(v, dict):
            out.append((str(v.get("value", "")), int(v.get("count", 1) or 1)))
        else:
            out.append((str(v), 1))
    return out


def _n_units(item: dict[str, Any]) -> int:
    n = item.get("n_units", item.get("units"))
    if isinstance(n, (list, tuple, set)):
        return len(n)
    return int(n or 0)


def suggestion_choices(items: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """Checkbox choices numbered like the suggestion table: ``("3. 教师培训人数", "2")``."""
    return [(f"{i + 1}. {it.get('name', '')}", str(i)) for i, it in enumerate(items)]


SHOW_EXAMPLES = 50  # example rows kept per suggestion (all of them in practice)
WEAK_MARK = "（相关性弱）"


@user_errors
def suggest(engine: Engine, text: str) -> SuggestView:
    text = (text or "").strip()
    if not text:
        raise UserError("请输入项目名称或绩效目标，例如：教师培训项目。")
    engine.require_index()
    if not hasattr(engine, "suggest"):
        raise UserError("指标建议功能尚未启用（等待起草模块）。")
    result = engine.suggest(text, examples=SHOW_EXAMPLES, for_kind="project")
    items = _flatten_suggestions(result)
    data = []
    for i, it in enumerate(items, start=1):
        values = _value_counts(it)
        name = it.get("name", "") + (WEAK_MARK if it.get("weak") else "")
        data.append([i, it.get("level1", ""), it.get("level2", ""), name,
                     values[0][0] if values else "", _n_units(it)])  # fmt: skip
    n_weak = sum(1 for it in items if it.get("weak"))
    if not items:
        status = "没有找到相近的指标，可以换一种说法（如项目名称中的关键词）。"
    elif getattr(result, "weak", False):
        status = (f"⚠️ 已导入的表中没有与「{text}」相近的内容，下面 {len(items)} 条只是其他表常用的指标，"
                  "与本项目的相关性弱，请谨慎参考或换一种说法。")  # fmt: skip
    else:
        status = f"共 {len(items)} 条建议，按一级/二级指标分组。勾选后点击「加入草稿」。"
        if n_weak:
            status += f"其中 {n_weak} 条标有{WEAK_MARK}：来自与本项目不相近的表，相关性弱。"
    return SuggestView(status, pd.DataFrame(data, columns=SUGGESTION_COLUMNS), suggestion_choices(items), items)


def suggestion_detail(engine: Engine, item: dict[str, Any]) -> SuggestionDetail:
    """Value distribution (counts start at zero on the chart), a note and every source row."""
    counts = _value_counts(item)
    chart = pd.DataFrame(counts, columns=["指标值", "次数"]).groupby("指标值", as_index=False)["次数"].sum()
    chart = chart.sort_values(["次数", "指标值"], ascending=[False, True]).head(CHART_BARS)
    examples = list(item.get("examples") or [])
    examples = [e if isinstance(e, dict) else e.to_json() for e in examples]
    variants = [v for v in (item.get("variants") or []) if v != item.get("name")]
    n_rows = int(item.get("rows") or 0) or sum(c for _, c in counts) or len(examples)
    note = f"**{item.get('name', '')}**：{_n_units(item)} 个单位使用过，共 {n_rows} 次"
    hidden = n_rows - len(examples)
    note += f"，下表列出全部 {len(examples)} 个来源。" if hidden <= 0 else \
        f"，下表列出其中 {len(examples)} 个来源（另有 {hidden} 个未列出）。"
    n_values = len(set(v for v, _ in counts))
    if n_values > CHART_BARS:
        note += f"图中为最常用的 {CHART_BARS} 种指标值（共 {n_values} 种）。"
    if item.get("weak"):
        note += "该建议来自与本项目不相近的表，相关性弱。"
    if variants:
        note += "其他表述：" + "、".join(str(v) for v in variants[:5]) + "。"
    y_max = int(chart["次数"].max()) if len(chart) else 1
    return SuggestionDetail(chart, note, rows_frame(engine, examples, EXAMPLE_COLUMNS), examples, y_max)


def add_suggestions(frame: Any, picked: Sequence[str] | None, items: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The draft table with the picked suggestions appended (rows already present are kept once)."""
    rows = [list(r) for r in iter_draft_rows(frame)]
    have = {(r[0], r[1], r[2]) for r in rows}
    if not picked:
        raise gr.Error("请先勾选要加入草稿的指标。", title="未选择指标")
    for p in picked:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            it = items[int(p)]
            values = _value_counts(it)
            row = [it.get("level1", ""), it.get("level2", ""), it.get("name", ""), "", values[0][0] if values else "",
                   "", ""]  # fmt: skip
            if (row[0], row[1], row[2]) not in have:
                rows.append(row)
                have.add((row[0], row[1], row[2]))
    return draft_frame(rows)
