"""Search chunks: one per indicator row and one per table section.

A chunk carries
- the hit object returned to users (``row``: exactly the keys of
  ``indexer.model.row_to_json``; section chunks fill the same keys with
  name = section label, value = section text, levels empty);
- where it came from (doc, table index, row/section index, ``SourceRef``);
- the filter fields (unit, year, region, table kind, project, level1, level2, doc);
- the text indexed by BM25 and the passage embedded by the dense model;
- ``hash``: a model-independent content hash of the dense passage, so an
  unchanged row is never embedded twice (embeddings are reused by hash).

The texts were chosen by measuring on ``search/evaluation/data/queries.jsonl`` (see ``row_texts``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.model import Document, IndicatorRow, Table, Target, row_to_json, table_context

# Bump when chunk texts change: every hash changes, so everything is re-embedded.
CHUNK_VERSION = 2

ROW = "row"
SECTION = "section"

DUTIES_LABEL = "单位主要职能"
EXPENSES_LABEL = "支出明细"
DEPARTMENT_LABEL = "部门整体"


@dataclass(frozen=True)
class Chunk:
    kind: str  # ROW | SECTION
    doc: str
    table_idx: int
    item_idx: int  # row index within the table, or section index within the table
    row: dict[str, Any] = field(compare=False)  # the hit object (row_to_json shape)
    region: str
    bm25_fields: tuple[str, ...]  # texts tokenised (field by field, cached) for BM25
    dense_text: str  # the passage embedded by the dense model
    hash: str  # hex digest of CHUNK_VERSION + dense_text

    @property
    def bm25_text(self) -> str:
        return " ".join(self.bm25_fields)

    # filter fields (from the hit object)
    @property
    def unit(self) -> str:
        return self.row["unit"]

    @property
    def year(self) -> int | None:
        return self.row["year"]

    @property
    def table(self) -> str:
        return self.row["table"]

    @property
    def project(self) -> str:
        return self.row["project"]

    @property
    def level1(self) -> str:
        return self.row["level1"]

    @property
    def level2(self) -> str:
        return self.row["level2"]

    def filter_fields(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "year": self.year,
            "region": self.region,
            "table": self.table,
            "project": self.project,
            "level1": self.level1,
            "level2": self.level2,
            "doc": self.doc,
        }


def content_hash(dense_text: str) -> str:
    """Model-independent identity of a chunk's embedding input (128 bits, hex)."""
    return hashlib.blake2b(f"{CHUNK_VERSION}\x1f{dense_text}".encode(), digest_size=16).hexdigest()


def _join(parts: Iterable[str], sep: str = " ") -> str:
    return sep.join(p for p in (x.strip() for x in parts) if p)


def _project_label(table: Table) -> str:
    return table.project or DEPARTMENT_LABEL


def _fields(parts: Iterable[str]) -> tuple[str, ...]:
    return tuple(p.strip() for p in parts if p and p.strip())


def row_texts(doc: Document, table: Table, row: IndicatorRow) -> tuple[tuple[str, ...], str]:
    """(bm25_fields, dense_text) of an indicator row.

    Measured on search/evaluation/data/queries.jsonl: BM25 works best on the name (counted twice)
    with its 二级 label, 重点工作 and project; the unit, the generic 一级 label and
    the value only add noise there.  The dense passage is the name followed by
    二级 label, 重点工作, 核心职能, project and unit (the 一级 label and the value
    lowered nDCG).  The value is not embedded, so a changed value never forces a
    re-embedding."""
    unit = table.unit or doc.unit
    project = _project_label(table)
    bm25 = _fields([row.name, row.name, row.level2, row.task, project])
    dense = _join([row.name, row.level2, row.task, row.function, project, unit], "；")
    return bm25, dense


def section_texts(doc: Document, table: Table, label: str, text: str) -> tuple[tuple[str, ...], str]:
    """(bm25_fields, dense_text) of a table section (goal, duties, expense lines)."""
    unit = table.unit or doc.unit
    bm25 = _fields([label, _project_label(table), unit, text])
    dense = _join([f"{unit} {_project_label(table)} {label}", text], "：")
    return bm25, dense


def section_row(doc: Document, table: Table, label: str, text: str, source: dict[str, Any]) -> dict[str, Any]:
    """A section as a hit object with exactly the keys of ``row_to_json``."""
    return {
        **table_context(doc, table),
        "function": "",
        "level1": "",
        "level2": "",
        "task": "",
        "name": label,
        "half_year": "",
        "value": text,
        "target": Target(text, qualitative=True).to_json(),
        "source": source,
    }


