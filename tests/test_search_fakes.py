"""Test doubles for search tests: a tiny deterministic encoder (no model, no network)."""

from __future__ import annotations

import hashlib

import numpy as np


class FakeEncoder:
    """Character-bigram hashing encoder: texts sharing bigrams get similar vectors.

    Counts every text it embeds so tests can assert what was (re-)embedded."""

    def __init__(self, dim: int = 64, model_id: str = "fake:bigram-64"):
        self.dim = dim
        self.model_id = model_id
        self.embedded: list[str] = []
        self.queries: list[str] = []

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        grams = [text[i : i + 2] for i in range(max(1, len(text) - 1))]
        for g in grams:
            h = int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little")
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_documents(self, texts, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        texts = list(texts)
        self.embedded.extend(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_queries(self, texts, batch_size: int = 64) -> np.ndarray:
        texts = list(texts)
        self.queries.extend(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
