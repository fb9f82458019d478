"""PDF extractor: ruled tables and free text -> ``GridRow`` objects.

Implements the contract documented in ``indexer.grid``:

- every ruled table (``find_tables`` with the ``lines`` strategies) becomes
  one ``GridRow`` per table row; a cell covered by a vertically merged cell
  carries the merged cell's text with ``filled=True``, a horizontally covered
  cell is ``""``;
- text outside the tables (titles, "2023年度" ...) becomes one-cell rows with
  ``in_table=False``, interleaved with the table rows top to bottom;
- a table that continues on the next page is joined: a repeated header row
  is dropped and a merged label cell cut by the page break keeps being filled.

Every failure is raised as ``IngestError`` with a Simplified Chinese reason;
no pdfminer exception escapes.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.grid import Cell, GridRow
from indexer.model import BBox, IngestError
from indexer.normalize import clean_cell
from indexer.settings import check_deadline

log = logging.getLogger(__name__)

TABLE_SETTINGS: dict[str, Any] = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}

REASON_DAMAGED = "PDF 文件已损坏或不完整"
REASON_EMPTY = f"{REASON_DAMAGED}（文件为空，0 字节）"
REASON_NOT_PDF = f"{REASON_DAMAGED}（不是 PDF 格式：缺少 %PDF 文件头）"
REASON_TRUNCATED = f"{REASON_DAMAGED}（文件被截断：缺少结尾标记 %%EOF）"
REASON_NO_PAGES = f"{REASON_DAMAGED}（没有任何页面）"
REASON_ENCRYPTED = "PDF 已加密，需要密码，无法读取"
REASON_NO_TEXT = "PDF 没有文字层，可能是扫描件，需要先进行 OCR 文字识别"
REASON_CID = "PDF 文字无法解码（只有 (cid:N) 字形），可能是扫描件或字体缺少映射，需要 OCR"

# Acrobat accepts "%PDF-" within the first 1024 bytes and "%%EOF" within the last 1024;
# we are a little more lenient at the end (trailing junk from some web servers).
_HEADER_WINDOW = 1024
_EOF_WINDOW = 2048
_CID_RE = re.compile(r"^\(cid:\d+\)$")
# share of undecodable glyphs above which the text layer is considered unusable
_CID_RATIO = 0.5
# fonts without a unicode map but with a simple encoding decode CJK glyphs as Latin-1
# mojibake ("€‚ƒ„…"): some (cid:N) glyphs and not a single CJK character
_CID_RATIO_NO_CJK = 0.1
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# geometric tolerances in PDF points
_GRID_TOL = 1.0  # cell edges closer than this are the same grid line
_COLUMN_TOL = 2.0  # column positions of a table and its continuation
# a table may only continue if nothing but a footer follows it on its page and
# it starts in the top part of the next page
_FOOTER_ZONE = 0.90
_CONTINUATION_TOP_ZONE = 0.25


# ---------------------------------------------------------------- internal model


@dataclass
class _RawCell:
    text: str
    bbox: BBox
    filled: bool = False
    origin_id: int = -1  # id of the physical (possibly merged) cell covering this position (<0: hole)
    vspan: bool = False  # the physical cell spans more than one row


@dataclass
class _RawTable:
    page: int
    bbox: BBox
    xs: list[float]  # column boundaries, len = ncols + 1
    rows: list[list[_RawCell]]
    row_pages: list[int] = field(default_factory=list)


@dataclass
class _PageItems:
    number: int
    height: float
    items: list[tuple[float, GridRow | _RawTable]]  # (top, item), sorted


# ---------------------------------------------------------------- public API


def extract_pdf(path: Path, max_pages: int | None = None) -> list[GridRow]:
    """Extract rows of cells from a PDF file, in reading order.

    Raises ``IngestError`` (Chinese reason, file name in the message) for
    empty, damaged, truncated, encrypted, scanned or undecodable PDFs, and for
    PDFs with more than ``max_pages`` pages (checked before any page is read).
    """
    path = Path(path)
    name = path.name
    _check_bytes(path, name)
    pages = _read_pages(path, name, max_pages)
    return _to_grid_rows(_join_continuations(pages))


# ---------------------------------------------------------------- file checks


def _check_bytes(path: Path, name: str) -> None:
    """Cheap structural checks before pdfminer sees the file."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(_HEADER_WINDOW)
            fh.seek(max(0, size - _EOF_WINDOW))
            tail = fh.read()
    except OSError as exc:
        raise IngestError(name, f"无法读取文件：{exc.strerror or exc}") from exc
    if size == 0:
        raise IngestError(name, REASON_EMPTY)
    if b"%PDF-" not in head:
        raise IngestError(name, REASON_NOT_PDF)
    if b"%%EOF" not in tail:
        raise IngestError(name, REASON_TRUNCATED)


