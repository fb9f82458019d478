"""Render ``Table`` objects as government-style PDFs and xlsx files.

The seed documents in ``corpus/*.txt`` are text extracted from real PDFs.  This
script turns their parsed form back into ruled PDF tables (and one xlsx
workbook) so that the PDF/xlsx extractors can be exercised on files that can
be rebuilt at any time:

    python -m scripts.make_corpus            # writes corpus/pdf_*.pdf, corpus/xlsx_*.xlsx

Layout (one grid table per ``Table``, all lines drawn):

- a centred title ("苏州市市级部门整体预算绩效目标表" / "项目支出绩效目标表") and a
  year line ("2023年度") above the grid;
- department: 单位名称, 单位主要职能, a budget block (部门整体资金（万元） spanning
  资金总额 + 支出 header + one row per expense line); project: 项目名称,
  实施单位, 项目资金（万元） spanning 年度资金总额 + funding lines;
- one row per goal (中长期目标, 年度目标 ...);
- the indicator header and one row per indicator; the 核心职能 / 一级 / 二级 /
  重点工作 cells are merged over consecutive rows sharing the same value.

A grid that does not fit on a page is split like a word processor does it:
anywhere between rows, a merged label cut by the break continues as an empty
merged cell, and the indicator header is repeated on the continuation page.
Output is deterministic (reportlab ``invariant=1``, fixed xlsx timestamps).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import io
import logging
import math
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from indexer.model import IndicatorRow, Table

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "corpus"

# seed text -> rendered corpus file
CORPUS_JOBS: tuple[tuple[str, str], ...] = (
    ("000_49ac853719709592.txt", "pdf_000_suzhou_jiance_2023.pdf"),
    ("003_be79a3bdad299845.txt", "pdf_003_ganzhou_jiaoti_2023.pdf"),
    ("004_65f67547a9505fce.txt", "pdf_004_huangyuan_2024.pdf"),
    ("002_e915be5c49c8d360.txt", "xlsx_002_suzhou_zhuangbei_2023.xlsx"),
)

FONT_NAME = "PerfsearchCJK"
# TrueType-outline CJK fonts reportlab can embed (CFF/OpenType such as Noto CJK cannot be used)
FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
)
FONT_MISSING = "未找到可用的中文 TrueType 字体，无法生成 PDF。请先安装：apt-get install -y fonts-wqy-zenhei"

MARGIN = 40.0
DEFAULT_FONT_SIZE = 8.0
FIXED_TIME = _dt.datetime(2024, 1, 1, 0, 0, 0)

DEPARTMENT_TITLE = "部门整体支出绩效目标表"
PROJECT_TITLE = "项目支出绩效目标表"
BUDGET_LABEL = "部门整体资金（万元）"
FUNDING_LABEL = "项目资金（万元）"

# indicator column kind -> (header text, width in points; None = takes the rest)
_COLUMN_WIDTHS: dict[str, float | None] = {
    "function": 70.0,
    "level1": 50.0,
    "level2": 62.0,
    "task": 80.0,
    "name": None,
    "half": 52.0,
    "value": 58.0,
}
_LABEL_KINDS = ("function", "level1", "level2", "task")


# ---------------------------------------------------------------- formatting


def fmt_amount(value: float | None) -> str:
    """Render an amount the way a table shows it: ``2190.36``, ``0``, ``''`` for None."""
    if value is None:
        return ""
    v = float(value)
    if not math.isfinite(v):
        return ""
    v = round(v, 10)
    if v.is_integer():
        return str(int(v))
    return f"{v:.10f}".rstrip("0").rstrip(".")


def default_title(table: Table) -> str:
    if table.kind == "project":
        return PROJECT_TITLE
    return table.title or DEPARTMENT_TITLE


# ---------------------------------------------------------------- grid model


Value = str | float | None


@dataclass
class GridSpec:
    """A rectangular grid with merged ranges, independent of the output format.

    ``values[r][c]`` holds the text (or a number) of the cell whose top-left
    corner is (r, c); covered positions of a merged range hold ``""``.
    ``spans`` are inclusive ``(col0, row0, col1, row1)`` ranges.
    """

    ncols: int
    values: list[list[Value]] = field(default_factory=list)
    spans: list[tuple[int, int, int, int]] = field(default_factory=list)
    header_row: int | None = None  # indicator header, repeated on continuation pages
    left: set[tuple[int, int]] = field(default_factory=set)  # left-aligned (long text) cells

    @property
    def nrows(self) -> int:
        return len(self.values)

    def add(self, parts: Sequence[tuple[Value, int]], *, left: Sequence[int] = ()) -> int:
        """Append a row given as ``(value, colspan)`` parts; returns the row index."""
        if sum(span for _, span in parts) != self.ncols:
            raise ValueError(f"row spans {sum(s for _, s in parts)} columns, grid has {self.ncols}")
        r = self.nrows
        row: list[Value] = []
        for i, (value, span) in enumerate(parts):
            c = len(row)
            row.extend([value] + [""] * (span - 1))
            if span > 1:
                self.spans.append((c, r, c + span - 1, r))
            if i in left:
                self.left.add((r, c))
        self.values.append(row)
        return r

    def merge_down(self, col: int, r0: int, r1: int, value: Value) -> None:
        """Merge column ``col`` over rows ``r0..r1`` and write ``value`` once."""
        self.values[r0][col] = value
        for r in range(r0 + 1, r1 + 1):
            self.values[r][col] = ""
        if r1 > r0:
            self.spans.append((col, r0, col, r1))

    def split(self, n: int) -> tuple[GridSpec, GridSpec]:
        """Cut before row ``n``; the second part repeats the header row when it was passed."""
        repeat = self.header_row is not None and self.header_row < n
        prefix = [list(self.values[self.header_row])] if repeat else []  # type: ignore[index]
        off = len(prefix) - n
        top = GridSpec(self.ncols, [list(r) for r in self.values[:n]])
        bottom = GridSpec(self.ncols, prefix + [list(r) for r in self.values[n:]])
        top.header_row = self.header_row if repeat else None
        if repeat:
            bottom.header_row = 0
        elif self.header_row is not None:
            bottom.header_row = self.header_row - n
        for c0, r0, c1, r1 in self.spans:
            if r1 < n:
                top.spans.append((c0, r0, c1, r1))
            elif r0 >= n:
                bottom.spans.append((c0, r0 + off, c1, r1 + off))
            else:  # cut by the page break: the label stays above, an empty merged cell continues
                if (c0, r0) != (c1, n - 1):
                    top.spans.append((c0, r0, c1, n - 1))
                if (c0, len(prefix)) != (c1, r1 + off):
                    bottom.spans.append((c0, len(prefix), c1, r1 + off))
                bottom.values[len(prefix)][c0] = ""
        for r, c in self.left:
            if r < n:
                top.left.add((r, c))
            else:
                bottom.left.add((r + off, c))
        if repeat:
            bottom.left.update((0, c) for r, c in self.left if r == self.header_row)
        return top, bottom


def indicator_columns(table: Table) -> list[str]:
    """Column kinds of the indicator part; optional columns only when used."""
    rows = table.rows
    cols: list[str] = []
    if any(r.function for r in rows):
        cols.append("function")
    cols += ["level1", "level2"]
    if any(r.task for r in rows):
        cols.append("task")
    cols.append("name")
    if any(r.half_year for r in rows):
        cols.append("half")
    cols.append("value")
    return cols


def _header_texts(cols: Sequence[str]) -> list[str]:
    names = {
        "function": "核心职能",
        "level1": "一级指标",
        "level2": "二级指标",
        "task": "重点工作",
        "name": "三级指标",
        "half": "半年指标值",
        "value": "全年指标值" if "half" in cols else "指标值",
    }
    return [names[c] for c in cols]


def _row_values(row: IndicatorRow, cols: Sequence[str]) -> list[str]:
    fields = {
        "function": row.function,
        "level1": row.level1,
        "level2": row.level2,
        "task": row.task,
        "name": row.name,
        "half": row.half_year,
        "value": row.value,
    }
    return [fields[c] for c in cols]


def _label_runs(values: Sequence[Sequence[str]], col: int, key_cols: Sequence[int]) -> list[tuple[int, int]]:
    """Runs (first, last) of consecutive rows sharing the same non-empty label in ``col``.

    A run never crosses a change in an outer label column (``key_cols``).
    """
    runs: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(values) + 1):
        same = (
            i < len(values)
            and values[i][col]
            and values[i][col] == values[start][col]
            and all(values[i][k] == values[start][k] for k in key_cols)
        )
        if not same:
            if i - 1 > start and values[start][col]:
                runs.append((start, i - 1))
            start = i
    return runs


def _add_indicators(spec: GridSpec, table: Table, cols: Sequence[str]) -> None:
    spec.header_row = spec.add([(t, 1) for t in _header_texts(cols)])
    first = spec.nrows
    values = [_row_values(r, cols) for r in table.rows]
    for v in values:
        spec.add([(t, 1) for t in v])
    label_cols = [i for i, c in enumerate(cols) if c in _LABEL_KINDS]
    for pos, col in enumerate(label_cols):
        for a, b in _label_runs(values, col, label_cols[:pos]):
            spec.merge_down(col, first + a, first + b, values[a][col])


def _add_goals(spec: GridSpec, table: Table) -> None:
    for label, text in table.goals:
        spec.add([(label, 1), (text, spec.ncols - 1)], left=(1,))


def _department_grid(table: Table, cols: Sequence[str]) -> GridSpec:
    n = len(cols)
    spec = GridSpec(n)
    spec.add([("单位名称", 1), (table.unit, n - 1)])
    if table.duties:
        spec.add([("单位主要职能", 1), (table.duties, n - 1)], left=(1,))
    if table.total_budget_wan is not None or table.expenses or table.funding:
        start = spec.add([(BUDGET_LABEL, 1), ("资金总额", n - 3), (table.total_budget_wan, 2)])
        for label, amount in table.funding:
            spec.add([("", 1), (label, n - 3), (amount, 2)])
        if table.expenses:
            spec.add([("", 1), ("支出", n - 3), ("半年计划执行数", 1), ("全年预算数", 1)])
            for e in table.expenses:
                spec.add([("", 1), (e.name, n - 3), (e.half_year, 1), (e.annual, 1)])
        spec.merge_down(0, start, spec.nrows - 1, BUDGET_LABEL)
    _add_goals(spec, table)
    _add_indicators(spec, table, cols)
    return spec


def _project_grid(table: Table, cols: Sequence[str]) -> GridSpec:
    n = len(cols)
    spec = GridSpec(n)
    spec.add([("项目名称", 1), (table.project, n - 1)])
    if table.unit:
        spec.add([("实施单位", 1), (table.unit, n - 1)])
    if table.total_budget_wan is not None or table.funding:
        start = spec.add([(FUNDING_LABEL, 1), ("年度资金总额", n - 2), (table.total_budget_wan, 1)])
        for label, amount in table.funding:
            spec.add([("", 1), (label, n - 2), (amount, 1)])
        spec.merge_down(0, start, spec.nrows - 1, FUNDING_LABEL)
    if table.duties:
        spec.add([("项目概况", 1), (table.duties, n - 1)], left=(1,))
    _add_goals(spec, table)
    _add_indicators(spec, table, cols)
    return spec


def build_grid(table: Table) -> tuple[GridSpec, list[str]]:
    """The grid of one table and its indicator column kinds."""
    cols = indicator_columns(table)
    if table.kind == "project":
        return _project_grid(table, cols), cols
    return _department_grid(table, cols), cols


def column_widths(cols: Sequence[str], total: float) -> list[float]:
    fixed = sum(w for c in cols if (w := _COLUMN_WIDTHS[c]) is not None)
    rest = max(total - fixed, 90.0)
    return [w if (w := _COLUMN_WIDTHS[c]) is not None else rest for c in cols]


# ---------------------------------------------------------------- fonts


def _font_candidates() -> list[tuple[str, int]]:
    """Known locations first, then any wqy / droid / arphic font under /usr/share/fonts."""
    found = list(FONT_CANDIDATES)
    known = {p for p, _ in found}
    for pattern in ("wqy*.tt?", "DroidSansFallback*.ttf", "u*ming*.ttc", "ukai*.ttc"):
        for path in sorted(Path("/usr/share/fonts").rglob(pattern)):
            if str(path) not in known:
                found.append((str(path), 0))
    return found


def register_cjk_font() -> str:
    """Register a CJK TrueType font with reportlab once; returns its name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return FONT_NAME
    for path, index in _font_candidates():
        if not Path(path).exists():
            continue
        try:
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=index))
        except Exception as exc:  # e.g. CFF outlines reportlab cannot embed
            log.debug("font %s unusable: %s", path, exc)
            continue
        log.info("using CJK font %s", path)
        return FONT_NAME
    raise RuntimeError(FONT_MISSING)


