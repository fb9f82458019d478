"""The Milvus backend: search data of an index in Milvus / Milvus Lite collections.

Chosen by ``EngineConfig.milvus_uri`` (``--milvus`` / ``PERFSEARCH_MILVUS_URI``):
a local ``*.db`` path is Milvus Lite, ``http://host:19530`` a Milvus server or
cluster (``PERFSEARCH_MILVUS_TOKEN``, ``PERFSEARCH_MILVUS_DB``).  The documents
and the manifest stay in the index directory, like for every backend; the
stored indicator-name vectors for question answering too (one small file per
generation).

Milvus holds ONE live copy of the search data (``search.retrieval.milvus.store``),
updated in place by each ingest (upsert by content hash, delete of vanished
chunks).  Its ``meta`` record names the generation it holds: it is set to
``writing:<generation>`` before a write starts and to the generation when the
write is complete, so an interrupted write, or collections filled by another
index directory, are detected (``is_current`` is False, ``retriever`` refuses
with a Chinese message and the next ingest rebuilds them).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from search.retrieval.backends.base import IndexBackend

log = logging.getLogger(__name__)

WRITING = "writing:"


class MilvusBackend(IndexBackend):
    name = "milvus"

    def __init__(self, config, store):
        super().__init__(config, store)
        from search.retrieval.milvus.client import DEFAULT_PREFIX, MilvusSettings

        self.settings = MilvusSettings(config.milvus_uri or "", config.milvus_token or "", config.milvus_db or "",
                                       config.milvus_prefix or DEFAULT_PREFIX)
        # "server": fuse with Milvus' hybrid_search + RRFRanker instead of the embedded fusion
        # (measured worse: see docs/readme-milvus.md); "client" (default) ranks like faiss
        self.server_fusion = config.milvus_fusion == "server"
        self._index = None
        self.pushdowns = 0  # questions whose candidate rows were read from Milvus (condition_candidates)

    def index(self):
        """The ``MilvusIndex`` (connects on first use)."""
        if self._index is None:
            from search.retrieval.milvus.store import MilvusIndex

            self._index = MilvusIndex(self.settings)
        return self._index

    def describe(self) -> dict[str, Any]:
        return self.settings.to_json()

    # -- writing -------------------------------------------------------------------
    def write(self, docs, generation, previous, encoder, *, show_progress=None) -> dict[str, Any]:
        from search.retrieval.artifacts import build_name_vectors, file_names, load_name_vectors
        from search.retrieval.chunks import CHUNK_VERSION, ROW, build_chunks

        index = self.index()
        chunks = build_chunks(docs)
        index.set_generation(WRITING + generation)
        meta = index.write(chunks, encoder, show_progress=show_progress,
                           extra_meta={"generation": generation, "index": str(Path(self.root).resolve()),
                                       "chunk_version": CHUNK_VERSION})
        prev_entry = (getattr(previous, "artifacts", None) or {}).get("names") or {}
        prev_names = load_name_vectors(self.root, previous) if prev_entry.get("model") == encoder.model_id else None
        names, names_embedded = build_name_vectors(chunks, encoder, prev_names)
        names_file = file_names(generation)["names"]
        names.save(Path(self.root) / names_file)
        stats = meta.get("stats", {})
        n_rows = sum(1 for c in chunks if c.kind == ROW)
        return {
            "embedding": {"model": encoder.model_id, "dim": int(meta["dim"]), "count": len(chunks),
                          "embedded": int(stats.get("embedded", 0)), "reused": int(stats.get("reused", 0))},
            "names": {"model": encoder.model_id, "files": [names_file], "count": len(names.keys),
                      "concepts": len(names.concepts), "embedded": int(names_embedded)},
            "milvus": {**self.settings.to_json(), "generation": generation, "chunk_version": CHUNK_VERSION,
                       "dense_index": meta.get("dense_index"), "count": len(chunks), "rows": n_rows,
                       "sections": len(chunks) - n_rows, "upserted": int(stats.get("upserted", 0)),
                       "deleted": int(stats.get("deleted", 0))},
        }

    # -- reading -------------------------------------------------------------------
    def is_current(self, manifest, model_id: str) -> bool:
        from search.retrieval.chunks import CHUNK_VERSION
        from search.retrieval.milvus.schema import SCHEMA_VERSION

        arts = manifest.artifacts or {}
        entry = arts.get("milvus") or {}
        if not entry or "names" not in arts or entry.get("chunk_version") != CHUNK_VERSION:
            return False
        if (arts.get("embedding") or {}).get("model") != model_id:
            return False
        meta = self.index().meta(refresh=True)
        return meta.get("generation") == manifest.generation and meta.get("schema_version") == SCHEMA_VERSION

    def retriever(self, manifest, encoder):
        from search.retrieval.milvus.retriever import MilvusRetriever
        from search.retrieval.milvus.schema import SCHEMA_VERSION
        from search.retrieval.retrieve import ModelMismatchError, RetrievalOptions, SearchIndexMissing

        arts = manifest.artifacts or {}
        if "milvus" not in arts:
            raise SearchIndexMissing(
                f"索引 {self.root} 中没有 Milvus 检索数据。请重新运行：perfsearch ingest <文件夹> --index {self.root}"
                f"（Milvus 地址：{self.settings.describe()}）")
        index_model = (arts.get("embedding") or {}).get("model")
        if index_model != encoder.model_id:
            raise ModelMismatchError(Path(self.root), str(index_model), encoder.model_id)
        meta = self.index().meta(refresh=True)
        stored = meta.get("generation")
        if stored == manifest.generation and meta.get("schema_version") != SCHEMA_VERSION:
            raise SearchIndexMissing(
                f"Milvus（{self.settings.describe()}）中的检索数据由旧版本写入（格式 {meta.get('schema_version')}，"
                f"需要 {SCHEMA_VERSION}）。请重新运行：perfsearch ingest <文件夹> --index {self.root}")
        if stored != manifest.generation:
            if stored and stored.startswith(WRITING):
                why = "上一次写入没有完成（可能被中断），数据不完整"
            elif stored:
                why = "其中的检索数据属于另一次导入或另一个索引目录"
            else:
                why = "其中没有 perfsearch 的检索数据"
            raise SearchIndexMissing(
                f"Milvus（{self.settings.describe()}）与索引 {self.root} 不一致：{why}。"
                f"请重新运行：perfsearch ingest <文件夹> --index {self.root}（保持同一个 Milvus 地址）")
        options = RetrievalOptions(query_threads=self.config.query_threads)
        return MilvusRetriever(self.index(), encoder, options, server_fusion=self.server_fusion)

    def condition_candidates(self, plan, names):
        """A numeric-condition plan's candidate rows by one Milvus expression and a query iterator
        (``search.retrieval.milvus.qa.candidate_rows``); None when the plan is not expressible."""
        from search.retrieval.milvus.qa import candidate_rows

        rows = candidate_rows(self.index(), plan, names)
        if rows is not None:
            self.pushdowns += 1
        return rows

    def name_vectors(self, manifest):
        from search.retrieval.artifacts import load_name_vectors

        return load_name_vectors(self.root, manifest)

    def discard(self, generation: str) -> None:
        """Nothing to roll back: the meta record still says ``writing:<generation>``, so the
        half-written data is refused until the next complete ingest."""
        log.warning("Milvus write of generation %s failed; the next ingest rewrites the collections", generation)

    def close(self) -> None:
        if self._index is not None:
            try:
                self._index.client.close()
            finally:
                self._index = None
