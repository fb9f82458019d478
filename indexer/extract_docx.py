"""Word documents -> ``GridRow`` objects (contract in ``indexer.grid``).

- ``.docx`` is read with python-docx's XML tree: every table in document order,
  horizontal merges (``w:gridSpan``, ``w:gridBefore``/``w:gridAfter``) and vertical
  merges (``w:vMerge``) expanded the way merged PDF cells are (a cell covered by a
  vertical merge carries the merged cell's text with ``filled=True``; a cell
  covered horizontally is ``""``);
- paragraphs between tables (titles, 项目名称, 年度目标 ...) become one-cell rows
  with ``in_table=False``; paragraphs after the last table (填表人, 联系电话,
  notes) are dropped, like the footer of a web page;
- a document without tables keeps all its paragraphs (indicators written as
  text lines are then read like a text file);
- rows cite ``SourceRef.sheet = "表N"`` and ``line`` = the row inside that table;
- ``.doc`` and ``.wps`` are converted to ``.docx`` with LibreOffice first
  (``indexer.office``).
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

from indexer.grid import Cell, GridRow
from indexer.model import IngestError
from indexer.normalize import clean_cell

log = logging.getLogger(__name__)

REASON_INVALID = "不是有效的 Word (.docx) 文件，可能已损坏"

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _val(el: Any, tag: str) -> str | None:
    """``w:val`` of the child ``tag`` of ``el`` (``""`` when present without value, None when absent)."""
    if el is None:
        return None
    child = el.find(_W + tag)
    if child is None:
        return None
    return child.get(_W + "val", "")


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        return default


def _paragraph_text(p: Any) -> str:
    parts: list[str] = []
    for el in p.iter():
        if el.tag == _W + "t":
            parts.append(el.text or "")
        elif el.tag == _W + "tab":
            parts.append(" ")
        elif el.tag in (_W + "br", _W + "cr"):
            parts.append("\n")
    return "".join(parts)


def _cell_text(tc: Any) -> str:
    from indexer.extract_pdf import join_lines

    lines: list[str] = []
    for p in tc.iter(_W + "p"):
        lines.extend(_paragraph_text(p).split("\n"))
    return clean_cell(join_lines("\n".join(lines)))


def table_grid(tbl: Any) -> list[list[Cell]]:
    """A Word table as a rectangular grid of cells with merges expanded."""
    grid: dict[tuple[int, int], Cell] = {}
    width = 0
    rows = [tr for tr in tbl if tr.tag == _W + "tr"]
    for r, tr in enumerate(rows):
        trpr = tr.find(_W + "trPr")
        c = _int(_val(trpr, "gridBefore"), 0) if trpr is not None else 0
        for tc in tr:
            if tc.tag == _W + "sdt":  # a cell wrapped in a content control
                inner = tc.find(f"{_W}sdtContent/{_W}tc")
                if inner is None:
                    continue
                tc = inner
            if tc.tag != _W + "tc":
                continue
            tcpr = tc.find(_W + "tcPr")
            span = _int(_val(tcpr, "gridSpan"), 1)
            vmerge = _val(tcpr, "vMerge")
            if vmerge is not None and vmerge != "restart":
                # continuation of a vertical merge: copy the text above
                above = grid.get((r - 1, c))
                text = above.text if above is not None else ""
                grid[(r, c)] = Cell(text, filled=bool(text))
            else:
                grid[(r, c)] = Cell(_cell_text(tc))
            for dc in range(1, span):
                grid[(r, c + dc)] = Cell("")
            c += span
        width = max(width, c)
    return [[grid.get((r, c), Cell("")) for c in range(width)] for r in range(len(rows))]


def _blocks(body: Any) -> list[Any]:
    """Paragraphs and tables of the body in order (content controls unwrapped)."""
    out: list[Any] = []
    for el in body:
        if el.tag in (_W + "p", _W + "tbl"):
            out.append(el)
        elif el.tag in (_W + "sdt", _W + "customXml"):
            content = el.find(_W + "sdtContent") if el.tag == _W + "sdt" else el
            if content is not None:
                out.extend(_blocks(content))
    return out


def rows_from_docx(path: Path, name: str | None = None) -> list[GridRow]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    name = name or path.name
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(name, REASON_INVALID) from exc
    except Exception as exc:  # python-docx/lxml raise many kinds on malformed parts
        log.debug("python-docx failed on %s: %r", name, exc)
        raise IngestError(name, REASON_INVALID) from exc
    rows: list[GridRow] = []
    n_tables = 0
    last_table_at = -1
    for el in _blocks(document.element.body):
        if el.tag == _W + "p":
            text = clean_cell(_paragraph_text(el).replace("\n", " "))
            if text:
                rows.append(GridRow(cells=(Cell(text),), in_table=False))
            continue
        grid = [row for row in table_grid(el) if any(c.text for c in row)]
        if not grid:
            continue
        n_tables += 1
        sheet = f"表{n_tables}"
        for i, cells in enumerate(grid, start=1):
            cells = [Cell(c.text, line=i, filled=c.filled) for c in cells]
            rows.append(GridRow(cells=tuple(cells), line=i, sheet=sheet, in_table=True))
        last_table_at = len(rows)
    if n_tables == 0:
        if not rows:
            raise IngestError(name, "Word 文档是空的，没有任何文字或表格")
        return rows
    return rows[:last_table_at]


def extract_docx(path: Path) -> list[GridRow]:
    path = Path(path)
    return rows_from_docx(path)


def extract_doc(path: Path) -> list[GridRow]:
    """``.doc`` / ``.wps``: convert to ``.docx`` with LibreOffice, then read it."""
    from indexer.office import converted

    path = Path(path)
    with converted(path, "docx") as docx_path:
        return rows_from_docx(docx_path, name=path.name)
