"""Keyword retrieval: bm25s over the shared jieba tokenizer (``search.retrieval.tokenize``).

Document ids are chunk positions of the generation.  Scores are computed for
every document (a sparse column sum), so a filter is applied exactly: scores of
documents outside the allowed mask are dropped before taking the top k.
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BM25Config:
    k1: float = 1.2
    b: float = 0.75
    method: str = "lucene"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> BM25Config:
        known = {k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@contextlib.contextmanager
def _quiet():
    """bm25s prints progress bars and logs every index build at DEBUG; keep output clean."""
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


class BM25Index:
    def __init__(self, model, n_docs: int):
        self.model = model  # bm25s.BM25 or None for an empty collection
        self.n_docs = n_docs
        self._vocab: dict[str, int] = dict(model.vocab_dict) if model is not None else {}

    @classmethod
    def build(cls, token_lists: list[list[str]], config: BM25Config | None = None) -> BM25Index:
        import bm25s

        config = config or BM25Config()
        n = len(token_lists)
        if n == 0 or not any(token_lists):
            return cls(None, n)
        model = bm25s.BM25(k1=config.k1, b=config.b, method=config.method)
        with _quiet():
            model.index(token_lists, show_progress=False)
        return cls(model, n)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / "n_docs.txt").write_text(str(self.n_docs), encoding="ascii")
        if self.model is not None:
            with _quiet():
                self.model.save(str(path), show_progress=False)

    @classmethod
    def load(cls, path: Path, mmap: bool = True) -> BM25Index:
        import bm25s

        n = int((path / "n_docs.txt").read_text(encoding="ascii"))
        if not (path / "params.index.json").exists():
            return cls(None, n)
        with _quiet():
            model = bm25s.BM25.load(str(path), mmap=mmap, show_progress=False)
        return cls(model, n)

    def token_ids(self, tokens: list[str]) -> list[int]:
        """Known token ids of a query, each once (query term repetition is noise here)."""
        seen: dict[int, None] = {}
        for t in tokens:
            i = self._vocab.get(t)
            if i is not None:
                seen.setdefault(i, None)
        return list(seen)

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every document for the query ``tokens`` (float32, length n_docs)."""
        ids = self.token_ids(tokens) if self.model is not None else []
        if not ids:
            return np.zeros(self.n_docs, dtype=np.float32)
        s = self.model.get_scores_from_ids(ids)
        return np.asarray(s, dtype=np.float32)

    def search(self, tokens: list[str], k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (positions, scores) with a positive score, restricted to ``mask``."""
        s = self.scores(tokens)
        if mask is not None:
            s = np.where(mask, s, np.float32(0))
        return top_positive(s, k)


def top_positive(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``k`` best strictly positive scores, best first (ties by index)."""
    nz = np.flatnonzero(scores > 0)
    if len(nz) == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    vals = scores[nz]
    if len(nz) > k:
        part = np.argpartition(-vals, k - 1)[:k]
        nz, vals = nz[part], vals[part]
    order = np.lexsort((nz, -vals))
    return nz[order].astype(np.int64), vals[order].astype(np.float32)
