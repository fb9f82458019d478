"""``perfsearch ask``: question answering over all indicator rows and tables.

Registered by ``ui.cli`` through ``register(main)``.  Also provides the
``--ask`` part of ``perfsearch eval``: :func:`eval_ask_text` is plugged into
``ui.cli_search.EVALUATORS["ask"]``; an ``eval`` command without such a
registry gets an ``--ask`` flag attached (:func:`attach_ask_flag`), and
without any ``eval`` command a minimal one is registered.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from search.engine import Engine, EngineError

log = logging.getLogger(__name__)

INDEX_HELP = "索引目录（默认 ./index，可用环境变量 PERFSEARCH_INDEX 覆盖）"
ASK_EVAL_HELP = ("评测问答：按意图统计 eval/questions.jsonl 与 eval/questions_staff.jsonl"
                 "（或 --ask-questions 指定的文件）的准确率")


def _batch_questions(path: Path) -> Iterator[str]:
    """One question per line; a JSON line uses its ``question`` key (eval files work too)."""
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                line = str(json.loads(line)["question"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise click.ClickException(f"{path} 中的 JSON 行缺少 question 字段：{line[:40]}") from exc
        yield line


def _emit(answer, as_json: bool, question: str | None = None) -> None:
    if as_json:
        obj = answer.to_json()
        if question is not None:
            obj = {"question": question, **obj}
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    else:
        if question is not None:
            click.echo(f"问：{question}")
        click.echo(answer.render())


@click.command("ask")
@click.argument("question", required=False)
@click.option("--index", "index", default=None, help=INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（批量时每行一个对象，带 question 键）")
@click.option(
    "--batch",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="批量提问：文件每行一个问题（或含 question 键的 JSON 行），在同一进程内依次回答",
)
@click.option("--model", default=None, help="嵌入模型（默认使用索引记录的模型）")
def ask_cmd(
    question: str | None, index: str | None, as_json: bool, batch: Path | None, model: str | None
) -> None:
    """用中文提问，基于全部指标行和表格回答，并给出每条依据的出处。

    \b
    能回答的问题类型：
      哪些单位 / 哪些项目：  perfsearch ask "哪些单位设定了满意度≥90%的目标？"
                             perfsearch ask "哪些项目的成本指标不超过20万元？"
      列出指标：             perfsearch ask "苏州市电化教育馆有哪些满意度指标？"
      某单位的指标值：       perfsearch ask "电化教育馆预算执行率的半年目标是多少？"
      计数：                 perfsearch ask "赣州经开区有几个项目的满意度目标不低于95%？"
      比较单位或年度：       perfsearch ask "比较苏州市教育质量监测中心和苏州市电化教育馆的预算执行率"
      资金与表格：           perfsearch ask "苏州市教育质量监测中心2023年资金总额是多少?"
                             perfsearch ask "赣州经济技术开发区教体服务中心有多少个项目支出绩效目标表?"
    无法解析为结构化问题时，给出相关检索结果（“未能理解为结构化问题，以下是相关检索结果：”）。

    \b
    判定口径：指标值允许的所有取值都满足条件才算满足（≥95%、=100%、98% 满足“≥90%”，
    ≥85%、>85% 不满足）；单位须一致（万元与元会换算）；定性指标（健全、按时完成）列为“未量化”；
    只有问题提到“半年”时才使用半年指标值。

    \b
    示例：
      perfsearch ask "哪些单位设定了满意度≥90%的目标？" --index ./index
      perfsearch ask "苏州哪些单位设置了满意度指标？" --json
      perfsearch ask --batch eval/questions.jsonl --json > answers.jsonl
    """
    if not question and batch is None:
        raise click.UsageError("请给出问题，或用 --batch 指定问题文件。")
    engine = Engine.open(index, model=model)
    try:
        engine.require_index()
        if batch is None:
            _emit(engine.ask(question or ""), as_json)
            return
        if question:
            raise click.UsageError("--batch 与单个问题不能同时使用。")
        first = True
        for q in _batch_questions(batch):
            if not as_json and not first:
                click.echo("")
            _emit(engine.ask(q), as_json, question=q)
            first = False
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc


# --------------------------------------------------------------------------- eval --ask


def run_ask_eval(index: str | None, questions: str | None = None, as_json: bool = False,
                 model: str | None = None) -> int:  # fmt: skip
    """Print question-answering accuracy per intent; returns the number of failed questions."""
    from search.evaluation.qa_evaluate import evaluate_engine

    engine = Engine.open(index, model=model)
    try:
        engine.require_index()
        rep = evaluate_engine(engine, questions)
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"无法读取问题集：{exc}") from exc
    click.echo(json.dumps(rep.to_json(), ensure_ascii=False, indent=2) if as_json else rep.table())
    return len(rep.failures)


@click.command("eval")
@click.option("--index", "index", default=None, help=INDEX_HELP)
@click.option("--ask", "ask_flag", is_flag=True, help=ASK_EVAL_HELP)
@click.option(
    "--ask-questions", default=None, type=click.Path(exists=True, dir_okay=False), help="问答问题集"
)
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
def eval_cmd(index: str | None, ask_flag: bool, ask_questions: str | None, as_json: bool) -> None:
    """评测（仅问答部分）。

    \b
    示例：
      perfsearch eval --ask --index ./index
    """
    if not ask_flag:
        raise click.UsageError("请指定 --ask。")
    if run_ask_eval(index, ask_questions, as_json):
        sys.exit(1)


def attach_ask_flag(cmd: click.Command) -> None:
    """Give an existing ``eval`` command an ``--ask`` flag that runs :func:`run_ask_eval`
    (no-op when the command already declares ``--ask`` itself)."""
    if any("--ask" in getattr(p, "opts", ()) for p in cmd.params):
        return
    cmd.params.append(click.Option(["--ask", "qa_ask_flag"], is_flag=True, help=ASK_EVAL_HELP))
    original = cmd.callback

    @functools.wraps(original)  # type: ignore[arg-type]
    def callback(*args, qa_ask_flag: bool = False, **kwargs):
        if not qa_ask_flag:
            return original(*args, **kwargs) if original else None
        if run_ask_eval(kwargs.get("index"), None, bool(kwargs.get("as_json")), kwargs.get("model")):
            sys.exit(1)
        return None

    cmd.callback = callback


def eval_ask_text(engine: Engine, options: dict) -> str:
    """``ui.cli_search.EVALUATORS["ask"]``: accuracy per intent as a table (or JSON)."""
    from search.evaluation.qa_evaluate import evaluate_engine

    engine.require_index()
    rep = evaluate_engine(engine, options.get("ask_questions"))
    return json.dumps(rep.to_json(), ensure_ascii=False, indent=2) if options.get("as_json") else rep.table()


def _plug_into_search_eval(cmd: click.Command) -> bool:
    """Use the search module's evaluator registry when it has an "ask" slot."""
    try:
        from ui import cli_search
    except ImportError:
        return False
    registry = getattr(cli_search, "EVALUATORS", None)
    if not isinstance(registry, dict) or "ask" not in registry:
        return False
    if registry["ask"] is None:
        registry["ask"] = eval_ask_text
    for p in cmd.params:
        if "--ask" in getattr(p, "opts", ()):
            p.help = "评测问答：按意图统计 eval/questions.jsonl 与 eval/questions_staff.jsonl 的准确率"
    return True


def register(main: click.Group) -> None:
    main.add_command(ask_cmd)
    existing = main.commands.get("eval")
    if existing is None:
        main.add_command(eval_cmd)
    elif not _plug_into_search_eval(existing):
        attach_ask_flag(existing)


__all__ = ["ask_cmd", "attach_ask_flag", "eval_ask_text", "eval_cmd", "register", "run_ask_eval"]
