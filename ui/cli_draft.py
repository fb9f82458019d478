"""Drafting commands: ``suggest``, ``check`` and the ``draft`` group.

Registered by ``ui.cli`` through ``register(main)``.

Exit codes of ``perfsearch check``: 0 when no finding has severity ``error``
(warnings and notes are printed but do not fail), 1 when at least one
``error`` finding exists (with ``--strict``: also on warnings), 2 when the
input cannot be read (missing file, invalid draft JSON, not a table).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from indexer.model import IngestError
from search.drafting.draft import (
    Draft,
    DraftError,
    DraftRow,
    add_row,
    edit_row,
    load_draft,
    new_draft,
    remove_row,
    save_draft,
)
from search.engine import Engine, EngineError

log = logging.getLogger(__name__)

INDEX_HELP = "索引目录（默认 ./index，可用环境变量 PERFSEARCH_INDEX 覆盖）"
SEVERITY_LABELS = {"error": "错误", "warning": "警告", "info": "提示"}
FRAMEWORK_LABELS = {
    ("duty", "department"): "决策/过程/履职/效益/满意度",
    ("duty", "project"): "决策/过程/履职/效益/满意度",
    ("standard", "department"): "产出/效益/满意度",
    ("standard", "project"): "产出/成本/效益/满意度",
    ("flat", "department"): "无一级/二级指标",
    ("flat", "project"): "无一级/二级指标",
}


class InputError(click.ClickException):
    """The input file cannot be used (exit code 2, distinct from check findings)."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"错误：{self.format_message()}", file=file or sys.stderr)


def _input_error(exc: Exception) -> InputError:
    return InputError(str(exc))


def _echo_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------
# check


def _print_report(rep, show: set[str]) -> None:
    from search.drafting.check import table_framework

    t = rep.table
    click.echo(f"【{rep.file}】{rep.label}（指标框架：{FRAMEWORK_LABELS[(table_framework(t), t.kind)]}）")
    shown = [f for f in rep.findings if f.severity in show]
    if not rep.findings:
        click.echo("  未发现问题。")
    elif not shown:
        click.echo("  没有所选级别及以上的问题。")
    for f in shown:
        where = ""
        if f.row_index is not None:
            r = t.rows[f.row_index]
            src = r.source.label()
            where = f"第{f.row_index + 1}条指标（{src}）"
        else:
            where = "整表"
        click.echo(f"  [{SEVERITY_LABELS[f.severity]}] {f.rule_id} {where}：{f.message}")
        click.echo(f"      依据：{f.rule}")
    c = rep.counts()
    click.echo(f"  小计：错误 {c['error']}，警告 {c['warning']}，提示 {c['info']}")


@click.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="每张表输出一个 JSON 对象（每行一个）")
@click.option("--strict", is_flag=True, help="有“警告”时也以退出码 1 结束")
@click.option(
    "--min-severity",
    type=click.Choice(["error", "warning", "info"]),
    default="info",
    show_default=True,
    help="只显示该级别及以上的问题（文本输出）",
)
def check_cmd(file: Path, as_json: bool, strict: bool, min_severity: str) -> None:
    """检查绩效目标表或草稿，逐条说明问题及依据的规则。

    FILE 可以是 txt / pdf / xlsx 格式的绩效目标表，也可以是草稿 JSON（perfsearch draft new 生成）。

    \b
    检查规则：缺少一级指标类别、一级/二级不匹配、指标值缺运算符/数值/单位、
    单位与名称不符（……率用 %，……人数用 人/人次）、满意度应写“≥百分比”、
    成本应写“≤金额”、模糊表述（显著提高、按时完成）、模板占位符（XX、**）、
    重复指标、半年值与全年值不一致。

    \b
    退出码：0 = 没有“错误”级问题；1 = 有“错误”级问题（加 --strict 时警告也算）；
            2 = 文件无法读取或草稿格式不正确。

    \b
    示例：
      perfsearch check corpus/003_be79a3bdad299845.txt
      perfsearch check 我的草稿.json --json
      perfsearch check 申报表.xlsx --strict --min-severity warning
    """
    from search.drafting.check import SEVERITIES

    try:
        reports = Engine.open(None).check(file)
    except (DraftError, IngestError) as exc:
        raise _input_error(exc) from exc
    if as_json:
        for rep in reports:
            _echo_json(rep.to_json())
    else:
        show = set(SEVERITIES[: SEVERITIES.index(min_severity) + 1])
        for rep in reports:
            _print_report(rep, show)
        totals = {s: sum(rep.counts()[s] for rep in reports) for s in SEVERITIES}
        click.echo(
            f"共检查 {len(reports)} 张表：错误 {totals['error']}，警告 {totals['warning']}，提示 {totals['info']}"
        )
    failing = {"error", "warning"} if strict else {"error"}
    if any(f.severity in failing for rep in reports for f in rep.findings):
        sys.exit(1)


