"""Retrieval evaluation: Recall@k, MRR and nDCG@k for BM25, dense and hybrid.

Labels (``search/evaluation/data/queries.jsonl`` by default, one JSON object per line)::

    {"id": "q01", "type": "exact", "query": "预算执行率",
     "filters": {"unit": "..."},                       # optional, same keys as Filters
     "relevant": [{"doc": "000_….txt", "name": "预算执行率", "project": "…"}, …]}

A label names a row (or a section: name = section label) by document and name,
optionally project.  The same table may exist in several files (a text file and
its PDF or xlsx rendering); such documents form one *group* (same unit, year and
tables), and a label matches the row in every file of its group.  Hits and
labels are compared on (group, name, project) after ``key()`` normalisation; a
repeated key in the ranking counts once (the copies earn nothing).

Binary relevance: Recall@k = relevant keys in the top k / relevant keys;
MRR = 1 / rank of the first relevant hit (0 if none in the top k);
nDCG@k = DCG / ideal DCG with gains 1/log2(rank + 1).
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.model import Document
from indexer.normalize import key
from search.evaluation.data import QUERIES

log = logging.getLogger(__name__)

DEFAULT_QUERIES = QUERIES
MODES = ("bm25", "dense", "hybrid")
MODE_LABELS = {"bm25": "BM25 关键词", "dense": "向量语义", "hybrid": "混合（RRF）"}
TYPE_LABELS = {
    "exact": "指标原名", "paraphrase": "同义改写", "colloquial": "口语提问", "topic": "主题词",
    "section": "目标/职能段落", "filtered": "带筛选条件",
}

Key = tuple[str, str, str]  # (doc group, name key, project key)
SearchFn = Callable[[list[str], dict, str, int], list[list[dict]]]  # (queries, filters, mode, k) -> rows


@dataclass(frozen=True)
class LabelledQuery:
    id: str
    query: str
    type: str
    relevant: tuple[dict[str, str], ...]
    filters: dict[str, Any] = field(default_factory=dict)


def load_queries(path: Path | str) -> list[LabelledQuery]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                d = json.loads(line)
                out.append(LabelledQuery(
                    id=str(d.get("id", n)), query=d["query"], type=d.get("type", ""),
                    relevant=tuple(d["relevant"]), filters=dict(d.get("filters") or {}),
                ))
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path} 第{n}行格式错误：{exc}") from exc
    return out


# -- relevance -------------------------------------------------------------------------

def doc_groups(docs: Iterable[Document]) -> dict[str, str]:
    """Document file -> group id; files holding the same tables share a group."""
    out = {}
    for d in docs:
        sig = (key(d.unit), d.year, tuple(sorted((t.kind, key(t.project)) for t in d.tables)))
        out[d.file] = json.dumps(sig, ensure_ascii=False)
    return out


def hit_key(row: dict[str, Any], groups: dict[str, str]) -> Key:
    return (groups.get(row["doc"], row["doc"]), key(row["name"]), key(row.get("project") or ""))


def relevant_keys(q: LabelledQuery, known: dict[tuple[str, str], set[str]], groups: dict[str, str]) -> set[Key]:
    """Keys of the labelled rows; ``known`` maps (group, name key) -> project keys present."""
    out: set[Key] = set()
    for r in q.relevant:
        g = groups.get(r["doc"], r["doc"])
        projects = known.get((g, key(r["name"])))
        if not projects:
            log.warning("%s: label not in the index: %s / %s", q.id, r["doc"], r["name"])
            continue
        if "project" in r:
            if key(r["project"]) in projects:
                out.add((g, key(r["name"]), key(r["project"])))
            else:
                log.warning("%s: label not in the index: %s / %s / %s", q.id, r["doc"], r["name"], r["project"])
        else:
            out.update((g, key(r["name"]), p) for p in projects)
    return out


def known_keys(rows: Iterable[dict[str, Any]], groups: dict[str, str]) -> dict[tuple[str, str], set[str]]:
    known: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        g, n, p = hit_key(row, groups)
        known[(g, n)].add(p)
    return known


# -- metrics -----------------------------------------------------------------------------

def query_metrics(ranked: Sequence[Key], relevant: set[Key], k: int = 10) -> dict[str, float]:
    """Recall@k, reciprocal rank and nDCG@k of one ranking (binary gains, repeats count once)."""
    if not relevant:
        return {"recall": 0.0, "mrr": 0.0, "ndcg": 0.0}
    seen: set[Key] = set()
    dcg = 0.0
    rr = 0.0
    for i, h in enumerate(ranked[:k], start=1):
        if h in relevant and h not in seen:
            seen.add(h)
            dcg += 1.0 / math.log2(i + 1)
            if rr == 0.0:
                rr = 1.0 / i
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), k) + 1))
    return {"recall": len(seen) / len(relevant), "mrr": rr, "ndcg": dcg / ideal}


@dataclass
class EvalReport:
    k: int
    n_queries: int
    modes: tuple[str, ...]
    overall: dict[str, dict[str, float]]  # mode -> metric -> mean
    by_type: dict[str, dict[str, dict[str, float]]]  # type -> mode -> metric -> mean
    per_query: list[dict[str, Any]]  # id, query, type, mode -> metrics

    def to_json(self) -> dict[str, Any]:
        return {"k": self.k, "n_queries": self.n_queries, "overall": self.overall, "by_type": self.by_type,
                "per_query": self.per_query}

    def table(self, detail: bool = False) -> str:
        k = self.k
        lines = [f"检索评测：{self.n_queries} 条标注查询，取前 {k} 条结果", ""]
        head = f"{'模式':<12}{'Recall@' + str(k):>12}{'MRR':>10}{'nDCG@' + str(k):>12}"
        lines.append(head)
        lines.append("-" * 46)
        for m in self.modes:
            o = self.overall[m]
            lines.append(f"{_pad(MODE_LABELS.get(m, m), 12)}{o['recall']:>12.3f}{o['mrr']:>10.3f}{o['ndcg']:>12.3f}")
        if detail:
            lines += ["", f"按查询类型（nDCG@{k}）："]
            lines.append(_pad("类型", 16) + "".join(f"{_pad(MODE_LABELS.get(m, m), 14)}" for m in self.modes) + "条数")
            for t, per_mode in self.by_type.items():
                n = sum(1 for q in self.per_query if q["type"] == t)
                cells = "".join(_pad(f"{per_mode[m]['ndcg']:.3f}", 14) for m in self.modes)
                lines.append(_pad(TYPE_LABELS.get(t, t or "其他"), 16) + cells + str(n))
        return "\n".join(lines)


def _pad(s: str, width: int) -> str:
    """Left-align counting CJK characters as two columns."""
    w = sum(2 if ord(c) > 0x2E80 else 1 for c in s)
    return s + " " * max(1, width - w)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def run_eval(search: SearchFn, queries: Sequence[LabelledQuery], rows: Iterable[dict[str, Any]],
             groups: dict[str, str], k: int = 10, modes: Sequence[str] = MODES) -> EvalReport:
    """Evaluate ``search`` (queries sharing filters are answered in one batch)."""
    known = known_keys(rows, groups)
    rel = {q.id: relevant_keys(q, known, groups) for q in queries}
    by_filters: dict[str, list[LabelledQuery]] = defaultdict(list)
    for q in queries:
        by_filters[json.dumps(q.filters, sort_keys=True, ensure_ascii=False)].append(q)
    per: dict[str, dict[str, Any]] = {q.id: {"id": q.id, "query": q.query, "type": q.type} for q in queries}
    for m in modes:
        for fkey, group in by_filters.items():
            ranked = search([q.query for q in group], json.loads(fkey), m, k)
            for q, hits in zip(group, ranked):
                per[q.id][m] = query_metrics([hit_key(h, groups) for h in hits], rel[q.id], k)
    per_query = [per[q.id] for q in queries]
    overall = {m: {x: _mean([p[m][x] for p in per_query]) for x in ("recall", "mrr", "ndcg")} for m in modes}
    types = list(dict.fromkeys(q.type for q in queries))
    by_type = {
        t: {m: {x: _mean([p[m][x] for p in per_query if p["type"] == t]) for x in ("recall", "mrr", "ndcg")}
            for m in modes}
        for t in types
    }
    return EvalReport(k, len(queries), tuple(modes), overall, by_type, per_query)


def evaluate_search(engine, queries: Sequence[LabelledQuery], top_k: int = 10, modes: Sequence[str] = MODES
                    ) -> EvalReport:
    """Evaluate an ``Engine``'s search on ``queries``."""
    from search.retrieval.chunks import build_chunks

    docs = engine.documents()
    groups = doc_groups(docs)
    rows = [c.row for c in build_chunks(docs)]

    def search(qs: list[str], filters: dict, mode: str, k: int) -> list[list[dict]]:
        results = engine.search_batch(qs, top_k=k, filters=filters, mode=mode)
        return [[h.row for h in r.hits] for r in results]

    return run_eval(search, queries, rows, groups, k=top_k, modes=modes)
