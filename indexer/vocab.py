"""Domain vocabulary of 绩效目标表: level labels, column headers, table keys.

All lookups go through ``indexer.normalize.key`` so full-width, traditional
and spaced variants match.  Categories are the canonical 一级 names used to
relate 二级 labels to their 一级 parent.
"""

from __future__ import annotations

import functools
import re

from indexer.normalize import GLOSS_RE, key

# --- 一级指标 -------------------------------------------------------------
# label (as keys) -> category
LEVEL1: dict[str, str] = {}
for _cat, _labels in {
    "产出": ["产出指标", "产出", "项目完成指标", "完成指标", "产出类指标", "预期产出指标"],
    "效益": ["效益指标", "效益", "项目效益指标", "效果指标", "效益类指标"],
    "满意度": ["满意度指标", "满意度", "社会公众或服务对象满意度指标", "满意度类指标"],
    "成本": ["成本指标", "成本"],
    "决策": ["决策", "决策指标"],
    "过程": ["过程", "过程指标"],
    "履职": ["履职", "履职指标", "履职效能"],
}.items():
    for _l in _labels:
        LEVEL1[key(_l)] = _cat

# --- 二级指标 with the category of their 一级 parent -------------------------
LEVEL2: dict[str, str] = {}
for _cat, _labels in {
    "产出": ["数量指标", "质量指标", "时效指标", "数量", "质量", "时效"],
    "成本": ["经济成本指标", "社会成本指标", "生态环境成本指标", "经济成本", "社会成本", "生态环境成本"],
    "效益": [
        "经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标", "环境效益指标",
        "经济效益", "社会效益", "生态效益", "可持续影响", "环境效益",
    ],
    "满意度": ["服务对象满意度指标", "服务对象满意度", "社会公众满意度指标", "社会公众满意度", "具体指标"],
    "决策": ["计划制定", "目标设定", "预算编制", "项目立项", "资金投入"],
    "过程": ["预算执行", "预算管理", "资产管理", "项目管理", "人员管理", "机构建设", "资金管理", "组织实施", "财务管理"],
}.items():
    for _l in _labels:
        LEVEL2[key(_l)] = _cat

# 成本指标 is a 二级 label under 产出 in older tables and a 一级 label in newer ones.
AMBIGUOUS_COST = {key("成本指标"), key("成本")}
COST_LEVEL2 = {k for k, c in LEVEL2.items() if c == "成本"}

# Standard 部门整体 indicators (苏州市级共性指标框架): name -> 二级 label.
STANDARD_L2: dict[str, str] = {}
for _l2, _names in {
    "计划制定": ["中长期规划制定健全性", "工作计划制定健全性"],
    "目标设定": ["绩效目标合理性", "绩效指标明确性"],
    "预算编制": ["预算编制科学性", "预算编制规范性"],
    "预算执行": [
        "预算执行率", "预算调整率", "支付进度符合率", "结转结余率", "公用经费控制率",
        "“三公经费”变动率", "三公经费变动率", "政府采购执行率", "预算偏差率", "非税收入预算完成率",
    ],
    "预算管理": [
        "预算管理制度健全性", "资金使用合规性", "绩效管理覆盖率", "基础信息完善性",
        "预决算信息公开度", "非税收入管理合规性",
    ],
    "资产管理": ["资产管理制度健全性", "资产管理规范性", "固定资产利用率"],
    "项目管理": ["项目管理制度健全性", "项目管理制度执行规范性"],
    "人员管理": ["人员管理制度健全性", "人员管理制度执行有效性", "在职人员控制率"],
    "机构建设": ["组织建设工作及时完成率", "业务学习与培训及时完成率", "纪检监察工作有效性"],
}.items():
    for _n in _names:
        STANDARD_L2[key(_n)] = key(_l2)

# keyword cues: category of a 二级 label -> regex over an indicator name
L2_CUES: dict[str, re.Pattern[str]] = {
    key("时效指标"): re.compile(r"及时|时限|时间|按时|进度|周期|期限"),
    key("数量指标"): re.compile(r"数量|人数|次数|个数|场次|期数|人次|户数|面积|数$"),
    key("质量指标"): re.compile(r"合格|达标|质量|准确|覆盖率|完好|验收"),
    key("成本指标"): re.compile(r"成本|经费|费用|费$|资金|标准$|预算"),
    key("社会效益指标"): re.compile(r"社会|受益|群众|公众|提升|水平"),
    key("可持续影响指标"): re.compile(r"可持续|长期|长效|机制|制度"),
    key("服务对象满意度指标"): re.compile(r"满意"),
    key("经济效益指标"): re.compile(r"经济|收入|效益"),
}


# label spellings seen in real tables: 产出值 / 数量值 (值 for 指标), 社会效益类指标, 实施效果指标
_LABEL_SUFFIX_RE = re.compile(r"(?:类指标|指标|目标|值)$")  # 數量目標: 目标 for 指标
LEVEL1_EXTRA: dict[str, str] = {key("实施效果指标"): "效益", key("实施效果"): "效益"}


