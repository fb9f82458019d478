"""The search index of one perfsearch index inside Milvus: write (incremental) and search.

``MilvusIndex.write(chunks, encoder)`` mirrors a generation's chunks into the
collections of ``schema``:

- entities are keyed by ``pk`` (file + chunk number); an entity whose stored
  fields are unchanged (``fp``) is not sent again, one whose passage is unchanged
  (``hash``) keeps its stored vector (read back from Milvus, not re-embedded),
  chunks of files no longer in the generation (``--prune``, re-ingested files)
  are deleted;
- BM25 statistics (``N``, total length, document frequencies) are recomputed from
  the generation's tokens; the document weights depend on the average length, so
  when it changes every entity's sparse vector is rewritten (vectors are reused).

Searches return ``Candidate`` lists (position, score, copy identity and name; the
hit object only when asked for); ``pos`` is the embedded backend's chunk position,
so ties are broken the same way in both backends.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from search.retrieval.bm25 import BM25Config
from search.retrieval.chunks import ROW, Chunk
from search.retrieval.milvus import schema as S
from search.retrieval.milvus.client import MilvusError, MilvusSettings, connect
from search.retrieval.milvus.sparse import Vocabulary
from search.retrieval.tokenize import TokenizerConfig, tokenize, tokenize_fields

log = logging.getLogger(__name__)


class _LiteIteratorNoise(logging.Filter):
    """Milvus Lite does not implement ``AllocTimestamp``, which pymilvus' query iterator asks
    for first (then it falls back to a client-side timestamp, which is correct): drop that
    one traceback of Lite's in-process gRPC server and pymilvus' warning about it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("failed to get mvccTs"):
            return False
        tb = record.exc_info[2] if record.exc_info else None
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        return not (tb is not None and tb.tb_frame.f_code.co_name == "AllocTimestamp")


for _name in ("grpc._server", "pymilvus.client.iterator.query_iterator"):
    logging.getLogger(_name).addFilter(_LiteIteratorNoise())

BATCH = 500  # entities per upsert / get request
MAX_LIMIT = 16384  # Milvus' largest topk


@dataclass(frozen=True)
class Candidate:
    pos: int
    score: float
    pk: str
    kind: str  # "row" | "section"
    hash: str = ""
    ident: str = ""  # digest of the copy identity (retrieve.copy_identity)
    name_key: str = ""
    row: dict[str, Any] | None = None  # the hit object, when asked for (ROW_FIELDS)


def _collection_kind(name: str) -> str:
    return ROW if name == S.ROWS else "section"


def _candidate(e: dict[str, Any], score: float, kind: str) -> Candidate:
    return Candidate(int(e["pos"]), score, e["pk"], kind, e.get("hash", ""), e.get("ident", ""),
                     e.get("name_key", ""), e.get("row"))


