"""Text files (text extracted from government PDFs) -> grid rows.

Handles UTF-8 (with or without BOM), UTF-16 and GBK/GB18030 via
charset-normalizer, and three cell separators: tabs, pipes (``|``/``｜``)
and runs of two or more spaces.  A file written one cell per line gives
one-cell rows; ``indexer.layout`` rebuilds rows from those.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

from indexer.decode import DecodedText, decode_bytes  # noqa: F401 - decoding lives in indexer.decode
from indexer.grid import Cell, GridRow
from indexer.model import IngestError
from indexer.normalize import clean_cell

log = logging.getLogger(__name__)

_PIPE_RE = re.compile(r"\s*[|｜]\s*")
_MULTISPACE_RE = re.compile(r"(?:\s{2,}|\u3000+)")


_MD_RULE_RE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def detect_separator(lines: list[str], suffix: str = "") -> str:
    """The file's cell separator: ``tab``, ``pipe``, ``comma``, ``space`` or ``line`` (one cell per line)."""
    n_tab = sum(1 for ln in lines if "\t" in ln)
    n_comma = sum(1 for ln in lines if ln.count(",") >= 2)
    if suffix == ".csv" and n_tab == 0 or (n_tab == 0 and n_comma >= max(3, len(lines) // 2)):
        return "comma"
    counts = {
        "tab": n_tab,
        "pipe": sum(1 for ln in lines if "|" in ln or "｜" in ln),
        "space": sum(1 for ln in lines if _MULTISPACE_RE.search(ln.strip())),
    }
    for mode in ("tab", "pipe", "space"):
        if counts[mode] >= 3 or (counts[mode] and counts[mode] >= len(lines) // 4):
            return mode
    return "line"


def split_cells(line: str, mode: str = "tab") -> list[str]:
    """Split one physical line into raw cells."""
    if mode == "tab":
        return line.split("\t")
    if mode == "comma":
        return next(csv.reader([line]))
    stripped = line.strip()
    if mode == "pipe" and ("|" in stripped or "｜" in stripped):
        parts = _PIPE_RE.split(stripped)
        if parts and parts[0] == "":
            parts = parts[1:]
        if parts and parts[-1] == "":
            parts = parts[:-1]
        return parts
    if mode == "space" and _MULTISPACE_RE.search(stripped):
        return _MULTISPACE_RE.split(stripped)
    return [line]


def rows_from_text(text: str, suffix: str = "") -> list[GridRow]:
    rows: list[GridRow] = []
    lines = text.splitlines()
    mode = detect_separator([ln for ln in lines if ln.strip()], suffix)
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or (mode == "pipe" and _MD_RULE_RE.match(line)):
            continue
        cells = tuple(Cell(clean_cell(c), line=lineno) for c in split_cells(line, mode))
        if not any(c.text for c in cells):
            continue
        rows.append(GridRow(cells=cells, line=lineno))
    return rows


def extract_text(path: Path) -> tuple[list[GridRow], DecodedText]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(path.name, f"无法读取文件：{exc.strerror or exc}") from exc
    decoded = decode_bytes(data, path.name)
    return rows_from_text(decoded.text, path.suffix.lower()), decoded