def _variant(table: dict[str, str], k: str) -> str | None:
    if k in table:
        return table[k]
    bare = _HEADER_PAREN_RE.sub("", k)  # 数量指标(或建筑规模指标), 时效指标(工期指标)
    if bare != k and bare:
        return _variant(table, bare)
    core = _LABEL_SUFFIX_RE.sub("", k)
    if core != k and core:
        return table.get(core) or table.get(core + "指标")
    return None


@functools.lru_cache(maxsize=8192)
def level1_category(text: str) -> str | None:
    k = _label_key(text)
    cat = _variant(LEVEL1, k) or LEVEL1_EXTRA.get(k)
    if cat is None and k.startswith("项目") and len(k) > 3:
        cat = _variant(LEVEL1, k[2:])  # 项目产出 / 项目效益 / 项目决策: the project's 一级 categories
    return cat


@functools.lru_cache(maxsize=8192)
def level2_category(text: str) -> str | None:
    k = _label_key(text)
    cat = _variant(LEVEL2, k)
    if cat is None:
        # 产出数量指标 / 效益社会效益指标: the 一级 word before a 二级 label of its own category
        for head in ("产出", "效益", "满意度"):
            if k.startswith(head) and len(k) > len(head) + 1 and _variant(LEVEL2, k[len(head) :]) == head:
                return head
    return cat


# a printed note after a label: 产出指标(50分), 经济效益指标(选填), 社会效益指标（必填）
_LABEL_NOTE_RE = re.compile(r"[(（](?:\d+(?:\.\d+)?分|(?:选填|必填|可选|必选)[^()（）]{0,8}|[一二三四五六七八九十]+)[)）]$")


def _label_key(text: str) -> str:
    k = _LABEL_NOTE_RE.sub("", key(GLOSS_RE.sub("", text)).rstrip(":："))
    return k[:-1] if k.endswith("指标等") else k  # 服务对象满意度指标等


def is_level1(text: str) -> bool:
    return level1_category(text) is not None


def is_level2(text: str) -> bool:
    return level2_category(text) is not None


def is_ambiguous_cost(text: str) -> bool:
    k = _label_key(text)
    return k in AMBIGUOUS_COST or _LABEL_SUFFIX_RE.sub("", k) in AMBIGUOUS_COST


# --- column headers ------------------------------------------------------
HEADER_ROLES: dict[str, str] = {}
for _role, _labels in {
    "function": ["核心职能", "职能", "部门职能"],
    "level1": ["一级指标", "评价指标"],  # 绩效评价指标表: 评价指标 | 评价内容 | 指标名称
    "level2": ["二级指标", "评价内容"],
    "task": ["重点工作", "重点任务", "工作任务"],
    "name": ["三级指标", "指标名称", "绩效指标", "指标内容", "三级指标名称"],
    "half": ["半年指标值", "半年目标值", "半年度指标值"],
    "value": ["全年指标值", "指标值", "目标值", "年度指标值", "绩效指标值", "指标目标值", "全年目标值", "年度目标值"],
    "value_type": ["指标值类型", "指标性质", "指标类型"],
    "op": ["计算符号", "运算符号", "指标方向", "符号"],
    "unit": ["计量单位", "度量单位", "单位"],
    "desc": ["指标解释", "指标说明", "指标值说明", "指标值内容"],
    "score": ["评(扣)分标准", "评（扣）分标准", "评分标准", "扣分标准", "评(扣分标准)"],
    "weight": ["权重", "指标权重", "分值", "权重(%)", "权重（%）"],
    "remark": ["备注"],
    "seq": ["序号", "编号"],
    "project": ["项目名称"],
}.items():
    for _l in _labels:
        HEADER_ROLES[key(_l)] = _role

LEVEL_ROLES = ("function", "level1", "level2", "task")
EXTRA_ROLE_NAMES = {
    "value_type": "指标值类型",
    "desc": "指标解释",
    "score": "评(扣)分标准",
    "weight": "权重",
    "remark": "备注",
}