class MilvusIndex:
    def __init__(self, settings: MilvusSettings, client=None, params: S.IndexParams | None = None):
        self.settings = settings
        self.client = client if client is not None else connect(settings)
        self.params = params or S.IndexParams()
        self._vocab_cache: dict[str, tuple[int, int]] = {}
        self._meta_cache: dict[str, Any] | None = None
        self._loaded: set[str] = set()
        self._lite: bool | None = None

    def is_lite(self) -> bool:
        """Milvus Lite (a local file, or its gRPC server): see ``IndexParams``."""
        if self._lite is None:
            try:
                version = str(self.client.get_server_version())
            except Exception:  # noqa: BLE001 - an old server without the call is not Lite
                version = ""
            self._lite = self.settings.local or version.startswith("milvus_lite")
        return self._lite

    def name(self, collection: str) -> str:
        name = self.settings.collection(collection)
        if name not in self._loaded and self.client.has_collection(name):
            state = str(self.client.get_load_state(name).get("state", ""))
            if "NotLoad" in state:
                self.client.load_collection(name)
            self._loaded.add(name)
        return name

    # -- meta --------------------------------------------------------------------
    def exists(self) -> bool:
        return self.client.has_collection(self.name(S.META)) and bool(self.meta())

    def meta(self, refresh: bool = False) -> dict[str, Any]:
        if self._meta_cache is not None and not refresh:
            return self._meta_cache
        name = self.name(S.META)
        if not self.client.has_collection(name):
            return {}
        res = self.client.query(name, filter='k == "index"', output_fields=["value"])
        meta = dict(res[0]["value"]) if res else {}
        if self._meta_cache is not None and meta.get("generation") != self._meta_cache.get("generation"):
            self._vocab_cache.clear()  # another process wrote a new generation: new statistics
        self._meta_cache = meta
        return meta

    def set_generation(self, generation: str) -> None:
        """Record which generation the collections hold (``writing:<gen>`` while writing)."""
        self._ensure_small()
        meta = {**self.meta(refresh=True), "generation": generation}
        self.client.upsert(self.name(S.META), [{"k": "index", "value": meta, "v": S.DUMMY}])
        self._meta_cache = meta

    def _ensure_small(self) -> None:
        for coll, make in ((S.VOCAB, S.vocab_schema), (S.META, S.meta_schema)):
            name = self.name(coll)
            if not self.client.has_collection(name):
                self.client.create_collection(name, schema=make(self.client), index_params=S.dummy_index_params(
                    self.client), consistency_level="Strong")

    def _ensure_chunks(self, dim: int, n_chunks: int) -> str:
        """Create the chunk collections when missing; returns the dense index type."""
        dense = self.params.dense_index(n_chunks, self.is_lite())
        index_type = self.meta().get("dense_index") or dense["index_type"]
        if index_type != dense["index_type"]:
            dense = self.params.dense_index(0 if index_type == "FLAT" else 10**12)
        for coll in S.CHUNK_COLLECTIONS:
            name = self.name(coll)
            if not self.client.has_collection(name):
                self.client.create_collection(name, schema=S.chunk_schema(self.client, dim),
                                              index_params=S.chunk_index_params(self.client, dense),
                                              consistency_level="Strong")
        return index_type

    # -- reading helpers ---------------------------------------------------------
    def _iterate(self, collection: str, fields: list[str], expr: str = "", batch: int = 2000
                 ) -> Iterator[dict[str, Any]]:
        name = self.name(collection)
        if not self.client.has_collection(name):
            return
        it = self.client.query_iterator(name, batch_size=batch, filter=expr, output_fields=fields)
        try:
            while True:
                page = it.next()
                if not page:
                    break
                yield from page
        finally:
            it.close()

    def load_vocabulary(self) -> Vocabulary:
        """The stored vocabulary with ids and statistics (ingest only: reads every token)."""
        meta = self.meta(refresh=True)
        v = Vocabulary(next_id=int(meta.get("next_id", 0)), n_docs=int(meta.get("n_docs", 0)),
                       total_len=int(meta.get("total_len", 0)))
        for r in self._iterate(S.VOCAB, ["token", "tid", "df"]):
            v.ids[r["token"]] = int(r["tid"])
            if int(r["df"]):
                v.df[r["token"]] = int(r["df"])
        return v

    def _stored_chunks(self) -> dict[str, tuple[str, str, str]]:
        """pk -> (collection, fp, hash) of every stored chunk."""
        out: dict[str, tuple[str, str, str]] = {}
        for coll in S.CHUNK_COLLECTIONS:
            for r in self._iterate(coll, ["pk", "fp", "hash"]):
                out[r["pk"]] = (coll, r["fp"], r["hash"])
        return out

    def _get_vectors(self, collection: str, pks: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for a in range(0, len(pks), BATCH):
            res = self.client.get(self.name(collection), ids=list(pks[a:a + BATCH]), output_fields=["pk", "dense"])
            for r in res:
                out[r["pk"]] = np.asarray(r["dense"], dtype=np.float32)
        return out

    # -- writing -----------------------------------------------------------------
    def write(self, chunks: list[Chunk], encoder, *, tokenizer: TokenizerConfig | None = None,
              bm25: BM25Config | None = None, show_progress: bool | None = None,
              extra_meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Mirror ``chunks`` (a whole generation, in order) into Milvus; returns stats."""
        from search.retrieval.artifacts import _embed_cached

        tokenizer = tokenizer or TokenizerConfig()
        bm25 = bm25 or BM25Config()
        model_id = encoder.model_id
        self._ensure_small()
        prev_meta = self.meta(refresh=True)
        same_model = (prev_meta.get("model") == model_id and prev_meta.get("schema_version") == S.SCHEMA_VERSION
                      and prev_meta.get("tokenizer") == tokenizer.to_json())
        if not same_model and any(self.client.has_collection(self.name(c)) for c in S.CHUNK_COLLECTIONS):
            log.info("Milvus collections of %s (format %s): rebuilding", prev_meta.get("model"),
                     prev_meta.get("schema_version"))
            generation = prev_meta.get("generation")
            self.drop()
            self._ensure_small()
            if generation:
                self.set_generation(generation)
            prev_meta = self.meta(refresh=True)
        previous = self.load_vocabulary() if same_model else None
        tokens = [tokenize_fields(list(c.bm25_fields), tokenizer) for c in chunks]
        vocab = Vocabulary.build(tokens, previous)
        stored = self._stored_chunks() if same_model else {}

        seq: dict[str, int] = {}
        plan: list[tuple[str, int, Chunk, dict[str, Any], dict[int, float], str]] = []
        for pos, (c, toks) in enumerate(zip(chunks, tokens)):
            n = seq.get(c.doc, 0)
            seq[c.doc] = n + 1
            pk = S.chunk_pk(c.doc, n)
            scalars = S.chunk_scalars(c)
            sparse = vocab.doc_vector(toks, bm25)
            plan.append((pk, pos, c, scalars, sparse, S.fingerprint(pos, c.hash, scalars, sparse)))
        wanted = {p[0] for p in plan}

        def unchanged(pk: str, c: Chunk, fp: str) -> bool:
            old = stored.get(pk)
            return old is not None and old[1] == fp and old[0] == (S.ROWS if c.kind == ROW else S.SECTIONS)

        changed = [p for p in plan if not unchanged(p[0], p[2], p[5])]

        # dense vectors: stored ones by hash, else embedded (process cache first)
        need_hash = {p[2].hash: p[2].dense_text for p in changed}
        by_hash: dict[str, tuple[str, str]] = {}
        for pk, (coll, _fp, h) in stored.items():
            if h in need_hash and h not in by_hash:
                by_hash[h] = (coll, pk)
        vectors: dict[str, np.ndarray] = {}
        for coll in S.CHUNK_COLLECTIONS:
            pks = [pk for h, (c2, pk) in by_hash.items() if c2 == coll]
            got = self._get_vectors(coll, pks)
            for h, (c2, pk) in by_hash.items():
                if c2 == coll and pk in got:
                    vectors[h] = got[pk]
        missing = [h for h in need_hash if h not in vectors]
        fresh, n_embedded = _embed_cached(encoder, missing, [need_hash[h] for h in missing], show_progress)
        for h, v in zip(missing, fresh):
            vectors[h] = v
        dim = int(next(iter(vectors.values())).shape[0]) if vectors else int(prev_meta.get("dim") or encoder.dim)
        if same_model and prev_meta.get("dim") not in (None, dim):
            raise MilvusError(f"向量维度 {dim} 与 Milvus 中已有数据的维度 {prev_meta.get('dim')} 不一致")
        index_type = self._ensure_chunks(dim, len(chunks))

        # upsert changed entities, delete vanished ones
        batches: dict[str, list[dict[str, Any]]] = {S.ROWS: [], S.SECTIONS: []}
        for pk, pos, c, scalars, sparse, fp in changed:
            coll = S.ROWS if c.kind == ROW else S.SECTIONS
            old = stored.get(pk)
            if old is not None and old[0] != coll:
                self.client.delete(self.name(old[0]), ids=[pk])
            batches[coll].append({"pk": pk, "pos": pos, "hash": c.hash, "fp": fp, **scalars,
                                  "dense": vectors[c.hash].tolist(), "sparse": sparse or {0: 0.0}})
            if len(batches[coll]) >= BATCH:
                self.client.upsert(self.name(coll), batches[coll])
                batches[coll] = []
        for coll, rows in batches.items():
            if rows:
                self.client.upsert(self.name(coll), rows)
        gone: dict[str, list[str]] = {}
        for pk, (coll, _fp, _h) in stored.items():
            if pk not in wanted:
                gone.setdefault(coll, []).append(pk)
        for coll, pks in gone.items():
            for a in range(0, len(pks), BATCH):
                self.client.delete(self.name(coll), ids=pks[a:a + BATCH])

        # vocabulary and statistics
        prev_df = previous.df if previous is not None else {}
        prev_ids = previous.ids if previous is not None else {}
        vrows = [{"token": t, "tid": i, "df": vocab.df.get(t, 0), "v": S.DUMMY} for t, i in vocab.ids.items()
                 if prev_ids.get(t) != i or prev_df.get(t, 0) != vocab.df.get(t, 0)]
        for a in range(0, len(vrows), BATCH * 4):
            self.client.upsert(self.name(S.VOCAB), vrows[a:a + BATCH * 4])
        meta = {
            "schema_version": S.SCHEMA_VERSION, "model": model_id, "dim": dim, "dense_index": index_type,
            "n_docs": vocab.n_docs, "total_len": vocab.total_len, "next_id": vocab.next_id,
            "tokenizer": tokenizer.to_json(), "bm25": bm25.to_json(),
            "count": len(chunks), "rows": sum(1 for c in chunks if c.kind == ROW),
            **(extra_meta or {}),
        }
        self.client.upsert(self.name(S.META), [{"k": "index", "value": meta, "v": S.DUMMY}])
        self._meta_cache = meta
        self._vocab_cache.clear()
        stats = {"upserted": len(changed), "deleted": sum(len(v) for v in gone.values()),
                 "embedded": int(n_embedded), "reused": len(need_hash) - len(missing),
                 "vocabulary": len(vocab.ids), "changed_tokens": len(vrows)}
        log.info("milvus write: %s", stats)
        return {**meta, "stats": stats}

    def drop(self) -> None:
        for coll in (*S.CHUNK_COLLECTIONS, S.VOCAB, S.META):
            if self.client.has_collection(self.name(coll)):
                self.client.drop_collection(self.name(coll))
        self._loaded.clear()
        self._meta_cache = None
        self._vocab_cache.clear()

    # -- searching ---------------------------------------------------------------
    def tokenizer(self) -> TokenizerConfig:
        return TokenizerConfig.from_json(self.meta().get("tokenizer"))

    def query_vector(self, query: str) -> dict[int, float]:
        """idf weights of the query's known tokens (statistics read once per token)."""
        from search.retrieval.milvus.sparse import idf

        toks = tokenize(query, self.tokenizer())
        unknown = [t for t in dict.fromkeys(toks) if t not in self._vocab_cache]
        if unknown:
            from search.retrieval.milvus.expr import in_list

            found = {r["token"]: (int(r["tid"]), int(r["df"])) for r in self.client.query(
                self.name(S.VOCAB), filter=in_list("token", unknown), output_fields=["token", "tid", "df"])}
            for t in unknown:
                self._vocab_cache[t] = found.get(t, (-1, 0))
        n = int(self.meta().get("n_docs", 0))
        out: dict[int, float] = {}
        for t in toks:
            tid, df = self._vocab_cache[t]
            if df > 0 and tid not in out:
                out[tid] = idf(df, n)
        return out

    def _hits(self, res, collection: str) -> list[Candidate]:
        kind = _collection_kind(collection)
        out = []
        for hit in res:
            e = hit.get("entity", hit)
            out.append(_candidate(e, float(hit["distance"]), kind))
        return out

    def sparse_search(self, query: str, k: int, expr: str = "") -> list[Candidate]:
        """The ``k`` best BM25 candidates (score desc, position asc), like ``BM25Index.search``."""
        qv = self.query_vector(query)
        if not qv or k <= 0:
            return []
        limit = min(MAX_LIMIT, max(2 * k, k + 50))
        found: list[Candidate] = []
        for coll in S.CHUNK_COLLECTIONS:
            res = self.client.search(self.name(coll), data=[qv], anns_field="sparse", limit=limit, filter=expr,
                                     output_fields=S.HIT_FIELDS, search_params={"metric_type": "IP"})
            found.extend(c for c in self._hits(res[0], coll) if c.score > 0)
        found.sort(key=lambda c: (-np.float32(c.score), c.pos))
        return found[:k]

    def dense_search(self, vectors: np.ndarray, k: int, expr: str = "") -> list[list[Candidate]]:
        """Per query: the ``k`` best distinct passages (content hashes) with every allowed
        copy of each, best first, copies in position order (``DenseIndex`` + ``_expand``)."""
        index_type = self.meta().get("dense_index", "FLAT")
        params = self.params.dense_search_params(index_type)
        per_query: list[list[Candidate]] = [[] for _ in range(len(vectors))]
        data = [np.asarray(v, dtype=np.float32).tolist() for v in vectors]
        if not data or k <= 0:
            return per_query
        # grouped by content hash here, not with Milvus' group_by (slow in Milvus Lite): fetch
        # 3k copies, more while fewer than k+1 distinct passages came back
        pending = list(range(len(data)))
        limit = min(MAX_LIMIT, 3 * k)
        while pending:
            found: dict[int, list[Candidate]] = {i: [] for i in pending}
            full: set[int] = set()
            for coll in S.CHUNK_COLLECTIONS:
                res = self.client.search(self.name(coll), data=[data[i] for i in pending], anns_field="dense",
                                         limit=limit, filter=expr, output_fields=S.HIT_FIELDS, search_params=params)
                for i, hits in zip(pending, res):
                    cands = self._hits(hits, coll)
                    found[i].extend(cands)
                    if len(cands) >= limit:
                        full.add(i)
            retry = []
            for i in pending:
                per_query[i] = found[i]
                if i in full and len({c.hash for c in found[i]}) <= k and limit < MAX_LIMIT:
                    retry.append(i)
            pending, limit = retry, min(MAX_LIMIT, limit * 4)
        out = []
        for cands in per_query:
            groups: dict[str, list[Candidate]] = {}
            for c in cands:
                groups.setdefault(c.hash, []).append(c)
            ranked = sorted(groups.values(), key=lambda g: (-max(np.float32(c.score) for c in g),
                                                            min(c.pos for c in g)))[:k]
            flat: list[Candidate] = []
            for g in ranked:
                best = max(c.score for c in g)
                flat.extend(dataclasses.replace(c, score=best) for c in sorted(g, key=lambda c: c.pos))
            out.append(flat)
        return out

    def query_rows(self, expr: str, fields: Sequence[str] = ("pk", "pos", "row"), collection: str = S.ROWS,
                   batch: int = 2000) -> Iterator[dict[str, Any]]:
        """Every entity of ``collection`` matching ``expr`` (a query iterator: complete, paged)."""
        return self._iterate(collection, list(fields), expr, batch)

    def rows_at(self, positions: Sequence[int]) -> dict[int, Candidate]:
        """Chunks by position (both collections)."""
        out: dict[int, Candidate] = {}
        if not positions:
            return out
        for coll in S.CHUNK_COLLECTIONS:
            for a in range(0, len(positions), BATCH):
                part = ", ".join(str(int(p)) for p in positions[a:a + BATCH])
                for e in self.client.query(self.name(coll), filter=f"pos in [{part}]", output_fields=S.ROW_FIELDS):
                    out[int(e["pos"])] = _candidate(e, 0.0, _collection_kind(coll))
        return out

    def sparse_of(self, positions: Sequence[int]) -> dict[int, dict[int, float]]:
        """The stored BM25 vectors of chunks by position."""
        out: dict[int, dict[int, float]] = {}
        for coll in S.CHUNK_COLLECTIONS:
            for a in range(0, len(positions), BATCH):
                part = ", ".join(str(int(p)) for p in positions[a:a + BATCH])
                for e in self.client.query(self.name(coll), filter=f"pos in [{part}]", output_fields=["pos", "sparse"]):
                    out[int(e["pos"])] = {int(k): float(v) for k, v in (e.get("sparse") or {}).items()}
        return out

    def hybrid_search(self, query: str, vector: np.ndarray, k: int, expr: str, rrf_k: int) -> list[Candidate]:
        """Milvus' own fusion: ``hybrid_search`` of the sparse and dense requests with
        ``RRFRanker(rrf_k)`` in each collection, the two collections merged by score."""
        from pymilvus import AnnSearchRequest, RRFRanker

        qv = self.query_vector(query)
        params = self.params.dense_search_params(self.meta().get("dense_index", "FLAT"))
        found: list[Candidate] = []
        for coll in S.CHUNK_COLLECTIONS:
            reqs = [AnnSearchRequest([np.asarray(vector, dtype=np.float32).tolist()], "dense", params, k, expr=expr)]
            if qv:
                reqs.insert(0, AnnSearchRequest([qv], "sparse", {"metric_type": "IP"}, k, expr=expr))
            res = self.client.hybrid_search(self.name(coll), reqs, RRFRanker(rrf_k), limit=k,
                                            output_fields=S.ROW_FIELDS)
            found.extend(self._hits(res[0], coll))
        found.sort(key=lambda c: (-c.score, c.pos))
        return found[:k]

    def count(self) -> int:
        return int(self.meta().get("count", 0))


def require_index(index: MilvusIndex) -> None:
    if not index.exists():
        raise MilvusError(
            f"Milvus（{index.settings.describe()}）中还没有 perfsearch 的检索数据。"
            "请先运行：perfsearch ingest <文件夹>（保持同一个 --milvus / PERFSEARCH_MILVUS_URI 设置）"
        )


__all__ = ["Candidate", "MilvusIndex", "require_index"]
