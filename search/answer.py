"""Execute a :class:`~search.question.Plan` over ALL indicator rows and tables.

* :class:`Catalog` groups the index: copies of one table (the same unit, year,
  kind and project in a .txt, .pdf and .xlsx file) form one
  :class:`TableGroup`, and the same row in those copies one :class:`RowGroup`
  with every source listed, so nothing is counted twice.
* :class:`QAContext` holds the catalog, the parser vocabulary and the concept
  matcher for one index generation (``Engine.ask`` caches it).
* :func:`execute` runs a plan and returns an :class:`Answer`: one or two
  Chinese sentences, the supporting rows (``row_to_json`` objects) with their
  sources, the near misses and the unquantified rows.  Counts and sums come
  from the rows and tables themselves; nothing is invented.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from indexer.model import Document, IndicatorRow, SourceRef, Table, Target, row_to_json, table_to_json
from indexer.normalize import key
from indexer.vocab import level1_category
from search.concepts import CONCEPTS, ConceptMatcher, row_in_categories
from search.question import Plan, Verdict, Vocabulary, build_vocabulary, check_target, parse_question

if TYPE_CHECKING:
    from indexer.embedding import Encoder

log = logging.getLogger(__name__)

ROW_KEYS = ("doc", "unit", "year", "table", "project", "function", "level1", "level2", "task", "name",
            "half_year", "value", "target", "source")  # fmt: skip
FALLBACK_PREFIX = "未能理解为结构化问题，以下是相关检索结果："
_FMT_RANK = {"text": 0, "xlsx": 1, "pdf": 2}

# --------------------------------------------------------------------------- catalog


@dataclass
class TableGroup:
    unit: str
    year: int | None
    kind: str
    project: str
    region: str
    doc: Document  # representative copy
    table: Table
    copies: list[tuple[Document, Table]] = field(default_factory=list)

    def sources(self) -> list[dict[str, Any]]:
        return [{"doc": d.file, **t.source.to_json()} for d, t in self.copies]

    def to_json(self) -> dict[str, Any]:
        return {**table_to_json(self.doc, self.table), "sources": self.sources()}


@dataclass
class RowGroup:
    table: TableGroup
    doc: Document
    tab: Table
    row: IndicatorRow
    copies: list[tuple[Document, IndicatorRow]] = field(default_factory=list)
    name_key: str = ""

    def json(self) -> dict[str, Any]:
        return row_to_json(self.doc, self.tab, self.row)

    def sources(self) -> list[dict[str, Any]]:
        return [{"doc": d.file, **r.source.to_json()} for d, r in self.copies]

    def target(self, column: str) -> Target:
        return self.row.half_year_target if column == "half_year" else self.row.target

    def value(self, column: str) -> str:
        return self.row.half_year if column == "half_year" else self.row.value


class Catalog:
    """All tables and rows of the index, copies of the same table merged."""

    def __init__(self, docs: Sequence[Document]):
        self.docs = sorted(docs, key=lambda d: (_FMT_RANK.get(d.fmt, 3), d.file))
        self.tables: list[TableGroup] = []
        self.rows: list[RowGroup] = []
        tables: dict[tuple, TableGroup] = {}
        rows: dict[tuple, RowGroup] = {}
        for doc in self.docs:
            for t in doc.tables:
                unit = t.unit or doc.unit
                year = t.year if t.year is not None else doc.year
                tk = (key(unit), year, t.kind, key(t.project))
                tg = tables.get(tk)
                if tg is None:
                    tg = tables[tk] = TableGroup(unit, year, t.kind, t.project, doc.region, doc, t)
                    self.tables.append(tg)
                tg.copies.append((doc, t))
                seen: dict[tuple, int] = {}
                for r in t.rows:
                    ident = (key(r.function), key(r.name), key(r.value), key(r.half_year))
                    seen[ident] = seen.get(ident, 0) + 1  # repeated rows inside one table stay apart
                    rk = (tk, ident, seen[ident])
                    rg = rows.get(rk)
                    if rg is None:
                        rg = rows[rk] = RowGroup(tg, doc, t, r, name_key=key(r.name))
                        self.rows.append(rg)
                    rg.copies.append((doc, r))
        self.vocab: Vocabulary = build_vocabulary(self.docs)

    def name_keys(self) -> list[str]:
        return list(dict.fromkeys(r.name_key for r in self.rows if r.name_key))


@dataclass
class QAContext:
    generation: str | None
    catalog: Catalog
    matcher: ConceptMatcher
    search: Callable[[str, int], list[Any]] | None = None  # Engine.search when available

    @classmethod
    def build(
        cls,
        docs: Sequence[Document],
        generation: str | None = None,
        encoder: Encoder | Callable[[], Encoder | None] | None = None,
        search: Callable[[str, int], list[Any]] | None = None,
    ) -> QAContext:
        catalog = Catalog(docs)
        return cls(generation, catalog, ConceptMatcher(catalog.name_keys(), encoder), search)

    @classmethod
    def for_engine(cls, engine: Any, docs: Sequence[Document], generation: str | None,
                   previous: QAContext | None = None) -> QAContext:  # fmt: skip
        """Context for ``Engine.ask``: the encoder loads on first semantic use and is
        kept across generations; the fallback uses ``Engine.search`` when it exists."""
        encoder: Any = previous.matcher.loaded_encoder() if previous is not None else None
        if encoder is None:
            encoder = functools.partial(load_encoder, engine)
        search = functools.partial(_engine_search, engine) if hasattr(engine, "search") else None
        return cls.build(docs, generation, encoder=encoder, search=search)

    def parse(self, question: str) -> Plan:
        return parse_question(question, self.catalog.vocab)

    def ask(self, question: str) -> Answer:
        return execute(self.parse(question), self)


def semantic_disabled() -> bool:
    return os.environ.get("PERFSEARCH_QA_SEMANTIC", "1").strip().lower() in ("0", "off", "no", "false")


def load_encoder(engine: Any) -> Encoder | None:
    """The embedding model for concept matching (shared with search when possible);
    None (lexical matching only) when disabled or when it cannot be loaded."""
    if semantic_disabled():
        return None
    try:
        try:
            from search.artifacts import get_encoder, resolve_model_id
        except ImportError:
            from indexer.embedding import Encoder

            return Encoder.load(getattr(engine, "model", None))
        return get_encoder(resolve_model_id(getattr(engine, "model", None)))
    except Exception as exc:  # no model available: degrade, never fail the question
        log.warning("无法加载嵌入模型，问答只使用字面匹配：%s", exc)
        return None


def _engine_search(engine: Any, question: str, top_k: int) -> list[Any]:
    from search.concepts import query_threads

    with query_threads():  # one short query: see query_threads
        result = engine.search(question, top_k=top_k)
    return list(getattr(result, "hits", result))


# --------------------------------------------------------------------------- answer


@dataclass(frozen=True)
class Answer:
    question: str
    intent: str
    text: str  # the Chinese answer (one or two sentences, plus the semantics note)
    plan: Plan
    units: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    rows: tuple[dict[str, Any], ...] = ()  # row_to_json objects
    sources: tuple[tuple[dict[str, Any], ...], ...] = ()  # every copy of each row
    near_misses: tuple[dict[str, Any], ...] = ()  # row objects + reason + sources
    unquantified: tuple[dict[str, Any], ...] = ()  # row objects + reason + sources
    tables: tuple[dict[str, Any], ...] = ()  # budget answers: table_to_json + sources
    value: float | int | str | None = None  # the number asked for (count, amount, value)

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "intent": self.intent,
            "plan": self.plan.to_json(),
            "units": list(self.units),
            "projects": list(self.projects),
            "rows": list(self.rows),
            "near_misses": list(self.near_misses),
            "unquantified": list(self.unquantified),
            "sources": [list(s) for s in self.sources],
            "tables": list(self.tables),
            "value": self.value,
        }

    def render(self) -> str:
        """Readable answer with one citation line per supporting item."""
        return render_answer(self)


# --------------------------------------------------------------------------- selection


def _scope_tables(cat: Catalog, plan: Plan) -> list[TableGroup]:
    f = plan.filters
    out = []
    for tg in cat.tables:
        if f.units and tg.unit not in f.units:
            continue
        if f.years and tg.year not in f.years:
            continue
        if f.regions and not f.units and tg.region not in f.regions:
            continue
        if f.table and tg.kind != f.table:
            continue
        if f.projects and tg.project not in f.projects:
            continue
        out.append(tg)
    return out


def _level_ok(rg: RowGroup, plan: Plan) -> bool:
    f, r = plan.filters, rg.row
    if f.level1 and not (level1_category(r.level1) == f.level1 or key(r.level1).startswith(f.level1)):
        return False
    return not (f.level2 and not key(r.level2).startswith(f.level2))


def _concept_ok(rg: RowGroup, plan: Plan, names: dict[str, str] | None) -> bool:
    if names is None:
        return True
    if rg.name_key in names:
        return True
    c = None if plan.concept_free else CONCEPTS.get(plan.concept or "")
    return bool(c and row_in_categories(rg.row.level1, rg.row.level2, c.categories))


def select_rows(ctx: QAContext, plan: Plan, tables: Iterable[TableGroup] | None = None) -> list[RowGroup]:
    """Rows in scope (filters, levels) that match the plan's concept."""
    scope = {id(t) for t in (tables if tables is not None else _scope_tables(ctx.catalog, plan))}
    names = ctx.matcher.match(plan.concept, plan.concept_free) if plan.concept else None
    return [
        rg
        for rg in ctx.catalog.rows
        if id(rg.table) in scope and _level_ok(rg, plan) and _concept_ok(rg, plan, names)
    ]


