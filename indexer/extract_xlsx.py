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

from indexer.grid import GridRow, fill_merged, sheet_rows
from indexer.model import IngestError
from indexer.normalize import clean_cell
from indexer.settings import IngestSettings, check_deadline, current_settings

log = logging.getLogger(__name__)

REASON_INVALID = "不是有效的 Excel (.xlsx) 文件"
REASON_EMPTY_FILE = f"{REASON_INVALID}（文件为空，0 字节）"
REASON_OLE = f"{REASON_INVALID}（可能是旧版 .xls 或加密的工作簿，请用 Excel 另存为 .xlsx）"
REASON_EMPTY_BOOK = "Excel 工作簿是空的，没有任何内容"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# rows x columns of cells handed to the layout stage, per sheet
_MAX_SHEET_CELLS = 2_000_000
_PERCENT_DECIMALS_RE = re.compile(r"0\.(0+)%")


# ---------------------------------------------------------------- public API


def extract_xlsx(path: Path, settings: IngestSettings | None = None) -> list[GridRow]:
    """Extract all rows of all worksheets, in workbook order.

    The size of a sheet is taken from the cells that hold values (a formatted
    empty cell at ``XFD1048576`` costs nothing); sheets whose data area exceeds
    ``settings.max_sheet_rows`` x ``max_sheet_cols`` are refused before any grid
    is built, and so are workbooks that would decompress beyond
    ``max_uncompressed_mb``.
    """
    path = Path(path)
    settings = settings or current_settings()
    _check_zip(path, settings)
    wb = _open_workbook(path, data_only=False)
    cached = _CachedValues(path)
    try:
        rows: list[GridRow] = []
        for ws in wb.worksheets:
            rows.extend(_sheet_rows(ws, cached, settings))
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
        # read_only=False: merged ranges are only available in the normal mode.
        # A file object, so the extension does not matter (a workbook named .txt)
        with path.open("rb") as fh:
            return openpyxl.load_workbook(fh, read_only=False, data_only=data_only)
    except Exception as exc:  # openpyxl raises many types on malformed files
        log.debug("openpyxl failed on %s: %r", name, exc)
        raise IngestError(name, _invalid_reason(exc)) from exc


def _invalid_reason(exc: Exception) -> str:
    """``REASON_INVALID`` with what is broken, when we can tell."""
    from xml.etree.ElementTree import ParseError

    kind = type(exc).__name__
    if isinstance(exc, (zipfile.BadZipFile, EOFError)) or "zlib" in str(exc).lower() or isinstance(
        exc, zipfile.LargeZipFile
    ):
        return f"{REASON_INVALID}（压缩包结构已损坏或文件不完整）"
    if isinstance(exc, KeyError):
        return f"{REASON_INVALID}（缺少必要的组成部分 {exc}）"
    if isinstance(exc, ParseError) or kind in ("XMLSyntaxError", "SAXParseException", "ExpatError"):
        return f"{REASON_INVALID}（内部 XML 已损坏）"
    return REASON_INVALID


def _check_zip(path: Path, settings: IngestSettings) -> None:
    """Refuse zip bombs before openpyxl inflates them."""
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(max(0, i.file_size) for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return  # _open_workbook names the reason
    if total > settings.max_uncompressed_bytes:
        raise IngestError(
            path.name,
            f"Excel 文件解压后有 {total / 1024 / 1024:.0f} MB，超过 {settings.max_uncompressed_mb:g} MB 的上限"
            "（PERFSEARCH_MAX_UNCOMPRESSED_MB）",
        )


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


def _existing_cells(ws: Any) -> list[Any]:
    """The cells the sheet file defines (never the empty cells of the formatting range)."""
    cells = getattr(ws, "_cells", None)
    if isinstance(cells, dict):
        return list(cells.values())
    return [c for row in ws.iter_rows() for c in row]  # pragma: no cover - other openpyxl versions


def _sheet_rows(ws: Any, cached: _CachedValues, settings: IngestSettings | None = None) -> list[GridRow]:
    settings = settings or current_settings()
    texts: dict[tuple[int, int], str] = {}
    filled: set[tuple[int, int]] = set()
    bordered: set[int] = set()  # rows with at least one bordered cell
    for i, cell in enumerate(_existing_cells(ws)):
        if i % 5000 == 4999:
            check_deadline()
        if cell.value is not None:
            text = cell_text(_value_of(cell, ws, cached), cell.number_format)
            if text:
                texts[(cell.row, cell.column)] = text
        if cell.has_style and _has_border(cell):
            bordered.add(cell.row)
    if not texts:
        return []
    max_row = max(r for r, _ in texts)
    max_col = max(c for _, c in texts)
    if max_row > settings.max_sheet_rows or max_col > settings.max_sheet_cols:
        raise IngestError(
            "",
            f"工作表“{ws.title}”有数据的区域为 {max_row} 行 × {max_col} 列，超过上限 "
            f"{settings.max_sheet_rows} 行 × {settings.max_sheet_cols} 列"
            "（PERFSEARCH_MAX_SHEET_ROWS / PERFSEARCH_MAX_SHEET_COLS）",
        )
    _fill_merged(ws, texts, filled, bordered, max_row, max_col)
    if not texts:
        return []
    ncols = max(c for _, c in texts)
    row_numbers = sorted({r for r, _ in texts})
    if len(row_numbers) * ncols > _MAX_SHEET_CELLS:
        raise IngestError(
            "",
            f"工作表“{ws.title}”有 {len(row_numbers)} 行 × {ncols} 列数据，单元格总数超过 {_MAX_SHEET_CELLS} 的上限",
        )
    sheet = ws.title if len(ws.parent.worksheets) > 1 else None  # cited when there is a choice
    return sheet_rows(texts, filled, bordered, first_col=1, line_of=lambda r: r, sheet=sheet)


def _fill_merged(
    ws: Any, texts: dict[tuple[int, int], str], filled: set[tuple[int, int]], bordered: set[int],
    max_row: int | None = None, max_col: int | None = None,
) -> None:
    """Merged ranges, clipped to the data area (``max_row`` x ``max_col``): a merged range
    reaching row 1048576 costs no more than one reaching the last row with data."""
    ranges = (
        (rng.min_row, rng.min_col, min(rng.max_row, max_row or rng.max_row), min(rng.max_col, max_col or rng.max_col))
        for rng in ws.merged_cells.ranges
    )
    fill_merged(texts, filled, bordered, ranges)
