"""Search filters, evaluated on the whole chunk table BEFORE ranking.

Text fields (unit, region, project, level1, level2, doc) match after
``indexer.normalize.key`` normalisation by containment, so ``电化教育馆`` matches
``苏州市电化教育馆`` and ``花莲县`` matches ``花蓮縣``; ``year`` is exact and
``table`` is exactly ``department`` or ``project``.  The result is the set of
allowed chunk positions, which the retrievers rank within (no recall lost to
post-filtering).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from indexer.model import TABLE_KINDS
from indexer.normalize import key
from search.chunks import TABLE_CODES, TEXT_FIELDS, ChunkTable


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
            if want and key(want) not in key(str(values.get(f) or "")):
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
        if wanted:
            values, codes = table.columns[f]
            mask &= _text_mask(values, codes, wanted)
    return mask
