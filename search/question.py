"""Deterministic parser: a Chinese question -> a typed, frozen :class:`Plan`.

No language model is involved.  The parser works on the ``key()`` form of the
question (width-folded, simplified, lower-case, no spaces) and peels off, in
this order:

1. entities from the index's own vocabulary (:class:`Vocabulary`): unit names
   and their short forms, regions, project names, expense lines;
2. years (``2023年``, ``二〇二三年``), the value column (``半年`` -> half year),
   table kind (部门整体 / 项目支出), level words (产出指标, 数量指标 ...);
3. a numeric condition (``≥90%``, ``90%以上``, ``不低于百分之九十``, ``在90%到95%之间`` ...);
4. the indicator concept: a lexicon concept (``search.concepts``) or, failing
   that, the remaining content words as a free phrase;
5. the intent, from cue words and what was found.

When no intent can be formed the plan's intent is ``fallback_search``.
The satisfaction semantics of a :class:`Condition` live in :func:`check_target`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cn2an

from indexer.model import Document, Target
from indexer.normalize import key
from indexer.target import KNOWN_UNITS
from indexer.vocab import FUNDING_KEYS
from search.concepts import find_concept, is_stop_fragment, strip_stopwords

log = logging.getLogger(__name__)

INTENTS = (
    "which_units",
    "which_projects",
    "list_indicators",
    "unit_value",
    "count",
    "compare",
    "budget",
    "fallback_search",
)

# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Condition:
    """A numeric condition asked about, e.g. ``≥ 90 %`` or ``range (90, 95) %``."""

    op: str  # ≥ ≤ > < = range
    number: float | tuple[float, float]
    unit: str | None
    text: str = ""  # as written in the question

    def label(self) -> str:
        u = self.unit or ""
        if isinstance(self.number, tuple):
            lo, hi = self.number
            return f"{_fmt(lo)}{u}～{_fmt(hi)}{u}"
        return f"{self.op}{_fmt(self.number)}{u}"


@dataclass(frozen=True)
class Filters:
    units: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    regions: tuple[str, ...] = ()
    table: str | None = None  # department | project
    projects: tuple[str, ...] = ()
    level1: str | None = None  # category: 产出 效益 决策 过程 履职
    level2: str | None = None  # label without 指标: 数量 质量 时效 社会效益 ...


@dataclass(frozen=True)
class Plan:
    intent: str
    question: str
    concept: str | None = None  # lexicon concept id or a free phrase
    concept_free: bool = False  # True: ``concept`` is a free phrase, not a lexicon id
    condition: Condition | None = None
    column: str = "annual"  # annual | half_year
    filters: Filters = field(default_factory=Filters)
    count_of: str | None = None  # units | projects | indicators (intent count)
    compare_by: str | None = None  # units | years | projects (intent compare)
    budget: str | None = None  # total | expense | funding | table_count | expense_list
    budget_item: str | None = None  # 项目支出, 安保经费, 财政拨款 ...
    aggregate: bool = False  # budget: sum over the selected tables
    note: str = ""  # why the parser fell back, or other remarks

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if self.condition is not None and isinstance(self.condition.number, tuple):
            d["condition"]["number"] = list(self.condition.number)
        for k, v in d["filters"].items():
            if isinstance(v, tuple):
                d["filters"][k] = list(v)
        return d


# --------------------------------------------------------------------------- semantics

# unit -> (family, factor to the family's base unit)
_UNIT_FAMILIES: dict[str, tuple[str, float]] = {
    "%": ("percent", 1.0),
    "元": ("money", 1.0),
    "千元": ("money", 1e3),
    "万元": ("money", 1e4),
    "亿元": ("money", 1e8),
    "人": ("person", 1.0),
    "名": ("person", 1.0),
    "位": ("person", 1.0),
    "万人": ("person", 1e4),
    "人次": ("person_time", 1.0),
    "万人次": ("person_time", 1e4),
    "天": ("day", 1.0),
    "日": ("day", 1.0),
}


def _unit_scale(target_unit: str | None, cond_unit: str | None) -> float | None:
    """Factor turning a target number into the condition's unit, None if they disagree."""
    if cond_unit is None:
        return 1.0  # the question gave no unit: compare the numbers as written
    if target_unit == cond_unit:
        return 1.0
    a, b = _UNIT_FAMILIES.get(target_unit or ""), _UNIT_FAMILIES.get(cond_unit)
    if a is None or b is None or a[0] != b[0]:
        return None
    return a[1] / b[1]


