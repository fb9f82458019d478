"""One file -> ``Document``: pick the extractor, lay out tables, describe the document."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from indexer.formats import SUPPORTED_SUFFIXES, detect_format, extract, extract_rows  # noqa: F401
from indexer.layout import parse_tables, region_of
from indexer.model import Document, IngestError
from indexer.normalize import looks_traditional

log = logging.getLogger(__name__)



def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    fmt = detect_format(path, data[:4096])
    try:
        extraction = extract(path, fmt)
        rows, encoding = extraction.rows, extraction.encoding
    except IngestError as exc:
        if exc.file != name:
            raise IngestError(name, exc.reason, exc.page, exc.line) from exc
        raise
    tables = parse_tables(rows, name)
    if not any(t.rows for t in tables):
        raise IngestError(name, "没有找到绩效指标表（未识别到“一级指标/二级指标/三级指标/指标值”等表头或指标行）")
    first = tables[0]
    unit = next((t.unit for t in tables if t.unit), "")
    year = next((t.year for t in tables if t.year), None)
    all_text = " ".join(c.text for r in rows for c in r.cells if c.text)
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
        warnings=extraction.warnings,
    )
