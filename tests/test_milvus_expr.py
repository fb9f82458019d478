"""Filters and question conditions as Milvus expressions (search/retrieval/milvus/expr.py): exact strings."""

from __future__ import annotations

import pytest

from indexer.values.compare import Condition
from search.retrieval.filters import Filters
from search.retrieval.milvus.expr import and_, condition_expr, filter_expr, in_list, needs_recheck, quote


def test_quote_escapes_quotes_and_backslashes():
    assert quote('电化"馆\\') == '"电化\\"馆\\\\"'
    assert quote("花莲县") == '"花莲县"'
    assert quote("a\nb") == '"a\\nb"'


def test_filter_expression_of_every_field():
    f = Filters(unit='电化"馆', year=2024, table="project", level1="效益", level2="数量", region="苏州",
                project="a%b", doc="x.txt")
    assert filter_expr(f) == (
        'year == 2024 and table == "project" and unit_key like "%电化\\"馆%" and region_key like "%苏州%" '
        'and project_key like "%a_b%" and doc_key like "%x.txt%" and level1c == "效益指标" and level2c like "%数量%"'
    )
    assert needs_recheck(f) and not needs_recheck(Filters(unit="电化教育馆"))


def test_filter_values_are_normalised_like_the_embedded_filters():
    # traditional script and full-width forms are folded by indexer.normalize.key
    assert filter_expr(Filters(region="花蓮縣")) == 'region_key like "%花莲县%"'
    assert filter_expr(Filters(level1="效益指標")) == 'level1c == "效益指标"'
    assert filter_expr(Filters(level1="其他")) == 'level1c like "%其他%"'
    assert filter_expr(Filters()) == "" and filter_expr(None) == ""


def test_condition_expressions():
    assert condition_expr(Condition("≥", 90.0, "%")) == (
        't_numeric == true and t_family == "percent" and t_op not in ["≤", "<"] and t_blo >= 89.99991')
    assert condition_expr(Condition("range", (10.0, 20.0), "万元")) == (
        't_numeric == true and t_family == "money" and t_blo >= 99999.9 and t_bhi <= 200000.2')
    assert condition_expr(Condition("<", 5.0, None)) == "t_numeric == true and t_hi <= 5.000005"
    assert condition_expr(Condition("=", 3.0, "次")) == (
        't_numeric == true and t_unit == "次" and t_lo <= 3.000003 and t_hi >= 2.999997')
    with pytest.raises(ValueError):
        condition_expr(Condition("≈", 3.0, None))


def test_combinators():
    assert in_list("name_key", ["满意度", "满意度", "a\"b"]) == 'name_key in ["满意度", "a\\"b"]'
    assert in_list("name_key", []) == "false"
    assert and_("", "a == 1") == "a == 1"
    assert and_("a == 1", "b == 2 or c == 3") == "(a == 1) and (b == 2 or c == 3)"
