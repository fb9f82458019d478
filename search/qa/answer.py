"""Execute a :class:`~search.qa.question.Plan` over ALL indicator rows and tables.

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
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from indexer.model import Document, IndicatorRow, SourceRef, Table, Target, row_to_json, table_to_json
from indexer.normalize import key
from indexer.values.compare import amount_satisfies, semantics_note
from indexer.values.units import UNIT_FAMILIES
from indexer.vocab import level1_category
from search.qa.concepts import CONCEPTS, ConceptMatcher, lexical_match, row_in_categories
from search.qa.question import (
    Plan,
    Verdict,
    Vocabulary,
    bare,
    build_vocabulary,
    check_target,
    describe_plan,
    parse_question,
)

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

    def sources(self, item: str | None = None) -> list[dict[str, Any]]:
        """Where the table is, or (``item``: 资金总额 or an expense line) the line
        holding that amount in every copy."""
        out = []
        for d, t in self.copies:
            src = t.source
            if item == "资金总额" and t.total_source is not None:
                src = t.total_source
            elif item:
                line = next((e for e in t.expenses if key(e.name) == key(item)), None)
                if line is not None:
                    src = line.source
            out.append({"doc": d.file, **src.to_json()})
        return out

    def to_json(self, item: str | None = None) -> dict[str, Any]:
        sources = self.sources(item)
        return {**table_to_json(self.doc, self.table), "item": item or "", "sources": sources,
                "source": sources[0] if sources else None}  # fmt: skip


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
        self._name_keys: list[str] | None = None
        self._by_copy: dict[tuple, list[int]] | None = None

    def name_keys(self) -> list[str]:
        if self._name_keys is None:
            self._name_keys = list(dict.fromkeys(r.name_key for r in self.rows if r.name_key))
        return self._name_keys

    def groups_of(self, rows: Iterable[dict[str, Any]]) -> list[RowGroup]:
        """The row groups holding ``rows`` (``row_to_json`` objects of any copy, e.g. read back
        from a search backend), each once, in catalog order; rows of no group are skipped."""
        if self._by_copy is None:
            by_copy: dict[tuple, list[int]] = {}
            for i, rg in enumerate(self.rows):
                for d, r in rg.copies:
                    ref = _copy_ref(d.file, rg.table.kind, rg.table.project, r.function, r.name, r.value,
                                    r.half_year, r.source.to_json())
                    by_copy.setdefault(ref, []).append(i)
            self._by_copy = by_copy
        found: set[int] = set()
        for j in rows:
            found.update(self._by_copy.get(_copy_ref(j["doc"], j["table"], j["project"], j["function"], j["name"],
                                                     j["value"], j["half_year"], j["source"]), ()))
        return [self.rows[i] for i in sorted(found)]


def _copy_ref(doc: str, kind: str, project: str, function: str, name: str, value: str, half_year: str,
              source: dict[str, Any]) -> tuple:
    """Identity of one copy of a row: its file, table, texts and place in the file."""
    return (doc, kind, key(project), key(function), key(name), key(value), key(half_year),
            json.dumps(source, ensure_ascii=False, sort_keys=True))


@dataclass
class QAContext:
    generation: str | None
    catalog: Catalog
    matcher: ConceptMatcher
    search: Callable[[str, int], list[Any]] | None = None  # Engine.search when available
    # the backend's candidate rows of a numeric-condition plan (Engine.condition_candidates:
    # (plan, name keys) -> row objects | None); None: every question runs over all rows here
    pushdown: Callable[[Plan, Sequence[str]], list[dict[str, Any]] | None] | None = None

    @classmethod
    def build(
        cls,
        docs: Sequence[Document],
        generation: str | None = None,
        encoder: Encoder | Callable[[], Encoder | None] | None = None,
        search: Callable[[str, int], list[Any]] | None = None,
        query_threads: int = 1,
        pushdown: Callable[[Plan, Sequence[str]], list[dict[str, Any]] | None] | None = None,
    ) -> QAContext:
        catalog = Catalog(docs)
        return cls(generation, catalog, ConceptMatcher(catalog.name_keys(), encoder, query_threads=query_threads),
                   search, pushdown)

    @classmethod
    def for_engine(cls, engine: Any, docs: Sequence[Document], generation: str | None,
                   previous: QAContext | None = None) -> QAContext:  # fmt: skip
        """Context for ``Engine.ask``: the encoder loads on first semantic use and is
        kept across generations (none when ``engine.config.qa_semantic`` is off); the
        fallback uses ``Engine.search``; condition questions read their candidate rows from
        the backend when it can (``Engine.pushdown``)."""
        config = engine.config
        encoder: Any = previous.matcher.loaded_encoder() if previous is not None else None
        if encoder is None and config.qa_semantic:
            encoder = functools.partial(load_encoder, config.model)
        search = functools.partial(_engine_search, engine, config.qa_query_threads)
        pushdown = getattr(engine, "pushdown", lambda: None)()
        return cls.build(docs, generation, encoder=encoder, search=search, query_threads=config.qa_query_threads,
                         pushdown=pushdown)

    def parse(self, question: str) -> Plan:
        return parse_question(question, self.catalog.vocab)

    def ask(self, question: str) -> Answer:
        return execute(self.parse(question), self)


def load_encoder(model: str | None) -> Encoder | None:
    """The embedding model ``model`` (None: the default) for concept matching, shared
    with search; None (lexical matching only) when it cannot be loaded."""
    try:
        from search.retrieval.artifacts import get_encoder, resolve_model_id

        return get_encoder(resolve_model_id(model))
    except Exception as exc:  # no model available: degrade, never fail the question
        log.warning("无法加载嵌入模型，问答只使用字面匹配：%s", exc)
        return None


def _engine_search(engine: Any, threads: int, question: str, top_k: int) -> list[Any]:
    from search.qa.concepts import query_threads

    with query_threads(threads):  # one short query: see query_threads
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
            "understood": self.plan_text,
        }

    @property
    def plan_text(self) -> str:
        """The plan in words (``理解为：…``)."""
        return describe_plan(self.plan)

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
    if f.level1 and not any(level1_category(r.level1) == w or key(r.level1).startswith(w) for w in f.level1.split("|")):
        return False
    if f.level2 and not key(r.level2).startswith(f.level2):
        return False
    return not (f.function and not key(r.function).startswith(key(f.function)))


def _concept_ok(rg: RowGroup, plan: Plan, names: dict[str, str] | None) -> bool:
    if names is None:
        return True
    if rg.name_key in names:
        return True
    c = None if plan.concept_free else CONCEPTS.get(plan.concept or "")
    return bool(c and row_in_categories(rg.row.level1, rg.row.level2, c.categories))


def select_rows(ctx: QAContext, plan: Plan, tables: Iterable[TableGroup] | None = None) -> list[RowGroup]:
    """Rows in scope (filters, levels) that match the plan's concept.

    Lexical matching first; the embedding model is asked only when lexical
    matching leaves a gap (no row in scope), so rows-only questions never load it."""
    scope = {id(t) for t in (tables if tables is not None else _scope_tables(ctx.catalog, plan))}
    pushed = _pushed_rows(ctx, plan)
    if pushed is not None:  # the backend's candidates: a superset of the lexical rows below
        found = _lexical_rows(plan, [rg for rg in pushed if id(rg.table) in scope and _level_ok(rg, plan)
                                     and _also_ok(rg, plan)])  # fmt: skip
        if found:
            return found
    scoped = [rg for rg in ctx.catalog.rows if id(rg.table) in scope and _level_ok(rg, plan) and _also_ok(rg, plan)]
    if not plan.concept:
        return scoped
    found = _lexical_rows(plan, scoped)
    if found:
        return found
    names = ctx.matcher.match(plan.concept, plan.concept_free)  # a gap: semantic matching
    return [rg for rg in scoped if _concept_ok(rg, plan, names)]


def _lexical_rows(plan: Plan, scoped: Sequence[RowGroup]) -> list[RowGroup]:
    """The rows of ``scoped`` whose name matches the concept by words, or whose level its categories."""
    lexical = {rg.name_key: "lexical" for rg in scoped if lexical_match(plan.concept, plan.concept_free, rg.name_key)
               or lexical_match(plan.concept, plan.concept_free, bare(rg.name_key))}  # fmt: skip
    return [rg for rg in scoped if _concept_ok(rg, plan, lexical)]


def _pushed_rows(ctx: QAContext, plan: Plan) -> list[RowGroup] | None:
    """A numeric-condition plan's candidate rows read from the search backend (rows in scope
    matching the concept, every verdict), None when the backend does not push it down.
    Whatever it returns is filtered by the same rules as the rows of the catalog."""
    if ctx.pushdown is None or plan.condition is None or not plan.concept:
        return None
    rows = ctx.pushdown(plan, ctx.catalog.name_keys())
    return None if rows is None else ctx.catalog.groups_of(rows)


def _also_ok(rg: RowGroup, plan: Plan) -> bool:
    """Every further word of the question is in the row's name (or its project's)."""
    where = bare(rg.name_key) + key(rg.table.project)
    return all(bare(a) in where for a in plan.also)


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
    item: str | None = None,
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
        tables=tuple(t.to_json(item) for t in tables),
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
        "rank": _rank,
        "difference": _difference,
        "functions": _functions,
        "goals": _goals,
        "not_in_index": _not_in_index,
    }.get(plan.intent, _fallback)
    return handler(plan, ctx)


# --------------------------------------------------------------------------- wording

_KIND = {"department": "部门整体", "project": "项目支出"}


def _join(items: Sequence[str], limit: int | None = None) -> str:
    """Every item, never a silent cut (long row lists are collapsed by the caller)."""
    return "、".join(items)


_LONG = 20  # more rows than this: the sentence gives the count, the table lists them all


def _rows_sentence(names: Sequence[str]) -> str:
    if len(names) <= _LONG:
        return "：" + "、".join(names)
    return f"，全部{len(names)}条列在下方依据中"


def _label(plan: Plan) -> str:
    """What is asked about: the concept, else the level, else 指标."""
    if plan.concept:
        return plan.concept
    f = plan.filters
    if f.level2:
        return f"{f.level2}指标"
    if f.level1:
        return "、".join(f"{w}指标" for w in f.level1.split("|"))
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
    if f.function:
        parts.append(f"{f.function}下")
    return "".join(parts)


def _semantics_note(plan: Plan) -> str:
    if plan.condition is None:
        return ""
    return semantics_note(plan.condition, plan.column)


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
        named = {k for t in tables if lexical_match(plan.concept, plan.concept_free, k := key(t.project))}
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
        f"{_subject(plan)}共有{len(split.ok)}条{what}{_rows_sentence(names)}。"
        if split.ok
        else (f"{_subject(plan)}没有{what}。")
    )
    text += _unquantified_note(split, plan) + _semantics_note(plan)
    return make_answer(plan, text, split.ok, split)


def _counted_in(unit: str | None, wanted: str) -> bool:
    if wanted == "person":
        return UNIT_FAMILIES.get(unit or "", ("",))[0] == "person"
    return (unit or "") == wanted


def _unit_value(plan: Plan, ctx: QAContext) -> Answer:
    rows = select_rows(ctx, plan)
    if plan.want_family:  # 培训多少人 / 几次: the value counted in that unit
        counted = [r for r in rows if _counted_in(r.target(plan.column).unit, plan.want_family)]
        rows = counted or rows
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
    text = "；".join(parts) + "。"
    if plan.condition:
        text += _semantics_note(plan)
    values = {_value_text(r, plan) for r in rows}
    value = values.pop() if len(values) == 1 else None  # one row, or several with the same value
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
        text = f"{scope or '索引中'}共有{len(items)}条{what}" + (f"{_rows_sentence(items)}。" if items else "。")
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
        shown = "、".join(_row_brief(r, plan) for r in mine)
        parts.append(f"{name}：{shown}" if mine else f"{name}：未设定{label}指标")
    text = f"{label}{_col(plan)}{_cond(plan)}对比——" + "；".join(parts) + "。"
    text += _unquantified_note(split, plan) + _semantics_note(plan)
    return make_answer(plan, text, kept, split)


# --------------------------------------------------------------------------- budget


def _amount_satisfies(amount: float, cond) -> bool | None:
    return amount_satisfies(amount, cond)


def _budget_condition(plan: Plan, item: str, col: str, amounts, who) -> Answer:
    """Budget amounts filtered by a numeric condition (哪些项目的资金总额超过100万元)."""
    cond = plan.condition
    if amount_satisfies(0.0, cond) is None:
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
                       tables=[t for t, _ in hits], value=len(hits), item=item)  # fmt: skip


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
    if not (f.projects or f.table):
        # a unit's own amounts are in its 部门整体 table when it has one (its projects are part of it)
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
    elif plan.aggregation == "avg" and known:
        value = round(sum(a for _, a in known) / len(known), 2)
        text = f"{scope}{len(known)}张表的{item}{col}平均为{_wan(value)}（合计{_wan(round(sum(a for _, a in known), 2))}）。"
        if len(known) < len(amounts):
            text += f"另有{len(amounts) - len(known)}张表未填写，未计入。"
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
                       tables=[t for t, _ in amounts], value=value, item=item)  # fmt: skip


def replace_table(plan: Plan) -> Plan:
    """The plan without its table-kind filter (the kind is said separately)."""
    return replace(plan, filters=replace(plan.filters, table=None))


# --------------------------------------------------------------------------- rank, difference


def _who(t: TableGroup) -> str:
    return t.unit + (f"“{t.project}”项目" if t.project else "") + (f"（{t.year}年）" if t.year else "")


def _table_amount(t: TableGroup, plan: Plan) -> float | None:
    if plan.budget in ("expense", "funding") and plan.budget_item:
        return _expense(t.table, plan.budget_item, plan.column)[1]
    return t.table.total_budget_wan


def _unit_amounts(plan: Plan, ctx: QAContext) -> list[tuple[str, float | None, list[TableGroup]]]:
    """Per unit: its 部门整体 amount, else the sum over its project tables."""
    out = []
    tables = _scope_tables(ctx.catalog, plan)
    for unit in _uniq(t.unit for t in tables):
        mine = [t for t in tables if t.unit == unit]
        dept = [t for t in mine if t.kind == "department"]
        use = dept or mine
        vals = [a for a in (_table_amount(t, plan) for t in use) if a is not None]
        out.append((unit, round(sum(vals), 2) if vals else None, use))
    return out


def _amount_item(plan: Plan) -> str:
    return plan.budget_item if plan.budget in ("expense", "funding") and plan.budget_item else "资金总额"


def _pick(ranked: list[tuple[Any, float]], plan: Plan) -> list[tuple[Any, float]]:
    """The first ``top_k`` entries (``nth``: the k-th one), ties included."""
    k = max(1, plan.top_k)
    if not ranked:
        return []
    if plan.aggregation == "nth":
        if k > len(ranked):
            return []
        return [x for x in ranked if x[1] == ranked[k - 1][1]]
    cut = ranked[min(k, len(ranked)) - 1][1]
    return [x for i, x in enumerate(ranked) if i < k or x[1] == cut]


def _order_word(plan: Plan) -> str:
    if plan.aggregation == "nth":
        return f"排第{plan.top_k}"
    if plan.top_k > 1:
        return ("最高的前" if plan.aggregation != "min" else "最低的前") + str(plan.top_k)
    return {"max": "最高", "min": "最低", "top": "最高"}.get(plan.aggregation, "")


def _rank_project_counts(plan: Plan, ctx: QAContext) -> Answer:
    tables = [t for t in _scope_tables(ctx.catalog, replace(plan, filters=replace(plan.filters, table=None)))
              if t.kind == "project"]  # fmt: skip
    counts = [(u, sum(1 for t in tables if t.unit == u)) for u in _uniq(t.unit for t in tables)]
    desc = plan.aggregation != "min"
    ranked = sorted(counts, key=lambda x: -x[1] if desc else x[1])
    picked = _pick([(u, float(n)) for u, n in ranked], plan)
    if not picked:
        return make_answer(plan, f"{_scope(plan) or '索引中'}没有项目支出表。", units=())
    head = "、".join(f"{u}（{int(n)}个项目）" for u, n in picked)
    text = f"项目支出表{_order_word(plan)}的单位是{head}。各单位项目数：" + "、".join(f"{u}{n}个" for u, n in ranked) + "。"
    mine = [t for t in tables if t.unit in {u for u, _ in picked}]
    return make_answer(plan, text, units=[u for u, _ in picked], projects=(), tables=mine, value=int(picked[0][1]))


def _rank_row_counts(plan: Plan, ctx: QAContext) -> Answer:
    rows = select_rows(ctx, plan)
    over = plan.rank_over if plan.rank_over in ("units", "projects") else "units"
    keyf = (lambda rg: rg.table.unit) if over == "units" else (lambda rg: rg.table.project)
    label = _label(plan) or "指标"
    counts = [(k, sum(1 for r in rows if keyf(r) == k)) for k in _uniq(keyf(r) for r in rows)]
    desc = plan.aggregation != "min"
    ranked = sorted(counts, key=lambda x: -x[1] if desc else x[1])
    picked = _pick([(k, float(n)) for k, n in ranked], plan)
    if not picked:
        return make_answer(plan, _not_found(plan, _scope(plan)), units=())
    noun = "单位" if over == "units" else "项目"
    word = "最多" if desc else "最少"
    head = "、".join(f"{k}（{int(n)}条）" for k, n in picked)
    text = f"{_scope(plan)}{label}指标{word}的{noun}是{head}。各{noun}条数：" + "、".join(f"{k}{n}条" for k, n in ranked) + "。"
    names = {k for k, _ in picked}
    support = [r for r in rows if keyf(r) in names]
    return make_answer(plan, text, support, units=[k for k, _ in picked] if over == "units" else None,
                       projects=[k for k, _ in picked] if over == "projects" else None,
                       value=int(picked[0][1]))  # fmt: skip


def _rank(plan: Plan, ctx: QAContext) -> Answer:
    if plan.rank_by == "projects":
        return _rank_project_counts(plan, ctx)
    if plan.rank_by == "rows":
        return _rank_row_counts(plan, ctx)
    if plan.budget:
        return _rank_budget(plan, ctx)
    return _rank_rows(plan, ctx)


def _rank_budget(plan: Plan, ctx: QAContext) -> Answer:
    item, scope = _amount_item(plan), _scope(plan)
    desc = plan.aggregation != "min"
    col = "半年计划执行数" if plan.column == "half_year" else ""
    if plan.rank_over == "projects":
        tables = [t for t in _scope_tables(ctx.catalog, plan) if t.kind == "project"]
        entries = [(t, a) for t in tables if (a := _table_amount(t, plan)) is not None]
        ranked = sorted(entries, key=lambda x: -x[1] if desc else x[1])
        picked = _pick(ranked, plan)
        if not picked:
            return make_answer(plan, f"{scope}没有填写{item}的项目支出表。", units=(), projects=())
        head = "、".join(f"“{t.project}”（{t.unit}，{_wan(a)}）" for t, a in picked)
        text = f"{scope}{item}{col}{_order_word(plan)}的项目是{head}。"
        text += f"全部{len(ranked)}个项目按{item}排序：" + "、".join(f"{t.project}{_wan(a)}" for t, a in ranked) + "。"
        tabs = [t for t, _ in picked]
        return make_answer(plan, text, units=[t.unit for t in tabs], projects=[t.project for t in tabs],
                           tables=tabs, value=picked[0][1], item=item)  # fmt: skip
    per_unit = [(u, a, ts) for u, a, ts in _unit_amounts(plan, ctx) if a is not None]
    ranked_u = sorted(per_unit, key=lambda x: -x[1] if desc else x[1])
    picked_u = _pick([((u, ts), a) for u, a, ts in ranked_u], plan)
    if not picked_u:
        return make_answer(plan, f"{scope}没有填写{item}的单位。", units=())
    head = "、".join(f"{u}（{_wan(a)}）" for (u, _), a in picked_u)
    text = f"{scope}{item}{col}{_order_word(plan)}的单位是{head}。"
    text += f"全部{len(ranked_u)}个单位按{item}排序：" + "、".join(f"{u}{_wan(a)}" for u, a, _ in ranked_u) + "。"
    text += "（单位有部门整体表时取部门整体表的金额，否则为其项目支出表合计。）"
    tabs = [t for (_, ts), _ in picked_u for t in ts]
    return make_answer(plan, text, units=[u for (u, _), _ in picked_u], projects=(), tables=tabs,
                       value=picked_u[0][1], item=item)  # fmt: skip


def _number(rg: RowGroup, plan: Plan, high: bool) -> tuple[str, float] | None:
    """(unit family, value in the family's base unit) of a numeric target."""
    t = rg.target(plan.column)
    if not t.is_numeric:
        return None
    fam = UNIT_FAMILIES.get(t.unit or "")
    if fam is None:
        return None
    n = t.number
    v = (n[1] if high else n[0]) if isinstance(n, tuple) else float(n)  # type: ignore[arg-type]
    return fam[0], v * fam[1]


def _rank_rows(plan: Plan, ctx: QAContext) -> Answer:
    rows = select_rows(ctx, plan)
    label, scope = _label(plan) or "指标", _scope(plan)
    desc = plan.aggregation != "min"
    nums = [(rg, x) for rg in rows if (x := _number(rg, plan, desc)) is not None]
    if not nums:
        return make_answer(plan, _not_found(plan, scope) if not rows else f"{scope}的{label}指标都没有可比较的数值。",
                           units=())  # fmt: skip
    fams = [x[0] for _, x in nums]
    family = max(set(fams), key=fams.count)
    left_out = len(rows) - sum(1 for f in fams if f == family)
    nums = [(rg, v) for rg, (f, v) in nums if f == family]
    base = {"percent": "%", "money": "元", "person": "人", "person_time": "人次", "day": "天"}[family]
    if family == "money":
        nums = [(rg, v / 1e4) for rg, v in nums]
        base = "万元"

    def fmt(v: float) -> str:
        return f"{v:.2f}".rstrip("0").rstrip(".") + base

    over = plan.rank_over or "indicators"
    if over in ("units", "projects"):
        keyf = (lambda rg: rg.table.unit) if over == "units" else (lambda rg: rg.table.project or "")
        best: dict[str, tuple[RowGroup, float]] = {}
        for rg, v in nums:
            k = keyf(rg)
            if over == "projects" and not k:
                continue
            if k not in best or (v > best[k][1] if desc else v < best[k][1]):
                best[k] = (rg, v)
        ranked = sorted(best.items(), key=lambda x: -x[1][1] if desc else x[1][1])
        picked = _pick([(k, rv[1]) for k, rv in ranked], plan)
        names = {k for k, _ in picked}
        noun = "单位" if over == "units" else "项目"
        head = "、".join(f"{k}（“{best[k][0].row.name}”{_value_text(best[k][0], plan)}）" for k, _ in picked)
        text = f"{scope}{label}{_col(plan)}目标{_order_word(plan)}的{noun}是{head}。"
        text += f"全部{len(ranked)}个{noun}（各取{'最高' if desc else '最低'}值）：" + "、".join(
            f"{k}{fmt(rv[1])}" for k, rv in ranked) + "。"  # fmt: skip
        support = [best[k][0] for k, _ in picked]
        units = [rg.table.unit for rg in support]
        projects = [rg.table.project for rg in support] if over == "projects" else None
        if over == "units":
            units = [k for k, _ in picked if k in names]
    else:
        ranked_r = sorted(nums, key=lambda x: -x[1] if desc else x[1])
        picked_r = _pick(ranked_r, plan)
        support = [rg for rg, _ in picked_r]
        head = "、".join(f"{rg.table.unit}{'“' + rg.table.project + '”' if rg.table.project else ''}的“{rg.row.name}”"
                        f"（{_value_text(rg, plan)}）" for rg in support)  # fmt: skip
        text = f"{scope}{label}{_col(plan)}目标{_order_word(plan)}的指标是{head}。"
        units, projects = [rg.table.unit for rg in support], None
    if left_out:
        text += f"另有{left_out}条{label}指标为定性、未填写或单位不同（如元/学年），未参与排序。"
    value = picked[0][1] if over in ("units", "projects") else picked_r[0][1]
    return make_answer(plan, text, support, units=units, projects=projects, value=round(value, 4))


def _side_groups(plan: Plan) -> list[tuple[str, Plan]]:
    f = plan.filters
    if plan.compare_by == "years" and len(f.years) >= 2:
        return [(f"{y}年", replace(plan, filters=replace(f, years=(y,)))) for y in f.years]
    sides: list[tuple[str, Plan]] = [(u, replace(plan, filters=replace(f, units=(u,), projects=()))) for u in f.units]
    sides += [(p, replace(plan, filters=replace(f, projects=(p,), units=()))) for p in f.projects]
    return sides


def _difference(plan: Plan, ctx: QAContext) -> Answer:
    sides = _side_groups(plan)[:2]
    if len(sides) < 2:
        return _fallback(plan, ctx)
    if plan.budget or not plan.concept:
        item = _amount_item(plan)
        vals = []
        for name, sp in sides:
            if sp.filters.projects:
                ts = [t for t in _scope_tables(ctx.catalog, sp) if t.kind == "project"]
                amounts = [a for t in ts if (a := _table_amount(t, plan)) is not None]
                vals.append((name, round(sum(amounts), 2) if amounts else None, ts))
            else:
                got = _unit_amounts(sp, ctx)
                vals.append((name, got[0][1], got[0][2]) if got else (name, None, []))
        (a_name, a, a_t), (b_name, b, b_t) = vals
        if a is None or b is None:
            missing = a_name if a is None else b_name
            return make_answer(plan, f"{missing}没有填写{item}，无法计算差额。", tables=a_t + b_t, item=item)

        def yr(ts: list[TableGroup]) -> str:
            ys = _uniq(str(t.year) for t in ts if t.year)
            return f"（{'、'.join(ys)}年）" if ys else ""

        d = round(a - b, 2)
        rel = "多" if d > 0 else "少" if d < 0 else "相同，差"
        text = f"{a_name}{yr(a_t)}{item}{_wan(a)}，{b_name}{yr(b_t)}{item}{_wan(b)}，"
        if plan.aggregation == "abs":  # 相差多少: no direction asked
            d = abs(d)
            text += f"两者相差{_wan(d)}（{a_name if a >= b else b_name}较多）。"
        else:
            text += f"{a_name}比{b_name}{rel}{_wan(abs(d))}。"
        return make_answer(plan, text, units=[t.unit for t in a_t + b_t], projects=(), tables=a_t + b_t,
                           value=d, item=item)  # fmt: skip
    # indicator values
    picked = []
    for name, sp in sides:
        rows = [r for r in select_rows(ctx, sp) if _number(r, plan, True) is not None]
        if len(rows) != 1:
            return make_answer(plan, f"{name}的“{plan.concept}”指标有{len(rows)}条可比较的数值，无法直接求差；"
                               f"请指明具体指标。", rows)  # fmt: skip
        picked.append((name, rows[0]))
    (a_name, ra), (b_name, rb) = picked
    fa, va = _number(ra, plan, True)  # type: ignore[misc]
    fb, vb = _number(rb, plan, True)  # type: ignore[misc]
    if fa != fb:
        return make_answer(plan, f"{a_name}与{b_name}的指标单位不同，无法求差。", [ra, rb])
    d = round(va - vb, 4)
    text = (f"{a_name}的“{ra.row.name}”为{_value_text(ra, plan)}，{b_name}的“{rb.row.name}”为{_value_text(rb, plan)}，"
            f"相差{d:g}{ra.target(plan.column).unit or ''}。")  # fmt: skip
    return make_answer(plan, text, [ra, rb], value=d)


# --------------------------------------------------------------------------- functions, unknown names


def _goals(plan: Plan, ctx: QAContext) -> Answer:
    """年度目标 / 中长期目标 as written in each table in scope."""
    tables = _scope_tables(ctx.catalog, plan)
    if not (plan.filters.projects or plan.filters.table):
        with_dept = {t.unit for t in tables if t.kind == "department"}
        tables = [t for t in tables if t.kind == "department" or t.unit not in with_dept]
    parts, used = [], []
    for t in tables:
        goals = [(k, v) for k, v in t.table.goals if not plan.aggregation or plan.aggregation in k]
        if goals:
            used.append(t)
            parts += [f"{_who(t)}的{k}：{v.strip()}" for k, v in goals]
    if not parts:
        what = f"{plan.aggregation}目标" if plan.aggregation else "绩效目标"
        return make_answer(plan, f"{_scope(plan) or '索引中'}没有填写{what}。", units=())
    return make_answer(plan, "\n".join(parts), units=[t.unit for t in used],
                       projects=[t.project for t in used], tables=used)  # fmt: skip


def _duties(plan: Plan, ctx: QAContext, tables: list[TableGroup]) -> Answer:
    """Units without 核心职能 columns: their 单位主要职能 / 部门职能概述 text."""
    with_duties = [t for t in tables if t.table.duties]
    if not with_duties:
        return make_answer(plan, f"{_scope(plan) or '索引中'}没有按核心职能填报的指标，也没有填写单位主要职能。",
                           units=(), value=0)  # fmt: skip
    text = "\n".join(f"{t.unit}的单位主要职能（原文）：{t.table.duties.strip()}" for t in with_duties)
    return make_answer(plan, text, units=[t.unit for t in with_duties], tables=with_duties)


def _functions(plan: Plan, ctx: QAContext) -> Answer:
    scope_tables = _scope_tables(ctx.catalog, plan)
    rows = [rg for rg in ctx.catalog.rows if rg.row.function and id(rg.table) in {id(t) for t in scope_tables}]
    if not rows:
        return _duties(plan, ctx, scope_tables)
    parts, total = [], 0
    for unit in _uniq(rg.table.unit for rg in rows):
        funcs = list(_uniq(rg.row.function for rg in rows if rg.table.unit == unit))
        total += len(funcs)
        parts.append(f"{unit}共{len(funcs)}项核心职能：" + "；".join(funcs))
    text = "。".join(parts) + "。"
    support = [next(rg for rg in rows if rg.row.function == f) for f in _uniq(rg.row.function for rg in rows)]
    return make_answer(plan, text, support, value=total)


def _close_units(ctx: QAContext, name: str, k: int = 3) -> list[str]:
    import difflib

    units = list(ctx.catalog.vocab.unit_region)
    scored = sorted(units, key=lambda u: -difflib.SequenceMatcher(None, key(u), name).ratio())
    return scored[:k]


def _not_in_index(plan: Plan, ctx: QAContext) -> Answer:
    names = "、".join(f"“{n}”" for n in plan.unknown)
    close = _close_units(ctx, plan.unknown[0])
    text = f"索引中没有{names}的绩效目标表，无法回答。"
    if close:
        text += "相近的单位有：" + "、".join(close) + "，可改问这些单位。"
    return make_answer(plan, text, units=(), projects=())


# --------------------------------------------------------------------------- fallback


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)}


