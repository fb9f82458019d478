"""A numeric-condition question answered inside Milvus (no row list in Python memory).

``condition_rows(index, plan, names)`` turns a plan such as
``哪些单位设定了满意度≥90%`` (concept 满意度, condition ≥ 90 %) into one Milvus
expression over the ``rows`` collection:

- the concept: the stored indicator names (``names``, the generation's distinct
  name keys) that the lexicon matches, as ``name_key in [...]``, or the rows
  whose 一级/二级 label carries one of the concept's categories;
- the condition: ``expr.condition_expr`` over the parsed target fields;
- the scope: years, table kind, units, projects, regions of the plan;

and reads every match with a query iterator (complete, paged).  The returned
rows are then checked by the same rules as the Python path
(``indexer.values.compare.check_target``, ``search.qa.concepts``), so the answer
is the same; plans this cannot express (level/function filters, extra words,
half-year values, a concept the lexicon does not match by name) return None and
the caller uses the Python path.

``Engine.ask`` uses ``candidate_rows`` (through ``MilvusBackend.condition_candidates``):
the same expression without the condition, because an answer also lists the near
misses and the unquantified rows of the concept.  ``search.qa.answer.select_rows``
maps the rows back to the catalog's row groups, re-applies the scope/concept rules
and ``split_rows`` applies the condition (``check_target``): one answer code for
both backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from indexer.model import Target
from indexer.normalize import key
from indexer.values.compare import check_target
from search.qa.concepts import CONCEPTS, lexical_match, row_in_categories
from search.qa.question import Plan, bare
from search.retrieval.milvus.expr import and_, condition_expr, in_list, like_contains, quote
from search.retrieval.milvus.store import MilvusIndex

ROW_FIELDS = ("pk", "pos", "row")


def supported(plan: Plan) -> bool:
    f = plan.filters
    return (plan.condition is not None and plan.column == "annual" and bool(plan.concept)
            and not (f.level1 or f.level2 or f.function or plan.also))


def _concept(plan: Plan, names: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    matched = [k for k in names if lexical_match(plan.concept, plan.concept_free, k)
               or lexical_match(plan.concept, plan.concept_free, bare(k))]
    c = None if plan.concept_free else CONCEPTS.get(plan.concept or "")
    return matched, (c.categories if c else ())


def plan_expr(plan: Plan, names: Sequence[str], with_condition: bool = True) -> str | None:
    """The Milvus expression of ``plan`` (a superset of its rows), None when unsupported;
    ``with_condition=False``: concept and scope only (every row the answer weighs)."""
    if not supported(plan):
        return None
    matched, cats = _concept(plan, names)
    if not matched:
        return None  # the Python path would ask the encoder for similar names
    concept = [in_list("name_key", matched)]
    for cat in cats:
        concept.append(f"level1c like {quote(like_contains(cat))} or level2c like {quote(like_contains(cat))}")
    f = plan.filters
    scope = []
    if f.years:
        scope.append(f"year in [{', '.join(str(int(y)) for y in f.years)}]")
    if f.table:
        scope.append(f"table == {quote(f.table)}")
    if f.units:
        scope.append(in_list("unit_key", [key(u) for u in f.units]))
    elif f.regions:
        scope.append(in_list("region_key", [key(r) for r in f.regions]))
    if f.projects:
        scope.append(in_list("project_key", [key(p) for p in f.projects]))
    cond = [condition_expr(plan.condition)] if with_condition else []
    return and_(" or ".join(f"({c})" for c in concept), *cond, *scope)


def condition_rows(index: MilvusIndex, plan: Plan, names: Sequence[str]) -> list[dict[str, Any]] | None:
    """Rows (``row_to_json`` objects, every copy) satisfying ``plan``; None when unsupported."""
    expr = plan_expr(plan, names)
    if expr is None:
        return None
    matched, cats = _concept(plan, names)
    wanted = set(matched)
    f = plan.filters
    out = []
    for e in index.query_rows(expr, ROW_FIELDS):
        row = e["row"]
        if f.units and row["unit"] not in f.units:
            continue
        if f.projects and row["project"] not in f.projects:
            continue
        if key(row["name"]) not in wanted and not row_in_categories(row["level1"], row["level2"], cats):
            continue
        target = Target.from_json(row["value"], row["target"])
        if check_target(target, plan.condition).ok:
            out.append((int(e["pos"]), row))
    return [r for _, r in sorted(out, key=lambda x: x[0])]


def candidate_rows(index: MilvusIndex, plan: Plan, names: Sequence[str]) -> list[dict[str, Any]] | None:
    """Rows (``row_to_json`` objects, every copy, in chunk order) in the plan's scope whose name or
    level matches its concept, whatever their target: what the answer of a condition question
    weighs (rows meeting the condition, near misses, unquantified rows).  The caller selects
    and splits them with the Python rules (``search.qa.answer.select_rows`` / ``split_rows``);
    None when the plan is not supported here."""
    expr = plan_expr(plan, names, with_condition=False)
    if expr is None:
        return None
    out = [(int(e["pos"]), e["row"]) for e in index.query_rows(expr, ROW_FIELDS)]
    return [r for _, r in sorted(out, key=lambda x: x[0])]


__all__ = ["candidate_rows", "condition_rows", "plan_expr", "supported"]
