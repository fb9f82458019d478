"""Known values of the published retrieval metrics (Recall@k, MRR, nDCG@k), computed by hand.

Binary gains, a gain at rank i is 1/log2(i + 1): rank 1 -> 1, rank 2 -> 1/log2(3) = 0.63093,
rank 3 -> 0.5, rank 4 -> 1/log2(5) = 0.43068."""

from __future__ import annotations

import pytest

from search.evaluation.evaluate import LabelledQuery, query_metrics, run_eval

G2 = 0.6309297535714575  # 1 / log2(3)
G4 = 0.43067655807339306  # 1 / log2(5)

# ranking B A D C A E; relevant A, C and F (F is never retrieved); A appears twice
RANKED = ["B", "A", "D", "C", "A", "E"]
RELEVANT = {"A", "C", "F"}


def test_metrics_at_5():
    m = query_metrics(RANKED, RELEVANT, k=5)
    # relevant in the top 5: A (rank 2) and C (rank 4); the second A earns nothing
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["mrr"] == pytest.approx(1 / 2)
    # DCG = G2 + G4 = 1.06161; ideal DCG (3 relevant) = 1 + G2 + 0.5 = 2.13093
    assert m["ndcg"] == pytest.approx((G2 + G4) / (1 + G2 + 0.5))
    assert m["ndcg"] == pytest.approx(0.498189, abs=1e-6)


def test_metrics_at_2_and_1():
    m = query_metrics(RANKED, RELEVANT, k=2)
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["mrr"] == pytest.approx(1 / 2)
    # ideal DCG at k=2 counts two relevant ranks only: 1 + G2
    assert m["ndcg"] == pytest.approx(0.386853, abs=1e-6)
    assert query_metrics(RANKED, RELEVANT, k=1) == {"recall": 0.0, "mrr": 0.0, "ndcg": 0.0}


def test_perfect_and_empty_rankings():
    assert query_metrics(["A", "C", "F", "B"], RELEVANT, k=3) == pytest.approx({"recall": 1.0, "mrr": 1.0, "ndcg": 1.0})
    assert query_metrics([], RELEVANT, k=10) == {"recall": 0.0, "mrr": 0.0, "ndcg": 0.0}
    assert query_metrics(RANKED, set(), k=10) == {"recall": 0.0, "mrr": 0.0, "ndcg": 0.0}


def test_run_eval_groups_copies_and_averages():
    """A text file and its PDF copy are one group: the copy's row is the labelled row and
    counts once; a label without a project covers every project's row of that name."""
    groups = {"a.txt": "G", "a.pdf": "G", "b.txt": "H"}
    rows = [
        {"doc": "a.txt", "name": "满意度", "project": ""},
        {"doc": "a.pdf", "name": "满意度", "project": ""},
        {"doc": "b.txt", "name": "培训人数", "project": "甲项目"},
        {"doc": "b.txt", "name": "培训人数", "project": "乙项目"},
    ]
    queries = [
        LabelledQuery("q1", "满意度", "exact", ({"doc": "a.txt", "name": "满意度"},)),
        LabelledQuery("q2", "培训", "topic", ({"doc": "b.txt", "name": "培训人数"},)),
    ]
    answers = {"满意度": [rows[1], rows[0]], "培训": [rows[0], rows[3]]}
    calls = []

    def search(qs, filters, mode, k):
        calls.append((tuple(qs), mode, k))
        return [answers[q] for q in qs]

    rep = run_eval(search, queries, rows, groups, k=10, modes=("hybrid",))
    assert calls == [(("满意度", "培训"), "hybrid", 10)]  # same filters: one batch
    q1, q2 = rep.per_query
    assert q1["hybrid"] == pytest.approx({"recall": 1.0, "mrr": 1.0, "ndcg": 1.0})
    # q2: two relevant keys (甲项目, 乙项目), one found at rank 2
    assert q2["hybrid"] == pytest.approx({"recall": 0.5, "mrr": 0.5, "ndcg": G2 / (1 + G2)})
    assert rep.overall["hybrid"] == pytest.approx({"recall": 0.75, "mrr": 0.75, "ndcg": 0.693426}, abs=1e-6)
    assert rep.by_type["topic"]["hybrid"]["recall"] == pytest.approx(0.5)
