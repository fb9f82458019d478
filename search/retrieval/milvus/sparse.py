"""Client-side BM25 as Milvus sparse vectors (the same scores as ``search.retrieval.bm25``).

Milvus Lite's built-in BM25 function knows only the ``standard``/``jieba``
analyzers, so the Milvus backend does not let the server tokenise: documents and
queries go through OUR tokenizer (``search.retrieval.tokenize``, identical in
both backends) and the BM25 formula is split between the two sides of an inner
product, exactly as bm25s' ``lucene`` method computes it::

    score(q, d) = sum over distinct query tokens t in d of
                  idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

- the document vector holds the saturated term frequency of each of its tokens
  (depends on ``avgdl``: when the collection's average length changes, the
  stored weights are rewritten, see ``search.retrieval.milvus.store``);
- the query vector holds ``idf(t)`` of each distinct known query token (from
  the ``df``/``N`` statistics kept in the vocabulary collection);
- metric ``IP``: the sum of products is the BM25 score.

Token ids come from a stored vocabulary (``Vocabulary``): a new token gets the
next free id, so ids never collide and never change.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from search.retrieval.bm25 import BM25Config


class SparseError(ValueError):
    """BM25 statistics unusable (Chinese message)."""


def saturated_tf(tf: int, dl: int, avgdl: float, config: BM25Config) -> float:
    """The document side of the lucene BM25 term weight."""
    if avgdl <= 0:
        return 0.0
    return tf / (tf + config.k1 * (1.0 - config.b + config.b * dl / avgdl))


def idf(df: int, n_docs: int) -> float:
    """The query side of the lucene BM25 term weight (bm25s ``_score_idf_lucene``)."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


@dataclass
class Vocabulary:
    """token -> (id, document frequency), plus the corpus size and total length.

    ``n_docs`` counts every chunk (also those without a token), as bm25s does."""

    ids: dict[str, int] = field(default_factory=dict)
    df: dict[str, int] = field(default_factory=dict)
    n_docs: int = 0
    total_len: int = 0
    next_id: int = 0

    @property
    def avgdl(self) -> float:
        return self.total_len / self.n_docs if self.n_docs else 0.0

    def token_id(self, token: str) -> int:
        """The id of ``token``, assigning the next free one to a new token."""
        i = self.ids.get(token)
        if i is None:
            i = self.ids[token] = self.next_id
            self.next_id += 1
        return i

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], previous: Vocabulary | None = None) -> Vocabulary:
        """Statistics of a whole collection; ids of ``previous`` are kept, new tokens appended."""
        vocab = cls(dict(previous.ids) if previous else {}, {}, 0, 0, previous.next_id if previous else 0)
        df: Counter[str] = Counter()
        for toks in token_lists:
            vocab.n_docs += 1
            vocab.total_len += len(toks)
            df.update(set(toks))
        for t in sorted(df):  # deterministic ids for new tokens
            vocab.token_id(t)
        vocab.df = dict(df)
        return vocab

    def doc_vector(self, tokens: Sequence[str], config: BM25Config) -> dict[int, float]:
        """The stored sparse vector of one chunk (empty for a chunk without tokens)."""
        avgdl = self.avgdl
        dl = len(tokens)
        out: dict[int, float] = {}
        for t, tf in Counter(tokens).items():
            w = saturated_tf(tf, dl, avgdl, config)
            if w > 0:
                out[self.ids[t]] = w
        return out

    def query_vector(self, tokens: Sequence[str]) -> dict[int, float]:
        """idf weight of each distinct known query token (repetition ignored, as in
        ``BM25Index.token_ids``); empty when no token is known."""
        out: dict[int, float] = {}
        for t in tokens:
            d = self.df.get(t)
            if not d:
                continue
            i = self.ids[t]
            if i not in out:
                out[i] = idf(d, self.n_docs)
        return out

    def query_token_ids(self, tokens: Sequence[str]) -> list[int]:
        return list(self.query_vector(tokens))


__all__ = ["SparseError", "Vocabulary", "idf", "saturated_tf"]
