"""One file -> ``Document``: pick the extractor, lay out tables, describe the document."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from indexer.classify import count_clutter, is_clutter
from indexer.grid import GridRow
from indexer.layout import parse_tables, region_of, year_of
from indexer.model import NO_TABLE_WARNING, Document, IngestError, Passage
from indexer.normalize import looks_traditional

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".text", ".tsv", ".csv", ".md", ".pdf", ".xlsx", ".xlsm")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detect_format(path: Path, head: bytes) -> str:
    if head.startswith(b"%PDF") or path.suffix.lower() == ".pdf":
        return "pdf"
    if head.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm"):
        return "xlsx"
    return "text"


def extract_rows(path: Path, fmt: str) -> tuple[list[GridRow], str]:
    """Grid rows and the detected text encoding ("" for binary formats)."""
    if fmt == "pdf":
        from indexer.extract_pdf import extract_pdf

        return extract_pdf(path), ""
    if fmt == "xlsx":
        from indexer.extract_xlsx import extract_xlsx

        return extract_xlsx(path), ""
    from indexer.extract_text import extract_text

    rows, decoded = extract_text(path)
    return rows, decoded.encoding


PASSAGE_CHARS = 300


def text_passages(rows: list[GridRow], file: str) -> tuple[Passage, ...]:
    """Running text as passages: consecutive lines joined up to about ``PASSAGE_CHARS`` characters;
    each passage cites its first line (text/xlsx) or page (PDF)."""
    out: list[Passage] = []
    buf: list[str] = []
    src = None
    for r in rows:
        text = " ".join(c.text for c in r.cells if c.text).strip()
        if not text or is_clutter(text):
            continue
        if buf and (r.page != getattr(src, "page", None) or sum(map(len, buf)) + len(text) > PASSAGE_CHARS):
            out.append(Passage(" ".join(buf), src))
            buf = []
        if not buf:
            src = r.source(file)
        buf.append(text)
    if buf and src is not None:
        out.append(Passage(" ".join(buf), src))
    return tuple(out)


def parse_file(path: Path, display_name: str | None = None) -> Document:
    """Parse one file into a Document; raise IngestError with a Chinese reason."""
    path = Path(path)
    name = display_name or path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(name, f"无法读取文件：{exc.strerror or exc}") from exc
    if not data.strip():
        raise IngestError(name, "文件为空，没有可读取的内容")
    fmt = detect_format(path, data[:8])
    try:
        rows, encoding = extract_rows(path, fmt)
    except IngestError as exc:
        if exc.file != name:
            raise IngestError(name, exc.reason, exc.page, exc.line) from exc
        raise
    tables = parse_tables(rows, name)
    all_text = " ".join(c.text for r in rows for c in r.cells if c.text)
    if not any(t.rows for t in tables):
        # never a silent rejection: the text is imported as passages, cited by line/page
        passages = text_passages(rows, name)
        if not passages:
            raise IngestError(name, "没有找到绩效指标表，也没有可导入的正文")
        log.info("%s: %s", name, NO_TABLE_WARNING)
        title = tables[0].title if tables else passages[0].text[:60]
        return Document(
            file=name,
            sha256=sha256_of(data),
            title=title,
            unit=next((t.unit for t in tables if t.unit), ""),
            year=next((t.year for t in tables if t.year), None) or year_of(all_text[:2000]),
            region=region_of(next((t.unit for t in tables if t.unit), "")) or region_of(title),
            tables=(),
            fmt=fmt,
            encoding=encoding,
            traditional=looks_traditional(all_text),
            warnings=(NO_TABLE_WARNING,),
            passages=passages,
            clutter_lines=count_clutter(rows),
        )
    first = tables[0]
    unit = next((t.unit for t in tables if t.unit), "")
    year = next((t.year for t in tables if t.year), None)
    return Document(
        file=name,
        sha256=sha256_of(data),
        title=first.title,
        unit=unit,
        year=year,
        region=region_of(unit) or region_of(first.title),
        tables=tuple(tables),
        fmt=fmt,
        encoding=encoding,
        traditional=looks_traditional(all_text),
        clutter_lines=count_clutter(rows),
    )
