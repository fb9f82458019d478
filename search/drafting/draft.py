"""The draft performance-target table a user assembles from suggestions.

A ``Draft`` is an immutable value: ``add_row`` / ``edit_row`` / ``remove_row`` /
``move_row`` return new drafts.  Drafts are saved as UTF-8 JSON::

    {"title": "...", "unit": "...", "year": 2025, "kind": "project",
     "project": "...", "rows": [{"level1": "产出指标", "level2": "数量指标",
     "name": "...", "value": "≥10次", "half_year": "", "explanation": ""}]}

``load_draft`` / ``draft_from_json`` validate the structure and the level
labels and raise ``DraftError`` with a Chinese message naming the file.
``draft_to_table`` turns a draft into an ``indexer.model.Table`` so the
checker and the exporter treat drafts and ingested tables alike.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from indexer import vocab
from indexer.model import TABLE_KINDS, IndicatorRow, SourceRef, Table
from indexer.normalize import clean_cell
from indexer.target import parse_target

log = logging.getLogger(__name__)

KIND_LABELS = {"project": "项目支出", "department": "部门整体支出"}
ROW_FIELDS = ("level1", "level2", "name", "value", "half_year", "explanation", "weight")
_REQUIRED_ROW_FIELDS = ("level1", "level2", "name")
_FIELD_LABELS = {
    "level1": "一级指标",
    "level2": "二级指标",
    "name": "三级指标",
    "value": "指标值",
    "half_year": "半年指标值",
    "explanation": "指标解释",
    "weight": "权重",
    "goal": "年度绩效目标",
    "funds": "项目资金",
    "title": "标题",
    "unit": "单位",
    "year": "年度",
    "kind": "表类型",
    "project": "项目名称",
}
# 一级 categories whose 二级 labels are free text (部门整体 履职效能 framework:
# 二级 = 核心职能 such as "负责全市义务教育学业质量监测的组织管理").
_FREE_LEVEL2_CATEGORIES = frozenset({"履职", "决策", "过程"})
_LEVEL1_AS_LEVEL2 = frozenset({"成本", "满意度"})


class DraftError(Exception):
    """A draft cannot be read or is malformed; ``str()`` is Chinese and names the file."""

    def __init__(self, reason: str, file: str | None = None):
        self.reason = reason
        self.file = file
        super().__init__(f"{file}：{reason}" if file else reason)


@dataclass(frozen=True)
class DraftRow:
    level1: str
    level2: str
    name: str
    value: str
    half_year: str = ""
    explanation: str = ""
    weight: str = ""  # 权重 (score weight), as written

    def to_json(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in ROW_FIELDS}


@dataclass(frozen=True)
class Draft:
    title: str = ""
    unit: str = ""
    year: int | None = None
    kind: str = "project"
    project: str = ""
    rows: tuple[DraftRow, ...] = field(default_factory=tuple)
    goal: str = ""  # 年度绩效目标
    funds: str = ""  # 项目资金 (万元), as written

    @property
    def has_half_year(self) -> bool:
        return any(r.half_year for r in self.rows)

    @property
    def has_weight(self) -> bool:
        return any(r.weight for r in self.rows)

    @property
    def has_explanation(self) -> bool:
        return any(r.explanation for r in self.rows)

    def display_title(self) -> str:
        """The title written above the exported table."""
        if self.title:
            return self.title
        year = f"{self.year}年" if self.year else ""
        return f"{year}{KIND_LABELS.get(self.kind, '')}绩效目标表"

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "unit": self.unit,
            "year": self.year,
            "kind": self.kind,
            "project": self.project,
            "goal": self.goal,
            "funds": self.funds,
            "rows": [r.to_json() for r in self.rows],
        }


# ---------------------------------------------------------------------------
# validation


def validate_row(row: DraftRow, where: str = "") -> None:
    """Raise DraftError when a row lacks a name or uses an unknown level label."""
    prefix = f"{where}：" if where else ""
    if not row.name.strip():
        raise DraftError(f"{prefix}三级指标名称不能为空")
    if not row.level1.strip():
        raise DraftError(f"{prefix}一级指标不能为空")
    if not vocab.is_level1(row.level1):
        known = "、".join(("产出指标", "效益指标", "满意度指标", "成本指标", "决策", "过程", "履职"))
        raise DraftError(f"{prefix}未知的一级指标“{row.level1}”（可用：{known}）")
    if not row.level2.strip():
        raise DraftError(f"{prefix}二级指标不能为空")
    cat1 = vocab.level1_category(row.level1)
    if cat1 in _FREE_LEVEL2_CATEGORIES:
        return
    if vocab.is_level2(row.level2):
        return
    if vocab.is_level1(row.level2):
        # older tables: 成本指标 as a 二级 under 产出, 满意度指标 as a 二级 under 效益
        if vocab.level1_category(row.level2) in _LEVEL1_AS_LEVEL2:
            return
        raise DraftError(f"{prefix}“{row.level2}”是一级指标名称，不能用作二级指标")
    raise DraftError(f"{prefix}未知的二级指标“{row.level2}”（如 数量指标、质量指标、时效指标、社会效益指标）")


def validate_draft(draft: Draft) -> None:
    if draft.kind not in TABLE_KINDS:
        raise DraftError(f"表类型应为 project（项目支出）或 department（部门整体），而不是“{draft.kind}”")
    for i, row in enumerate(draft.rows, start=1):
        validate_row(row, f"第{i}行指标（{row.name or '未命名'}）")


# ---------------------------------------------------------------------------
# immutable edits


def new_draft(
    *, title: str = "", unit: str = "", year: int | None = None, kind: str = "project", project: str = ""
) -> Draft:
    d = Draft(title=title, unit=unit, year=year, kind=kind, project=project)
    validate_draft(d)
    return d


def _check_index(draft: Draft, index: int) -> None:
    if not 0 <= index < len(draft.rows):
        raise DraftError(f"没有第{index + 1}行指标（草稿共 {len(draft.rows)} 行）")


def add_row(draft: Draft, row: DraftRow, index: int | None = None) -> Draft:
    """A new draft with ``row`` inserted at ``index`` (default: after the last row
    of the same 一级/二级 group, else at the end)."""
    validate_row(row, f"新指标（{row.name or '未命名'}）")
    rows = list(draft.rows)
    if index is None:
        index = _group_end(rows, row)
    elif not 0 <= index <= len(rows):
        raise DraftError(f"插入位置 {index + 1} 超出范围（草稿共 {len(rows)} 行）")
    rows.insert(index, row)
    return replace(draft, rows=tuple(rows))


def _group_end(rows: list[DraftRow], row: DraftRow) -> int:
    """Position after the last row with the same levels (or same 一级), else the end."""
    from indexer.normalize import key

    same = [
        i for i, r in enumerate(rows) if key(r.level1) == key(row.level1) and key(r.level2) == key(row.level2)
    ]
    if not same:
        same = [i for i, r in enumerate(rows) if key(r.level1) == key(row.level1)]
    return same[-1] + 1 if same else len(rows)


def edit_row(draft: Draft, index: int, **changes: str) -> Draft:
    """A new draft with row ``index`` changed (fields: level1, level2, name, value, half_year, explanation)."""
    _check_index(draft, index)
    unknown = set(changes) - set(ROW_FIELDS)
    if unknown:
        raise DraftError(f"无法修改未知字段：{'、'.join(sorted(unknown))}")
    new = replace(draft.rows[index], **{k: clean_cell(v) for k, v in changes.items()})
    validate_row(new, f"第{index + 1}行指标（{new.name or '未命名'}）")
    rows = list(draft.rows)
    rows[index] = new
    return replace(draft, rows=tuple(rows))


def remove_row(draft: Draft, index: int) -> Draft:
    _check_index(draft, index)
    return replace(draft, rows=draft.rows[:index] + draft.rows[index + 1 :])


def move_row(draft: Draft, index: int, new_index: int) -> Draft:
    _check_index(draft, index)
    _check_index(draft, new_index)
    rows = list(draft.rows)
    rows.insert(new_index, rows.pop(index))
    return replace(draft, rows=tuple(rows))


def row_from_suggestion(
    suggestion: dict[str, Any], level1: str, level2: str, value: str | None = None
) -> DraftRow:
    """A draft row from one suggestion of ``suggest`` (its canonical name and most common value)."""
    values = suggestion.get("values") or []
    if value is None:
        value = values[0]["value"] if values else ""
    return DraftRow(level1=level1, level2=level2, name=suggestion["name"], value=value)


# ---------------------------------------------------------------------------
# JSON


def _text_field(d: dict[str, Any], name: str, where: str, required: bool) -> str:
    if name not in d or d[name] is None:
        if required:
            raise DraftError(f"{where}缺少字段“{name}”（{_FIELD_LABELS.get(name, name)}）")
        return ""
    v = d[name]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str):
        raise DraftError(f"{where}字段“{name}”（{_FIELD_LABELS.get(name, name)}）应为文本")
    return clean_cell(v)


def _year_field(d: dict[str, Any]) -> int | None:
    y = d.get("year")
    if y is None or y == "":
        return None
    if isinstance(y, bool):
        raise DraftError("字段“year”（年度）应为年份数字，如 2025")
    try:
        year = int(str(y).strip().rstrip("年"))
    except ValueError as exc:
        raise DraftError(f"字段“year”（年度）应为年份数字，如 2025，而不是“{y}”") from exc
    if not 1990 <= year <= 2100:
        raise DraftError(f"字段“year”（年度）超出范围：{year}")
    return year


def draft_from_json(data: Any) -> Draft:
    """Build and validate a Draft from parsed JSON (raises DraftError without a file name)."""
    if not isinstance(data, dict):
        raise DraftError("草稿应为 JSON 对象（{...}），包含 title、kind、rows 等字段")
    rows_data = data.get("rows")
    if rows_data is None:
        raise DraftError("缺少字段“rows”（指标行列表）")
    if not isinstance(rows_data, list):
        raise DraftError("字段“rows”应为列表")
    rows = []
    for i, r in enumerate(rows_data, start=1):
        where = f"第{i}行指标"
        if not isinstance(r, dict):
            raise DraftError(f"{where}应为 JSON 对象")
        unknown = set(r) - set(ROW_FIELDS)
        if unknown:
            log.debug("ignoring unknown row fields %s", sorted(unknown))
        vals = {f: _text_field(r, f, where, f in _REQUIRED_ROW_FIELDS) for f in ROW_FIELDS}
        rows.append(DraftRow(**vals))
    kind = _text_field(data, "kind", "", False) or "project"
    draft = Draft(
        title=_text_field(data, "title", "", False),
        unit=_text_field(data, "unit", "", False),
        year=_year_field(data),
        kind=kind,
        project=_text_field(data, "project", "", False),
        rows=tuple(rows),
        goal=_text_field(data, "goal", "", False),
        funds=_text_field(data, "funds", "", False),
    )
    validate_draft(draft)
    return draft


def load_draft(path: Path | str) -> Draft:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise DraftError("文件不存在", path.name) from exc
    except UnicodeDecodeError as exc:
        raise DraftError("不是 UTF-8 编码的 JSON 文本", path.name) from exc
    except OSError as exc:
        raise DraftError(f"无法读取文件：{exc.strerror or exc}", path.name) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DraftError(
            f"不是有效的 JSON（第{exc.lineno}行第{exc.colno}列附近有语法错误）", path.name
        ) from exc
    try:
        return draft_from_json(data)
    except DraftError as exc:
        raise DraftError(exc.reason, path.name) from exc


def save_draft(draft: Draft, path: Path | str) -> Path:
    path = Path(path)
    try:
        path.write_text(json.dumps(draft.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise DraftError(f"无法写入文件：{exc.strerror or exc}", path.name) from exc
    return path


# ---------------------------------------------------------------------------
# conversions


def draft_to_table(draft: Draft, file: str = "草稿") -> Table:
    """The draft as an ``indexer.model.Table`` (what the checker and exporter consume)."""
    rows = tuple(
        IndicatorRow(
            level1=r.level1,
            level2=r.level2,
            name=r.name,
            value=r.value,
            target=parse_target(r.value),
            source=SourceRef(file=file, line=i + 1),
            half_year=r.half_year,
            half_year_target=parse_target(r.half_year),
            extras=(("指标解释", r.explanation),) if r.explanation else (),
        )
        for i, r in enumerate(draft.rows)
    )
    return Table(
        kind=draft.kind,
        title=draft.display_title(),
        unit=draft.unit,
        year=draft.year,
        source=SourceRef(file=file),
        project=draft.project if draft.kind == "project" else "",
        rows=rows,
    )


def draft_from_table(table: Table, unit: str = "", year: int | None = None) -> Draft:
    """A draft holding an ingested table's rows (to re-edit or export a real table)."""
    rows = tuple(
        DraftRow(
            level1=r.level1,
            level2=r.level2,
            name=r.name,
            value=r.value,
            half_year=r.half_year,
            explanation=dict(r.extras).get("指标解释", ""),
        )
        for r in table.rows
    )
    return Draft(
        title=table.title,
        unit=table.unit or unit,
        year=table.year if table.year is not None else year,
        kind=table.kind,
        project=table.project,
        rows=rows,
    )