def _is_encryption_error(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception it wraps) is a pdfminer password/encryption error."""
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (PDFPasswordIncorrect, PDFEncryptionError)):
            return True
        stack.extend(a for a in e.args if isinstance(a, BaseException))
        for linked in (e.__cause__, e.__context__):
            if linked is not None:
                stack.append(linked)
    return False


def _open_error(name: str, exc: Exception, page: int | None = None) -> IngestError:
    if _is_encryption_error(exc):
        return IngestError(name, REASON_ENCRYPTED)
    log.debug("pdfminer failed on %s (page %s): %r", name, page, exc)
    return IngestError(name, REASON_DAMAGED, page=page)


# ---------------------------------------------------------------- page reading


@dataclass
class _TextStats:
    chars: int = 0
    cid: int = 0
    cjk: int = 0
    first_cid_page: int | None = None


def _read_pages(path: Path, name: str, max_pages: int | None = None) -> list[_PageItems]:
    import pdfplumber

    stats = _TextStats()
    out: list[_PageItems] = []
    try:
        pdf = pdfplumber.open(path)
    except Exception as exc:  # pdfminer raises many unrelated exception types
        raise _open_error(name, exc) from exc
    try:
        try:
            page_list = list(pdf.pages)
        except Exception as exc:
            raise _open_error(name, exc) from exc
        if not page_list:
            raise IngestError(name, REASON_NO_PAGES)
        if max_pages is not None and len(page_list) > max_pages:
            raise IngestError(
                name, f"PDF 共 {len(page_list)} 页，超过 {max_pages} 页的上限（PERFSEARCH_MAX_PDF_PAGES）"
            )
        for number, page in enumerate(page_list, start=1):
            check_deadline()
            try:
                items = _read_page(page, number, stats)
                height = float(page.height)
            except IngestError:
                raise
            except Exception as exc:
                raise _open_error(name, exc, page=number) from exc
            out.append(_PageItems(number, height, items))
            with contextlib.suppress(Exception):
                page.close()  # drop the page's cached layout objects
    finally:
        # pdfplumber's close re-raises errors pdfminer hit while reading; they were
        # either reported above (typed) or do not matter once the pages are read
        try:
            pdf.close()
        except Exception as exc:  # noqa: BLE001
            log.debug("closing %s: %r", name, exc)
            with contextlib.suppress(Exception):
                pdf.stream.close()
    _check_text_layer(name, stats)
    return out


def _check_text_layer(name: str, stats: _TextStats) -> None:
    if stats.chars == 0:
        raise IngestError(name, REASON_NO_TEXT)
    ratio = stats.cid / stats.chars
    if ratio > _CID_RATIO or (stats.cjk == 0 and ratio > _CID_RATIO_NO_CJK):
        raise IngestError(name, REASON_CID, page=stats.first_cid_page)
    if stats.cid:
        log.info("%s: %d undecodable (cid:N) glyphs ignored", name, stats.cid)


def _read_page(page: Any, number: int, stats: _TextStats) -> list[tuple[float, GridRow | _RawTable]]:
    page = page.dedupe_chars()
    chars = [c for c in page.chars if c.get("text", "").strip()]
    cid = sum(1 for c in chars if _CID_RE.match(c["text"]))
    stats.chars += len(chars)
    stats.cid += cid
    stats.cjk += sum(1 for c in chars if _CJK_RE.match(c["text"]))
    if cid and stats.first_cid_page is None:
        stats.first_cid_page = number
    if not chars:
        if page.images:
            log.info("page %d has images but no text layer (scanned page?)", number)
        return []
    if cid:
        # drop undecodable glyphs so they do not pollute cell texts
        page = page.filter(
            lambda o: not (o.get("object_type") == "char" and _CID_RE.match(o.get("text", "")))
        )
    tables = page.find_tables(TABLE_SETTINGS)
    items: list[tuple[float, GridRow | _RawTable]] = []
    boxes: list[BBox] = []
    for table in tables:
        raw = _raw_table(page, table, number)
        if raw is None:
            continue
        boxes.append(raw.bbox)
        items.append((raw.bbox[1], raw))
    for row in _text_rows(page, boxes, number):
        assert row.bbox is not None
        items.append((row.bbox[1], row))
    items.sort(key=lambda it: (it[0], 0 if isinstance(it[1], _RawTable) else 1))
    return items


# ---------------------------------------------------------------- free text


def _center_in(obj: dict[str, Any], box: BBox) -> bool:
    cx = (obj["x0"] + obj["x1"]) / 2
    cy = (obj["top"] + obj["bottom"]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def _text_rows(page: Any, boxes: Sequence[BBox], number: int) -> list[GridRow]:
    """Lines of text whose characters lie outside every table, as one-cell rows."""

    def outside(obj: dict[str, Any]) -> bool:
        if obj.get("object_type") != "char":
            return False
        return not any(_center_in(obj, b) for b in boxes)

    rows: list[GridRow] = []
    for line in page.filter(outside).extract_text_lines(return_chars=False):
        text = clean_cell(line["text"])
        if not text:
            continue
        bbox = (float(line["x0"]), float(line["top"]), float(line["x1"]), float(line["bottom"]))
        rows.append(GridRow(cells=(Cell(text, bbox=bbox),), page=number, bbox=bbox, in_table=False))
    return rows


# ---------------------------------------------------------------- tables


def _cluster(values: Iterable[float], tol: float = _GRID_TOL) -> list[float]:
    """Sorted distinct values, merging values closer than ``tol``."""
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tol:
            out.append(v)
    return out


def _index(bounds: Sequence[float], v: float) -> int:
    """Index of the boundary nearest to ``v``."""
    return min(range(len(bounds)), key=lambda i: abs(bounds[i] - v))


_ASCII_WORD_END = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,.;:!?)%")


def join_lines(text: str) -> str:
    """Join the wrapped lines of one cell.

    A line break next to a CJK character (or most punctuation) is a soft wrap
    and disappears; between two Latin words it stands for the space the
    wrapping consumed.

    >>> join_lines("构建基于数据的区域教育质量评估监\\n测体系≥22\\n套")
    '构建基于数据的区域教育质量评估监测体系≥22套'
    >>> join_lines("hello\\nworld")
    'hello world'
    """
    lines = [ln.strip() for ln in text.split("\n")]
    lines = [ln for ln in lines if ln]
    if not lines:
        return ""
    out = lines[0]
    for ln in lines[1:]:
        nxt = ln[0]
        space = out[-1] in _ASCII_WORD_END and nxt.isascii() and nxt.isalnum()
        out += (" " if space else "") + ln
    return out


def _cell_text(chars: list[dict[str, Any]], box: BBox) -> str:
    from pdfplumber.utils import extract_text

    inside = [c for c in chars if _center_in(c, box)]
    if not inside:
        return ""
    return clean_cell(join_lines(extract_text(inside)))


def _raw_table(page: Any, table: Any, number: int) -> _RawTable | None:
    """Turn a pdfplumber table into a full grid with merged cells resolved."""
    cells: list[BBox] = [tuple(map(float, c)) for c in table.cells]  # type: ignore[misc]
    if not cells:
        return None
    x0, top, x1, bottom = map(float, table.bbox)
    xs = _cluster([c[0] for c in cells] + [x1])
    ys = _cluster([c[1] for c in cells] + [bottom])
    ncols, nrows = len(xs) - 1, len(ys) - 1
    if ncols < 1 or nrows < 1:
        return None
    chars = [c for c in page.chars if _center_in(c, (x0, top, x1, bottom))]
    grid: list[list[_RawCell | None]] = [[None] * ncols for _ in range(nrows)]
    cells.sort(key=lambda b: (b[1], b[0]))
    for cid, box in enumerate(cells):
        r0, c0 = _index(ys, box[1]), _index(xs, box[0])
        r1, c1 = _index(ys, box[3]), _index(xs, box[2])
        if r1 <= r0 or c1 <= c0:
            continue
        text = _cell_text(chars, box)
        vspan = r1 - r0 > 1
        for r in range(r0, min(r1, nrows)):
            for c in range(c0, min(c1, ncols)):
                if grid[r][c] is not None:
                    continue
                pos = (xs[c], ys[r], xs[c + 1], ys[r + 1])
                if (r, c) == (r0, c0):
                    grid[r][c] = _RawCell(text, pos, False, cid, vspan)
                elif c == c0:  # covered by a vertical span: copy the label
                    grid[r][c] = _RawCell(text, pos, bool(text), cid, vspan)
                else:  # horizontally covered
                    grid[r][c] = _RawCell("", pos, False, cid, vspan)
    rows: list[list[_RawCell]] = []
    for r in range(nrows):
        rows.append(
            [
                # a hole in the ruling: an empty cell of its own (unique negative id)
                cell
                if cell is not None
                else _RawCell("", (xs[c], ys[r], xs[c + 1], ys[r + 1]), origin_id=-2 - r * ncols - c)
                for c, cell in enumerate(grid[r])
            ]
        )
    return _RawTable(number, (x0, top, x1, bottom), xs, rows, [number] * nrows)


# ---------------------------------------------------------------- continuation


def _same_columns(a: _RawTable, b: _RawTable) -> bool:
    return len(a.xs) == len(b.xs) and all(abs(p - q) <= _COLUMN_TOL for p, q in zip(a.xs, b.xs, strict=True))


def _trailing_table(page: _PageItems) -> _RawTable | None:
    """The page's last table if only footer text (page numbers) follows it."""
    for top, item in reversed(page.items):
        if isinstance(item, _RawTable):
            return item
        if top < page.height * _FOOTER_ZONE:
            return None
    return None


