"""Hybrid search over Milvus with the embedded retriever's ranking rules.

``MilvusRetriever`` is a ``HybridRetriever`` whose candidates come from Milvus:

- BM25: a sparse inner-product search with our client-side BM25 vectors
  (``sparse``), filters pushed down as a Milvus expression (``expr``);
- dense: a vector search grouped by content hash (one group per distinct
  passage, every allowed copy in it), the same filter expression.

Fusion, the exact-name lift, copy de-duplication, clustering and the relevance
floor are the embedded retriever's own code (``HybridRetriever._result``), so
both backends rank alike.  ``server_fusion=True`` instead lets Milvus fuse with
``hybrid_search`` + ``RRFRanker`` (unweighted RRF, Milvus' tie order); it is
off by default because the embedded fusion weights short queries' dense list
by ``short_query_dense_weight`` and Milvus' RRF has no list weights.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from itertools import zip_longest
from typing import Any

import numpy as np

from indexer.normalize import key
from search.drafting.cluster import cluster_rows
from search.retrieval import retrieve as retrieve_module
from search.retrieval.errors import SearchError
from search.retrieval.filters import Filters
from search.retrieval.milvus.expr import filter_expr, needs_recheck
from search.retrieval.milvus.store import MAX_LIMIT, Candidate, MilvusIndex
from search.retrieval.retrieve import (
    HybridRetriever,
    QueryBatcher,
    RetrievalOptions,
    SearchResult,
    _encode_pool,
    checked_queries,
    dense_floor,
)

log = logging.getLogger(__name__)


class _Rows:
    """The part of ``ChunkTable`` that ``HybridRetriever._result`` reads: the kind, copy
    identity and name of every candidate (from the search answers) and the hit objects,
    fetched from Milvus in one request for the hits about to be shown (``prefetch``)."""

    def __init__(self, index: MilvusIndex):
        self.index = index
        self._facts: dict[int, tuple[str, str, str]] = {}  # pos -> (kind, ident, name_key)
        self._rows: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return self.index.count()

    def add(self, cands: Sequence[Candidate]) -> None:
        if len(self._facts) > 500_000:
            self._facts.clear()
        if len(self._rows) > 50_000:
            self._rows.clear()
        for c in cands:
            self._facts[c.pos] = (c.kind, c.ident, c.name_key)
            if c.row is not None:
                self._rows[c.pos] = c.row

    def prefetch(self, positions: Sequence[int]) -> None:
        missing = list(dict.fromkeys(int(p) for p in positions if int(p) not in self._rows))
        if missing:
            found = self.index.rows_at(missing)
            self.add(list(found.values()))

    def facts(self, p: int) -> tuple[str, str, str]:
        got = self._facts.get(int(p))
        if got is None:
            self.prefetch([p])
            got = self._facts.get(int(p))
            if got is None:
                raise SearchError(f"Milvus 中找不到第 {p} 个检索块，索引可能正在更新，请稍后重试。")
        return got

    def row(self, p: int) -> dict[str, Any]:
        got = self._rows.get(int(p))
        if got is None:
            self.prefetch([p])
            got = self._rows.get(int(p))
            if got is None:
                raise SearchError(f"Milvus 中找不到第 {p} 个检索块，索引可能正在更新，请稍后重试。")
        return dict(got)

    def kind_name(self, p: int) -> str:
        return self.facts(p)[0]


class MilvusRetriever(HybridRetriever):
    def __init__(self, index: MilvusIndex, encoder, options: RetrievalOptions | None = None,
                 server_fusion: bool = False):
        self.index = index
        self.encoder = encoder
        self.tokenizer = index.tokenizer()
        self.options = options or RetrievalOptions()
        self.server_fusion = server_fusion
        self.chunks = _Rows(index)  # type: ignore[assignment]
        # the caches HybridRetriever declares (its __init__ needs the faiss chunk table)
        self._batcher = QueryBatcher(self._encode_now, cache_size=retrieve_module._query_cache_size)
        self._facts_cache: dict[int, tuple[tuple, str]] = {}
        self._names: dict[str, frozenset[int]] | None = None

    def row(self, position: int) -> dict[str, Any]:
        return self.chunks.row(position)

    def _facts(self, p: int) -> tuple[str, str]:  # type: ignore[override]
        _kind, ident, name_key = self.chunks.facts(p)
        return ident, name_key

    def _name_positions(self) -> None:  # type: ignore[override]
        return None  # ``_exact_first`` checks each candidate's name instead

    # -- candidates ------------------------------------------------------------------
    def _keep(self, cands: list[Candidate], filters: Filters | None) -> list[Candidate]:
        """Exact filter check when the pushed-down LIKE pattern was weakened."""
        if filters is None or not needs_recheck(filters):
            return cands
        exact = replace(filters, region=None)  # the region is not in the hit object (pushed down only)
        rows = self.index.rows_at([c.pos for c in cands])
        return [c for c in cands if c.pos in rows and exact.matches(rows[c.pos].row or {})]

    def _tokens_present(self, query: str, tokens: list[str], positions: Sequence[int],
                        mask=None) -> list[list[str]]:
        """For each position, the query tokens among its stored sparse vector's terms."""
        self.index.query_vector(query)  # fills the token -> id cache
        tids = {t: self.index._vocab_cache.get(t, (-1, 0))[0] for t in tokens}
        stored = self.index.sparse_of(positions)
        return [[t for t in tokens if tids[t] in stored.get(int(p), {})] for p in positions]

    def search_many(self, queries: Sequence[str], top_k: int = 10, filters: Filters | None = None,
                    mode: str = "hybrid", fusion: str = "rrf", depth: int | None = None,
                    matches_only: bool = False) -> list[SearchResult]:
        shown, queries = checked_queries(queries, top_k, mode, fusion)
        depth = max(depth or self.options.depth, top_k)
        expr = filter_expr(filters)
        n = len(self.chunks)
        if self.server_fusion and mode == "hybrid" and fusion == "rrf" and not matches_only and n:
            return [self._server_hybrid(s, q, top_k, depth, expr, filters) for s, q in zip(shown, queries)]
        encoding = _encode_pool().submit(self._encode, queries) if mode != "bm25" and n else None
        bm_lists: list[list[tuple[int, float]]] = []
        bm_keep: list[set[int]] = []
        for q in queries:
            cands = self._keep(self.index.sparse_search(q, min(n, MAX_LIMIT) if matches_only else depth, expr),
                               filters) if mode != "dense" else []
            self.chunks.add(cands)
            bm = [(c.pos, c.score) for c in cands]
            bm_lists.append(bm)
            if matches_only:
                bm_keep.append(self._bm25_matches(q, [p for p, _ in bm]))
        qv = encoding.result() if encoding is not None else None
        floor = dense_floor(self.model_id) if matches_only else None
        dense_lists: list[list[tuple[int, float]]] = [[] for _ in queries]
        if qv is not None:
            for i, cands in enumerate(self.index.dense_search(qv, depth, expr)):
                if floor is not None and cands and cands[-1].score >= floor:
                    cands = self._dense_above_milvus(qv[i], floor, depth, expr)
                cands = self._keep(cands, filters)
                self.chunks.add(cands)
                dense_lists[i] = [(c.pos, c.score) for c in cands]
        for i, q in enumerate(queries):
            self._prefetch(q, bm_lists[i], dense_lists[i], top_k, mode, fusion,
                           bm_keep[i] | {p for p, s in dense_lists[i] if floor is not None and s >= floor}
                           if matches_only else None)
        results = []
        for i, q in enumerate(queries):
            if not matches_only:
                r = self._result(q, bm_lists[i], dense_lists[i], top_k, mode, fusion)
                results.append(SearchResult(shown[i], r.hits, r.clusters))
                continue
            keep = bm_keep[i]
            if floor is not None:
                keep |= {p for p, s in dense_lists[i] if s >= floor}
            r = self._result(q, bm_lists[i], dense_lists[i], top_k, mode, fusion, keep=keep)
            results.append(SearchResult(shown[i], r.hits, r.clusters, r.total))
        return results

    def _prefetch(self, query: str, bm: list[tuple[int, float]], dn: list[tuple[int, float]], top_k: int,
                  mode: str, fusion: str, keep: set[int] | None) -> None:
        """Fetch in one request the hit objects ``_result`` will show: the first distinct copies
        in fused order (without the exact-name lift, whose rows are added by name)."""
        if mode == "bm25":
            order = [p for p, _ in bm]
        elif mode == "dense":
            order = [p for p, _ in dn]
        else:
            order = list(dict.fromkeys(p for pair in zip_longest(bm, dn) for p, _ in (x for x in pair if x)))
        q = key(query)
        want, seen = [p for p in order if self.chunks.facts(p)[2] == q], set()
        for p in order:
            if keep is not None and p not in keep:
                continue
            ident = self.chunks.facts(p)[1]
            if ident not in seen:
                seen.add(ident)
                want.append(p)
            if len(seen) >= 2 * top_k:
                break
        self.chunks.prefetch(want)

    def _dense_above_milvus(self, qv: np.ndarray, floor: float, depth: int, expr: str) -> list[Candidate]:
        n = len(self.chunks)
        k = max(depth, 250)
        while True:
            k = min(k * 4, n, MAX_LIMIT)
            cands = self.index.dense_search(qv[None, :], k, expr)[0]
            if k >= min(n, MAX_LIMIT) or not cands or cands[-1].score < floor:
                return cands

    def _server_hybrid(self, shown: str, query: str, top_k: int, depth: int, expr: str,
                       filters: Filters | None) -> SearchResult:
        """Milvus ``hybrid_search`` with ``RRFRanker`` (see the module docstring)."""
        from search.retrieval.retrieve import Hit

        qv = self._encode([query])[0]
        cands = self._keep(self.index.hybrid_search(query, qv, depth, expr, self.options.rrf_k), filters)
        self.chunks.add(cands)
        hits, seen = [], set()
        for c in cands:
            ident = c.ident
            if ident in seen:
                continue
            seen.add(ident)
            hits.append(Hit(float(c.score), c.kind, dict(c.row), c.pos))
            if len(hits) >= top_k:
                break
        return SearchResult(shown, hits, cluster_rows([h.row for h in hits if h.chunk == "row"]))


__all__ = ["MilvusRetriever"]
