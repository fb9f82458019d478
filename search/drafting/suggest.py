"""Indicator suggestions for drafting a 绩效目标表.

``suggest(engine, text, ...)`` takes a project name, a goal text or a draft
indicator and returns phrasing clusters grouped by 一级/二级 指标::

    {"groups": [{"level1": "产出指标", "level2": "数量指标", "suggestions": [
        {"name": ..., "variants": [...], "units": 3, "tables": 4,
         "values": [{"value": "≥95%", "count": 3}, ...],
         "examples": [row objects as in ``perfsearch rows --json``]}]}]}

How candidates are ranked (relevance, not frequency alone):

1. One hybrid retrieval (``Engine.search``: BM25 + dense, RRF) over row chunks
   and table section chunks (goal texts; their passages include the project
   name and unit).  Every hit gets a rank weight ``1 / (1 + (rank-1)/RANK_SCALE)``.
2. Row relevance ``R(row)`` is the weight of the row's own hit.  Table relevance
   ``T(table)`` is the best of: its section (goal) hits, and the mean of its three
   best row hits.  A table whose project/goal is close to the input thereby
   contributes *all* its indicators, including ones the query does not mention.
3. Row score ``S = R + TABLE_WEIGHT * T`` (``T`` halved for 部门整体 tables,
   whose goals span many duties; no ``T`` for their standard 决策/过程 rows); rows are grouped by canonical
   一级/二级 and clustered with ``search.drafting.cluster.cluster_rows`` (near-identical
   phrasings across units).  Cluster score = best member score
   + ``SUPPORT_WEIGHT`` * sum of the other members' best score per table
   (agreement between several relevant tables counts, unrelated popularity does not).
4. Clusters are taken best first (at most ``per_group`` per group, ``top_k``
   in total) and shown in the standard group order (产出: 数量/质量/时效, 成本,
   效益, 满意度, then 决策/过程/履职).

Copies of one table (the same table as txt, PDF and xlsx) are deduplicated:
tables are identified by (unit, year, kind, project); one representative per
identity is used (text before xlsx before PDF), and hits on a copy count for
the representative.  ``exclude`` hides documents or tables *and their copies*.

Group labels are canonical: 二级 labels get their ``指标`` suffix (数量 -> 数量指标);
older tables' 成本指标 under 产出 is grouped as 成本指标/经济成本指标 and 满意度指标
under 效益 as 满意度指标/服务对象满意度指标 (the current framework); the 二级 of
履职 rows (free-text duties) is dropped; unlabelled rows mentioning 满意 go to
满意度指标, other unlabelled rows to an empty group.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from indexer import vocab
from indexer.model import Document, Table, row_to_json
from indexer.normalize import key
from search.drafting.check import has_explicit_operator
from search.drafting.cluster import Cluster, cluster_rows, core_name
from search.retrieval.levels import LEVEL1_LABELS, canonical_levels, group_order  # noqa: F401 - re-exported

log = logging.getLogger(__name__)

# Ranking parameters (see module docstring); chosen on the leave-one-table-out
# evaluation (search/evaluation/draft_evaluate.py), kept few and round to limit overfitting.
RANK_SCALE = 10.0
TABLE_WEIGHT = 0.8
SUPPORT_WEIGHT = 0.15
PRIOR_WEIGHT = 0.3  # popularity prior: how many tables use the phrasing
PRIOR_POOL_LIMIT = 20_000  # rows; above this only relevant tables are candidates
DEPARTMENT_FACTOR = 0.5  # a 部门整体 table spans many duties: its goal similarity says less per row
DEFAULT_TOP_K = 20
DEFAULT_PER_GROUP = 5
DEFAULT_DEPTH = 200
DEFAULT_EXAMPLES = 3

# groups every project table needs: each gets its best suggestion first
CORE_GROUPS = (
    ("产出指标", "数量指标"), ("产出指标", "质量指标"), ("产出指标", "时效指标"), ("成本指标", "经济成本指标"),
    ("效益指标", "社会效益指标"), ("满意度指标", "服务对象满意度指标"),
)  # fmt: skip
# 部门整体 决策/过程 rows are the same standard items in every department table:
# they get no boost from table relevance, only from their own retrieval rank.
_BOILERPLATE = frozenset({"决策", "过程"})
_FORMAT_PREFERENCE = {"text": 0, "xlsx": 1, "pdf": 2}


class SuggestError(ValueError):
    """Invalid suggestion request (Chinese message)."""


# ---------------------------------------------------------------------------
# canonical levels


def level_matches(wanted: str | None, label: str) -> bool:
    """Level filter: same 一级/二级 category, or containment of the normalised label."""
    if not wanted:
        return True
    w = key(wanted).rstrip(":：")
    cw = vocab.level1_category(w)
    if cw is not None and cw == vocab.level1_category(label):
        return True
    return bool(label) and (w in label or label in w)


# ---------------------------------------------------------------------------
# values


def normalize_value(value: str) -> str:
    """Display form used to count target values: ``≥ 90 %`` and ``≥90%`` are one value."""
    from indexer.target import parse_target

    t = parse_target(value)
    if t.is_numeric:
        unit = t.unit or ""
        if isinstance(t.number, tuple):
            lo, hi = t.number
            return f"{lo:g}-{hi:g}{unit}"
        op = t.op if has_explicit_operator(value) else ""
        return f"{op}{t.number:g}{unit}"
    return key(value) if value.strip() else ""


# ---------------------------------------------------------------------------
# catalog: tables, copies, chunk positions


def table_identity(doc: Document, table: Table) -> tuple[str, int | None, str, str]:
    """Identity of a table across file formats: (unit, year, kind, project)."""
    unit = key(table.unit or doc.unit)
    year = table.year if table.year is not None else doc.year
    return unit, year, table.kind, key(table.project)


@dataclass(frozen=True)
class TableRef:
    doc: Document
    index: int  # table index in the document
    identity: tuple[str, int | None, str, str]

    @property
    def table(self) -> Table:
        return self.doc.tables[self.index]

    def goal_text(self) -> str:
        return " ".join(t for _, t in self.table.goals if t.strip())


@dataclass
class Catalog:
    """Tables of one index generation, their copies and the chunk position map."""

    tables: list[TableRef]
    representative: dict[tuple, TableRef]
    positions: dict[int, tuple[TableRef, int | None]] = field(
        default_factory=dict
    )  # chunk -> (table, row idx)

    @classmethod
    def build(cls, docs: Sequence[Document]) -> Catalog:
        tables = [TableRef(d, i, table_identity(d, t)) for d in docs for i, t in enumerate(d.tables)]
        rep: dict[tuple, TableRef] = {}
        for ref in sorted(tables, key=_preference):
            rep.setdefault(ref.identity, ref)
        return cls(tables, rep)

    def copies(self, ref: TableRef) -> list[TableRef]:
        return [t for t in self.tables if t.identity == ref.identity]

    def map_positions(self, docs: Sequence[Document], chunk_rows) -> None:
        """Map chunk positions to (table, row index); ``chunk_rows(p)`` gives the stored hit object."""
        from search.retrieval.chunks import ROW, build_chunks

        by_doc_table = {(t.doc.file, t.index): t for t in self.tables}
        chunks = build_chunks(docs)
        for p, c in enumerate(chunks):
            ref = by_doc_table.get((c.doc, c.table_idx))
            if ref is not None:
                self.positions[p] = (ref, c.item_idx if c.kind == ROW else None)
        # the index is built by the same function over the same documents: spot-check it
        for p in (0, len(chunks) // 2, len(chunks) - 1):
            if 0 <= p < len(chunks):
                stored = chunk_rows(p)
                if stored.get("doc") != chunks[p].doc or stored.get("name") != chunks[p].row.get("name"):
                    log.warning("chunk positions differ from build_chunks(); matching hits by content")
                    self.positions = {}
                    return


def _preference(ref: TableRef) -> tuple:
    return (_FORMAT_PREFERENCE.get(ref.doc.fmt, 3), -len(ref.table.rows), ref.doc.file, ref.index)


def parse_exclude(items: Iterable[Any], catalog: Catalog) -> set[tuple]:
    """Identities hidden by ``exclude`` items: a document file name (all its tables),
    ``"file#N"`` (its N-th table, 1-based), a ``(file, table_index)`` pair (0-based),
    or an identity tuple; copies of a hidden table are hidden too."""
    hidden: set[tuple] = set()
    for item in items or ():
        if isinstance(item, tuple) and len(item) == 4:
            hidden.add(item)
            continue
        if isinstance(item, tuple) and len(item) == 2:
            doc, idx = str(item[0]), int(item[1])
        else:
            s = str(item)
            doc, sep, num = s.rpartition("#")
            if sep and num.isdigit():
                idx = int(num) - 1
            else:
                doc, idx = s, None
        refs = [t for t in catalog.tables if t.doc.file == doc and (idx is None or t.index == idx)]
        if not refs:
            raise SuggestError(f"要排除的文档或表不存在：{item}")
        hidden.update(r.identity for r in refs)
    return hidden


# ---------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Suggestion:
    name: str
    variants: tuple[str, ...]
    units: int
    tables: int
    values: tuple[tuple[str, int], ...]
    examples: tuple[dict[str, Any], ...]
    score: float
    level1: str
    level2: str
    rows: int = 0  # how many rows (one per table copy set) use the phrasing
    weak: bool = False  # no table it comes from matches the input above the relevance floor
    identities: tuple[tuple, ...] = field(default=(), compare=False, repr=False)  # its tables

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "variants": list(self.variants),
            "units": self.units,
            "tables": self.tables,
            "rows": self.rows,
            "weak": self.weak,
            "values": [{"value": v, "count": c} for v, c in self.values],
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class SuggestionGroup:
    level1: str
    level2: str
    suggestions: tuple[Suggestion, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "level1": self.level1,
            "level2": self.level2,
            "suggestions": [s.to_json() for s in self.suggestions],
        }


@dataclass(frozen=True)
class SuggestResult:
    query: str
    groups: tuple[SuggestionGroup, ...]
    weak: bool = False  # nothing in the corpus matches the input: the suggestions are only common phrasings

    def ranked(self) -> list[Suggestion]:
        """All suggestions, best first (the order used for top-N)."""
        return sorted((s for g in self.groups for s in g.suggestions), key=lambda s: -s.score)

    def to_json(self) -> dict[str, Any]:
        return {"groups": [g.to_json() for g in self.groups]}


# ---------------------------------------------------------------------------
# scoring


def rank_weight(rank: int, scale: float = RANK_SCALE) -> float:
    """Weight of the hit at 1-based ``rank``: 1, 0.91, 0.83 ... 0.5 at rank scale+1."""
    return 1.0 / (1.0 + (rank - 1) / scale)


@dataclass
class _Scores:
    row: dict[tuple, float] = field(default_factory=dict)  # (identity, row idx) -> R
    section: dict[tuple, float] = field(default_factory=dict)  # identity -> best section weight
    rows_of_table: dict[tuple, list[float]] = field(default_factory=lambda: defaultdict(list))

    def table(self, identity: tuple) -> float:
        best_rows = sorted(self.rows_of_table.get(identity, ()), reverse=True)[:3]
        row_mass = sum(best_rows) / 3 if best_rows else 0.0
        return max(self.section.get(identity, 0.0), row_mass)


def _representative_row(rep: TableRef, ref: TableRef, ri: int) -> int | None:
    """Index in the representative table of row ``ri`` of a copy (same core name)."""
    if rep is ref:
        return ri
    name = core_name(ref.table.rows[ri].name)
    for j, r in enumerate(rep.table.rows):
        if core_name(r.name) == name:
            return j
    return None


def score_hits(hits, catalog: Catalog, hidden: set[tuple], content_index=None) -> _Scores:
    """Rank weights of hits, transferred from copies to representative tables."""
    sc = _Scores()
    rank = 0
    seen_rows: set[tuple] = set()
    seen_sections: set[tuple] = set()
    for h in hits:
        loc = catalog.positions.get(h.position) if catalog.positions else None
        if loc is None and content_index is not None:
            loc = content_index.get(_content_key(h.row))
        if loc is None:
            continue
        ref, ri = loc
        if ref.identity in hidden:
            continue
        rep = catalog.representative[ref.identity]
        if ri is None:
            if ref.identity in seen_sections:
                continue  # the same goal text in a copy
            seen_sections.add(ref.identity)
            rank += 1
            w = rank_weight(rank)
            sc.section[ref.identity] = max(sc.section.get(ref.identity, 0.0), w)
            continue
        rj = _representative_row(rep, ref, ri)
        if rj is None:
            continue
        k = (ref.identity, rj)
        if k in seen_rows:
            continue  # the same row in a copy
        seen_rows.add(k)
        rank += 1
        w = rank_weight(rank)
        sc.row[k] = w
        sc.rows_of_table[ref.identity].append(w)
    return sc


def _content_key(row: dict[str, Any]) -> tuple:
    src = row.get("source") or {}
    return (
        row.get("doc"),
        row.get("name"),
        row.get("level1"),
        row.get("level2"),
        src.get("page"),
        src.get("line"),
    )


def _content_index(catalog: Catalog) -> dict[tuple, tuple[TableRef, int | None]]:
    out: dict[tuple, tuple[TableRef, int | None]] = {}
    for ref in catalog.tables:
        for ri, r in enumerate(ref.table.rows):
            out.setdefault(_content_key(row_to_json(ref.doc, ref.table, r)), (ref, ri))
    return out


@dataclass(frozen=True)
class _Candidate:
    ref: TableRef
    row_index: int
    score: float
    group: tuple[str, str]
    row: dict[str, Any] = field(compare=False)


def candidates(
    sc: _Scores, catalog: Catalog, hidden: set[tuple] = frozenset(), filters=None
) -> list[_Candidate]:
    """Scored rows: S = R + w*T for rows of relevant tables; with a small corpus
    (``PRIOR_POOL_LIMIT`` rows) also every other row allowed by ``filters`` with
    S = 0, so popular phrasings can fill groups the input says nothing about."""
    relevant = set(sc.section) | set(sc.rows_of_table)
    pool = [ref for ident, ref in catalog.representative.items() if ident not in hidden]
    if sum(len(ref.table.rows) for ref in pool) > PRIOR_POOL_LIMIT:
        pool = [ref for ref in pool if ref.identity in relevant]
    out = []
    for rep in pool:
        ident = rep.identity
        t_score = sc.table(ident) * (DEPARTMENT_FACTOR if rep.table.kind == "department" else 1.0)
        for ri, r in enumerate(rep.table.rows):
            if not r.name.strip():
                continue
            row = row_to_json(rep.doc, rep.table, r)
            if ident not in relevant and filters is not None and not filters.matches(row, rep.doc.region):
                continue
            boost = 0.0 if vocab.level1_category(r.level1) in _BOILERPLATE else TABLE_WEIGHT * t_score
            s = sc.row.get((ident, ri), 0.0) + boost
            out.append(_Candidate(rep, ri, s, canonical_levels(r.level1, r.level2, r.name), row))
    out.sort(key=lambda c: (-c.score, c.ref.doc.file, c.ref.index, c.row_index))
    return out


def display_name(cluster: Cluster) -> str:
    """The cluster's canonical phrasing, or its most used simplified-script variant
    when the canonical one is written in traditional characters."""
    from indexer.normalize import to_simplified

    if to_simplified(cluster.name) == cluster.name:
        return cluster.name
    return next((n for n, _ in cluster.variants if to_simplified(n) == n), cluster.name)


def _suggestion(
    cluster: Cluster, meta: dict[int, _Candidate], group: tuple[str, str], n_examples: int
) -> Suggestion:
    members = [meta[id(r)] for r in cluster.rows]
    best_per_table: dict[tuple, float] = {}
    for m in members:
        best_per_table[m.ref.identity] = max(best_per_table.get(m.ref.identity, 0.0), m.score)
    ranked_tables = sorted(best_per_table.values(), reverse=True)
    relevance = ranked_tables[0] + SUPPORT_WEIGHT * sum(ranked_tables[1:])
    prior = 1.0 - 1.0 / len(best_per_table)  # 1 table: 0, 2: 0.5, 4: 0.75 ...
    score = relevance + PRIOR_WEIGHT * prior
    values = Counter(normalize_value(m.row["value"]) for m in members)
    values.pop("", None)
    units = {key(m.row["unit"]) for m in members}
    examples = []
    seen_units: set[str] = set()
    for m in sorted(members, key=lambda m: -m.score):
        u = key(m.row["unit"])
        if u in seen_units and len(seen_units) < len(units):
            continue
        seen_units.add(u)
        examples.append(m.row)
        if len(examples) >= n_examples:
            break
    name = display_name(cluster)
    return Suggestion(
        name=name,
        variants=tuple(n for n, _ in cluster.variants if n != name),
        units=len(units),
        tables=len(best_per_table),
        values=tuple(sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))),
        examples=tuple(examples),
        score=score,
        level1=group[0],
        level2=group[1],
        rows=len(members),
        identities=tuple(best_per_table),
    )


def build_suggestions(
    cands: Sequence[_Candidate],
    *,
    top_k: int = DEFAULT_TOP_K,
    per_group: int | None = DEFAULT_PER_GROUP,
    level1: str | None = None,
    level2: str | None = None,
    n_examples: int = DEFAULT_EXAMPLES,
    coverage: bool = True,
) -> list[SuggestionGroup]:
    """Cluster candidates per group, rank clusters, keep the best, order groups."""
    by_group: dict[tuple[str, str], list[_Candidate]] = defaultdict(list)
    for c in cands:
        if level_matches(level1, c.group[0]) and level_matches(level2, c.group[1]):
            by_group[c.group].append(c)
    all_sugg: list[Suggestion] = []
    for group, members in by_group.items():
        meta = {id(m.row): m for m in members}
        for cl in cluster_rows([m.row for m in members]):
            all_sugg.append(_suggestion(cl, meta, group, n_examples))
    all_sugg = [s for s in all_sugg if s.score > 0]
    all_sugg.sort(key=lambda s: (-s.score, -s.tables, s.name))
    kept: dict[tuple[str, str], list[Suggestion]] = defaultdict(list)
    taken: set[int] = set()
    if coverage:
        # first the best suggestion of each core group of the standard framework
        for g in CORE_GROUPS:
            best = next((i for i, s in enumerate(all_sugg) if (s.level1, s.level2) == g), None)
            if best is not None and len(taken) < top_k:
                kept[g].append(all_sugg[best])
                taken.add(best)
    for i, s in enumerate(all_sugg):
        if len(taken) >= top_k:
            break
        g = (s.level1, s.level2)
        if i in taken or (per_group is not None and len(kept[g]) >= per_group):
            continue
        kept[g].append(s)
        taken.add(i)
    for g in kept:
        kept[g].sort(key=lambda s: (-s.score, -s.tables, s.name))
    return [
        SuggestionGroup(g[0], g[1], tuple(kept[g]))
        for g in sorted(kept, key=lambda g: (group_order(*g), -kept[g][0].score))
    ]


# ---------------------------------------------------------------------------
# entry point


def catalog_for(engine) -> Catalog:
    """The catalog of the engine's current generation (built and cached by ``Engine.suggest_catalog``)."""
    return engine.suggest_catalog()


