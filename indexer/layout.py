"""Grid rows -> tables: split a document into 部门整体/项目支出 tables and read
their header fields (unit, project, budget, expense lines, goals).

Indicator sections are handed to ``indexer.indicators``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace

from indexer import vocab
from indexer.grid import Cell, GridRow
from indexer.indicators import Columns, has_bracket_items, header_columns, project_groups, section_rows
from indexer.model import ExpenseLine, IndicatorRow, SourceRef, Table
from indexer.normalize import clean_cell, key, to_simplified
from indexer.target import parse_target, value_likeness
from indexer.values.lexicon import OP_SYMBOLS
from indexer.values.units import MONEY_UNIT_RE

log = logging.getLogger(__name__)

_NUM_RE = re.compile(r"^[-+]?\d[\d,]*(?:\.\d+)?$")
_CODE_PREFIX_RE = re.compile(r"^(?:\d+\s*[-－—]\s*|[\[【［(（]\d+[\]】］)）]\s*)")
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
    page_title: str = ""  # the page's own title (XX县教育局2023年项目支出绩效自评表), see title_fields

    def build(self) -> Table:
        kind = table_kind(self.title)
        if kind == "department" and self.project and not re.search(r"部门|整体", key(self.title)):
            kind = "project"  # a 项目名称 and no 部门整体 title: a project table
        # "单位：万元" names the amount unit, not the organisation
        unit = next((u for u in map(org_name, (self.impl_unit, self.unit, self.supervisor))
                     if u and not MONEY_UNIT_RE.match(u)), "")
        year = self.year
        for title in (self.title, self.page_title):
            # the table's fields win; a title such as XX县教育局2023年项目支出绩效目标表 fills what they lack
            t_unit, t_year = title_fields(title)
            unit, year = unit or t_unit, year or t_year
        return Table(
            kind=kind,
            title=self.title,
            unit=unit,
            year=year,
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


_TITLE_UNIT_RE = re.compile(
    r"^(?:关于)?(?P<unit>[\u4e00-\u9fff()（）]{2,30}?(?:局|委员会|委|人民法院|人民检察院|法院|检察院|学校|小学|中学|大学|学院|"
    r"特校|中心|站|办公室|办|所|联合会|协会|馆|队|部|厅|人民政府|政府|幼儿园|公司))"
    r"(?=\d{4}|关于|项目|部门|整体|本级)"
)
_TITLE_YEAR_RE = re.compile(r"(20\d{2})(?:\s*年|(?=项目|部门|预算|决算|中央|省级|市级|县级|区级))")
# a page title: 绩效目标表, 绩效自评表, 绩效评价指标表, 项目自评表, 自评结果 …
_PAGE_TITLE_RE = re.compile(r"绩效.{0,14}(?:表|报告|结果|公示|公开)|自评(?:表|结果|报告)|绩效评价")


def title_fields(title: str) -> tuple[str, int | None]:
    """(unit, year) a title names: 石嘴山市疾病预防控制中心2020年项目绩效目标批复表 -> (石嘴山市疾病预防控制中心, 2020)."""
    t = clean_cell(title)
    if not t:
        return "", None
    m = _TITLE_UNIT_RE.match(t)
    y = _TITLE_YEAR_RE.search(t)
    unit = m.group("unit") if m else ""
    if re.match(r"印发|下达|公布|公开|转发|批复|关于|对|做好|开展", unit):
        unit = ""  # 关于印发XX局…: a notice's wording, not the unit
    return unit, (int(y.group(1)) if y else None)


def page_title(rows: list[GridRow], first: int = 15) -> str:
    """The first title-like line of the page (one short cell naming a 绩效 table or report)."""
    for row in rows[:first]:
        ne = row.nonempty
        if len(ne) == 1 and len(ne[0][1].text) <= 60 and _PAGE_TITLE_RE.search(key(ne[0][1].text)):
            return ne[0][1].text
    return ""


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
    cells = _after_pending(b, [c for _, c in row.nonempty])
    if not cells:
        return
    texts = [c.text for c in cells]
    year = year_of(texts[0]) if len(texts) == 1 and len(texts[0]) <= 14 else None
    if year and b.year is None:
        b.year = year
        return
    body = _drop_block_labels(b, cells)
    texts = [c.text for c in body]
    if len(texts) == 1 and _is_known_key(texts[0]) and _key_of(texts[0]) not in vocab.GOAL_KEYS:
        b.pending_key = texts[0]
        return
    i = 0
    while i < len(texts):
        i += _read_field(b, row, file, body, i)


def _after_pending(b: _TableBuilder, cells: list[Cell]) -> list[Cell]:
    """One cell per line: a key (or 年度目标) on the previous line takes this line as its value.
    Returns the cells still to read (none when the line was the pending goal's text)."""
    if not cells:
        return cells
    if b.pending_key:
        pk, b.pending_key = b.pending_key, ""
        if len(cells) == 1 and not _is_known_key(cells[0].text):
            cells = [Cell(pk), *cells]
    if b.pending_goal:
        goal, b.pending_goal = b.pending_goal, ""
        if len(cells) == 1 and not _is_known_key(cells[0].text):
            b.goals.append((goal, cells[0].text))
            return []
    return cells


def _drop_block_labels(b: _TableBuilder, cells: list[Cell]) -> list[Cell]:
    """Without block labels such as 部门整体资金（万元） / 收入 / 支出 (which switch to expense lines)."""
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
    return body


# a header printed with single spaces can run the next field's label into an organisation's cell
# (主管部门 稷山县医疗保障局 项目资金 年初预算数 (万元)): the name ends before that label
_FIELD_LABELS = "|".join(sorted(vocab.UNIT_KEYS | vocab.IMPL_UNIT_KEYS | vocab.PROJECT_KEYS | vocab.SUPERVISOR_KEYS
                                | {"项目资金", "年初预算数", "全年预算数", "年度资金总额", "资金总额"}, key=len, reverse=True))
_NEXT_LABEL_RE = re.compile(r"\s+(?:" + _FIELD_LABELS + r")(?:\s|\(|（|$)")
# ... or, with the spaces lost, a tail made only of field labels and an amount unit
_LABEL_TAIL_RE = re.compile(r"(?:" + _FIELD_LABELS + r")(?:\s*(?:" + _FIELD_LABELS + r"|[(（]万?元[)）]))*\s*$")


def org_name(text: str) -> str:
    """An organisation as a header cell gives it, without a printed code (``[155]``, ``101-``)
    or the next field's label run into the cell."""
    text = _CODE_PREFIX_RE.sub("", (text or "").strip())
    m = _NEXT_LABEL_RE.search(text)
    if m:
        return text[: m.start()].strip()
    for t in _LABEL_TAIL_RE.finditer(text):
        if t.start() >= 2:
            return text[: t.start()].strip()
    return text


def _read_field(b: _TableBuilder, row: GridRow, file: str, body: list[Cell], i: int) -> int:
    """Read the field starting at cell ``i`` of a header row; return how many cells it took (≥ 1)."""
    texts = [c.text for c in body]
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
        return 1
    if k in vocab.GOAL_KEYS:
        if nxt:
            b.goals.append((vocab.GOAL_KEYS[k], nxt))
            return 2
        b.pending_goal = vocab.GOAL_KEYS[k]
        return 1
    if k in vocab.ORG_KEYS:
        return 2
    for keys, attr in _TEXT_FIELDS:
        if k in keys and nxt:
            setattr(b, attr, nxt)
            return 2
    return _read_amounts(b, row, file, body, i)


# key sets whose value is the next cell's text, and the builder field it fills
_TEXT_FIELDS = (
    (vocab.DUTY_KEYS, "duties"),
    (vocab.PROJECT_KEYS, "project"),
    (vocab.IMPL_UNIT_KEYS, "impl_unit"),
    (vocab.UNIT_KEYS, "unit"),
    (vocab.SUPERVISOR_KEYS, "supervisor"),
)


def _read_amounts(b: _TableBuilder, row: GridRow, file: str, body: list[Cell], i: int) -> int:
    """Budget fields at cell ``i``: 资金总额, funding sources, expense lines (name + one or two amounts)."""
    texts = [c.text for c in body]
    k = _key_of(texts[i])
    nums = [parse_number(t) for t in texts[i + 1 :]]
    first_num = next((n for n in nums if n is not None), None)
    if k in vocab.TOTAL_KEYS and first_num is not None:
        if b.total is None:
            b.total, b.total_source = first_num, row.source(file, body[i])
        return 1 + nums.index(first_num) + 1
    if k in vocab.EXPENSE_TOTAL_KEYS:
        b.in_expenses = True
        return 2 if first_num is not None else 1
    if k in vocab.FUNDING_KEYS and first_num is not None and not b.in_expenses:
        label = vocab.PREFIX_RE.sub("", clean_cell(texts[i]))
        if label != "小计":
            b.funding.append((label, first_num))
        return 1 + nums.index(first_num) + 1
    if parse_number(texts[i]) is None and first_num is not None and _looks_like_expense(b, texts, i):
        amounts: list[float] = []
        j = i + 1
        while j < len(texts) and (n := parse_number(texts[j])) is not None and len(amounts) < 2:
            amounts.append(n)
            j += 1
        if not amounts:
            return 1
        half, annual = (amounts[0], amounts[1]) if len(amounts) == 2 else (None, amounts[0])
        name = vocab.PREFIX_RE.sub("", clean_cell(texts[i]))
        b.expenses.append(ExpenseLine(name, half, annual, row.source(file, body[i])))
        return j - i
    return 1


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


def _one_cell(row: GridRow) -> str | None:
    ne = row.nonempty
    return ne[0][1].text if len(ne) == 1 else None


def _is_label_or_header(text: str) -> bool:
    return vocab.is_level1(text) or vocab.is_level2(text) or vocab.header_role(text) is not None


def join_wrapped_labels(rows: list[GridRow]) -> list[GridRow]:
    """One-cell lines that are the two halves of one label: ``社会效益`` / ``指标`` -> ``社会效益指标``."""
    out: list[GridRow] = []
    i = 0
    while i < len(rows):
        a = _one_cell(rows[i])
        b = _one_cell(rows[i + 1]) if i + 1 < len(rows) else None
        if a is not None and b is not None and len(a) <= 12 and len(b) <= 8:
            joined = a + b
            if _is_label_or_header(joined) and (not _is_label_or_header(a) or key(b) == "指标") and (
                not _is_label_or_header(b) or vocab.is_level2(joined)
            ):
                cell = rows[i].nonempty[0][1]
                out.append(GridRow((Cell(joined, cell.line, cell.bbox),), rows[i].page, rows[i].line, rows[i].bbox))
                i += 2
                continue
        out.append(rows[i])
        i += 1
    return out


def rebuild_single_cell_rows(rows: list[GridRow]) -> list[GridRow]:
    """Tables written one cell per line: rebuild table rows from the cell stream.

    A header appears as consecutive one-cell lines (一级指标 / 二级指标 / 三级指标 /
    指标值 …); the cells after it are read as rows by what each cell is: level labels
    open a row, free text is the indicator name, and the columns after the name in the
    header (operator, value, unit, weight …) take the following cells that fit them.
    Rows are rebuilt with their cells at the header's column positions.
    """
    if not rows:
        return rows
    rows = join_wrapped_labels(rows)
    out: list[GridRow] = []
    i = 0
    n = len(rows)
    while i < n:
        j = i
        header: list[Cell] = []
        while j < n and _one_cell(rows[j]) is not None and (
            vocab.header_role(_one_cell(rows[j]) or "") is not None or (header and _is_other_header(rows[j]))
            # one unreadable header cell (OCR) between header words
            or (len(header) >= 3 and j + 1 < n and len(_one_cell(rows[j]) or "") <= 8 and _is_other_header(rows[j + 1]))
        ):
            header.append(rows[j].nonempty[0][1])
            j += 1
        if not header and len(rows[i].nonempty) >= 3 and i + 1 < n and _one_cell(rows[i + 1]) is not None:
            # a header written on one line, its rows one cell per line
            from indexer.classify import is_header_word

            cells = [c for _, c in rows[i].nonempty]
            if all(is_header_word(c.text) for c in cells):
                header, j = cells, i + 1
        if not header and _headerless_stream_at(rows, i):
            # one cell per line with no header: level labels, name, value, then numbers (权重 …); the rows
            # get the header they imply so that the section reader sees the same columns
            line = rows[i].line
            out.append(GridRow(tuple(Cell(h, line) for h in ("一级指标", "二级指标", "三级指标", "指标值")), line=line))
            i = _stream_rows(rows, i, ["level1", "level2", "name", "value", None, None], out)
            continue
        roles = [vocab.header_role(c.text) for c in header]
        q = max((k for k, r in enumerate(roles) if r == "level1"), default=0)
        if q > 0 and len(header) - q >= 3:
            # two headers in one run (绩效指标 | 年度指标值 | … | 一级指标 | 二级指标 | 三级指标 | 指标值): the table's
            # own header starts at its 一级 column; the cells before it stay as they are
            out.append(GridRow(tuple(header[:q]), line=header[0].line))
            header, roles = header[q:], roles[q:]
        if (len(header) >= 3 and "name" in roles) or ({"level1", "level2"} <= set(roles) and len(header) >= 3):
            kept = [(c, r) for c, r in zip(header, roles)]
            if not {"value", "half"} & set(roles) and roles[-1] == "name":
                kept.append((Cell("指标值", header[-1].line), "value"))  # the value column's header is cut off
            out.append(GridRow(tuple(c for c, _ in kept), line=header[0].line))
            i = _stream_rows(rows, j, [r for _, r in kept], out, [c.text for c, _ in kept])
            continue
        out.append(rows[i])
        i += 1
    return out


def _value_kind(text: str) -> str:
    """``classify.kind`` of a value-like text; ``text`` for anything that does not look like a value."""
    from indexer import classify

    return classify.kind(text) if value_likeness(text) >= 0.5 else "text"


def _headerless_stream_at(rows: list[GridRow], i: int) -> bool:
    """One-cell rows from ``i``: 一级 label, 二级 label, a name, a value."""
    if i + 3 >= len(rows) or (i > 0 and _one_cell(rows[i - 1]) is not None and vocab.is_level2(_one_cell(rows[i - 1]) or "")):
        return False
    t = [_one_cell(rows[k]) for k in range(i, i + 4)]
    if any(x is None for x in t):
        return False
    a, b, name, value = (x or "" for x in t)
    if vocab.is_level2(a) and not vocab.is_level1(a):
        # a group opening with its 二级 label (the 一级 cell merged above): 二级, name, value
        a, b, name, value = "", a, b, name
    return (
        (vocab.is_level1(a) or not a) and (vocab.is_level2(b) or vocab.is_ambiguous_cost(b))
        and not (vocab.is_level1(name) or vocab.is_level2(name))
        and value_likeness(value) >= 0.5 and value_likeness(name) < 0.8
        and (bool(a) or _value_kind(value) == "value")  # without the 一级: only a full target value
    )


def _is_other_header(row: GridRow) -> bool:
    """A header cell without a role of ours (全年实际完成值, 未完成原因…): still part of the header run."""
    from indexer.classify import is_header_word

    t = _one_cell(row) or ""
    return is_header_word(t) and vocab.header_role(t) is None


def _fits(role: str | None, text: str) -> bool:
    from indexer import classify

    if role == "op":
        return classify.is_op(text) or key(text) in classify.DIRECTIONS or (
            classify.kind(text) == "value" and text.strip()[:1] in OP_SYMBOLS
        )
    if role == "unit":
        return classify.is_unit(text) or text.strip() in ("/", "-", "—")
    if role == "weight":
        return classify.is_number(text)
    if role == "value_type":  # 定量/定性, or the operator some templates print there
        return key(text) in classify.VALUE_TYPES or classify.is_op(text)
    if role in ("value", "half"):
        return not (vocab.is_level1(text) or vocab.is_level2(text))
    # other columns (实际完成值, 备注 …): values and numbers only, never a name
    return value_likeness(text) >= 0.5


def _is_trailing_note(rows: list[GridRow], i: int) -> bool:
    """Free text at ``i`` after a row's values: a note when what follows is not that text's own value
    (a name is followed by its value; a note by the next name or a level label)."""
    t = _one_cell(rows[i])
    if t is None or vocab.is_level1(t) or vocab.is_level2(t) or value_likeness(t) >= 0.5:
        return False
    nxt = _one_cell(rows[i + 1]) if i + 1 < len(rows) else None
    if nxt is None:
        return True
    if vocab.is_level1(nxt) or vocab.is_level2(nxt):
        return True
    from indexer import classify

    return value_likeness(nxt) < 0.5 and not classify.is_number(nxt)


def _numbers_follow(rows: list[GridRow], i: int, n: int) -> bool:
    """Exactly ``n`` (≥1) bare numbers follow row ``i``, then something that is not a number."""
    from indexer import classify

    if n < 1:
        return False
    k = i + 1
    while k < len(rows) and (t := _one_cell(rows[k])) is not None and classify.is_number(t):
        k += 1
    return k - i - 1 == n


def _wrapped_header_at(rows: list[GridRow], i: int) -> bool:
    """A form field label wrapped over two or three lines (偏差大或 / 目标未完成 / 原因分析): the table is over."""
    from indexer.classify import is_header_word

    parts: list[str] = []
    for k in range(i, min(i + 3, len(rows))):
        t = _one_cell(rows[k])
        if t is None or len(t) > 8 or vocab.is_level1(t) or vocab.is_level2(t) or not re.match(r"[\u4e00-\u9fff]", t):
            return False
        parts.append(t)
        if k > i and is_header_word("".join(parts)) and not is_header_word(parts[0]):
            log.debug("wrapped header at %s: %s", rows[i].line, parts)
            return True
    return False


def _scoring_rule_ahead(rows: list[GridRow], i: int, line: int | None) -> bool:
    """A scoring rule (得10分,每减少…) follows cell ``i`` on the same source line before any level label:
    the cells up to it belong to one table row."""
    from indexer import classify

    k = i
    while k < len(rows) and line is not None and rows[k].line == line and (t := _one_cell(rows[k])) is not None:
        if vocab.is_level1(t) or vocab.is_level2(t):
            return False
        if classify.is_explanation(t) or classify.SCORING_RE.match(key(t)):
            return True
        k += 1
    return False


def _opens_row(rows: list[GridRow], i: int, tail: list[tuple[int, str | None]]) -> bool:
    """Cell ``i`` is a name: text followed by what the column right after the name holds (a unit or an
    operator column)."""
    from indexer import classify

    t = _one_cell(rows[i])
    first = tail[0][1] if tail else None
    if t is None or first not in ("unit", "op", "weight") or i + 1 >= len(rows) or classify.kind(t) not in ("text", "qual"):
        return False
    nxt = _one_cell(rows[i + 1])
    if nxt is None:
        return False
    if first == "weight":  # 名称 | 权重 | 指标值: a number, then a value
        second = tail[1][1] if len(tail) > 1 else None
        nxt2 = _one_cell(rows[i + 2]) if i + 2 < len(rows) else None
        return classify.is_number(nxt) and second in ("value", "half") and nxt2 is not None and (
            classify.kind(nxt2) == "value"
        )
    return classify.is_unit(nxt) if first == "unit" else classify.is_op(nxt)


def _stream_rows(
    rows: list[GridRow], i: int, roles: list[str | None], out: list[GridRow], names: list[str] | None = None
) -> int:
    from indexer import classify

    width = len(roles)
    names = names or [""] * width
    # columns holding numbers (分值, 得分, 权重): a text cell just before exactly that many numbers is the
    # row's own cell (实际完成值 written as text), not the next row's name
    numeric_cols = {k for k, r in enumerate(roles) if r == "weight" or re.search(r"分", key(names[k]))}
    pos = {r: k for k, r in enumerate(roles) if r is not None}
    name_at = pos.get("name", max((pos.get(r, -1) for r in ("level1", "level2", "task")), default=-1) + 1)
    tail = [(k, roles[k]) for k in range(name_at + 1, width)]

    def emit(cells: dict[int, Cell], line: int | None) -> None:
        out.append(GridRow(tuple(cells.get(k, Cell("")) for k in range(max(width, name_at + 1))), line=line))

    while i < len(rows):
        t = _one_cell(rows[i])
        if t is not None and (vocab.is_weak_name_header(t) or re.fullmatch(r"\d{1,2}、", t)) and i + 1 < len(rows):
            i += 1  # a merged caption (绩效指标) or a page's numbering (3、) between rows
            continue
        if t is None or is_title(rows[i]) or _is_section_end(rows[i]) or vocab.header_role(t) == "name":
            break
        from_cell = rows[i].nonempty[0][1]
        if classify.is_clutter(t):
            i += 1
            continue
        if classify.is_end(t) or _wrapped_header_at(rows, i):
            break
        cells: dict[int, Cell] = {}
        line = rows[i].line
        if "seq" in pos and pos["seq"] < name_at and classify.is_number(t):
            i += 1  # the 序号 column
            continue
        # level labels
        while i < len(rows) and (t := _one_cell(rows[i])) is not None and (vocab.is_level1(t) or vocab.is_level2(t)):
            c = rows[i].nonempty[0][1]
            l1_at, l2_at = pos.get("level1"), pos.get("level2")
            if vocab.is_ambiguous_cost(t) and l2_at is not None and l2_at not in cells:
                nxt = _one_cell(rows[i + 1]) if i + 1 < len(rows) else None
                if not (nxt and vocab.is_level2(nxt) and not vocab.is_ambiguous_cost(nxt)):
                    cells[l2_at] = c  # 成本指标 as a 二级 label (under 产出)
                    i += 1
                    continue
            if vocab.is_level1(t) and not vocab.is_level2(t) and l1_at is not None and l1_at not in cells and (
                l2_at is None or l2_at not in cells
            ):
                cells[l1_at] = c
            elif l2_at is not None and l2_at not in cells:
                cells[l2_at] = c
            elif l1_at is not None and l1_at not in cells:
                cells[l1_at] = c
            elif l2_at is not None and vocab.is_level2(t) and not vocab.is_level1(t) and i + 1 < len(rows) and (
                (nxt := _one_cell(rows[i + 1])) is not None and value_likeness(nxt) < 0.5
            ):
                cells[l2_at] = c  # 经济效益指标 then 社会效益指标 then a name: the first 二级 group has no rows
            else:
                break
            i += 1
        if i >= len(rows) or (t := _one_cell(rows[i])) is None or is_title(rows[i]) or _is_section_end(rows[i]):
            if cells:
                emit(cells, line)
            break
        if classify.is_end(t):
            if cells:
                emit(cells, line)
            break
        from_cell = rows[i].nonempty[0][1]
        if not cells and (classify.kind(t) in ("num", "value") or key(t) in ("是", "否")):
            i += 1  # a stray number, value or yes/no (a column the header does not name): no row starts with it
            continue
        cells[name_at] = from_cell
        i += 1
        got_value = False
        for k, role in tail:
            if i >= len(rows):
                break
            t = _one_cell(rows[i])
            if t is None or classify.is_end(t) or vocab.is_level1(t) or vocab.is_level2(t):
                break
            if role is None and _scoring_rule_ahead(rows, i, line):
                i += 1  # a column before this row's scoring rule (指标值内容 …), on the row's own line
                continue
            if role is None and _opens_row(rows, i, tail):
                break  # the next row's name (its unit column follows it), not a column of this row
            if not _fits(role, t) and role in ("desc", "score", "remark") and i + 1 < len(rows) and (
                (nxt := _one_cell(rows[i + 1])) is not None and (classify.is_op(nxt) or value_likeness(nxt) >= 0.8)
            ):
                i += 1  # an explanation column (反映…) before the value columns
                continue
            if not _fits(role, t):
                if role not in ("value", "half", "op", "unit", "weight", "value_type") and (
                    _is_trailing_note(rows, i) or _numbers_follow(rows, i, sum(1 for c in numeric_cols if c > k))
                ):
                    i += 1  # a note in a trailing text column (未完成原因 …): the next row starts after it
                continue
            if role in ("value", "half"):
                got_value = True
            if role is not None:
                cells[k] = rows[i].nonempty[0][1]
            i += 1
        if not got_value and not any(k != name_at for k in cells):
            continue  # free text between rows (a reason, a note): not an indicator row
        emit(cells, line)
    return i


def _continues_value(prev: GridRow, row: GridRow) -> bool:
    """``row`` is one value cell and ``prev`` ends before its value (name, 指标性质 定性, 指标方向)."""
    from indexer import classify

    t = _one_cell(row)
    if t is None or len(prev.nonempty) < 2 or classify.is_number(t) or value_likeness(t) < 0.5:
        return False
    if vocab.is_level1(t) or vocab.is_level2(t) or classify.is_clutter(t) or classify.is_end(t):
        return False
    last = prev.nonempty[-1][1].text
    return classify.kind(last) in ("vtype", "dir", "text") and not any(
        classify.kind(c.text) in ("value", "qual") for _, c in prev.nonempty[1:]
    )


def _starts_project(row: GridRow) -> bool:
    ne = row.nonempty
    return len(ne) >= 2 and _key_of(ne[0][1].text) in vocab.PROJECT_KEYS


def _looks_like_indicator_row(row: GridRow) -> bool:
    """Level label(s), then a name, then a value: an indicator row even without a header above it."""
    texts = [c.text for _, c in row.nonempty]
    from indexer import classify

    if len(texts) >= 3 and classify.kind(texts[0]) == "text" and classify.is_op(texts[1]) and classify.is_number(texts[2]):
        return len(texts[0]) >= 2  # name | operator | number (a page that starts inside a table)
    i = 0
    while i < len(texts) and (vocab.is_level1(texts[i]) or vocab.is_level2(texts[i])):
        i += 1
    if i == 0 or i + 1 >= len(texts) or not (i >= 2 or any(vocab.is_level2(t) or vocab.is_ambiguous_cost(t) for t in texts[:i])):
        return False
    name, value = texts[i], texts[i + 1]
    if classify.is_op(value) and i + 2 < len(texts):
        value = texts[i + 2]
    return len(name) >= 2 and value_likeness(value) >= 0.5 and not _is_known_key(name)


def _is_header_continuation(row: GridRow) -> bool:
    """The second line of a two-line header (2021年实际实现值 | 预期2022年实现值)."""
    ne = row.nonempty
    return bool(ne) and all(vocab.header_role(c.text) is not None or _is_other_header(GridRow((c,))) for _, c in ne)


def _is_end_row(row: GridRow) -> bool:
    """Approval blocks and footnotes (财政部门审核意见 (盖章), 注:…): the table above is over."""
    from indexer import classify

    ne = row.nonempty
    return bool(ne) and (classify.is_end(ne[0][1].text) or (len(ne) <= 3 and any(
        re.match(r"^(?:金额)?单位\s*[:：]\s*(?:万元|元|亿元|千元)$", c.text) for _, c in ne
    )))


def _is_clutter_row(row: GridRow) -> bool:
    from indexer import classify

    ne = row.nonempty
    return bool(ne) and all(classify.is_clutter(c.text) for _, c in ne)


def split_header_and_data(rows: list[GridRow]) -> list[GridRow]:
    """A row holding a table's header and its first data row (web pages that lose the row breaks):
    ``… | 一级指标 | 二级指标 | 三级指标 | 指标值 | 产出指标 | 数量指标 | 学生受资助人数 | ≧ | 735 |`` is split
    before the header (what precedes it: goals, an earlier header) and after it (the data row)."""
    from indexer.classify import is_header_word

    out: list[GridRow] = []
    for row in rows:
        cells = list(row.cells)
        texts = [c.text for c in cells]
        starts = [k for k, t in enumerate(texts) if vocab.header_role(t) == "level1"]
        split = None
        for h0 in reversed(starts):
            h = h0
            while h + 1 < len(texts) and texts[h + 1] and is_header_word(texts[h + 1]):
                h += 1
            data = [t for t in texts[h + 1 :] if t]
            if h - h0 >= 2 and len(data) >= 3 and texts[h + 1] and (vocab.is_level1(texts[h + 1]) or vocab.is_level2(texts[h + 1])):
                split = (h0, h + 1)
                break
        if split is None or len(cells) < 6:
            out.append(row)
            continue
        h0, d0 = split
        for part in (cells[:h0], cells[h0:d0], cells[d0:]):
            if any(c.text for c in part):
                out.append(GridRow(tuple(part), row.page, row.line, row.bbox, row.in_table, row.sheet))
    return out


def parse_tables(rows: list[GridRow], file: str) -> list[Table]:
    rows = rebuild_single_cell_rows(split_header_and_data(rows))
    page = page_title(rows)
    tables: list[Table] = []
    builder: _TableBuilder | None = None
    cols: Columns | None = None
    section: list[GridRow] = []
    prev_row: GridRow | None = None

    def close_section() -> None:
        nonlocal section, cols, builder
        if builder is not None and cols is not None and section:
            groups = project_groups(section_rows(section, cols, file))
            for k, (project, found) in enumerate(groups):
                if k > 0 or (project and builder.project and builder.project != project and builder.rows):
                    # a later project in the same grid: its own table
                    tables.append(builder.build())
                    builder = _TableBuilder(
                        title=builder.title, source=found[0].source, year=builder.year, unit=builder.unit,
                        impl_unit=builder.impl_unit, supervisor=builder.supervisor, page_title=page,
                    )
                if project and not builder.project:
                    builder.project = project
                builder.rows.extend(found)
        section = []

    for row in rows:
        if is_title(row):
            close_section()
            cols = None
            if builder is not None:
                tables.append(builder.build())
            title = row.nonempty[0][1].text
            builder = _TableBuilder(title=title, source=row.source(file), year=year_of(title), page_title=page)
            if len(row.nonempty) > 1:
                builder.year = builder.year or year_of(row.nonempty[1][1].text)
            prev_row = row
            continue
        if builder is None:
            builder = _TableBuilder(title="", source=row.source(file), page_title=page)
        if (builder.rows or section) and builder.project and (cols is None or _is_section_end(row)) and _starts_project(row):
            # the next project's fields under the same title: a new table
            close_section()
            cols = None
            tables.append(builder.build())
            builder = _TableBuilder(title=builder.title, source=row.source(file), year=builder.year,
                                    unit=builder.unit, supervisor=builder.supervisor, page_title=page)
        hdr = header_columns(row, prev_row)
        if hdr is not None:
            close_section()
            cols = hdr
            prev_row = row
            continue
        if cols is not None:
            if _is_header_continuation(row):
                prev_row = row
                continue
            if _is_end_row(row):
                close_section()
                cols = None
                prev_row = row
                continue
            if _is_clutter_row(row):
                continue
            if _is_section_end(row):
                close_section()
                cols = None
                _head_row(builder, row, file)
            elif section and _continues_value(section[-1], row):
                # a value cell wrapped onto the next line (… 定性 / 长期): it belongs to the row above
                prev = section[-1]
                section[-1] = GridRow(prev.cells + row.cells, prev.page, prev.line, prev.bbox, prev.in_table)
            else:
                section.append(row)
        else:
            texts = " ".join(c.text for c in row.cells if c.text)
            if has_bracket_items(texts) or _looks_like_indicator_row(row):
                # no header: a row made of level labels, a name and a value opens an indicator section
                cols = Columns({"level1": 0, "level2": 1, "name": 2, "value": 3}, 4)
                section.append(row)
            else:
                _head_row(builder, row, file)
        prev_row = row
    close_section()
    if builder is not None:
        tables.append(builder.build())
    tables = [t for t in tables if t.rows or t.total_budget_wan is not None or t.goals or t.project]
    if not any(t.rows for t in tables):
        tables = _with_prose_rows(tables, rows, file)
    return tables


def _with_prose_rows(tables: list[Table], rows: list[GridRow], file: str) -> list[Table]:
    """No table found: read indicators written as lists or running text into the first table."""
    from indexer.prose import prose_rows

    found = prose_rows(rows, file)
    if not found:
        return tables
    out = [
        IndicatorRow(
            level1=p.level1, level2=p.level2, name=p.name, value=p.value, target=parse_target(p.value), source=p.source
        )
        for p in found
    ]
    if tables:
        return [replace(tables[0], rows=tuple(out)), *tables[1:]]
    title = next((r.nonempty[0][1].text for r in rows if is_title(r)), "")
    unit, year = title_fields(title)
    p_unit, p_year = title_fields(page_title(rows))
    return [Table(kind=table_kind(title), title=title, unit=unit or p_unit, year=year or p_year, source=out[0].source,
                  rows=tuple(out))]
