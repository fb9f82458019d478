"""Operator words: the one lexicon for target values and questions.

Every phrase maps to one of ``≥ ≤ > < =``.  Prefix words stand before the
number (``不低于90%``), suffix words after it (``90%以上``).  *Weak* prefix
words (``达到``, ``控制在``) yield to a suffix word in a target value
(``控制在95%以上`` is ``≥``).  The target parser (``indexer.target``) and the
question parser (``search.qa.question``) both read these tables, and
``tests/test_values_lexicon.py`` pins that they agree on every phrase.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

STRONG_PREFIX_OPS: dict[str, str] = {
    "≥": "≥", ">=": "≥", "=>": "≥", "大于等于": "≥", "大于或等于": "≥", "不低于": "≥",
    "不少于": "≥", "不小于": "≥", "至少": "≥", "最少": "≥", "最低": "≥",
    "≤": "≤", "<=": "≤", "=<": "≤", "小于等于": "≤", "小于或等于": "≤", "不高于": "≤",
    "不超过": "≤", "不超出": "≤", "未超过": "≤", "没超过": "≤", "没有超过": "≤", "未超出": "≤",
    "不大于": "≤", "不多于": "≤", "至多": "≤", "最多": "≤", "最高": "≤",
    ">": ">", "大于": ">", "高于": ">", "超过": ">", "超出": ">", "多于": ">",
    "<": "<", "小于": "<", "低于": "<", "少于": "<", "不足": "<", "不到": "<",
    "未达到": "<", "没达到": "<", "没有达到": "<",
    "=": "=", "==": "=", "等于": "=", "≈": "=",
}  # fmt: skip
WEAK_PREFIX_OPS: dict[str, str] = {"达到": "≥", "达": "≥", "控制在": "≤", "控制": "≤"}
PREFIX_OPS: dict[str, str] = {**STRONG_PREFIX_OPS, **WEAK_PREFIX_OPS}
SUFFIX_OPS: dict[str, str] = {
    "及以上": "≥", "或以上": "≥", "以上": "≥",
    "及以下": "≤", "或以下": "≤", "以下": "≤", "以内": "≤", "之内": "≤", "内": "≤",
}  # fmt: skip
# Words a question puts before a number to mean "equal to"; a target value reads
# 为/在 as fillers (a bare number is ``=`` anyway).
QUESTION_EQUAL_WORDS: dict[str, str] = {"为": "=", "是": "=", "在": ""}
QUESTION_PREFIX_OPS: dict[str, str] = {**PREFIX_OPS, **QUESTION_EQUAL_WORDS}
RANGE_SUFFIX = "之间"
# 比90%高 / 比20万元少: a comparative only questions use
QUESTION_COMPARATIVES: dict[str, str] = {"高": ">", "多": ">", "大": ">", "低": "<", "少": "<", "小": "<"}

# Phrases that are operators wherever they appear (a checker may flag an
# operator without a number); 控制/不足/最高 also occur in ordinary wording.
UNAMBIGUOUS_OPS: tuple[str, ...] = tuple(
    w for w in (*STRONG_PREFIX_OPS, *SUFFIX_OPS)
    if w[0] in "≥≤<>=" or w.startswith(("大于", "小于", "不低", "不少", "不小", "不高", "不超", "不大", "不多", "未超"))
    or w.endswith(("以上", "以下", "以内"))
)  # fmt: skip

# Other spellings of the operator symbols (full-width, compatibility forms, two-character forms).
SYMBOL_VARIANTS: dict[str, str] = {
    "≧": "≥", "⩾": "≥", "＞＝": "≥", "＞=": "≥", "≦": "≤", "⩽": "≤", "＜＝": "≤", "＜=": "≤",
    "＞": ">", "＜": "<", "＝": "=", "═": "=", "≮": "≥", "≯": "≤",  # ≮ "not less than", ≯ "not greater than"
}  # fmt: skip
# Phrases that make a whole operator cell on their own (a 计算符号 / 指标性质 column, or an operator
# written apart from its number): every strong prefix phrase and every symbol spelling.
STANDALONE_OPS: dict[str, str] = {**STRONG_PREFIX_OPS, **SYMBOL_VARIANTS}
# Every single-character operator symbol (character classes in the layout regexes).
OP_SYMBOLS: str = "".join(sorted({w for w in STANDALONE_OPS if len(w) == 1}))
# Symbol operators written before a number (one or two characters, no words): safe to look for inside
# run-together text, where operator words would also match ordinary wording.
SYMBOL_OPS: dict[str, str] = {w: op for w, op in STANDALONE_OPS.items() if not re.search(r"[\u4e00-\u9fff]", w)}
# Operator words (not symbols) that may open a value written after a name (名称不少于300人).
WORD_PREFIX_OPS: dict[str, str] = {w: op for w, op in PREFIX_OPS.items() if re.search(r"[\u4e00-\u9fff]", w)}

# What each operator means, in words (answers, README).
OP_WORDS: dict[str, str] = {"≥": "不低于", ">": "高于", "≤": "不超过", "<": "低于", "=": "等于"}


def alternation(words: Iterable[str]) -> str:
    """Regex alternation, longest first."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def operator_regex(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(alternation(words))


def standalone_operator_re() -> re.Pattern[str]:
    """A whole cell that is one operator (``≥``, ``＞＝``, ``不低于``)."""
    return re.compile(rf"^(?:{alternation(STANDALONE_OPS)})$")


def symbol_operator_pattern() -> str:
    """Alternation of the operator symbols (``>=``, ``≧``, ``＝`` …), longest first."""
    return alternation(SYMBOL_OPS)


def value_start_pattern() -> str:
    """Where a value written after a name starts: an operator symbol, an operator word before a number,
    or a digit (``名称≧300人``, ``名称不少于300人``, ``名称95%以上``)."""
    return rf"(?:{alternation(SYMBOL_OPS)})|(?:{alternation(WORD_PREFIX_OPS)})(?=\s*\d)|\d"


def any_operator_pattern() -> str:
    """Alternation of every operator phrase (prefix and suffix)."""
    return alternation([*PREFIX_OPS, *SUFFIX_OPS])


__all__ = [
    "OP_SYMBOLS",
    "OP_WORDS",
    "PREFIX_OPS",
    "QUESTION_COMPARATIVES",
    "QUESTION_EQUAL_WORDS",
    "QUESTION_PREFIX_OPS",
    "RANGE_SUFFIX",
    "STANDALONE_OPS",
    "STRONG_PREFIX_OPS",
    "SUFFIX_OPS",
    "SYMBOL_OPS",
    "SYMBOL_VARIANTS",
    "UNAMBIGUOUS_OPS",
    "WEAK_PREFIX_OPS",
    "WORD_PREFIX_OPS",
    "alternation",
    "any_operator_pattern",
    "operator_regex",
    "standalone_operator_re",
    "symbol_operator_pattern",
    "value_start_pattern",
]
