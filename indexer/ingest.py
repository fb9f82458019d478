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

from indexer.decode import ZIP_KIND_NAMES, zip_kind
from indexer.grid import GridRow
from indexer.layout import parse_tables, region_of
from indexer.model import Document, IngestError
from indexer.normalize import looks_traditional
from indexer.settings import IngestSettings, check_deadline, current_settings, file_budget

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".text", ".tsv", ".csv", ".md", ".pdf", ".xlsx", ".xlsm")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detect_format(path: Path, head: bytes) -> str:
    if head.startswith(b"%PDF") or path.suffix.lower() == ".pdf":
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        kind = zip_kind(path)
        if kind in ("", "xlsx") and path.suffix.lower() in (".xlsx", ".xlsm"):
            return "xlsx"  # a damaged workbook: the xlsx extractor names the reason
        return kind or "zip"
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return "xlsx"
    return "text"


def _text_in_disguise(data: bytes) -> bool:
    """A ``.pdf`` / ``.xlsx`` that is really a text file (e.g. a CSV export renamed)."""
    from indexer.decode import decode_bytes

    try:
        decode_bytes(data[:65536], "")
    except IngestError:
        return False
    return True


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


def extract_rows(path: Path, fmt: str) -> tuple[list[GridRow], str]:
    """Grid rows and the detected text encoding ("" for binary formats)."""
    rows, encoding, _warnings = _extract(path, fmt, current_settings())
    return rows, encoding


def _extract(path: Path, fmt: str, settings: IngestSettings) -> tuple[list[GridRow], str, list[str]]:
    if fmt == "pdf":
        from indexer.extract_pdf import extract_pdf

        return extract_pdf(path, max_pages=settings.max_pdf_pages), "", []
    if fmt == "xlsx":
        from indexer.extract_xlsx import extract_xlsx

        return extract_xlsx(path, settings=settings), "", []
    if fmt in ZIP_KIND_NAMES:
        suffix = path.suffix.lower()
        kind = ZIP_KIND_NAMES[fmt]
        supported = "、".join(SUPPORTED_SUFFIXES)
        if suffix and suffix.lstrip(".") in kind:
            raise IngestError(path.name, f"暂不支持{kind}；支持的格式为 {supported}")
        raise IngestError(
            path.name, f"文件内容是{kind}，扩展名却是 {suffix or '（无）'}；支持的格式为 {supported}"
        )
    from indexer.extract_text import extract_text

    rows, decoded = extract_text(path)
    warning = getattr(decoded, "warning", "")
    return rows, decoded.encoding, [warning] if warning else []


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
    fmt = detect_format(path, data[:8])
    if (fmt == "pdf" and b"%PDF" not in data[:1024]) or (fmt == "xlsx" and data[:2] not in (b"PK", b"\xd0\xcf")):
        if _text_in_disguise(data):
            fmt = "text"  # read it as the text it is
    if fmt == "text":
        # before decoding and splitting: a text with far more lines than any table has
        n_lines = data.count(b"\n")
        if n_lines > 3 * settings.max_rows:
            raise IngestError(
                name, f"共有约 {n_lines} 行，超过每个文件 {settings.max_rows} 行的上限（PERFSEARCH_MAX_ROWS）"
            )
    del data  # the extractor reads the file itself; do not hold two copies
    try:
        rows, encoding, warnings = _extract(path, fmt, settings)
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
    if not any(t.rows for t in tables):
        raise IngestError(name, "没有找到绩效指标表（未识别到“一级指标/二级指标/三级指标/指标值”等表头或指标行）")
    first = tables[0]
    unit = next((t.unit for t in tables if t.unit), "")
    year = next((t.year for t in tables if t.year), None)
    all_text = _text_sample(rows, 20000)  # looks_traditional reads only a sample
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
        warnings=tuple(warnings),
    )
