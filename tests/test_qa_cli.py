"""``perfsearch ask`` wiring that needs no index: help text, usage errors, the eval hook."""

from __future__ import annotations

import click
from click.testing import CliRunner

import ui.cli_ask as cli_ask
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


def test_attach_ask_flag_to_an_existing_eval_command(monkeypatch):
    calls: list = []
    monkeypatch.setattr(
        cli_ask,
        "run_ask_eval",
        lambda index, q=None, as_json=False, model=None: calls.append((index, as_json)) or 0,
    )

    @click.command("eval")
    @click.option("--index")
    @click.option("--json", "as_json", is_flag=True)
    def search_eval(index, as_json):
        calls.append("search-eval")

    cli_ask.attach_ask_flag(search_eval)
    cli_ask.attach_ask_flag(search_eval)  # idempotent
    assert sum("--ask" in p.opts for p in search_eval.params) == 1
    r = CliRunner().invoke(search_eval, ["--index", "x", "--ask", "--json"])
    assert r.exit_code == 0 and calls == [("x", True)]
    r = CliRunner().invoke(search_eval, ["--index", "y"])
    assert r.exit_code == 0 and calls[-1] == "search-eval"


def test_attach_keeps_an_eval_that_declares_ask_itself():
    @click.command("eval")
    @click.option("--ask", is_flag=True)
    def own(ask):
        pass

    before = list(own.params)
    cli_ask.attach_ask_flag(own)
    assert own.params == before