def suggest(
    engine,
    text: str,
    *,
    unit: str | None = None,
    year: int | None = None,
    kind: str | None = None,
    level1: str | None = None,
    level2: str | None = None,
    exclude: Iterable[Any] = (),
    top_k: int = DEFAULT_TOP_K,
    per_group: int | None = DEFAULT_PER_GROUP,
    depth: int = DEFAULT_DEPTH,
    examples: int = DEFAULT_EXAMPLES,
    for_kind: str | None = None,
) -> SuggestResult:
    """Suggestions for ``text`` (project name, goal text or indicator).

    ``unit``/``year``/``kind`` (department | project) filter the source tables;
    ``level1``/``level2`` keep only matching groups (产出 / 数量指标 ...);
    ``exclude`` hides documents/tables and their copies (see ``parse_exclude``);
    ``top_k`` suggestions in total, at most ``per_group`` per 一级/二级 group;
    ``depth`` retrieval candidates; ``examples`` example rows per suggestion;
    ``for_kind``: the kind of table being drafted ("project": 部门整体 履职 rows, which
    describe a department's duties, are not suggested).  Suggestions coming only from
    tables that do not match the input above the search's relevance floor are marked
    ``weak``; ``SuggestResult.weak`` when no table matches at all."""
    from search.retrieval.filters import Filters

    text = (text or "").strip()
    if not text:
        raise SuggestError("请输入项目名称、绩效目标或指标名称")
    if top_k <= 0:
        raise SuggestError("建议条数 top-k 必须是正整数")
    cat = catalog_for(engine)
    hidden = parse_exclude(exclude, cat)
    filters = Filters(unit=unit, year=year, table=kind)
    res = engine.search(text, top_k=depth, filters=filters)
    content = None if cat.positions else _content_index(cat)
    sc = score_hits(res.hits, cat, hidden, content)
    cands = candidates(sc, cat, hidden, filters)
    if for_kind == "project":
        cands = [c for c in cands if c.group[0] != LEVEL1_LABELS["履职"]]
    groups = build_suggestions(
        cands,
        top_k=top_k,
        per_group=per_group,
        level1=level1,
        level2=level2,
        n_examples=examples,
    )
    matched = _matched_tables(engine, text, filters, cat)
    groups = [_mark_weak(g, matched) for g in groups]
    return SuggestResult(text, tuple(groups), weak=not matched)


