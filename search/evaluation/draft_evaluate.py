"""Leave-one-table-out evaluation of ``suggest`` (``perfsearch eval --draft``).

For every distinct project table of the index (copies of one table in txt /
PDF / xlsx form count once; see ``search.drafting.suggest.table_identity``):

1. hide the table and its copies (``exclude``);
2. ask ``suggest`` with the table's project name + goal texts as input;
3. count how many of the table's indicators appear among the top-N
   suggestions (``top_n``, default 20, at most ``per_group`` per 一级/二级 group).

An indicator *appears* when a suggestion's canonical name or one of its
variants either

* is the same phrasing cluster (``search.drafting.cluster.similar`` on normalised
  names: equal, near-identical, or a unit-specific prefix), or
* has a name embedding (the index's embedding model, document prompt, cosine)
  of at least ``SEMANTIC_THRESHOLD`` = 0.985.  The model's cosines are
  compressed (unrelated indicator names often score 0.94-0.96); at 0.985 the
  pairs are the same indicator for another subject, e.g. 受资助学前教育学生覆盖率 /
  受资助义务教育学生覆盖率, 学前/义务教育资助每学年人均补助标准, 参训教师满意度 /
  教师满意度, with a few near misses such as 受益学校数 / 受益学生数.

The report also gives, under the same matching rule, the *ceiling* (the
indicator matches some row of another table at all, i.e. the best any
suggester could do on this corpus) and a *frequency baseline* (the most
common clusters of the corpus regardless of the input, same N and group cap).
Recall is reported per table and overall (micro: over all indicators;
macro: mean of per-table recall).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from search.drafting.cluster import core_name, similar
from search.drafting.suggest import (
    DEFAULT_PER_GROUP,
    Catalog,
    TableRef,
    _Candidate,
    build_suggestions,
    canonical_levels,
    catalog_for,
    suggest,
    suggest_table_input,
)

log = logging.getLogger(__name__)

SEMANTIC_THRESHOLD = 0.985
DEFAULT_TOP_N = 20


@dataclass(frozen=True)
class IndicatorMatch:
    name: str
    matched_by: str | None  # suggestion name that matched, None when missed
    how: str  # "cluster" | "semantic" | ""
    rank: int | None  # 1-based rank of the matching suggestion


@dataclass(frozen=True)
class TableResult:
    doc: str
    project: str
    unit: str
    copies: tuple[str, ...]
    indicators: tuple[IndicatorMatch, ...]
    baseline_hits: int
    ceiling_hits: int
    strict_hits: int  # matched by the same phrasing cluster only (no embeddings)

    @property
    def total(self) -> int:
        return len(self.indicators)

    @property
    def hits(self) -> int:
        return sum(1 for m in self.indicators if m.matched_by is not None)

    @property
    def recall(self) -> float:
        return self.hits / self.total if self.total else 0.0

    def to_json(self) -> dict:
        return {
            "doc": self.doc,
            "project": self.project,
            "unit": self.unit,
            "copies": list(self.copies),
            "indicators": self.total,
            "found": self.hits,
            "recall": round(self.recall, 4),
            "baseline_found": self.baseline_hits,
            "ceiling_found": self.ceiling_hits,
            "strict_found": self.strict_hits,
            "missed": [m.name for m in self.indicators if m.matched_by is None],
            "matches": [
                {"indicator": m.name, "suggestion": m.matched_by, "how": m.how, "rank": m.rank}
                for m in self.indicators
                if m.matched_by is not None
            ],
        }


@dataclass(frozen=True)
class DraftEvalReport:
    top_n: int
    per_group: int | None
    threshold: float
    tables: tuple[TableResult, ...]

    def _micro(self, attr: str) -> float:
        total = sum(t.total for t in self.tables)
        return sum(getattr(t, attr) for t in self.tables) / total if total else 0.0

    @property
    def micro_recall(self) -> float:
        return self._micro("hits")

    @property
    def macro_recall(self) -> float:
        return float(np.mean([t.recall for t in self.tables])) if self.tables else 0.0

    @property
    def baseline_recall(self) -> float:
        return self._micro("baseline_hits")

    @property
    def ceiling_recall(self) -> float:
        return self._micro("ceiling_hits")

    @property
    def strict_recall(self) -> float:
        return self._micro("strict_hits")

    def to_json(self) -> dict:
        return {
            "top_n": self.top_n,
            "per_group": self.per_group,
            "semantic_threshold": self.threshold,
            "tables": [t.to_json() for t in self.tables],
            "indicators": sum(t.total for t in self.tables),
            "found": sum(t.hits for t in self.tables),
            "micro_recall": round(self.micro_recall, 4),
            "macro_recall": round(self.macro_recall, 4),
            "baseline_recall": round(self.baseline_recall, 4),
            "ceiling_recall": round(self.ceiling_recall, 4),
            "strict_recall": round(self.strict_recall, 4),
        }

    def lines(self) -> list[str]:
        """Human-readable report (Chinese)."""
        out = [
            f"起草建议留一法评估：每张项目表隐藏自身（及其 PDF/xlsx 副本），以项目名称+绩效目标为输入，"
            f"看前 {self.top_n} 条建议（每组最多 {self.per_group} 条）覆盖了多少原表指标。",
            f"匹配标准：同一措辞聚类，或指标名称向量余弦 ≥ {self.threshold}。",
            "",
        ]
        for t in self.tables:
            copies = f"；副本 {'、'.join(t.copies)}" if t.copies else ""
            out.append(
                f"{t.project}（{t.unit}，{t.doc}{copies}）：{t.hits}/{t.total} = {t.recall:.0%}"
                f"｜上限 {t.ceiling_hits}/{t.total}｜频次基线 {t.baseline_hits}/{t.total}"
            )
            missed = [m.name for m in t.indicators if m.matched_by is None]
            if missed:
                out.append(f"    未覆盖：{'；'.join(missed)}")
        total = sum(t.total for t in self.tables)
        out += [
            "",
            f"总体：{len(self.tables)} 张项目表，{total} 条指标，覆盖 {sum(t.hits for t in self.tables)} 条，"
            f"召回率（按指标）{self.micro_recall:.1%}，（按表平均）{self.macro_recall:.1%}",
            f"仅按同一措辞聚类匹配（不用向量）：{self.strict_recall:.1%}",
            f"语料上限（其他表中存在同义指标）{self.ceiling_recall:.1%}；频次基线（不看输入）{self.baseline_recall:.1%}",
        ]
        return out


# ---------------------------------------------------------------------------
# matching


def _cluster_match(indicator: str, ranked_names: Sequence[Sequence[str]]) -> bool:
    core = core_name(indicator)
    return any(similar(core, core_name(n)) for names in ranked_names for n in names)


class NameMatcher:
    """Same-cluster or semantic match between indicator names (embeddings cached)."""

    def __init__(
        self, encode: Callable[[Sequence[str]], np.ndarray] | None, threshold: float = SEMANTIC_THRESHOLD
    ):
        self._encode = encode
        self.threshold = threshold
        self._vec: dict[str, np.ndarray] = {}

    def prepare(self, names: Sequence[str]) -> None:
        todo = sorted({n for n in names if n not in self._vec})
        if todo and self._encode is not None:
            for n, v in zip(todo, self._encode(todo)):
                self._vec[n] = np.asarray(v, dtype=np.float32)

    def how(self, a: str, b: str) -> str:
        """ "cluster", "semantic" or "" (no match)."""
        if similar(core_name(a), core_name(b)):
            return "cluster"
        va, vb = self._vec.get(a), self._vec.get(b)
        if va is not None and vb is not None and float(va @ vb) >= self.threshold:
            return "semantic"
        return ""


def _match(indicator: str, ranked_names: Sequence[Sequence[str]], matcher: NameMatcher) -> IndicatorMatch:
    for rank, names in enumerate(ranked_names, start=1):
        for n in names:
            how = matcher.how(indicator, n)
            if how:
                return IndicatorMatch(indicator, names[0], how, rank)
    return IndicatorMatch(indicator, None, "", None)


# ---------------------------------------------------------------------------
# evaluation


def project_tables(cat: Catalog) -> list[TableRef]:
    """Distinct project tables with indicators (one representative per identity)."""
    refs = [r for r in cat.representative.values() if r.table.kind == "project" and r.table.rows]
    return sorted(refs, key=lambda r: (r.doc.file, r.index))


def frequency_baseline(cat: Catalog, hidden: tuple, top_n: int, per_group: int | None) -> list[list[str]]:
    """Suggestion names ranked by how many tables use them, ignoring the input."""
    from indexer.model import row_to_json

    cands = [
        _Candidate(
            ref, ri, 1.0, canonical_levels(r.level1, r.level2, r.name), row_to_json(ref.doc, ref.table, r)
        )
        for ref in cat.representative.values()
        if ref.identity != hidden
        for ri, r in enumerate(ref.table.rows)
        if r.name.strip()
    ]
    groups = build_suggestions(cands, top_k=top_n, per_group=per_group, n_examples=1)
    ranked = sorted((s for g in groups for s in g.suggestions), key=lambda s: (-s.score, -s.tables, s.name))
    return [[s.name, *s.variants] for s in ranked]


def evaluate_drafting(
    engine,
    *,
    top_n: int = DEFAULT_TOP_N,
    per_group: int | None = DEFAULT_PER_GROUP,
    threshold: float = SEMANTIC_THRESHOLD,
    progress: Callable[[int, int, str], None] | None = None,
) -> DraftEvalReport:
    cat = catalog_for(engine)
    encoder = engine.retriever().encoder
    matcher = NameMatcher(lambda names: encoder.encode_documents(list(names)), threshold)
    tables = project_tables(cat)
    all_names = [r.name for ref in cat.representative.values() for r in ref.table.rows]
    matcher.prepare(all_names)
    results = []
    for i, ref in enumerate(tables, start=1):
        if progress:
            progress(i, len(tables), ref.table.project)
        res = suggest(
            engine, suggest_table_input(ref.table), exclude=[ref.identity], top_k=top_n, per_group=per_group
        )
        ranked = [[s.name, *s.variants] for s in res.ranked()]
        matcher.prepare([n for names in ranked for n in names])
        base = frequency_baseline(cat, ref.identity, top_n, per_group)
        others = [
            [r.name] for o in cat.representative.values() if o.identity != ref.identity for r in o.table.rows
        ]
        indicators = []
        base_hits = ceiling_hits = strict_hits = 0
        for row in ref.table.rows:
            indicators.append(_match(row.name, ranked, matcher))
            strict_hits += _cluster_match(row.name, ranked)
            base_hits += _match(row.name, base, matcher).matched_by is not None
            ceiling_hits += _match(row.name, others, matcher).matched_by is not None
        results.append(
            TableResult(
                doc=ref.doc.file,
                project=ref.table.project,
                unit=ref.table.unit or ref.doc.unit,
                copies=tuple(c.doc.file for c in cat.copies(ref) if c is not ref),
                indicators=tuple(indicators),
                baseline_hits=base_hits,
                ceiling_hits=ceiling_hits,
                strict_hits=strict_hits,
            )
        )
    return DraftEvalReport(top_n, per_group, threshold, tuple(results))
