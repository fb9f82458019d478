"""Shared, frozen data model passed between pipeline stages.

Every stage (extract -> layout -> store -> search) passes these objects,
never loose dicts.  ``to_json`` helpers produce the stable CLI contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TABLE_KINDS = ("department", "project")

BBox = tuple[float, float, float, float]  # x0, top, x1, bottom (pdfplumber coordinates)


@dataclass(frozen=True)
class SourceRef:
    """Where something came from: file name, 1-based page (PDF) or line (text/xlsx).

    ``sheet`` names the part of the file the line counts in: the worksheet of an
    Excel workbook (``line`` is then its Excel row number), or ``表N`` for the
    N-th table of a web page or Word document (``line`` is then the row of that
    table).  It is None for text files and PDFs, and then left out of the JSON.
    """

    file: str
    page: int | None = None
    line: int | None = None
    bbox: BBox | None = None
    sheet: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file,
            "page": self.page,
            "line": self.line,
            "bbox": [round(v, 2) for v in self.bbox] if self.bbox else None,
        }
        if self.sheet is not None:
            out["sheet"] = self.sheet
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SourceRef:
        bbox = d.get("bbox")
        return cls(d["file"], d.get("page"), d.get("line"), tuple(bbox) if bbox else None, d.get("sheet"))

    def label(self) -> str:
        """Human readable citation: ``a.pdf 第2页``, ``a.txt 第35行``, ``a.xls 工作表“项目”第7行``, ``a.html 表2 第5行``."""
        if self.page is not None:
            return f"{self.file} 第{self.page}页"
        where = self.file
        if self.sheet is not None:
            where += f" {self.sheet}" if self.sheet.startswith("表") else f" 工作表“{self.sheet}”"
        if self.line is not None:
            return f"{where} 第{self.line}行"
        return where


@dataclass(frozen=True)
class Target:
    """A parsed target value such as ``≥90%`` or ``按时完成``.

    ``op`` is one of ``≥ ≤ = > <`` or ``range`` (then ``number`` is ``(lo, hi)``);
    ``qualitative`` is True when the value carries no usable number.
    ``text`` keeps the value exactly as written.
    """

    text: str = ""
    op: str | None = None
    number: float | tuple[float, float] | None = None
    unit: str | None = None
    qualitative: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.text.strip()

    @property
    def is_numeric(self) -> bool:
        return self.number is not None and not self.qualitative

    def to_json(self) -> dict[str, Any]:
        num: Any = self.number
        if isinstance(num, tuple):
            num = list(num)
        return {"op": self.op, "number": num, "unit": self.unit, "qualitative": self.qualitative}

    @classmethod
    def from_json(cls, text: str, d: dict[str, Any]) -> Target:
        num = d.get("number")
        if isinstance(num, list):
            num = (float(num[0]), float(num[1]))
        return cls(text, d.get("op"), num, d.get("unit"), bool(d.get("qualitative")))


@dataclass(frozen=True)
class IndicatorRow:
    """One indicator (三级指标) with its group labels and values, as written."""

    level1: str
    level2: str
    name: str
    value: str
    target: Target
    source: SourceRef
    half_year: str = ""
    half_year_target: Target = field(default_factory=Target)
    task: str = ""  # 重点工作
    function: str = ""  # 核心职能, e.g. "职能1: 教育督导"
    extras: tuple[tuple[str, str], ...] = ()  # other columns: 指标解释, 权重, 备注 ...


@dataclass(frozen=True)
class ExpenseLine:
    name: str
    half_year: float | None
    annual: float | None
    source: SourceRef

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "half_year": self.half_year, "annual": self.annual}


@dataclass(frozen=True)
class Table:
    """One 部门整体 or 项目支出 绩效目标表 inside a document."""

    kind: str  # "department" | "project"
    title: str
    unit: str
    year: int | None
    source: SourceRef
    project: str = ""
    total_budget_wan: float | None = None
    expenses: tuple[ExpenseLine, ...] = ()
    funding: tuple[tuple[str, float], ...] = ()  # 财政拨款 / 其他资金 / 上年结转 ... (万元)
    goals: tuple[tuple[str, str], ...] = ()  # (label, text): 中长期目标, 年度目标 ...
    duties: str = ""  # 单位主要职能 / 部门职能概述
    rows: tuple[IndicatorRow, ...] = ()
    total_source: SourceRef | None = None  # the line holding 资金总额 (None: not located)

    def goals_dict(self) -> dict[str, str]:
        return dict(self.goals)


@dataclass(frozen=True)
class Passage:
    """A piece of running text of a document in which no indicator table was recognised."""

    text: str
    source: SourceRef


NO_TABLE_WARNING = "未识别到指标表，已按正文导入"


@dataclass(frozen=True)
class Document:
    file: str  # file name (no directory)
    sha256: str
    title: str
    unit: str
    year: int | None
    region: str
    tables: tuple[Table, ...]
    fmt: str = "text"  # indexer.formats names: text | pdf | xlsx | xls | et | docx | doc | html | image
    encoding: str = ""
    traditional: bool = False
    warnings: tuple[str, ...] = ()
    passages: tuple[Passage, ...] = ()  # set only when no indicator table was recognised
    clutter_lines: int = 0  # lines skipped as web-page clutter (扫一扫, 打印本页 …), for the parse report

    @property
    def rows(self) -> tuple[IndicatorRow, ...]:
        return tuple(r for t in self.tables for r in t.rows)


def table_context(doc: Document, table: Table) -> dict[str, Any]:
    """The document/table keys every row object starts with."""
    return {
        "doc": doc.file,
        "unit": table.unit or doc.unit,
        "year": table.year if table.year is not None else doc.year,
        "table": table.kind,
        "project": table.project,
    }


def row_to_json(doc: Document, table: Table, row: IndicatorRow) -> dict[str, Any]:
    """The stable ``perfsearch rows --json`` object (exactly these keys)."""
    return {
        **table_context(doc, table),
        "function": row.function,
        "level1": row.level1,
        "level2": row.level2,
        "task": row.task,
        "name": row.name,
        "half_year": row.half_year,
        "value": row.value,
        "target": row.target.to_json(),
        "source": row.source.to_json(),
    }


def table_to_json(doc: Document, table: Table) -> dict[str, Any]:
    """The stable ``perfsearch docs --json`` object."""
    return {
        "doc": doc.file,
        "unit": table.unit or doc.unit,
        "year": table.year if table.year is not None else doc.year,
        "table": table.kind,
        "project": table.project,
        "total_budget_wan": table.total_budget_wan,
        "expenses": [e.to_json() for e in table.expenses],
        "goals": table.goals_dict(),
    }


class IngestError(Exception):
    """A file could not be ingested; ``message`` is Chinese and names the file."""

    def __init__(self, file: str, reason: str, page: int | None = None, line: int | None = None):
        self.file = file
        self.reason = reason
        self.page = page
        self.line = line
        where = file
        if page is not None:
            where += f" 第{page}页"
        if line is not None:
            where += f" 第{line}行"
        super().__init__(f"{where}：{reason}")

    @property
    def message(self) -> str:
        return str(self)