def _matched_tables(engine, text: str, filters, cat: Catalog) -> set[tuple]:
    """Identities of the tables with a row or section above the search's relevance floor."""
    res = engine.search(text, top_k=DEFAULT_DEPTH, filters=filters, matches_only=True)
    out: set[tuple] = set()
    content = None
    for h in res.hits:
        loc = cat.positions.get(h.position) if cat.positions else None
        if loc is None:
            content = content if content is not None else _content_index(cat)
            loc = content.get(_content_key(h.row))
        if loc is not None:
            out.add(loc[0].identity)
    return out


def _mark_weak(group: SuggestionGroup, matched: set[tuple]) -> SuggestionGroup:
    from dataclasses import replace

    return replace(group, suggestions=tuple(replace(s, weak=not (set(s.identities) & matched))
                                           for s in group.suggestions))  # fmt: skip


def suggest_table_input(table: Table) -> str:
    """The input used to ask for suggestions for an existing table: project name + goals."""
    goals = " ".join(t for _, t in table.goals if t.strip())
    return " ".join(x for x in (table.project, goals) if x).strip()


__all__ = [
    "Catalog", "Suggestion", "SuggestionGroup", "SuggestResult", "SuggestError", "canonical_levels",
    "normalize_value", "parse_exclude", "suggest", "suggest_table_input", "table_identity",
]  # fmt: skip
