"""Client-side BM25 (search/retrieval/milvus/sparse.py) against bm25s on real documents; no Milvus needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import SEEDS, parsed

from search.retrieval.bm25 import BM25Config, BM25Index
from search.retrieval.chunks import build_chunks
from search.retrieval.milvus.sparse import Vocabulary, idf, saturated_tf
from search.retrieval.tokenize import tokenize, tokenize_fields


@pytest.fixture(scope="module")
def corpus_tokens() -> list[list[str]]:
    chunks = build_chunks([parsed(p) for p in SEEDS])
    return [tokenize_fields(list(c.bm25_fields)) for c in chunks]


def test_known_values():
    assert idf(1, 10) == pytest.approx(math.log(1 + 9.5 / 1.5))
    assert idf(10, 10) == pytest.approx(math.log(1 + 0.5 / 10.5))
    # tf 2 in a document twice the average length: 2 / (2 + 1.2 * (0.25 + 0.75 * 2))
    assert saturated_tf(2, 10, 5.0, BM25Config()) == pytest.approx(2 / (2 + 1.2 * 1.75))


@pytest.mark.parametrize("query", ["满意度", "培训人次", "资金总额 预算执行率", "学生资助覆盖率", "按时完成率 满意度 满意度"])
def test_inner_products_are_the_bm25s_scores(corpus_tokens, query):
    cfg = BM25Config()
    vocab = Vocabulary.build(corpus_tokens)
    assert vocab.n_docs == len(corpus_tokens) == 347
    docs = [vocab.doc_vector(t, cfg) for t in corpus_tokens]
    qv = vocab.query_vector(tokenize(query))
    ours = np.array([sum(w * d.get(i, 0.0) for i, w in qv.items()) for d in docs], dtype=np.float64)
    expected = BM25Index.build(corpus_tokens, cfg).scores(tokenize(query))
    assert np.count_nonzero(expected) > 0
    np.testing.assert_allclose(ours, expected, rtol=2e-6, atol=2e-6)


def test_unknown_and_repeated_query_tokens(corpus_tokens):
    vocab = Vocabulary.build(corpus_tokens)
    assert vocab.query_vector(tokenize("量子纠缠火星移民")) == {}
    once = vocab.query_vector(tokenize("满意度"))
    assert vocab.query_vector(tokenize("满意度 满意度")) == once


def test_ids_stay_stable_across_builds(corpus_tokens):
    first = Vocabulary.build(corpus_tokens[:100])
    second = Vocabulary.build(corpus_tokens, previous=first)
    assert all(second.ids[t] == i for t, i in first.ids.items())
    assert sorted(second.ids.values()) == list(range(len(second.ids)))
    assert second.n_docs == len(corpus_tokens)
    assert second.df == Vocabulary.build(corpus_tokens).df
    # a token that disappeared keeps its id but has no document frequency any more
    third = Vocabulary.build(corpus_tokens[:10], previous=second)
    gone = next(t for t in second.ids if t not in third.df)
    assert third.ids[gone] == second.ids[gone] and third.query_vector([gone]) == {}