@dataclass
class Split:
    ok: list[RowGroup] = field(default_factory=list)
    near: list[tuple[RowGroup, Verdict]] = field(default_factory=list)
    unquantified: list[tuple[RowGroup, Verdict]] = field(default_factory=list)


def split_rows(rows: Iterable[RowGroup], plan: Plan) -> Split:
    """Rows satisfying the plan's condition, near misses and unquantified rows."""
    out = Split()
    for rg in rows:
        if plan.condition is None:
            out.ok.append(rg)
            continue
        v = check_target(rg.target(plan.column), plan.condition)
        if v.ok:
            out.ok.append(rg)
        elif v.status in ("qualitative", "empty"):
            out.unquantified.append((rg, v))
        else:
            out.near.append((rg, v))
    return out


def _uniq(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def _annotated(rg: RowGroup, reason: str) -> dict[str, Any]:
    return {**rg.json(), "reason": reason, "sources": rg.sources()}


def make_answer(
    plan: Plan,
    text: str,
    rows: Sequence[RowGroup] = (),
    split: Split | None = None,
    units: Sequence[str] | None = None,
    projects: Sequence[str] | None = None,
    tables: Sequence[TableGroup] = (),
    value: float | int | str | None = None,
) -> Answer:
    return Answer(
        question=plan.question,
        intent=plan.intent,
        text=text,
        plan=plan,
        units=_uniq(units if units is not None else [r.table.unit for r in rows]),
        projects=_uniq(projects if projects is not None else [r.table.project for r in rows]),
        rows=tuple(r.json() for r in rows),
        sources=tuple(tuple(r.sources()) for r in rows),
        near_misses=tuple(_annotated(r, v.reason) for r, v in (split.near if split else [])),
        unquantified=tuple(_annotated(r, v.reason) for r, v in (split.unquantified if split else [])),
        tables=tuple(t.to_json() for t in tables),
        value=value,
    )


def execute(plan: Plan, ctx: QAContext) -> Answer:
    handler = {
        "which_units": _which_units,
        "which_projects": _which_projects,
        "list_indicators": _list_indicators,
        "unit_value": _unit_value,
        "count": _count,
        "compare": _compare,
        "budget": _budget,
    }.get(plan.intent, _fallback)
    return handler(plan, ctx)


# --------------------------------------------------------------------------- wording

_KIND = {"department": "部门整体", "project": "项目支出"}
_SHOWN = 8  # items named in the answer sentence before "等"


def _join(items: Sequence[str], limit: int = _SHOWN) -> str:
    items = list(items)
    if len(items) <= limit:
        return "、".join(items)
    return "、".join(items[:limit]) + f"等{len(items)}项"


def _label(plan: Plan) -> str:
    """What is asked about: the concept, else the level, else 指标."""
    if plan.concept:
        return plan.concept
    f = plan.filters
    if f.level2:
        return f"{f.level2}指标"
    if f.level1:
        return f"{f.level1}指标"
    return ""


def _what(plan: Plan) -> str:
    """Noun phrase for the rows asked about: 满意度≥90%的指标 / 时效指标 / 指标."""
    label, cond = _label(plan), _cond(plan)
    noun = label if label.endswith("指标") else f"{label}指标"
    if cond:
        return f"{label}{_col(plan)}{cond}的指标" if label else f"指标值{_col(plan)}{cond}的指标"
    return noun


def _cond(plan: Plan) -> str:
    return plan.condition.label() if plan.condition else ""


def _col(plan: Plan) -> str:
    return "半年" if plan.column == "half_year" else ""


def _scope(plan: Plan) -> str:
    f = plan.filters
    parts = []
    if f.regions and not f.units:
        parts.append("、".join(f.regions))
    if f.units:
        parts.append("、".join(f.units))
    if f.projects:
        parts.append("、".join(f.projects) + "项目")
    if f.years:
        parts.append("、".join(f"{y}年" for y in f.years))
    if f.table and not f.projects:
        parts.append(_KIND[f.table] + "表")
    return "".join(parts)


def _semantics_note(plan: Plan) -> str:
    if plan.condition is None:
        return ""
    c = plan.condition.label()
    col = "半年指标值" if plan.column == "half_year" else "全年指标值"
    unit = "" if plan.condition.unit else "问题未写单位，按数值比较；"
    return (
        f"（口径：按{col}判断，指标值允许的所有取值都满足{c}才算满足，如“≥85%”不满足“≥90%”；"
        f"区间≥取下限、≤取上限；{unit}单位须一致；定性指标不参与比较。）"
    )


def _value_text(rg: RowGroup, plan: Plan) -> str:
    v = rg.value(plan.column).strip()
    return v or "未填写"


def _row_brief(rg: RowGroup, plan: Plan) -> str:
    return f"{rg.row.name}（{_value_text(rg, plan)}）"


def _unit_brief(split: Split, units: Sequence[str], plan: Plan) -> str:
    """Per unit, the values that missed the condition: 单位（≥85%、≥85%）."""
    parts = []
    for u in units:
        vals = [_value_text(rg, plan) for rg, _ in split.near if rg.table.unit == u]
        vals += [_value_text(rg, plan) for rg, _ in split.unquantified if rg.table.unit == u]
        parts.append(f"{u}（{'、'.join(dict.fromkeys(vals))}）")
    return "、".join(parts)


def _unquantified_note(split: Split, plan: Plan) -> str:
    if not split.unquantified:
        return ""
    items = [f"{rg.table.unit}的“{rg.row.name}”（{_value_text(rg, plan)}）" for rg, _ in split.unquantified]
    return f"未量化、不参与比较：{_join(items, 4)}。"


def _not_found(plan: Plan, scope: str = "") -> str:
    what = _label(plan) or "相关"
    return f"{scope or '索引中'}没有找到与“{what}”匹配的指标。"


# --------------------------------------------------------------------------- intents


def _which_units(plan: Plan, ctx: QAContext) -> Answer:
    rows = select_rows(ctx, plan)
    split = split_rows(rows, plan)
    units = _uniq(r.table.unit for r in split.ok)
    label, cond, scope = _label(plan) or "指标", _cond(plan), _scope(plan)
    if not rows:
        return make_answer(plan, _not_found(plan, scope), units=())
    if plan.condition:
        head = (
            f"{scope}共{len(units)}个单位设定了{label}{_col(plan)}{cond}的目标：{_join(units)}。"
            if units
            else f"{scope}没有单位设定{label}{_col(plan)}{cond}的目标。"
        )
        missed = [u for u in _uniq(r.table.unit for r, _ in split.near) if u not in units]
        tail = (
            f"另有{len(missed)}个单位的{label}目标未满足{cond}：{_unit_brief(split, missed, plan)}。"
            if missed
            else ""
        )
        text = head + tail + _unquantified_note(split, plan) + _semantics_note(plan)
    else:
        text = f"{scope}共{len(units)}个单位设定了{label}指标：{_join(units)}。"
    return make_answer(plan, text, split.ok, split, units=units)


def _which_projects(plan: Plan, ctx: QAContext) -> Answer:
    tables = [t for t in _scope_tables(ctx.catalog, plan) if t.kind == "project"]
    label, cond, scope = _label(plan), _cond(plan), _scope(plan)
    if not (plan.concept or plan.condition or plan.filters.level1 or plan.filters.level2):
        projects = [t.project for t in tables]
        text = (
            f"{scope}共{len(projects)}个项目：{_join(projects)}。" if projects else f"{scope}没有项目支出表。"
        )
        return make_answer(plan, text, units=[t.unit for t in tables], projects=projects, tables=tables)
    rows = select_rows(ctx, plan, tables)
    split = split_rows(rows, plan)
    projects = list(_uniq(r.table.project for r in split.ok))
    if plan.concept and not plan.condition:  # a project named after the concept counts too
        named = ctx.matcher.match(plan.concept, plan.concept_free)
        projects += [t.project for t in tables if key(t.project) in named and t.project not in projects]
    if not rows and not projects:
        return make_answer(plan, _not_found(plan, scope), units=(), projects=())
    owners = _uniq(t.unit for t in tables if t.project in projects)
    by_unit = "；".join(
        f"{_join([p for p in projects if any(t.project == p and t.unit == u for t in tables)])}（{u}）"
        for u in owners
    )
    if plan.condition:
        head = (
            f"{scope}共{len(projects)}个项目设定了{label}{_col(plan)}{cond}的目标：{by_unit}。"
            if projects
            else f"{scope}没有项目设定{label}{_col(plan)}{cond}的目标。"
        )
        missed = [p for p in _uniq(r.table.project for r, _ in split.near) if p not in projects]
        tail = f"未满足{cond}的项目还有{len(missed)}个：{_join(missed)}。" if missed else ""
        text = head + tail + _unquantified_note(split, plan) + _semantics_note(plan)
    else:
        text = f"{scope}共{len(projects)}个项目设有{label}相关指标：{by_unit}。"
    return make_answer(plan, text, split.ok, split, units=owners, projects=projects)


def _subject(plan: Plan) -> str:
    return _scope(plan) or "索引中"


def _list_indicators(plan: Plan, ctx: QAContext) -> Answer:
    rows = select_rows(ctx, plan)
    split = split_rows(rows, plan)
    if not rows:
        return make_answer(plan, _not_found(plan, _scope(plan)))
    what = _what(plan)
    names = [_row_brief(r, plan) for r in split.ok]
    text = (
        f"{_subject(plan)}共有{len(split.ok)}条{what}：{_join(names)}。"
        if split.ok
        else (f"{_subject(plan)}没有{what}。")
    )
    text += _unquantified_note(split, plan) + _semantics_note(plan)
    return make_answer(plan, text, split.ok, split)


def _unit_value(plan: Plan, ctx: QAContext) -> Answer:
    rows = select_rows(ctx, plan)
    if not rows:
        return make_answer(plan, _not_found(plan, _scope(plan)))
    col = "半年指标值" if plan.column == "half_year" else "指标值"
    parts = []
    for rg in rows:
        who = rg.table.unit + (f"“{rg.table.project}”项目" if rg.table.project else "")
        s = f"{who}的“{rg.row.name}”{col}为{_value_text(rg, plan)}"
        if plan.condition:
            v = check_target(rg.target(plan.column), plan.condition)
            s += f"，{'满足' if v.ok else '不满足'}{plan.condition.label()}" + (
                "" if v.ok else f"（{v.reason}）"
            )
        parts.append(s)
    text = "；".join(parts[:_SHOWN]) + (f"；等{len(parts)}条" if len(parts) > _SHOWN else "") + "。"
    if plan.condition:
        text += _semantics_note(plan)
    value = _value_text(rows[0], plan) if len(rows) == 1 else None
    return make_answer(plan, text, rows, value=value)


def _count(plan: Plan, ctx: QAContext) -> Answer:
    rows = select_rows(ctx, plan)
    split = split_rows(rows, plan)
    what, scope = _what(plan), _scope(plan)
    if plan.count_of == "units":
        items = list(_uniq(r.table.unit for r in split.ok))
        text = f"{scope}共{len(items)}个单位设定了{what}" + (f"：{_join(items)}。" if items else "。")
        answer_units, answer_projects = items, None
    elif plan.count_of == "projects":
        items = list(_uniq(r.table.project for r in split.ok if r.table.kind == "project"))
        text = f"{scope}共{len(items)}个项目设定了{what}" + (f"：{_join(items)}。" if items else "。")
        answer_units, answer_projects = None, items
    else:
        items = [_row_brief(r, plan) for r in split.ok]
        text = f"{scope or '索引中'}共有{len(items)}条{what}" + (f"：{_join(items)}。" if items else "。")
        answer_units = answer_projects = None
    text += _unquantified_note(split, plan) + _semantics_note(plan)
    return make_answer(
        plan, text, split.ok, split, units=answer_units, projects=answer_projects, value=len(items)
    )


def _groups(plan: Plan) -> list[tuple[str, Callable[[TableGroup], bool]]]:
    f = plan.filters
    if plan.compare_by == "years" and len(f.years) >= 2:
        return [(f"{y}年", lambda t, y=y: t.year == y) for y in f.years]
    if plan.compare_by == "projects" and f.projects:
        return [(p, lambda t, p=p: t.project == p) for p in f.projects]
    if f.units:
        return [(u, lambda t, u=u: t.unit == u) for u in f.units]
    return []


def _compare(plan: Plan, ctx: QAContext) -> Answer:
    if plan.budget:
        return _budget(plan, ctx)
    groups = _groups(plan)
    # each side keeps its own filter; the sides are OR-ed together
    scope_plan = replace(plan, filters=replace(plan.filters, years=(), units=()) if groups else plan.filters)
    rows = select_rows(ctx, scope_plan)
    split = split_rows(rows, plan)
    label = _label(plan) or "指标"
    if not groups:  # compare the units that have such rows
        units = _uniq(r.table.unit for r in split.ok)
        groups = [(u, lambda t, u=u: t.unit == u) for u in units]
    parts, kept = [], []
    for name, pred in groups:
        mine = [r for r in split.ok if pred(r.table)]
        kept += mine
        shown = "、".join(_row_brief(r, plan) for r in mine[:4]) + (
            f"等{len(mine)}条" if len(mine) > 4 else ""
        )
        parts.append(f"{name}：{shown}" if mine else f"{name}：未设定{label}指标")
    text = f"{label}{_col(plan)}{_cond(plan)}对比——" + "；".join(parts) + "。"
    text += _unquantified_note(split, plan) + _semantics_note(plan)
    return make_answer(plan, text, kept, split)


# --------------------------------------------------------------------------- budget


_TO_WAN = {"元": 1e-4, "千元": 1e-1, "万元": 1.0, "万": 1.0, "亿元": 1e4, "亿": 1e4, None: 1.0, "": 1.0}


def _amount_satisfies(amount: float, cond) -> bool | None:
    """An amount in 万元 against a condition such as 超过100万元 (None: units cannot be compared)."""
    factor = _TO_WAN.get(cond.unit)
    if factor is None:
        return None
    if isinstance(cond.number, tuple):
        lo, hi = (n * factor for n in cond.number)
        return lo <= amount <= hi
    n = cond.number * factor
    return {
        "≥": amount >= n, ">": amount > n, "≤": amount <= n, "<": amount < n, "=": abs(amount - n) < 1e-9,
    }.get(cond.op)


def _budget_condition(plan: Plan, item: str, col: str, amounts, who) -> Answer:
    """Budget amounts filtered by a numeric condition (哪些项目的资金总额超过100万元)."""
    cond = plan.condition
    if _TO_WAN.get(cond.unit) is None:
        return make_answer(plan, f"条件“{cond.label()}”的单位无法与金额（万元）比较，未作筛选。", units=())
    hits = [(t, a) for t, a in amounts if a is not None and _amount_satisfies(a, cond)]
    misses = [(t, a) for t, a in amounts if a is not None and not _amount_satisfies(a, cond)]
    blank = [t for t, a in amounts if a is None]
    hits.sort(key=lambda x: -x[1])
    text = f"{_scope(plan)}{item}{col}{cond.label() if cond.unit else cond.label() + '万元'}的共{len(hits)}张表"
    text += ("：" + "、".join(f"{who(t)}{_wan(a)}" for t, a in hits) + "。") if hits else "。"
    if misses:
        text += f"其余{len(misses)}张表不满足（金额单位均为万元）。"
    if blank:
        text += f"另有{len(blank)}张表未填写{item}，未计入。"
    return make_answer(plan, text, units=[t.unit for t, _ in hits], projects=[t.project for t, _ in hits],
                       tables=[t for t, _ in hits], value=len(hits))  # fmt: skip


def _wan(v: float | None) -> str:
    return "未填写" if v is None else f"{v:.2f}".rstrip("0").rstrip(".") + "万元"


def _expense(t: Table, item: str, column: str) -> tuple[bool, float | None]:
    for e in t.expenses:
        if key(e.name) == key(item):
            return True, e.half_year if column == "half_year" else e.annual
    for label, amount in t.funding:
        if key(label) == key(item):
            return True, amount if column != "half_year" else None
    return False, None


def _budget_tables(plan: Plan, ctx: QAContext) -> list[TableGroup]:
    tables = _scope_tables(ctx.catalog, plan)
    f = plan.filters
    if plan.budget in ("expense", "funding", "expense_list"):
        if not plan.budget_item:
            tables = [t for t in tables if t.table.expenses]
        else:
            tables = [t for t in tables if _expense(t.table, plan.budget_item, plan.column)[0]]
    if not (f.projects or f.table or plan.aggregate):
        # a unit's own amounts are in its 部门整体 table when it has one
        with_dept = {t.unit for t in tables if t.kind == "department"}
        tables = [t for t in tables if t.kind == "department" or t.unit not in with_dept]
    return tables


def _budget(plan: Plan, ctx: QAContext) -> Answer:
    scope = _scope(plan)
    if plan.budget == "table_count":
        tables = _scope_tables(ctx.catalog, plan)
        kind = _KIND.get(plan.filters.table or "", "")
        names = [t.project or f"{t.unit}部门整体" for t in tables]
        text = f"{_scope(replace_table(plan))}共有{len(tables)}张{kind}绩效目标表" + (
            f"：{_join(names, 12)}。" if tables else "。"
        )
        return make_answer(plan, text, units=[t.unit for t in tables], projects=[t.project for t in tables],
                           tables=tables, value=len(tables))  # fmt: skip
    tables = _budget_tables(plan, ctx)
    if not tables:
        return make_answer(plan, f"{scope}没有找到相关的预算数据。", units=())
    col = "半年计划执行数" if plan.column == "half_year" else ""
    if plan.budget == "expense_list":
        parts = [
            f"{t.unit}：" + "、".join(f"{e.name}{_wan(e.annual)}" for e in t.table.expenses) for t in tables
        ]
        return make_answer(plan, "；".join(parts) + "。", units=[t.unit for t in tables], tables=tables)
    item = plan.budget_item if plan.budget in ("expense", "funding") else "资金总额"
    amounts = [
        (
            t,
            _expense(t.table, item or "", plan.column)[1]
            if plan.budget != "total"
            else t.table.total_budget_wan,
        )
        for t in tables
    ]

    def who(t: TableGroup) -> str:
        return t.unit + (f"“{t.project}”项目" if t.project else "") + (f"（{t.year}年）" if t.year else "")

    known = [(t, a) for t, a in amounts if a is not None]
    if plan.condition is not None and plan.intent != "compare":
        return _budget_condition(plan, item or "资金总额", col, amounts, who)
    if plan.intent == "compare" and len(known) >= 2:
        ranked = sorted(known, key=lambda x: -x[1])
        text = (
            f"{item}{col}对比："
            + "＞".join(f"{who(t)}{_wan(a)}" for t, a in ranked)
            + (f"，{who(ranked[0][0])}最高。" if ranked[0][1] != ranked[1][1] else "。")
        )
        value: float | None = ranked[0][1]
    elif plan.aggregate and len(amounts) > 1:
        value = round(sum(a for _, a in known), 2)
        text = f"{scope}{len(known)}张表的{item}{col}合计{_wan(value)}。"
        if len(known) < len(amounts):
            text += f"另有{len(amounts) - len(known)}张表未填写，未计入。"
    else:
        text = (
            "；".join(
                f"{who(t)}的{item}{col}为{_wan(a)}"
                if a is not None
                else f"{who(t)}的绩效目标表未填写{item}{col}"
                for t, a in amounts
            )
            + "。"
        )
        value = amounts[0][1] if len(amounts) == 1 else None
    return make_answer(plan, text, units=[t.unit for t, _ in amounts], projects=[t.project for t, _ in amounts],
                       tables=[t for t, _ in amounts], value=value)  # fmt: skip


def replace_table(plan: Plan) -> Plan:
    """The plan without its table-kind filter (the kind is said separately)."""
    return replace(plan, filters=replace(plan.filters, table=None))


# --------------------------------------------------------------------------- fallback


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)}


