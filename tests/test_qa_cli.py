"""``perfsearch ask`` wiring: help text, usage errors, ``eval --ask`` (on the ``fake-bigram`` index)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ui.cli import main


def test_ask_is_registered_with_examples():
    r = CliRunner().invoke(main, ["ask", "--help"])
    assert r.exit_code == 0
    assert 'perfsearch ask "哪些单位设定了满意度≥90%的目标？"' in r.output
    assert "--batch" in r.output and "--json" in r.output and "未量化" in r.output


def test_ask_needs_a_question():
    r = CliRunner().invoke(main, ["ask"])
    assert r.exit_code == 2 and "请给出问题" in r.output


def test_ask_reports_missing_index(tmp_path):
    r = CliRunner().invoke(
        main, ["ask", "哪些单位设定了满意度≥90%的目标？", "--index", str(tmp_path / "none")]
    )
    assert r.exit_code == 1 and "还没有索引" in r.output


def test_eval_has_ask_flag():
    r = CliRunner().invoke(main, ["eval", "--help"])
    assert r.exit_code == 0 and "--ask" in r.output


def test_eval_ask_prints_the_evaluation_of_the_question_set(fake_index):
    from search.engine import Engine
    from search.evaluation.qa_evaluate import evaluate_engine

    expected = evaluate_engine(Engine.open(fake_index))
    r = CliRunner().invoke(main, ["eval", "--ask", "--index", str(fake_index)])
    assert r.exit_code == 0, r.output
    assert r.output == expected.table() + "\n"  # (--json: tests/test_cli_commands.py)


def test_eval_ask_questions_file(fake_index, tmp_path):
    from search.evaluation.qa_evaluate import load_questions

    first = next(q for q in load_questions() if not q.get("needs_semantic"))  # answered without the model
    qs = tmp_path / "q.jsonl"
    qs.write_text(json.dumps(first, ensure_ascii=False) + "\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["eval", "--ask", "--ask-questions", str(qs), "--index", str(fake_index), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"accuracy": 1.0, "correct": 1, "total": 1, "failures": [],
                                    "per_intent": {first["intent"]: {"correct": 1, "total": 1, "accuracy": 1.0}}}
