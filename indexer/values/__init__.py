"""The one place for value vocabulary: operator words, units, and what a
question's condition means against a target value.

* :mod:`indexer.values.lexicon` — every operator phrase (``不低于``, ``未超过``,
  ``以上`` …) and the comparison it stands for;
* :mod:`indexer.values.units` — unit tokens, unit families and conversions
  (万元↔元, 万人次↔人次);
* :mod:`indexer.values.compare` — :class:`Condition`, :func:`check_target`
  (the threshold semantics table) and :func:`amount_satisfies`.

Ingestion (``indexer.target``), question parsing (``search.qa.question``), the
checker (``search.drafting.check``) and clustering (``search.drafting.cluster``) all read these
modules; no other module may define its own copy.
"""

from __future__ import annotations

from indexer.values.compare import Condition, Verdict, amount_satisfies, check_target
from indexer.values.lexicon import (
    PREFIX_OPS,
    QUESTION_PREFIX_OPS,
    STRONG_PREFIX_OPS,
    SUFFIX_OPS,
    WEAK_PREFIX_OPS,
    operator_regex,
)
from indexer.values.units import KNOWN_UNITS, UNIT_FAMILIES, to_wan, unit_scale

__all__ = [
    "KNOWN_UNITS",
    "PREFIX_OPS",
    "QUESTION_PREFIX_OPS",
    "STRONG_PREFIX_OPS",
    "SUFFIX_OPS",
    "UNIT_FAMILIES",
    "WEAK_PREFIX_OPS",
    "Condition",
    "Verdict",
    "amount_satisfies",
    "check_target",
    "operator_regex",
    "to_wan",
    "unit_scale",
]