def lexical_rank(cat: Catalog, question: str, top_k: int = 5) -> list[RowGroup]:
    """Rows ranked by shared character bigrams with the question (no model)."""
    from search.concepts import strip_stopwords

    q = _bigrams("".join(strip_stopwords(key(question))))
    if not q:
        return []
    scored = []
    for i, rg in enumerate(cat.rows):
        r = rg.row
        text = key(f"{rg.table.unit}{rg.table.project}{r.level2}{r.task}{r.name}")
        s = len(q & _bigrams(text)) / (1 + 0.02 * len(text))
        if s > 0:
            scored.append((-s, i, rg))
    return [rg for _, _, rg in sorted(scored)[:top_k]]


def _hit_rows(ctx: QAContext, hits: Sequence[Any]) -> list[RowGroup]:
    """Map search hits (row_to_json-shaped) to catalog rows."""
    by_source: dict[tuple, RowGroup] = {}
    for rg in ctx.catalog.rows:
        for d, r in rg.copies:
            by_source[(d.file, r.source.page, r.source.line, key(r.name))] = rg
    out: list[RowGroup] = []
    for h in hits:
        h = h.to_json() if hasattr(h, "to_json") else h
        if not isinstance(h, dict) or not h.get("name"):
            continue
        src = h.get("source") or {}
        rg = by_source.get((h.get("doc"), src.get("page"), src.get("line"), key(h["name"])))
        if rg is not None and rg not in out:
            out.append(rg)
    return out


