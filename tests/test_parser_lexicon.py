"""The parser reads operators from the one lexicon (indexer.values.lexicon), issue 13.

Every operator phrase of the lexicon is recognised by each of the parser's patterns (an operator
cell, a value after a name in running text, a value run together with its name) and read to the same
operator by ``indexer.target.parse_target``; no module keeps an alternation of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indexer import classify, indicators, prose
from indexer.target import parse_target
from indexer.values import lexicon

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("word", sorted(lexicon.STANDALONE_OPS))
def test_operator_cell(word):
    op = lexicon.STANDALONE_OPS[word]
    assert classify.is_op(word) and classify.kind(word) == "op", word
    assert indicators._OP_ONLY_RE.match(word), word
    assert parse_target(f"{word}90%").op == op, word
    # an operator written in its own column joins the number and the unit column
    assert parse_target("90", op_hint=word, unit_hint="%").op == op, word


@pytest.mark.parametrize("word", sorted(lexicon.PREFIX_OPS))
def test_prefix_word_after_a_name_in_running_text(word):
    assert prose.split_item(f"资金到位率{word}90%") == ("资金到位率", f"{word}90%")
    assert parse_target(f"{word}90%").op == lexicon.PREFIX_OPS[word]


@pytest.mark.parametrize("word", sorted(lexicon.SUFFIX_OPS))
def test_suffix_word_after_a_name_in_running_text(word):
    assert prose.split_item(f"资金到位率90%{word}") == ("资金到位率", f"90%{word}")
    assert parse_target(f"90%{word}").op == lexicon.SUFFIX_OPS[word]


@pytest.mark.parametrize("word", sorted(lexicon.SYMBOL_OPS))
def test_symbol_run_together_with_the_name(word):
    assert classify.segment_run_together(f"资金到位率{word}90%", need_label=False) == ["资金到位率", f"{word}90%"]


def test_operator_words_stay_out_of_the_text_layout():
    """Operator words inside a name never open a value (达标率, 最高人民法院 …)."""
    assert prose.split_item("验收达标率100%") == ("验收达标率", "100%")
    assert prose.split_item("超过期限整改完成率100%") == ("超过期限整改完成率", "100%")


_OPERATOR_ALTERNATION_RE = re.compile(r"(?:≥\|≤|>=\|<=|大于等于\|小于等于|不低于\|不高于)")


def test_no_parser_module_spells_its_own_operator_alternation():
    for path in sorted((ROOT / "indexer").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not _OPERATOR_ALTERNATION_RE.search(text), path.name
