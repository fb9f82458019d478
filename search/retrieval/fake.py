"""``fake-bigram``: a tiny deterministic encoder for tests and demos (no model, no network).

Registered under the model id ``fake-bigram`` (``search.retrieval.artifacts.ENCODER_FACTORIES``),
so ``perfsearch ingest corpus/ --model fake-bigram`` builds a complete index without loading
torch, onnxruntime or the bundled model; ``search``/``ask``/``suggest``/``serve`` then work on it.
Vectors are hashed character bigrams: texts sharing bigrams get similar vectors, which is
enough for exact-name and shared-word matches but is NOT semantic search.  Never use it for
real work; the quality figures in the README come from the default model.
"""

from __future__ import annotations

import hashlib

import numpy as np

FAKE_MODEL_ID = "fake-bigram"


class FakeEncoder:
    """Character-bigram hashing encoder (the ``Encoder`` interface, ``dim`` floats per text).

    With ``record=True`` it keeps every text it embeds (``embedded``) and every query
    (``queries``), so tests can assert what was (re-)embedded."""

    def __init__(self, dim: int = 64, model_id: str = FAKE_MODEL_ID, *, record: bool = True):
        self.dim = dim
        self.model_id = model_id
        self.record = record
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

    def _encode(self, texts) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_documents(self, texts, batch_size: int = 64, show_progress: bool = False, **kwargs) -> np.ndarray:
        texts = list(texts)
        if self.record:
            self.embedded.extend(texts)
        return self._encode(texts)

    def encode_queries(self, texts, batch_size: int = 64) -> np.ndarray:
        texts = list(texts)
        if self.record:
            self.queries.extend(texts)
        return self._encode(texts)
