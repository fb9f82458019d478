"""The deterministic question parser: exact Plan fields for many phrasings.

The vocabulary comes from the real corpus documents (no index, no model).
"""

from __future__ import annotations

import json

import pytest

from search.qa.question import Condition, Filters, Plan, build_vocabulary, parse_condition, parse_question
from tests.conftest import CORPUS, parsed

U0 = "苏州市教育质量监测中心"
U1 = "苏州市电化教育馆"
U2 = "苏州市教育装备与勤工俭学管理办公室"
U3 = "赣州经济技术开发区教体服务中心"
U4 = "潢源县教育局"


@pytest.fixture(scope="module")
def vocab():
    return build_vocabulary([parsed(p) for p in sorted(CORPUS.glob("*.txt"))])


def plan(vocab, q: str) -> Plan:
    return parse_question(q, vocab)


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    "text, op, number, unit",
    [
        ("≥90%", "≥", 90.0, "%"),
        ("90%以上", "≥", 90.0, "%"),
        ("90%及以上", "≥", 90.0, "%"),
        ("不低于90%", "≥", 90.0, "%"),
        ("至少90%", "≥", 90.0, "%"),
        ("达到90%", "≥", 90.0, "%"),
        ("大于等于90%", "≥", 90.0, "%"),
        ("高于90%", ">", 90.0, "%"),
        ("超过90%", ">", 90.0, "%"),
        ("大于90%", ">", 90.0, "%"),
        ("低于90%", "<", 90.0, "%"),
        ("未达到90%", "<", 90.0, "%"),
        ("不超过20万元", "≤", 20.0, "万元"),
        ("不高于200000元", "≤", 200000.0, "元"),
        ("90%以下", "≤", 90.0, "%"),
        ("为100%", "=", 100.0, "%"),
        ("100%", "=", 100.0, "%"),
        ("九十以上", "≥", 90.0, None),
        ("不低于九十五%", "≥", 95.0, "%"),
        ("百分之九十以上", "≥", 90.0, "%"),
        ("不低于百分之九十五", "≥", 95.0, "%"),
        ("九成以上", "≥", 90.0, "%"),
        ("不少于100人", "≥", 100.0, "人"),
        ("≥32万人次", "≥", 32.0, "万人次"),
    ],
)
def test_parse_condition(text, op, number, unit):
    cond, span = parse_condition(text)
    assert cond is not None and span is not None
    assert (cond.op, cond.number, cond.unit) == (op, number, unit)


@pytest.mark.parametrize(
    "text, lo, hi",
    [
        ("在90%到95%之间", 90.0, 95.0),
        ("90%-95%", 90.0, 95.0),
        ("95%至90%", 90.0, 95.0),
        ("在九十到九十五之间", 90.0, 95.0),
    ],
)
def test_parse_condition_range(text, lo, hi):
    cond, _ = parse_condition(text)
    assert cond is not None and (cond.op, cond.number) == ("range", (lo, hi))


@pytest.mark.parametrize(
    "text", ["职能1", "十个项目", "多少个", "是1", "一共有几条", "第三方机构", "12个单位"]
)
def test_no_condition(text):
    assert parse_condition(text) == (None, None)


# --------------------------------------------------------------------------- which units / projects


def test_which_units_satisfaction(vocab):
    p = plan(vocab, "哪些单位设定了满意度≥90%的目标？")
    assert p.intent == "which_units"
    assert (p.concept, p.concept_free) == ("满意度", False)
    assert p.condition == Condition("≥", 90.0, "%", "≥90%")
    assert p.column == "annual"
    assert p.filters == Filters()


@pytest.mark.parametrize(
    "q, op, number",
    [
        ("满意度90%以上的单位有哪些", "≥", 90.0),
        ("满意度不低于90%的单位有哪些？", "≥", 90.0),
        ("哪些单位的满意度高于90%", ">", 90.0),
        ("哪些单位的满意度超过九十%？", ">", 90.0),
        ("满意度至少百分之九十的单位有哪些", "≥", 90.0),
        ("哪些单位的满意度目标低于90%", "<", 90.0),
        ("哪家单位的满意度目标不低于95%", "≥", 95.0),
        ("满意度不低于90%的单位", "≥", 90.0),  # no cue word: concept + condition -> which_units
    ],
)
def test_which_units_phrasings(vocab, q, op, number):
    p = plan(vocab, q)
    assert (p.intent, p.concept, p.condition.op, p.condition.number, p.condition.unit) == (
        "which_units", "满意度", op, number, "%",
    )  # fmt: skip


