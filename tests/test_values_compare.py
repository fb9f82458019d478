"""Every cell of the threshold semantics table (indexer/values/compare.py)."""

from __future__ import annotations

import pytest

from indexer.normalize import key
from indexer.target import parse_target
from indexer.values.compare import Condition, amount_satisfies, check_target
from search.qa.question import parse_condition

TARGETS = ["≥85%", "≥90%", "≥95%", ">90%", "≤85%", "≤90%", "≤95%", "<90%", "=90%", "90%", "85%-95%"]
# question (X = 90%, range 88%～92%) -> expected verdict per target above (y = satisfied)
TABLE = {
    "≥": "n y y y n n n n y y n",
    ">": "n n y y n n y n n n n",
    "≤": "y y n y y y n y y y n",
    "<": "y n n n y n n y n n n",
    "=": "n y n y n y n y y y y",
    "range": "n y n y n y n y y y n",
}


def _cond(op: str) -> Condition:
    return Condition("range", (88.0, 92.0), "%") if op == "range" else Condition(op, 90.0, "%")


@pytest.mark.parametrize("op", list(TABLE))
@pytest.mark.parametrize("i", range(len(TARGETS)))
def test_semantics_cell(op, i):
    want = TABLE[op].split()[i] == "y"
    v = check_target(parse_target(TARGETS[i]), _cond(op))
    assert v.status == ("yes" if want else "no"), (op, TARGETS[i], v)


@pytest.mark.parametrize("op", list(TABLE))
@pytest.mark.parametrize("value,status", [("健全", "qualitative"), ("按时完成", "qualitative"), ("", "empty"),
                                          ("≥100 人", "unit")])  # fmt: skip
def test_non_numeric_cells(op, value, status):
    assert check_target(parse_target(value), _cond(op)).status == status


@pytest.mark.parametrize(
    "question,op",
    [
        ("满意度不低于90%", "≥"), ("满意度达到90%", "≥"), ("满意度90%以上", "≥"), ("满意度至少90%", "≥"),
        ("满意度高于90%", ">"), ("满意度超过90%", ">"),
        ("满意度未超过90%", "≤"), ("满意度不超过90%", "≤"), ("满意度90%以下", "≤"), ("满意度在90%以内", "≤"),
        ("满意度低于90%", "<"), ("满意度不到90%", "<"), ("满意度未达到90%", "<"),
        ("满意度是90%", "="), ("满意度为90%", "="), ("满意度等于90%", "="), ("满意度90%", "="),
    ],
)  # fmt: skip
def test_question_words(question, op):
    cond, _ = parse_condition(key(question))
    assert (cond.op, cond.number, cond.unit) == (op, 90.0, "%")


def test_issue_examples():
    below90 = parse_condition(key("满意度目标低于90%"))[0]
    assert check_target(parse_target("≥85%"), below90).ok  # threshold 85 is below 90
    above50 = parse_condition(key("成本指标超过50万元"))[0]
    assert check_target(parse_target("≤115.33 万元"), above50).ok  # a cap above 50万元
    assert not check_target(parse_target("≤20 万元"), above50).ok
    is90 = parse_condition(key("满意度目标是90%"))[0]
    assert check_target(parse_target("≥90%"), is90).ok
    ge90 = parse_condition(key("满意度≥90%"))[0]
    assert not check_target(parse_target("≥85%"), ge90).ok  # every allowed value
    assert not check_target(parse_target("≤95%"), ge90).ok


def test_amounts():
    le20 = Condition("≤", 20.0, "万元")
    assert amount_satisfies(20.0, le20) and amount_satisfies(6.3, le20) and not amount_satisfies(25.15, le20)
    assert amount_satisfies(20.0, Condition("≤", 200000.0, "元"))
    assert amount_satisfies(52.0, Condition(">", 50.0, None))
    assert amount_satisfies(5.0, Condition("≥", 90.0, "%")) is None
