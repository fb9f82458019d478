"""Grid rows -> tables: split a document into 部门整体/项目支出 tables and read
their header fields (unit, project, budget, expense lines, goals).

Indicator sections are handed to ``indexer.indicators``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from indexer import vocab
from indexer.grid import Cell, GridRow
from indexer.indicators import Columns, has_bracket_items, header_columns, section_rows
from indexer.model import ExpenseLine, IndicatorRow, SourceRef, Table
from indexer.normalize import clean_cell, key, to_simplified
from indexer.target import value_likeness

log = logging.getLogger(__name__)

_NUM_RE = re.compile(r"^[-+]?\d[\d,]*(?:\.\d+)?$")
_CODE_PREFIX_RE = re.compile(r"^\d+\s*[-－—]\s*")
_REGION_RE = re.compile(
    r"^((?:[\u4e00-\u9fff]{2,7}?(?:省|自治区))?[\u4e00-\u9fff]{2,8}?"
    r"(?:经济技术开发区|高新技术产业开发区|经济开发区|高新区|开发区|新区|自治州|自治县|地区|盟|市|县|区|旗))"
)


def parse_number(text: str) -> float | None:
    t = key(text).replace(",", "").replace("万元", "").replace("元", "")
    if _NUM_RE.match(t):
        return float(t)
    return None


def region_of(unit: str) -> str:
    """Region shown by a unit name: 苏州市教育局 -> 苏州市, 赣州经济技术开发区教体服务中心 -> 赣州经济技术开发区."""
    original = clean_cell(unit)
    simplified = to_simplified(original)
    m = _REGION_RE.match(simplified)
    if not m:
        return ""
    # keep the document's own script (OpenCC t2s maps character for character here)
    return original[: len(m.group(1))] if len(simplified) == len(original) else m.group(1)


def table_kind(title: str) -> str:
    k = key(title)
    if "项目" in k:
        return "project"
    return "department"


def is_title(row: GridRow) -> bool:
    ne = row.nonempty
    if not ne or len(ne) > 2:
        return False
    t = key(ne[0][1].text)
    return bool(vocab.TITLE_RE.search(t)) and len(t) <= 40 and not t.startswith(("年度", "中长期"))


def year_of(text: str) -> int | None:
    m = vocab.YEAR_RE.search(key(text))
    return int(m.group(1)) if m else None


@dataclass
class _TableBuilder:
    title: str
    source: SourceRef
    year: int | None = None
    unit: str = ""
    impl_unit: str = ""
    supervisor: str = ""
    project: str = ""
    duties: str = ""
    total: float | None = None
    total_source: SourceRef | None = None
    expenses: list[ExpenseLine] = field(default_factory=list)
    funding: list[tuple[str, float]] = field(default_factory=list)
    goals: list[tuple[str, str]] = field(default_factory=list)
    rows: list[IndicatorRow] = field(default_factory=list)
    in_expenses: bool = False
    pending_goal: str = ""
    pending_key: str = ""  # one cell per line: a key whose value is on the next line

    def build(self) -> Table:
        kind = table_kind(self.title)
        unit = self.impl_unit or self.unit or _CODE_PREFIX_RE.sub("", self.supervisor)
        return Table(
            kind=kind,
            title=self.title,
            unit=unit,
            year=self.year,
            source=self.source,
            project=self.project if kind == "project" else "",
            total_budget_wan=self.total,
            expenses=tuple(self.expenses),
            funding=tuple(self.funding),
            goals=tuple(self.goals),
            duties=self.duties,
            rows=tuple(self.rows),
            total_source=self.total_source,
        )


def _key_of(text: str) -> str:
    return vocab.PREFIX_RE.sub("", key(text)).rstrip(":：")


def _split_inline_key(text: str, keys: set[str]) -> tuple[str, str] | None:
    """``实施单位 赣州…`` / ``项目名称：xx`` inside one cell -> (key, value)."""
    t = clean_cell(text)
    for sep in (" ", "：", ":"):
        if sep in t:
            k, _, v = t.partition(sep)
            if key(k) in keys and v.strip():
                return key(k), v.strip()
    return None


def _head_row(b: _TableBuilder, row: GridRow, file: str) -> None:
    """Read unit/project/budget/goal fields from one non-indicator row."""
    cells = [c for _, c in row.nonempty]
    texts = [c.text for c in cells]
    if not texts:
        return
    if b.pending_key:
        pk, b.pending_key = b.pending_key, ""
        if len(texts) == 1 and not _is_known_key(texts[0]):
            texts = [pk, texts[0]]
            cells = [Cell(pk), *cells]
    if b.pending_goal:
        if len(texts) == 1 and not _is_known_key(texts[0]):
            b.goals.append((b.pending_goal, texts[0]))
            b.pending_goal = ""
            return
        b.pending_goal = ""
    year = year_of(texts[0]) if len(texts) == 1 and len(texts[0]) <= 14 else None
    if year and b.year is None:
        b.year = year
        return
    # drop block labels such as 部门整体资金（万元） / 收入 / 支出
    i = 0
    body: list[Cell] = []
    for c in cells:
        k = key(c.text)
        if vocab.BLOCK_LABEL_RE.match(k):
            if k == "支出" or k.endswith("支出"):
                b.in_expenses = True
            continue
        if "半年" in k and ("执行" in k or "计划" in k) or ("全年" in k and "预算" in k):
            if any("半年" in key(x.text) for x in cells):
                b.in_expenses = True
            continue
        body.append(c)
    texts = [c.text for c in body]
    if len(texts) == 1 and _is_known_key(texts[0]) and _key_of(texts[0]) not in vocab.GOAL_KEYS:
        b.pending_key = texts[0]
        return
    while i < len(texts):
        k = _key_of(texts[i])
        nxt = texts[i + 1] if i + 1 < len(texts) else ""
        inline = _split_inline_key(texts[i], vocab.IMPL_UNIT_KEYS | vocab.UNIT_KEYS | vocab.PROJECT_KEYS)
        if inline:
            ik, iv = inline
            if ik in vocab.IMPL_UNIT_KEYS:
                b.impl_unit = iv
            elif ik in vocab.PROJECT_KEYS:
                b.project = iv
            else:
                b.unit = iv
            i += 1
            continue
        if k in vocab.GOAL_KEYS:
            label = vocab.GOAL_KEYS[k]
            if nxt:
                b.goals.append((label, nxt))
                i += 2
            else:
                b.pending_goal = label
                i += 1
            continue
        if k in vocab.DUTY_KEYS and nxt:
            b.duties = nxt
            i += 2
            continue
        if k in vocab.ORG_KEYS:
            i += 2
            continue
        if k in vocab.PROJECT_KEYS and nxt:
            b.project = nxt
            i += 2
            continue
        if k in vocab.IMPL_UNIT_KEYS and nxt:
            b.impl_unit = nxt
            i += 2
            continue
        if k in vocab.UNIT_KEYS and nxt:
            b.unit = nxt
            i += 2
            continue
        if k in vocab.SUPERVISOR_KEYS and nxt:
            b.supervisor = nxt
            i += 2
            continue
        nums = [parse_number(t) for t in texts[i + 1 :]]
        first_num = next((n for n in nums if n is not None), None)
        if k in vocab.TOTAL_KEYS and first_num is not None:
            if b.total is None:
                b.total, b.total_source = first_num, row.source(file, body[i])
            i += 1 + nums.index(first_num) + 1
            continue
        if k in vocab.EXPENSE_TOTAL_KEYS:
            b.in_expenses = True
            i += 2 if first_num is not None else 1
            continue
        if k in vocab.FUNDING_KEYS and first_num is not None and not b.in_expenses:
            label = vocab.PREFIX_RE.sub("", clean_cell(texts[i]))
            if label != "小计":
                b.funding.append((label, first_num))
            i += 1 + nums.index(first_num) + 1
            continue
        # an expense line: name followed by one or two amounts
        if parse_number(texts[i]) is None and first_num is not None and _looks_like_expense(b, texts, i):
            amounts = []
            j = i + 1
            while j < len(texts) and parse_number(texts[j]) is not None and len(amounts) < 2:
                amounts.append(parse_number(texts[j]))
                j += 1
            if not amounts:
                i += 1
                continue
            half, annual = (amounts[0], amounts[1]) if len(amounts) == 2 else (None, amounts[0])
            name = vocab.PREFIX_RE.sub("", clean_cell(texts[i]))
            b.expenses.append(ExpenseLine(name, half, annual, row.source(file, body[i])))
            i = j
            continue
        i += 1


def _looks_like_expense(b: _TableBuilder, texts: list[str], i: int) -> bool:
    k = _key_of(texts[i])
    if b.in_expenses:
        return True
    return k in {"基本支出", "项目支出"} or k.endswith("支出")


def _is_known_key(text: str) -> bool:
    k = _key_of(text)
    return (
        k in vocab.GOAL_KEYS
        or k in vocab.UNIT_KEYS
        or k in vocab.PROJECT_KEYS
        or k in vocab.IMPL_UNIT_KEYS
        or k in vocab.SUPERVISOR_KEYS
        or k in vocab.DUTY_KEYS
        or k in vocab.TOTAL_KEYS
        or vocab.header_role(text) is not None
    )


def _is_section_end(row: GridRow) -> bool:
    """A non-indicator row inside an indicator section (a new table's fields)."""
    ne = row.nonempty
    if not ne:
        return False
    first = _key_of(ne[0][1].text)
    return first in vocab.GOAL_KEYS or first in vocab.PROJECT_KEYS or first in vocab.UNIT_KEYS


def rebuild_single_cell_rows(rows: list[GridRow]) -> list[GridRow]:
    """Files written one cell per line: rebuild table rows from the cell stream.

    A header appears as consecutive one-cell lines (一级指标 / 二级指标 / 三级指标 /
    指标值); the cells after it are grouped into rows that end with a value.
    """
    if not rows or any(len(r.nonempty) > 1 for r in rows):
        return rows
    out: list[GridRow] = []
    i = 0
    n = len(rows)
    while i < n:
        j = i
        header: list[Cell] = []
        while j < n and vocab.header_role(rows[j].cells[0].text) is not None:
            header.append(rows[j].cells[0])
            j += 1
        roles = [vocab.header_role(c.text) for c in header]
        if len(header) >= 3 and "name" in roles or ({"level1", "level2"} <= set(roles) and len(header) >= 3):
            out.append(GridRow(tuple(header), line=header[0].line))
            n_values = sum(1 for r in roles if r in ("value", "half"))
            i = _stream_rows(rows, j, max(1, n_values), out)
            continue
        out.append(rows[i])
        i += 1
    return out


def _stream_rows(rows: list[GridRow], i: int, n_values: int, out: list[GridRow]) -> int:
    current: list[Cell] = []
    has_name = False
    values = 0

    def flush() -> None:
        nonlocal current, has_name, values
        if current:
            out.append(GridRow(tuple(current), line=current[0].line))
        current, has_name, values = [], False, 0

    while i < len(rows):
        cell = rows[i].cells[0]
        t = cell.text
        if is_title(rows[i]) or _is_section_end(rows[i]) or vocab.header_role(t) == "name":
            break
        label = (
            vocab.is_level1(t) or vocab.is_level2(t) or bool(vocab.FUNCTION_RE.match(key(t)))
            or bool(vocab.INDEX_RE.match(key(t)))
        )
        if label:
            if has_name:
                flush()
            current.append(cell)
        elif has_name and value_likeness(t) >= 0.5 and values < n_values:
            current.append(cell)
            values += 1
            if values == n_values:
                flush()
        elif has_name and values:
            flush()
            current.append(cell)
            has_name = True
        else:
            if has_name:
                # two free texts in a row: the earlier one was a label (二级/重点工作)
                pass
            current.append(cell)
            has_name = True
        i += 1
    flush()
    return i


def parse_tables(rows: list[GridRow], file: str) -> list[Table]:
    rows = rebuild_single_cell_rows(rows)
    tables: list[Table] = []
    builder: _TableBuilder | None = None
    cols: Columns | None = None
    section: list[GridRow] = []
    prev_row: GridRow | None = None

    def close_section() -> None:
        nonlocal section, cols
        if builder is not None and cols is not None and section:
            builder.rows.extend(section_rows(section, cols, file))
        section = []

    for row in rows:
        if is_title(row):
            close_section()
            cols = None
            if builder is not None:
                tables.append(builder.build())
            title = row.nonempty[0][1].text
            builder = _TableBuilder(title=title, source=row.source(file), year=year_of(title))
            if len(row.nonempty) > 1:
                builder.year = builder.year or year_of(row.nonempty[1][1].text)
            prev_row = row
            continue
        if builder is None:
            builder = _TableBuilder(title="", source=row.source(file))
        hdr = header_columns(row, prev_row)
        if hdr is not None:
            close_section()
            cols = hdr
            prev_row = row
            continue
        if cols is not None:
            if _is_section_end(row):
                close_section()
                cols = None
                _head_row(builder, row, file)
            else:
                section.append(row)
        else:
            texts = " ".join(c.text for c in row.cells if c.text)
            if has_bracket_items(texts):
                cols = Columns({"level1": 0, "level2": 1, "name": 2, "value": 3}, 4)
                section.append(row)
            else:
                _head_row(builder, row, file)
        prev_row = row
    close_section()
    if builder is not None:
        tables.append(builder.build())
    return [t for t in tables if t.rows or t.total_budget_wan is not None or t.goals or t.project]