def test_which_units_region_short_form(vocab):
    p = plan(vocab, "苏州哪些单位设置了满意度指标？")
    assert (p.intent, p.concept, p.condition) == ("which_units", "满意度", None)
    assert p.filters == Filters(regions=("苏州市",))


def test_which_units_year_half_year(vocab):
    p = plan(vocab, "2024年哪些单位的预算执行率半年目标低于50%？")
    assert (p.intent, p.concept, p.column) == ("which_units", "预算执行率", "half_year")
    assert (p.condition.op, p.condition.number, p.condition.unit) == ("<", 50.0, "%")
    assert p.filters == Filters(years=(2024,))


def test_which_units_range(vocab):
    p = plan(vocab, "哪些单位的满意度在90%到95%之间？")
    assert (p.intent, p.condition.op, p.condition.number) == ("which_units", "range", (90.0, 95.0))


def test_which_projects_money(vocab):
    p = plan(vocab, "哪些项目的成本指标不超过20万元？")
    assert (p.intent, p.concept) == ("which_projects", "成本")
    assert (p.condition.op, p.condition.number, p.condition.unit) == ("≤", 20.0, "万元")
    assert p.filters == Filters(table="project")


def test_which_projects_region(vocab):
    p = plan(vocab, "赣州经开区哪些项目设置了资助相关指标？")
    assert (p.intent, p.concept, p.condition) == ("which_projects", "资助", None)
    assert p.filters == Filters(regions=("赣州经济技术开发区",), table="project")


def test_which_projects_without_topic(vocab):
    p = plan(vocab, "梅岭县有哪些项目？")
    assert (p.intent, p.concept) == ("which_projects", None)
    assert p.filters == Filters(regions=("梅岭县",), table="project")


# --------------------------------------------------------------------------- list / value


def test_list_with_unit(vocab):
    p = plan(vocab, "苏州市电化教育馆有哪些满意度指标？")
    assert (p.intent, p.concept) == ("list_indicators", "满意度")
    assert p.filters == Filters(units=(U1,))


def test_list_project_level1(vocab):
    p = plan(vocab, "教师培训费项目有哪些产出指标？")
    assert (p.intent, p.concept) == ("list_indicators", None)
    assert p.filters == Filters(projects=("教师培训费",), level1="产出")


def test_list_department_level2(vocab):
    p = plan(vocab, "赣州经开区教体服务中心部门整体的时效指标有哪些")
    assert p.intent == "list_indicators"
    assert p.filters == Filters(units=(U3,), table="department", level2="时效")


def test_list_traditional_unit(vocab):
    p = plan(vocab, "花莲县卫生健康局有哪些指标？")
    assert p.intent == "list_indicators"
    assert p.filters.units == ("花蓮縣衛生健康局",)


@pytest.mark.parametrize("alias", ["苏州市电化教育馆", "电化教育馆", "电教馆", "苏州电化教育馆"])
def test_unit_short_forms(vocab, alias):
    p = plan(vocab, f"{alias}的预算执行率是多少？")
    assert (p.intent, p.concept, p.filters.units) == ("unit_value", "预算执行率", (U1,))


def test_unit_value_half_year(vocab):
    p = plan(vocab, "电化教育馆预算执行率的半年目标是多少？")
    assert (p.intent, p.concept, p.column, p.filters.units) == (
        "unit_value",
        "预算执行率",
        "half_year",
        (U1,),
    )


def test_unit_value_specific_phrase(vocab):
    p = plan(vocab, "苏州市教育装备与勤工俭学管理办公室的师生满意度是多少")
    assert (p.intent, p.concept, p.concept_free) == ("unit_value", "师生满意度", True)
    assert p.filters.units == (U2,)


def test_unit_value_with_check(vocab):
    p = plan(vocab, "临江市教育局的师生满意度目标达到90%了吗？")
    assert (p.intent, p.concept) == ("unit_value", "师生满意度")
    assert (p.condition.op, p.condition.number) == ("≥", 90.0)
    assert p.filters.units == ("临江市教育局",)


def test_project_named_like_funding(vocab):
    p = plan(vocab, "其他资金项目的满意度是多少？")
    assert (p.intent, p.concept, p.filters.projects) == ("unit_value", "满意度", ("其他资金",))


