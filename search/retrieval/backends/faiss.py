"""The embedded default backend: FAISS + bm25s + chunk table as files in the index directory.

A thin wrapper over ``search.retrieval.artifacts`` (writing, incremental by
content hash) and ``search.retrieval.retrieve`` (reading); the file layout is
documented in ``artifacts``."""

from __future__ import annotations

from typing import Any

from search.retrieval.backends.base import IndexBackend

# manifest["artifacts"] entries a complete faiss generation has
REQUIRED_ENTRIES = ("embedding", "faiss", "bm25", "chunks", "names")


class FaissBackend(IndexBackend):
    name = "faiss"

    def write(self, docs, generation, previous, encoder, *, show_progress=None) -> dict[str, Any]:
        from search.retrieval.artifacts import write_artifacts

        return write_artifacts(self.root, generation, docs, encoder, previous, show_progress=show_progress)

    def is_current(self, manifest, model_id: str) -> bool:
        from search.retrieval.chunks import CHUNK_VERSION

        arts = manifest.artifacts or {}
        if not all(k in arts for k in REQUIRED_ENTRIES):
            return False
        if arts["chunks"].get("version") != CHUNK_VERSION:
            return False
        return arts["embedding"].get("model") == model_id

    def retriever(self, manifest, encoder):
        from search.retrieval.retrieve import RetrievalOptions, load_retriever

        options = RetrievalOptions(query_threads=self.config.query_threads)
        return load_retriever(self.root, manifest, encoder=encoder, options=options)

    def name_vectors(self, manifest):
        from search.retrieval.artifacts import load_name_vectors

        return load_name_vectors(self.root, manifest)