# ---------------------------------------------------------------------------
# draft group


@click.group("draft")
def draft_group() -> None:
    """起草绩效目标表：新建草稿、增删改指标、导出 xlsx / csv。

    \b
    示例：
      perfsearch draft new 草稿.json --project 教师培训项目 --unit 某某区教育局 --year 2025
      perfsearch draft add 草稿.json --level1 产出指标 --level2 数量指标 --name 培训人数 --value "≥500人"
      perfsearch draft pick 草稿.json 教师培训 -n 1 -n 3   （采用 perfsearch suggest 的第 1、3 条建议）
      perfsearch draft show 草稿.json
      perfsearch check 草稿.json
      perfsearch draft export 草稿.json --out 绩效目标表.xlsx
    """


def _load(path: Path) -> Draft:
    try:
        return load_draft(path)
    except DraftError as exc:
        raise _input_error(exc) from exc


def _save(draft: Draft, path: Path) -> None:
    try:
        save_draft(draft, path)
    except DraftError as exc:
        raise _input_error(exc) from exc


@draft_group.command("new")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["project", "department"]),
    default="project",
    show_default=True,
    help="表类型：项目支出 / 部门整体",
)
@click.option("--project", default="", help="项目名称")
@click.option("--unit", default="", help="单位名称")
@click.option("--year", type=int, default=None, help="年度，如 2025")
@click.option("--title", default="", help="表标题（默认按年度和表类型生成）")
@click.option(
    "--from",
    "from_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="从已有的绩效目标表（txt/pdf/xlsx）复制指标",
)
@click.option("--table", "table_no", type=int, default=1, show_default=True, help="与 --from 合用：第几张表")
@click.option("--force", is_flag=True, help="覆盖已存在的草稿文件")
def draft_new(
    out: Path,
    kind: str,
    project: str,
    unit: str,
    year: int | None,
    title: str,
    from_file: Path | None,
    table_no: int,
    force: bool,
) -> None:
    """新建草稿 JSON 文件。

    \b
    示例：
      perfsearch draft new 草稿.json --project 教师培训项目 --year 2025
      perfsearch draft new 草稿.json --from corpus/003_be79a3bdad299845.txt --table 5
    """
    if out.exists() and not force:
        raise InputError(f"{out.name}：文件已存在（如需覆盖请加 --force）")
    if from_file is not None:
        from indexer.ingest import parse_file
        from search.drafting.draft import draft_from_table

        try:
            doc = parse_file(from_file)
        except IngestError as exc:
            raise _input_error(exc) from exc
        if not 1 <= table_no <= len(doc.tables):
            raise InputError(f"{doc.file}：没有第{table_no}张表（共 {len(doc.tables)} 张）")
        draft = draft_from_table(doc.tables[table_no - 1], doc.unit, doc.year)
    else:
        try:
            draft = new_draft(title=title, unit=unit, year=year, kind=kind, project=project)
        except DraftError as exc:
            raise _input_error(exc) from exc
    _save(draft, out)
    click.echo(f"已创建草稿 {out}（{len(draft.rows)} 条指标）", err=True)


