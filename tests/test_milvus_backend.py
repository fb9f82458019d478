"""The Milvus backend against the embedded (faiss) backend on the same documents.

Every backend-parametrised test runs twice: Milvus Lite by file URI, and Milvus
Lite started by the test as a real gRPC server on 127.0.0.1 (the network client
path).  The fake encoder (``fake:bigram-64``) keeps these fast; one slow test
repeats the evaluation with the real model on the whole corpus.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from search.retrieval.filters import Filters
from tests.conftest import CORPUS_FILES, SEED_000, SEED_001, SEED_003, parsed

# Milvus Lite servers and two backends per test: about two minutes, so with the slow tests
# (the full suite and CI run them; tests/test_milvus_sparse.py and test_milvus_expr.py stay fast).
pytestmark = pytest.mark.slow

FAKE = "fake:bigram-64"
FAST_FILES = [f for f in CORPUS_FILES if f.suffix in (".txt", ".html", ".csv", ".docx", ".xlsx")]
QUERIES = ["满意度", "培训人次", "资金总额", "学生资助覆盖率", "按时完成率", "系统运维", "教师培训", "设备采购数量",
           "群众满意度", "量子纠缠火星移民"]
FILTERS = [Filters(year=2024), Filters(unit="电化教育馆"), Filters(level1="效益"), Filters(table="project", level2="数量"),
           Filters(region="花蓮縣"), Filters(project="运维"), Filters(doc="other_bracket"), Filters(unit="不存在的单位")]


@pytest.fixture(scope="module")
def fake_encoder():
    from search.retrieval import artifacts
    from tests.test_search_fakes import FakeEncoder

    had = FAKE in artifacts._encoders
    artifacts._encoders.setdefault(FAKE, FakeEncoder())
    yield artifacts._encoders[FAKE]
    if not had:
        artifacts._encoders.pop(FAKE, None)


@pytest.fixture(scope="module")
def docs():
    return [parsed(p) for p in FAST_FILES]


def build(root: Path, docs, **settings):
    from search.engine import Engine

    eng = Engine.open(root, model=FAKE, **settings)
    with eng.store.lock():
        eng.store.write(list(docs), extra_writer=eng._search_writer(False))
    return eng


@pytest.fixture(scope="module")
def faiss_engine(tmp_path_factory, fake_encoder, docs):
    return build(tmp_path_factory.mktemp("faiss") / "index", docs)


@pytest.fixture(scope="module")
def grpc_server(tmp_path_factory):
    from search.retrieval.milvus.server import MilvusLiteServer

    with MilvusLiteServer(tmp_path_factory.mktemp("grpc") / "server.db") as server:
        yield server


@pytest.fixture(scope="module", params=["lite", "grpc"])
def milvus_engine(request, tmp_path_factory, fake_encoder, docs):
    tmp = tmp_path_factory.mktemp(request.param)
    uri = request.getfixturevalue("grpc_server").uri if request.param == "grpc" else str(tmp / "milvus.db")
    eng = build(tmp / "index", docs, milvus_uri=uri)
    yield eng
    eng.backend.close()


def positions(result) -> list[int]:
    return [h.position for h in result.hits]


def scores(result) -> list[float]:
    return [round(h.score, 4) for h in result.hits]


# -- search ----------------------------------------------------------------------------------

def test_manifest_records_the_milvus_backend(milvus_engine, faiss_engine):
    arts = milvus_engine.store.manifest().artifacts
    assert arts["backend"]["name"] == "milvus" and arts["backend"]["prefix"] == "perfsearch"
    assert arts["milvus"]["count"] == arts["embedding"]["count"] == faiss_engine.store.manifest().artifacts[
        "chunks"]["count"]
    assert arts["milvus"]["rows"] == sum(len(d.rows) for d in milvus_engine.documents())
    assert faiss_engine.store.manifest().artifacts["backend"]["name"] == "faiss"


@pytest.mark.parametrize("query", QUERIES)
def test_bm25_and_dense_candidates_equal_the_embedded_ones(milvus_engine, faiss_engine, query):
    for mode in ("bm25", "dense"):
        want = faiss_engine.search(query, top_k=20, mode=mode)
        got = milvus_engine.search(query, top_k=20, mode=mode)
        assert scores(got) == scores(want), mode
        # equal scores may come in another order; distinct scores at the same places
        assert sorted(positions(got)) == sorted(positions(want)) or len({*scores(want)}) < len(scores(want)), mode
    if query == "量子纠缠火星移民":
        assert milvus_engine.search(query, mode="bm25").hits == []


def test_hybrid_results_equal_the_embedded_ones(milvus_engine, faiss_engine):
    """Identical except where the fake encoder gives several passages the same similarity:
    FAISS and Milvus order such ties differently, which moves dense ranks (real-model
    vectors practically never tie; see the slow test)."""
    same = 0
    for q in QUERIES:
        want = [h.position for h in faiss_engine.search(q, top_k=10).hits]
        got = [h.position for h in milvus_engine.search(q, top_k=10).hits]
        assert len(got) == len(want) and len(set(got) & set(want)) >= len(want) - 1, q
        same += got == want
    assert same >= 7


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: json.dumps(f.to_json(), ensure_ascii=False))
def test_filters_pushed_down_select_the_same_chunks(milvus_engine, faiss_engine, filters):
    want = faiss_engine.search("满意度 培训 运维 数量", top_k=500, mode="bm25", filters=filters)
    got = milvus_engine.search("满意度 培训 运维 数量", top_k=500, mode="bm25", filters=filters)
    assert sorted(positions(got)) == sorted(positions(want))
    assert all(filters.matches(h.row, "") for h in got.hits if not filters.region)
    if filters.unit == "不存在的单位":
        assert got.hits == []
    else:
        assert got.hits


def test_matches_only_counts_the_same_matches(milvus_engine, faiss_engine):
    for q in ("满意度", "培训", "量子纠缠火星移民"):
        want = faiss_engine.search(q, top_k=10, matches_only=True)
        got = milvus_engine.search(q, top_k=10, matches_only=True)
        assert got.total == want.total
        assert sorted(positions(got)) == sorted(positions(want))


def test_server_side_fusion_respects_filters(milvus_engine):
    from search.retrieval.milvus.retriever import MilvusRetriever

    r = milvus_engine.retriever()
    server = MilvusRetriever(r.index, r.encoder, r.options, server_fusion=True)
    res = server.search("满意度", top_k=10, filters=Filters(year=2024, table="project"))
    assert len(res.hits) == 10
    assert {(h.row["year"], h.row["table"]) for h in res.hits} == {(2024, "project")}
    assert len({json.dumps(h.row, sort_keys=True, ensure_ascii=False) for h in res.hits}) == 10
    assert all("满意" in h.row["name"] for h in res.hits[:3])


def test_milvus_lite_always_gets_the_exact_index(milvus_engine, docs, tmp_path):
    """Milvus Lite's HNSW filters after the graph search and lost every hit of a selective
    filter on 10⁵ rows, so Lite (file or gRPC server) always uses FLAT; a server gets HNSW
    above the threshold."""
    from search.retrieval.milvus import schema as S
    from search.retrieval.milvus.store import MilvusIndex

    index = milvus_engine.backend.index()
    assert index.is_lite() and index.meta()["dense_index"] == "FLAT"
    params = S.IndexParams(exact_threshold=10)
    assert params.dense_index(100, local=True)["index_type"] == "FLAT"
    assert params.dense_index(100)["index_type"] == "HNSW" and params.dense_index(10)["index_type"] == "FLAT"
    small = MilvusIndex(index.settings.__class__(str(tmp_path / "s.db")), params=params)
    from search.retrieval.chunks import build_chunks

    small.write(build_chunks(docs[:2]), milvus_engine.retriever().encoder)
    assert small.meta()["dense_index"] == "FLAT"


def test_row_by_position_is_the_embedded_row(milvus_engine, faiss_engine):
    r_m, r_f = milvus_engine.retriever(), faiss_engine.retriever()
    for p in (0, 7, 123, 400):
        assert r_m.row(p) == r_f.row(p)


# -- question answering and evaluation ------------------------------------------------------

def test_ask_gives_identical_answers(milvus_engine, faiss_engine):
    from search.evaluation.qa_evaluate import load_questions

    questions = [q["question"] for q in load_questions()][:60]
    differ = [q for q in questions if milvus_engine.ask(q).to_json() != faiss_engine.ask(q).to_json()]
    assert differ == []


def test_every_question_answers_identically_with_the_pushdown(milvus_engine, faiss_engine):
    """Every labelled question (both files) gives the same ``Answer.to_json()`` on both backends,
    and the Milvus engine read the candidate rows of the condition questions from Milvus.

    Only the answers that are search results (intent ``fallback_search``) may list other tied
    rows or another order: the fake encoder gives several passages the same similarity and
    FAISS and Milvus order such ties differently (see test_hybrid_results_equal_the_embedded_ones)."""
    from search.evaluation.qa_evaluate import load_questions

    questions = list(dict.fromkeys(q["question"] for q in load_questions()))
    questions += ["哪些单位设定了满意度≥90%？", "满意度低于90%的单位有哪些", "资金总额未超过20万元的项目有哪些",
                  "有多少个单位的满意度不低于95%", "满意度最高的单位是哪个", "哪些项目的培训人次≥100人次"]
    backend = milvus_engine.backend
    ctx = milvus_engine.qa_context()
    assert faiss_engine.qa_context().pushdown is None and ctx.pushdown is not None
    pushed_questions, ties = [], []
    for q in questions:
        before = backend.pushdowns
        got, want = milvus_engine.ask(q).to_json(), faiss_engine.ask(q).to_json()
        if want["intent"] == "fallback_search" and got != want:
            def rows(a):
                return {json.dumps(r, ensure_ascii=False, sort_keys=True) for r in a["rows"]}

            assert got["intent"] == want["intent"] and got["rows"] and want["rows"], q
            assert len(rows(got) & rows(want)) >= min(len(got["rows"]), len(want["rows"])) // 2, q
            ties.append(q)
        else:
            assert got == want, q
        if backend.pushdowns > before:
            pushed_questions.append(q)
    # every question the Milvus expression can express went through it, and only those
    from search.retrieval.milvus.qa import supported

    expressible = [q for q in questions if supported(p := ctx.parse(q)) and p.concept
                   and backend.condition_candidates(p, ctx.catalog.name_keys()) is not None]
    assert pushed_questions == expressible
    assert "哪些单位设定了满意度≥90%？" in pushed_questions and len(pushed_questions) >= 50
    assert len(ties) <= 3  # 2 of 587 when written


def test_pushed_down_answer_uses_the_rows_milvus_returns(tmp_path, fake_encoder, docs):
    """The answer of a pushed-down question is built from the rows Milvus returns: with the
    rows of one unit deleted from Milvus only (the local documents keep them), that unit
    disappears from the answer, and the counts follow."""
    from indexer.normalize import key
    from search.retrieval.milvus import schema as S
    from search.retrieval.milvus.expr import quote

    eng = build(tmp_path / "index", docs, milvus_uri=str(tmp_path / "m.db"))
    q = "哪些单位设定了满意度≥90%？"
    full = eng.ask(q)
    assert len(full.units) == 8 and "青石县财政局" in full.units
    index = eng.backend.index()
    index.client.delete(index.name(S.ROWS), filter=f"unit_key == {quote(key('青石县财政局'))}")
    before = eng.backend.pushdowns
    partial = eng.ask(q)
    assert eng.backend.pushdowns == before + 1
    assert partial.units == tuple(u for u in full.units if u != "青石县财政局")
    assert partial.text.startswith("共7个单位设定了满意度≥90%的目标")
    assert all(r["unit"] != "青石县财政局" for r in partial.rows + partial.near_misses)
    eng.backend.close()


def test_suggestions_and_web_filter_choices_are_identical(milvus_engine, faiss_engine):
    from ui.handlers import filter_choices

    def names(result):
        return [(g.level1, g.level2, sorted(x.name for x in g.suggestions)) for g in result.groups]

    for text in ("教师培训", "信息化运维项目", "学生资助"):
        # the same suggestions in the same groups (their order follows the fake encoder's dense ties)
        got, want = names(milvus_engine.suggest(text)), names(faiss_engine.suggest(text))
        assert got == want and len(got) >= 3, text
    assert filter_choices(milvus_engine) == filter_choices(faiss_engine)


def test_eval_figures_within_001(milvus_engine, faiss_engine):
    from search.evaluation.qa_evaluate import evaluate_engine

    want, got = faiss_engine.evaluate_search(), milvus_engine.evaluate_search()
    for mode in ("bm25", "dense", "hybrid"):
        for metric in ("recall", "mrr", "ndcg"):
            assert abs(got.overall[mode][metric] - want.overall[mode][metric]) <= 0.01, (mode, metric)
    assert got.overall["bm25"] == want.overall["bm25"]
    qa_want, qa_got = evaluate_engine(faiss_engine), evaluate_engine(milvus_engine)
    assert qa_got.total == qa_want.total > 0
    assert abs(qa_got.accuracy - qa_want.accuracy) <= 0.01


def _ident(row: dict) -> tuple:
    from indexer.normalize import key

    return (key(row["unit"]), row["year"], row["table"], key(row["project"]), key(row["function"]),
            key(row["name"]), key(row["value"]), key(row["half_year"]))


def test_condition_question_pushed_down_returns_the_python_rows(milvus_engine):
    from search.evaluation.qa_evaluate import load_questions
    from search.retrieval.milvus.qa import condition_rows

    ctx = milvus_engine.qa_context()
    names = milvus_engine.backend.name_vectors(milvus_engine.store.manifest()).keys
    index = milvus_engine.backend.index()
    questions = ["哪些单位设定了满意度≥90%？", "满意度低于90%的单位有哪些", "资金总额未超过20万元的项目有哪些"]
    questions += [q["question"] for q in load_questions()]
    pushed = 0
    for q in questions:
        plan = ctx.parse(q)
        rows = condition_rows(index, plan, names)
        if rows is None or plan.intent not in ("which_units", "which_projects", "list_indicators"):
            continue  # other intents also cite rows that miss the condition (near misses, yes/no)
        pushed += 1
        answer = ctx.ask(q)
        assert {_ident(r) for r in rows} == {_ident(r) for r in answer.rows}, q
    first = ctx.parse(questions[0])
    assert len({_ident(r) for r in condition_rows(index, first, names)}) == 25  # 满意度≥90%: 25 rows, 8 units
    assert pushed >= 50  # 84 of the labelled questions when written


# -- ingest, prune, refusals ----------------------------------------------------------------

def test_incremental_ingest_upserts_by_hash_and_prunes(tmp_path, fake_encoder):
    from search.engine import Engine

    src = tmp_path / "src"
    src.mkdir()
    for f in (SEED_000, SEED_003):
        shutil.copy(f, src / f.name)
    uri = str(tmp_path / "m.db")
    eng = Engine.open(tmp_path / "index", model=FAKE, milvus_uri=uri)
    eng.ingest([src], show_progress=False)
    first = eng.store.manifest().artifacts["milvus"]
    assert first["upserted"] == first["count"] and first["deleted"] == 0
    n_before = eng.search("满意度", top_k=50, mode="bm25")
    shutil.copy(SEED_001, src / SEED_001.name)
    fake_encoder.embedded.clear()
    eng = Engine.open(tmp_path / "index", model=FAKE, milvus_uri=uri)
    eng.ingest([src], show_progress=False)
    second = eng.store.manifest().artifacts
    assert second["milvus"]["count"] > first["count"] and second["milvus"]["deleted"] == 0
    # only the new file's passages were embedded; the others' vectors were read back from Milvus
    new_texts = {c.dense_text for c in __import__("search.retrieval.chunks", fromlist=["x"]).build_chunks(
        [parsed(SEED_001)])}
    assert set(fake_encoder.embedded) <= new_texts and second["embedding"]["embedded"] == len(set(fake_encoder.embedded))
    assert eng.search("满意度", top_k=10, filters={"doc": SEED_001.name}).hits
    (src / SEED_000.name).unlink()
    eng = Engine.open(tmp_path / "index", model=FAKE, milvus_uri=uri)
    eng.ingest([src], show_progress=False, prune=True)
    third = eng.store.manifest().artifacts["milvus"]
    assert third["deleted"] == len([c for c in __import__("search.retrieval.chunks", fromlist=["x"]).build_chunks(
        [parsed(SEED_000)])])
    assert eng.search("满意度", top_k=10, filters={"doc": SEED_000.name}).hits == []
    assert eng.backend.index().count() == third["count"]
    assert n_before.hits


def test_index_of_one_backend_is_refused_by_the_other(tmp_path, fake_encoder):
    from search.engine import Engine, EngineError

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SEED_000, src / SEED_000.name)
    Engine.open(tmp_path / "index", model=FAKE, milvus_uri=str(tmp_path / "m.db")).ingest([src], show_progress=False)
    with pytest.raises(EngineError) as err:
        Engine.open(tmp_path / "index", model=FAKE).search("满意度")
    assert "milvus" in str(err.value) and "PERFSEARCH_MILVUS_URI" in str(err.value)


def test_interrupted_write_is_refused_then_rebuilt(tmp_path, fake_encoder):
    from search.engine import Engine, EngineError

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SEED_000, src / SEED_000.name)
    uri = str(tmp_path / "m.db")
    eng = Engine.open(tmp_path / "index", model=FAKE, milvus_uri=uri)
    eng.ingest([src], show_progress=False)
    eng.backend.index().set_generation("writing:20991231000000-deadbeef")
    with pytest.raises(EngineError) as err:
        Engine.open(tmp_path / "index", model=FAKE, milvus_uri=uri).search("满意度")
    assert "没有完成" in str(err.value) and "perfsearch ingest" in str(err.value)
    eng = Engine.open(tmp_path / "index", model=FAKE, milvus_uri=uri)
    eng.ingest([src], show_progress=False)  # nothing changed on disk: the search data is rebuilt
    assert eng.search("满意度").hits
    # collections written by an older format of this program are refused too, then rebuilt
    index = eng.backend.index()
    meta = {**index.meta(refresh=True), "schema_version": 1}
    index.client.upsert(index.name("meta"), [{"k": "index", "value": meta, "v": [0.0, 0.0]}])
    with pytest.raises(EngineError) as err:
        Engine.open(tmp_path / "index", model=FAKE, milvus_uri=uri).search("满意度")
    assert "旧版本" in str(err.value)
    eng = Engine.open(tmp_path / "index", model=FAKE, milvus_uri=uri)
    eng.ingest([src], show_progress=False)
    assert len(eng.search("满意度", top_k=5).hits) == 5


def test_bad_uri_is_a_chinese_error(tmp_path):
    from search.engine import Engine, EngineError

    with pytest.raises(EngineError) as err:
        Engine.open(tmp_path / "index", milvus_uri="milvus-server-without-scheme")
    assert "无法识别的 Milvus 地址" in str(err.value)


# -- the real model (slow) ----------------------------------------------------------------

@pytest.mark.slow
def test_eval_with_the_real_model_within_001(tmp_path_factory):
    from search.engine import Engine
    from search.evaluation.qa_evaluate import evaluate_engine

    all_docs = [parsed(p) for p in CORPUS_FILES]
    tmp = tmp_path_factory.mktemp("real")
    engines = {}
    for name, settings in (("faiss", {}), ("milvus", {"milvus_uri": str(tmp / "milvus.db")})):
        eng = Engine.open(tmp / name, **settings)
        with eng.store.lock():
            eng.store.write(all_docs, extra_writer=eng._search_writer(False))
        engines[name] = eng
    want, got = engines["faiss"].evaluate_search(), engines["milvus"].evaluate_search()
    for mode in ("bm25", "dense", "hybrid"):
        for metric in ("recall", "mrr", "ndcg"):
            assert abs(got.overall[mode][metric] - want.overall[mode][metric]) <= 0.01, (mode, metric)
    assert abs(evaluate_engine(engines["milvus"]).accuracy - evaluate_engine(engines["faiss"]).accuracy) <= 0.01


# -- the command line -------------------------------------------------------------------------

def test_cli_milvus_option_ingest_search_ask(tmp_path, monkeypatch, fake_encoder):
    """``perfsearch --milvus URI ingest/search/ask`` gives the default backend's results."""
    from click.testing import CliRunner

    from ui.cli import main

    monkeypatch.setenv("PERFSEARCH_MODEL", FAKE)
    monkeypatch.setenv("PERFSEARCH_MILVUS_URI", "")  # unset for this test: only --milvus chooses Milvus
    src = tmp_path / "src"
    src.mkdir()
    for f in (SEED_000, SEED_001, SEED_003):
        shutil.copy(f, src / f.name)
    runner = CliRunner()
    out = {}
    for name, prefix in (("faiss", []), ("milvus", ["--milvus", str(tmp_path / "x" / "milvus.db")])):
        index = str(tmp_path / f"index-{name}")
        r = runner.invoke(main, [*prefix, "ingest", str(src), "--index", index, "--no-progress"])
        assert r.exit_code == 0, r.output
        s = runner.invoke(main, [*prefix, "search", "满意度", "--index", index, "--json", "--mode", "bm25"])
        a = runner.invoke(main, [*prefix, "ask", "哪些单位设定了满意度≥90%？", "--index", index, "--json"])
        assert s.exit_code == 0 and a.exit_code == 0, s.output + a.output
        out[name] = ([json.loads(x) for x in s.output.splitlines() if x.strip()], json.loads(a.output))
        assert os.environ["PERFSEARCH_MILVUS_URI"] == ""  # --milvus goes to Engine.open, not into the environment
    assert out["milvus"] == out["faiss"]
    assert len(out["milvus"][0]) == 10 and out["milvus"][1]["units"]
    assert json.loads((tmp_path / "index-milvus" / "manifest.json").read_text(encoding="utf-8"))[
        "artifacts"]["backend"]["name"] == "milvus"
    r = runner.invoke(main, ["search", "满意度", "--index", str(tmp_path / "index-milvus")])
    assert r.exit_code != 0 and "milvus" in r.output and "PERFSEARCH_MILVUS_URI" in r.output
