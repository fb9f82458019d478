"""Parse target values (指标值) such as ``≥90%``, ``3 名`` or ``按时完成``.

``parse_target`` turns one value cell into a :class:`~indexer.model.Target`;
``value_likeness`` scores how much a cell looks like a value rather than an
indicator name (used by the layout stage when columns are shifted).

Parsing rules (see ``parse_target`` for the full contract):

* The text is cleaned (``clean_cell``), full-width forms are folded
  (``＞＜＝％０-９，～`` ...), ``≧ ⩾`` become ``≥`` and ``≦ ⩽`` become ``≤``, and
  traditional characters are simplified, so ``不低於９５％`` reads as ``不低于95%``.
  ``Target.text`` always keeps the value exactly as given.
* A value is numeric only when it is essentially *operator + number + unit*:
  after removing operator words (``≥ 不低于 以上 控制在 …``), the number, the
  unit and a few filler words (``每年 全年 达到 约 左右 …``) nothing else may
  remain.  Everything else is qualitative (``qualitative=True``, op/number/unit
  ``None``), including values with an incidental number such as ``排名前三`` or
  ``48小时内解决``.
* Dates and deadlines (``2023年12月31日前``, ``12月底前完成``, ``2023-12-31``) are
  qualitative: they are not quantities to compare, and a deadline as an
  ``≤ date`` target would need a date type ``Target`` does not have.
* ``万`` and ``亿`` stay in the unit (``≤115.33 万元`` -> 115.33 ``万元``,
  ``二十万元`` -> 20 ``万元``) because budgets and head counts are written in those
  units; ``千`` and ``百`` right after Arabic digits multiply (``3千`` -> 3000).
* Units are returned in simplified script (``萬元`` -> ``万元``).
* Placeholders that mean "no value" (``/``, ``-``, ``—``, ``——``) parse like an
  empty cell: ``qualitative=False`` and everything ``None``.
* Negative numbers are read only directly after an operator (``≥-5%``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import NamedTuple

import cn2an

from indexer.model import Target
from indexer.normalize import clean_cell, to_simplified
from indexer.values.lexicon import (
    STRONG_PREFIX_OPS,
    SUFFIX_OPS,
    SYMBOL_VARIANTS,
    WEAK_PREFIX_OPS,
    alternation,
)
from indexer.values.units import KNOWN_UNITS

# ---------------------------------------------------------------------------
# folding

# Full-width ASCII (U+FF01..U+FF5E) -> ASCII, ideographic space -> space, small
# forms and operator variants -> one canonical character.  Unlike NFKC this
# leaves ``²``, ``㎡`` and ``℃`` alone.
_FOLD: dict[int, int | str] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD.update(
    {
        0x3000: " ",
        0xFE62: "+",
        0xFE63: "-",
        0xFE64: "<",
        0xFE65: ">",
        0xFE66: "=",
        0x2212: "-",  # minus sign
        0x301C: "~",  # wave dash
    }
)
# ≧ ⩾ ≦ ⩽ ≮ ≯ ═ …: the lexicon's symbol spellings
_FOLD.update({ord(w): op for w, op in SYMBOL_VARIANTS.items() if len(w) == 1})


def _prepare(text: str) -> str:
    """Cleaned, width-folded, simplified form used for parsing (not for display)."""
    return to_simplified(clean_cell(text).translate(_FOLD)).strip()


# ---------------------------------------------------------------------------
# numbers

_CN_DIGITS = "零〇一二两三四五六七八九"
_AR = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_CN = rf"[{_CN_DIGITS}十百千万亿]+(?:点[{_CN_DIGITS}]+)?"
# Arabic number, optionally times 百/千 ("3千"; not 千米/千克/百分点), or a run
# of Chinese numerals.
_NUM_RE = re.compile(rf"(?P<ar>{_AR})(?P<mult>[百千](?![米克瓦分]))?|(?P<cn>{_CN})")
_CN_HAS_DIGIT_RE = re.compile(rf"[{_CN_DIGITS}十]")
# 百分之九十五 -> 95%, 千分之五 -> 5‰
_PER_WORD_RE = re.compile(rf"(?P<base>百分之|千分之)(?P<n>[{_CN_DIGITS}十百点]+|\d+(?:\.\d+)?)")
_MULT = {"百": 100.0, "千": 1000.0}


class _Num(NamedTuple):
    value: float
    start: int
    end: int  # where the unit may begin
    strict: bool  # Chinese numeral: only known units are accepted


def _cn_value(numeral: str) -> float | None:
    """Value of a Chinese numeral, or None when it is not a clean numeral."""
    if not numeral or not _CN_HAS_DIGIT_RE.search(numeral):
        return None
    try:
        return float(cn2an.cn2an(numeral, "normal"))
    except Exception:  # cn2an raises ValueError/KeyError/... on odd input
        return None


def _fmt(v: float) -> str:
    return str(int(v)) if v.is_integer() else repr(v)


def _per_word(m: re.Match[str]) -> str:
    n = m.group("n")
    v = float(n) if n[0].isdigit() else _cn_value("一百" if n == "百" else n)
    if v is None:
        return m.group(0)
    return _fmt(v) + ("%" if m.group("base") == "百分之" else "‰")


def _numbers(s: str) -> list[_Num]:
    out: list[_Num] = []
    for m in _NUM_RE.finditer(s):
        if m.group("ar"):
            v = float(m.group("ar").replace(",", ""))
            if m.group("mult"):
                v *= _MULT[m.group("mult")]
            out.append(_Num(v, m.start(), m.end(), False))
            continue
        token = m.group("cn")
        core = token.rstrip("万亿")  # trailing 万/亿 belong to the unit (万元, 亿元)
        v = _cn_value(core)
        if v is not None:
            out.append(_Num(v, m.start(), m.start() + len(core), True))
    return out


# ---------------------------------------------------------------------------
# units

_KNOWN_UNIT_SET = frozenset(KNOWN_UNITS)
_KNOWN_UNIT_RE = re.compile("|".join(re.escape(u) for u in sorted(KNOWN_UNITS, key=len, reverse=True)))
_MAX_UNIT_LEN = 6
# A unit token runs up to whitespace, a digit, punctuation, an operator or a
# range separator.
_UNIT_TOKEN_RE = re.compile(r"[^\s\d,.;:!?、。；：！？()（）\[\]【】<>=≥≤~〜\-—–至到\"'“”]+")
# Where a unit token stops being a unit: suffix operators and trailing fillers.
_UNIT_CUT_RE = re.compile(alternation(SUFFIX_OPS) + r"|左右|为宜|完成")
_UNIT_HINT_MAP = {"百分比": "%", "百分率": "%", "百分之": "%"}
_PLACEHOLDER_RE = re.compile(r"[/\\\-—–]+")


def _take_unit(s: str, num: _Num) -> tuple[str | None, int]:
    """Unit written right after ``num`` and the index where it ends."""
    pos = num.end
    while pos < len(s) and s[pos].isspace():
        pos += 1
    m = _UNIT_TOKEN_RE.match(s, pos)
    if not m:
        return None, num.end
    token = m.group(0)
    cut = _UNIT_CUT_RE.search(token)
    head = token[: cut.start()] if cut else token
    if head[:1] in ("%", "‰"):
        return head[0], pos + 1
    known = _KNOWN_UNIT_RE.match(head)
    known_unit = known.group(0) if known else ""
    if num.strict:
        # Chinese numerals are also word parts (一流, 统一): known units only,
        # or composites of known units (次/年).
        parts = head.split("/")
        unit = head if len(parts) > 1 and all(p in _KNOWN_UNIT_SET for p in parts) else known_unit
    elif len(head) <= _MAX_UNIT_LEN:
        unit = head  # generic rule: unknown short units are still units
    else:
        unit = known_unit
    if not unit:
        return None, num.end
    return unit, pos + len(unit)


def _norm_unit_hint(unit_hint: str) -> str | None:
    u = re.sub(r"\s+", "", _prepare(unit_hint))
    if not u or _PLACEHOLDER_RE.fullmatch(u) or u == "无":
        return None
    return _UNIT_HINT_MAP.get(u, u)


# ---------------------------------------------------------------------------
# operators and fillers

# Operator words come from the one lexicon (indexer.values.lexicon).
_STRONG_OPS = STRONG_PREFIX_OPS
_WEAK_OPS = WEAK_PREFIX_OPS
_SUFFIX_OPS = SUFFIX_OPS
# Words that may surround "op + number + unit" without making it qualitative.
FILLERS: tuple[str, ...] = (
    "每年", "全年", "年度", "年均", "每月", "每季度", "每学期", "每学年", "每周", "每天", "每日",
    "平均", "人均", "生均", "累计", "共计", "合计", "总计", "共", "大约", "约", "左右", "为宜",
    "保持在", "维持在", "保持", "确保", "力争", "完成", "实现", "在", "为", "及",
)  # fmt: skip


def _alternation(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


_STRONG_RE = _alternation(_STRONG_OPS)
_WEAK_RE = _alternation(_WEAK_OPS)
_SUFFIX_RE = _alternation(_SUFFIX_OPS)
_FILLER_RE = _alternation(FILLERS)
_PUNCT_RE = re.compile(r"[\s,.;:!?、。；：！？()（）\[\]【】\"'“”]+")
_RANGE_SEP_RE = re.compile(r"\s*(?:-{1,2}|—{1,2}|–{1,2}|~|〜|至|到)\s*")
# 一年 1 次 / 每年2次 / 全年3次: a leading "per period" that is not the value
_FREQ_PREFIX_RE = re.compile(r"^(?:每|一|全)个?(?:学年|学期|季度|年度|年|月|周|星期|天|日)")
_ANY_DIGIT_RE = re.compile(rf"[\d{_CN_DIGITS}十]")
_DATE_RE = re.compile(
    r"(?:19|20)\d{2}\s*年"  # 2023年
    r"|[〇零一二三四五六七八九]{4}\s*年"  # 二〇二三年
    r"|\d{1,2}\s*月\s*\d{1,2}\s*[日号]"  # 12月31日
    r"|[年月]\s*(?:底|末|初|中旬|上旬|下旬)"  # 12月底, 年底
    r"|[日号月年底末旬]\s*之?[前后]"  # …日前, 6月前, 年底前
    r"|\d{4}[-/]\d{1,2}[-/]\d{1,2}"  # 2023-12-31
)


def _pull(part: str, pattern: re.Pattern[str], table: dict[str, str]) -> tuple[list[str], str]:
    """Operators found in ``part`` (in order) and ``part`` without them."""
    ops = [table[m.group(0)] for m in pattern.finditer(part)]
    return ops, pattern.sub(" ", part)


def _is_residue_free(part: str) -> bool:
    return not _PUNCT_RE.sub("", _FILLER_RE.sub("", part))


def _op_from_hint(op_hint: str) -> str | None:
    h = re.sub(r"\s+", "", _prepare(op_hint))
    for table in (_STRONG_OPS, _WEAK_OPS, _SUFFIX_OPS):
        if h in table:
            return table[h]
    return None


# ---------------------------------------------------------------------------
# parse

# (op, number, unit, qualitative)
_Fields = tuple[str | None, float | tuple[float, float] | None, str | None, bool]
_QUALITATIVE: _Fields = (None, None, None, True)
_EMPTY: _Fields = (None, None, None, False)


@functools.lru_cache(maxsize=65536)
def _parse(text: str, op_hint: str, unit_hint: str) -> _Fields:
    s = _prepare(text)
    if not s or _PLACEHOLDER_RE.fullmatch(s):
        return _EMPTY
    if _DATE_RE.search(s):
        return _QUALITATIVE
    s = _PER_WORD_RE.sub(_per_word, s)
    freq = _FREQ_PREFIX_RE.match(s)
    if freq and _ANY_DIGIT_RE.search(s, freq.end()):
        s = " " + s[freq.end() :]
    nums = _numbers(s)
    if not nums or len(nums) > 2:
        return _QUALITATIVE
    first = nums[0]
    unit, end = _take_unit(s, first)
    number: float | tuple[float, float]
    if len(nums) == 2:
        second = nums[1]
        if not _RANGE_SEP_RE.fullmatch(s[end : second.start]):
            return _QUALITATIVE
        unit2, end = _take_unit(s, second)
        lo, hi = sorted((first.value, second.value))
        number, unit = (lo, hi), unit2 or unit
    else:
        number = first.value
    strong, prefix = _pull(s[: first.start], _STRONG_RE, _STRONG_OPS)
    weak, prefix = _pull(prefix, _WEAK_RE, _WEAK_OPS)
    post, suffix = _pull(s[end:], _SUFFIX_RE, _SUFFIX_OPS)
    prefix = prefix.rstrip()
    if prefix.endswith("-") and isinstance(number, float) and (strong or weak):
        number, prefix = -number, prefix[:-1]
    if not (_is_residue_free(prefix) and _is_residue_free(suffix)):
        return _QUALITATIVE
    if isinstance(number, tuple):
        op = "range"
    else:
        op = (strong or post or weak or [None])[0] or _op_from_hint(op_hint) or "="
    if unit is None and unit_hint:
        unit = _norm_unit_hint(unit_hint)
    return op, number, unit, False


def parse_target(text: str, *, op_hint: str = "", unit_hint: str = "") -> Target:
    """Parse one target value cell.

    ``text`` is kept verbatim in ``Target.text``.  ``op_hint`` (a separate
    计算符号 column, e.g. ``≥`` or ``大于等于``) and ``unit_hint`` (a 计量单位 /
    度量单位 column, e.g. ``%``, ``人次``, ``百分比``) are used only when the value
    itself has no operator / unit, and only for numeric values.

    Results:

    * numeric: ``op`` in ``≥ ≤ > < =`` (a bare number is ``=``), ``number`` a
      float, ``unit`` the short token written after the number or None
      (``≥0万人次`` -> ``≥ 0.0 万人次``; ``一年 1 次`` -> ``= 1.0 次``);
    * range (``10-11月份``, ``5月--10月``, ``90%～95%``, ``3至5次``): ``op="range"``,
      ``number=(lo, hi)``, unit from the right side, else the left side;
    * qualitative (健全, 按时完成, 排名前三, dates/deadlines such as
      ``2023年12月31日前``): ``qualitative=True`` and op/number/unit None;
    * empty or a placeholder (``/``, ``—``): ``qualitative=False``, all None.
    """
    op, number, unit, qualitative = _parse(text or "", op_hint or "", unit_hint or "")
    return Target(text=text, op=op, number=number, unit=unit, qualitative=qualitative)


# ---------------------------------------------------------------------------
# value likeness

_QUALITATIVE_VALUES: tuple[str, ...] = (
    "是", "否", "有", "无", "高", "中", "低", "好", "优", "良",
    "健全", "合理", "明确", "规范", "科学", "公开", "合规", "有效", "完善", "及时", "完成",
    "按时", "按期", "按时完成", "按期完成", "按时开展", "按计划", "按计划完成", "按要求", "按规定",
    "按进度实施", "验收合格", "合格", "达标", "优秀", "良好", "较好", "满意", "准确", "稳定",
    "正常", "安全", "足额", "足额发放", "及时发放", "全覆盖", "无事故", "长期", "中长期", "按月",
    "提高", "提升", "增强", "改善", "明显", "显著", "显著提高", "显著提升", "明显提升", "明显提高",
    "不断提高", "不断提升", "有效提高", "有效提升", "逐步提高", "逐年提高", "稳步提升", "持续提升",
    "有所提高", "长期有效", "应助尽助", "应保尽保", "充分保障", "保持全市前三", "全市县区排名前三",
    "社会反响良好", "奠定基础", "效果显著", "力争实现", "严格控制", "不发生网络安全事故",
    "全部整改完成，不逾期", "建立健全相关制度", "反馈效果较好",
)  # fmt: skip
# Endings that mark an indicator name; a short value-verb phrase never
# overrides the strong ones (保障特岗人员人数 is a name).
NAME_SUFFIXES_STRONG: tuple[str, ...] = (
    "率", "性", "度", "数", "数量", "比例", "比重", "占比", "时间", "时限", "时长", "周期",
    "成本", "费", "经费", "费用", "资金", "金额", "额度", "场次", "频次", "人次", "规模", "面积",
    "指标", "值", "名称", "目标", "名额", "总额", "合计", "拨款", "基金", "资本金", "支出", "结转",
    "代码", "概述",
)  # fmt: skip
# Endings common in names but also in "improve X" values (提升教师专业水平).
NAME_SUFFIXES_WEAK: tuple[str, ...] = (
    "水平", "质量", "能力", "效果", "效益", "情况", "建设", "管理", "工作", "活动", "项目",
    "服务", "制度", "机制", "体系", "平台", "环境", "条件", "标准", "安全", "培训", "信心",
    "意识", "素质", "素养", "影响", "评价", "职能", "测评",
)  # fmt: skip
# Verbs that open short result phrases (values), e.g. 提升教师专业水平.
VALUE_VERBS: tuple[str, ...] = (
    "提升", "提高", "增强", "改善", "建立", "健全", "完善", "保持", "实现", "达到", "不断",
    "有效", "显著", "持续", "逐步", "稳步", "明显", "进一步", "全面", "力争", "确保",
)  # fmt: skip
# Evaluative endings of short values (社会反响良好, 反馈效果较好).
VALUE_ENDINGS: tuple[str, ...] = (
    "良好", "较好", "显著", "合格", "完成", "到位", "达标", "提高", "提升", "增强", "改善",
    "明显", "完善", "健全", "及时", "有效", "规范", "落实", "满意", "优良", "无误", "准确",
    "无事故", "不逾期", "前三", "前列", "领先",
)  # fmt: skip
# Openings of short values (不发生…, 无…, 按时…, 全部…).
VALUE_STARTS: tuple[str, ...] = ("不", "无", "未", "零", "全部", "按", "应", "均", "逐年")
# What a deadline value is made of (2023年12月31日前完成): used to tell it from
# a name that merely mentions a year (组织2022年项目的结题评审).
_DATE_CHARS_RE = re.compile(rf"[\d{_CN_DIGITS}十年月日号底末初旬中上下前后之以截止至完成-]+")
# table labels, incl. the 指标值类型 column (定量/定性) some provinces add
_LABELS = frozenset({"小计", "合计", "总计", "收入", "支出", "其中", "定量", "定性"})
_LABEL_RE = re.compile(r"^(?:指标|职能|目标|任务)\s*\d+\s*[:：]")  # 指标1: / 职能2: …
_ANY_OP = "|".join(re.escape(w) for w in sorted([*_STRONG_OPS, *_WEAK_OPS], key=len, reverse=True))
# "name + op + number" such as 师生满意度大于 90%
_TRAILING_CMP_RE = re.compile(rf"(?P<op>{_ANY_OP})?(?:{_AR})[^\d]{{0,4}}$")


def _squash(text: str) -> str:
    return _PUNCT_RE.sub("", _prepare(text))


_QUALITATIVE_VALUE_KEYS = frozenset(_squash(v) for v in _QUALITATIVE_VALUES)


def value_likeness(text: str) -> float:
    """How much ``text`` looks like a target value (1.0) vs an indicator name (0.0).

    Heuristics, first match wins (spaces and punctuation ignored):

    1. empty -> 0.0; placeholder (``/``, ``—``) -> 0.6; numeric target -> 1.0;
    2. known qualitative value (健全, 按时完成, 社会反响良好 …) -> 0.95;
       table labels (小计, 指标1:) -> 0.05;
    3. "name + [op] number" (师生满意度大于 90%) -> 0.15 when the head ends in a
       name suffix, else 0.55 if an operator is present;
    4. dates/deadlines (nothing but date words) -> 0.85; coverage statements (覆盖全区…) -> 0.7;
    5. ends in a strong name suffix (率 性 度 数 数量 比例 时间 成本 费 …) -> 0.15;
    6. ≤ 9 chars opening with a result verb (提升 提高 建立 保持 …) -> 0.75;
    7. ends in a weak name suffix (水平 质量 工作 安全 …) -> 0.25;
    8. ≤ 8 chars with an evaluative ending (良好 较好 显著 合格 …) -> 0.8;
    9. ≤ 10 chars opening with 不/无/按/全部/应 … -> 0.75;
    10. other short phrases (≤ 6 chars) -> 0.7; long ones (≥ 10 chars) -> 0.2;
        7-9 chars: 0.6 if they contain a number, else 0.4.
    """
    body = _squash(text)
    if not body:
        return 0.0
    if _PLACEHOLDER_RE.fullmatch(body):
        return 0.6
    if parse_target(text).is_numeric:
        return 1.0
    if body in _QUALITATIVE_VALUE_KEYS:
        return 0.95
    if body in _LABELS or _LABEL_RE.match(_prepare(text)):
        return 0.05
    cmp_ = _TRAILING_CMP_RE.search(body)
    if cmp_ and cmp_.start() > 0:
        head = body[: cmp_.start()]
        if head.endswith(NAME_SUFFIXES_STRONG + NAME_SUFFIXES_WEAK):
            return 0.15
        if cmp_.group("op"):
            return 0.55
    if _DATE_RE.search(body) and len(_DATE_CHARS_RE.sub("", body)) <= 2:
        return 0.85
    if body.startswith("覆盖") and not body.startswith(("覆盖率", "覆盖面")):
        return 0.7
    n = len(body)
    if body.endswith(NAME_SUFFIXES_STRONG):
        return 0.15
    if n <= 9 and body.startswith(VALUE_VERBS):
        return 0.75
    if body.endswith(NAME_SUFFIXES_WEAK):
        return 0.25
    if n <= 8 and body.endswith(VALUE_ENDINGS):
        return 0.8
    if n <= 10 and body.startswith(VALUE_STARTS):
        return 0.75
    if n <= 6:
        return 0.7
    if n >= 10:
        return 0.2
    return 0.6 if _numbers(body) else 0.4
