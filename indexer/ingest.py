"""One file -> ``Document``: pick the extractor, lay out tables, describe the document.

Every limit of ``indexer.settings.IngestSettings`` that concerns one file is
enforced here or in the extractors, before the expensive step: file size
before reading, rows / cells per row / characters per cell before the layout
stage, pages and sheet dimensions inside the extractors, and the per-file time
budget (``file_budget``) around everything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

from indexer.classify import count_clutter, is_clutter
from indexer.formats import detect_format, extract
from indexer.grid import GridRow
from indexer.layout import parse_tables, region_of, year_of
from indexer.model import NO_TABLE_WARNING, Document, IngestError, Passage
from indexer.normalize import looks_traditional
from indexer.settings import IngestSettings, check_deadline, current_settings, file_budget

log = logging.getLogger(__name__)



def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """``sha256_of`` the file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- row limits


def bound_rows(rows: list[GridRow], name: str, settings: IngestSettings) -> tuple[list[GridRow], list[str]]:
    """Enforce rows per file and cells per row; cut over-long cells (with a warning)."""
    if len(rows) > settings.max_rows:
        raise IngestError(
            name,
            f"共有 {len(rows)} 行，超过每个文件 {settings.max_rows} 行的上限（PERFSEARCH_MAX_ROWS）",
        )
    warnings: list[str] = []
    limit = settings.max_cell_chars
    out: list[GridRow] = rows
    for i, row in enumerate(rows):
        if len(row.cells) > settings.max_cells_per_row:
            raise IngestError(
                name,
                f"一行有 {len(row.cells)} 个单元格，超过每行 {settings.max_cells_per_row} 个的上限"
                "（PERFSEARCH_MAX_CELLS_PER_ROW），不像绩效目标表",
                page=row.page,
                line=row.line if row.page is None else None,
            )
        if any(len(c.text) > limit for c in row.cells):
            if out is rows:
                out = list(rows)
            cells = tuple(
                dataclasses.replace(c, text=c.text[:limit]) if len(c.text) > limit else c for c in row.cells
            )
            longest = max(len(c.text) for c in row.cells)
            where = f"第{row.page}页" if row.page is not None else f"第{row.line}行" if row.line else ""
            warnings.append(
                f"{where}有单元格长达 {longest} 个字符，超过 {limit} 个字符的上限（PERFSEARCH_MAX_CELL_CHARS），已截断"
            )
            out[i] = dataclasses.replace(row, cells=cells)
    return out, warnings


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


def _text_sample(rows: list[GridRow], limit: int) -> str:
    parts: list[str] = []
    n = 0
    for r in rows:
        for c in r.cells:
            if c.text:
                parts.append(c.text)
                n += len(c.text) + 1
                if n >= limit:
                    return " ".join(parts)
    return " ".join(parts)


def parse_file(
    path: Path, display_name: str | None = None, *, settings: IngestSettings | None = None
) -> Document:
    """Parse one file into a Document; raise IngestError with a Chinese reason.

    ``display_name`` is the printable name the document is stored and cited under
    (file names that are not valid UTF-8 are decoded by the caller).
    """
    path = Path(path)
    settings = settings or current_settings()
    name = display_name or path.name
    with file_budget(name, settings.file_seconds):
        return _parse(path, name, settings)


def _parse(path: Path, name: str, settings: IngestSettings) -> Document:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IngestError(name, f"无法读取文件：{exc.strerror or exc}") from exc
    if size > settings.max_file_bytes:
        raise IngestError(
            name,
            f"文件大小 {size / 1024 / 1024:.1f} MB 超过 {settings.max_file_mb:g} MB 的上限（PERFSEARCH_MAX_FILE_MB）",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(name, f"无法读取文件：{exc.strerror or exc}") from exc
    if not data.strip():
        raise IngestError(name, "文件为空，没有可读取的内容")
    digest = sha256_of(data)
    fmt = detect_format(path, data[:4096])
    if fmt == "text":
        # before decoding and splitting: a text with far more lines than any table has
        n_lines = data.count(b"\n")
        if n_lines > 3 * settings.max_rows:
            raise IngestError(
                name, f"共有约 {n_lines} 行，超过每个文件 {settings.max_rows} 行的上限（PERFSEARCH_MAX_ROWS）"
            )
    del data  # the extractor reads the file itself; do not hold two copies
    try:
        extraction = extract(path, fmt, settings)
        rows, encoding, warnings = extraction.rows, extraction.encoding, list(extraction.warnings)
        check_deadline()
        rows, cut = bound_rows(rows, name, settings)
        warnings += cut
    except IngestError as exc:
        if exc.file != name:
            raise IngestError(name, exc.reason, exc.page, exc.line) from exc
        raise
    except RecursionError as exc:
        raise IngestError(name, "文件结构嵌套过深，无法解析") from exc
    except MemoryError as exc:
        raise IngestError(name, "内存不足，文件过大或结构异常，无法解析") from exc
    tables = parse_tables(rows, name)
    all_text = _text_sample(rows, 20000)  # looks_traditional and year_of read only a sample
    if not any(t.rows for t in tables):
        # never a silent rejection: the text is imported as passages, cited by line/page
        passages = text_passages(rows, name)
        if not passages:
            raise IngestError(name, "没有找到绩效指标表，也没有可导入的正文")
        log.info("%s: %s", name, NO_TABLE_WARNING)
        title = tables[0].title if tables else passages[0].text[:60]
        return Document(
            file=name,
            sha256=digest,
            title=title,
            unit=next((t.unit for t in tables if t.unit), ""),
            year=next((t.year for t in tables if t.year), None) or year_of(all_text[:2000]),
            region=region_of(next((t.unit for t in tables if t.unit), "")) or region_of(title),
            tables=(),
            fmt=fmt,
            encoding=encoding,
            traditional=looks_traditional(all_text),
            warnings=(NO_TABLE_WARNING, *warnings),
            passages=passages,
            clutter_lines=count_clutter(rows),
        )
    first = tables[0]
    unit = next((t.unit for t in tables if t.unit), "")
    year = next((t.year for t in tables if t.year), None)
    return Document(
        file=name,
        sha256=digest,
        title=first.title,
        unit=unit,
        year=year,
        region=region_of(unit) or region_of(first.title),
        tables=tuple(tables),
        fmt=fmt,
        encoding=encoding,
        traditional=looks_traditional(all_text),
        clutter_lines=count_clutter(rows),
        warnings=tuple(warnings),
    )