# ---------------------------------------------------------------- PDF


@dataclass(frozen=True)
class _Styles:
    center: object
    left: object
    title: object
    year: object


def _styles(font: str, size: float) -> _Styles:
    from reportlab.lib.enums import TA_CENTER, TA_LEFT
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("cell", fontName=font, fontSize=size, leading=size * 1.3, wordWrap="CJK")
    return _Styles(
        center=ParagraphStyle("center", parent=base, alignment=TA_CENTER),
        left=ParagraphStyle("left", parent=base, alignment=TA_LEFT),
        title=ParagraphStyle(
            "title", parent=base, fontSize=16, leading=22, alignment=TA_CENTER, spaceAfter=4
        ),
        year=ParagraphStyle("year", parent=base, fontSize=10, leading=14, alignment=TA_CENTER, spaceAfter=8),
    )


def _markup(value: Value) -> str:
    text = fmt_amount(value) if isinstance(value, (int, float)) else (value or "")
    return escape(text).replace("\n", "<br/>")


@functools.lru_cache(maxsize=1)
def _grid_table_class() -> type:
    from reportlab.platypus import Paragraph, TableStyle
    from reportlab.platypus import Table as RLTable

    class GridTable(RLTable):
        """A reportlab Table that splits anywhere between rows and repeats the indicator header."""

        def __init__(self, spec: GridSpec, widths: list[float], styles: _Styles):
            self.spec, self.widths, self.styles = spec, widths, styles
            data = [
                [
                    Paragraph(_markup(v), styles.left if (r, c) in spec.left else styles.center)
                    for c, v in enumerate(row)
                ]
                for r, row in enumerate(spec.values)
            ]
            cmds = [
                ("GRID", (0, 0), (-1, -1), 0.6, "black"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
            cmds += [("SPAN", (c0, r0), (c1, r1)) for c0, r0, c1, r1 in spec.spans]
            super().__init__(data, colWidths=widths, style=TableStyle(cmds), splitByRow=1)

        def split(self, availWidth, availHeight):  # noqa: N803 - reportlab API
            self._calc(availWidth, availHeight)
            fit, used = 0, 0.0
            for h in self._rowHeights:
                if used + h > availHeight:
                    break
                used += h
                fit += 1
            for n in range(min(fit, self.spec.nrows - 1), 0, -1):
                if self.spec.header_row is not None and n == self.spec.header_row + 1:
                    continue  # never leave the header alone at the bottom of a page
                top, bottom = self.spec.split(n)
                first = GridTable(top, self.widths, self.styles)
                _w, h = first.wrap(availWidth, availHeight)
                if h <= availHeight + 0.01:
                    return [first, GridTable(bottom, self.widths, self.styles)]
            return []

    return GridTable


def _table_flowables(table: Table, styles: _Styles, width: float, title_for: Callable[[Table], str]) -> list:
    from reportlab.platypus import Paragraph

    grid_table = _grid_table_class()
    spec, cols = build_grid(table)
    flow: list = [Paragraph(escape(title_for(table)), styles.title)]
    if table.year is not None:
        flow.append(Paragraph(f"{table.year}年度", styles.year))
    flow.append(grid_table(spec, column_widths(cols, width), styles))
    return flow


def render_pdf(
    tables: Sequence[Table],
    out: Path,
    *,
    title_for: Callable[[Table], str] = default_title,
    font_size: float = DEFAULT_FONT_SIZE,
    new_page_per_table: bool = True,
    font: str | None = None,
) -> Path:
    """Render ``tables`` into one A4 PDF; each table after the first starts on a new page.

    ``font`` is the name of an already registered reportlab font; by default a
    CJK TrueType font is found and embedded (see ``register_cjk_font``).
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import PageBreak, SimpleDocTemplate

    font = font or register_cjk_font()
    styles = _styles(font, font_size)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(
        str(out),
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        invariant=1,
        title=title_for(tables[0]) if tables else "",
        author="perfsearch",
        creator="perfsearch scripts/make_corpus.py",
        subject="绩效目标表",
    )
    story: list = []
    for i, table in enumerate(tables):
        if i and new_page_per_table:
            story.append(PageBreak())
        story += _table_flowables(table, styles, doc.width, title_for)
    doc.build(story)
    return out


# ---------------------------------------------------------------- xlsx


def _write_grid_xlsx(ws, spec: GridSpec, first_row: int) -> None:
    from openpyxl.styles import Alignment, Border, Side

    thin = Side(style="thin", color="000000")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for r, row in enumerate(spec.values):
        for c, value in enumerate(row):
            cell = ws.cell(row=first_row + r, column=c + 1)
            if isinstance(value, (int, float)):
                cell.value = float(value)
            elif value:
                cell.value = value
                if cell.data_type == "f":  # "=100%" is a target value, not a formula
                    cell.data_type = "s"
                    cell.quotePrefix = True
            cell.border = border
            horizontal = "left" if (r, c) in spec.left else "center"
            cell.alignment = Alignment(horizontal=horizontal, vertical="center", wrap_text=True)
    for c0, r0, c1, r1 in spec.spans:
        ws.merge_cells(
            start_row=first_row + r0, start_column=c0 + 1, end_row=first_row + r1, end_column=c1 + 1
        )


def _write_title_xlsx(ws, row: int, text: str, ncols: int) -> None:
    from openpyxl.styles import Alignment, Font

    cell = ws.cell(row=row, column=1, value=text)
    cell.alignment = Alignment(horizontal="center", vertical="center")
    cell.font = Font(size=14 if "表" in text else 11)
    if ncols > 1:
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=ncols)


def _normalize_xlsx(out: Path) -> None:
    """Make the zip byte-identical across runs: fixed timestamps and member order."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(out) as zin:
        members = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in members:
            if name == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), data
                )
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zout.writestr(info, data)
    out.write_bytes(buf.getvalue())


