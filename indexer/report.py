"""Per-document parse report: what was understood and what was not.

``report_file(path)`` parses one file and returns a frozen ``ParseReport`` (tables,
rows, rows with an empty value or an unknown level, lines skipped as page clutter,
text passages for files without a recognised table).  ``perfsearch ingest --report``
prints it; the web UI can show the same object.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from indexer.model import Document, IngestError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParseReport:
    file: str
    tables: int = 0
    rows: int = 0
    empty_value: int = 0  # rows whose value is empty
    unknown_level: int = 0  # rows without a 一级 or without a 二级 label
    clutter_lines: int = 0  # lines skipped as web-page clutter (扫一扫, 打印本页, 发布时间 …)
    passages: int = 0  # text passages imported because no indicator table was recognised
    warnings: tuple[str, ...] = ()
    error: str = ""

    def text(self) -> str:
        """One Chinese line for the command line."""
        if self.error:
            return f"{self.file}：失败（{self.error}）"
        parts = [f"{self.tables} 张表", f"{self.rows} 条指标"]
        if self.empty_value:
            parts.append(f"{self.empty_value} 条缺指标值")
        if self.unknown_level:
            parts.append(f"{self.unknown_level} 条层级不明")
        if self.clutter_lines:
            parts.append(f"跳过网页杂项 {self.clutter_lines} 行")
        if self.passages:
            parts.append(f"正文 {self.passages} 段")
        line = f"{self.file}：" + "，".join(parts)
        if self.warnings:
            line += "。" + "；".join(self.warnings)
        return line


def report_for(doc: Document) -> ParseReport:
    """The report of a parsed (or stored) document."""
    rows = doc.rows
    return ParseReport(
        file=doc.file,
        tables=sum(1 for t in doc.tables if t.rows),
        rows=len(rows),
        empty_value=sum(1 for r in rows if not r.value.strip()),
        unknown_level=sum(1 for r in rows if not (r.level1 and r.level2)),
        clutter_lines=doc.clutter_lines,
        passages=len(doc.passages),
        warnings=doc.warnings,
    )


def report_file(path: Path | str) -> ParseReport:
    """Parse ``path`` and report; a file that cannot be read gives a report with ``error`` set."""
    from indexer.ingest import parse_file

    path = Path(path)
    try:
        return report_for(parse_file(path))
    except IngestError as exc:
        return ParseReport(file=path.name, error=exc.reason)
