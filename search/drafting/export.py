"""Export a ``Draft`` as a standard 绩效目标表: ``.xlsx`` (openpyxl) or ``.csv``.

Layout (both formats)::

    <title>                                   (xlsx: merged over all columns)
    项目名称 | <project>   (project tables)   / 单位名称 | <unit> (department)
    实施单位 | <unit>      (project tables, when known)
    项目资金 | <funds> 万元 (when filled in)
    年度绩效目标 | <goal>  (when filled in)
    一级指标 | 二级指标 | 三级指标 | [半年指标值 | 全年指标值] or 指标值 | [权重] | [指标解释]
    产出指标 | 数量指标 | ...

In the xlsx file consecutive equal 一级 labels (and equal 一级+二级 pairs) are
merged vertically like real tables; the grid has thin borders, a bold shaded
header, column widths and wrapped text.  The CSV file is UTF-8 with a BOM so
Excel detects the encoding; it repeats the level labels on every row.

Both exports ingest back (``indexer.ingest.parse_file``) to the same
levels, names, values, half-year values and 指标解释.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from search.drafting.draft import Draft, DraftError

log = logging.getLogger(__name__)

EXPORT_SUFFIXES = (".xlsx", ".csv")
_WIDTHS = {
    "一级指标": 14,
    "二级指标": 18,
    "三级指标": 42,
    "半年指标值": 14,
    "全年指标值": 14,
    "指标值": 16,
    "指标解释": 36,
    "权重": 8,
}


def header(draft: Draft) -> list[str]:
    cols = ["一级指标", "二级指标", "三级指标"]
    cols += ["半年指标值", "全年指标值"] if draft.has_half_year else ["指标值"]
    if draft.has_weight:
        cols.append("权重")
    if draft.has_explanation:
        cols.append("指标解释")
    return cols


def info_rows(draft: Draft) -> list[tuple[str, str]]:
    """Key/value lines written between the title and the indicator grid."""
    out: list[tuple[str, str]] = []
    if draft.kind == "project":
        if draft.project:
            out.append(("项目名称", draft.project))
        if draft.unit:
            out.append(("实施单位", draft.unit))
    elif draft.unit:
        out.append(("单位名称", draft.unit))
    if draft.funds:
        funds = draft.funds.strip()
        out.append(("项目资金", funds if not funds.replace(".", "", 1).isdigit() else f"{funds} 万元"))
    if draft.goal:
        out.append(("年度绩效目标", draft.goal))
    return out


def body_rows(draft: Draft) -> list[list[str]]:
    out = []
    for r in draft.rows:
        line = [r.level1, r.level2, r.name]
        line += [r.half_year, r.value] if draft.has_half_year else [r.value]
        if draft.has_weight:
            line.append(r.weight)
        if draft.has_explanation:
            line.append(r.explanation)
        out.append(line)
    return out


def merge_spans(labels: list[str]) -> list[tuple[int, int]]:
    """(first, last) index ranges of runs of equal, non-empty labels longer than one row."""
    spans = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            if i - 1 > start and labels[start]:
                spans.append((start, i - 1))
            start = i
    return spans


def export_csv(draft: Draft, path: Path) -> Path:
    cols = header(draft)
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([draft.display_title()])
            year = f"（{draft.year}年度）" if draft.year else ""
            if year:
                w.writerow([year])
            for k, v in info_rows(draft):
                w.writerow([k, v])
            w.writerow(cols)
            w.writerows(body_rows(draft))
    except OSError as exc:
        raise DraftError(f"无法写入文件：{exc.strerror or exc}", path.name) from exc
    return path


def export_xlsx(draft: Draft, path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    cols = header(draft)
    ncol = len(cols)
    wb = Workbook()
    ws = wb.active
    ws.title = "绩效目标表"
    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="center")
    center = Alignment(wrap_text=True, vertical="center", horizontal="center")

    ws.cell(row=1, column=1, value=draft.display_title()).font = Font(bold=True, size=16)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center", vertical="center")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
    ws.row_dimensions[1].height = 30
    r = 2
    if draft.year:
        ws.cell(row=r, column=1, value=f"（{draft.year}年度）").alignment = Alignment(horizontal="center")
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=ncol)
        r += 1
    for k, v in info_rows(draft):
        kc = ws.cell(row=r, column=1, value=k)
        kc.font = Font(bold=True)
        ws.cell(row=r, column=2, value=v)
        if ncol > 2:
            ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=ncol)
        for c in range(1, ncol + 1):
            ws.cell(row=r, column=c).border = border
            ws.cell(row=r, column=c).alignment = wrap
        r += 1
    header_row = r
    for c, text in enumerate(cols, start=1):
        cell = ws.cell(row=header_row, column=c, value=text)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="D9E1F2")
        cell.alignment = center
        cell.border = border
    first = header_row + 1
    body = body_rows(draft)
    for i, line in enumerate(body):
        for c, text in enumerate(line, start=1):
            # write text cells as strings so "100%" is not turned into a number
            cell = ws.cell(row=first + i, column=c, value=text or None)
            cell.data_type = "s" if text else cell.data_type
            cell.alignment = center if c <= 2 else wrap
            cell.border = border
    level1 = [line[0] for line in body]
    level12 = [f"{line[0]}\x00{line[1]}" if line[1] else "" for line in body]
    for col, labels in ((1, level1), (2, level12)):
        for a, b in merge_spans(labels):
            ws.merge_cells(start_row=first + a, start_column=col, end_row=first + b, end_column=col)
    for c, text in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(c)].width = _WIDTHS.get(text, 16)
    ws.freeze_panes = ws.cell(row=first, column=1)
    try:
        wb.save(path)
    except OSError as exc:
        raise DraftError(f"无法写入文件：{exc.strerror or exc}", path.name) from exc
    return path


def export_draft(draft: Draft, out: Path | str) -> Path:
    """Write ``draft`` to ``out``; the suffix (.xlsx or .csv) picks the format."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return export_xlsx(draft, path)
    if suffix == ".csv":
        return export_csv(draft, path)
    raise DraftError(f"不支持的导出格式“{path.suffix or '（无扩展名）'}”，请使用 .xlsx 或 .csv", path.name)