def render_xlsx(
    tables: Table | Sequence[Table],
    out: Path,
    *,
    title_for: Callable[[Table], str] = default_title,
) -> Path:
    """Write the tables one below the other on one sheet, with merged cells for the label spans."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    if isinstance(tables, Table):
        tables = [tables]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    ws.title = "绩效目标表"
    row = 1
    widest: list[float] = []
    for i, table in enumerate(tables):
        if i:
            row += 1  # blank separator row
        spec, cols = build_grid(table)
        _write_title_xlsx(ws, row, title_for(table), spec.ncols)
        row += 1
        if table.year is not None:
            _write_title_xlsx(ws, row, f"{table.year}年度", spec.ncols)
            row += 1
        _write_grid_xlsx(ws, spec, row)
        row += spec.nrows
        widths = column_widths(cols, 515.0)
        widest = [max(a, b) for a, b in zip(widest + [0.0] * len(widths), widths, strict=False)]
    for c, w in enumerate(widest, start=1):
        ws.column_dimensions[get_column_letter(c)].width = round(w / 5.5, 1)
    wb.properties.creator = "perfsearch"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.save(out)
    _normalize_xlsx(out)
    return out


# ---------------------------------------------------------------- corpus


def build_corpus(corpus_dir: Path = CORPUS_DIR, out_dir: Path | None = None) -> list[Path]:
    """Parse the seed documents and render the PDF/xlsx corpus files."""
    from indexer.ingest import parse_file  # written by another stage; imported lazily

    out_dir = out_dir or corpus_dir
    written: list[Path] = []
    for src_name, out_name in CORPUS_JOBS:
        doc = parse_file(corpus_dir / src_name)
        if not doc.tables:
            raise RuntimeError(f"{src_name}: 没有解析出任何绩效目标表")
        out = out_dir / out_name
        if out.suffix == ".pdf":
            render_pdf(doc.tables, out)
        else:
            render_xlsx(doc.tables, out)
        log.info("%s -> %s (%d tables)", src_name, out, len(doc.tables))
        written.append(out)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="从 corpus/*.txt 生成 PDF / xlsx 语料文件")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="种子文本所在目录")
    parser.add_argument("--out", type=Path, default=None, help="输出目录（默认与 --corpus 相同）")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        for path in build_corpus(args.corpus, args.out):
            print(path)
    except RuntimeError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