# header spellings matched by shape: 指标值(年度), 预期2022年实现值, 一级, 二级指标(长期) …
_HEADER_PAREN_RE = re.compile(r"[(（][^()（）]*[)）]")
_HEADER_OPEN_PAREN_RE = re.compile(r"[(（][^()（）]{0,4}$")
_HEADER_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"长期|中期|以前年度|上年|实际|完成值|完成情况|得分|偏差|原因|改进措施"), "other"),
    (re.compile(r"^一级(?:指标|目标)?(?:名称)?$"), "level1"),
    (re.compile(r"^二级(?:指标|目标)?(?:名称)?$"), "level2"),
    (re.compile(r"^三级(?:指标|目标)?(?:名称)?$"), "name"),
    (re.compile(r"^半年(?:度|程)?(?:指标值|目标值|目标|值)"), "half"),
    (re.compile(r"^(?:全年|年度|全程|当年|年初)?(?:程)?(?:指标值|目标值|数值|预期实现值|预期值|指标目标值)(?:及单位)?$"), "value"),
    (re.compile(r"^(?:预期|当年预期|20\d\d年?)(?:20\d\d年)?(?:实现值|目标值|指标值)$"), "value"),
    (re.compile(r"^绩效(?:标准|目标值|指标值)$"), "value"),
    (re.compile(r"^指标方向|^指标性质$|^计算符号|^运算符|^符号$"), "op"),
    (re.compile(r"^(?:计量|度量)?单位$"), "unit"),
    (re.compile(r"^(?:指标)?权重|^分值$"), "weight"),
    (re.compile(r"^(?:指标)?(?:解释|说明|描述)|^指标标准或依据$|^指标值设定依据|^评价标准|^计分方法"), "desc"),
    (re.compile(r"^评[(（]?扣?[)）]?分标准|^扣分标准"), "score"),
    (re.compile(r"^备注"), "remark"),
)
# header words that are too generic to be the indicator-name column when a 三级 column exists
WEAK_NAME_HEADERS = {key("绩效指标")}


# 绩效标准 is the value column in some templates and the kind of standard (计划标准/行业标准) in others
WEAK_VALUE_HEADERS = {key("绩效标准")}


def is_weak_value_header(text: str) -> bool:
    return _HEADER_PAREN_RE.sub("", key(text)).rstrip(":：") in WEAK_VALUE_HEADERS


def is_weak_name_header(text: str) -> bool:
    k = _HEADER_PAREN_RE.sub("", key(text)).rstrip(":：")
    return k in WEAK_NAME_HEADERS


@functools.lru_cache(maxsize=8192)
def header_role(text: str) -> str | None:
    k = key(GLOSS_RE.sub("", text)).rstrip(":：")
    role = HEADER_ROLES.get(k)
    if role is not None or not k or len(k) > 16:
        return role
    bare = _HEADER_OPEN_PAREN_RE.sub("", _HEADER_PAREN_RE.sub("", k))  # 年初目标值(A: a bracket cut off
    if bare != k and bare in HEADER_ROLES and not re.search(r"长期|中期", k):
        return HEADER_ROLES[bare]
    for pat, r in _HEADER_PATTERNS:
        if pat.search(k) or bare != k and pat.search(bare):
            return None if r == "other" else r
    return None


# --- table keys ------------------------------------------------------------
TITLE_RE = re.compile(r"绩效目标(?:申报|批复|审核)?表")
YEAR_RE = re.compile(r"(20\d{2})\s*年")
FUNCTION_RE = re.compile(r"^职能\s*([0-9一二三四五六七八九十]+)\s*[:：]\s*(.*)$")
INDEX_RE = re.compile(r"^指标\s*([0-9]+)\s*[:：]?\s*(.*)$")

UNIT_KEYS = {key(k) for k in ["单位名称", "部门名称", "部门(单位)名称", "部门（单位）名称", "预算单位", "单位"]}
IMPL_UNIT_KEYS = {key(k) for k in ["实施单位", "项目实施单位", "项目单位"]}
PROJECT_KEYS = {key(k) for k in ["项目名称"]}
SUPERVISOR_KEYS = {key(k) for k in ["主管部门及代码", "主管部门", "主管单位"]}
DUTY_KEYS = {key(k) for k in ["单位主要职能", "部门职能概述", "主要职能", "部门职能", "单位职能", "部门主要职能"]}
ORG_KEYS = {key(k) for k in ["机构设置及人员配置", "机构设置"]}
GOAL_KEYS = {
    key(k): k
    for k in [
        "中长期目标", "年度目标", "年度总体目标", "年度绩效目标", "年度整体绩效目标",
        "总体目标", "项目绩效目标", "长期目标", "项目总体目标", "整体绩效目标",
    ]
}
TOTAL_KEYS = {
    key(k)
    for k in ["资金总额", "年度资金总额", "收入预算合计", "项目资金总额", "预算总额", "年度预算总额", "资金合计", "项目总额"]
}
FUNDING_KEYS = {
    key(k)
    for k in [
        "财政拨款", "其中:财政拨款", "其中：财政拨款", "一般公共预算资金", "政府性基金", "财政专户管理资金",
        "国有资本金", "社保基金", "上年结转资金", "上年结转", "其他资金", "其他经费", "小计",
    ]
}
EXPENSE_TOTAL_KEYS = {key(k) for k in ["支出预算合计", "支出合计"]}
EXPENSE_MARK_KEYS = {key(k) for k in ["支出"]}
BLOCK_LABEL_RE = re.compile(r"^(部门整体)?(资金|项目资金|当年预算情况)[（(]?万?元?[）)]?$|^收入$|^支出$|^部门整体资金")
PREFIX_RE = re.compile(r"^其中\s*[:：]\s*")
