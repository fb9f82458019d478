"""Satisfaction semantics of a numeric condition against parsed target values."""

from __future__ import annotations

import pytest

from indexer.target import parse_target
from search.qa.question import Condition, check_target

GE90 = Condition("≥", 90.0, "%")


def status(value: str, cond: Condition) -> str:
    return check_target(parse_target(value), cond).status


@pytest.mark.parametrize(
    "value", ["≥95%", "=100%", "98%", "≥90%", ">90%", "100%", "90%-95%", "不低于90%", "九十%以上"]
)
def test_satisfies_ge90(value):
    assert status(value, GE90) == "yes"


@pytest.mark.parametrize("value", ["≥85%", ">85%", "85%", "≤95%", "85%-95%", "<100%", "≥89.9%"])
def test_does_not_satisfy_ge90(value):
    assert status(value, GE90) == "no"


def test_strict_greater():
    gt90 = Condition(">", 90.0, "%")
    assert status("≥90%", gt90) == "no"  # allows exactly 90
    assert status(">90%", gt90) == "yes"
    assert status("≥92%", gt90) == "yes"
    assert status("=90%", gt90) == "no"


def test_less_than_and_at_most():
    lt50, le50 = Condition("<", 50.0, "%"), Condition("≤", 50.0, "%")
    # a floor target is "below 50%" when its number is (issue 11: ≥85% is below 90%)
    assert [status(v, lt50) for v in ("=45%", "<50%", "≤50%", "=50%", "≥30%", "≥50%")] == [
        "yes",
        "yes",
        "no",
        "no",
        "yes",
        "no",
    ]
    assert [status(v, le50) for v in ("≤50%", "=50%", "<60%", "10%-50%", "10%-60%")] == [
        "yes",
        "yes",
        "no",
        "yes",
        "no",
    ]


def test_equality():
    eq100 = Condition("=", 100.0, "%")
    # "the target is 100%": the number written is 100, whatever the operator
    assert [status(v, eq100) for v in ("=100%", "100%", "≥100%", "≤100%", "=99%", "≥99%")] == [
        "yes",
        "yes",
        "yes",
        "yes",
        "no",
        "no",
    ]


def test_range_condition():
    between = Condition("range", (90.0, 95.0), "%")
    assert [status(v, between) for v in ("=92%", "90%-95%", "88%-95%", "≥92%", "≥96%")] == [
        "yes", "yes", "no", "yes", "no",
    ]  # fmt: skip


def test_money_units_convert():
    le20wan = Condition("≤", 20.0, "万元")
    assert status("≤20 万元", le20wan) == "yes"
    assert status("≤200000元", le20wan) == "yes"  # 200000 元 = 20 万元
    assert status("20000 元", le20wan) == "yes"
    assert status("≤20.5 万元", le20wan) == "no"
    assert status("≤115.33 万元", le20wan) == "no"
    le200000 = Condition("≤", 200000.0, "元")
    assert status("≤20 万元", le200000) == "yes"
    assert status("≤21 万元", le200000) == "no"


def test_other_unit_families_convert():
    assert status("≥32万人次", Condition("≥", 30000.0, "人次")) == "yes"
    assert status("≥2.4万人次", Condition("≥", 30000.0, "人次")) == "no"
    assert status("3 名", Condition("≥", 3.0, "人")) == "yes"


@pytest.mark.parametrize("value", ["≤1000 人/元", "6000 元/学年", "3 名", "≥18所"])
def test_units_must_agree(value):
    v = check_target(parse_target(value), Condition("≤", 20.0, "万元"))
    assert v.status == "unit" and "单位不一致" in v.reason


def test_percent_never_matches_a_count():
    assert status("≥100 人", GE90) == "unit"


@pytest.mark.parametrize("value", ["健全", "按时完成", "应助尽助", "长期", "2024年12月底前"])
def test_qualitative_never_satisfies(value):
    v = check_target(parse_target(value), GE90)
    assert (v.status, v.ok, v.reason) == ("qualitative", False, "未量化（定性指标）")


@pytest.mark.parametrize("value", ["", "/", "—"])
def test_empty_never_satisfies(value):
    v = check_target(parse_target(value), GE90)
    assert (v.status, v.ok) == ("empty", False)


def test_condition_without_unit_compares_numbers():
    assert status("≥95%", Condition("≥", 90.0, None)) == "yes"
    assert status("≥85%", Condition("≥", 90.0, None)) == "no"


def test_reason_names_the_value():
    v = check_target(parse_target("≥85%"), GE90)
    assert v.status == "no" and v.reason.startswith("≥85%") and "≥90%" in v.reason
