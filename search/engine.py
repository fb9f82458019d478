"""``Engine``: the one entry point the CLI and the web UI call."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer.model import Document, row_to_json, table_to_json
from indexer.store import IndexStore, IndexUnavailable
from search.config import ConfigError, EngineConfig
from search.retrieval.backends import (
    BackendError,
    IndexBackend,
    Retriever,
    check_backend,
    create_backend,
    recorded_backend,
)

if TYPE_CHECKING:  # the ingest pipeline (parsers, cn2an) is imported only by ingest()
    from indexer.pipeline import IngestReport, Progress

log = logging.getLogger(__name__)


class EngineError(Exception):
    """A user-facing error (Chinese message)."""


class Engine:
    """Facade over the index: ingestion, search, question answering, drafting.

    The composition root: ``Engine(config)`` builds and owns its parts (the index
    store, the search backend chosen by ``config.backend``, and the caches below,
    each filled lazily per index generation).  Each capability lives in its own
    module under ``search/``; the methods here only load what is needed and delegate.
    ``Engine.open(index_dir, model=...)`` is the short form that reads the rest of
    the settings from the environment.
    """

    def __init__(self, config: EngineConfig | None = None):
        if config is not None and not isinstance(config, EngineConfig):
            raise TypeError("Engine(config) takes an EngineConfig; use Engine.open(index_dir, model=...)")
        self.config = config if config is not None else EngineConfig.from_env()
        self.store = IndexStore(self.config.index_dir)
        try:
            self.backend: IndexBackend = create_backend(self.config, self.store)
        except BackendError as exc:
            raise EngineError(str(exc)) from exc
        # caches, filled lazily: nothing here imports the model, faiss or bm25s
        self._docs: list[Document] | None = None  # documents of self._generation
        self._generation: str | None = None
        self._search_lock = threading.Lock()
        self._search_cache: tuple[tuple[str, str | None], Retriever] | None = None  # ((generation, model), retriever)
        self._qa_ctx: Any = None  # search.qa.answer.QAContext of self._generation
        self._suggest_catalog: tuple[list[Document], Any] | None = None  # (documents, search.drafting.suggest.Catalog)

    @classmethod
    def open(cls, index_dir: Path | str | None = None, *, model: str | None = None, **settings: Any) -> Engine:
        """``Engine(EngineConfig.from_env(index_dir=..., model=..., **settings))``: arguments that
        are None fall back to the environment (``PERFSEARCH_INDEX``, ``PERFSEARCH_MODEL`` ...)."""
        try:
            config = EngineConfig.from_env(index_dir=index_dir, model=model, **settings)
        except ConfigError as exc:
            raise EngineError(str(exc)) from exc
        return cls(config)

    # -- corpus ----------------------------------------------------------------
    @property
    def model(self) -> str | None:
        """The requested embedding model (None: the model recorded in the index)."""
        return self.config.model

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
        from search.retrieval.artifacts import SearchError

        try:
            self._check_backend()
            # every new generation also gets its search artefacts (issue 3)
            report = ingest_paths(paths, self.store, prune=prune, progress=progress,
                                  extra_writer=self._search_writer(show_progress))
            self._after_write()
            self.rebuild_search_index(show_progress=show_progress)  # only when the model or format changed
        except IndexUnavailable as exc:
            raise EngineError(str(exc)) from exc
        except SearchError as exc:  # e.g. the embedding model cannot be loaded
            raise EngineError(str(exc)) from exc
        self._docs = None
        return report

    def rows_json(self) -> list[dict]:
        self.require_index()
        return [row_to_json(d, t, r) for d in self.documents() for t in d.tables for r in t.rows]

    def docs_json(self) -> list[dict]:
        self.require_index()
        return [table_to_json(d, t) for d in self.documents() for t in d.tables]

    # --- search (issue 3) ---
    # Model: EngineConfig.model ($PERFSEARCH_MODEL); None = the model recorded in the
    # index (the default model for a new index).  The backend's retriever and the
    # query encoder load lazily, once per Engine, index generation and model.

    def requested_model(self) -> str | None:
        return self.config.model

    def _build_model_id(self, manifest) -> str:
        from search.retrieval.artifacts import resolve_model_id

        recorded = (manifest.artifacts.get("embedding") or {}).get("model")
        requested = self.requested_model()
        return recorded if requested is None and recorded else resolve_model_id(requested)

    def _check_backend(self, manifest=None) -> None:
        """EngineError when the index's search data was written by another backend."""
        from search.retrieval.backends import BackendMismatchError

        try:
            check_backend(manifest if manifest is not None else self.store.manifest(), self.backend)
        except BackendMismatchError as exc:
            raise EngineError(str(exc)) from exc

    def _search_writer(self, show_progress: bool | None = None):
        """The store's ``extra_writer``: the backend's search data for the generation being written,
        and the backend's name in the manifest."""

        def writer(root, generation, docs):
            from search.retrieval.artifacts import LazyEncoder

            previous = self.store.manifest()  # not yet switched: the generation being replaced
            encoder = LazyEncoder(self._build_model_id(previous))
            try:
                entries = dict(self.backend.write(docs, generation, previous, encoder, show_progress=show_progress))
            except BaseException:
                self.backend.discard(generation)
                raise
            entries["backend"] = {"name": self.backend.name, **self.backend.describe()}
            return entries

        return writer

    def _after_write(self) -> None:
        """A new generation is current: the backend drops data of older ones."""
        if self.store.exists():
            self.backend.cleanup(self.store.manifest())

    def search_artifacts_current(self) -> bool:
        """True when the index has complete current search data built by the requested model
        (EngineError when it was written by another backend)."""
        m = self.store.manifest()
        self._check_backend(m)
        return self.backend.is_current(m, self._build_model_id(m))

    def rebuild_search_index(self, force: bool = False, *, show_progress: bool | None = None) -> bool:
        """Rewrite the search data when missing, outdated or built by another model
        than the requested one (embeddings are reused where possible).  Returns True if rebuilt.
        ``show_progress`` as in :meth:`ingest`."""
        if not self.store.exists() or (not force and self.search_artifacts_current()):
            return False
        with self.store.lock():
            docs = self.store.documents()
            self.store.write(docs, extra_writer=self._search_writer(show_progress))
        self._after_write()
        self._search_cache = None
        self._qa_ctx = None
        return True

    def retriever(self) -> Retriever:
        """The backend's retriever of the current generation (cached per generation and model;
        ``search.retrieval.retrieve.HybridRetriever`` for the faiss backend)."""
        from search.retrieval.artifacts import LazyEncoder, SearchError

        self.require_index()
        with self._search_lock:
            try:
                m = self.store.manifest()
            except IndexUnavailable as exc:
                raise EngineError(str(exc)) from exc
            key = (m.generation, self.requested_model())
            cache = self._search_cache
            if cache is not None and cache[0] == key:
                return cache[1]
            self._check_backend(m)
            try:
                r = self.backend.retriever(m, LazyEncoder(self._build_model_id(m)))
            except SearchError as exc:
                raise EngineError(str(exc)) from exc
            self._search_cache = (key, r)
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
            fast = Engine(replace(self.config, index_dir=Path(tmp), model=self.fast_embed_model_id()))
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

    def pushdown(self):
        """``condition_candidates`` when the backend answers condition questions itself
        (it overrides ``IndexBackend.condition_candidates``), else None (the Python path)."""
        from search.retrieval.backends import IndexBackend

        overridden = type(self.backend).condition_candidates is not IndexBackend.condition_candidates
        return self.condition_candidates if overridden else None

    def condition_candidates(self, plan, names) -> list[dict] | None:
        """The backend's candidate rows of a numeric-condition plan (row objects, every copy),
        None when it cannot express the plan; the backend's data is checked to be the current
        generation's first (``retriever``: EngineError otherwise)."""
        from search.retrieval.errors import SearchError

        self.retriever()
        try:
            return self.backend.condition_candidates(plan, names)
        except SearchError as exc:
            raise EngineError(str(exc)) from exc

    def _use_stored_name_vectors(self, matcher) -> bool:
        """Give the concept matcher the name/concept vectors stored at ingest, so a
        question about a lexicon concept loads no model.  Only when they were built
        by the model question answering would load; the matcher then loads that
        model (ONNX when possible) only for free phrases.  Returns True if used."""
        from search.retrieval.artifacts import get_encoder, resolve_model_id

        if not self.config.qa_semantic:
            return False
        try:
            m = self.store.manifest()
        except IndexUnavailable:
            return False
        entry = (m.artifacts or {}).get("names") or {}
        requested = self.requested_model()
        wanted = resolve_model_id(requested) if requested else entry.get("model")
        if not entry or entry.get("model") != wanted or recorded_backend(m) not in (None, self.backend.name):
            return False
        stored = self.backend.name_vectors(m)
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

    def suggest_catalog(self):
        """The ``search.drafting.suggest.Catalog`` of the current generation, with the
        retriever's chunk positions mapped to tables (cached per generation)."""
        from search.drafting.suggest import Catalog

        docs = self.documents()
        cached = self._suggest_catalog
        if cached is not None and cached[0] is docs:
            return cached[1]
        cat = Catalog.build(docs)
        cat.map_positions(docs, self.retriever().row)
        self._suggest_catalog = (docs, cat)
        return cat

    def close(self) -> None:
        """Release the backend's connections."""
        self.backend.close()
