"""Indicator sections: grid rows under a 一级/二级/三级指标 header -> IndicatorRow.

Two passes:

1. ``parse_row`` reads one grid row into a ``RowParse``: which cells are
   level labels (by vocabulary: 产出指标, 数量指标 …; ``职能N:``; ``指标N:``),
   which are values (by ``value_likeness``), which is the indicator name, and
   which free-text cells are 二级/重点工作 labels.  Columns are found by their
   header names and by what cells contain, never by position alone, because
   text extracted from PDFs shifts cells left and right.
2. ``resolve_groups`` decides which group every row belongs to.  Merged
   (spanning) label cells appear only once per group and not always on the
   group's first row, so a label is attached to the contiguous block of rows
   around it, with these signals: hard boundaries (a new 核心职能, numbering
   restarting at 指标1), the standard indicator framework and keyword cues
   (a row between two labels goes to the label it fits), and carry-down as
   the tie-breaker.  一级 follows from the 二级 label's category
   (社会效益指标 -> 效益指标) where it is known.  A level that cannot be
   determined stays empty.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace

from indexer import classify, vocab
from indexer.grid import Cell, GridRow
from indexer.model import IndicatorRow, SourceRef
from indexer.normalize import key
from indexer.target import parse_target, value_likeness
from indexer.values.lexicon import standalone_operator_re

log = logging.getLogger(__name__)

_OP_ONLY_RE = standalone_operator_re()  # an operator cell, from the one lexicon
_UNIT_ONLY_RE = re.compile(
    r"^(?:%|％|次|人|人次|万人次|名|个|所|套|节|天|小时|期|场|份|条|台|项|篇|家|户|月|年|元|万元|亿元|TB|GB|"
    r"平方米|公里|千米|米|吨|册|本|门|课时|学时|元/人|元/学年|元/生|分|批|辆|座|间|张|件|处|点|盏|亩|km|%)$"
)
_VALUE_TYPE_RE = re.compile(r"^(?:定量|定性|定量指标|定性指标)$")
_BRACKET_RE = re.compile(
    r"【\s*([^】\-－—]+?)\s*[-－—]+\s*([^】]+?)\s*】\s*(?:指标\s*\d+\s*[:：])?\s*([^【（(]+?)\s*[（(]\s*([^）)]*)\s*[）)]"
)

VALUE_THRESHOLD = 0.5


@dataclass(frozen=True)
class Columns:
    """Column roles of an indicator header row: role -> cell index."""

    roles: dict[str, int]
    width: int

    @property
    def n_values(self) -> int:
        return 2 if "half" in self.roles else 1

    def label_roles(self) -> list[str]:
        return [r for r in vocab.LEVEL_ROLES if r in self.roles]


@dataclass
class RowParse:
    grid: GridRow
    project: str = ""  # several projects in one grid: the 项目名称 cell of a project's first row
    function: str = ""
    l1: str = ""
    l2: str = ""
    l2_next: str = ""  # a second 二级 label on the same line: it belongs to the next group
    task: str = ""
    ix: int | None = None
    name: str = ""
    name_cell: Cell | None = None
    half: str = ""
    value: str = ""
    op_hint: str = ""
    unit_hint: str = ""
    extras: dict[str, str] = field(default_factory=dict)
    # resolved by resolve_groups / resolve_explicit (pass 2): the labels the row ends up with
    r_function: str = ""
    r_l1: str = ""
    r_l2: str = ""
    r_task: str = ""
    l1_carry: str = ""  # free-text 一级 carried down within a function group

    @property
    def is_indicator(self) -> bool:
        return bool(self.name)


def header_columns(row: GridRow, previous: GridRow | None = None) -> Columns | None:
    """Column roles if ``row`` is an indicator header row, else None."""
    roles: dict[str, int] = {}
    weak_name: int | None = None
    weak_value: int | None = None
    for i, cell in enumerate(row.cells):
        role = vocab.header_role(cell.text) if cell.text else None
        if role == "name" and vocab.is_weak_name_header(cell.text):
            weak_name = i if weak_name is None else weak_name
            continue
        if role == "value" and vocab.is_weak_value_header(cell.text):
            weak_value = i if weak_value is None else weak_value
            continue
        if role and role not in roles:
            roles[role] = i
    if weak_name is not None and "name" not in roles and weak_name > max(
        (roles.get(r, -1) for r in ("level1", "level2", "task")), default=-1
    ):
        roles["name"] = weak_name  # 绩效指标 names the indicator column only after the level columns
    if weak_value is not None:
        if "value" in roles:
            roles.setdefault("desc", weak_value)  # 绩效标准 beside a 指标值 column: the kind of standard
        else:
            roles["value"] = weak_value
    if "name" not in roles and not ({"level1", "level2"} <= roles.keys()):
        return None
    if "value_type" in roles and "name" in roles and not roles.keys() & {"level1", "level2"} and (
        roles["value_type"] < roles["name"]
    ):
        # 指标类型 left of the name and no level column: the kind of indicator (产出指标 …) is the 一级 level
        roles["level1"] = roles.pop("value_type")
    if "value" not in roles and "half" not in roles and "level2" not in roles:
        return None
    if previous is not None:  # two-line headers: 核心职能 above an empty cell
        for i, cell in enumerate(previous.cells):
            role = vocab.header_role(cell.text) if cell.text else None
            if role == "function" and "function" not in roles:
                if i >= len(row.cells) or not row.cells[i].text:
                    roles["function"] = i
    # other header words (实施进度, 实际完成值 …): columns of their own that no value is read from
    for i, cell in enumerate(row.cells):
        if cell.text and i not in roles.values() and classify.is_header_word(cell.text) and i > roles.get("name", -1):
            roles[f"other:{i}"] = i
    if "name" not in roles:
        # 三级 column missing from the header (seen in extracted text): it sits after the last level column
        last = max(roles.get(r, -1) for r in ("level1", "level2", "task"))
        roles["name"] = last + 1
    return Columns(roles, max(len(row.cells), max(roles.values()) + 1))


def is_header_row(row: GridRow) -> bool:
    return header_columns(row) is not None


# -- pass 1: one row -----------------------------------------------------------


def _strip_index(cells: list[Cell]) -> tuple[list[Cell], int | None]:
    """Remove a bare ``指标N:`` cell (004 style) and return its number."""
    out: list[Cell] = []
    ix: int | None = None
    for c in cells:
        m = vocab.INDEX_RE.match(key(c.text)) if c.text else None
        if m and not m.group(2) and ix is None:
            ix = int(m.group(1))
            continue
        out.append(c)
    return out, ix


def _positional(cells: list[Cell], cols: Columns) -> RowParse | None:
    """Read the row by header positions; None when the content does not fit."""
    texts = [c.text for c in cells]
    if len(texts) > cols.width and any(texts[cols.width :]):
        return None
    covered = set(cols.roles.values())
    if any(t for i, t in enumerate(texts) if i not in covered):
        return None

    def at(role: str) -> str:
        i = cols.roles.get(role)
        return texts[i] if i is not None and i < len(texts) else ""

    name = at("name")
    has_levels = bool(cols.label_roles())
    if not name or value_likeness(name) >= 0.8:
        return None
    # a table with a 一级 column and no 二级 column names its indicators 数量指标, 社会效益指标 …
    l2_as_name = "level2" not in cols.roles and vocab.is_level2(name) and not vocab.is_level1(name)
    if has_levels and (vocab.is_level1(name) or vocab.is_level2(name)) and not l2_as_name:
        # a label word as the name (服务对象满意度 under 效益/满意度指标; 成本 under 成本指标) only under a
        # filled 二级 cell and before a value
        if not (at("level2") and at("value") and value_likeness(at("value")) >= 0.8):
            return None
    if classify.is_explanation(at("value")) or classify.is_explanation(name):
        return None  # a scoring rule or an explanation where the value or name should be: the row is shifted
    same = bool(at("value")) and at("value") == at("half")
    for role in ("value", "half"):
        v = at(role)
        if same and not (vocab.is_level1(v) or vocab.is_level2(v)):
            continue
        if v and (vocab.is_level1(v) or vocab.is_level2(v) or value_likeness(v) < VALUE_THRESHOLD):
            if role == "half" or value_likeness(v) < 0.3:
                return None
    l1, l2 = at("level1"), at("level2")
    if l1 and (vocab.is_level2(l1) and not vocab.is_ambiguous_cost(l1)):
        return None
    nested = bool(l1 and l2) and vocab.is_level1(l1) and vocab.level1_category(l1) != vocab.level1_category(l2)
    if l2 and vocab.is_level1(l2) and not vocab.is_ambiguous_cost(l2) and not nested and (
        l1 or "level1" not in cols.roles
    ):
        # an 一级 word in the 二级 column is a 二级 label only when the 一级 cell is merged/empty
        return None
    for role in vocab.LEVEL_ROLES:
        if at(role) and value_likeness(at(role)) >= 0.8:
            return None
    fn = at("function")
    p = RowParse(grid=GridRow(()), function=fn, l1=l1, l2=l2, task=at("task"), name=name)
    p.name_cell = cells[cols.roles["name"]]
    p.value, p.half = at("value"), at("half")
    if not p.value and p.half and "value" not in cols.roles:
        p.value, p.half = p.half, ""

    p.op_hint, p.unit_hint = at("op"), at("unit")
    if p.op_hint and not p.value and classify.kind(p.op_hint) == "value":
        p.value, p.op_hint = p.op_hint, ""  # a whole target value in the operator column (≤100%)
    if p.op_hint and not classify.is_op(p.op_hint):
        p.extras["指标方向"] = p.op_hint  # 正向/反向 in a 指标方向 column: not an operator
        p.op_hint = ""
    for role, label in vocab.EXTRA_ROLE_NAMES.items():
        if at(role):
            if role == "value_type" and not p.op_hint and classify.is_op(at(role)):
                p.op_hint = at(role)  # an operator in a 指标性质 column is part of the value
                continue
            if role == "value_type" and not p.value and key(at(role)) not in classify.VALUE_TYPES and (
                value_likeness(at(role)) >= 0.5
            ):
                p.value = at(role)  # the value written one column early (the row is short of a cell)
                continue
            p.extras[label] = at(role)
    return p


def _right_aligned(cells: list[Cell], cols: Columns) -> RowParse | None:
    """A row short of its leading level cells (merged, printed only on the group's first row): read it
    by header positions with its cells moved right, when only level columns are left out."""
    n = len(cells)
    while n and not cells[n - 1].text:
        n -= 1
    shift = cols.width - n
    if n < 2 or shift <= 0 or cols.roles.keys() & {"function", "task"}:
        return None
    skipped = {i for i in range(shift)}
    roles_at = {i: r for r, i in cols.roles.items()}
    if any(roles_at.get(i) not in vocab.LEVEL_ROLES for i in skipped) or not any(i in roles_at for i in skipped):
        return None
    if vocab.is_level1(cells[0].text) and not (vocab.is_level2(cells[0].text) or vocab.is_ambiguous_cost(cells[0].text)):
        return None  # the row does start with its 一级 label
    return _positional([Cell("")] * shift + cells[:n], cols)


def _later_group(cells: list[Cell]) -> list[Cell]:
    """Two column groups side by side (中期目标 | 年度目标), the same indicator in both: keep the later
    (年度) group, with the cells both groups share on the left (the 一级 label)."""
    ne = [c for c in cells if c.text]
    n = len(ne)
    for i in range(n):
        t = ne[i].text
        if value_likeness(t) >= 0.5 or vocab.is_level1(t) or vocab.is_level2(t):
            continue
        j = next((k for k in range(i + 2, n) if ne[k].text == t), None)
        if j is None:
            continue
        m = 2 * j - i - n  # label cells before the name in each group (both groups equally wide)
        if m < 0 or i - m < 0 or j - m <= i:
            return cells
        return ne[: i - m] + ne[j - m :]
    return cells


def _classify_labels(cells: list[Cell], p: RowParse, cost_is_l1: bool) -> list[Cell]:
    """Take vocabulary labels out of ``cells``; return the free (unclassified) cells."""
    free: list[Cell] = []
    vocab_cells = [c for c in cells if c.text and (vocab.is_level1(c.text) or vocab.is_level2(c.text))]
    n_l2 = sum(1 for c in vocab_cells if vocab.is_level2(c.text) and not vocab.is_ambiguous_cost(c.text))
    for c in cells:
        t = c.text
        if not t:
            continue
        fm = vocab.FUNCTION_RE.match(key(t))
        if fm and not p.function:
            p.function = t
            continue
        im = vocab.INDEX_RE.match(key(t))
        if im and im.group(2) and p.ix is None and not vocab.INDEX_RE.match(im.group(2)):
            p.ix = int(im.group(1))
            t = re.sub(r"^指标\s*\d+\s*[:：]\s*", "", t)
            c = Cell(t, c.line, c.bbox, c.filled)
        if vocab.is_ambiguous_cost(t):
            # 成本指标: 一级 when a cost 二级 label follows or the section uses them, else 二级 under 产出
            as_l1 = cost_is_l1 or n_l2 > 0 and not p.l1
            if as_l1 and not p.l1:
                p.l1 = t
            elif not p.l2:
                p.l2 = t
            else:
                p.l2_next = p.l2_next or t
            continue
        if vocab.is_level1(t) and not p.l1 and not p.l2:
            p.l1 = t
            continue
        if vocab.is_level2(t):
            if not p.l2:
                p.l2 = t
            elif not p.l2_next:
                p.l2_next = t
            continue
        if vocab.is_level1(t) and not p.l1:
            p.l1 = t
            continue
        free.append(c)
    return free


def _hint_cells(free: list[Cell], p: RowParse, cols: Columns) -> list[Cell]:
    """Operator / unit / value-type cells of provinces that split them into columns."""
    out: list[Cell] = []
    for c in free:
        k = key(c.text)
        if "op" in cols.roles and not p.op_hint and _OP_ONLY_RE.match(k):
            p.op_hint = c.text
        elif "unit" in cols.roles and not p.unit_hint and _UNIT_ONLY_RE.match(c.text.strip()):
            p.unit_hint = c.text
        elif "value_type" in cols.roles and _VALUE_TYPE_RE.match(k):
            p.extras["指标值类型"] = c.text
        else:
            out.append(c)
    return out


def _drop_leading_fields(cells: list[Cell], p: RowParse, cols: Columns | None = None) -> list[Cell]:
    """Several projects in one grid: a project's first row starts with its own fields (项目名称, 单位,
    预算, 年度目标 …) before the level labels; they are not part of the indicator."""
    label_at = [i for i, c in enumerate(cells) if c.text and (vocab.is_level1(c.text) or vocab.is_level2(c.text)
                                                               or vocab.is_ambiguous_cost(c.text))]
    if not label_at:
        return cells
    first = label_at[0]
    before = [c for c in cells[:first] if c.text]
    after = [c for c in cells[label_at[-1] + 1 :] if c.text]
    if len(before) >= 2 and len(after) >= 2:
        at = cols.roles.get("project") if cols is not None else None
        if at is not None and at < first and cells[at].text:
            p.project = cells[at].text
        return cells[first:]
    return cells


def parse_row(row: GridRow, cols: Columns, cost_is_l1: bool = False) -> RowParse:
    cells, ix = _strip_index(list(row.cells))
    has_vocab_misplaced = False
    pos = _positional(cells, cols) or _right_aligned(cells, cols)
    if pos is not None:
        # vocabulary cells must sit in their own columns for a positional read
        fn = pos.function
        if fn and not vocab.FUNCTION_RE.match(key(fn)) and (vocab.is_level1(fn) or vocab.is_level2(fn)):
            has_vocab_misplaced = True
    if pos is not None and not has_vocab_misplaced:
        pos.grid, pos.ix = row, ix
        im = vocab.INDEX_RE.match(key(pos.name))
        if im and im.group(2):
            pos.ix = pos.ix or int(im.group(1))
            pos.name = re.sub(r"^指标\s*\d+\s*[:：]\s*", "", pos.name)
        if vocab.is_ambiguous_cost(pos.l1) and not cost_is_l1 and not pos.l2:
            pos.l1, pos.l2 = "", pos.l1
        return pos

    p = RowParse(grid=row, ix=ix)
    cells = _later_group(cells)
    if cols.label_roles() and not ({"function", "task"} & cols.roles.keys()):
        cells = _drop_leading_fields(cells, p, cols)
    if cols.label_roles():
        free = _classify_labels(cells, p, cost_is_l1)
    else:  # no level columns: nothing is a level label (服务对象满意度 is then an indicator name) …
        free = [c for c in cells if c.text]
        lead = 0
        while lead < len(free) and (vocab.is_level1(free[lead].text) or vocab.is_level2(free[lead].text)):
            lead += 1
        if 0 < lead < len(free) - 1 and _is_name(free[lead].text) and value_likeness(free[lead].text) < 0.5:
            # … unless labels open the row and a name follows them (质量指标 | 建档立卡学生全面覆盖 | 100%)
            free = _classify_labels(free[:lead], p, cost_is_l1) + free[lead:]
    free = _hint_cells(free, p, cols)
    _split_free(free, p, cols)
    return p


def _split_name_first(free: list[Cell], p: RowParse, cols: Columns) -> bool:
    """Rows with more cells after the value (实际完成值, 分值, 得分, 权重, 方向 …): the name comes first
    and the value is the first value cell after it; what follows is kept out of the value."""

    k = len(free)
    if k < 3 or "task" in cols.roles or "function" in cols.roles:
        return False
    def value_kind(c: Cell) -> bool:
        return classify.kind(c.text) in ("value", "num", "qual", "op") or value_likeness(c.text) >= 0.8

    # with both level labels taken, a label word left over is the name (满意度 under 服务对象满意度指标)
    name_kinds = ("text", "l1", "l2") if p.l1 and p.l2 else ("text",)
    name_i = next(
        (i for i, c in enumerate(free) if classify.kind(c.text) in name_kinds and value_likeness(c.text) < 0.5), None
    )
    if name_i is None:  # a short name (其中露天蔬菜) looks like a value by itself: the cell after it decides
        name_i = next(
            (i for i in range(k - 1) if classify.kind(free[i].text) in name_kinds and value_kind(free[i + 1])), None
        )
    if name_i is None or name_i + 2 >= k:
        return False
    after = free[name_i + 1 :]
    weight_first = "weight" in cols.roles and cols.roles["weight"] < cols.roles.get("value", cols.roles.get("half", 99))
    extras: dict[str, str] = {}
    while after and (key(after[0].text) in classify.DIRECTIONS | classify.VALUE_TYPES or classify.is_restatement(after[0].text)):
        k = key(after[0].text)
        label = "指标方向" if k in classify.DIRECTIONS else "指标值类型" if k in classify.VALUE_TYPES else "指标解释"
        extras[label] = after.pop(0).text
    if weight_first and len(after) >= 2 and classify.is_number(after[0].text):
        extras["权重"] = after.pop(0).text
    op = ""
    if len(after) >= 2 and classify.is_op(after[0].text) and value_likeness(after[1].text) >= 0.5:
        op = after.pop(0).text  # operator, number and unit in columns of their own
    if not after or value_likeness(after[0].text) < 0.5:
        return False
    unit = ""
    if op and len(after) >= 2 and classify.is_unit(after[1].text) and classify.is_number(after[0].text):
        unit = after.pop(1).text
    # every cell after the value must be a value, a number or a short note: otherwise this is not the shape
    rest = after[2:] if cols.n_values == 2 else after[1:]
    if op and not rest:
        rest = [Cell("")]
    # strong evidence of the shape (operator column, 定性/正向 column, a full value): the cells after it are
    # other columns (指标解释 …) whatever they hold
    strong = bool(op or extras or p.extras or p.op_hint) or classify.kind(after[0].text) == "value"
    if not (strong or rest and all(
        value_likeness(c.text) >= 0.5 or classify.is_number(c.text) or classify.is_unit(c.text) or not c.text
        or classify.is_explanation(c.text)
        for c in rest[:3]
    )):
        return False
    if op:
        p.op_hint = p.op_hint or op
        p.unit_hint = p.unit_hint or unit
    if cols.n_values == 2 and len(after) >= 2 and value_likeness(after[1].text) >= 0.5:
        p.half, p.value = after[0].text, after[1].text
    else:
        p.value = after[0].text
    nxt = rest[0].text if rest else ""
    if not op and "unit" in cols.roles and not p.unit_hint and classify.is_unit(nxt) and not re.search(r"[^\d.,%]$", p.value):
        p.unit_hint = nxt
    p.extras.update(extras)
    p.name_cell = free[name_i]
    p.name = free[name_i].text
    labels = free[:name_i]
    open_roles = [r for r in cols.label_roles() if not getattr(p, _ATTR[r])]
    for role, cell in zip(open_roles[max(0, len(open_roles) - len(labels)) :], labels[-len(open_roles) :] if open_roles else []):
        setattr(p, _ATTR[role], cell.text)
    return True


def _split_free(free: list[Cell], p: RowParse, cols: Columns) -> None:
    """Assign the free cells: trailing values, then the name, then free-text labels."""
    k = len(free)
    if k == 0:
        return
    if _split_name_first(free, p, cols):
        return
    vals: list[Cell] = []
    if k == 1:
        if value_likeness(free[0].text) >= 0.8:
            vals = [free[0]]
    elif k >= 3 and cols.n_values == 2 and free[-1].text == free[-2].text:
        vals = [free[-2], free[-1]]  # half-year and full-year value written alike: both values
    elif value_likeness(free[-1].text) >= 0.35 or "task" not in cols.roles:
        # without a free-text label column (重点工作) the cell after the name can only be its value
        vals.append(free[-1])
        if cols.n_values == 2 and k >= 3 and value_likeness(free[-2].text) >= VALUE_THRESHOLD:
            vals.insert(0, free[-2])
    rest = free[: k - len(vals)]
    if vals:
        if len(vals) == 2:
            p.half, p.value = vals[0].text, vals[1].text
        else:
            p.value = vals[0].text
    if not rest:
        return
    p.name_cell = rest[-1]
    p.name = rest[-1].text
    # a repeated name or a value among the cells before the name (side-by-side tables) is no label
    labels = [c for c in rest[:-1] if key(c.text) != key(p.name) and value_likeness(c.text) < 0.8]
    if not labels:
        return
    open_roles = [r for r in cols.label_roles() if not getattr(p, _ATTR[r])]
    if not open_roles:
        open_roles = ["task"] if "task" in cols.roles else ["level2"]
    # right-align free labels against the open label roles (merged cells sit on the left)
    while len(labels) > len(open_roles):
        merged = Cell(labels[0].text + labels[1].text, labels[0].line, labels[0].bbox)
        labels = [merged, *labels[2:]]
    for role, cell in zip(open_roles[len(open_roles) - len(labels) :], labels):
        setattr(p, _ATTR[role], cell.text)


_ATTR = {"function": "function", "level1": "l1", "level2": "l2", "task": "task"}


def parse_bracket_line(text: str) -> list[tuple[str, str, int | None, str, str]]:
    """``【产出指标-数量指标】指标1:机柜数量(≥77台)`` -> [(l1, l2, ix, name, value)]."""
    out = []
    for m in _BRACKET_RE.finditer(text):
        head = re.search(r"指标\s*(\d+)\s*[:：]", text[m.start() : m.end()])
        out.append((m.group(1).strip(), m.group(2).strip(), int(head.group(1)) if head else None,
                    m.group(3).strip(), m.group(4).strip()))
    return out


def has_bracket_items(text: str) -> bool:
    return bool(_BRACKET_RE.search(text))


# -- pass 2: groups ------------------------------------------------------------


def _cue_score(name: str, label: str) -> float:
    """How well an indicator name fits a 二级 label (positive = fits)."""
    if not name or not label:
        return 0.0
    nk, lk = key(name), key(label)
    std = vocab.STANDARD_L2.get(nk)
    score = 0.0
    if std is not None and lk in {key(v) for v in vocab.STANDARD_L2.values()}:
        score += 3.0 if std == lk else -3.0
    cue = vocab.L2_CUES.get(lk if lk.endswith("指标") else lk + "指标")
    if cue is not None and cue.search(nk):
        score += 1.0
    core = lk.removesuffix("指标")
    bigrams = {core[i : i + 2] for i in range(len(core) - 1)}
    score += 0.5 * min(2, sum(1 for b in bigrams if b in nk))
    return score


CARRY_PRIOR = 0.6


def _segment_between(rows: list[RowParse], lo: int, hi: int, prev_label: str, next_label: str) -> int:
    """Rows lo..hi-1 lie between a label above and a label at row hi.

    Return the first index that belongs to the lower label (lo..hi).
    """
    best_b, best = hi, float("-inf")
    for b in range(lo, hi + 1):
        s = 0.0
        for i in range(lo, b):
            s += _cue_score(rows[i].name, prev_label) + CARRY_PRIOR
        for i in range(b, hi):
            s += _cue_score(rows[i].name, next_label)
        if s > best + 1e-9:
            best, best_b = s, b
    return best_b


def _blocks(rows: list[RowParse], start: int, end: int) -> list[tuple[int, int]]:
    """Split rows[start:end] at numbering restarts (指标1 after 指标N)."""
    cuts = [start]
    prev_ix: int | None = None
    for i in range(start, end):
        ix = rows[i].ix
        if i > start and ix is not None and prev_ix is not None and ix <= prev_ix and ix == 1:
            cuts.append(i)
        if ix is not None:
            prev_ix = ix
    cuts.append(end)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _is_vocab_l2(label: str) -> bool:
    return vocab.is_level2(label) or vocab.is_ambiguous_cost(label)


def _assign_level2(rows: list[RowParse], start: int, end: int) -> None:
    """Set ``r_l2`` for rows[start:end] (one 核心职能 group)."""
    # a second 二级 label on a line belongs to the next row's group
    for i in range(start, end - 1):
        if rows[i].l2_next and not rows[i + 1].l2:
            rows[i + 1].l2 = rows[i].l2_next
    for a, b in _blocks(rows, start, end):
        labelled = [i for i in range(a, b) if rows[i].l2]
        if not labelled:
            for i in range(a, b):
                rows[i].r_l2 = ""
            continue
        first = labelled[0]
        # rows before the first label of a block belong to it (label printed mid-group)
        for i in range(a, first + 1):
            rows[i].r_l2 = rows[first].l2
        for p, q in zip(labelled, labelled[1:]):
            prev, nxt = rows[p].l2, rows[q].l2
            if key(prev) == key(nxt) or not (_is_vocab_l2(prev) and _is_vocab_l2(nxt)):
                cut = q  # same label repeated (filled merged cell) or free text: carry down
            else:
                cut = _segment_between(rows, p + 1, q, prev, nxt)
            for i in range(p + 1, q):
                rows[i].r_l2 = prev if i < cut else nxt
            rows[q].r_l2 = nxt
        for i in range(labelled[-1], b):
            rows[i].r_l2 = rows[labelled[-1]].l2


def _group_ranges(rows: list[RowParse], attr: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """Contiguous runs of equal resolved values of ``attr``."""
    out: list[tuple[int, int, str]] = []
    i = start
    while i < end:
        v = getattr(rows[i], attr)
        j = i + 1
        while j < end and getattr(rows[j], attr) == v:
            j += 1
        out.append((i, j, v))
        i = j
    return out


def _carry_labels(rows: list[RowParse], attr: str, out_attr: str, start: int, end: int) -> None:
    """Free-text labels: carry down; rows before the first label take it (label printed mid-group)."""
    current = ""
    first_label = next((getattr(rows[i], attr) for i in range(start, end) if getattr(rows[i], attr)), "")
    for i in range(start, end):
        v = getattr(rows[i], attr)
        if v:
            current = v
        setattr(rows[i], out_attr, current or first_label)


# 一级 categories of a target table; a carried 一级 of these belongs to its own rows, never to another category's
_TARGET_CATEGORIES = {"产出", "效益", "满意度", "成本"}


def _prints_category(category: str, rows: list[RowParse], start: int, end: int) -> bool:
    return any(rows[i].l1 and vocab.level1_category(rows[i].l1) == category for i in range(start, end))


def _level1_label_for(category: str, rows: list[RowParse], start: int, end: int, style_suffix: bool) -> str:
    """The 一级 label text this section uses for ``category``."""
    for i in range(start, end):
        if rows[i].l1 and vocab.level1_category(rows[i].l1) == category:
            return rows[i].l1
    return category + ("指标" if style_suffix else "")


def resolve_explicit(rows: list[RowParse]) -> None:
    """Grids whose merged cells were filled by the extractor (ruled PDFs, xlsx).

    Every row carries its own labels, so an empty label cell is genuinely empty:
    nothing is carried down.  一级 still follows a known 二级 category when its
    own cell is empty.
    """
    prev: RowParse | None = None
    for r in rows:
        if (
            prev is not None
            and r.grid.page is not None
            and prev.grid.page is not None
            and r.grid.page != prev.grid.page
            and not (r.function or r.l1 or r.l2 or r.task)
        ):
            # a one-row remainder of a merged label cut by the page break shows as an empty cell
            r.function, r.l1, r.l2, r.task = prev.function, prev.l1, prev.l2, prev.task
        prev = r
        r.r_function, r.r_l2, r.r_task = r.function, r.l2, r.task
        cat = vocab.level2_category(r.l2) if r.l2 else None
        if not r.l1 and cat:
            r.r_l1 = _level1_label_for(cat, rows, 0, len(rows), r.l2.endswith("指标"))
        else:
            r.r_l1 = r.l1


def resolve_groups(rows: list[RowParse]) -> None:
    """Set ``r_function``, ``r_l1``, ``r_l2``, ``r_task`` on every row of one section."""
    n = len(rows)
    _carry_labels(rows, "function", "r_function", 0, n)
    # function groups are hard boundaries for everything below
    for fa, fb, _fn in _group_ranges(rows, "r_function", 0, n):
        _assign_level2(rows, fa, fb)
        style_suffix = any(r.l1.endswith("指标") for r in rows[fa:fb] if r.l1) or any(
            r.l2.endswith("指标") for r in rows[fa:fb] if r.l2
        )
        # 一级: from the 二级 category where known
        cats: list[str | None] = []
        for i in range(fa, fb):
            l2 = rows[i].r_l2
            cat = vocab.level2_category(l2) if l2 else None
            if l2 and vocab.is_ambiguous_cost(l2):
                cat = "产出"  # 成本指标 as a 二级 label sits under 产出
            cats.append(cat)
        any_cat = any(cats)
        # free-text 一级 (e.g. 履职) carried within the function group
        _carry_labels(rows, "l1", "l1_carry", fa, fb)
        for off, i in enumerate(range(fa, fb)):
            cat = cats[off]
            if cat and rows[i].l1_carry and not _prints_category(cat, rows, fa, fb) and vocab.level1_category(
                rows[i].l1_carry
            ) not in _TARGET_CATEGORIES:
                # the section never prints this category's 一级: the 一级 printed above the row is the only word
                # for it (项目决策 over 数量指标, 项目年度绩效目标(定量指标) over 质量指标)
                rows[i].r_l1 = rows[i].l1_carry
            elif cat:
                rows[i].r_l1 = _level1_label_for(cat, rows, fa, fb, style_suffix)
            elif rows[i].r_l2 and not _is_vocab_l2(rows[i].r_l2):
                rows[i].r_l1 = rows[i].l1_carry
            elif not any_cat:
                rows[i].r_l1 = rows[i].l1_carry
            else:
                # unlabelled 二级 group: 一级 only when sandwiched between groups of one category
                above = next((cats[j - fa] for j in range(i - 1, fa - 1, -1) if cats[j - fa]), None)
                below = next((cats[j - fa] for j in range(i + 1, fb) if cats[j - fa]), None)
                rows[i].r_l1 = (
                    _level1_label_for(above, rows, fa, fb, style_suffix) if above and above == below else ""
                )
        # 重点工作: carried within each 二级 group
        for ga, gb, _l2 in _group_ranges(rows, "r_l2", fa, fb):
            _carry_labels(rows, "task", "r_task", ga, gb)


def section_rows(
    grid_rows: list[GridRow], cols: Columns, file: str
) -> list[IndicatorRow]:
    """Parse all grid rows of one indicator section."""
    cost_is_l1 = any(
        key(c.text).rstrip(":：") in vocab.COST_LEVEL2 for r in grid_rows for c in r.cells if c.text
    )
    parsed: list[RowParse] = []
    for g in grid_rows:
        texts = " ".join(c.text for c in g.cells if c.text)
        if has_bracket_items(texts):
            for l1, l2, _ix, name, value in parse_bracket_line(texts):
                p = RowParse(grid=g, l1=l1, l2=l2, ix=None, name=name, value=value)
                p.name_cell = next((c for c in g.cells if name in c.text), g.cells[0])
                parsed.append(p)
            continue
        parsed.append(parse_row(g, cols, cost_is_l1))
    if not parsed:
        return []
    if any(c.filled for g in grid_rows for c in g.cells):
        resolve_explicit(parsed)
    else:
        resolve_groups(parsed)
    rows = [p for p in parsed if p.is_indicator and _is_name(p.name)]
    for p in rows:
        if p.value and classify.kind(p.value) == "header":
            p.value = ""  # a column word (指标值) caught as a value: no value
    # text after the table's last row (page footers, 公示期, a cut-off cell): no value, no labels of its own
    if any(p.value.strip() for p in rows):
        while len(rows) > 1 and not (rows[-1].value.strip() or rows[-1].half.strip()) and (
            not (rows[-1].l1 or rows[-1].l2) or len(rows[-1].grid.nonempty) == 1
        ):
            rows.pop()
    return [_to_indicator(p, file) for p in rows]


PROJECT_EXTRA = "项目名称"


def project_groups(rows: list[IndicatorRow]) -> list[tuple[str, list[IndicatorRow]]]:
    """Split a section's rows where a new project starts (several projects in one grid)."""
    groups: list[tuple[str, list[IndicatorRow]]] = []
    for r in rows:
        extras = dict(r.extras)
        proj = extras.pop(PROJECT_EXTRA, None)
        if proj is not None:
            r = replace(r, extras=tuple(extras.items()))
        if proj is not None or not groups:
            groups.append((proj or "", []))
        groups[-1][1].append(r)
    return groups


