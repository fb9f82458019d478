"""The common output of every extractor: rows of cells with their sources.

Extractors (text, PDF, xlsx) turn a file into a flat sequence of ``GridRow``
objects in reading order.  Title lines and free text outside tables become
one-cell rows.  The layout stage (``indexer.layout``) turns grid rows into
tables and indicator rows without knowing which format they came from.

Conventions every extractor follows:
- ``Cell.text`` is the cell text as written, with ``<p>``-style tags removed,
  line breaks inside a cell joined, and stray spaces between CJK characters
  dropped (see ``indexer.normalize.clean_cell``).  Empty cells are kept as ``""``
  so column positions survive, but nothing relies on positions alone.
- A cell covered by a *vertically* merged (spanning) cell in a PDF or xlsx
  carries the spanning cell's text, with ``Cell.filled=True``.  Horizontally
  covered cells are ``""``.
- ``GridRow.page`` is the 1-based PDF page, ``GridRow.line`` the 1-based line
  (text) or row number (xlsx); ``GridRow.bbox`` the row's box on the page.
- Tables that continue over a page break are joined by the PDF extractor; a
  repeated header row on the continuation page is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from indexer.model import BBox, SourceRef


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    line: int | None = None  # source line of this cell (text files: may differ per cell)
    bbox: BBox | None = None
    filled: bool = False  # True when copied from a vertically spanning cell


@dataclass(frozen=True, slots=True)
class GridRow:
    cells: tuple[Cell, ...]
    page: int | None = None
    line: int | None = None
    bbox: BBox | None = None
    in_table: bool = True  # False for free text outside ruled tables (PDF titles etc.)
    sheet: str | None = None  # worksheet name (Excel) or "表N" (web page / Word table), see SourceRef

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.cells]

    @property
    def nonempty(self) -> list[tuple[int, Cell]]:
        return [(i, c) for i, c in enumerate(self.cells) if c.text]

    def source(self, file: str, cell: Cell | None = None) -> SourceRef:
        line = cell.line if cell is not None and cell.line is not None else self.line
        bbox = self.bbox
        return SourceRef(
            file=file, page=self.page, line=line if self.page is None else None, bbox=bbox, sheet=self.sheet
        )


# -- spreadsheets (xls, xlsx, et): one row-assembly path ----------------------------------------------


def fill_merged(
    texts: dict[tuple[int, int], str],
    filled: set[tuple[int, int]],
    bordered: set[int],
    ranges: Iterable[tuple[int, int, int, int]],
) -> None:
    """Merged ranges ``(r0, c0, r1, c1)`` (inclusive): vertical spans copy the top-left text down
    (``filled``), horizontally covered cells are emptied; a row a bordered span reaches is bordered."""
    for r0, c0, r1, c1 in ranges:
        text = texts.get((r0, c0), "")
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) == (r0, c0):
                    continue
                texts.pop((r, c), None)  # covered cells hold no value of their own
                if c == c0 and text:
                    texts[(r, c)] = text
                    filled.add((r, c))
                    if r0 in bordered:
                        bordered.add(r)


def sheet_rows(
    texts: dict[tuple[int, int], str],
    filled: set[tuple[int, int]],
    bordered: set[int],
    *,
    first_col: int,
    line_of: Callable[[int], int],
    sheet: str | None,
) -> list[GridRow]:
    """Grid rows of one sheet from its cell texts: every row with text, columns ``first_col`` .. last
    used column.  Where the sheet draws borders, an unbordered row is free text (one cell)."""
    if not texts:
        return []
    last_col = max(c for _, c in texts)
    use_borders = bool(bordered)  # borders only mean something when the sheet uses them at all
    out: list[GridRow] = []
    for r in sorted({r for r, _ in texts}):
        line = line_of(r)
        cells = tuple(Cell(texts.get((r, c), ""), line=line, filled=(r, c) in filled) for c in range(first_col, last_col + 1))
        if use_borders and r not in bordered:
            text = " ".join(c.text for c in cells if c.text)
            out.append(GridRow(cells=(Cell(text, line=line),), line=line, in_table=False, sheet=sheet))
        else:
            out.append(GridRow(cells=cells, line=line, in_table=True, sheet=sheet))
    return out
