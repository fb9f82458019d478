"""``Engine``: the one entry point the CLI and the web UI call."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer.model import Document, row_to_json, table_to_json
from indexer.store import IndexStore, IndexUnavailable

if TYPE_CHECKING:  # the ingest pipeline (parsers, cn2an) is imported only by ingest()
    from indexer.pipeline import IngestReport, Progress

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
        # caches filled lazily: nothing here imports the model, faiss or bm25s
        self._search_lock = threading.Lock()
        self._search_cache: tuple[tuple[str, str | None], Any] | None = None  # ((generation, model), retriever)
        self._qa_ctx: Any = None  # search.qa.answer.QAContext of self._generation

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
        self, paths: Iterable[Path | str], *, prune: bool = False, progress: Progress | None = None,
        show_progress: bool | None = None,
    ) -> IngestReport:
        """``show_progress``: embedding progress bar on stderr (None: only for large batches, False: never)."""
        from indexer.pipeline import ingest_paths

        try:
            # every new generation also gets its search artefacts (issue 3)
            report = ingest_paths(paths, self.store, prune=prune, progress=progress,
                                  extra_writer=self._search_writer(show_progress))
            self.rebuild_search_index()  # only when the model or artefact format changed
        except IndexUnavailable as exc:
            raise EngineError(str(exc)) from exc
        except Exception as exc:
            from search.retrieval.artifacts import SearchError

            if isinstance(exc, SearchError):  # e.g. the embedding model cannot be loaded
                raise EngineError(str(exc)) from exc
            raise
        self._docs = None
        return report

    def rows_json(self) -> list[dict]:
        self.require_index()
        return [row_to_json(d, t, r) for d in self.documents() for t in d.tables for r in t.rows]

    def docs_json(self) -> list[dict]:
        self.require_index()
        return [table_to_json(d, t) for d in self.documents() for t in d.tables]

    # --- search (issue 3): methods below are added by search/retrieval/retrieve.py's owner ---
    # Model: Engine(model=...) or $PERFSEARCH_MODEL; None = the model recorded in the
    # index (the default model for a new index).  Encoder and indexes load lazily,
    # once per Engine and index generation.

    def requested_model(self) -> str | None:
        import os

        return self.model or os.environ.get("PERFSEARCH_MODEL") or None

    def _build_model_id(self, manifest) -> str:
        from search.retrieval.artifacts import resolve_model_id

        recorded = (manifest.artifacts.get("embedding") or {}).get("model")
        requested = self.requested_model()
        return recorded if requested is None and recorded else resolve_model_id(requested)

    def _search_writer(self, show_progress: bool | None = None):
        """The store's ``extra_writer``: search artefacts for the generation being written."""

        def writer(root, generation, docs):
            from search.retrieval.artifacts import LazyEncoder, write_artifacts

            previous = self.store.manifest()  # not yet switched: the generation being replaced
            encoder = LazyEncoder(self._build_model_id(previous))
            return write_artifacts(root, generation, docs, encoder, previous, show_progress=show_progress)

        return writer

    def search_artifacts_current(self) -> bool:
        """True when the index has search artefacts of this version built by the requested model."""
        from search.retrieval.chunks import CHUNK_VERSION

        m = self.store.manifest()
        arts = m.artifacts or {}
        if not all(k in arts for k in ("embedding", "faiss", "bm25", "chunks", "names")):
            return False
        if arts["chunks"].get("version") != CHUNK_VERSION:
            return False
        return arts["embedding"].get("model") == self._build_model_id(m)

    def rebuild_search_index(self, force: bool = False) -> bool:
        """Rewrite the search artefacts when missing, outdated or built by another model
        than the requested one (embeddings are reused where possible).  Returns True if rebuilt."""
        if not self.store.exists() or (not force and self.search_artifacts_current()):
            return False
        with self.store.lock():
            docs = self.store.documents()
            self.store.write(docs, extra_writer=self._search_writer())
        self._search_cache = None
        self._qa_ctx = None
        return True

    def retriever(self):
        """The ``search.retrieval.retrieve.HybridRetriever`` of the current generation (cached)."""
        from search.retrieval.retrieve import SearchError, load_retriever

        self.require_index()
        with self._search_lock:
            try:
                m = self.store.manifest()
            except IndexUnavailable as exc:
                raise EngineError(str(exc)) from exc
            cache = self._search_cache
            if cache is not None and cache[0] == (m.generation, self.requested_model()):
                return cache[1]
            try:
                r = load_retriever(self.store.root, m, model=self.requested_model())
            except SearchError as exc:
                raise EngineError(str(exc)) from exc
            self._search_cache = ((m.generation, self.requested_model()), r)
            return r

    def search(self, query: str, *, top_k: int = 10, filters=None, mode: str = "hybrid", fusion: str = "rrf",
               matches_only: bool = False):
        """``search.retrieval.retrieve.SearchResult`` (hits + clusters) for one query; ``matches_only``:
        only hits above the relevance floor, with their number in ``total``."""
        return self.search_batch([query], top_k=top_k, filters=filters, mode=mode, fusion=fusion,
                                 matches_only=matches_only)[0]

    def search_batch(self, queries, *, top_k: int = 10, filters=None, mode: str = "hybrid", fusion: str = "rrf",
                     matches_only: bool = False):
        """One ``SearchResult`` per query, same filters for all (queries encoded in one batch)."""
        from search.retrieval.filters import FilterError, Filters
        from search.retrieval.retrieve import SearchError

        try:
            if isinstance(filters, dict):
                filters = Filters.from_json(filters)
            return self.retriever().search_many(list(queries), top_k=top_k, filters=filters or Filters(),
                                                mode=mode, fusion=fusion, matches_only=matches_only)
        except (SearchError, FilterError) as exc:
            raise EngineError(str(exc)) from exc

    def search_json(self, query: str, **kwargs) -> list[dict]:
        """Hits as ``perfsearch rows --json`` objects plus ``score`` and ``chunk``."""
        return [h.to_json() for h in self.search(query, **kwargs).hits]

    def evaluate_search(self, queries_path=None, *, top_k: int = 10, modes=("bm25", "dense", "hybrid")):
        """Recall@k, MRR and nDCG@k per mode on a labelled query file (search/evaluation/evaluate.py)."""
        from search.evaluation.evaluate import DEFAULT_QUERIES, evaluate_search, load_queries

        queries = load_queries(queries_path or DEFAULT_QUERIES)
        return evaluate_search(self, queries, top_k=top_k, modes=modes)

    def fast_embed_model_id(self) -> str:
        """The ``--fast-embed`` (onnxruntime int8) variant of this index's model."""
        from indexer.embedding import FAST_SUFFIX, split_precision
        from search.retrieval.artifacts import resolve_model_id

        m = self.store.manifest()
        base = split_precision(self._build_model_id(m))[0] or resolve_model_id(None)
        return base + FAST_SUFFIX

    def evaluate_search_fast(self, queries_path=None, *, top_k: int = 10, modes=("dense", "hybrid")):
        """(report of this index, report of the same documents embedded with ``--fast-embed``).

        The int8 copy is built in a temporary directory (documents re-embedded
        by the int8 model, queries encoded by it too) and removed afterwards."""
        import shutil
        import tempfile

        self.require_index()
        current = self.evaluate_search(queries_path, top_k=top_k, modes=modes)
        tmp = tempfile.mkdtemp(prefix="perfsearch-fast-eval-")
        try:
            fast = Engine(tmp, model=self.fast_embed_model_id())
            fast.store.write(self.documents(), extra_writer=fast._search_writer())
            return current, fast.evaluate_search(queries_path, top_k=top_k, modes=modes)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # --- question answering (issue 4) ---
    def ask(self, question: str):
        """Answer a Chinese question over all rows and tables (``search.qa.answer.Answer``)."""
        return self.qa_context().ask(question)

    def qa_context(self):
        """Catalog, parser vocabulary and concept matcher, cached per index generation."""
        from search.qa.answer import QAContext

        self.require_index()
        docs = self.documents()
        ctx = self._qa_ctx
        if ctx is None or ctx.generation != self._generation:
            ctx = self._qa_ctx = QAContext.for_engine(self, docs, self._generation, previous=ctx)
            self._use_stored_name_vectors(ctx.matcher)
        return ctx

    def _use_stored_name_vectors(self, matcher) -> bool:
        """Give the concept matcher the name/concept vectors stored at ingest, so a
        question about a lexicon concept loads no model.  Only when they were built
        by the model question answering would load; the matcher then loads that
        model (ONNX when possible) only for free phrases.  Returns True if used."""
        from search.qa.answer import semantic_disabled
        from search.retrieval.artifacts import get_encoder, load_name_vectors, resolve_model_id

        if semantic_disabled():
            return False
        try:
            m = self.store.manifest()
        except IndexUnavailable:
            return False
        entry = (m.artifacts or {}).get("names") or {}
        requested = self.requested_model()
        wanted = resolve_model_id(requested) if requested else entry.get("model")
        if not entry or entry.get("model") != wanted:
            return False
        stored = load_name_vectors(self.store.root, m)
        if stored is None:
            return False
        model_id = entry["model"]

        def loader():
            try:
                return get_encoder(model_id)
            except Exception as exc:  # no model available: stored vectors and lexical matching only
                log.warning("无法加载嵌入模型，问答只使用已存储的向量和字面匹配：%s", exc)
                return None

        loaded = matcher.loaded_encoder()
        usable = loaded if loaded is not None and getattr(loaded, "model_id", None) == model_id else loader
        matcher.use_stored(stored.name_dict(), stored.concept_dict(), usable)
        return True

    # --- drafting (issue 5) ---
    def check(self, source):
        """Check a file path (txt/pdf/xlsx or draft JSON), a Draft, a Table or a Document.

        Returns ``list[search.drafting.check.TableReport]``; needs no index (search/drafting/check.py)."""
        from search.drafting.check import check_source

        return check_source(source)

    def suggest(self, text: str, **kwargs):
        """Indicator suggestions grouped by 一级/二级 for a project name, goal or indicator
        (``search.drafting.suggest.suggest``; keyword arguments are documented there)."""
        from search.drafting.suggest import suggest

        self.require_index()
        return suggest(self, text, **kwargs)
