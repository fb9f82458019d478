"""The one operator lexicon and unit table (indexer.values): the question parser
and the target parser read the same words the same way."""

from __future__ import annotations

import pytest

from indexer.normalize import key
from indexer.target import parse_target
from indexer.values import lexicon, units
from indexer.values.compare import Condition, check_target
from search.qa.question import parse_condition

PREFIX = sorted(lexicon.PREFIX_OPS)
SUFFIX = sorted(lexicon.SUFFIX_OPS)


@pytest.mark.parametrize("word", PREFIX)
def test_prefix_word_read_alike(word):
    text = f"{word}90%"
    t = parse_target(text)
    cond, _ = parse_condition(key(text))
    assert cond is not None, text
    assert t.op == cond.op == lexicon.PREFIX_OPS[word], text
    assert t.number == cond.number == 90.0 and t.unit == cond.unit == "%"


@pytest.mark.parametrize("word", SUFFIX)
def test_suffix_word_read_alike(word):
    text = f"20万元{word}"
    t = parse_target(text)
    cond, _ = parse_condition(key(text))
    assert cond is not None, text
    assert t.op == cond.op == lexicon.SUFFIX_OPS[word], text
    assert t.number == cond.number == 20.0 and t.unit == cond.unit == "万元"


def test_not_exceeding_is_at_most():
    # issue 13: the question parser read 未超过 as "more than"
    cond, _ = parse_condition(key("资金总额未超过20万元"))
    assert (cond.op, cond.number, cond.unit) == ("≤", 20.0, "万元")
    assert parse_target("未超过20万元").op == "≤"


def test_no_second_copy_of_the_lexicon():
    import indexer.target as target
    import search.qa.question as question

    assert target._STRONG_OPS is lexicon.STRONG_PREFIX_OPS
    assert target._SUFFIX_OPS is lexicon.SUFFIX_OPS
    assert target.KNOWN_UNITS is units.KNOWN_UNITS
    assert question._OPS is lexicon.QUESTION_PREFIX_OPS
    assert all(question._SUFFIX_OPS[w] == op for w, op in lexicon.SUFFIX_OPS.items())


def test_checker_and_cluster_use_the_same_tables():
    import search.drafting.check as check
    import search.drafting.cluster as cluster

    assert check.PERCENT_UNITS is units.PERCENT_UNITS and check.TIME_UNITS is units.TIME_UNITS
    # every operator phrase is stripped from a name the same way
    for word in PREFIX:
        assert cluster.core_name(f"师生满意度{word}90%") == "师生满意度", word
    assert cluster.core_name("师生满意度90%以上") == "师生满意度"


def test_units_convert_within_a_family():
    assert units.unit_scale("元", "万元") == pytest.approx(1e-4)
    assert units.unit_scale("万人次", "人次") == 1e4
    assert units.unit_scale("%", "万元") is None
    assert units.to_wan("元") == pytest.approx(1e-4) and units.to_wan("人") is None


def test_amount_condition_in_yuan():
    assert check_target(parse_target("≤200000元"), Condition("≤", 20.0, "万元")).ok