def _fallback(plan: Plan, ctx: QAContext) -> Answer:
    rows: list[RowGroup] = []
    if ctx.search is not None:
        try:
            rows = _hit_rows(ctx, ctx.search(plan.question, 5))
        except Exception as exc:  # search artefacts missing or stale: rank lexically
            log.warning("检索失败，本索引版本内改用字面匹配：%s", exc)
            ctx.search = None
    if not rows:
        rows = lexical_rank(ctx.catalog, plan.question)
    brief = "；".join(
        f"{r.table.unit}"
        + (f"“{r.table.project}”" if r.table.project else "")
        + f"的“{r.row.name}”（{r.row.value or '未填写'}）"
        for r in rows[:3]
    )
    text = FALLBACK_PREFIX + (brief + "。" if rows else "没有找到相关内容。")
    return make_answer(plan, text, rows)


# --------------------------------------------------------------------------- rendering


def _src_label(sources: Sequence[dict[str, Any]]) -> str:
    out = []
    for s in sources:
        out.append(SourceRef.from_json({**s, "file": s["doc"]}).label())  # the one citation format
    return "；".join(out)


def _row_line(i: int, r: dict[str, Any], sources: Sequence[dict[str, Any]], extra: str = "") -> str:
    kind = f"项目“{r['project']}”" if r["project"] else "部门整体"
    levels = "/".join(x for x in (r["function"], r["level1"], r["level2"], r["task"][:20]) if x)
    half = f"（半年 {r['half_year']}）" if r["half_year"] and r["half_year"] != r["value"] else ""
    value = r["value"] or "未填写"
    line = f"  {i}. {r['unit']}｜{r['year']}年｜{kind}｜{levels}｜{r['name']}｜{value}{half}"
    return line + (f"｜{extra}" if extra else "") + f"\n     来源：{_src_label(sources)}"