@dataclass(frozen=True)
class Verdict:
    status: str  # yes | no | unit | qualitative | empty
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "yes"


def _bounds(t: Target, scale: float) -> tuple[float, bool, float, bool]:
    """(lo, lo_strict, hi, hi_strict) of the values a numeric target allows."""
    inf = float("inf")
    if t.op == "range" and isinstance(t.number, tuple):
        return t.number[0] * scale, False, t.number[1] * scale, False
    x = float(t.number) * scale  # type: ignore[arg-type]
    return {
        "≥": (x, False, inf, False),
        ">": (x, True, inf, False),
        "≤": (-inf, False, x, False),
        "<": (-inf, False, x, True),
    }.get(t.op or "=", (x, False, x, False))


def check_target(t: Target, cond: Condition) -> Verdict:
    """Does every value target ``t`` allows satisfy ``cond``?

    ``≥95%``, ``=100%`` and ``98%`` satisfy ``≥90%``; ``≥85%`` and ``>85%`` do not.
    A range uses its lower bound for ≥/> and its upper bound for ≤/<.  Units
    must agree (万元 and 元 are converted); qualitative and empty targets never
    satisfy a numeric condition.
    """
    if t.qualitative:
        return Verdict("qualitative", "未量化（定性指标）")
    if not t.is_numeric:
        return Verdict("empty", "未填写指标值")
    scale = _unit_scale(t.unit, cond.unit)
    if scale is None:
        return Verdict("unit", f"单位不一致（{t.unit or '无单位'}，问题为{cond.unit}）")
    lo, lo_strict, hi, hi_strict = _bounds(t, scale)
    if cond.op == "range" and isinstance(cond.number, tuple):
        a, b = cond.number
        ok = lo >= a and hi <= b
    else:
        c = float(cond.number)  # type: ignore[arg-type]
        ok = {
            "≥": lo >= c,
            ">": lo > c or (lo == c and lo_strict),
            "≤": hi <= c,
            "<": hi < c or (hi == c and hi_strict),
            "=": lo == hi == c,
        }[cond.op]
    if ok:
        return Verdict("yes", "")
    return Verdict("no", f"{t.text.strip()}允许不满足{cond.label()}的取值")


# --------------------------------------------------------------------------- vocabulary

# generic abbreviations of unit name cores (full form -> short forms)
_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "经济技术开发区": ("经开区",),
    "电化教育馆": ("电教馆",),
    "教育质量监测中心": ("监测中心", "质量监测中心"),
    "教育装备与勤工俭学管理办公室": ("装备办", "教育装备办", "勤工俭学办", "教育装备与勤工俭学办公室"),
    "教体服务中心": ("教体中心",),
}
_REGION_SUFFIX_RE = re.compile(r"(?:省|市|县|区|自治州|州|盟|旗)$")
_ZONE_RE = re.compile(r"^(?P<city>.{2,4}?)(?:经济技术开发区|经开区|高新技术产业开发区|高新区|新区|开发区)$")
_UNIT_PREFIX_RE = re.compile(r"^.{2,6}?(?:省|市|县|区)")


@dataclass(frozen=True)
class Vocabulary:
    """Names known to the index, keyed by ``key()``; values are canonical names."""

    units: dict[str, tuple[str, ...]]  # alias -> units
    regions: dict[str, str]  # alias -> region
    projects: dict[str, tuple[str, ...]]  # alias -> project names
    expenses: dict[str, str]  # alias -> expense line / funding label
    unit_region: dict[str, str]
    names: frozenset[str]  # keys of all indicator names (free-phrase check)
    max_len: int = 1