_NOT_A_NAME_RE = re.compile(
    r"^(?:[得扣]\d+(?:\.\d+)?分|\d{1,2}[.、．]\s*[^:：]{2,16}[:：]\s*指|[-—－/]+\s*(?:定性|定量)(?:指标)?$)"
)


def _is_name(text: str) -> bool:
    """An indicator name is text: not a number, a value, an operator, a unit, a header word or punctuation."""

    if not re.search(r"[\u3400-\u9fffA-Za-z]", text):
        return False
    if _NOT_A_NAME_RE.match(text.strip()) or classify.is_explanation(text) or classify.is_compound_header(text):
        return False  # a scoring rule (得10分,每减少…) or a glossary entry (5.年末结转和结余:指…)
    if re.match(r"\d{5,}", text.strip()):
        return False  # a unit code (505006州民族特殊教育学校): the unit's own row, not an indicator
    if len(re.findall(r"[□☐■☑✓√]", text)) >= 2:
        return False  # the options of a form field (优秀□ 良好□ 合格□): not an indicator
    k = classify.kind(text)
    return k not in ("num", "value", "op", "unit", "header", "vtype", "dir") and not (k == "qual" and value_likeness(text) >= 0.95)


def _to_indicator(p: RowParse, file: str) -> IndicatorRow:
    cell = p.name_cell
    src: SourceRef = p.grid.source(file, cell)
    value, half = p.value, p.half
    shown = value
    if p.op_hint or p.unit_hint:
        unit = "" if value.rstrip().endswith(p.unit_hint.strip()) else p.unit_hint  # 100% under a % column
        op = "" if p.op_hint and value.lstrip().startswith(p.op_hint.strip()) else p.op_hint
        shown = f"{op}{value}{unit}" if value else value
    target = parse_target(value, op_hint=p.op_hint, unit_hint=p.unit_hint)
    half_target = parse_target(half, op_hint=p.op_hint, unit_hint=p.unit_hint)
    row = IndicatorRow(
        level1=p.r_l1,
        level2=p.r_l2,
        name=p.name,
        value=shown,
        target=replace(target, text=shown) if shown != value else target,
        source=src,
        half_year=half,
        half_year_target=half_target,
        task=p.r_task,
        function=p.r_function,
        extras=tuple(p.extras.items()) + (((PROJECT_EXTRA, p.project),) if p.project else ()),
    )
    return row
