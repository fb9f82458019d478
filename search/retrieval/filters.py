"""Search filters, evaluated on the whole chunk table BEFORE ranking.

Text fields (unit, region, project, doc) match after
``indexer.normalize.key`` normalisation by containment, so ``电化教育馆`` matches
``苏州市电化教育馆`` and ``花莲县`` matches ``花蓮縣``; ``level1``/``level2`` compare
the canonical labels of ``search.retrieval.levels`` (``效益`` / ``效益指標`` / ``项目效益指标``
all filter as ``效益指标``, ``数量`` matches ``数量指标``); ``year`` is exact and
``table`` is exactly ``department`` or ``project``.  The result is the set of
allowed chunk positions, which the retrievers rank within (no recall lost to
post-filtering).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from indexer.model import TABLE_KINDS
from indexer.normalize import key
from search.retrieval.chunks import TABLE_CODES, TEXT_FIELDS, ChunkTable
from search.retrieval.levels import canonical_levels, level1_matches, level2_matches

LEVEL_FIELDS = ("level1", "level2")


class FilterError(ValueError):
    """Invalid filter value (Chinese message)."""


@dataclass(frozen=True)
class Filters:
    unit: str | None = None
    year: int | None = None
    region: str | None = None
    table: str | None = None  # "department" | "project"
    project: str | None = None
    level1: str | None = None
    level2: str | None = None
    doc: str | None = None

    def __post_init__(self) -> None:
        if self.table is not None and self.table not in TABLE_KINDS:
            raise FilterError(f"表类型只能是 department（部门整体）或 project（项目），收到：{self.table}")
        if self.year is not None and not isinstance(self.year, int):
            try:
                object.__setattr__(self, "year", int(self.year))
            except (TypeError, ValueError) as exc:
                raise FilterError(f"年度必须是整数，收到：{self.year}") from exc

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) not in (None, "") for f in fields(self))

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) not in (None, "")}

    @classmethod
    def from_json(cls, d: dict | None) -> Filters:
        d = d or {}
        return cls(**{f.name: d.get(f.name) for f in fields(cls) if d.get(f.name) not in (None, "")})

    def matches(self, row: dict, region: str = "") -> bool:
        """Whether one hit object passes (used by tests and small callers)."""
        if self.year is not None and row.get("year") != self.year:
            return False
        if self.table and row.get("table") != self.table:
            return False
        values = {**row, "region": region}
        for f in TEXT_FIELDS:
            want = getattr(self, f)
            if f in LEVEL_FIELDS or not want:
                continue
            if key(want) not in key(str(values.get(f) or "")):
                return False
        if self.level1 or self.level2:
            c1, c2 = canonical_levels(str(row.get("level1") or ""), str(row.get("level2") or ""))
            if self.level1 and not level1_matches(self.level1, c1):
                return False
            if self.level2 and not level2_matches(self.level2, c2):
                return False
        return True


def _text_mask(values: list[str], codes: np.ndarray, wanted: str) -> np.ndarray:
    k = key(wanted)
    ok = np.fromiter((k in key(v) for v in values), dtype=bool, count=len(values))
    if not ok.any():
        return np.zeros(codes.shape[0], dtype=bool)
    return ok[codes]


def allowed_mask(table: ChunkTable, filters: Filters | None) -> np.ndarray | None:
    """Boolean mask over chunk positions, or None when no filter is active."""
    if filters is None or not filters.active:
        return None
    mask = np.ones(len(table), dtype=bool)
    if filters.year is not None:
        mask &= table.year == int(filters.year)
    if filters.table:
        mask &= table.table == TABLE_CODES[filters.table]
    for f in TEXT_FIELDS:
        wanted = getattr(filters, f)
        if wanted and f not in LEVEL_FIELDS:
            values, codes = table.columns[f]
            mask &= _text_mask(values, codes, wanted)
    if filters.level1 or filters.level2:
        mask &= _level_mask(table, filters.level1, filters.level2)
    return mask


def canonical_level_columns(table: ChunkTable) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """The canonical 一级/二级 label of every chunk, beside the labels as written (computed once
    per chunk table from its distinct (一级, 二级) pairs): (values1, codes1, values2, codes2)."""
    cached = table.canonical_levels
    if cached is not None:
        return cached
    v1, c1 = table.columns["level1"]
    v2, c2 = table.columns["level2"]
    pairs = c1.astype(np.int64) * (len(v2) + 1) + c2
    uniq, inverse = np.unique(pairs, return_inverse=True)
    canon = [canonical_levels(v1[int(p) // (len(v2) + 1)], v2[int(p) % (len(v2) + 1)]) for p in uniq]
    out1 = sorted({a for a, _ in canon})
    out2 = sorted({b for _, b in canon})
    i1 = {v: i for i, v in enumerate(out1)}
    i2 = {v: i for i, v in enumerate(out2)}
    codes1 = np.array([i1[a] for a, _ in canon], dtype=np.int32)[inverse.reshape(-1)]
    codes2 = np.array([i2[b] for _, b in canon], dtype=np.int32)[inverse.reshape(-1)]
    result = (out1, codes1, out2, codes2)
    table.canonical_levels = result
    return result


def _level_mask(table: ChunkTable, level1: str | None, level2: str | None) -> np.ndarray:
    out1, codes1, out2, codes2 = canonical_level_columns(table)
    mask = np.ones(len(table), dtype=bool)
    if level1:
        ok = np.fromiter((level1_matches(level1, v) for v in out1), dtype=bool, count=len(out1))
        mask &= ok[codes1] if len(out1) else False
    if level2:
        ok = np.fromiter((level2_matches(level2, v) for v in out2), dtype=bool, count=len(out2))
        mask &= ok[codes2] if len(out2) else False
    return mask
