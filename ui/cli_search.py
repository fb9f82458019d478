"""``perfsearch search``: hybrid (keyword + vector) search over the indicator rows."""

from __future__ import annotations

from pathlib import Path

import click

from search.engine import EngineError
from ui.cli_common import index_option, model_option, open_engine, write_json

TABLE_LABELS = {"department": "部门整体", "project": "项目"}


def _filters(unit, year, region, table, project, level1, level2, doc) -> dict:
    return {
        k: v
        for k, v in dict(unit=unit, year=year, region=region, table=table, project=project,
                         level1=level1, level2=level2, doc=doc).items()
        if v not in (None, "")
    }


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
@model_option()
@index_option
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
    engine = open_engine(index, model)
    try:
        results = engine.search_batch(queries, top_k=top_k, filters=filters, mode=mode, fusion=fusion) if queries else []
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        for r in results:
            if batch is None:
                for h in r.hits:
                    write_json(h.to_json())
            else:
                write_json(r.to_json())
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
