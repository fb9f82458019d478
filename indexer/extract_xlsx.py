"""xlsx extractor: every sheet row -> ``GridRow`` (contract in ``indexer.grid``).

- merged ranges are resolved: cells below the top-left cell of a merged range
  (same first column) carry its text with ``filled=True``; cells to the right
  of it are ``""``;
- numbers are rendered as a table shows them (``2190.36``, ``0``, ``95%`` for a
  percent format), never with a spurious ``.0``;
- ``GridRow.line`` / ``Cell.line`` are the Excel row numbers, ``page`` is None;
- a formula shows its cached result; a "formula" that computes nothing
  (``=100%``, ``=2套``: a target typed with an equals sign) is kept as written;
- completely empty rows are skipped, trailing empty columns are trimmed;
- when a sheet draws cell borders, rows without any bordered cell (titles such
  as "2023年度" above the ruled grid) become one-cell rows with ``in_table=False``.

Failures raise ``IngestError`` with a Simplified Chinese reason.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import re
import zipfile
from pathlib import Path
from typing import Any

from indexer.grid import Cell, GridRow
from indexer.model import IngestError
from indexer.normalize import clean_cell

log = logging.getLogger(__name__)

REASON_INVALID = "不是有效的 Excel (.xlsx) 文件"
REASON_EMPTY_FILE = f"{REASON_INVALID}（文件为空，0 字节）"
REASON_OLE = f"{REASON_INVALID}（可能是旧版 .xls 或加密的工作簿，请用 Excel 另存为 .xlsx）"
REASON_EMPTY_BOOK = "Excel 工作簿是空的，没有任何内容"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PERCENT_DECIMALS_RE = re.compile(r"0\.(0+)%")


# ---------------------------------------------------------------- public API


def extract_xlsx(path: Path) -> list[GridRow]:
    """Extract all rows of all worksheets, in workbook order."""
    path = Path(path)
    wb = _open_workbook(path, data_only=False)
    cached = _CachedValues(path)
    try:
        rows: list[GridRow] = []
        for ws in wb.worksheets:
            rows.extend(_sheet_rows(ws, cached))
    finally:
        wb.close()
        cached.close()
    if not rows:
        raise IngestError(path.name, REASON_EMPTY_BOOK)
    return rows


# ---------------------------------------------------------------- opening


def _open_workbook(path: Path, *, data_only: bool) -> Any:
    import openpyxl

    name = path.name
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise IngestError(name, f"无法读取文件：{exc.strerror or exc}") from exc
    if not head:
        raise IngestError(name, REASON_EMPTY_FILE)
    if head == _OLE_MAGIC:
        raise IngestError(name, REASON_OLE)
    try:
        # read_only=False: merged ranges are only available in the normal mode
        return openpyxl.load_workbook(path, read_only=False, data_only=data_only)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, EOFError) as exc:
        raise IngestError(name, REASON_INVALID) from exc
    except Exception as exc:  # openpyxl raises many types on malformed XML
        log.debug("openpyxl failed on %s: %r", name, exc)
        raise IngestError(name, REASON_INVALID) from exc


# ---------------------------------------------------------------- values

# a formula that computes something (function call, cell or sheet reference); anything
# else after "=" is a target typed with an equals sign ("=100%", "=2套")
_REAL_FORMULA_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\s*\(|\$?\b[A-Za-z]{1,3}\$?\d+\b|!")


class _CachedValues:
    """Cached results of real formulas, read from a second ``data_only`` load on demand."""

    def __init__(self, path: Path):
        self.path = path
        self._wb: Any = None

    def get(self, sheet: str, row: int, col: int) -> Any:
        if self._wb is None:
            self._wb = _open_workbook(self.path, data_only=True)
        return self._wb[sheet].cell(row=row, column=col).value

    def close(self) -> None:
        if self._wb is not None:
            self._wb.close()


def _value_of(cell: Any, ws: Any, cached: _CachedValues) -> Any:
    value = cell.value
    if cell.data_type != "f" or not isinstance(value, str):
        return value
    if _REAL_FORMULA_RE.search(value[1:]):
        return cached.get(ws.title, cell.row, cell.column)
    return value


def format_number(value: float | int, number_format: str = "General") -> str:
    """Render a numeric cell value without float noise or a trailing ``.0``.

    >>> format_number(2190.36), format_number(0.0), format_number(0.95, "0%")
    ('2190.36', '0', '95%')
    """
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    v = float(value)
    if not math.isfinite(v):
        return str(value)
    suffix = ""
    if "%" in (number_format or ""):
        v *= 100
        suffix = "%"
        m = _PERCENT_DECIMALS_RE.search(number_format)
        if m:
            v = round(v, len(m.group(1)))
    v = round(v, 10)
    if v.is_integer():
        text = str(int(v))
    else:
        text = f"{v:.10f}".rstrip("0").rstrip(".")
    return text + suffix


def cell_text(value: Any, number_format: str = "General") -> str:
    """Clean text of one cell value as Excel would show it."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return format_number(value, number_format)
    if isinstance(value, _dt.datetime):
        if value.time() == _dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return clean_cell(str(value))


# ---------------------------------------------------------------- sheets


def _has_border(cell: Any) -> bool:
    b = cell.border
    return any(getattr(side, "style", None) for side in (b.left, b.right, b.top, b.bottom))


def _sheet_rows(ws: Any, cached: _CachedValues) -> list[GridRow]:
    max_row, max_col = ws.max_row, ws.max_column
    texts: dict[tuple[int, int], str] = {}
    filled: set[tuple[int, int]] = set()
    bordered: set[int] = set()  # rows with at least one bordered cell
    for row in ws.iter_rows(min_row=1, max_row=max_row, max_col=max_col):
        for cell in row:
            text = cell_text(_value_of(cell, ws, cached), cell.number_format)
            if text:
                texts[(cell.row, cell.column)] = text
            if _has_border(cell):
                bordered.add(cell.row)
    _fill_merged(ws, texts, filled)
    if not texts:
        return []
    ncols = max(c for _, c in texts)
    # borders only mean something when the sheet uses them at all
    use_borders = bool(bordered)
    sheet = ws.title if len(ws.parent.worksheets) > 1 else None  # cited when there is a choice
    out: list[GridRow] = []
    for r in range(1, max_row + 1):
        cells = tuple(
            Cell(texts.get((r, c), ""), line=r, filled=(r, c) in filled) for c in range(1, ncols + 1)
        )
        if not any(c.text for c in cells):
            continue
        if use_borders and r not in bordered:
            text = " ".join(c.text for c in cells if c.text)
            out.append(GridRow(cells=(Cell(text, line=r),), line=r, in_table=False, sheet=sheet))
        else:
            out.append(GridRow(cells=cells, line=r, in_table=True, sheet=sheet))
    return out


def _fill_merged(ws: Any, texts: dict[tuple[int, int], str], filled: set[tuple[int, int]]) -> None:
    """Vertical spans copy the top-left text down (filled); horizontal coverage stays empty."""
    for rng in ws.merged_cells.ranges:
        r0, c0, r1, c1 = rng.min_row, rng.min_col, rng.max_row, rng.max_col
        text = texts.get((r0, c0), "")
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) == (r0, c0):
                    continue
                texts.pop((r, c), None)  # covered cells hold no value of their own
                if c == c0 and text:
                    texts[(r, c)] = text
                    filled.add((r, c))
