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
