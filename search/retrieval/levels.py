"""Canonical 一级/二级 labels: one rule for grouping, filtering and dropdowns.

Labels are stored as written (``效益``, ``效益指標``, ``项目效益指标`` ...);
``canonical_levels`` gives the label of the current framework (``效益指标``)
that suggestions group by, search filters compare and the web dropdowns offer:

- 二级 labels get their ``指标`` suffix (数量 -> 数量指标);
- older tables' 成本指标 under 产出 becomes 成本指标/经济成本指标 and 满意度指标
  under 效益 becomes 满意度指标/服务对象满意度指标;
- the 二级 of 履职 rows (free-text duties) is dropped;
- unlabelled rows mentioning 满意 go to 满意度指标, other unlabelled rows to an empty group.
"""

from __future__ import annotations

from indexer import vocab
from indexer.normalize import key

LEVEL1_LABELS = {
    "产出": "产出指标", "成本": "成本指标", "效益": "效益指标", "满意度": "满意度指标",
    "决策": "决策", "过程": "过程", "履职": "履职",
}  # fmt: skip
_LEVEL1_ORDER = ["产出指标", "成本指标", "效益指标", "满意度指标", "决策", "过程", "履职", ""]
_LEVEL2_ORDER = [
    "数量指标", "质量指标", "时效指标",
    "经济成本指标", "社会成本指标", "生态环境成本指标",
    "经济效益指标", "社会效益指标", "生态效益指标", "环境效益指标", "可持续影响指标",
    "服务对象满意度指标", "社会公众满意度指标",
    "计划制定", "目标设定", "预算编制", "项目立项", "资金投入",
    "预算执行", "预算管理", "资金管理", "资产管理", "项目管理", "人员管理", "机构建设", "组织实施", "财务管理",
]  # fmt: skip
_STANDARD = frozenset({"产出", "成本", "效益", "满意度"})


def _level2_label(level2: str, category: str | None) -> str:
    k = key(level2).rstrip(":：")
    if category in _STANDARD and k and not k.endswith("指标"):
        return k + "指标"
    return k


def canonical_levels(level1: str, level2: str, name: str = "") -> tuple[str, str]:
    """(一级, 二级) group labels of a row in the current framework (see module docstring)."""
    c1 = vocab.level1_category(level1) if level1 else None
    c2 = (vocab.level2_category(level2) or vocab.level1_category(level2)) if level2 else None
    if c1 == "产出" and c2 == "成本":
        specific = vocab.level2_category(level2) == "成本"
        return "成本指标", _level2_label(level2, "成本") if specific else "经济成本指标"
    if c1 == "效益" and c2 == "满意度":
        return "满意度指标", "服务对象满意度指标"
    if c1 is None:
        if not level1 and not level2 and "满意" in name:
            return "满意度指标", "服务对象满意度指标"
        return key(level1), _level2_label(level2, None)
    if c1 == "履职":
        return LEVEL1_LABELS[c1], ""
    return LEVEL1_LABELS[c1], _level2_label(level2, c1)


def group_order(level1: str, level2: str) -> tuple[int, int]:
    i = _LEVEL1_ORDER.index(level1) if level1 in _LEVEL1_ORDER else len(_LEVEL1_ORDER)
    j = _LEVEL2_ORDER.index(level2) if level2 in _LEVEL2_ORDER else len(_LEVEL2_ORDER)
    return i, j


def canonical_level1(label: str) -> str:
    """The canonical 一级 label a user typed or picked (``效益`` / ``效益指標`` -> ``效益指标``)."""
    c = vocab.level1_category(label) if label else None
    return LEVEL1_LABELS[c] if c else key(label).rstrip(":：")


def level1_matches(wanted: str, canonical: str) -> bool:
    """Filter on the canonical 一级 label: same category, else containment of the normalised text."""
    w = canonical_level1(wanted)
    return bool(w) and (w == canonical or (w not in LEVEL1_LABELS.values() and w in canonical))


def level2_matches(wanted: str, canonical: str) -> bool:
    """Filter on the canonical 二级 label (``数量`` matches ``数量指标``)."""
    w = key(wanted).rstrip(":：")
    return bool(w) and bool(canonical) and (w == canonical or w in canonical)