def _leading_table(page: _PageItems) -> _RawTable | None:
    """The page's first item if it is a table starting near the top of the page."""
    if not page.items:
        return None
    top, item = page.items[0]
    if isinstance(item, _RawTable) and top <= page.height * _CONTINUATION_TOP_ZONE:
        return item
    return None


def _join_continuations(pages: list[_PageItems]) -> list[GridRow | _RawTable]:
    out: list[GridRow | _RawTable] = []
    open_table: _RawTable | None = None  # table that may continue on the next page
    for page in pages:
        lead = _leading_table(page)
        joined = lead is not None and open_table is not None and _same_columns(open_table, lead)
        if joined:
            assert open_table is not None and lead is not None
            _append_continuation(open_table, lead)
        out.extend(item for _top, item in page.items if not (joined and item is lead))
        trailing = _trailing_table(page)
        if trailing is None:
            open_table = None
        elif not (joined and trailing is lead):
            open_table = trailing
    return out


def _is_repeated_header(first: list[_RawCell], previous: list[list[_RawCell]]) -> bool:
    """The continuation's first row repeats a header row of the table so far."""
    texts = [c.text for c in first]
    if sum(1 for t in texts if t) < 2 or any(c.filled for c in first):
        return False
    return any([c.text for c in row] == texts and not any(c.filled for c in row) for row in previous)


