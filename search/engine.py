"""``Engine``: the one entry point the CLI and the web UI call."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from indexer.model import Document, row_to_json, table_to_json
from indexer.pipeline import IngestReport, Progress, ingest_paths
from indexer.store import IndexStore, IndexUnavailable

log = logging.getLogger(__name__)


class EngineError(Exception):
    """A user-facing error (Chinese message)."""


class Engine:
    """Facade over the index: ingestion, search, question answering, drafting.

    Each capability lives in its own module under ``search/``; the methods here
    only load what is needed (lazily, cached per index generation) and delegate.
    """

    def __init__(self, index_dir: Path | str | None = None, model: str | None = None):
        self.store = IndexStore(index_dir)
        self.model = model  # None: the model recorded in the index, else the default model
        self._docs: list[Document] | None = None
        self._generation: str | None = None

    # -- corpus ----------------------------------------------------------------
    @property
    def index_dir(self) -> Path:
        return self.store.root

    def has_index(self) -> bool:
        return self.store.exists()

    def documents(self) -> list[Document]:
        try:
            m = self.store.manifest()
        except IndexUnavailable as exc:
            raise EngineError(str(exc)) from exc
        if self._docs is None or self._generation != m.generation:
            try:
                self._docs = self.store.documents()
            except IndexUnavailable as exc:
                raise EngineError(str(exc)) from exc
            self._generation = m.generation
        return self._docs

    def require_index(self) -> None:
        if not self.has_index():
            raise EngineError(
                f"索引目录 {self.index_dir} 中还没有索引。请先运行：perfsearch ingest corpus/ --index {self.index_dir}"
            )

    def ingest(
        self, paths: Iterable[Path | str], *, prune: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        try:
            report = ingest_paths(paths, self.store, prune=prune, progress=progress)
        except IndexUnavailable as exc:
            raise EngineError(str(exc)) from exc
        self._docs = None
        return report

    def rows_json(self) -> list[dict]:
        self.require_index()
        return [row_to_json(d, t, r) for d in self.documents() for t in d.tables for r in t.rows]

    def docs_json(self) -> list[dict]:
        self.require_index()
        return [table_to_json(d, t) for d in self.documents() for t in d.tables]

    # --- search (issue 3): methods below are added by search/retrieve.py's owner ---

    # --- question answering (issue 4) ---

    # --- drafting (issue 5) ---