@draft_group.command("add")
@click.argument("draft_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--level1", required=True, help="一级指标，如 产出指标")
@click.option("--level2", required=True, help="二级指标，如 数量指标")
@click.option("--name", required=True, help="三级指标名称")
@click.option("--value", default="", help="指标值，如 ≥90%")
@click.option("--half-year", default="", help="半年指标值")
@click.option("--explanation", default="", help="指标解释")
def draft_add(
    draft_file: Path, level1: str, level2: str, name: str, value: str, half_year: str, explanation: str
) -> None:
    """向草稿添加一条指标（放在同一一级/二级指标的最后）。

    \b
    示例：
      perfsearch draft add 草稿.json --level1 满意度指标 --level2 服务对象满意度指标 --name 参训教师满意度 --value "≥90%"
    """
    draft = _load(draft_file)
    try:
        draft = add_row(draft, DraftRow(level1, level2, name, value, half_year, explanation))
    except DraftError as exc:
        raise InputError(f"{draft_file.name}：{exc}") from exc
    _save(draft, draft_file)
    click.echo(f"已添加，草稿共 {len(draft.rows)} 条指标", err=True)


@draft_group.command("pick")
@click.argument("draft_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("text")
@click.option(
    "-n",
    "--number",
    "numbers",
    type=int,
    multiple=True,
    required=True,
    help="要采用的建议编号（与 perfsearch suggest 的编号一致），可重复",
)
@click.option(
    "--top-k",
    "top_k",
    type=click.IntRange(1, 200),
    default=20,
    show_default=True,
    help="建议总条数（须与查看建议时一致）",
)
@click.option(
    "--per-group",
    "per_group",
    type=click.IntRange(1, 200),
    default=5,
    show_default=True,
    help="每组最多条数（须与查看建议时一致）",
)
@click.option("--model", default=None, help="嵌入模型（默认：索引记录的模型）")
@click.option("--index", "index", default=None, help=INDEX_HELP)
def draft_pick(
    draft_file: Path, text: str, numbers: tuple[int, ...], top_k: int, per_group: int, model, index
) -> None:
    """把 perfsearch suggest TEXT 列出的第 N 条建议加入草稿（名称取规范写法，指标值取最常用的值）。

    \b
    示例：
      perfsearch suggest 教师培训
      perfsearch draft pick 草稿.json 教师培训 -n 1 -n 4 -n 9
      perfsearch draft edit 草稿.json 2 --value "≥2000人"
    """
    from search.drafting.draft import row_from_suggestion
    from search.drafting.suggest import SuggestError

    draft = _load(draft_file)
    engine = Engine.open(index, model=model)
    try:
        result = engine.suggest(text, top_k=top_k, per_group=per_group, examples=1)
    except (EngineError, SuggestError) as exc:
        raise click.ClickException(str(exc)) from exc
    numbered = [(g, s) for g in result.groups for s in g.suggestions]
    for n in numbers:
        if not 1 <= n <= len(numbered):
            raise InputError(f"没有第{n}条建议（共 {len(numbered)} 条）")
        g, s = numbered[n - 1]
        level1, level2 = g.level1, g.level2
        if s.examples and (not level1 or not level2):
            level1 = level1 or s.examples[0]["level1"]
            level2 = level2 or s.examples[0]["level2"]
        row = row_from_suggestion(s.to_json(), level1, level2)
        try:
            draft = add_row(draft, row)
        except DraftError as exc:
            raise InputError(f"第{n}条建议“{s.name}”无法加入草稿：{exc.reason}") from exc
        click.echo(
            f"已加入：{row.level1}/{row.level2}｜{row.name}｜{row.value or '（未填指标值）'}", err=True
        )
    _save(draft, draft_file)
    click.echo(f"草稿共 {len(draft.rows)} 条指标", err=True)


@draft_group.command("edit")
@click.argument("draft_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("row", type=int)
@click.option("--level1", default=None, help="一级指标")
@click.option("--level2", default=None, help="二级指标")
@click.option("--name", default=None, help="三级指标名称")
@click.option("--value", default=None, help="指标值")
@click.option("--half-year", default=None, help="半年指标值")
@click.option("--explanation", default=None, help="指标解释")
def draft_edit(draft_file: Path, row: int, **fields: str | None) -> None:
    """修改草稿第 ROW 条指标（从 1 开始编号，见 draft show）。

    \b
    示例：
      perfsearch draft edit 草稿.json 3 --value "≥95%"
    """
    draft = _load(draft_file)
    changes = {k: v for k, v in fields.items() if v is not None}
    try:
        draft = edit_row(draft, row - 1, **changes)
    except DraftError as exc:
        raise InputError(f"{draft_file.name}：{exc}") from exc
    _save(draft, draft_file)
    click.echo(f"已修改第{row}条指标", err=True)


@draft_group.command("remove")
@click.argument("draft_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("row", type=int)
def draft_remove(draft_file: Path, row: int) -> None:
    """删除草稿第 ROW 条指标。

    \b
    示例：
      perfsearch draft remove 草稿.json 2
    """
    draft = _load(draft_file)
    try:
        draft = remove_row(draft, row - 1)
    except DraftError as exc:
        raise InputError(f"{draft_file.name}：{exc}") from exc
    _save(draft, draft_file)
    click.echo(f"已删除第{row}条指标，草稿共 {len(draft.rows)} 条", err=True)


@draft_group.command("show")
@click.argument("draft_file", type=click.Path(dir_okay=False, path_type=Path))
def draft_show(draft_file: Path) -> None:
    """列出草稿中的指标（带编号）。

    \b
    示例：
      perfsearch draft show 草稿.json
    """
    draft = _load(draft_file)
    click.echo(
        draft.display_title()
        + (f"｜{draft.project}" if draft.project else "")
        + (f"｜{draft.unit}" if draft.unit else "")
    )
    for i, r in enumerate(draft.rows, start=1):
        half = f"｜半年 {r.half_year}" if r.half_year else ""
        click.echo(f"{i:>3}. {r.level1}/{r.level2}｜{r.name}｜{r.value}{half}")


@draft_group.command("export")
@click.argument("draft_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="输出文件（.xlsx 或 .csv）",
)
def draft_export(draft_file: Path, out: Path) -> None:
    """把草稿导出为标准表样的 .xlsx（合并单元格）或 .csv（UTF-8 BOM，Excel 可直接打开）。

    \b
    示例：
      perfsearch draft export 草稿.json --out 绩效目标表.xlsx
      perfsearch draft export 草稿.json --out 绩效目标表.csv
    """
    from search.drafting.export import export_draft

    draft = _load(draft_file)
    try:
        path = export_draft(draft, out)
    except DraftError as exc:
        raise _input_error(exc) from exc
    click.echo(f"已导出 {path}（{len(draft.rows)} 条指标）", err=True)


# ---------------------------------------------------------------------------
# suggest


def _print_suggestions(result) -> None:
    if not result.groups:
        click.echo(f"「{result.query}」没有找到可参考的指标。")
        return
    click.echo(f"「{result.query}」的指标建议（按一级/二级指标分组，组内按相关度排序）：")
    n = 0
    for g in result.groups:
        click.echo(f"\n{g.level1 or '（未分级）'}" + (f" / {g.level2}" if g.level2 else ""))
        for s in g.suggestions:
            n += 1
            values = "、".join(f"{v}×{c}" for v, c in s.values[:4]) or "—"
            click.echo(f"  {n:>2}. {s.name}｜{s.units} 个单位、{s.tables} 张表使用｜常用值：{values}")
            if s.variants:
                click.echo(f"      其他写法：{'；'.join(s.variants[:4])}")
            for ex in s.examples:
                where = ex["project"] or "部门整体"
                src = ex["source"]
                loc = (
                    f"第{src['page']}页"
                    if src.get("page")
                    else (f"第{src['line']}行" if src.get("line") else "")
                )
                click.echo(
                    f"      例：{ex['unit']}｜{where}｜{ex['name']}｜{ex['value'] or '—'}｜{ex['doc']} {loc}".rstrip()
                )


@click.command("suggest")
@click.argument("text", required=False)
@click.option(
    "--batch",
    "batch",
    type=click.Path(dir_okay=False, path_type=Path),
    help="批量：文件中每行一个输入，每个输入输出一行 JSON（含 input 字段）",
)
@click.option("--unit", help="只参考该单位的表（包含匹配）")
@click.option("--year", type=int, help="只参考该年度的表")
@click.option("--kind", type=click.Choice(["department", "project"]), help="只参考部门整体表 / 项目表")
@click.option("--level1", help="只看该一级指标，如 产出指标、满意度")
@click.option("--level2", help="只看该二级指标，如 数量指标")
@click.option(
    "--exclude",
    multiple=True,
    help="隐藏某个文件（文件名）或其中第 N 张表（文件名#N），连同其 PDF/xlsx 副本；可重复",
)
@click.option(
    "--top-k", "top_k", type=click.IntRange(1, 200), default=20, show_default=True, help="建议总条数"
)
@click.option(
    "--per-group",
    "per_group",
    type=click.IntRange(1, 200),
    default=5,
    show_default=True,
    help="每个一级/二级分组最多条数",
)
@click.option(
    "--examples", type=click.IntRange(0, 20), default=3, show_default=True, help="每条建议附带的示例行数"
)
@click.option("--model", default=None, help="嵌入模型（默认：索引记录的模型）")
@click.option("--index", "index", default=None, help=INDEX_HELP)
@click.option("--json", "as_json", is_flag=True, help='输出 JSON：{"groups": [...]}')
def suggest_cmd(
    text, batch, unit, year, kind, level1, level2, exclude, top_k, per_group, examples, model, index, as_json
) -> None:
    """根据项目名称、绩效目标或指标名称，推荐可参考的绩效指标。

    建议按一级/二级指标分组；每条建议是各单位相同或相近写法的合并，
    给出使用的单位数和表数、常用指标值分布和带出处的示例。
    排序依据与输入的相关度（检索指标行，以及项目名称/绩效目标相近的表的全部指标），而不只是出现频次。

    \b
    示例：
      perfsearch suggest 教师培训
      perfsearch suggest "学前教育资助 落实国家资助政策，减轻家庭经济困难幼儿家庭负担" --json
      perfsearch suggest 满意度 --level1 满意度 --top-k 5
      perfsearch suggest 学前教育资助 --exclude 003_be79a3bdad299845.txt#8
      perfsearch suggest --batch 项目名称.txt --json > 建议.jsonl
    """
    from search.drafting.suggest import SuggestError

    if (text is None) == (batch is None):
        raise click.UsageError("请给出一个输入，或用 --batch 指定输入文件（二者选一）")
    if batch is not None:
        try:
            inputs = [ln.strip() for ln in batch.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{batch.name}：无法读取输入文件（{exc}）") from exc
    else:
        inputs = [text]
    engine = Engine.open(index, model=model)
    kwargs = dict(unit=unit, year=year, kind=kind, level1=level1, level2=level2, exclude=list(exclude),
                  top_k=top_k, per_group=per_group, examples=examples)  # fmt: skip
    for i, q in enumerate(inputs):
        try:
            result = engine.suggest(q, **kwargs)
        except (EngineError, SuggestError) as exc:
            raise click.ClickException(str(exc)) from exc
        if as_json:
            obj = result.to_json()
            _echo_json({"input": q, **obj} if batch is not None else obj)
        else:
            if i:
                click.echo("")
            _print_suggestions(result)


# ---------------------------------------------------------------------------
# eval --draft (plugged into ui.cli_search's eval command)


def _eval_draft(engine: Engine, options: dict) -> str:
    """``perfsearch eval --draft``: leave-one-table-out evaluation of suggest."""
    from search.evaluation.draft_evaluate import DEFAULT_TOP_N, evaluate_drafting

    top_n = options.get("top_k") or DEFAULT_TOP_N
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.get_parameter_source("top_k") == click.core.ParameterSource.DEFAULT:
        top_n = DEFAULT_TOP_N  # the eval command's default k (10) is meant for search

    def progress(i: int, n: int, name: str) -> None:
        click.echo(f"[{i}/{n}] {name}", err=True)

    report = evaluate_drafting(engine, top_n=top_n, progress=progress)
    if options.get("as_json"):
        return json.dumps(report.to_json(), ensure_ascii=False)
    return "\n".join(report.lines())


def _plug_into_eval(main: click.Group) -> None:
    try:
        from ui import cli_search
    except ImportError:  # the search commands are optional too
        return
    cli_search.EVALUATORS["draft"] = _eval_draft
    cmd = main.commands.get("eval")
    for p in getattr(cmd, "params", ()):
        if p.name == "do_draft":
            p.help = "评测起草助手：留一法，隐藏每张项目表后看建议覆盖其指标的比例（默认前 20 条）"


def register(main: click.Group) -> None:
    main.add_command(check_cmd)
    main.add_command(draft_group)
    main.add_command(suggest_cmd)
    _plug_into_eval(main)