# --------------------------------------------------------------------------- count / compare


def test_count_units(vocab):
    p = plan(vocab, "有多少个单位设定了满意度≥90%的目标？")
    assert (p.intent, p.count_of, p.concept, p.condition.label()) == ("count", "units", "满意度", "≥90%")


def test_count_projects(vocab):
    p = plan(vocab, "赣州经开区有几个项目的满意度目标不低于95%？")
    assert (p.intent, p.count_of, p.filters.regions) == ("count", "projects", ("赣州经济技术开发区",))


def test_count_indicators(vocab):
    p = plan(vocab, "潢源县教育局有多少条指标值为100%的指标？")
    assert (p.intent, p.count_of, p.concept, p.condition.label()) == ("count", "indicators", None, "=100%")
    assert p.filters == Filters(units=(U4,))


def test_compare_units(vocab):
    p = plan(vocab, "比较苏州市教育质量监测中心和苏州市电化教育馆的预算执行率")
    assert (p.intent, p.compare_by, p.concept) == ("compare", "units", "预算执行率")
    assert p.filters.units == (U0, U1)


def test_compare_years(vocab):
    p = plan(vocab, "苏州市2023年和2024年的满意度目标有何不同")
    assert (p.intent, p.compare_by, p.concept) == ("compare", "years", "满意度")
    assert p.filters == Filters(years=(2023, 2024), regions=("苏州市",))


def test_compare_years_bare_first_year(vocab):
    p = plan(vocab, "2023和2024年的满意度目标对比")
    assert (p.intent, p.filters.years) == ("compare", (2023, 2024))


def test_compare_budget(vocab):
    p = plan(vocab, "苏州市电化教育馆和苏州市教育装备与勤工俭学管理办公室的资金总额哪个更高？")
    assert (p.intent, p.budget, p.compare_by) == ("compare", "total", "units")
    assert p.filters.units == (U1, U2)


# --------------------------------------------------------------------------- budget


def test_budget_total(vocab):
    p = plan(vocab, "苏州市教育质量监测中心2023年资金总额是多少?")
    assert (p.intent, p.budget, p.budget_item, p.aggregate) == ("budget", "total", None, False)
    assert p.filters == Filters(units=(U0,), years=(2023,))


def test_budget_table_count(vocab):
    p = plan(vocab, "赣州经济技术开发区教体服务中心有多少个项目支出绩效目标表?")
    assert (p.intent, p.budget) == ("budget", "table_count")
    assert p.filters == Filters(units=(U3,), table="project")


def test_budget_expense_half_year(vocab):
    p = plan(vocab, "苏州市电化教育馆上半年项目支出是多少")
    assert (p.intent, p.budget, p.budget_item, p.column) == ("budget", "expense", "项目支出", "half_year")


def test_budget_funding(vocab):
    p = plan(vocab, "赣州经开区教体服务中心的财政拨款是多少")
    assert (p.intent, p.budget, p.budget_item, p.filters.units) == ("budget", "funding", "财政拨款", (U3,))


def test_budget_sum_over_project_tables(vocab):
    p = plan(vocab, "赣州经开区项目支出绩效目标表的资金总额合计是多少？")
    assert (p.intent, p.budget, p.aggregate) == ("budget", "total", True)
    assert p.filters == Filters(regions=("赣州经济技术开发区",), table="project")


def test_chinese_year(vocab):
    p = plan(vocab, "二〇二四年哪些单位设置了满意度指标")
    assert (p.intent, p.filters.years) == ("which_units", (2024,))


# --------------------------------------------------------------------------- fallback


@pytest.mark.parametrize(
    "q", ["如何提升教育信息化水平？", "今天天气怎么样", "你好", "请写一份绩效目标申报说明", "？"]
)
def test_fallback(vocab, q):
    p = plan(vocab, q)
    assert p.intent == "fallback_search"
    assert p.concept is None and p.note


def test_plan_is_frozen_and_json(vocab):
    p = plan(vocab, "哪些单位的满意度在90%到95%之间？")
    with pytest.raises(AttributeError):
        p.intent = "count"  # type: ignore[misc]
    d = json.loads(json.dumps(p.to_json(), ensure_ascii=False))
    assert d["condition"] == {"op": "range", "number": [90.0, 95.0], "unit": "%", "text": "在90%到95%之间"}
    assert d["filters"]["units"] == [] and d["intent"] == "which_units"
