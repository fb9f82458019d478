"""Rank fusion of several ranked candidate lists (pure functions).

- ``rrf``: reciprocal-rank fusion, ``score(d) = sum_i w_i / (k + rank_i(d))`` with
  1-based ranks and ``k = 60`` by default (Cormack et al. 2009);
- ``weighted``: each list's scores min-max normalised to [0, 1] then summed with
  weights (a document missing from a list gets 0 from it).

Ties are broken by the best rank a document has in any list, then by its id,
so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

RRF_K = 60

Ranked = Sequence[tuple[Hashable, float]]  # (id, score), best first


def _ranks(lists: Sequence[Sequence[Hashable]]) -> dict[Hashable, int]:
    best: dict[Hashable, int] = {}
    for ids in lists:
        for r, d in enumerate(ids, start=1):
            if d not in best or r < best[d]:
                best[d] = r
    return best


def _order(scores: dict[Hashable, float], best: dict[Hashable, int]) -> list[tuple[Hashable, float]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]], _sortable(kv[0])))


def _sortable(x: Hashable):
    return (0, x) if isinstance(x, (int, float)) else (1, str(x))


def rrf(lists: Sequence[Sequence[Hashable]], k: int = RRF_K, weights: Sequence[float] | None = None
        ) -> list[tuple[Hashable, float]]:
    """Reciprocal-rank fusion of ranked id lists (best first).

    >>> rrf([["a", "b"], ["b", "c"]], k=60)[0]
    ('b', 0.03252247488101534)
    """
    weights = list(weights) if weights is not None else [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError("one weight per list")
    scores: dict[Hashable, float] = {}
    for w, ids in zip(weights, lists):
        for r, d in enumerate(ids, start=1):
            scores[d] = scores.get(d, 0.0) + w / (k + r)
    return _order(scores, _ranks(lists))


def minmax(values: Sequence[float]) -> list[float]:
    """Min-max normalisation to [0, 1]; a constant list maps to all 1.0."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi - lo <= 1e-12:
        return [1.0] * len(values)
    return [(v - lo) / (hi - lo) for v in values]


def weighted(lists: Sequence[Ranked], weights: Sequence[float] | None = None) -> list[tuple[Hashable, float]]:
    """Weighted sum of min-max normalised scores."""
    weights = list(weights) if weights is not None else [1.0 / max(1, len(lists))] * len(lists)
    if len(weights) != len(lists):
        raise ValueError("one weight per list")
    scores: dict[Hashable, float] = {}
    for w, ranked in zip(weights, lists):
        norm = minmax([s for _, s in ranked])
        for (d, _), s in zip(ranked, norm):
            scores[d] = scores.get(d, 0.0) + w * s
    return _order(scores, _ranks([[d for d, _ in r] for r in lists]))


FUSIONS = ("rrf", "weighted")
