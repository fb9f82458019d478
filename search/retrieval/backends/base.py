"""The index backend interface: where the search data of an index generation lives.

An index is always a local directory managed by ``indexer.store.IndexStore``:
``manifest.json`` plus the documents of the generation (SQLite).  The *backend*
holds what search needs on top of that, for exactly the generation the manifest
names, and is chosen by ``EngineConfig.backend`` (``create_backend``):

- ``faiss``  (default, embedded): files in the index directory, FAISS + bm25s
  + chunk table (``search.retrieval.artifacts`` / ``retrieve``).
- ``milvus`` (``EngineConfig.milvus_uri``): collections in Milvus / Milvus Lite
  (``search.retrieval.backends.milvus``).

The contract, as ``Engine`` uses it::

    backend = create_backend(config, store)      # cheap: imports no faiss/bm25s/model
    entries = backend.write(docs, generation, previous, encoder, show_progress=None)
        # called inside IndexStore.write (under the index lock) before the manifest
        # switches to ``generation``; builds the search data of exactly ``docs``,
        # reusing what ``previous`` (the manifest being replaced) holds for unchanged
        # content hashes.  Returns manifest["artifacts"] entries; every entry may list
        # index-directory files under "files" (kept by the store, the rest is deleted).
        # It MUST return an "embedding" entry with at least {"model": encoder.model_id}.
        # Engine adds the "backend" entry ({"name": backend.name, **backend.describe()}).
    backend.discard(generation)        # the write of ``generation`` failed: drop its data
    backend.cleanup(manifest)          # after the switch (NOT under the index lock): drop data of
        # generations that sort before manifest.generation and are not referenced by it
        # (generation names sort by creation time; a newer one may be being written)
    backend.is_current(manifest, model_id) -> bool
        # the generation has complete, current-format search data built by ``model_id``
    backend.retriever(manifest, encoder) -> Retriever
        # opens the generation; raises SearchIndexMissing / ModelMismatchError
        # (search.retrieval.retrieve) when absent or built by another model than
        # ``encoder.model_id``
    backend.name_vectors(manifest) -> NameVectors | None
        # stored query-prompt vectors of indicator names / lexicon concepts (QA)
    backend.condition_candidates(plan, names) -> list[dict] | None
        # question answering pushed down (optional; None = not supported, the Python
        # path over every row is used): the rows (``row_to_json`` objects, every copy)
        # in the scope of a numeric-condition plan whose name (one of ``names``) or
        # level matches its concept, read from the current generation's search data.
        # ``search.qa.answer.select_rows`` re-applies the Python rules to them.

``Retriever`` (returned by ``retriever``) is what ``Engine.search``,
suggestions and evaluation call; see the ``Retriever`` protocol below.
Positions (``Hit.position``, ``Retriever.row``) are chunk positions in
``search.retrieval.chunks.build_chunks(documents)`` order for every backend.

The manifest records the backend (``artifacts["backend"]["name"]``); an index
written by one backend is refused by the other (``BackendMismatchError``).
An index written before the record existed counts as ``faiss``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from search.retrieval.errors import SearchError

if TYPE_CHECKING:
    from indexer.model import Document
    from indexer.store import IndexStore, Manifest
    from search.config import EngineConfig
    from search.qa.question import Plan
    from search.retrieval.artifacts import NameVectors
    from search.retrieval.filters import Filters
    from search.retrieval.retrieve import SearchResult


class BackendError(SearchError):
    """The configured backend cannot be used; the message is Chinese."""


class BackendUnavailable(BackendError):
    """The backend's module or client library is not installed."""