def lexical_rank(cat: Catalog, question: str, top_k: int = 5) -> list[RowGroup]:
    """Rows ranked by shared character bigrams with the question (no model)."""
    from search.qa.concepts import strip_stopwords

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
    text += _understood_note(plan)
    return make_answer(plan, text, rows)


def _understood_note(plan: Plan) -> str:
    """What the parser did and did not understand (fallback answers)."""
    got = describe_plan(plan).removeprefix("理解为：")
    missing = plan.note or "问题类型"
    return f"（以上为检索结果，不是结构化答案。已识别：{got}；未能识别：{missing}。）"


# --------------------------------------------------------------------------- rendering


def _src_label(sources: Sequence[dict[str, Any]]) -> str:
    out = []
    for s in sources:
        out.append(SourceRef.from_json({**s, "file": s["doc"]}).label())  # the one citation format
    return "；".join(out)


def _row_line(i: int, r: dict[str, Any], sources: Sequence[dict[str, Any]], extra: str = "",
              half_year: bool = False) -> str:  # fmt: skip
    kind = f"项目“{r['project']}”" if r["project"] else "部门整体"
    levels = "/".join(x for x in (r["function"], r["level1"], r["level2"], r["task"][:20]) if x)
    if half_year:  # a half-year answer shows the half-year value it used
        value = f"半年 {r['half_year'] or '未填写'}（全年 {r['value'] or '未填写'}）"
    else:
        half = f"（半年 {r['half_year']}）" if r["half_year"] and r["half_year"] != r["value"] else ""
        value = (r["value"] or "未填写") + half
    head = "｜".join(x for x in (r["unit"] or "单位未识别", _year_label(r["year"]), kind, levels, r["name"], value) if x)
    line = f"  {i}. {head}"
    return line + (f"｜{extra}" if extra else "") + f"\n     来源：{_src_label(sources)}"