def table_sections(table: Table) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(label, text, source) of each section of a table, in document order."""
    src = table.source.to_json()
    for label, text in table.goals:
        if text.strip():
            yield label, text.strip(), src
    if table.duties.strip():
        yield DUTIES_LABEL, table.duties.strip(), src
    if table.expenses:
        lines = []
        for e in table.expenses:
            amount = e.annual if e.annual is not None else e.half_year
            lines.append(f"{e.name} {amount:g}万元" if amount is not None else e.name)
        yield EXPENSES_LABEL, "；".join(lines), table.expenses[0].source.to_json()


PASSAGE_LABEL = "正文"


def passage_chunks(doc: Document) -> list[Chunk]:
    """Documents without a recognised table: one section chunk per text passage (table index -1)."""
    out: list[Chunk] = []
    if not doc.passages:
        return out
    table = Table("department", doc.title, doc.unit, doc.year, doc.passages[0].source)
    for pi, p in enumerate(doc.passages):
        bm25, dense = section_texts(doc, table, PASSAGE_LABEL, p.text)
        row = section_row(doc, table, PASSAGE_LABEL, p.text, p.source.to_json())
        out.append(Chunk(SECTION, doc.file, -1, pi, row, doc.region, bm25, dense, content_hash(dense)))
    return out


def document_chunks(doc: Document) -> list[Chunk]:
    out: list[Chunk] = passage_chunks(doc)
    for ti, table in enumerate(doc.tables):
        for si, (label, text, src) in enumerate(table_sections(table)):
            bm25, dense = section_texts(doc, table, label, text)
            out.append(
                Chunk(SECTION, doc.file, ti, si, section_row(doc, table, label, text, src), doc.region,
                      bm25, dense, content_hash(dense))
            )
        for ri, row in enumerate(table.rows):
            bm25, dense = row_texts(doc, table, row)
            out.append(
                Chunk(ROW, doc.file, ti, ri, row_to_json(doc, table, row), doc.region, bm25, dense,
                      content_hash(dense))
            )
    return out


def build_chunks(docs: Iterable[Document]) -> list[Chunk]:
    """All chunks of ``docs`` in a deterministic order (by file, table, sections then rows)."""
    out: list[Chunk] = []
    for d in sorted(docs, key=lambda d: d.file):
        out.extend(document_chunks(d))
    return out


# -- columnar view used at query time ---------------------------------------------

TEXT_FIELDS = ("unit", "region", "project", "level1", "level2", "doc")
TABLE_CODES = {"department": 0, "project": 1}
KIND_CODES = {ROW: 0, SECTION: 1}
KIND_NAMES = {v: k for k, v in KIND_CODES.items()}


def encode_column(values: list[str]) -> tuple[list[str], np.ndarray]:
    """Dictionary-encode a string column: (distinct values, int32 codes)."""
    index: dict[str, int] = {}
    codes = np.empty(len(values), dtype=np.int32)
    for i, v in enumerate(values):
        codes[i] = index.setdefault(v, len(index))
    return list(index), codes


class ChunkTable:
    """All chunks of one generation as numpy columns (for filtering) plus the hit
    objects as JSON lines, parsed only for the chunks actually returned.

    ``slot[i]`` is the dense vector slot of chunk ``i`` (chunks with the same
    content hash share a slot); chunk positions are the BM25 document ids.
    """

    def __init__(
        self,
        kind: np.ndarray,
        slot: np.ndarray,
        year: np.ndarray,
        table: np.ndarray,
        columns: dict[str, tuple[list[str], np.ndarray]],
        payload: bytes | np.ndarray,
        offsets: np.ndarray,
    ):
        self.kind = kind
        self.slot = slot
        self.year = year
        self.table = table
        self.columns = columns
        self._payload = payload
        self.offsets = offsets
        self.canonical_levels: Any = None  # cache of search.retrieval.filters.canonical_level_columns

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @classmethod
    def from_chunks(cls, chunks: list[Chunk], slots: np.ndarray) -> ChunkTable:
        lines = [json.dumps(c.row, ensure_ascii=False).encode() + b"\n" for c in chunks]
        offsets = np.zeros(len(lines) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in lines], out=offsets[1:])
        cols = {f: encode_column([str(c.filter_fields()[f] or "") for c in chunks]) for f in TEXT_FIELDS}
        return cls(
            kind=np.array([KIND_CODES[c.kind] for c in chunks], dtype=np.uint8),
            slot=np.asarray(slots, dtype=np.int64),
            year=np.array([c.year if c.year is not None else -1 for c in chunks], dtype=np.int32),
            table=np.array([TABLE_CODES.get(c.table, 2) for c in chunks], dtype=np.uint8),
            columns=cols,
            payload=b"".join(lines),
            offsets=offsets,
        )

    def row(self, i: int) -> dict[str, Any]:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return json.loads(bytes(self._payload[a:b]))

    def kind_name(self, i: int) -> str:
        return KIND_NAMES[int(self.kind[i])]

    # -- persistence: <stem>.jsonl (hit objects) + <stem>.npz (columns) --
    def save(self, jsonl_path: Path, npz_path: Path) -> None:
        jsonl_path.write_bytes(bytes(self._payload))
        arrays: dict[str, np.ndarray] = {
            "kind": self.kind, "slot": self.slot, "year": self.year, "table": self.table, "offsets": self.offsets,
        }
        for f, (values, codes) in self.columns.items():
            arrays[f"{f}_codes"] = codes
            arrays[f"{f}_values"] = np.array(values, dtype=str) if values else np.zeros(0, dtype="<U1")
        with open(npz_path, "wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, jsonl_path: Path, npz_path: Path) -> ChunkTable:
        with np.load(npz_path, allow_pickle=False) as z:
            cols = {f: ([str(v) for v in z[f"{f}_values"]], z[f"{f}_codes"]) for f in TEXT_FIELDS}
            kind, slot, year, table, offsets = (z[k] for k in ("kind", "slot", "year", "table", "offsets"))
        size = jsonl_path.stat().st_size
        payload = np.memmap(jsonl_path, dtype=np.uint8, mode="r") if size else b""
        return cls(kind, slot, year, table, cols, payload, offsets)