class BackendMismatchError(BackendError):
    """The index was written by another backend than the configured one."""

    def __init__(self, index_dir: Path, index_backend: str, configured: str):
        self.index_dir = index_dir
        self.index_backend = index_backend
        self.configured = configured
        how = ("设置 --milvus / 环境变量 PERFSEARCH_MILVUS_URI 指向构建它的 Milvus"
               if index_backend == "milvus" else "去掉 --milvus / 环境变量 PERFSEARCH_MILVUS_URI")
        super().__init__(
            f"索引 {index_dir} 由检索后端「{index_backend}」构建，当前配置的后端是「{configured}」，"
            f"两者的检索数据不能混用，已拒绝打开。解决方法：{how}后再运行；"
            f"或用 --index 指定另一个目录，用当前后端重新导入（perfsearch ingest <文件或文件夹> --index <新目录>）。"
        )


class Retriever(Protocol):
    """The search side of one generation (``search.retrieval.retrieve.HybridRetriever`` for faiss)."""

    encoder: Any  # has .model_id and .encode_queries(texts)

    @property
    def model_id(self) -> str: ...

    def search_many(self, queries: Sequence[str], top_k: int = 10, filters: Filters | None = None,
                    mode: str = "hybrid", fusion: str = "rrf", depth: int | None = None,
                    matches_only: bool = False) -> list[SearchResult]:
        """One ``SearchResult`` per query (modes hybrid | bm25 | dense, fusion rrf | weighted);
        ``matches_only``: only chunks above the relevance floor, counted in ``total``."""
        ...

    def row(self, position: int) -> dict[str, Any]:
        """The stored hit object (``row_to_json`` keys) of chunk ``position``."""
        ...


class IndexBackend(abc.ABC):
    """Search data of the generations of one index directory (see the module docstring)."""

    name: ClassVar[str]

    def __init__(self, config: EngineConfig, store: IndexStore):
        self.config = config
        self.store = store

    @property
    def root(self) -> Path:
        return self.store.root

    @abc.abstractmethod
    def write(self, docs: list[Document], generation: str, previous: Manifest, encoder: Any, *,
              show_progress: bool | None = None) -> dict[str, Any]:
        """Build the search data of ``generation`` (= ``docs``); return manifest artifact entries."""

    @abc.abstractmethod
    def is_current(self, manifest: Manifest, model_id: str) -> bool:
        """True when ``manifest``'s generation has complete current search data built by ``model_id``."""

    @abc.abstractmethod
    def retriever(self, manifest: Manifest, encoder: Any) -> Retriever:
        """Open the search data of ``manifest``'s generation, queries encoded by ``encoder``."""

    def name_vectors(self, manifest: Manifest) -> NameVectors | None:
        """Stored indicator-name / concept vectors of the generation (None: not stored)."""
        return None

    def condition_candidates(self, plan: Plan, names: Sequence[str]) -> list[dict[str, Any]] | None:
        """Candidate rows of a numeric-condition question read from the backend (see the module
        docstring); None: not supported for this plan or backend, use the Python path."""
        return None

    def describe(self) -> dict[str, Any]:
        """Extra facts recorded beside the name in ``manifest["artifacts"]["backend"]``."""
        return {}

    def discard(self, generation: str) -> None:  # noqa: B027 - optional hook
        """Writing ``generation`` failed: remove what ``write`` stored outside the index directory."""

    def cleanup(self, manifest: Manifest) -> None:  # noqa: B027 - optional hook
        """``manifest`` is now current: remove data of generations older than it that it does not
        reference (called without the index lock: never touch a newer generation)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (the engine is done)."""


def recorded_backend(manifest: Manifest) -> str | None:
    """The backend that wrote ``manifest``'s search data (None: no search data yet)."""
    arts = getattr(manifest, "artifacts", None) or {}
    name = (arts.get("backend") or {}).get("name")
    if name:
        return str(name)
    return "faiss" if "faiss" in arts else None  # written before the backend was recorded


def check_backend(manifest: Manifest, backend: IndexBackend) -> None:
    """Raise ``BackendMismatchError`` when ``manifest`` was written by another backend."""
    recorded = recorded_backend(manifest)
    if recorded is not None and recorded != backend.name:
        raise BackendMismatchError(backend.root, recorded, backend.name)
