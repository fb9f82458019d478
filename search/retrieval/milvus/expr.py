"""Search filters and question conditions as Milvus boolean expressions.

The meaning of a filter lives in ``search.retrieval.filters`` / ``levels``; this
module only writes the same rules over the scalar fields stored by
``search.retrieval.milvus.schema``:

- ``unit``/``region``/``project``/``doc``: containment after
  ``indexer.normalize.key`` -> ``<field>_key like "%<key>%"``;
- ``year`` exact, ``table`` exact;
- ``level1``: a standard category (``效益`` -> ``效益指标``) compares equal with the
  stored canonical label, other text by containment; ``level2`` by containment
  (``数量`` matches ``数量指标``), as ``levels.level1_matches``/``level2_matches``.

A numeric question condition becomes a *superset* expression over the parsed
target fields (``t_lo``/``t_hi`` in the family's base unit, with a small
tolerance); the rows it returns are then checked by the one rule,
``indexer.values.compare.check_target``, so both backends answer alike.

String literals are written in double quotes with ``\\`` and ``"`` escaped.
Milvus Lite's LIKE has no escape character, so ``%`` and ``_`` inside a value
become the one-character wildcard ``_``: the match is then a superset, and
callers re-check the hits with ``Filters.matches`` (``needs_recheck``).
"""

from __future__ import annotations

from collections.abc import Iterable

from indexer.normalize import key
from indexer.values.compare import Condition
from indexer.values.units import UNIT_FAMILIES
from search.retrieval.filters import Filters
from search.retrieval.levels import LEVEL1_LABELS, canonical_level1

# relative tolerance of the pushed-down numeric comparison (the exact verdict is check_target's)
EPS = 1e-6

TEXT_FILTERS = ("unit", "region", "project", "doc")


def quote(value: str) -> str:
    """A Milvus string literal: ``"..."`` with backslashes and double quotes escaped."""
    out = str(value).replace("\\", "\\\\").replace('"', '\\"')
    out = out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{out}"'


def like_contains(value: str) -> str:
    """``%value%`` with LIKE wildcards inside ``value`` weakened to ``_``."""
    return "%" + value.replace("%", "_") + "%"


def in_list(field: str, values: Iterable[str]) -> str:
    vals = list(dict.fromkeys(values))
    if not vals:
        return "false"
    return f"{field} in [{', '.join(quote(v) for v in vals)}]"


def filter_expr(filters: Filters | None) -> str:
    """The Milvus expression of ``filters`` ("" when no filter is active)."""
    if filters is None or not filters.active:
        return ""
    parts: list[str] = []
    if filters.year is not None:
        parts.append(f"year == {int(filters.year)}")
    if filters.table:
        parts.append(f"table == {quote(filters.table)}")
    for f in TEXT_FILTERS:
        wanted = getattr(filters, f)
        if wanted:
            parts.append(f"{f}_key like {quote(like_contains(key(wanted)))}")
    if filters.level1:
        w = canonical_level1(filters.level1)
        if not w:
            parts.append("false")
        elif w in LEVEL1_LABELS.values():
            parts.append(f"level1c == {quote(w)}")
        else:
            parts.append(f"level1c like {quote(like_contains(w))}")
    if filters.level2:
        w = key(filters.level2).rstrip(":：")
        parts.append(f"level2c like {quote(like_contains(w))}" if w else "false")
    return " and ".join(f"({p})" if " or " in p else p for p in parts)


def needs_recheck(filters: Filters | None) -> bool:
    """True when a LIKE pattern was weakened (a ``%`` or ``_`` in a text filter)."""
    if filters is None:
        return False
    texts = [getattr(filters, f) or "" for f in (*TEXT_FILTERS, "level1", "level2")]
    return any("%" in key(t) or "_" in key(t) for t in texts)


def and_(*exprs: str) -> str:
    parts = [e for e in exprs if e]
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({p})" for p in parts)


def _num(x: float) -> str:
    return repr(float(x))


def condition_expr(cond: Condition, prefix: str = "t") -> str:
    """Rows whose parsed target may satisfy ``cond`` (a superset; see module docstring).

    ``prefix`` names the target fields: ``t`` (全年) or ``h`` (半年)."""
    lo, hi, op = f"{prefix}_lo", f"{prefix}_hi", f"{prefix}_op"
    parts = [f"{prefix}_numeric == true"]
    fam = UNIT_FAMILIES.get(cond.unit or "")
    if cond.unit is None:
        lo, hi = f"{prefix}_lo", f"{prefix}_hi"  # numbers as written
        factor = 1.0
    elif fam is not None:
        parts.append(f"{prefix}_family == {quote(fam[0])}")
        lo, hi = f"{prefix}_blo", f"{prefix}_bhi"  # in the family's base unit
        factor = fam[1]
    else:
        parts.append(f"{prefix}_unit == {quote(cond.unit)}")
        factor = 1.0

    def tol(x: float) -> float:
        return EPS * max(1.0, abs(x))

    if isinstance(cond.number, tuple):
        x, y = (float(n) * factor for n in cond.number)
        parts.append(f"{lo} >= {_num(x - tol(x))} and {hi} <= {_num(y + tol(y))}")
        return " and ".join(parts)
    x = float(cond.number) * factor
    t = tol(x)
    if cond.op == "≥":
        parts.append(f"{op} not in [\"≤\", \"<\"] and {lo} >= {_num(x - t)}")
    elif cond.op == ">":
        parts.append(f"{lo} >= {_num(x - t)}")
    elif cond.op in ("≤", "<"):
        parts.append(f"{hi} <= {_num(x + t)}")
    elif cond.op == "=":
        parts.append(f"{lo} <= {_num(x + t)} and {hi} >= {_num(x - t)}")
    else:
        raise ValueError(f"未知的比较运算符：{cond.op}")
    return " and ".join(parts)


__all__ = ["and_", "condition_expr", "filter_expr", "in_list", "like_contains", "needs_recheck", "quote"]
