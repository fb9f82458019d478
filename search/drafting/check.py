"""Checker for 绩效目标表: explain, in Chinese, what a reviewer would send back.

``check_table(table)`` returns frozen ``Finding`` objects (rule id, severity,
0-based row index or None for table-level findings, a message about this row
and the rule text behind it).  ``check_draft`` and ``check_path`` wrap it for
drafts and files (txt / pdf / xlsx through ``parse_file``, or a draft JSON).

Severity policy:

* ``error``   - the table would be returned by a budget reviewer as is
  (a required category is missing, a 二级 label sits under the wrong 一级,
  a value is empty, a template placeholder is left, a half-year target
  exceeds the full-year target of a cumulative indicator);
* ``warning`` - the target is hard to assess or likely wrong (no operator,
  no unit, unit does not fit the name, vague wording, duplicate ...);
* ``info``    - worth a look, often fine (half-year equals full-year ...).

Framework per table (``table_framework``): a table whose 一级 labels include
决策/过程/履职 follows the 部门整体 履职效能 framework (决策、过程、履职、效益、
满意度); a table with 一级 labels otherwise follows the standard framework
(产出、效益、满意度, plus 成本 for project tables); a table without any 一级/二级
labels is ``flat`` and gets only row-level checks.  In older tables 成本指标 is a
二级 label under 产出指标 and 满意度指标 a 二级 label under 效益指标; both
count as covering 成本 / 满意度 and are valid pairs.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from indexer import vocab
from indexer.model import Document, IndicatorRow, Table, Target
from indexer.normalize import key
from indexer.target import parse_target
from indexer.values.lexicon import UNAMBIGUOUS_OPS, alternation
from indexer.values.units import (
    DAY_UNITS,
    PERCENT_UNITS,
    PERSON_UNITS,
    TIME_UNITS,
    TIMES_UNITS,
)
from indexer.values.units import MONEY_UNIT_RE as _MONEY_UNIT_RE
from search.drafting.draft import Draft, draft_to_table, load_draft

log = logging.getLogger(__name__)

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Rule:
    rule_id: str
    severity: str
    title: str
    text: str  # the rule behind a finding, in Chinese


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: str
    row_index: int | None  # 0-based index into table.rows; None for table-level findings
    message: str
    rule: str

    def to_json(self) -> dict:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "row_index": self.row_index,
            "message": self.message,
            "rule": self.rule,
        }


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.rule_id: r for r in rules}


RULES: dict[str, Rule] = _rules(
    Rule(
        "missing-level1", "error", "缺少一级指标类别",
        "项目支出绩效目标表应包含产出、成本、效益、满意度四类一级指标；部门整体绩效目标表应包含产出、效益、满意度指标"
        "（采用“决策、过程、履职、效益、满意度”框架的部门整体表按该框架检查）。旧版表样中成本指标是产出指标下的二级指标、"
        "满意度指标是效益指标下的二级指标，同样视为已覆盖。",
    ),
    Rule(
        "invalid-level-pair", "error", "一级/二级指标不匹配",
        "二级指标必须归属于对应的一级指标：数量、质量、时效指标属于产出指标；经济、社会、生态效益和可持续影响指标属于效益指标；"
        "服务对象满意度属于满意度指标；经济、社会、生态环境成本属于成本指标。",
    ),
    Rule(
        "level-missing", "warning", "缺少一级或二级指标",
        "每个三级指标都应写明所属的一级指标和二级指标。",
    ),
    Rule(
        "unknown-level", "warning", "不常见的指标层级名称",
        "一级指标应使用规范名称（产出指标、效益指标、满意度指标、成本指标，或部门整体表的决策、过程、履职），"
        "二级指标应使用规范名称（数量指标、质量指标、时效指标、社会效益指标等）。",
    ),
    Rule(
        "value-empty", "error", "指标值为空",
        "每个三级指标都必须填写指标值（目标值）。",
    ),
    Rule(
        "value-no-operator", "warning", "指标值缺少运算符",
        "定量指标值应写成“运算符 + 数值 + 计量单位”，如“≥90%”“≤20万元”“=12次”；没有运算符时无法判断是下限、上限还是确数。",
    ),
    Rule(
        "value-no-number", "error", "指标值缺少数值",
        "写了运算符或计量单位的指标值必须给出具体数值，如“≥10个”。",
    ),
    Rule(
        "value-no-unit", "warning", "指标值缺少计量单位",
        "定量指标值应写明计量单位，如 %、人、次、万元。",
    ),
    Rule(
        "unit-mismatch", "warning", "计量单位与指标名称不符",
        "计量单位应与指标名称一致：“……率”“……比例”用 %；“……人数”“……学生数”用 人、人次 或 名；“……次数”用 次；"
        "“……天数”用 天；成本、经费、费用、资金类用 元、万元；数量类指标不用 %。",
    ),
    Rule(
        "satisfaction-format", "warning", "满意度指标写法不规范",
        "满意度指标应写成“≥ 百分比”（如“≥90%”），表示满意度的下限。",
    ),
    Rule(
        "cost-format", "warning", "成本指标写法不规范",
        "成本指标应写成“≤ 金额”（如“≤20万元”），表示成本控制上限；补助标准类可写“=”。",
    ),
    Rule(
        "vague-value", "warning", "指标值表述模糊、无法考核",
        "指标值应可衡量、可考核：避免“显著提高”“不断提高”“有效提升”“效果显著”等无标准的表述；"
        "时效指标应写明完成时限（如“2025年12月底前完成”），而不是只写“按时完成”“及时”。",
    ),
    Rule(
        "placeholder", "error", "残留模板占位符",
        "申报表中不应留有模板占位符（如 XX、**、×××、≥**个），应填写实际名称和数值。",
    ),
    Rule(
        "duplicate", "warning", "重复的指标",
        "同一张表（同一核心职能下）不应重复设置同名三级指标。",
    ),
    Rule(
        "half-year-exceeds", "error", "半年指标值超过全年指标值",
        "累计型指标（数量、人次、金额等）的半年指标值不应超过全年指标值；比率型指标的半年目标一般也不高于全年目标。",
    ),
    Rule(
        "half-year-equals", "info", "半年指标值等于全年指标值",
        "累计型指标的半年指标值与全年相同，意味着全年任务在上半年全部完成；如非如此，半年值应小于全年值。",
    ),
    Rule(
        "half-year-mismatch", "warning", "半年与全年指标值口径不一致",
        "半年指标值与全年指标值应使用相同的计量单位和同方向的运算符，才能比较进度。",
    ),
    Rule(
        "no-levels", "info", "表中没有一级/二级指标",
        "该表没有一级、二级指标列，无法检查指标类别是否齐全；建议按“一级、二级、三级指标”的标准表样填报。",
    ),
)  # fmt: skip

# ---------------------------------------------------------------------------
# vocabulary

# allowed units, in the order they are suggested to the user

FRAMEWORK_DUTY = "duty"  # 决策/过程/履职/效益/满意度 (部门整体 履职效能 framework)
FRAMEWORK_STANDARD = "standard"  # 产出/效益/满意度 (+成本)
FRAMEWORK_FLAT = "flat"  # no level labels at all
_REQUIRED = {
    (FRAMEWORK_DUTY, "department"): ("决策", "过程", "履职", "效益", "满意度"),
    (FRAMEWORK_DUTY, "project"): ("决策", "过程", "履职", "效益", "满意度"),
    (FRAMEWORK_STANDARD, "department"): ("产出", "效益", "满意度"),
    (FRAMEWORK_STANDARD, "project"): ("产出", "成本", "效益", "满意度"),
}
CATEGORY_LABELS = {
    "产出": "产出指标", "效益": "效益指标", "满意度": "满意度指标", "成本": "成本指标",
    "决策": "决策", "过程": "过程", "履职": "履职",
}  # fmt: skip
# (一级 category, 二级 category) pairs that are valid although they differ:
# older tables put 成本 under 产出 and 满意度 under 效益; 履职 groups 产出/效益 items.
_ALLOWED_PAIRS = frozenset({("产出", "成本"), ("效益", "满意度"), ("履职", "产出"), ("履职", "效益")})
_STANDARD_CATEGORIES = frozenset({"产出", "效益", "满意度", "成本"})

_PLACEHOLDER_RE = re.compile(
    r"[Xx×＊*]{2,}|[XＸ]{1,}(?=[年月日个%％项人次])|某某|[○〇]{2,}|[?？]{2,}|[（(]\s*[）)]|_{2,}"
)
_DATE_HINT_RE = re.compile(r"\d|[一二三四五六七八九十]+月|年底|年末|月底|月末|季度|上半年|下半年|之前|前完成")
_VAGUE_TREND_RE = re.compile(
    r"^(?:显著|明显|不断|有效|逐步|逐年|稳步|持续|进一步|大幅|大力|有所|全面|切实|努力|积极|得到)?"
    r"(?:提高|提升|增强|改善|加强|优化|增加|扩大|降低|减少|下降|增长|好转)"
)
_VAGUE_EVAL_RE = re.compile(r"(?:显著|明显|较好|良好|较高|较大|较强|突出|奠定基础)$|^力争")
_VAGUE_TIMING_RE = re.compile(r"^(?:按时|按期|及时|如期|按计划|按进度|按要求)")
_OPERATOR_CHARS_RE = re.compile(r"[＞＜＝≧≦]|" + alternation(UNAMBIGUOUS_OPS))
_PUNCT_RE = re.compile(r"[\s，,。.、;；:：!！?？“”\"'‘’()（）【】\[\]《》]+")
_EMPTY_VALUES = frozenset({"", "/", "-", "—", "——", "无", "－"})


def _squash(text: str) -> str:
    return _PUNCT_RE.sub("", key(text))


def _rule(rule_id: str, row_index: int | None, message: str, severity: str | None = None) -> Finding:
    r = RULES[rule_id]
    return Finding(r.rule_id, severity or r.severity, row_index, message, r.text)


# ---------------------------------------------------------------------------
# categories and framework


def level1_cat(row: IndicatorRow) -> str | None:
    return vocab.level1_category(row.level1) if row.level1 else None


def level2_cat(row: IndicatorRow) -> str | None:
    """Category of the 二级 label; 成本指标 / 满意度指标 used as 二级 map to 成本 / 满意度."""
    if not row.level2:
        return None
    return vocab.level2_category(row.level2) or vocab.level1_category(row.level2)


def table_framework(table: Table) -> str:
    """``duty`` (决策/过程/履职 ...), ``standard`` (产出/效益/满意度 ...) or ``flat`` (no levels)."""
    cats = {level1_cat(r) for r in table.rows}
    if cats & {"决策", "过程", "履职"}:
        return FRAMEWORK_DUTY
    if any(r.level1 or r.level2 for r in table.rows):
        return FRAMEWORK_STANDARD
    return FRAMEWORK_FLAT


def covered_categories(table: Table) -> set[str]:
    """一级 categories present, counting 成本/满意度 written as 二级 labels."""
    out: set[str] = set()
    for r in table.rows:
        c1, c2 = level1_cat(r), level2_cat(r)
        if c1:
            out.add(c1)
        if c2 in ("成本", "满意度"):
            out.add(c2)
    return out


def is_satisfaction_row(row: IndicatorRow) -> bool:
    return level1_cat(row) == "满意度" or level2_cat(row) == "满意度" or "满意" in row.name


def is_cost_row(row: IndicatorRow) -> bool:
    return level1_cat(row) == "成本" or level2_cat(row) == "成本"


# ---------------------------------------------------------------------------
# value helpers


def has_explicit_operator(text: str) -> bool:
    """True when the value itself states its comparison (≥90%, 90%以上, 不低于90%, 3-5次)."""
    return parse_target(text, op_hint="≥").op == parse_target(text, op_hint="≤").op


def is_empty_value(text: str) -> bool:
    return _squash(text) in _EMPTY_VALUES


def find_placeholder(text: str) -> str | None:
    m = _PLACEHOLDER_RE.search(text or "")
    return m.group(0) if m else None


def vague_reason(value: str) -> str | None:
    """Why a qualitative value cannot be assessed, or None."""
    s = _squash(value)
    if not s:
        return None
    if _VAGUE_TIMING_RE.match(s) and not _DATE_HINT_RE.search(s):
        return "没有写明完成时限"
    if _VAGUE_TREND_RE.match(s):
        return "只写了变化方向，没有可衡量的目标值"
    if _VAGUE_EVAL_RE.search(s):
        return "是评价性描述，没有考核标准"
    return None


def expected_units(name: str) -> tuple[str, tuple[str, ...] | None] | None:
    """(what the name measures, allowed units or None for money) when the name implies a unit."""
    n = _squash(name)
    if n.endswith(("率", "比例", "占比", "比重")) and not n.endswith("效率"):
        return "比率", PERCENT_UNITS
    if n.endswith(("人数", "学生数", "人员数", "教师数", "师生数", "儿童数", "幼儿数", "人口数", "人次")):
        return "人数", PERSON_UNITS
    if n.endswith(("次数", "频次")):
        return "次数", TIMES_UNITS
    if n.endswith("天数"):
        return "天数", DAY_UNITS
    if n.endswith(("成本", "经费", "费用", "费", "金额", "资金", "总额")):
        return "金额", None
    return None


def unit_fits(unit: str | None, allowed: tuple[str, ...] | None) -> bool:
    if unit is None:
        return True  # reported by value-no-unit
    if allowed is None:
        return bool(_MONEY_UNIT_RE.match(unit))
    return unit in allowed


def _is_count_name(name: str) -> bool:
    n = _squash(name)
    return n.endswith(("数", "数量", "个数")) and not n.endswith(("指数", "系数", "分数", "倍数"))


def _fmt_unit(unit: str | None) -> str:
    return unit or "（无单位）"


def is_cumulative(t: Target) -> bool:
    """A count/amount that accumulates over the year (not a rate, duration or per-unit standard)."""
    u = t.unit
    return bool(u) and u not in PERCENT_UNITS and u not in TIME_UNITS and "/" not in u


# ---------------------------------------------------------------------------
# rules


def check_categories(table: Table) -> list[Finding]:
    framework = table_framework(table)
    if framework == FRAMEWORK_FLAT:
        return [_rule("no-levels", None, "该表没有一级、二级指标，未检查指标类别是否齐全。")]
    required = _REQUIRED[(framework, table.kind if table.kind in ("project", "department") else "project")]
    covered = covered_categories(table)
    out = []
    kind = "项目支出" if table.kind == "project" else "部门整体"
    for cat in required:
        if cat in covered:
            continue
        label = CATEGORY_LABELS[cat]
        if framework == FRAMEWORK_DUTY:
            why = "该表采用“决策、过程、履职、效益、满意度”框架"
        else:
            why = f"{kind}绩效目标表"
        extra = ""
        if cat == "成本":
            extra = "（一级“成本指标”，或旧版表样中产出指标下的二级“成本指标”）"
        elif cat == "满意度":
            extra = "（一级“满意度指标”，或旧版表样中效益指标下的二级“满意度指标”）"
        out.append(_rule("missing-level1", None, f"缺少{label}{extra}：{why}应包含{label}。"))
    return out


def check_levels(table: Table, index: int, row: IndicatorRow, framework: str) -> list[Finding]:
    out = []
    if framework == FRAMEWORK_FLAT:
        return out
    if not row.level1 or not row.level2:
        missing = "、".join(x for x, v in (("一级指标", row.level1), ("二级指标", row.level2)) if not v)
        out.append(_rule("level-missing", index, f"“{row.name}”缺少{missing}。"))
    c1, c2 = level1_cat(row), level2_cat(row)
    if row.level1 and c1 is None:
        out.append(_rule("unknown-level", index, f"一级指标“{row.level1}”不是规范的一级指标名称。"))
    elif c1 in _STANDARD_CATEGORIES and row.level2 and c2 is None:
        out.append(
            _rule(
                "unknown-level",
                index,
                f"二级指标“{row.level2}”不是{CATEGORY_LABELS[c1]}下规范的二级指标名称。",
            )
        )
    if c1 and c2 and c1 != c2 and (c1, c2) not in _ALLOWED_PAIRS:
        parent = CATEGORY_LABELS.get(c2, c2)
        out.append(
            _rule(
                "invalid-level-pair", index,
                f"二级指标“{row.level2}”应属于{parent}，却放在一级指标“{row.level1}”下（“{row.name}”）。",
            )
        )  # fmt: skip
    return out


def check_value(index: int, row: IndicatorRow) -> list[Finding]:
    """Rules on the full-year value of one row."""
    value, t = row.value, row.target
    for field_text, what in ((row.name, "指标名称"), (value, "指标值")):
        ph = find_placeholder(field_text)
        if ph:
            return [_rule("placeholder", index, f"{what}“{field_text}”中残留模板占位符“{ph}”。")]
    if is_empty_value(value):
        return [_rule("value-empty", index, f"“{row.name}”没有填写指标值。")]
    if not t.is_numeric:
        return _check_qualitative(index, row)
    out = []
    explicit = has_explicit_operator(value)
    if not explicit:
        hint = ""
        if is_satisfaction_row(row):
            hint = "；满意度指标一般写作“≥90%”"
        elif is_cost_row(row) and t.unit is not None and unit_fits(t.unit, None):
            hint = "；成本指标一般写作“≤金额”（补助标准可写“=”）"
        out.append(
            _rule(
                "value-no-operator", index, f"“{row.name}”的指标值“{value}”没有写明运算符（≥、≤、=）{hint}。"
            )
        )
    if t.unit is None:
        out.append(_rule("value-no-unit", index, f"“{row.name}”的指标值“{value}”没有计量单位。"))
    out += _check_unit(index, row)
    if is_satisfaction_row(row):
        bad_op = explicit and t.op not in ("≥", ">")
        bad_unit = t.unit is not None and t.unit != "%"
        if bad_op or bad_unit:
            out.append(
                _rule(
                    "satisfaction-format",
                    index,
                    f"满意度指标“{row.name}”的指标值“{value}”应写成“≥百分比”，如“≥90%”。",
                )
            )
    elif is_cost_row(row) and explicit and t.op not in ("≤", "<"):
        if not (t.op == "=" and "标准" in row.name):
            out.append(
                _rule(
                    "cost-format",
                    index,
                    f"成本指标“{row.name}”的指标值“{value}”应写成“≤金额”，表示成本上限。",
                )
            )
    return out


def _check_unit(index: int, row: IndicatorRow) -> list[Finding]:
    t = row.target
    exp = expected_units(row.name)
    if exp is not None:
        what, allowed = exp
        if not unit_fits(t.unit, allowed):
            want = "元、万元" if allowed is None else "、".join(allowed[:3])
            return [
                _rule(
                    "unit-mismatch",
                    index,
                    f"“{row.name}”是{what}类指标，计量单位应为 {want}，而指标值“{row.value}”用的是“{t.unit}”。",
                )
            ]
        return []
    if _is_count_name(row.name) and t.unit in PERCENT_UNITS:
        return [
            _rule(
                "unit-mismatch",
                index,
                f"“{row.name}”是数量类指标，不应使用“{t.unit}”（指标值“{row.value}”）。",
            )
        ]
    return []


def _check_qualitative(index: int, row: IndicatorRow) -> list[Finding]:
    value = row.value
    s = _squash(value)
    if _OPERATOR_CHARS_RE.search(value) and not re.search(r"\d|[一二三四五六七八九十百千万]", s):
        return [_rule("value-no-number", index, f"“{row.name}”的指标值“{value}”有运算符但没有数值。")]
    out = []
    reason = vague_reason(value)
    if reason:
        out.append(_rule("vague-value", index, f"“{row.name}”的指标值“{value}”{reason}，无法考核。"))
    if is_satisfaction_row(row):
        out.append(
            _rule(
                "satisfaction-format",
                index,
                f"满意度指标“{row.name}”的指标值“{value}”应写成“≥百分比”，如“≥90%”。",
            )
        )
    elif is_cost_row(row):
        out.append(
            _rule(
                "cost-format",
                index,
                f"成本指标“{row.name}”的指标值“{value}”没有给出金额上限，应写成“≤金额”。",
            )
        )
    return out


def check_half_year(index: int, row: IndicatorRow) -> list[Finding]:
    """Half-year vs full-year value of the same row."""
    h, f = row.half_year_target, row.target
    if not row.half_year or not (h.is_numeric and f.is_numeric):
        return []
    if not isinstance(h.number, float) or not isinstance(f.number, float):
        return []
    where = f"“{row.name}”的半年指标值“{row.half_year}”与全年指标值“{row.value}”"
    if h.unit != f.unit:
        return [
            _rule(
                "half-year-mismatch",
                index,
                f"{where}计量单位不同（{_fmt_unit(h.unit)} / {_fmt_unit(f.unit)}）。",
            )
        ]
    ups, downs = {"≥", ">"}, {"≤", "<"}
    if (h.op in ups and f.op in downs) or (h.op in downs and f.op in ups):
        return [_rule("half-year-mismatch", index, f"{where}运算符方向相反。")]
    cumulative = is_cumulative(f)
    if h.number > f.number and (cumulative or f.op in ups | {"="}):
        sev = "error" if cumulative else "warning"
        kind = "累计型指标" if cumulative else "比率型指标"
        return [_rule("half-year-exceeds", index, f"{where}：半年值大于全年值（{kind}）。", severity=sev)]
    if cumulative and h.number == f.number and f.number > 0 and f.op in ups | {"="}:
        return [_rule("half-year-equals", index, f"{where}相同：请确认全年任务是否在上半年即全部完成。")]
    return []


def check_duplicates(table: Table) -> list[Finding]:
    seen: dict[tuple[str, str], int] = {}
    out = []
    for i, r in enumerate(table.rows):
        k = (key(r.function), _squash(r.name))
        if not k[1]:
            continue
        if k in seen:
            j = seen[k]
            out.append(_rule("duplicate", i, f"“{r.name}”与第{j + 1}行重复（同名指标）。"))
        else:
            seen[k] = i
    return out


def check_table(table: Table) -> list[Finding]:
    """All findings for one table, table-level first, then by row."""
    framework = table_framework(table)
    findings = check_categories(table)
    per_row: list[Finding] = []
    for i, row in enumerate(table.rows):
        per_row += check_levels(table, i, row, framework)
        per_row += check_value(i, row)
        per_row += check_half_year(i, row)
    per_row += check_duplicates(table)
    per_row.sort(key=lambda f: f.row_index if f.row_index is not None else -1)
    return findings + per_row


def check_draft(draft: Draft, file: str = "草稿") -> list[Finding]:
    return check_table(draft_to_table(draft, file))


# ---------------------------------------------------------------------------
# reports over files


@dataclass(frozen=True)
class TableReport:
    file: str
    table: Table
    findings: tuple[Finding, ...]

    @property
    def label(self) -> str:
        kind = "项目支出" if self.table.kind == "project" else "部门整体支出"
        name = self.table.project or self.table.unit or self.table.title
        return f"{kind}绩效目标表：{name}" if name else f"{kind}绩效目标表"

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    def to_json(self) -> dict:
        return {
            "file": self.file,
            "table": self.label,
            "kind": self.table.kind,
            "project": self.table.project,
            "unit": self.table.unit,
            "framework": table_framework(self.table),
            "counts": self.counts(),
            "findings": [{**f.to_json(), "row": _row_json(self.table, f.row_index)} for f in self.findings],
        }


def _row_json(table: Table, index: int | None) -> dict | None:
    if index is None:
        return None
    r = table.rows[index]
    return {
        "level1": r.level1, "level2": r.level2, "name": r.name, "value": r.value,
        "half_year": r.half_year, "source": r.source.to_json(),
    }  # fmt: skip


def check_document(doc: Document) -> list[TableReport]:
    return [TableReport(doc.file, t, tuple(check_table(t))) for t in doc.tables]


def check_path(path: Path | str) -> list[TableReport]:
    """Check a draft JSON or any ingestible file (raises DraftError / IngestError)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        draft = load_draft(path)
        table = draft_to_table(draft, path.name)
        return [TableReport(path.name, table, tuple(check_table(table)))]
    from indexer.ingest import parse_file

    return check_document(parse_file(path))


def check_source(source: Path | str | Draft | Table | Document) -> list[TableReport]:
    """Reports for a path (txt/pdf/xlsx or draft JSON), a Draft, a Table or a Document."""
    if isinstance(source, Draft):
        table = draft_to_table(source)
        return [TableReport("草稿", table, tuple(check_table(table)))]
    if isinstance(source, Table):
        return [TableReport(source.source.file, source, tuple(check_table(source)))]
    if isinstance(source, Document):
        return check_document(source)
    return check_path(source)


def worst_severity(findings) -> str | None:
    sev = {f.severity for f in findings}
    return next((s for s in SEVERITIES if s in sev), None)