def _carry_cut_labels(prev_last: list[_RawCell], rows: list[list[_RawCell]]) -> None:
    """Fill a merged label cell that the page break cut (empty at the top of the continuation)."""
    if not rows:
        return
    first = rows[0]
    for col, cell in enumerate(first):
        above = prev_last[col]
        if cell.text or cell.filled or not above.text:
            continue
        if not (above.filled or above.vspan or cell.vspan):
            continue  # an ordinary empty cell, not a cut merged one
        for row in rows:
            target = row[col]
            if target.origin_id != cell.origin_id or target.text:
                break
            target.text, target.filled = above.text, True


def _append_continuation(base: _RawTable, cont: _RawTable) -> None:
    rows = cont.rows
    pages = cont.row_pages
    if rows and _is_repeated_header(rows[0], base.rows):
        rows, pages = rows[1:], pages[1:]
    # keep origin ids distinct from the base table's ids
    offset = 1 + max((c.origin_id for r in base.rows for c in r), default=0)
    for row in rows:
        for c in row:
            if c.origin_id >= 0:
                c.origin_id += offset
    if base.rows:
        _carry_cut_labels(base.rows[-1], rows)
    base.rows.extend(rows)
    base.row_pages.extend(pages)


# ---------------------------------------------------------------- output


def _union(boxes: Iterable[BBox]) -> BBox | None:
    boxes = list(boxes)
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _to_grid_rows(items: list[GridRow | _RawTable]) -> list[GridRow]:
    out: list[GridRow] = []
    for item in items:
        if isinstance(item, GridRow):
            out.append(item)
            continue
        for row, page in zip(item.rows, item.row_pages, strict=True):
            cells = tuple(Cell(c.text, bbox=c.bbox, filled=c.filled) for c in row)
            out.append(GridRow(cells=cells, page=page, bbox=_union(c.bbox for c in row), in_table=True))
    return out
