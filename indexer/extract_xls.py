"""Old Excel ``.xls`` (BIFF, read with xlrd) and WPS ``.et`` -> ``GridRow`` objects.

Same contract and conventions as ``indexer.extract_xlsx`` (one place for how a
number is shown: ``extract_xlsx.cell_text``):

- every sheet is read, in workbook order; rows carry ``line`` = the Excel row
  number and, when the workbook has several sheets, ``sheet`` = the sheet name,
  so citations name the sheet;
- merged ranges: cells below the top-left cell (same first column) carry its
  text with ``filled=True``, cells to its right are ``""``;
- completely empty rows are skipped; when a sheet draws borders, rows without
  a bordered cell (titles above the grid) become one-cell rows with
  ``in_table=False``.

``.et`` files are usually BIFF too and read the same way; otherwise (and for
any ``.xls`` xlrd cannot read, such as one saved by WPS in another format)
LibreOffice converts them to ``.xlsx`` first.
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path
from typing import Any

from indexer.grid import GridRow, fill_merged, sheet_rows
from indexer.model import IngestError

log = logging.getLogger(__name__)

REASON_INVALID = "不是有效的 Excel 97-2003 (.xls) 文件，可能已损坏"
REASON_ENCRYPTED = "Excel 文件已加密，需要密码，无法读取；请在 Excel/WPS 中取消密码后另存为 .xlsx 再导入"
REASON_EMPTY_BOOK = "Excel 工作簿是空的，没有任何内容"


def _open(path: Path) -> Any:
    import xlrd

    name = path.name
    try:
        return xlrd.open_workbook(str(path), formatting_info=True, on_demand=False, logfile=_NullLog())
    except xlrd.biffh.XLRDError as exc:
        if "encrypt" in str(exc).lower():
            raise IngestError(name, REASON_ENCRYPTED) from exc
        raise IngestError(name, REASON_INVALID) from exc
    except Exception as exc:  # xlrd raises assertion and struct errors on damaged files
        log.debug("xlrd failed on %s: %r", name, exc)
        raise IngestError(name, REASON_INVALID) from exc


class _NullLog:
    """xlrd writes warnings to a file object; send them to logging instead."""

    def write(self, text: str) -> None:
        if text.strip():
            log.debug("xlrd: %s", text.strip())


def _number_format(book: Any, sheet: Any, r: int, c: int) -> str:
    try:
        xf = book.xf_list[sheet.cell_xf_index(r, c)]
        return book.format_map[xf.format_key].format_str or "General"
    except (IndexError, KeyError, AttributeError):
        return "General"


def _has_border(book: Any, sheet: Any, r: int, c: int) -> bool:
    try:
        b = book.xf_list[sheet.cell_xf_index(r, c)].border
    except (IndexError, AttributeError):
        return False
    return any((b.left_line_style, b.right_line_style, b.top_line_style, b.bottom_line_style))


def _text(book: Any, sheet: Any, r: int, c: int) -> str:
    import xlrd

    from indexer.extract_xlsx import cell_text

    cell = sheet.cell(r, c)
    t = cell.ctype
    if t in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
        return ""
    if t == xlrd.XL_CELL_BOOLEAN:
        return "TRUE" if cell.value else "FALSE"
    if t == xlrd.XL_CELL_DATE:
        try:
            value: Any = xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)
        except (ValueError, OverflowError):
            value = cell.value
        if isinstance(value, _dt.datetime) and value.date() == _dt.date(1899, 12, 31):
            value = value.time()
        return cell_text(value)
    if t == xlrd.XL_CELL_NUMBER:
        return cell_text(cell.value, _number_format(book, sheet, r, c))
    return cell_text(cell.value)


def _sheet_rows(book: Any, sheet: Any) -> list[GridRow]:
    name = sheet.name if book.nsheets > 1 else None  # cited when there is a choice (as for xlsx)
    texts: dict[tuple[int, int], str] = {}
    filled: set[tuple[int, int]] = set()
    bordered: set[int] = set()
    for r in range(sheet.nrows):
        for c in range(sheet.ncols):
            text = _text(book, sheet, r, c)
            if text:
                texts[(r, c)] = text
            if _has_border(book, sheet, r, c):
                bordered.add(r)
    # xlrd ranges are half-open: (r0, r1, c0, c1) -> inclusive (r0, c0, r1 - 1, c1 - 1)
    fill_merged(texts, filled, bordered, ((r0, c0, r1 - 1, c1 - 1) for r0, r1, c0, c1 in sheet.merged_cells))
    return sheet_rows(texts, filled, bordered, first_col=0, line_of=lambda r: r + 1, sheet=name)


def extract_xls(path: Path) -> list[GridRow]:
    """All rows of all sheets of an ``.xls`` workbook, in workbook order."""
    from indexer.formats import OLE_MAGIC

    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise IngestError(path.name, f"无法读取文件：{exc.strerror or exc}") from exc
    if not head.startswith(OLE_MAGIC):
        return _via_libreoffice(path)
    book = _open(path)
    try:
        rows: list[GridRow] = []
        for sheet in book.sheets():
            rows.extend(_sheet_rows(book, sheet))
    finally:
        book.release_resources()
    if not rows:
        raise IngestError(path.name, REASON_EMPTY_BOOK)
    return rows


def _via_libreoffice(path: Path) -> list[GridRow]:
    from indexer.extract_xlsx import extract_xlsx
    from indexer.office import converted

    with converted(path, "xlsx") as xlsx_path:
        try:
            return extract_xlsx(xlsx_path)
        except IngestError as exc:
            raise IngestError(path.name, exc.reason, exc.page, exc.line) from exc


def extract_et(path: Path) -> list[GridRow]:
    """WPS 表格 ``.et``: BIFF-compatible files directly, anything else through LibreOffice."""
    path = Path(path)
    try:
        return extract_xls(path)
    except IngestError as exc:
        if exc.reason == REASON_ENCRYPTED:
            raise
        log.info("%s is not BIFF-readable (%s); converting with LibreOffice", path.name, exc.reason)
    return _via_libreoffice(path)
