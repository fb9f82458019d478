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

from indexer.classify import is_header_word, kind, segment_run_together, split_by_roles
from indexer.decode import DecodedText, decode_bytes  # noqa: F401 - decoding lives in indexer.decode
from indexer.grid import Cell, GridRow
from indexer.model import IngestError
from indexer.normalize import GLOSS_RE, clean_cell

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
    if mode == "tab" and "\t" in line:
        return line.split("\t")
    if mode == "comma":
        return next(csv.reader([line]))
    stripped = line.strip()
    if mode == "tab":
        return [line]
    if mode == "pipe" and ("|" in stripped or "｜" in stripped):
        parts = _PIPE_RE.split(stripped)
        if parts and parts[0] == "":
            parts = parts[1:]
        if parts and parts[-1] == "":
            parts = parts[:-1]
        return parts
    if mode == "space" and _MULTISPACE_RE.search(stripped):
        return _MULTISPACE_RE.split(stripped)
    # cells separated by single spaces: the roles of the pieces decide where cells end
    by_roles = split_by_roles(stripped)
    if by_roles is None:
        return segment_run_together(stripped) or [line]
    out: list[str] = []
    for cell in by_roles:  # cells between spaces may still hold several cells run together
        out.extend(segment_run_together(cell, need_label=False) or [cell] if len(cell) > 6 else [cell])
    return out


FLAT_TABLE_CELLS = 16


def _is_flattened_table(cells: tuple[Cell, ...]) -> bool:
    """Many cells on one line that hold a header run (一级指标 二级指标 三级指标 …) and more after it."""
    texts = [c.text for c in cells if c.text]
    kinds = [kind(t) for t in texts]
    if len(texts) >= 10 and sum(1 for k in kinds if k in ("l1", "l2")) >= 3:
        return True  # several groups of level labels on one line, no header
    pairs = sum(1 for a, b in zip(kinds, kinds[1:]) if a == "text" and b in ("value", "op"))
    if len(texts) >= 7 and pairs >= 2 and kinds[0] in ("l1", "l2"):
        # several "name value" pairs after the labels: several rows on one line (but not two column groups
        # side by side, 中期 | 年度, which repeat the labels)
        first_value = next(i for i, k in enumerate(kinds) if k in ("value", "op"))
        names = [texts[i] for i, (a, b) in enumerate(zip(kinds, kinds[1:])) if a == "text" and b in ("value", "op")]
        return len(set(names)) == len(names) and not any(k in ("l1", "l2") for k in kinds[first_value:])
    yes_no = sum(1 for a, b in zip(kinds, texts[1:]) if a == "num" and b in ("是", "否"))
    if yes_no >= 3:
        return True  # rows closed by a 是/否 column (是否核心指标), several on one line
    if len(texts) < FLAT_TABLE_CELLS:
        return False
    header = [i for i, t in enumerate(texts) if is_header_word(t)]
    return len(header) >= 3 and header[0] + len(header) < len(texts) - 3


def rows_from_text(text: str, suffix: str = "") -> list[GridRow]:
    rows: list[GridRow] = []
    lines = text.splitlines()
    mode = detect_separator([ln for ln in lines if ln.strip()], suffix)
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or (mode == "pipe" and _MD_RULE_RE.match(line)):
            continue
        line = GLOSS_RE.sub("", line)  # 一級(jí)指標(biāo): glosses would split words
        cells = tuple(Cell(clean_cell(c), line=lineno) for c in split_cells(line, mode))
        if not any(c.text for c in cells):
            continue
        if _is_flattened_table(cells):
            # a whole table on one line (header, then rows): one cell per row, read as a stream by the layout
            rows.extend(GridRow((c,), line=lineno) for c in cells if c.text)
            continue
        rows.append(GridRow(cells=cells, line=lineno))
    if mode == "pipe":
        rows = _group_pipe_rows(lines, rows)
    return rows


MAX_GROUPED_CELLS = 14
_PIPES_ONLY_RE = re.compile(r"^\s*(?:[|｜]\s*){2,}$")


def _group_pipe_rows(lines: list[str], rows: list[GridRow]) -> list[GridRow]:
    """One cell per line with rows closed by a line of pipes only (``||||``): join each row's cells.

    Applies when such closing lines recur and nearly every content line holds one cell."""
    ends = [i for i, ln in enumerate(lines, start=1) if _PIPES_ONLY_RE.match(ln)]
    single = sum(1 for r in rows if len(r.nonempty) == 1)
    if len(ends) < 3 or single < 0.8 * len(rows):
        return rows
    out: list[GridRow] = []
    buf: list[Cell] = []
    end_iter = iter([*ends, 10**9])
    next_end = next(end_iter)

    def flush() -> None:
        nonlocal buf
        if not buf:
            return
        buf = _join_wrapped_cells(buf)
        # a header never shares a row with data: cut after the last header word of a leading header run
        # (which may follow a short caption such as 绩效指标)
        lead = next((k for k in range(min(3, len(buf))) if is_header_word(buf[k].text)), 0)
        cut = lead
        while cut < len(buf) and is_header_word(buf[cut].text):
            cut += 1
        if cut - lead >= (1 if lead == 0 else 3) and cut < len(buf):
            if lead:
                out.append(GridRow(tuple(buf[:lead]), line=buf[0].line))
            out.append(GridRow(tuple(buf[lead:cut]), line=buf[lead].line))
            buf = buf[cut:]
        if len(buf) > MAX_GROUPED_CELLS or sum(len(c.text) for c in buf) > 40 * len(buf):
            # no table row ends here after all (or it is running text): the cells written with pipes (the
            # row's first cell may have none) are the row, the rest is one cell per line
            k = next((k for k in range(1, len(buf)) if not _has_pipe(lines, buf[k].line)), len(buf))
            if 3 <= k <= MAX_GROUPED_CELLS and k < len(buf):
                out.append(GridRow(tuple(buf[:k]), line=buf[0].line))
                buf = buf[k:]
            out.extend(GridRow((c,), line=c.line) for c in buf)
        else:
            out.append(GridRow(tuple(buf), line=buf[0].line))
        buf = []

    for r in rows:
        while r.line is not None and r.line > next_end:
            flush()
            next_end = next(end_iter)
        if len(r.nonempty) != 1:
            flush()
            out.append(r)
            continue
        buf.append(r.nonempty[0][1])
    flush()
    return out


def _has_pipe(lines: list[str], line: int | None) -> bool:
    return line is not None and 0 < line <= len(lines) and ("|" in lines[line - 1] or "｜" in lines[line - 1])


def _join_wrapped_cells(cells: list[Cell]) -> list[Cell]:
    """A label wrapped into a cell of its own (社会效益 | 指标): one cell 社会效益指标."""
    from indexer import vocab

    out: list[Cell] = []
    for c in cells:
        if out and c.text == "指标" and (vocab.is_level1(out[-1].text + "指标") or vocab.is_level2(out[-1].text + "指标")):
            out[-1] = Cell(out[-1].text + "指标", out[-1].line, out[-1].bbox)
            continue
        out.append(c)
    return out


def extract_text(path: Path) -> tuple[list[GridRow], DecodedText]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(path.name, f"无法读取文件：{exc.strerror or exc}") from exc
    decoded = decode_bytes(data, path.name)
    return rows_from_text(decoded.text, path.suffix.lower()), decoded
