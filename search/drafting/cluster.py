"""Group identical or near-identical indicator phrasings across units.

``cluster_rows(rows)`` takes hit objects (the ``row_to_json`` shape) and returns
clusters such as "师生满意度 — 3 个单位使用：…", each with a canonical name, the
variants as written, the units, the number of tables, the value distribution and
the member rows.  It is a small pure API (no index access) reused by the
drafting assistant.

Matching works on a normalised *core* of the name: ``key()`` (half-width,
simplified, lower case), without an "指标N:" prefix, punctuation, quotes and a
trailing threshold ("师生满意度大于90%" -> 师生满意度).  Two cores are merged when
they are equal, when their character-level similarity (difflib ratio) is at
least ``RATIO`` with at most ``MAX_EDITS`` characters inserted or deleted, or when the shorter (at least ``MIN_CONTAINED`` characters) is
contained in the longer and covers at least ``COVER`` of it (a unit-specific
prefix such as 教育资助 in 教育资助申请程序和审核过程科学合规率).  The thresholds
were chosen on the corpus: 学生满意度 / 学校满意度 (ratio 0.8) stay apart,
系统日常维护合格率 / 信息系统日常维护合格率 (0.9) and 政府采购执行率 /
政府采购预算执行率 merge, while templates differing in their subject such as
打印制作…初中生 / 打印制作…小学生 (4 edits) stay apart.  Clustering is greedy
around the most frequent phrasings, so chains of small edits never snowball.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from indexer.normalize import key
from indexer.values.lexicon import PREFIX_OPS, SUFFIX_OPS, alternation

RATIO = 0.85
MAX_EDITS = 3
MIN_CONTAINED = 5
COVER = 0.75

_PREFIX = re.compile(r"^(?:指标\s*\d+|\d+)\s*[:：、.．]\s*")
_THRESHOLD = re.compile(
    rf"(?:{alternation([*PREFIX_OPS, '在'])})?"
    rf"\s*\d+(?:\.\d+)?\s*%?\s*(?:{alternation(SUFFIX_OPS)})?$"
)
_NON_WORD = re.compile(r"[^0-9a-z\u3400-\u9fff\uf900-\ufaff]+")


@functools.lru_cache(maxsize=1 << 16)
def core_name(name: str) -> str:
    """Normalised core of an indicator name used for matching.

    >>> core_name("指标3：“三公经费”变动率")
    '三公经费变动率'
    >>> core_name("師生滿意度大於 90%")
    '师生满意度'
    """
    s = key(name)
    s = _PREFIX.sub("", s)
    stripped = _THRESHOLD.sub("", s)
    if len(_NON_WORD.sub("", stripped)) >= 2:
        s = stripped
    return _NON_WORD.sub("", s)


@functools.lru_cache(maxsize=1 << 18)
def similar(a: str, b: str) -> bool:
    """Whether two cores are near-identical phrasings (see module docstring).

    Pure and memoised: the web server clusters overlapping hit lists of the same few
    hundred names for every search (difflib dominated the per-search Python time)."""
    if a == b:
        return True
    if not a or not b:
        return False
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= MIN_CONTAINED and short in long_ and len(short) / len(long_) >= COVER:
        return True
    if len(short) / len(long_) < 2 * RATIO - 1:  # ratio is at most 2*len(short)/(len(a)+len(b))
        return False
    sm = SequenceMatcher(None, a, b, autojunk=False)
    matched = sum(m.size for m in sm.get_matching_blocks())
    edits = len(a) + len(b) - 2 * matched
    return edits <= MAX_EDITS and 2 * matched / (len(a) + len(b)) >= RATIO


@functools.lru_cache(maxsize=1 << 16)
def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


@dataclass(frozen=True)
class Cluster:
    name: str  # canonical phrasing (most frequent as written, then shortest)
    key: str  # normalised core of the canonical phrasing
    variants: tuple[tuple[str, int], ...]  # (phrasing as written, rows), most used first
    units: tuple[str, ...]  # distinct units, in order of first appearance
    tables: int  # distinct tables (doc, table kind, project) using it
    values: tuple[tuple[str, int], ...]  # value distribution, most frequent first
    rows: tuple[dict[str, Any], ...]  # member rows in input order

    @property
    def size(self) -> int:
        return len(self.rows)

    def label(self, max_units: int = 6) -> str:
        """e.g. ``师生满意度 — 3 个单位使用：A、B、C``."""
        shown = "、".join(self.units[:max_units]) + ("等" if len(self.units) > max_units else "")
        return f"{self.name} — {len(self.units)} 个单位使用：{shown}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "variants": [{"name": n, "count": c} for n, c in self.variants],
            "units": list(self.units),
            "tables": self.tables,
            "values": [{"value": v, "count": c} for v, c in self.values],
            "rows": list(self.rows),
        }


def _assign(cores: Counter[str]) -> dict[str, str]:
    """Map each distinct core to its leader core (greedy, most frequent first)."""
    leaders: list[str] = []
    leader_of: dict[str, str] = {}
    for core in sorted(cores, key=lambda c: (-cores[c], len(c), c)):
        best = None
        best_ratio = -1.0
        for lead in leaders:
            if similar(core, lead):
                r = _ratio(core, lead)
                if r > best_ratio:
                    best, best_ratio = lead, r
        if best is None:
            leaders.append(core)
            best = core
        leader_of[core] = best
    return leader_of


def _canonical(names: Sequence[str]) -> str:
    counts = Counter(names)
    first = {n: i for i, n in reversed(list(enumerate(names)))}
    return min(counts, key=lambda n: (-counts[n], len(n), first[n]))


def cluster_rows(rows: Sequence[dict[str, Any]]) -> list[Cluster]:
    """Clusters of ``rows`` (hit objects with at least name, unit, value, doc, table,
    project), in order of their first member in ``rows``."""
    cores = [core_name(str(r.get("name", ""))) for r in rows]
    leader_of = _assign(Counter(c for c in cores))
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cores):
        groups.setdefault(leader_of[c], []).append(i)
    out = []
    for members in groups.values():
        mrows = [rows[i] for i in members]
        names = [str(r.get("name", "")) for r in mrows]
        canonical = _canonical(names)
        units = list(dict.fromkeys(str(r.get("unit", "")) for r in mrows))
        tables = {(r.get("doc"), r.get("table"), r.get("project")) for r in mrows}
        values = Counter(str(r.get("value", "")) for r in mrows)
        variants = Counter(names)
        out.append(
            Cluster(
                name=canonical,
                key=core_name(canonical),
                variants=tuple(sorted(variants.items(), key=lambda kv: (-kv[1], names.index(kv[0])))),
                units=tuple(units),
                tables=len(tables),
                values=tuple(sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))),
                rows=tuple(mrows),
            )
        )
    return out
