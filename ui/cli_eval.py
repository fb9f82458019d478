"""``perfsearch eval``: one command, explicit modes, each calling its evaluation directly.

    --search (default)  search/evaluation/evaluate.py       Recall@k, MRR, nDCG@k per mode
    --fast-embed        the same, default vs int8 vectors side by side
    --ask               search/evaluation/qa_evaluate.py    question-answering accuracy per intent
    --draft             search/evaluation/draft_evaluate.py leave-one-table-out evaluation of suggest
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from search.engine import Engine, EngineError
from ui.cli_common import index_option, model_option, open_engine

SEARCH_HELP = "评测检索（默认）：BM25、向量、混合的 Recall@k、MRR、nDCG@k"
ASK_HELP = "评测问答：按意图统计 eval/questions.jsonl 与 eval/questions_staff.jsonl 的准确率"
DRAFT_HELP = "评测起草助手：留一法，隐藏每张项目表后看建议覆盖其指标的比例（默认前 20 条）"
FAST_EMBED_HELP = "检索评测同时用 int8 快速向量化重建一份索引，并排列出两者的 Recall/MRR/nDCG"


def search_text(engine: Engine, queries: str | None, top_k: int, *, detail: bool = False,
                as_json: bool = False) -> str:
    """``--search``: the retrieval metrics table (or JSON)."""
    from search.evaluation.evaluate import DEFAULT_QUERIES, evaluate_search, load_queries

    try:
        labelled = load_queries(queries or DEFAULT_QUERIES)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"无法读取查询文件：{exc}") from exc
    report = evaluate_search(engine, labelled, top_k=top_k)
    if as_json:
        return json.dumps(report.to_json(), ensure_ascii=False)
    return report.table(detail=detail)


def fast_embed_text(engine: Engine, queries: str | None, top_k: int, *, as_json: bool = False) -> str:
    """``--fast-embed``: default vectors vs int8 vectors, side by side."""
    from search.evaluation.evaluate import MODE_LABELS

    current, fast = engine.evaluate_search_fast(queries, top_k=top_k)
    if as_json:
        return json.dumps({"default": current.to_json(), "fast_embed": fast.to_json()}, ensure_ascii=False)
    k = top_k
    lines = [f"向量精度对比：默认（fp32） vs --fast-embed（int8），{current.n_queries} 条标注查询，前 {k} 条", "",
             f"模式{' ' * 8}{'指标':<10}{'默认':>6}{'int8':>8}{'差值':>6}", "-" * 46]
    for m in current.modes:
        for metric, label in (("recall", f"Recall@{k}"), ("mrr", "MRR"), ("ndcg", f"nDCG@{k}")):
            a, b = current.overall[m][metric], fast.overall[m][metric]
            name = MODE_LABELS.get(m, m)
            width = sum(2 if ord(c) > 0x2E80 else 1 for c in name)
            lines.append(f"{name}{' ' * max(1, 12 - width)}{label:<10}{a:>8.3f}{b:>8.3f}{b - a:>+8.3f}")
    return "\n".join(lines)


def ask_text(engine: Engine, questions: str | None, *, as_json: bool = False) -> str:
    """``--ask``: accuracy per intent as a table (or JSON)."""
    from search.evaluation.qa_evaluate import evaluate_engine

    engine.require_index()
    try:
        rep = evaluate_engine(engine, questions)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"无法读取问题集：{exc}") from exc
    return json.dumps(rep.to_json(), ensure_ascii=False, indent=2) if as_json else rep.table()


def draft_text(engine: Engine, top_n: int | None, *, as_json: bool = False) -> str:
    """``--draft``: leave-one-table-out evaluation of suggest (progress on stderr)."""
    from search.evaluation.draft_evaluate import DEFAULT_TOP_N, evaluate_drafting

    def progress(i: int, n: int, name: str) -> None:
        click.echo(f"[{i}/{n}] {name}", err=True)

    report = evaluate_drafting(engine, top_n=top_n or DEFAULT_TOP_N, progress=progress)
    if as_json:
        return json.dumps(report.to_json(), ensure_ascii=False)
    return "\n".join(report.lines())


def ensure_index(engine: Engine, corpus: str | None) -> None:
    """Build the index from the corpus folder when it does not exist yet."""
    if engine.has_index() or not corpus:
        return
    if not Path(corpus).is_dir():
        raise click.ClickException(f"索引 {engine.index_dir} 不存在，语料目录 {corpus} 也不存在；请先运行 perfsearch ingest")
    click.echo(f"索引 {engine.index_dir} 不存在，正在从 {corpus} 构建……", err=True)
    report = engine.ingest([corpus])
    click.echo(report.summary(), err=True)


@click.command("eval")
@click.option("--search", "do_search", is_flag=True, help=SEARCH_HELP)
@click.option("--ask", "do_ask", is_flag=True, help=ASK_HELP)
@click.option("--draft", "do_draft", is_flag=True, help=DRAFT_HELP)
@click.option("--queries", type=click.Path(exists=True, dir_okay=False), default=None,
              help="标注查询文件（默认 eval/queries.jsonl）")
@click.option("--ask-questions", type=click.Path(exists=True, dir_okay=False), default=None,
              help="与 --ask 合用：问答问题集（默认 eval/questions.jsonl 与 eval/questions_staff.jsonl）")
@click.option("--top-k", "top_k", type=click.IntRange(1, 100), default=10, show_default=True, help="评测截断位置 k")
@click.option("--detail", is_flag=True, help="同时按查询类型列出 nDCG")
@click.option("--corpus", default="corpus", show_default=True, help="索引不存在时从此目录构建")
@model_option()
@index_option
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 而不是表格")
@click.option("--fast-embed", "fast_embed", is_flag=True, help=FAST_EMBED_HELP)
@click.pass_context
def eval_cmd(ctx: click.Context, do_search: bool, do_ask: bool, do_draft: bool, queries: str | None,
             ask_questions: str | None, top_k: int, detail: bool, corpus: str, model: str | None,
             index: str | None, as_json: bool, fast_embed: bool) -> None:
    """评测：在标注查询集上比较 BM25、向量和混合检索；--ask 评测问答，--draft 评测起草助手。

    \b
    示例：
      perfsearch eval
      perfsearch eval --search --detail
      perfsearch eval --queries eval/queries.jsonl --index ./index --json
      perfsearch eval --fast-embed
      perfsearch eval --ask
      perfsearch eval --draft --json
    """
    if not (do_search or do_ask or do_draft):
        do_search = True
    # --top-k's default (10) is meant for search; the drafting evaluation has its own (20)
    draft_top_n = None if ctx.get_parameter_source("top_k") == click.core.ParameterSource.DEFAULT else top_k
    engine = open_engine(index, model)
    try:
        ensure_index(engine, corpus)
        if do_search:
            if fast_embed:
                click.echo(fast_embed_text(engine, queries, top_k, as_json=as_json))
            else:
                click.echo(search_text(engine, queries, top_k, detail=detail, as_json=as_json))
        if do_ask:
            click.echo(ask_text(engine, ask_questions, as_json=as_json))
        if do_draft:
            click.echo(draft_text(engine, draft_top_n, as_json=as_json))
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