def render_answer(a: Answer) -> str:
    lines = [a.text]
    if a.rows:
        lines.append(f"\n依据（{len(a.rows)}条）：")
        lines += [_row_line(i, r, s) for i, (r, s) in enumerate(zip(a.rows, a.sources), 1)]
    if a.tables:
        lines.append(f"\n依据（{len(a.tables)}张表）：")
        for i, t in enumerate(a.tables, 1):
            kind = f"项目“{t['project']}”" if t["project"] else "部门整体"
            lines.append(f"  {i}. {t['unit']}｜{t['year']}年｜{kind}｜资金总额 {_wan(t['total_budget_wan'])}"
                         f"\n     来源：{_src_label(t['sources'])}")  # fmt: skip
    if a.near_misses:
        lines.append(f"\n未满足条件（{len(a.near_misses)}条）：")
        lines += [_row_line(i, r, r["sources"], r["reason"]) for i, r in enumerate(a.near_misses, 1)]
    if a.unquantified:
        lines.append(f"\n未量化（{len(a.unquantified)}条）：")
        lines += [_row_line(i, r, r["sources"], r["reason"]) for i, r in enumerate(a.unquantified, 1)]
    return "\n".join(lines)


__all__ = [
    "FALLBACK_PREFIX",
    "ROW_KEYS",
    "Answer",
    "Catalog",
    "QAContext",
    "RowGroup",
    "Split",
    "TableGroup",
    "execute",
    "lexical_rank",
    "make_answer",
    "render_answer",
    "select_rows",
    "split_rows",
]