def _abbreviate(core: str) -> set[str]:
    out = {core}
    for full, shorts in _ABBREVIATIONS.items():
        if full in core:
            out |= {core.replace(full, s) for s in shorts}
            if core.endswith(full):
                out |= set(shorts) | {full}
    return out


def _region_aliases(region: str) -> set[str]:
    r = key(region)
    out = {r}
    short = _REGION_SUFFIX_RE.sub("", r)
    if len(short) >= 2:
        out.add(short)
    zone = _ZONE_RE.match(r)
    if zone:
        out |= {zone.group("city"), zone.group("city") + "经开区"}
    for a in list(out):
        out |= _abbreviate(a)
    return out


def _unit_aliases(unit: str, region: str) -> set[str]:
    u = key(unit)
    out = {u}
    prefixes = sorted(_region_aliases(region), key=len, reverse=True) if region else []
    core = next((u[len(p) :] for p in prefixes if u.startswith(p) and len(u) - len(p) >= 2), "")
    if not core:
        m = _UNIT_PREFIX_RE.match(u)
        core = u[m.end() :] if m and len(u) - m.end() >= 2 else ""
    if core:
        out |= _abbreviate(core)
        for p in prefixes:
            out |= {p + c for c in _abbreviate(core)}
    out |= _abbreviate(u)
    return {a for a in out if len(a) >= 3}


def _project_aliases(project: str) -> set[str]:
    p = key(project)
    if p in FUNDING_KEYS:  # a project called 其他资金: only "其他资金项目"
        return {p + "项目"}
    out = {p}
    for suffix in ("项目", "区配套", "专项"):
        if p.endswith(suffix) and len(p) - len(suffix) >= 4:
            out.add(p[: -len(suffix)])
    return out


def _add(d: dict[str, tuple[str, ...]], alias: str, value: str) -> None:
    if value not in d.get(alias, ()):
        d[alias] = (*d.get(alias, ()), value)


def build_vocabulary(docs: Iterable[Document]) -> Vocabulary:
    units: dict[str, tuple[str, ...]] = {}
    regions: dict[str, str] = {}
    projects: dict[str, tuple[str, ...]] = {}
    expenses: dict[str, str] = {}
    unit_region: dict[str, str] = {}
    names: set[str] = set()
    for doc in docs:
        if doc.region:
            for a in _region_aliases(doc.region):
                regions.setdefault(a, doc.region)
        for t in doc.tables:
            unit = t.unit or doc.unit
            if unit:
                unit_region.setdefault(unit, doc.region)
                for a in _unit_aliases(unit, doc.region):
                    _add(units, a, unit)
            if t.kind == "project" and t.project:
                for a in _project_aliases(t.project):
                    _add(projects, a, t.project)
            for e in t.expenses:
                expenses.setdefault(key(e.name), e.name)
            for label, _ in t.funding:
                expenses.setdefault(key(label), label)
            names.update(key(r.name) for r in t.rows)
    # a region name is never a unit alias
    for a in regions:
        units.pop(a, None)
    all_aliases = [*units, *regions, *projects]
    return Vocabulary(
        units=units,
        regions=regions,
        projects=projects,
        expenses=expenses,
        unit_region=unit_region,
        names=frozenset(names),
        max_len=max((len(a) for a in all_aliases), default=1),
    )


# --------------------------------------------------------------------------- helpers

