"""Dense vector index: FAISS inner product over L2-normalised vectors.

Vectors live in *slots* (stable int64 ids, one per distinct chunk content hash),
so an index can be updated incrementally between generations: vectors of
removed chunks are removed by slot, new ones are added with new slots.

Index kinds, chosen automatically from the number of vectors (configurable):

- ``flat``: exact ``IndexFlatIP`` inside ``IndexIDMap2`` (up to ``exact_threshold``);
- ``ivf``: approximate ``IndexIVFFlat`` (inner product), supports incremental
  add/remove; retrained from scratch when the collection grows or shrinks 4x;
- ``hnsw``: approximate ``IndexHNSWFlat`` inside ``IndexIDMap2``; FAISS cannot
  remove from HNSW, so removals rebuild it from the stored vectors.

Each is built from a ``faiss.index_factory`` description (``IDMap2,Flat`` ...).

Filtered searches never lose recall: when the allowed set is small the search is
exact over the allowed vectors; otherwise FAISS searches with a bitmap
``IDSelector`` and falls back to the exact path if it returns too few hits.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

KINDS = ("flat", "ivf", "hnsw")


@dataclass(frozen=True)
class DenseConfig:
    kind: str = "auto"  # "auto" | "flat" | "ivf" | "hnsw"
    exact_threshold: int = 50_000  # auto: flat up to this many vectors, approximate above
    approximate: str = "ivf"  # approximate kind used by "auto"
    nlist: int = 0  # IVF lists; 0 = 2*sqrt(n)
    nprobe: int = 0  # IVF lists probed; 0 = automatic (see ``auto_nprobe``)
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128
    exact_subset: int = 20_000  # filtered searches over at most this many vectors are exact

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> DenseConfig:
        known = {k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


def choose_kind(n: int, config: DenseConfig) -> str:
    if config.kind != "auto":
        if config.kind not in KINDS:
            raise ValueError(f"unknown dense index kind {config.kind!r}")
        return config.kind
    return "flat" if n <= config.exact_threshold else config.approximate


def auto_nlist(n: int, config: DenseConfig) -> int:
    if config.nlist:
        return config.nlist
    return int(min(16384, max(16, round(2 * math.sqrt(max(n, 1))))))


def auto_nprobe(nlist: int, config: DenseConfig) -> int:
    if config.nprobe:
        return min(config.nprobe, nlist)
    return int(min(nlist, max(16, nlist // 12)))


def _faiss():
    import faiss

    return faiss


class DenseIndex:
    """A FAISS index over slots plus the slot-sorted vectors (for exact subset search)."""

    def __init__(self, index, kind: str, vectors: np.ndarray, slots: np.ndarray, config: DenseConfig,
                 meta: dict[str, Any] | None = None):
        self.index = index
        self.kind = kind
        self.vectors = vectors  # (n, dim) float32, rows sorted by slot
        self.slots = slots  # (n,) int64, sorted ascending
        self.config = config
        self.meta = dict(meta or {})
        self._configure_search()

    # -- construction ---------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(cls, vectors: np.ndarray, slots: np.ndarray, config: DenseConfig | None = None,
              dim: int | None = None) -> DenseIndex:
        """A fresh index over ``vectors`` (rows sorted by ``slots``)."""
        faiss = _faiss()
        config = config or DenseConfig()
        n = int(vectors.shape[0])
        dim = int(vectors.shape[1]) if vectors.ndim == 2 and vectors.shape[1] else int(dim or 0)
        kind = choose_kind(n, config) if n else "flat"  # nothing to train an approximate index on
        meta: dict[str, Any] = {"trained_n": n}
        nlist = min(auto_nlist(n, config), max(1, n)) if kind == "ivf" else 0
        spec = {"flat": "IDMap2,Flat", "hnsw": f"IDMap2,HNSW{config.hnsw_m},Flat", "ivf": f"IVF{nlist},Flat"}[kind]
        index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
        if kind == "hnsw":
            faiss.downcast_index(index.index).hnsw.efConstruction = config.ef_construction
        elif kind == "ivf":
            sample = _training_sample(vectors, nlist)
            log.info("training IVF index: %d lists on %d vectors", nlist, len(sample))
            index.train(sample)
            meta["nlist"] = nlist
        if n:
            _add_in_batches(index, vectors, slots)
        return cls(index, kind, vectors, slots, config, meta)

    def updated(self, vectors: np.ndarray, slots: np.ndarray, removed: np.ndarray, added: np.ndarray
                ) -> DenseIndex:
        """This index moved to a new generation: ``vectors``/``slots`` are the new full
        (slot-sorted) collection, ``removed``/``added`` the slot differences.

        Updates in place when the kind allows it, otherwise rebuilds."""
        n = int(vectors.shape[0])
        kind = choose_kind(n, self.config)
        trained = int(self.meta.get("trained_n", n) or 1)
        rebuild = (
            kind != self.kind
            or (self.kind == "hnsw" and len(removed))
            or (self.kind == "ivf" and (n > 4 * trained or n * 4 < trained))
        )
        if rebuild:
            log.info("rebuilding dense index (%s -> %s, %d vectors)", self.kind, kind, n)
            return DenseIndex.build(vectors, slots, self.config, dim=self.dim)
        if len(removed):
            self.index.remove_ids(np.ascontiguousarray(removed, dtype=np.int64))
        if len(added):
            pos = np.searchsorted(slots, added)
            _add_in_batches(self.index, vectors[pos], added)
        return DenseIndex(self.index, self.kind, vectors, slots, self.config, self.meta)

    # -- persistence ------------------------------------------------------------------
    def save(self, path: Path) -> None:
        _faiss().write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, vectors: np.ndarray, slots: np.ndarray, kind: str, config: DenseConfig,
             meta: dict[str, Any] | None = None) -> DenseIndex:
        index = _faiss().read_index(str(path))
        if index.ntotal != len(slots):
            raise ValueError(f"dense index {path} holds {index.ntotal} vectors, expected {len(slots)}")
        return cls(index, kind, vectors, slots, config, meta)

    # -- search ---------------------------------------------------------------------------
    def _configure_search(self) -> None:
        faiss = _faiss()
        self._params = None
        if self.kind == "ivf":
            nlist = int(self.index.nlist)
            self.nprobe = auto_nprobe(nlist, self.config)
            self.index.nprobe = self.nprobe
        elif self.kind == "hnsw":
            faiss.downcast_index(self.index.index).hnsw.efSearch = self.config.ef_search

    def _search_params(self, sel, k: int):
        faiss = _faiss()
        if self.kind == "ivf":
            return faiss.SearchParametersIVF(sel=sel, nprobe=self.nprobe)
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.config.ef_search, k))
        return faiss.SearchParameters(sel=sel)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
               ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Top ``k`` (slots, scores) per query row; ``allowed`` restricts to these slots."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n = len(self.slots)
        if n == 0 or k <= 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in range(len(q))]
        k = min(k, n)
        if allowed is None:
            if self.kind == "hnsw":
                # efSearch must cover k for HNSW to return k results
                params = self._search_params(None, k)
                scores, ids = self.index.search(q, k, params=params)
            else:
                scores, ids = self.index.search(q, k)
            return [_valid(ids[i], scores[i]) for i in range(len(q))]
        allowed = np.asarray(allowed, dtype=np.int64)
        if len(allowed) == 0:
            return [(np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in range(len(q))]
        k = min(k, len(allowed))
        if self.kind != "flat" and len(allowed) <= self.config.exact_subset:
            return self.exact_subset(q, k, allowed)
        out = self._selector_search(q, k, allowed)
        if any(len(s) < k for s, _ in out):
            return self.exact_subset(q, k, allowed)
        return out

    def _selector_search(self, q: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        faiss = _faiss()
        top = int(self.slots[-1]) + 1
        mask = np.zeros(top, dtype=bool)
        mask[allowed[allowed < top]] = True
        bitmap = np.packbits(mask, bitorder="little")
        sel = faiss.IDSelectorBitmap(bitmap)
        scores, ids = self.index.search(q, k, params=self._search_params(sel, k))
        del sel, bitmap
        return [_valid(ids[i], scores[i]) for i in range(len(q))]

    def exact_subset(self, q: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Exact top-k over the allowed slots only."""
        pos = np.searchsorted(self.slots, allowed)
        inside = pos < len(self.slots)
        pos, allowed = pos[inside], allowed[inside]
        pos = pos[self.slots[pos] == allowed]
        k = min(k, len(pos))
        sub = np.asarray(self.vectors[pos], dtype=np.float32)
        sims = q @ sub.T  # (m, len(pos))
        out = []
        for row in sims:
            top = _topk(row, k)
            out.append((self.slots[pos[top]], row[top].astype(np.float32)))
        return out


def _valid(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = ids >= 0
    return ids[keep].astype(np.int64), scores[keep].astype(np.float32)


def _topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first (ties by index)."""
    if k >= len(scores):
        return np.lexsort((np.arange(len(scores)), -scores))
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.lexsort((part, -scores[part]))]


def _training_sample(vectors: np.ndarray, nlist: int) -> np.ndarray:
    n = int(vectors.shape[0])
    want = min(n, max(40 * nlist, 10_000))
    if want >= n:
        return np.ascontiguousarray(vectors, dtype=np.float32)
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(n, size=want, replace=False))
    return np.ascontiguousarray(vectors[idx], dtype=np.float32)


def _add_in_batches(index, vectors: np.ndarray, slots: np.ndarray, batch: int = 65536) -> None:
    for a in range(0, len(slots), batch):
        v = np.ascontiguousarray(vectors[a : a + batch], dtype=np.float32)
        index.add_with_ids(v, np.ascontiguousarray(slots[a : a + batch], dtype=np.int64))
