"""Deterministic parser: a Chinese question -> a typed, frozen :class:`Plan`.

No language model is involved.  The parser works on the ``key()`` form of the
question (width-folded, simplified, lower-case, no spaces) and peels off, in
this order:

1. entities from the index's own vocabulary (:class:`Vocabulary`): unit names
   and their short forms, regions, project names, expense lines;
2. years (``2023年``, ``二〇二三年``), the value column (``半年`` -> half year),
   table kind (部门整体 / 项目支出), level words (产出指标, 数量指标 ...);
3. a numeric condition (``≥90%``, ``90%以上``, ``不低于百分之九十``, ``在90%到95%之间`` ...);
4. the indicator concept: a lexicon concept (``search.qa.concepts``) or, failing
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

from indexer.model import Document
from indexer.normalize import key
from indexer.values.compare import Condition, Verdict, amount_satisfies, check_target
from indexer.values.lexicon import (
    QUESTION_COMPARATIVES,
    QUESTION_PREFIX_OPS,
    RANGE_SUFFIX,
    SUFFIX_OPS,
    alternation,
)
from indexer.values.units import KNOWN_UNITS
from indexer.vocab import FUNDING_KEYS
from search.qa.concepts import CONCEPTS, find_concept, is_stop_fragment, strip_stopwords

log = logging.getLogger(__name__)

INTENTS = (
    "which_units",
    "which_projects",
    "list_indicators",
    "unit_value",
    "count",
    "compare",
    "budget",
    "rank",
    "difference",
    "functions",
    "goals",
    "not_in_index",
    "fallback_search",
)

# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Filters:
    units: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    regions: tuple[str, ...] = ()
    table: str | None = None  # department | project
    projects: tuple[str, ...] = ()
    level1: str | None = None  # category: 产出 效益 决策 过程 履职
    level2: str | None = None  # label without 指标: 数量 质量 时效 社会效益 ...
    function: str | None = None  # 核心职能: "职能3" or words of its name


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
    aggregation: str = ""  # rank: max | min | top;  functions: list | count
    top_k: int = 1  # rank: how many to name
    rank_over: str | None = None  # rank: units | projects | indicators
    rank_by: str = "value"  # rank: value (amount or target number) | rows (how many indicators) | projects
    unknown: tuple[str, ...] = ()  # names asked about that the index does not hold
    also: tuple[str, ...] = ()  # free concept: further words every matching name contains
    want_family: str | None = None  # 多少人 -> "person", 几次 -> "次": prefer values counted so
    note: str = ""  # why the parser fell back, or other remarks

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if self.condition is not None and isinstance(self.condition.number, tuple):
            d["condition"]["number"] = list(self.condition.number)
        for k, v in d["filters"].items():
            if isinstance(v, tuple):
                d["filters"][k] = list(v)
        return d


# The satisfaction semantics of a Condition live in indexer.values.compare
# (Condition, Verdict and check_target are re-exported here for callers).

# --------------------------------------------------------------------------- vocabulary

# generic abbreviations of unit name cores (full form -> short forms)
_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "经济技术开发区": ("经开区",),
    "电化教育馆": ("电教馆", "电化馆"),
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
    expense_units: dict[str, frozenset[str]] = field(default_factory=dict)  # expense line -> units
    project_units: dict[str, frozenset[str]] = field(default_factory=dict)  # project -> units


def _bureau_shorts(core: str) -> set[str]:
    """医疗保障局 -> 医保局, 政务服务数据管理局 -> 数据局, 卫生健康局 -> 卫健局."""
    if not core.endswith("局") or len(core) < 5:
        return set()
    w = core[:-1].removesuffix("管理")
    out = {w[-2:] + "局", w.replace("服务", "") + "局"}  # 政务服务数据管理局 -> 数据局, 政务数据局
    if len(w) == 4:
        out.add(w[0] + w[2] + "局")
    return out


_PUNCT_IN_NAME_RE = re.compile(r"[“”\"'‘’《》()（）【】\[\]、,，.。:：;；]")


def bare(name_key: str) -> str:
    """A name key without quotes, brackets and punctuation (how people type it)."""
    return _PUNCT_IN_NAME_RE.sub("", name_key)


def _abbreviate(core: str) -> set[str]:
    out = {core} | _bureau_shorts(core)
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
    out |= {a.replace("教育", "") for a in out if "教育" in a and len(a) - 2 >= 4}  # 高中助学金
    for suffix in ("工作经费", "专项经费", "经费", "资金", "区配套", "配套", "专项"):
        if p.endswith(suffix) and len(p) - len(suffix) >= 4:
            out.add(p[: -len(suffix)] + "项目")  # 招商引资项目
    if len(p) >= 8 and not p.endswith("项目"):
        out.add(p[-4:] + "项目")  # 社区卫生服务中心设备购置 -> 设备购置项目
    return out


def _add(d: dict[str, tuple[str, ...]], alias: str, value: str) -> None:
    if value not in d.get(alias, ()):
        d[alias] = (*d.get(alias, ()), value)


def build_vocabulary(docs: Iterable[Document]) -> Vocabulary:
    units: dict[str, tuple[str, ...]] = {}
    regions: dict[str, str] = {}
    projects: dict[str, tuple[str, ...]] = {}
    expenses: dict[str, str] = {}
    expense_units: dict[str, frozenset[str]] = {}
    project_units: dict[str, frozenset[str]] = {}
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
                project_units[t.project] = project_units.get(t.project, frozenset()) | {unit}
            for e in t.expenses:
                expenses.setdefault(key(e.name), e.name)
                expense_units[e.name] = expense_units.get(e.name, frozenset()) | {unit}
                short = re.sub(r"[（(].*?[）)]$", "", key(e.name))
                if len(short) >= 3:
                    expenses.setdefault(short, e.name)
            for label, _ in t.funding:
                expenses.setdefault(key(label), label)
            names.update(key(r.name) for r in t.rows)
            names.update(bare(key(r.name)) for r in t.rows)  # “阳光食堂”监管… as typed without quotes
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
        expense_units=expense_units,
        project_units=project_units,
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
_LEVELS_RE = re.compile(r"(产出|效益|决策|过程|履职|满意度|成本)(?:类)?指标(?:和|与|及|、|以及)(产出|效益|决策|过程|履职|满意度|成本)(?:类)?指标")
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
    spans: list[tuple[str, tuple[str, ...], int, int]] = []
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
        spans.append((kind, values, i, i + length))
        i += length
    # a short alias inside a longer stretch of an indicator name is not a unit (…下辖各县市区教育局)
    spans = [sp for sp in spans if sp[3] - sp[2] > 4 or not _inside_a_name(s, sp[2], sp[3], vocab)]
    units = {v for kind, values, _, _ in spans if kind == "units" for v in values}
    for kind, values, start, end in spans:
        if kind == "projects" and units:
            values = tuple(v for v in values if units & vocab.project_units.get(v, frozenset()))
            if not values:
                continue  # 装备办设备购置项目: another unit's project name; left for expense lines
        for v in values:
            if v not in found[kind]:
                found[kind].append(v)
        text.take(start, end)
    return found


def _scan_years(text: _Text) -> list[int]:
    years = [int(m.group(1)) for m in text.take_all(_YEAR_RE)]
    for m in text.take_all(_CN_YEAR_RE):
        years.append(int("".join(_CN_YEAR_DIGITS[c] for c in m.group(1))))
    return sorted(set(years), key=years.index)


# --------------------------------------------------------------------------- conditions

# operator words: the one lexicon (indexer.values.lexicon)
_OPS: dict[str, str] = QUESTION_PREFIX_OPS
_SUFFIX_OPS: dict[str, str] = {**SUFFIX_OPS, RANGE_SUFFIX: "range"}
_WEAK_PRE = {"为", "是", "在", "等于", "="}
_COND_UNITS = sorted({*KNOWN_UNITS, "成"} - {"年", "月", "月份", "学年", "学期", "周", "级", "类", "种", "门", "部"},
                     key=len, reverse=True)  # fmt: skip


def _alt(words: Iterable[str]) -> str:
    return alternation(words)


_NUM = rf"百分之(?:[{_CN_DIGITS}]+|\d+(?:\.\d+)?)|\d+(?:\.\d+)?|[{_CN_DIGITS}]+"
_COND_RE = re.compile(
    rf"(?P<pre>{_alt(_OPS)})?(?P<n1>{_NUM})(?P<u1>{_alt(_COND_UNITS)})?"
    rf"(?:(?:到|至|-|~|—|–)(?P<n2>{_NUM})(?P<u2>{_alt(_COND_UNITS)})?)?"
    rf"(?P<suf>{_alt(_SUFFIX_OPS)})?"
)


def _num_unit(n: str, u: str | None) -> tuple[float | None, str | None]:
    if n.startswith("百分之"):
        return _cn_number(n[3:]), "%"
    if n[-1] in "万亿" and len(n) > 1 and u in (None, "元"):  # 一百万 -> 100 万元
        v = _cn_number(n[:-1])
        return v, ("万元" if n[-1] == "万" else "亿元")
    v = _cn_number(n)
    if v is not None and u == "成":  # 九成 -> 90%
        return v * 10, "%"
    return v, u or None


_COMPARATIVE_RE = re.compile(rf"比(?P<n1>{_NUM})(?P<u1>{_alt(_COND_UNITS)})?(?:要|还)?(?P<d>高|多|大|低|少|小)")


def parse_condition(text: str) -> tuple[Condition | None, tuple[int, int] | None]:
    """The first numeric condition in ``text`` (a key-form string) and its span."""
    m = _COMPARATIVE_RE.search(text)
    if m:
        n, u = _num_unit(m.group("n1"), m.group("u1"))
        if n is not None:
            return Condition(QUESTION_COMPARATIVES[m.group("d")], n, u, m.group(0)), m.span()
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
    r"哪些单位|哪个单位|哪几个单位|哪家|哪些部门|哪个部门|哪几家|单位有哪些|部门有哪些|哪些地区|谁|的单位\s*$|单位是哪些"
)
_WHICH_PROJECTS_RE = re.compile(r"项目叫什么|项目名称|什么项目|项目是什么|有没有项目|是否有项目|有项目|哪些项目|哪个项目|哪几个项目|项目有哪些|哪几项项目|项目是哪些|的项目\s*$|哪个项目|什么项目")
_COUNT_RE = re.compile(
    r"多少个|多少家|多少项|多少条|多少张|几个|几家|几项|几条|几张|数量是多少|共有多少|有多少|单位数|项目数|指标数|条数|个数"
)
_COMPARE_RE = re.compile(r"比较|对比|相比|比一比|有何不同|有什么不同|有何区别|有什么区别|差异|区别|哪个更|谁更|哪个高|哪个低|"
                         r"哪个多|哪个少|变化")  # fmt: skip
_LIST_RE = re.compile(
    r"有哪些|哪些指标|列出|列举|罗列|包括哪些|包含哪些|有什么|都有|清单|明细|设置了什么|设了什么|所有指标|列一下|列下|"
    r"列个|看看|看一下|有啥|都是啥|相关指标|有关指标|方面的指标|相关的指标"
)
_VALUE_RE = re.compile(r"多少|是什么|为何值|目标值|指标值|是否|有没有|吗|几|是不是|达没达到|够不够|达标没|定的啥|是啥")
_TABLE_COUNT_RE = re.compile(
    r"(?:多少|几)(?:个|张|份)?(?P<kind>项目支出|项目|部门整体)?(?:支出)?(?:绩效)?(?:目标)?(?:申报|批复)?表"
)
_BUDGET_TOTAL_RE = re.compile(r"收入预算合计|支出预算合计|收入合计|资金合计|资金总额|预算总额|总预算|资金合计|总金额|经费总额|年度资金|预算资金|预算金额|预算数|资金规模|"
                              r"多少钱|多少万元|资金是多少|预算是多少|总额|收入预算|收入合计|支出预算合计")  # fmt: skip
_BUDGET_WORD_RE = re.compile(r"资金|预算|支出|经费|拨款|金额|万元|多少钱|费用")
_EXPENSE_LIST_RE = re.compile(r"支出(?:明细|构成|项目有哪些|有哪些|包括哪些|结构)|哪些支出")
_SUM_RE = re.compile(r"合计|总共|一共|总和|加起来|累计|共计")
_COUNT_UNITS_RE = re.compile(r"(?:多少|几)(?:个|家)?(?:单位|部门)|单位个?数|部门个?数|(?:单位|部门)(?:有|共有|一共有)?(?:多少|几)(?:个|家)?(?!个?(?:指标|条|项目|张))")
_COUNT_PROJECTS_RE = re.compile(r"(?:多少|几)(?:个|项)?项目(?!支出)|项目个?数|项目(?:有|共有|一共有)?(?:多少|几)(?:个|项)?(?!个?(?:指标|条|张))")


_FUNCTION_NO_RE = re.compile(r"(?:核心)?职能(?P<n>\d+|[一二三四五六七八九十]+)")
_FUNCTIONS_RE = re.compile(r"核心职能|主要职能|主要职责|职能概述|职能|职责")
_GOALS_RE = re.compile(r"(?P<kind>年度整体绩效|年度总体|年度绩效|年度整体|年度|中长期|总体|整体|绩效)目标(?!值|表)"
                       r"(?!(?:定|设|是)?(?:得|的)?(?:多少|几))")  # fmt: skip
_UNIT_WORD_RE = re.compile(r"单位|部门")  # "which unit" words, not indicator content
_POSITION_RE = re.compile(r"下面|下边|底下|里面|之下|下属|下的|下有|当中|项下|索引里|索引中|库里|系统里|数据里")
_AVG_RE = re.compile(r"平均|均值")
_EACH_VALUE_RE = re.compile(r"都是多少|分别是多少|各是多少|分别多少|各多少|分别是什么|都是什么")
_EACH_PROJECT_RE = re.compile(r"各项目|各个项目|每个项目|所有项目|全部项目|项目平均|项目的平均|项目(?:资金|预算)?平均")
# superlatives and rankings: taken before the condition (最少 is not "≥" here)
_NOT_NUM = r"(?![\d百零〇一二两三四五六七八九十])"
_SUPER_RE = re.compile(rf"最(?P<d>高|多|大|贵|低|少|小|便宜){_NOT_NUM}|(?:排名?|排在)?第一(?:名|位)?|倒数第一")
_NTH_RE = re.compile(r"(?:排名?|排在)?第(?P<k>\d+|[二两三四五六七八九十])(?:名|位|多)?")
_K_ITEMS_RE = re.compile(r"(?<![第前])(?P<k>\d+|[两二三四五六七八九十])(?:个|名|家|项)(?=项目|单位|部门|指标|$|\s)")
_TOP_RE = re.compile(r"(?P<last>倒数|后)?(?:排名?|排在)?前(?P<k>\d+|[一二两三四五六七八九十])(?:名|位|个|项|家)?"
                     r"|top\s*(?P<k2>\d+)")  # fmt: skip
_MAX_DIR = "高多大贵"
_DIFF_RE = re.compile(r"(?:多|少|高|低|差|相差|贵|便宜)(?:了)?多少|相差|差额|差值|差距|差几")
_BUDGET_BARE_RE = re.compile(r"(?:预算|资金|经费|金额|钱|拨款)(?!执行|调整|编制|管理|偏差|完成|使用|到位|发挥|额度|控制|支付)")
_STANDARD_RE = re.compile(r"标准|人均|生均|每学年|每生|每人|一个人|一人|每个人|每个学生|一个学生|每名")
_PER_PERSON_RE = re.compile(r"一个人|一人|每个人|每人|每个学生|一个学生|每名学生|每生|人均|生均")
_OVER_PROJECTS_RE = re.compile(r"项目")
# unit names as people write them: a place, then an office word
_UNIT_NAME_RE = re.compile(
    r"(?:[\u4e00-\u9fff]{2,5}?(?:省|市|县|区|州|旗))+(?:[\u4e00-\u9fff]{0,10}?)"
    r"(?:教育局|教体局|财政局|卫生健康局|卫健委|卫健局|医疗保障局|医保局|人社局|民政局|公安局|税务局|统计局|"
    r"数据管理局|体育局|文旅局|交通局|[\u4e00-\u9fff]{0,4}?局|委员会|服务中心|中心|馆|办公室|研究院|学校|大学)"
)
# English and mixed input: words budget staff type in English
_ENGLISH: dict[str, str] = {
    "which units": "哪些单位", "which unit": "哪个单位", "which projects": "哪些项目", "which project": "哪个项目",
    "how many": "几个", "how much": "多少", "half year": "半年", "half-year": "半年",
    "execution rate": "预算执行率", "budget execution": "预算执行率", "total budget": "资金总额",
    "budget": "资金总额", "funding": "资金总额", "funds": "资金总额", "fund": "资金总额", "money": "资金总额",
    "satisfaction": "满意度", "cost": "成本", "costs": "成本", "coverage": "覆盖率", "training": "培训",
    "indicators": "指标", "indicator": "指标", "targets": "指标", "target": "指标值", "projects": "项目",
    "project": "项目", "units": "单位", "unit": "单位", "functions": "核心职能", "function": "核心职能",
    "compare": "比较", "highest": "最高", "max": "最高", "maximum": "最高", "largest": "最大", "biggest": "最大",
    "lowest": "最低", "min": "最低", "minimum": "最低", "smallest": "最小", "list": "列出", "count": "几个",
    "parents": "家长", "parent": "家长", "students": "学生", "student": "学生", "teachers": "教师",
    "teacher": "教师", "school": "学校", "schools": "学校", "above": "高于", "below": "低于",
    "at least": "不低于", "at most": "不超过", "more than": "超过", "less than": "低于", "vs": "对比",
    "by": "", "does": "", "have": "", "has": "", "in": "", "of": "的",
    "the": "", "what": "什么", "is": "是", "are": "是", "which": "哪些", "what's": "什么",
}  # fmt: skip
_ENGLISH_RE = re.compile(r"(?<![a-z])(" + "|".join(re.escape(w) for w in sorted(_ENGLISH, key=len, reverse=True))
                         + r")(?![a-z])", re.IGNORECASE)  # fmt: skip


# typos budget staff make (homophones of question words and domain words)
_TYPOS: dict[str, str] = {
    "哪写": "哪些", "有那些": "有哪些", "那些单位": "哪些单位", "那个单位": "哪个单位", "那些项目": "哪些项目",
    "那个项目": "哪个项目", "那几个": "哪几个", "那家": "哪家", "执型率": "执行率", "执行律": "执行率",
    "满意渡": "满意度", "满义度": "满意度", "监侧": "监测", "预箅": "预算", "资余": "资金", "电教舘": "电教馆",
}  # fmt: skip
_TYPO_RE = re.compile("|".join(re.escape(w) for w in sorted(_TYPOS, key=len, reverse=True)))


def fix_typos(question: str) -> str:
    return _TYPO_RE.sub(lambda m: _TYPOS[m.group(0)], question)


def translate_english(question: str) -> str:
    """English words of a (mixed) question turned into the Chinese the grammar reads."""
    if not re.search(r"[A-Za-z]{2,}", question):
        return question
    return _ENGLISH_RE.sub(lambda m: _ENGLISH[m.group(1).lower()], question)


def _small_int(s: str) -> int:
    return int(s) if s.isdigit() else int(cn2an.cn2an(s.replace("两", "二"), "smart"))


_SPLIT_RE = re.compile(r"[\d.%]+|是|为|叫|设置了|设定了|设了|设置|设定|考核|包括|包含|定了|定的|要求")


def _concept_for(text: _Text, vocab: Vocabulary) -> tuple[str | None, bool]:
    """(concept, is_free) from the unconsumed text."""
    found = find_concept(text.s)
    fragments = [p for f in strip_stopwords(text.s) for p in _SPLIT_RE.split(f) if not is_stop_fragment(p)]
    if found is not None:
        cid, start, end = found
        # a more specific phrase around the lexicon word that names real
        # indicators (师生满意度, 家长满意度) is used as written
        best = ""
        for i in range(max(0, start - 6), start + 1):
            for j in range(end, min(len(text.s), end + 8) + 1):
                frag = text.s[i:j]
                if (" " in frag or "的" in frag or len(frag) <= len(best) or frag == text.s[start:end]
                        or frag.startswith(("单位", "部门", "项目", "哪", "有", "各"))):  # fmt: skip
                    continue
                if _names_contain(vocab, frag):
                    best = frag
        if best:
            return best, True
        return cid, False
    if not fragments:
        return None, False
    in_names = [p for f in fragments if len(p := _longest_in_names(vocab, f)) >= 4 or (p == f and len(p) >= 2)]
    if in_names:
        return max(in_names, key=len), True
    best = max(fragments, key=len)
    return (best, True) if len(best) >= 2 else (None, False)


def _longest_in_names(vocab: Vocabulary, frag: str) -> str:
    """The longest part of ``frag`` that some indicator name contains."""
    for n in range(len(frag), 1, -1):
        for i in range(len(frag) - n + 1):
            if _names_contain(vocab, frag[i : i + n]):
                return frag[i : i + n]
    return ""


_UNIT_WORDS = frozenset(KNOWN_UNITS)
_GENERIC_WORDS = frozenset({"指标", "指标值", "目标", "目标值", "项目", "单位", "部门", "什么", "哪些", "几个", "多少",
                            "列出", "比较", "对比", "情况", "数据", "信息"})  # fmt: skip


def _also(text: _Text, vocab: Vocabulary, concept: str | None, typed: Iterable[str] = ()) -> tuple[str, ...]:
    """Other name parts the question insists on (高考入学资助 … 人均补助标准); ``typed``:
    words the user separated by spaces (资助 满意度)."""
    if not concept:
        return ()
    out: list[str] = []
    rest = text.s.replace(concept, " ")
    fragments = [p for f in [*strip_stopwords(rest), *rest.split()] for p in _SPLIT_RE.split(f)
                 for p in p.split() if not is_stop_fragment(p)]  # fmt: skip
    words = [w for w in typed if w in text.s and not is_stop_fragment(w) and w not in _GENERIC_WORDS]
    for f in fragments + words:
        part = _longest_in_names(vocab, f)
        whole_word = f in words and part == f  # a word typed on its own (培训 合格率)
        if (whole_word or len(part) >= max(4, len(f) - 2)) and part not in concept and concept not in part \
                and part not in out and part not in _UNIT_WORDS and part not in QUESTION_PREFIX_OPS:  # fmt: skip
            out.append(part)
    out = [a for a in out if not any(a != b and a in b for b in out)]  # keep the longest
    return tuple(out)


def _names_contain(vocab: Vocabulary, phrase: str) -> bool:
    return any(phrase in n for n in vocab.names)


_MONEY_CUE_RE = re.compile(r"钱|经费|费用|预算|资金|万元|金额|支出|款")


def _budget_item(q: str, vocab: Vocabulary, units: Iterable[str] = ()) -> str | None:
    """The longest expense line / funding label named in ``q``; with a money cue,
    also the line sharing the longest run (≥4 characters) with ``q`` (中心机房运维)."""
    best, best_len = None, 0
    for alias, name in vocab.expenses.items():
        if len(alias) >= 2 and alias in q and len(alias) > best_len:
            best, best_len = name, len(alias)
    units = set(units)
    if best is not None or not _MONEY_CUE_RE.search(q) or not units:
        return best
    for alias, name in vocab.expenses.items():
        if not units & vocab.expense_units.get(name, frozenset()):
            continue  # a loose match only among the named units' own lines
        n = _common_run(alias, q)
        if n >= 4 and n > best_len:
            best, best_len = name, n
    return best


def _common_run(a: str, b: str) -> int:
    """Length of the longest common substring of ``a`` and ``b`` (spaces never match)."""
    best = 0
    for i in range(len(b)):
        for j in range(i + best + 1, len(b) + 1):
            if " " in b[i:j] or b[i:j] not in a:
                break
            best = j - i
    return best


_LEAD_STOP = set("问出较看查下的和与跟比在是个些请列说告诉想知道了吗呢把对及或、 ")
_PLACE_END = re.compile(r"省|市|县|区|州|旗")


def _trim_lead(name: str) -> str:
    """Drop words glued before the place name (列出青石县… -> 青石县…)."""
    m = _PLACE_END.search(name)
    if not m:
        return name
    start = max(0, m.start() - 2)
    while start > 0 and name[start - 1] not in _LEAD_STOP and m.start() - start < 4:
        start -= 1
    while start < m.start() - 1 and name[start] in _LEAD_STOP:
        start += 1
    return name[start:]


def _inside_a_name(q: str, start: int, end: int, vocab: Vocabulary) -> bool:
    """Is q[start:end] part of a longer stretch of q (4+ more characters) that an indicator name contains?"""
    for i in range(max(0, start - 12), start + 1):
        for j in range(min(len(q), end + 12), end - 1, -1):
            if (j - i) >= (end - start) + 4 and _names_contain(vocab, q[i:j]):
                return True
    return False


def _unknown_units(q: str, vocab: Vocabulary) -> list[str]:
    """Unit-like names in ``q`` that no unit of the index answers to."""
    out = []
    known = [key(u) for u in vocab.unit_region]
    for m in _UNIT_NAME_RE.finditer(q):
        full = m.group(0)
        first_place = _PLACE_END.search(full)
        tails = [full[i:] for i in range(first_place.start() if first_place else 1)]
        if any(t in vocab.units or any(t in k for k in known) for t in tails):
            continue
        name = _trim_lead(full)
        if name in vocab.regions or name.endswith(("地区", "市区", "县区", "城区")):
            continue
        start = q.find(name)
        if start >= 0 and _inside_a_name(q, start, start + len(name), vocab):
            continue  # part of an indicator name (苏州市教育局下辖各县市区教育局…)
        out.append(name)
    return out


_PROJECT_NAME_RE = re.compile(r"(?:“(?P<q>[^”]{2,20})”|(?P<w>[\u4e00-\u9fff]{4,12}?))项目(?!支出|表|绩效)")
_NOT_A_NAME_RE = re.compile(r"哪|什么|几|多少|所有|全部|各|的|有|是|最|前|和|与|个|这|那|该|其他|支出|绩效|年|月|季度")


def _loose_project(name: str, vocab: Vocabulary) -> str | None:
    """The one project sharing a run of at least 4 characters with ``name`` (医保参保补助 ->
    城乡居民基本医疗保险参保补助), else None."""
    hits = {p for a, ps in vocab.projects.items() for p in ps if _common_run(a, name) >= 4}
    return hits.pop() if len(hits) == 1 else None


def _unknown_projects(q: str, vocab: Vocabulary) -> list[str]:
    """Project names in ``q`` (智慧食堂项目) that no table, expense line or indicator has."""
    out = []
    for m in _PROJECT_NAME_RE.finditer(q):
        name = m.group("q") or m.group("w")
        if not m.group("q"):
            name = re.sub(r"^.*?(?:的|了|和|与|及|看|查|问)", "", name)
        if len(name) < 4 or _NOT_A_NAME_RE.search(name):
            continue
        if (
            any(name in a or a in name for a in vocab.projects)
            or any(name in e for e in vocab.expenses)
            or _names_contain(vocab, name)
            or any(name in key(u) for u in vocab.unit_region)
            or any(a in name for a in [*vocab.units, *vocab.regions] if len(a) >= 2)
            or _loose_project(name, vocab)
        ):
            continue
        out.append(name + "项目")
    return out


_PLACE_ASK_RE = re.compile(r"^(?P<p>[\u4e00-\u9fff]{2,3}?)(?:市|县|区|省)?(?:的)?(?:单位|项目|有哪些|有什么|有几个|有多少|的资金|的预算)")


def _unknown_place(q: str, vocab: Vocabulary, ents: dict[str, list[str]]) -> list[str]:
    """无锡的单位有哪些: a place the index does not know, asked about at the start."""
    if any(ents.values()):
        return []
    m = _PLACE_ASK_RE.match(q)
    if not m:
        return []
    p = m.group("p")
    if (p in vocab.regions or _names_contain(vocab, p) or find_concept(p) or re.search(r"[一共总索引里这那些每各全所有几多少哪什]", p)
            or any(p in k for k in vocab.expenses) or any(p in a for a in vocab.projects)):  # fmt: skip
        return []
    return [p]


def _scan_function(text: _Text) -> str | None:
    m = _FUNCTION_NO_RE.search(text.s)
    if not m:
        return None
    text.take(*m.span())
    return f"职能{_small_int(m.group('n'))}"


def parse_question(question: str, vocab: Vocabulary) -> Plan:
    """Turn ``question`` into a :class:`Plan` (see the module docstring)."""
    q = key(fix_typos(translate_english(question))).translate(
        str.maketrans({"≧": "≥", "≦": "≤", "?": " ", "。": " ", "!": " "})
    )
    unknown = _unknown_units(q, vocab) + _unknown_projects(q, vocab)
    text = _Text(q)
    for name in unknown:  # an unknown name yields no known unit (无锡市教育局 is not 潢源县教育局)
        i = text.s.find(name)
        if i >= 0:
            text.take(i, i + len(name))
    ents = _scan_entities(text, vocab)
    if not ents["projects"]:  # 医保参保补助项目: a project named loosely
        for m in _PROJECT_NAME_RE.finditer(text.s):
            name = m.group("q") or m.group("w") or ""
            project = _loose_project(name.strip(), vocab) if " " not in name else None
            if project and ents["units"] and not set(ents["units"]) & vocab.project_units.get(project, frozenset()):
                continue  # another unit's project
            if project:
                ents["projects"].append(project)
                text.take(*m.span())
    unknown += _unknown_place(q, vocab, ents)
    years = _scan_years(text)
    column = "half_year" if text.take_all(_HALF_RE) else "annual"
    function = _scan_function(text)
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
    several = _LEVELS_RE.search(text.s)  # 效益指标和满意度指标: either level
    if several:
        text.take(*several.span())
    level1 = "|".join(several.group(1, 2)) if several else next((m.group(1) for m in text.take_all(_LEVEL1_RE)), None)
    level2 = next((m.group(1) for m in text.take_all(_LEVEL2_RE)), None)
    # superlatives / rankings before the condition: 资金最少 is a pick, not "≥"
    aggregation, top_k = "", 1
    top = _TOP_RE.search(text.s)
    if top:
        top_k = _small_int(top.group("k") or top.group("k2"))
        aggregation = "min" if top.group("last") else "top"
        text.take(*top.span())
    sup = _SUPER_RE.search(text.s)
    if sup:
        d = sup.group("d")
        aggregation = "min" if sup.group(0).startswith("倒数") or (d and d not in _MAX_DIR) else "max"
        if top:
            aggregation = "top" if aggregation == "max" else "min"
        text.take(*sup.span())
        k_items = _K_ITEMS_RE.search(text.s)
        if k_items and not top:  # 资金最多的三个项目
            top_k = _small_int(k_items.group("k"))
            aggregation = "top" if aggregation == "max" else "min"
            text.take(*k_items.span())
    nth = None if aggregation else _NTH_RE.search(text.s)
    if nth:  # 排第二
        aggregation, top_k = "nth", _small_int(nth.group("k"))
        text.take(*nth.span())
    diff_m = None if aggregation else _DIFF_RE.search(text.s)
    diff = diff_m is not None
    if diff_m is not None:
        aggregation = "signed" if diff_m.group(0)[0] in "多少高低贵便" else "abs"
        text.take_all(_DIFF_RE)
    goals = _GOALS_RE.search(text.s)
    if goals:
        text.take(*goals.span())
    value_cue = bool(_VALUE_RE.search(text.s))  # 是不是45%: the cue overlaps the condition
    cond, span = parse_condition(text.s)
    if span:
        text.take(*span)
    raw = text.s  # cue words are read from what is left
    # 潢源 names 潢源县教育局 when it is the region's only unit
    region_units = [u for u, r in vocab.unit_region.items() if r in ents["regions"]] if ents["regions"] else []
    lone_unit = not ents["units"] and len(region_units) == 1
    item = _budget_item(raw, vocab, ents["units"] or region_units)
    standard = bool(_STANDARD_RE.search(raw)) and not re.search(r"资金总额|预算总额|总预算", raw)
    budget_kind = None
    if table_count:
        budget_kind = "table_count"
    elif standard:
        budget_kind = None  # 人均补助标准 is an indicator, not an amount
    elif _EXPENSE_LIST_RE.search(raw):
        budget_kind = "expense_list"
    elif _BUDGET_TOTAL_RE.search(raw) and not item:
        budget_kind = "total"
    elif item and (not cond or amount_satisfies(0.0, cond) is not None and cond.unit):
        budget_kind = "funding" if key(item) in FUNDING_KEYS else "expense"  # 项目支出超过1000万
    if budget_kind in ("expense", "funding") and item:
        written = _alias_in(raw, item, vocab)
        if written in raw:
            text.take(raw.index(written), raw.index(written) + len(written))
    for pat in (
        _UNIT_WORD_RE,
        _POSITION_RE,
        _COUNT_RE,
        _WHICH_UNITS_RE,
        _WHICH_PROJECTS_RE,
        _COMPARE_RE,
        _LIST_RE,
        _BUDGET_TOTAL_RE,
        _SUM_RE,
    ):
        text.take_all(pat)
    per_person = text.take_all(_PER_PERSON_RE) if standard else []
    concept, free = (None, False) if budget_kind else _concept_for(text, vocab)
    if per_person and (concept is None or "标准" not in concept):
        concept, free = "补助标准", True  # 多少钱一个人 -> the per-person subsidy standard
    typed = [key(w) for w in translate_english(question).split()] if len(question.split()) > 1 else []
    also = _also(text, vocab, concept, typed)
    if (
        not budget_kind
        and not standard
        and _BUDGET_BARE_RE.search(raw)
        and (
            concept is None
            or concept_is_budget_word(concept)
            or (free and (bool(aggregation) or diff or not _names_contain(vocab, concept)))
        )
    ):
        budget_kind, concept, free = "total", None, False  # 监测中心预算 / 资金最少的项目
    if concept and ("职能" in concept or "职责" in concept):
        concept, free = None, False
    filters = Filters(
        units=tuple(ents["units"]),
        years=tuple(years),
        regions=tuple(ents["regions"]),
        table=table,
        projects=tuple(ents["projects"]),
        level1=level1,
        level2=level2,
        function=function,
    )
    base = Plan(
        intent="fallback_search",
        question=question,
        concept=concept,
        concept_free=free,
        condition=cond,
        column=column,
        filters=filters,
        aggregation=aggregation,
        top_k=top_k,
        unknown=tuple(unknown),
        also=also,
        want_family=_wanted_unit(q),
    )
    named = bool(free and concept and _names_contain(vocab, concept))
    if (goals and not cond and not budget_kind and not (concept and not free) and not _OPEN_RE.search(q)
            and (ents["units"] or ents["projects"] or ents["regions"])):  # fmt: skip
        kind = goals.group("kind")
        return replace(base, intent="goals", concept=None, concept_free=False,
                       aggregation="中长期" if kind == "中长期" else "年度" if "年度" in kind else "")  # fmt: skip
    if sup and sup.group("d") in ("贵", "便宜") and not budget_kind and concept is None:
        budget_kind = "total"  # 最贵的项目
    by_count = bool(sup and sup.group("d") in ("多", "少"))  # 指标最多: how many, not how high
    return _decide(base, raw, budget_kind, item, diff, named, value_cue, by_count, lone_unit)


_MEASURE_RE = re.compile(r"(?:几|多少)个?(?P<u>人次|次|套|所|场|节|条|份|期|台|篇|项|人|名|位|天|小时)")


def _wanted_unit(q: str) -> str | None:
    """几套 / 多少次 / 多少人: the unit the answer is counted in (``person`` for people)."""
    m = _MEASURE_RE.search(q)
    if not m:
        return None
    u = m.group("u")
    return "person" if u in ("人", "名", "位") else u


def concept_is_budget_word(concept: str | None) -> bool:
    return bool(concept) and bool(re.fullmatch(r"(?:预算|资金|经费|金额|钱|拨款|资金总额|总额|多少钱)+", concept or ""))


def _alias_in(raw: str, item: str, vocab: Vocabulary) -> str:
    """The alias of expense line ``item`` as written in ``raw`` (or the run it shares with it)."""
    exact = [a for a, n in vocab.expenses.items() if n == item and a in raw]
    if exact:
        return max(exact, key=len)
    k = key(item)
    n = _common_run(k, raw)
    return next((raw[i : i + n] for i in range(len(raw) - n + 1) if raw[i : i + n] in k), k)


def _rank_over(raw: str, p: Plan, budget_kind: str | None) -> str:
    f = p.filters
    which_units = bool(_WHICH_UNITS_RE.search(raw) or re.search(r"单位|部门", raw))
    which_projects = bool(_WHICH_PROJECTS_RE.search(raw) or _OVER_PROJECTS_RE.search(raw))
    if which_projects and not which_units:
        return "projects"
    if which_units:
        return "units"
    if budget_kind:
        return "projects" if f.table == "project" else "units"
    return "indicators"


def _decide(p: Plan, raw: str, budget_kind: str | None, item: str | None, diff: bool = False,
            named: bool = False, value_cue: bool = False, by_count: bool = False,
            lone_unit: bool = False) -> Plan:  # fmt: skip
    """Pick the intent from cue words (``raw``: the question minus entities)."""
    f = p.filters
    if p.unknown:
        return replace(p, intent="not_in_index", budget=budget_kind, budget_item=item)
    many_subjects = len(f.units) >= 2 or len(f.projects) >= 2
    compare_cue = bool(_COMPARE_RE.search(raw))
    compare_by = "years" if len(f.years) >= 2 else "projects" if len(f.projects) >= 2 else "units"
    has_subject = bool(f.units or f.projects or f.regions or f.years or f.table or f.function)
    has_topic = bool(p.concept or f.level1 or f.level2 or p.condition)
    if _FUNCTIONS_RE.search(raw) and not f.function and not p.concept and not budget_kind:
        agg = "count" if _COUNT_RE.search(raw) else "list"
        return replace(p, intent="functions", aggregation=agg)
    if diff and (many_subjects or len(f.years) >= 2 or len(f.units) + len(f.projects) >= 2):
        return replace(p, intent="difference", budget=budget_kind or None,
                       budget_item=item if budget_kind in ("expense", "funding") else None,
                       compare_by=compare_by)  # fmt: skip
    if (p.aggregation in ("max", "min", "top", "nth") and not budget_kind and not has_topic
            and _OVER_PROJECTS_RE.search(raw) and re.search(r"单位|部门|哪家|谁", raw)):  # fmt: skip
        return replace(p, intent="rank", rank_over="units", rank_by="projects")  # 哪个单位的项目最多
    if by_count and p.concept and re.search(r"指标(?:数|个数|数量|条数)?\s*(?:的|是|$)", raw):
        return replace(p, intent="rank", rank_over=_rank_over(raw, p, None), rank_by="rows")  # 满意度指标最多的单位
    if p.aggregation in ("max", "min", "top", "nth") and (budget_kind in ("total", "expense", "funding") or has_topic):
        over = _rank_over(raw, p, budget_kind)
        plan = replace(p, intent="rank", rank_over=over, budget=budget_kind,
                       budget_item=item if budget_kind in ("expense", "funding") else None)  # fmt: skip
        if (over == "projects" or (budget_kind and re.search(r"项目(?:的)?(?:资金|预算|经费|钱)", raw))) \
                and not f.projects:  # fmt: skip
            plan = replace(plan, filters=replace(f, table="project"))
        return plan
    if budget_kind:
        avg = bool(_AVG_RE.search(raw))
        plan = replace(
            p, intent="budget", budget=budget_kind, budget_item=item,
            aggregate=bool(_SUM_RE.search(_BUDGET_TOTAL_RE.sub(" ", raw))) or avg,
            aggregation="avg" if avg else p.aggregation,
        )
        if (_WHICH_PROJECTS_RE.search(raw) or _EACH_PROJECT_RE.search(raw)) and not f.table and not f.projects:
            plan = replace(plan, filters=replace(f, table="project"))  # 哪些项目的资金总额…
        if budget_kind in ("total", "expense", "funding") and not plan.aggregate and (
            compare_cue or many_subjects or len(f.years) >= 2
        ):
            return replace(plan, intent="compare", compare_by=compare_by)
        return plan
    if _OPEN_RE.search(raw) and not (_WHICH_UNITS_RE.search(raw) or _WHICH_PROJECTS_RE.search(raw)):
        return _fallback(p, "开放式问题")
    if not (has_topic or has_subject) and _COUNT_RE.search(raw) and (
        _COUNT_UNITS_RE.search(raw) or _COUNT_PROJECTS_RE.search(raw)
    ):  # 一共有多少个单位
        return replace(p, intent="count", count_of="units" if _COUNT_UNITS_RE.search(raw) else "projects")
    if not (has_topic or has_subject):
        return _fallback(p, "未识别出指标、单位或条件")
    if (compare_cue or many_subjects or len(f.years) >= 2) and has_topic:
        return replace(p, intent="compare", compare_by=compare_by)
    if _EACH_VALUE_RE.search(raw) and has_topic:  # 苏州几个单位的预算执行率都是多少
        return replace(p, intent="list_indicators")
    if _COUNT_RE.search(raw):
        count_of = (
            "units"
            if _COUNT_UNITS_RE.search(raw)
            else "projects"
            if _COUNT_PROJECTS_RE.search(raw)
            else "indicators"
        )
        return replace(p, intent="count", count_of=count_of)
    if _WHICH_UNITS_RE.search(raw) or re.search(r"有没有单位|是否有单位|有单位", raw):
        return replace(p, intent="which_units")
    if _WHICH_PROJECTS_RE.search(raw) and not f.projects:
        return replace(p, intent="which_projects", filters=replace(f, table="project"))
    if p.concept and p.condition and not has_subject and re.search(r"的(?:有哪些|是哪些|都有谁)", raw):
        return replace(p, intent="which_units")  # 满意度低于90%的有哪些
    if _LIST_RE.search(raw) and (has_topic or has_subject):
        return replace(p, intent="list_indicators")
    one_unit = bool(f.units) or lone_unit
    if p.concept and (one_unit or f.projects or f.function or p.also) and (value_cue or _VALUE_RE.search(raw)):
        return replace(p, intent="unit_value")
    if p.concept and p.condition and named and re.search(r"吗|是否|是不是|有没有|够不够", raw):
        return replace(p, intent="unit_value")  # 某指标超过30万人次吗: a yes/no about one indicator
    if p.concept and p.condition:
        return replace(p, intent="which_units")
    if p.concept and (one_unit or f.projects or f.function):
        # no value cue: a category (满意度) is listed, a named indicator is looked up
        category = not p.concept_free and bool(CONCEPTS[p.concept].categories)
        asked_value = bool(re.search(r"目标|定的|定了|要求|上限|下限", raw))
        listing = category and not asked_value and not f.projects
        return replace(p, intent="list_indicators" if listing else "unit_value")
    if has_topic and has_subject:
        return replace(p, intent="list_indicators")
    if f.function:
        return replace(p, intent="list_indicators")
    if p.concept and not p.concept_free:
        return replace(p, intent="list_indicators")
    if p.concept and p.concept_free and named and (_VALUE_RE.search(raw) or len(p.concept) >= 6):
        return replace(p, intent="unit_value")
    if p.concept and p.concept_free and named:  # a topic typed on its own (培训合格率)
        return replace(p, intent="list_indicators")
    return _fallback(p, "未能确定问题类型")


def _fallback(p: Plan, note: str) -> Plan:
    """A fallback plan keeps its filters but no half-understood concept."""
    return replace(p, intent="fallback_search", concept=None, concept_free=False, note=note)


def describe_plan(plan: Plan) -> str:
    """The plan in words: ``理解为：…`` (shown above every answer)."""
    f = plan.filters
    parts = []
    scope = []
    if f.regions and not f.units:
        scope.append("地区=" + "、".join(f.regions))
    if f.units:
        scope.append("单位=" + "、".join(f.units))
    if f.projects:
        scope.append("项目=" + "、".join(f.projects))
    if f.years:
        scope.append("年度=" + "、".join(str(y) for y in f.years))
    if f.table:
        scope.append("表=" + {"department": "部门整体", "project": "项目支出"}[f.table])
    if f.function:
        scope.append("核心职能=" + f.function)
    if f.level1 or f.level2:
        scope.append("指标层级=" + "/".join(x.replace("|", "、") for x in (f.level1, f.level2) if x))
    if scope:
        parts.append("范围：" + "，".join(scope))
    if plan.budget:
        what = {"total": "资金总额", "table_count": "绩效目标表数量", "expense_list": "支出明细"}.get(
            plan.budget, plan.budget_item or "预算"
        )
        parts.append("对象：" + what + ("（半年计划执行数）" if plan.column == "half_year" else ""))
    elif plan.concept:
        also = "".join(f"+“{a}”" for a in plan.also)
        parts.append("对象：指标“" + plan.concept + "”" + also + ("（半年指标值）" if plan.column == "half_year" else ""))
    if plan.condition:
        parts.append("条件：" + plan.condition.label())
    agg = {
        "which_units": "列出单位", "which_projects": "列出项目", "list_indicators": "列出指标",
        "unit_value": "取值", "count": "计数", "compare": "对比", "budget": "取金额",
        "difference": "求差", "functions": "核心职能" + ("计数" if plan.aggregation == "count" else "列表"),
        "goals": f"取{plan.aggregation or '绩效'}目标原文",
        "not_in_index": "核对名称是否在索引中", "fallback_search": "检索",
    }.get(plan.intent, plan.intent)  # fmt: skip
    if plan.intent == "rank":
        over = {"units": "单位", "projects": "项目", "indicators": "指标"}.get(plan.rank_over or "", "")
        agg = {"max": "最高的", "min": "最低的", "top": f"排前{plan.top_k}的", "nth": f"排第{plan.top_k}的"}.get(
            plan.aggregation, "") + over  # fmt: skip
        if plan.aggregation == "min" and plan.top_k > 1:
            agg = f"最低的{plan.top_k}个{over}"
        by = {"rows": "按指标条数", "projects": "按项目个数"}.get(plan.rank_by, "按数值")
        agg = f"{by}排序，取" + agg
    parts.append("计算：" + agg)
    if plan.unknown:
        parts.append("未在索引中找到：" + "、".join(plan.unknown))
    return "理解为：" + "；".join(parts)


__all__ = [
    "INTENTS",
    "Condition",
    "Filters",
    "Plan",
    "Verdict",
    "Vocabulary",
    "bare",
    "build_vocabulary",
    "check_target",
    "describe_plan",
    "parse_condition",
    "parse_question",
    "translate_english",
]
