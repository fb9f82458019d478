"""``perfsearch`` command line: a thin layer over ``search.engine.Engine``."""

from __future__ import annotations

import json
import logging
import sys

import click

from search.engine import Engine, EngineError
from ui.cli_errors import SafeGroup, install_chinese_messages

install_chinese_messages()

INDEX_HELP = "索引目录（默认 ./index，可用环境变量 PERFSEARCH_INDEX 覆盖）"


def _engine(index: str | None) -> Engine:
    return Engine.open(index)


def _print_json_lines(objs) -> None:
    out = sys.stdout
    for o in objs:
        out.write(json.dumps(o, ensure_ascii=False) + "\n")


def run_ingest(engine: Engine, paths, *, prune: bool = False, show_progress: bool = True, desc: str = "导入"):
    """Ingest with a progress bar on stderr; print per-file errors and the summary (shared by commands)."""
    from tqdm import tqdm

    bar = None

    def progress(i: int, n: int, name: str) -> None:
        nonlocal bar
        if not show_progress:
            return
        if bar is None:
            bar = tqdm(total=n, desc=desc, unit="个文件", file=sys.stderr)
        bar.set_postfix_str(name[:40])
        bar.update(1)

    try:
        report = engine.ingest(paths, prune=prune, progress=progress, show_progress=None if show_progress else False)
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if bar is not None:
            bar.close()
    for err in report.errors:
        click.echo(f"错误：{err.message}", err=True)
    for skip in report.skipped:
        click.echo(f"跳过：{skip.message}", err=True)
    for warning in report.warnings:
        click.echo(f"警告：{warning}", err=True)
    click.echo(report.summary(), err=True)
    return report


@click.group(cls=SafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="输出调试日志（出错时显示完整的调用栈）")
@click.option("--milvus", "milvus", default=None, metavar="URI",
              help="检索数据放在 Milvus：本地 *.db 文件（Milvus Lite）或 http://主机:19530（同环境变量 PERFSEARCH_MILVUS_URI）")
def main(verbose: bool, milvus: str | None) -> None:
    """绩效目标检索（perfsearch）：政府预算绩效目标表的检索、问答与起草助手。"""
    click.get_current_context().meta["perfsearch.verbose"] = verbose
    if milvus:  # read once by EngineConfig.from_env, like the variable itself
        import os

        os.environ["PERFSEARCH_MILVUS_URI"] = milvus
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # pdfminer's English complaints about damaged PDFs: the user gets our one line
        logging.getLogger("pdfminer").setLevel(logging.ERROR)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--index", "index", default=None, help=INDEX_HELP)
@click.option("--prune", is_flag=True, help="从索引中移除这些路径下已不存在的文件")
@click.option("--no-progress", is_flag=True, help="不显示进度条")
@click.option("--report", "show_report", is_flag=True, help="逐个文件输出解析报告（表数、指标数、缺值、层级不明、跳过的网页杂项）")
def ingest(paths: tuple[str, ...], index: str | None, prune: bool, no_progress: bool, show_report: bool) -> None:
    """导入文件或文件夹（txt/csv、pdf（含扫描件）、xlsx/xls/et、docx/doc/wps、网页、图片），增量更新索引。

    \b
    示例：
      perfsearch ingest corpus/
      perfsearch ingest 新文件.pdf --index ./index
      perfsearch ingest corpus/ --prune
      perfsearch ingest corpus/ --report
    """
    report = run_ingest(_engine(index), paths, prune=prune, show_progress=not no_progress)
    if show_report:
        from indexer.pipeline import collect_files
        from indexer.report import report_file

        for f in collect_files(paths)[0]:
            click.echo(report_file(f).text())
    if report.errors:
        sys.exit(1)


@main.command()
@click.option("--index", "index", default=None, help=INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help="每行输出一个 JSON 对象")
def rows(index: str | None, as_json: bool) -> None:
    """列出索引中的全部指标行。

    \b
    示例：
      perfsearch rows --json > rows.jsonl
    """
    try:
        objs = _engine(index).rows_json()
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _print_json_lines(objs)
        return
    for o in objs:
        click.echo(
            f"{o['unit']}｜{o['project'] or '部门整体'}｜{o['level1']}/{o['level2']}｜{o['name']}｜{o['value']}"
            f"｜{o['doc']}"
        )


@main.command()
@click.option("--index", "index", default=None, help=INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help="每行输出一个 JSON 对象")
def docs(index: str | None, as_json: bool) -> None:
    """列出索引中的全部绩效目标表（每张表一行）。

    \b
    示例：
      perfsearch docs --json
    """
    try:
        objs = _engine(index).docs_json()
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _print_json_lines(objs)
        return
    for o in objs:
        kind = "部门整体" if o["table"] == "department" else "项目"
        click.echo(f"{o['doc']}｜{o['unit']}｜{o['year']}｜{kind}｜{o['project']}｜资金总额 {o['total_budget_wan']} 万元")


def _register_optional_commands() -> None:
    """Commands of later stages live in their own modules (ui/cli_*.py)."""
    import importlib

    for mod in ("ui.cli_search", "ui.cli_ask", "ui.cli_draft", "ui.cli_serve"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
            continue
        m.register(main)


_register_optional_commands()

if __name__ == "__main__":
    main()
