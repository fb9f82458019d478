"""Draft model: immutable edits, JSON round trip, Chinese errors for bad drafts."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace

import pytest

from search.drafting.draft import (
    Draft,
    DraftError,
    DraftRow,
    add_row,
    draft_from_json,
    draft_from_table,
    draft_to_table,
    edit_row,
    load_draft,
    move_row,
    new_draft,
    remove_row,
    row_from_suggestion,
    save_draft,
)
from tests.conftest import SEED_000, SEED_003, parsed

R1 = DraftRow("产出指标", "数量指标", "培训人数", "≥500人")
R2 = DraftRow("产出指标", "质量指标", "培训合格率", "≥95%")
R3 = DraftRow("满意度指标", "服务对象满意度指标", "参训教师满意度", "≥90%")


def base() -> Draft:
    return Draft(title="", unit="某区教育局", year=2025, kind="project", project="教师培训", rows=(R1, R3))


def test_draft_is_frozen_and_edits_return_new_drafts():
    d = base()
    with pytest.raises(FrozenInstanceError):
        d.rows = ()  # type: ignore[misc]
    d2 = add_row(d, R2)
    assert d.rows == (R1, R3)
    # inserted after the last 产出指标 row, before 满意度
    assert d2.rows == (R1, R2, R3)
    d3 = edit_row(d2, 1, value="≥98%", name="培训考核合格率")
    assert d3.rows[1] == DraftRow("产出指标", "质量指标", "培训考核合格率", "≥98%")
    assert d2.rows[1] == R2
    assert remove_row(d3, 0).rows == (d3.rows[1], R3)
    assert move_row(d2, 2, 0).rows == (R3, R1, R2)
    assert add_row(d, R2, index=0).rows == (R2, R1, R3)


def test_edit_errors_are_chinese():
    with pytest.raises(DraftError, match="没有第5行指标（草稿共 2 行）"):
        edit_row(base(), 4, value="1")
    with pytest.raises(DraftError, match="未知的一级指标“产出类”"):
        edit_row(base(), 0, level1="产出类")
    with pytest.raises(DraftError, match="无法修改未知字段：score"):
        edit_row(base(), 0, score="10")
    with pytest.raises(DraftError, match="新指标（x）：未知的二级指标“份数指标”"):
        add_row(base(), DraftRow("产出指标", "份数指标", "x", "1"))
    with pytest.raises(DraftError, match="三级指标名称不能为空"):
        add_row(base(), DraftRow("产出指标", "数量指标", " ", "1"))


def test_free_level2_allowed_under_duty_framework():
    d = new_draft(kind="department", unit="某中心")
    d = add_row(d, DraftRow("履职", "负责全市义务教育学业质量监测的组织管理", "研制学科测试卷", "≥22套"))
    assert len(d.rows) == 1
    with pytest.raises(DraftError, match="表类型应为 project"):
        new_draft(kind="部门")


def test_json_round_trip(tmp_path):
    d = add_row(
        base(), DraftRow("成本指标", "经济成本指标", "培训成本", "≤30万元", "≤15万元", "含师资、场地费用", "10")
    )
    d = replace(d, goal="完成全区教师培训", funds="120")
    p = save_draft(d, tmp_path / "d.json")
    data = json.loads(p.read_text(encoding="utf-8"))
    assert data["rows"][-1] == {
        "level1": "成本指标", "level2": "经济成本指标", "name": "培训成本", "value": "≤30万元",
        "half_year": "≤15万元", "explanation": "含师资、场地费用", "weight": "10",
    }  # fmt: skip
    assert data["goal"] == "完成全区教师培训" and data["funds"] == "120"
    assert load_draft(p) == d


def test_display_title():
    assert base().display_title() == "2025年项目支出绩效目标表"
    assert Draft(kind="department").display_title() == "部门整体支出绩效目标表"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "d.json：不是有效的 JSON（第1行第2列附近有语法错误）"),
        ("[]", "d.json：草稿应为 JSON 对象"),
        ('{"kind": "project"}', "d.json：缺少字段“rows”（指标行列表）"),
        (
            '{"rows": [{"level1": "产出指标", "level2": "数量指标"}]}',
            "d.json：第1行指标缺少字段“name”（三级指标）",
        ),
        (
            '{"rows": [{"level1": "绩效指标", "level2": "数量指标", "name": "a"}]}',
            "d.json：第1行指标（a）：未知的一级指标“绩效指标”",
        ),
        (
            '{"rows": [{"level1": "产出指标", "level2": 3, "name": "a"}]}',
            "d.json：第1行指标（a）：未知的二级指标“3”",
        ),
        (
            '{"rows": [{"level1": "产出指标", "level2": ["x"], "name": "a"}]}',
            "d.json：第1行指标字段“level2”（二级指标）应为文本",
        ),
        ('{"year": "明年", "rows": []}', "d.json：字段“year”（年度）应为年份数字，如 2025，而不是“明年”"),
        (
            '{"kind": "other", "rows": []}',
            "d.json：表类型应为 project（项目支出）或 department（部门整体），而不是“other”",
        ),
    ],
)
def test_bad_drafts_name_the_file(tmp_path, content, message):
    p = tmp_path / "d.json"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(DraftError) as ei:
        load_draft(p)
    assert str(ei.value).startswith(message)
    assert ei.value.file == "d.json"


def test_unreadable_draft_files(tmp_path):
    with pytest.raises(DraftError, match="^missing.json：文件不存在$"):
        load_draft(tmp_path / "missing.json")
    p = tmp_path / "gbk.json"
    p.write_bytes('{"title": "测试"}'.encode("gbk"))
    with pytest.raises(DraftError, match="^gbk.json：不是 UTF-8 编码的 JSON 文本$"):
        load_draft(p)


def test_year_accepts_text_and_bom(tmp_path):
    p = tmp_path / "d.json"
    p.write_text('\ufeff{"year": "2025年", "rows": []}', encoding="utf-8")
    assert load_draft(p).year == 2025
    assert draft_from_json({"rows": [], "year": None}).year is None


def test_draft_from_real_table_and_back():
    doc = parsed(SEED_003)
    t = next(t for t in doc.tables if t.project == "教师培训费")
    d = draft_from_table(t, doc.unit, doc.year)
    assert (d.kind, d.project, d.unit, d.year) == (
        "project",
        "教师培训费",
        "赣州经济技术开发区教体服务中心",
        2023,
    )
    assert d.rows[0] == DraftRow("成本指标", "经济成本指标", "教师培训费成本", "≤300 万元")
    t2 = draft_to_table(d, "x.json")
    assert [(r.level1, r.level2, r.name, r.value) for r in t2.rows] == [
        (r.level1, r.level2, r.name, r.value) for r in t.rows
    ]
    assert [r.target for r in t2.rows] == [r.target for r in t.rows]
    # half-year values survive too
    t0 = parsed(SEED_000).tables[0]
    d0 = draft_from_table(t0)
    assert d0.has_half_year and d0.rows[34].half_year == "≥0万人次" and d0.rows[34].value == "≥32万人次"


def test_row_from_suggestion_uses_most_common_value():
    s = {"name": "参训教师满意度", "values": [{"value": "≥90%", "count": 3}, {"value": "≥95%", "count": 1}]}
    assert row_from_suggestion(s, "满意度指标", "服务对象满意度指标") == DraftRow(
        "满意度指标", "服务对象满意度指标", "参训教师满意度", "≥90%"
    )
