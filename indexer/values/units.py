"""Units: the tokens a value may carry, their families and conversions.

``KNOWN_UNITS`` is what the target parser accepts after a Chinese numeral;
``UNIT_FAMILIES`` maps a unit to ``(family, factor to the family's base)`` so
``≤200000元`` compares with ``20万元`` and ``≥32万人次`` with ``30000人次``.
The checker's allowed-unit lists are views of the same families.
"""

from __future__ import annotations

import re

KNOWN_UNITS: tuple[str, ...] = (
    "%", "‰", "个百分点", "百分点",
    "万人次", "人次", "万人", "人", "名", "位", "户", "家",
    "亿元", "万元", "千元", "元", "万", "亿",
    "元/学年", "元/人", "人/元", "元/生", "元/年", "元/月", "元/人/年",
    "次", "个", "所", "套", "台套", "节", "期", "场", "场次", "份", "条", "台", "项", "篇",
    "件", "本", "册", "批", "处", "座", "间", "辆", "张", "部", "门", "届", "轮", "类", "种",
    "校", "班", "级", "岁", "课时", "学时", "分",
    "天", "日", "个工作日", "工作日", "小时", "分钟", "秒", "周", "个月", "月份", "月",
    "年", "学年", "学期",
    "平方米", "平方公里", "立方米", "公里", "千米", "米", "亩", "公顷",
    "吨", "千克", "公斤", "克",
    "TB", "GB", "MB", "KB", "PB", "M", "G", "Mbps", "Gbps", "兆", "千兆", "万兆",
)  # fmt: skip

# unit -> (family, factor to the family's base unit)
UNIT_FAMILIES: dict[str, tuple[str, float]] = {
    "%": ("percent", 1.0),
    "元": ("money", 1.0),
    "千元": ("money", 1e3),
    "万元": ("money", 1e4),
    "万": ("money", 1e4),
    "亿元": ("money", 1e8),
    "亿": ("money", 1e8),
    "人": ("person", 1.0),
    "名": ("person", 1.0),
    "位": ("person", 1.0),
    "万人": ("person", 1e4),
    "人次": ("person_time", 1.0),
    "万人次": ("person_time", 1e4),
    "天": ("day", 1.0),
    "日": ("day", 1.0),
}

# allowed units per kind of indicator (checker), in the order they are suggested
PERCENT_UNITS: tuple[str, ...] = ("%", "‰", "个百分点", "百分点")
PERSON_UNITS: tuple[str, ...] = ("人", "人次", "名", "万人", "万人次", "位")
TIMES_UNITS: tuple[str, ...] = ("次", "场次", "轮次", "批次", "万次")
DAY_UNITS: tuple[str, ...] = ("天", "个工作日", "日", "工作日")
TIME_UNITS: frozenset[str] = frozenset(
    {"秒", "分钟", "小时", "天", "日", "个工作日", "工作日", "周", "月", "个月", "月份", "年", "学年"}
)
MONEY_UNIT_RE = re.compile(r"^(?:元|千元|万元|亿元)(?:/.+)?$")


def unit_scale(target_unit: str | None, cond_unit: str | None) -> float | None:
    """Factor turning a number in ``target_unit`` into ``cond_unit``; None if the
    units belong to different families.  A condition without a unit compares
    the numbers as written (factor 1)."""
    if cond_unit is None:
        return 1.0
    if target_unit == cond_unit:
        return 1.0
    a, b = UNIT_FAMILIES.get(target_unit or ""), UNIT_FAMILIES.get(cond_unit)
    if a is None or b is None or a[0] != b[0]:
        return None
    return a[1] / b[1]


def to_wan(unit: str | None) -> float | None:
    """Factor turning an amount in ``unit`` into 万元 (no unit: already 万元)."""
    if not unit:
        return 1.0
    fam = UNIT_FAMILIES.get(unit)
    if fam is None or fam[0] != "money":
        return None
    return fam[1] / 1e4


__all__ = [
    "DAY_UNITS",
    "KNOWN_UNITS",
    "MONEY_UNIT_RE",
    "PERCENT_UNITS",
    "PERSON_UNITS",
    "TIMES_UNITS",
    "TIME_UNITS",
    "UNIT_FAMILIES",
    "to_wan",
    "unit_scale",
]
