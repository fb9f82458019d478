"""Dense index, BM25 index, artefact writing (incremental) and retrieval with a fake encoder."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from indexer.ingest import parse_file
from indexer.store import IndexStore, Manifest
from search.retrieval.artifacts import BuildConfig, write_artifacts
from search.retrieval.bm25 import BM25Index
from search.retrieval.chunks import build_chunks
from search.retrieval.dense import DenseConfig, DenseIndex, choose_kind
from search.retrieval.filters import Filters
from search.retrieval.retrieve import ModelMismatchError, SearchIndexMissing, load_retriever
from tests.conftest import CORPUS, SEED_001, SEED_003
from tests.test_search_fakes import FakeEncoder


@pytest.fixture(autouse=True)
def _no_shared_embeddings(own_vector_cache):
    """Each test sees exactly what its own encoder embeds (no process-local reuse)."""
    yield


def _unit_vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _brute(vectors, slots, q, k, allowed=None):
    s = vectors @ q
    order = [i for i in np.argsort(-s, kind="stable") if allowed is None or slots[i] in allowed]
    return [int(slots[i]) for i in order[:k]]


# -- dense -------------------------------------------------------------------------------


def test_kind_chosen_by_size_threshold():
    cfg = DenseConfig(exact_threshold=100)
    assert choose_kind(100, cfg) == "flat"
    assert choose_kind(101, cfg) == "ivf"
    assert choose_kind(101, dataclasses.replace(cfg, approximate="hnsw")) == "hnsw"
    assert choose_kind(5, DenseConfig(kind="hnsw")) == "hnsw"
    vecs = _unit_vectors(300)
    slots = np.arange(300, dtype=np.int64) * 2
    assert DenseIndex.build(vecs[:100], slots[:100], cfg).kind == "flat"
    assert DenseIndex.build(vecs, slots, cfg).kind == "ivf"


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_dense_search_exact_and_filtered(kind):
    vecs = _unit_vectors(400)
    slots = np.arange(400, dtype=np.int64) * 3 + 7
    cfg = DenseConfig(kind=kind, nlist=8, nprobe=8, exact_subset=50)
    idx = DenseIndex.build(vecs, slots, cfg)
    q = vecs[5]
    got, scores = idx.search(q, 10)[0]
    assert got[0] == slots[5] and scores[0] == pytest.approx(1.0, abs=1e-5)
    if kind != "hnsw":  # HNSW is approximate; flat and fully probed IVF are exact
        assert got.tolist() == _brute(vecs, slots, q, 10)
    # small allowed set (exact subset search) and large allowed set (bitmap selector)
    for allowed in (slots[::40], slots[::2]):
        got, _ = idx.search(q, 10, allowed=allowed)[0]
        assert set(got.tolist()) <= set(allowed.tolist())
        assert len(got) == min(10, len(allowed))
        if kind != "hnsw" or len(allowed) <= cfg.exact_subset:
            assert got.tolist() == _brute(vecs, slots, q, 10, set(allowed.tolist()))


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_dense_incremental_update_matches_fresh_build(kind, tmp_path):
    vecs = _unit_vectors(300)
    slots = np.arange(300, dtype=np.int64)
    cfg = DenseConfig(kind=kind, nlist=4, nprobe=4)
    old = DenseIndex.build(vecs[:200], slots[:200], cfg)
    old.save(tmp_path / "a.index")
    loaded = DenseIndex.load(tmp_path / "a.index", vecs[:200], slots[:200], kind, cfg, old.meta)
    keep = np.r_[slots[:150], slots[200:]]  # remove 150..199, add 200..299
    new = loaded.updated(vecs[keep], keep, removed=slots[150:200], added=slots[200:])
    assert new.ntotal == 250
    q = vecs[250]
    got, _ = new.search(q, 5)[0]
    assert got[0] == 250
    assert not set(got.tolist()) & set(range(150, 200))
    if kind != "hnsw":
        assert got.tolist() == _brute(vecs[keep], keep, q, 5)


# -- bm25 --------------------------------------------------------------------------------


def test_bm25_search_mask_and_roundtrip(tmp_path):
    docs = [["预算", "执行率"], ["满意度", "师生"], ["预算", "编制"], []]
    idx = BM25Index.build(docs)
    pos, scores = idx.search(["预算", "执行率", "未知词"], 10)
    assert pos.tolist() == [0, 2] and scores[0] > scores[1] > 0
    pos, _ = idx.search(["预算"], 10, mask=np.array([False, True, True, True]))
    assert pos.tolist() == [2]
    assert idx.search(["未知词"], 10)[0].tolist() == []
    idx.save(tmp_path / "bm25")
    again = BM25Index.load(tmp_path / "bm25")
    np.testing.assert_allclose(again.scores(["预算", "执行率"]), idx.scores(["预算", "执行率"]))
    assert BM25Index.build([]).search(["预算"], 5)[0].tolist() == []


# -- artefacts: incremental writes ---------------------------------------------------------


def _write(root, gen, docs, enc, prev=None):
    arts = write_artifacts(root, gen, docs, enc, prev, show_progress=False)
    return Manifest(generation=gen, artifacts=arts)


@pytest.fixture()
def small_docs():
    return [parse_file(CORPUS / n) for n in
            ("other_bracket_list_2024.txt", "other_nolevels_fujian_2024.txt", "other_traditional_onecell_2023.txt")]


def test_incremental_reembeds_only_changed_chunks(tmp_path, small_docs):
    enc = FakeEncoder()
    m1 = _write(tmp_path, "g1", small_docs, enc)
    chunks = build_chunks(small_docs)
    distinct = {c.hash for c in chunks}
    assert len(enc.embedded) == len(distinct) == m1.artifacts["embedding"]["count"]

    # change one indicator name in one document
    doc = small_docs[0]
    t = doc.tables[0]
    changed_row = dataclasses.replace(t.rows[2], name="网络设备安装验收合格率")
    doc2 = dataclasses.replace(doc, tables=(dataclasses.replace(t, rows=(*t.rows[:2], changed_row, *t.rows[3:])),),
                               sha256="changed")
    enc.embedded.clear()
    m2 = _write(tmp_path, "g2", [doc2, *small_docs[1:]], enc, m1)
    assert enc.embedded == ["网络设备安装验收合格率；质量指标；智慧校园网络升级项目；临江市教育局"]
    assert m2.artifacts["embedding"]["embedded"] == 1
    assert m2.artifacts["embedding"]["reused"] == len(distinct) - 1

    # remove a document: nothing is embedded, its chunks and vectors are gone
    enc.embedded.clear()
    m3 = _write(tmp_path, "g3", [doc2, small_docs[1]], enc, m2)
    assert enc.embedded == []
    removed_doc = small_docs[2].file
    kept = build_chunks([doc2, small_docs[1]])
    assert m3.artifacts["chunks"]["count"] == len(kept)
    assert m3.artifacts["embedding"]["count"] == len({c.hash for c in kept})
    r = load_retriever(tmp_path, m3, encoder=enc)
    assert r.dense.ntotal == len({c.hash for c in kept})
    assert all(r.chunks.row(i)["doc"] != removed_doc for i in range(len(r.chunks)))
    res = r.search("居民满意度", top_k=50, filters=Filters(doc=removed_doc))
    assert res.hits == []


def test_process_cache_shares_embeddings_between_indexes(tmp_path, small_docs):
    first = FakeEncoder()
    _write(tmp_path / "a", "g1", small_docs, first)
    second = FakeEncoder()
    m = _write(tmp_path / "b", "g1", small_docs, second)  # another index, no previous generation
    assert second.embedded == [] and m.artifacts["embedding"]["embedded"] == 0
    assert m.artifacts["embedding"]["count"] == len(first.embedded)


def test_model_change_reembeds_everything(tmp_path, small_docs):
    m1 = _write(tmp_path, "g1", small_docs, FakeEncoder())
    other = FakeEncoder(model_id="fake:other")
    m2 = _write(tmp_path, "g2", small_docs, other, m1)
    assert m2.artifacts["embedding"]["model"] == "fake:other"
    assert m2.artifacts["embedding"]["reused"] == 0
    assert len(other.embedded) == m2.artifacts["embedding"]["count"]


def test_loading_refuses_another_model(tmp_path, small_docs):
    m = _write(tmp_path, "g1", small_docs, FakeEncoder())
    with pytest.raises(ModelMismatchError) as err:
        load_retriever(tmp_path, m, model="some-org/other-model")
    msg = str(err.value)
    assert "fake-bigram" in msg and "some-org/other-model" in msg and "perfsearch ingest" in msg
    assert err.value.index_model == "fake-bigram"
    with pytest.raises(SearchIndexMissing):
        load_retriever(tmp_path, Manifest(generation="x"))
    assert load_retriever(tmp_path, m, encoder=FakeEncoder()).model_id == "fake-bigram"


def test_store_writes_artifacts_for_the_same_generation(tmp_path, small_docs):
    store = IndexStore(tmp_path)
    enc = FakeEncoder()
    m = store.write(small_docs, extra_writer=lambda root, gen, docs: write_artifacts(root, gen, docs, enc, None))
    names = {p.name for p in tmp_path.iterdir()}
    for entry in ("embedding", "faiss", "bm25", "chunks"):
        for f in m.artifacts[entry]["files"]:
            assert m.generation in f and f in names
    saved = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert saved["artifacts"]["embedding"]["model"] == "fake-bigram"
    assert saved["artifacts"]["embedding"]["dim"] == 64
    # the next generation's cleanup removes the previous generation's artefacts
    m2 = store.write(small_docs[:1], extra_writer=lambda root, gen, docs: write_artifacts(root, gen, docs, enc, m))
    left = {p.name for p in tmp_path.iterdir()}
    assert not any(m.generation in n for n in left)
    assert all(f in left for f in m2.artifacts["embedding"]["files"])


# -- retrieval with the fake encoder ------------------------------------------------------


@pytest.fixture(scope="module")
def fake_retriever(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake_index")
    docs = [parse_file(p) for p in (SEED_001, SEED_003, CORPUS / "other_bracket_list_2024.txt")]
    enc = FakeEncoder()
    m = Manifest(generation="g", artifacts=write_artifacts(root, "g", docs, enc, None, config=BuildConfig()))
    return load_retriever(root, m, encoder=enc)


def test_hits_have_one_shape(fake_retriever):
    keys = ["doc", "unit", "year", "table", "project", "function", "level1", "level2", "task", "name", "half_year",
            "value", "target", "source", "score", "chunk"]
    res = fake_retriever.search("年度目标", top_k=20)
    kinds = {h.chunk for h in res.hits}
    assert kinds == {"row", "section"}
    for h in res.hits:
        assert list(h.to_json()) == keys
    sec = next(h for h in res.hits if h.chunk == "section")
    assert sec.row["level1"] == "" and sec.row["name"] in ("年度目标", "中长期目标", "年度绩效目标", "年度总体目标")


def test_filter_does_not_lose_recall(fake_retriever):
    r = fake_retriever
    q = "线上教育平台满意度"
    for mode in ("hybrid", "bm25", "dense"):
        ranked = [h.row["unit"] for h in r.search(q, top_k=200, mode=mode).hits]
        assert ranked.index("临江市教育局") >= 10  # far below the top 5 unfiltered
        filtered = r.search(q, top_k=5, mode=mode, filters=Filters(unit="临江市"))
        assert {h.row["unit"] for h in filtered.hits} == {"临江市教育局"}
        assert filtered.hits[0].row["name"] == "师生满意度"
    # every allowed chunk is reachable: top_k larger than the allowed set returns all of it
    allowed = r.search(q, top_k=100, mode="dense", filters=Filters(unit="临江市"))
    assert len(allowed.hits) == 8  # 7 indicator rows + the 年度绩效目标 section
    assert [h.chunk for h in allowed.hits].count("section") == 1


def test_modes_and_fusions(fake_retriever):
    r = fake_retriever
    bm = r.search("教师培训人数", top_k=5, mode="bm25")
    assert bm.hits[0].row["name"] == "教师培训人数" and bm.hits[0].dense_rank is None
    hy = r.search("教师培训人数", top_k=5)
    top = hy.hits[0]
    assert top.row["name"] == "教师培训人数"
    assert top.score == pytest.approx(1 / (60 + top.bm25_rank) + 1 / (60 + top.dense_rank))
    w = r.search("教师培训人数", top_k=5, fusion="weighted")
    assert w.hits[0].row["name"] == "教师培训人数" and w.hits[0].score <= 1.0
    many = r.search_many(["教师培训人数", "机柜数量"], top_k=3)
    assert [x.hits[0].row["name"] for x in many] == ["教师培训人数", "机柜数量"]


@pytest.mark.slow  # sentence-transformers and torch are imported to try the model (~5 CPU-s)
def test_unloadable_model_is_a_chinese_engine_error(tmp_path, monkeypatch):
    from search.engine import Engine, EngineError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never reach for the network
    engine = Engine.open(tmp_path / "idx", model=str(tmp_path / "no-such-model"))
    with pytest.raises(EngineError) as err:
        engine.ingest([CORPUS / "other_bracket_list_2024.txt"])
    assert "无法加载嵌入模型" in str(err.value) and "no-such-model" in str(err.value)
    assert not (tmp_path / "idx" / "manifest.json").exists()  # nothing half-written became current


def test_query_normalisation_and_short_query_weights():
    from search.retrieval.retrieve import normalize_query, rrf_weights

    assert normalize_query("学生家长对学校满不满意") == "学生家长对学校满意"
    assert normalize_query("预算花没花完") == "预算花完"
    assert normalize_query("不断提高") == "不断提高"
    assert rrf_weights("培训", 0.5) == (1.0, 0.5)
    assert rrf_weights("教师培训人数", 0.5) == (1.0, 1.0)


def test_exact_name_comes_first_with_its_own_score(fake_retriever):
    res = fake_retriever.search("师生满意度", top_k=5)
    top = res.hits[0]
    assert top.row["name"] == "师生满意度"
    scores = [h.score for h in res.hits]
    assert scores == sorted(scores, reverse=True)
    # the shown query is what the user typed, not the normalised form
    assert fake_retriever.search("满不满意", top_k=3).query == "满不满意"