def _year_label(year: int | None) -> str:
    return f"{year}年" if year else ""


def _table_amount_json(t: dict[str, Any], half_year: bool) -> str:
    item = t.get("item") or "资金总额"
    if item == "资金总额":
        return f"资金总额 {_wan(t['total_budget_wan'])}"
    for e in t.get("expenses", []):
        if key(e["name"]) == key(item):
            v = e["half_year"] if half_year else e["annual"]
            return f"{e['name']} {_wan(v)}" + ("（半年计划执行数）" if half_year else "")
    return item


def render_answer(a: Answer) -> str:
    half = a.plan.column == "half_year"
    lines = [a.plan_text, a.text]
    if a.rows:
        lines.append(f"\n依据（{len(a.rows)}条）：")
        lines += [_row_line(i, r, s, half_year=half) for i, (r, s) in enumerate(zip(a.rows, a.sources), 1)]
    if a.tables:
        lines.append(f"\n依据（{len(a.tables)}张表）：")
        for i, t in enumerate(a.tables, 1):
            kind = f"项目“{t['project']}”" if t["project"] else "部门整体"
            head = "｜".join(x for x in (t["unit"] or "单位未识别", _year_label(t["year"]), kind) if x)
            lines.append(f"  {i}. {head}｜{_table_amount_json(t, half)}"
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