_CN_DIGITS = "零〇一二两三四五六七八九十百千万点"
# 2023年 / 2023年度, or a bare 2023 listed before another year (2023和2024年)
_YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:年度|年|(?=[和与、及至到-](?:19|20)\d{2}))")
_CN_YEAR_RE = re.compile(r"([〇零一二三四五六七八九]{4})年")
_CN_YEAR_DIGITS = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"零": "0"}
_HALF_RE = re.compile(r"上半年|半年度|半年|年中")
_DEPT_RE = re.compile(r"部门整体|整体支出|部门绩效|单位整体")
_PROJECT_TABLE_RE = re.compile(r"项目支出(?:绩效目标)?(?:表|绩效)|项目(?:绩效目标)?表|项目支出绩效")
_LEVEL1_RE = re.compile(r"(产出|效益|决策|过程|履职)(?:类)?指标")
_LEVEL2_RE = re.compile(r"(数量|质量|时效|社会效益|经济效益|生态效益|可持续影响)(?:类)?指标")


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _cn_number(s: str) -> float | None:
    if not s:
        return None
    if s[0].isdigit():
        return float(s)
    try:
        return float(cn2an.cn2an(s, "smart"))
    except Exception:  # cn2an raises several exception types on odd input
        return None


class _Text:
    """The question's key form with consumed spans blanked out."""

    def __init__(self, s: str):
        self.s = s

    def take(self, start: int, end: int) -> None:
        self.s = self.s[:start] + " " * (end - start) + self.s[end:]

    def take_all(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        found = list(pattern.finditer(self.s))
        for m in found:
            self.take(m.start(), m.end())
        return found


def _scan_entities(text: _Text, vocab: Vocabulary) -> dict[str, list[str]]:
    """Longest-match scan for units, regions and projects."""
    found: dict[str, list[str]] = {"units": [], "regions": [], "projects": []}
    s, i = text.s, 0
    tables = (("units", vocab.units), ("projects", vocab.projects), ("regions", vocab.regions))
    while i < len(s):
        hit = None
        for length in range(min(vocab.max_len, len(s) - i), 2 - 1, -1):
            frag = s[i : i + length]
            for kind, table in tables:
                if frag in table:
                    hit = (kind, table[frag], length)
                    break
            if hit:
                break
        if not hit:
            i += 1
            continue
        kind, value, length = hit
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if v not in found[kind]:
                found[kind].append(v)
        text.take(i, i + length)
        i += length
    return found


def _scan_years(text: _Text) -> list[int]:
    years = [int(m.group(1)) for m in text.take_all(_YEAR_RE)]
    for m in text.take_all(_CN_YEAR_RE):
        years.append(int("".join(_CN_YEAR_DIGITS[c] for c in m.group(1))))
    return sorted(set(years), key=years.index)


# --------------------------------------------------------------------------- conditions

_OPS: dict[str, str] = {
    "大于或等于": "≥", "大于等于": "≥", "不低于": "≥", "不少于": "≥", "不小于": "≥", "至少": "≥",
    "最少": "≥", "达到": "≥", "达": "≥", "≥": "≥", ">=": "≥",
    "小于或等于": "≤", "小于等于": "≤", "不高于": "≤", "不超过": "≤", "不多于": "≤", "不大于": "≤",
    "至多": "≤", "最多": "≤", "≤": "≤", "<=": "≤",
    "高于": ">", "超过": ">", "大于": ">", "多于": ">", ">": ">",
    "未达到": "<", "没有达到": "<", "没达到": "<", "不到": "<", "不足": "<", "低于": "<", "小于": "<",
    "少于": "<", "<": "<",
    "等于": "=", "=": "=", "为": "=", "是": "=", "在": "",
}  # fmt: skip
_SUFFIX_OPS = {"及以上": "≥", "或以上": "≥", "以上": "≥", "及以下": "≤", "或以下": "≤", "以下": "≤", "以内": "≤",
               "之内": "≤", "之间": "range"}  # fmt: skip
_WEAK_PRE = {"为", "是", "在", "等于", "="}
_COND_UNITS = sorted({*KNOWN_UNITS, "成"} - {"年", "月", "月份", "学年", "学期", "周", "级", "类", "种", "门", "部"},
                     key=len, reverse=True)  # fmt: skip


def _alt(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_NUM = rf"百分之(?:[{_CN_DIGITS}]+|\d+(?:\.\d+)?)|\d+(?:\.\d+)?|[{_CN_DIGITS}]+"
_COND_RE = re.compile(
    rf"(?P<pre>{_alt(_OPS)})?(?P<n1>{_NUM})(?P<u1>{_alt(_COND_UNITS)})?"
    rf"(?:(?:到|至|-|~|—|–)(?P<n2>{_NUM})(?P<u2>{_alt(_COND_UNITS)})?)?"
    rf"(?P<suf>{_alt(_SUFFIX_OPS)})?"
)


def _num_unit(n: str, u: str | None) -> tuple[float | None, str | None]:
    if n.startswith("百分之"):
        return _cn_number(n[3:]), "%"
    v = _cn_number(n)
    if v is not None and u == "成":  # 九成 -> 90%
        return v * 10, "%"
    return v, u or None


def parse_condition(text: str) -> tuple[Condition | None, tuple[int, int] | None]:
    """The first numeric condition in ``text`` (a key-form string) and its span."""
    for m in _COND_RE.finditer(text):
        pre, suf = m.group("pre") or "", m.group("suf") or ""
        n1, u1 = _num_unit(m.group("n1"), m.group("u1"))
        if n1 is None:
            continue
        if m.group("n2"):
            n2, u2 = _num_unit(m.group("n2"), m.group("u2"))
            if n2 is None:
                continue
            unit = u2 or u1
            lo, hi = sorted((n1, n2))
            return Condition("range", (lo, hi), unit, m.group(0)), m.span()
        op = _SUFFIX_OPS.get(suf) or _OPS.get(pre, "")
        if op == "range":
            continue  # 之间 needs two numbers
        if not op:
            # no operator word (or just 在): only "100%" itself reads as "= 100%"
            if u1 != "%" or pre not in ("", "在"):
                continue
            op = "="
        if pre in _WEAK_PRE and not suf and u1 is None:
            continue  # 是1 / 为三: too weak without a unit
        return Condition(op, n1, u1, m.group(0)), m.span()
    return None, None


# --------------------------------------------------------------------------- intent cues

_OPEN_RE = re.compile(r"如何|怎么|怎样|为什么|为何|建议|起草|撰写|写一|帮我写|介绍|解释|说明一下|意义|作用是")
_WHICH_UNITS_RE = re.compile(
    r"哪些单位|哪个单位|哪几个单位|哪家|哪些部门|哪个部门|哪几家|单位有哪些|部门有哪些|哪些地区|谁"
)
_WHICH_PROJECTS_RE = re.compile(r"哪些项目|哪个项目|哪几个项目|项目有哪些|哪几项项目")
_COUNT_RE = re.compile(
    r"多少个|多少家|多少项|多少条|多少张|几个|几家|几项|几条|几张|数量是多少|共有多少|有多少"
)
_COMPARE_RE = re.compile(r"比较|对比|相比|比一比|有何不同|有什么不同|有何区别|有什么区别|差异|区别|哪个更|谁更|哪个高|哪个低|"
                         r"哪个多|哪个少|变化")  # fmt: skip
_LIST_RE = re.compile(
    r"有哪些|哪些指标|列出|列举|罗列|包括哪些|包含哪些|有什么|都有|清单|明细|设置了什么|设了什么|所有指标"
)
_VALUE_RE = re.compile(r"多少|是什么|为何值|目标值|指标值|是否|有没有|吗|几")
_TABLE_COUNT_RE = re.compile(
    r"(?:多少|几)(?:个|张|份)?(?P<kind>项目支出|项目|部门整体)?(?:支出)?(?:绩效)?(?:目标)?(?:申报|批复)?表"
)
_BUDGET_TOTAL_RE = re.compile(r"资金总额|预算总额|总预算|资金合计|总金额|经费总额|年度资金|预算资金|预算金额|预算数|资金规模|"
                              r"多少钱|多少万元|资金是多少|预算是多少|总额")  # fmt: skip
_BUDGET_WORD_RE = re.compile(r"资金|预算|支出|经费|拨款|金额|万元|多少钱|费用")
_EXPENSE_LIST_RE = re.compile(r"支出(?:明细|构成|项目有哪些|有哪些|包括哪些|结构)|哪些支出")
_SUM_RE = re.compile(r"合计|总共|一共|总和|加起来|累计|共计")
_COUNT_UNITS_RE = re.compile(r"(?:多少|几)(?:个|家)?(?:单位|部门)|单位数|部门数")
_COUNT_PROJECTS_RE = re.compile(r"(?:多少|几)(?:个|项)?项目(?!支出)|项目数")


def _concept_for(text: _Text, vocab: Vocabulary) -> tuple[str | None, bool]:
    """(concept, is_free) from the unconsumed text."""
    found = find_concept(text.s)
    fragments = [f for f in strip_stopwords(text.s) if not is_stop_fragment(f)]
    if found is not None:
        cid, start, end = found
        # a more specific phrase around the lexicon word that names real
        # indicators (师生满意度, 家长满意度) is used as written
        for frag in fragments:
            if text.s[start:end] in frag and frag != text.s[start:end] and _names_contain(vocab, frag):
                return frag, True
        return cid, False
    if not fragments:
        return None, False
    best = max(fragments, key=len)
    return (best, True) if len(best) >= 2 else (None, False)


def _names_contain(vocab: Vocabulary, phrase: str) -> bool:
    return any(phrase in n for n in vocab.names)


def _budget_item(q: str, vocab: Vocabulary) -> str | None:
    """The longest expense line / funding label named in ``q``."""
    best = None
    for alias, name in vocab.expenses.items():
        if len(alias) >= 2 and alias in q and (best is None or len(alias) > len(key(best))):
            best = name
    return best


def parse_question(question: str, vocab: Vocabulary) -> Plan:
    """Turn ``question`` into a :class:`Plan` (see the module docstring)."""
    q = key(question).translate(str.maketrans({"≧": "≥", "≦": "≤", "?": " ", "。": " ", "!": " "}))
    text = _Text(q)
    ents = _scan_entities(text, vocab)
    years = _scan_years(text)
    column = "half_year" if text.take_all(_HALF_RE) else "annual"
    table_count = _TABLE_COUNT_RE.search(text.s)
    table = None
    if table_count:
        kind = table_count.group("kind") or ""
        table = "project" if kind.startswith("项目") else "department" if kind else None
        text.take(*table_count.span())
    if _DEPT_RE.search(text.s):
        table = "department"
        text.take_all(_DEPT_RE)
    elif _PROJECT_TABLE_RE.search(text.s):
        table = "project"
        text.take_all(_PROJECT_TABLE_RE)
    level1 = next((m.group(1) for m in text.take_all(_LEVEL1_RE)), None)
    level2 = next((m.group(1) for m in text.take_all(_LEVEL2_RE)), None)
    cond, span = parse_condition(text.s)
    if span:
        text.take(*span)
    raw = text.s  # cue words are read from what is left
    item = _budget_item(raw, vocab)
    budget_kind = None
    if table_count:
        budget_kind = "table_count"
    elif _EXPENSE_LIST_RE.search(raw):
        budget_kind = "expense_list"
    elif _BUDGET_TOTAL_RE.search(raw) and not item:
        budget_kind = "total"
    elif item and (_BUDGET_WORD_RE.search(raw) or _VALUE_RE.search(raw)) and not cond:
        budget_kind = "funding" if key(item) in FUNDING_KEYS else "expense"
    if budget_kind in ("expense", "funding") and item:
        text.take(raw.index(key(item)), raw.index(key(item)) + len(key(item)))
    for pat in (
        _COUNT_RE,
        _WHICH_UNITS_RE,
        _WHICH_PROJECTS_RE,
        _COMPARE_RE,
        _LIST_RE,
        _BUDGET_TOTAL_RE,
        _SUM_RE,
    ):
        text.take_all(pat)
    concept, free = (None, False) if budget_kind else _concept_for(text, vocab)
    filters = Filters(
        units=tuple(ents["units"]),
        years=tuple(years),
        regions=tuple(ents["regions"]),
        table=table,
        projects=tuple(ents["projects"]),
        level1=level1,
        level2=level2,
    )
    base = Plan(
        intent="fallback_search",
        question=question,
        concept=concept,
        concept_free=free,
        condition=cond,
        column=column,
        filters=filters,
    )
    return _decide(base, raw, budget_kind, item)


def _decide(p: Plan, raw: str, budget_kind: str | None, item: str | None) -> Plan:
    """Pick the intent from cue words (``raw``: the question minus entities)."""
    f = p.filters
    many_subjects = len(f.units) >= 2 or len(f.projects) >= 2
    compare_cue = bool(_COMPARE_RE.search(raw))
    compare_by = "years" if len(f.years) >= 2 else "projects" if len(f.projects) >= 2 else "units"
    has_subject = bool(f.units or f.projects or f.regions or f.years or f.table)
    has_topic = bool(p.concept or f.level1 or f.level2 or p.condition)
    if budget_kind:
        plan = replace(
            p, intent="budget", budget=budget_kind, budget_item=item, aggregate=bool(_SUM_RE.search(raw))
        )
        if _WHICH_PROJECTS_RE.search(raw) and not f.table and not f.projects:
            plan = replace(plan, filters=replace(f, table="project"))  # 哪些项目的资金总额…
        if budget_kind in ("total", "expense", "funding") and (
            compare_cue or many_subjects or len(f.years) >= 2
        ):
            return replace(plan, intent="compare", compare_by=compare_by)
        return plan
    if _OPEN_RE.search(raw) and not (_WHICH_UNITS_RE.search(raw) or _WHICH_PROJECTS_RE.search(raw)):
        return _fallback(p, "开放式问题")
    if not (has_topic or has_subject):
        return _fallback(p, "未识别出指标、单位或条件")
    if (compare_cue or many_subjects or len(f.years) >= 2) and has_topic:
        return replace(p, intent="compare", compare_by=compare_by)
    if _COUNT_RE.search(raw):
        count_of = (
            "units"
            if _COUNT_UNITS_RE.search(raw)
            else "projects"
            if _COUNT_PROJECTS_RE.search(raw)
            else "indicators"
        )
        return replace(p, intent="count", count_of=count_of)
    if _WHICH_UNITS_RE.search(raw):
        return replace(p, intent="which_units")
    if _WHICH_PROJECTS_RE.search(raw) and not f.projects:
        return replace(p, intent="which_projects", filters=replace(f, table="project"))
    if _LIST_RE.search(raw) and (has_topic or has_subject):
        return replace(p, intent="list_indicators")
    if p.concept and (f.units or f.projects) and _VALUE_RE.search(raw):
        return replace(p, intent="unit_value")
    if p.concept and p.condition:
        return replace(p, intent="which_units")
    if p.concept and (f.units or f.projects):
        return replace(p, intent="unit_value")
    if has_topic and has_subject:
        return replace(p, intent="list_indicators")
    if p.concept and not p.concept_free:
        return replace(p, intent="list_indicators")
    return _fallback(p, "未能确定问题类型")


def _fallback(p: Plan, note: str) -> Plan:
    """A fallback plan keeps its filters but no half-understood concept."""
    return replace(p, intent="fallback_search", concept=None, concept_free=False, note=note)


__all__ = [
    "INTENTS",
    "Condition",
    "Filters",
    "Plan",
    "Verdict",
    "Vocabulary",
    "build_vocabulary",
    "check_target",
    "parse_condition",
    "parse_question",
]
