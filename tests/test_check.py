"""Checker rules on real corpus tables and on small hand-made drafts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from search.drafting.check import (
    RULES,
    Finding,
    check_draft,
    check_path,
    check_table,
    covered_categories,
    has_explicit_operator,
    table_framework,
    vague_reason,
)
from search.drafting.draft import Draft, DraftRow
from tests.conftest import CORPUS, SEED_000, SEED_001, SEED_002, SEED_003, SEED_004, parsed

GBK = CORPUS / "other_gbk_pipes_columns_2024.txt"
FUJIAN = CORPUS / "other_nolevels_fujian_2024.txt"
TRAD = CORPUS / "other_traditional_onecell_2023.txt"


def table_of(path, project: str | None = None, kind: str | None = None):
    doc = parsed(path)
    for t in doc.tables:
        if (project is None or t.project == project) and (kind is None or t.kind == kind):
            return t
    raise AssertionError(f"no table {project!r} in {path.name}")


def findings_of(table, rule_id: str) -> list[tuple[int | None, str, str]]:
    return [(f.row_index, f.severity, f.message) for f in check_table(table) if f.rule_id == rule_id]


def row_index(table, name: str) -> int:
    return next(i for i, r in enumerate(table.rows) if r.name == name)


def f(rule_id: str, row: int | None, message: str, severity: str | None = None) -> Finding:
    r = RULES[rule_id]
    return Finding(rule_id, severity or r.severity, row, message, r.text)


P = "产出指标"
E = "效益指标"
S = "满意度指标"
C = "成本指标"


def draft(*rows: tuple, kind: str = "project") -> Draft:
    return Draft(
        title="测试",
        unit="某单位",
        year=2025,
        kind=kind,
        project="测试项目",
        rows=tuple(DraftRow(*r) for r in rows),
    )


# complete, clean project draft used as the base of the hand-made cases
BASE = (
    (P, "数量指标", "培训人数", "≥500人"),
    (P, "质量指标", "培训合格率", "≥95%"),
    (P, "时效指标", "培训完成时间", "2025年11月底前"),
    (C, "经济成本指标", "培训成本", "≤30万元"),
    (E, "社会效益指标", "教师持证上岗比例", "≥95%"),
    (S, "服务对象满意度指标", "参训教师满意度", "≥90%"),
)


# ---------------------------------------------------------------------------
# framework and categories on real tables


def test_clean_base_draft_has_no_findings():
    assert check_draft(draft(*BASE)) == []


def test_real_clean_table_has_no_findings():
    assert check_table(table_of(GBK)) == []


@pytest.mark.parametrize("seed", [SEED_000, SEED_001, SEED_002])
def test_duty_framework_department_tables_are_not_flagged_for_missing_categories(seed):
    t = parsed(seed).tables[0]
    assert table_framework(t) == "duty"
    assert covered_categories(t) == {"决策", "过程", "履职", "效益", "满意度"}
    assert findings_of(t, "missing-level1") == []
    assert findings_of(t, "invalid-level-pair") == []


def test_003_department_cost_as_level2_counts_as_cost():
    t = table_of(SEED_003, kind="department")
    i = row_index(t, "专项经费控制在预算范围内")
    assert (t.rows[i].level1, t.rows[i].level2) == ("产出指标", "成本指标")
    assert table_framework(t) == "standard"
    assert covered_categories(t) == {"产出", "成本", "效益", "满意度"}
    # even when judged against the project rules (which require 成本) nothing is missing,
    # and 产出指标/成本指标 is a valid pair
    assert findings_of(replace(t, kind="project"), "missing-level1") == []
    assert findings_of(t, "invalid-level-pair") == []


def test_fujian_old_framework_satisfaction_under_benefit_is_valid_but_cost_missing():
    t = table_of(FUJIAN, kind="project")
    i = row_index(t, "被评价单位满意度")
    assert (t.rows[i].level1, t.rows[i].level2) == ("项目效益指标", "满意度指标")
    assert findings_of(t, "invalid-level-pair") == []
    assert covered_categories(t) == {"产出", "效益", "满意度"}
    assert findings_of(t, "missing-level1") == [
        (
            None,
            "error",
            "缺少成本指标（一级“成本指标”，或旧版表样中产出指标下的二级“成本指标”）：项目支出绩效目标表应包含成本指标。",
        )
    ]


def test_traditional_project_table_missing_cost():
    t = parsed(TRAD).tables[0]
    assert [x.rule_id for x in check_table(t)] == ["missing-level1"]


def test_flat_table_gets_only_row_checks():
    t = table_of(FUJIAN, kind="department")
    assert table_framework(t) == "flat"
    assert [(x.rule_id, x.row_index) for x in check_table(t)] == [
        ("no-levels", None),
        ("value-no-operator", 0),
    ]


def test_missing_categories_in_handmade_project_draft():
    d = draft(BASE[0], BASE[1])
    msgs = [x.message for x in check_draft(d) if x.rule_id == "missing-level1"]
    assert msgs == [
        "缺少成本指标（一级“成本指标”，或旧版表样中产出指标下的二级“成本指标”）：项目支出绩效目标表应包含成本指标。",
        "缺少效益指标：项目支出绩效目标表应包含效益指标。",
        "缺少满意度指标（一级“满意度指标”，或旧版表样中效益指标下的二级“满意度指标”）：项目支出绩效目标表应包含满意度指标。",
    ]
    # a department draft does not need 成本
    dep = replace(d, kind="department")
    assert [x.message.split("：")[0] for x in check_draft(dep) if x.rule_id == "missing-level1"] == [
        "缺少效益指标",
        "缺少满意度指标（一级“满意度指标”，或旧版表样中效益指标下的二级“满意度指标”）",
    ]


def test_duty_framework_missing_categories():
    d = draft(
        ("履职", "教育督导", "督导学校数", "≥20所"),
        (S, "服务对象满意度指标", "学校满意度", "≥90%"),
        kind="department",
    )
    assert [x.message for x in check_draft(d) if x.rule_id == "missing-level1"] == [
        "缺少决策：该表采用“决策、过程、履职、效益、满意度”框架应包含决策。",
        "缺少过程：该表采用“决策、过程、履职、效益、满意度”框架应包含过程。",
        "缺少效益指标：该表采用“决策、过程、履职、效益、满意度”框架应包含效益指标。",
    ]


# ---------------------------------------------------------------------------
# level pairs


def test_invalid_level_pair():
    d = draft(*BASE, (E, "数量指标", "受益学生数", "≥1000人"))
    assert check_draft(d) == [
        f(
            "invalid-level-pair",
            6,
            "二级指标“数量指标”应属于产出指标，却放在一级指标“效益指标”下（“受益学生数”）。",
        )
    ]


def test_level_missing_and_duplicates_on_real_004():
    t = parsed(SEED_004).tables[0]
    missing = findings_of(t, "level-missing")
    assert [(i, t.rows[i].name, m) for i, _, m in missing] == [
        (19, "项目落地实施率", "“项目落地实施率”缺少二级指标。"),
        (20, "维修工程验收率", "“维修工程验收率”缺少二级指标。"),
        (34, "项目落地实施率", "“项目落地实施率”缺少二级指标。"),
        (39, "受益学校数", "“受益学校数”缺少一级指标、二级指标。"),
        (41, "各项任务完成及时率", "“各项任务完成及时率”缺少二级指标。"),
    ]
    dups = findings_of(t, "duplicate")
    assert [(i, sev, m) for i, sev, m in dups] == [
        (16, "warning", "“学校统计人员培训合格率”与第15行重复（同名指标）。"),
        (29, "warning", "“受益学生数”与第28行重复（同名指标）。"),
        (39, "warning", "“受益学校数”与第34行重复（同名指标）。"),
        (42, "warning", "“各项任务完成及时率”与第42行重复（同名指标）。"),
    ]
    # same name under different 核心职能 is not a duplicate
    assert t.rows[11].function != t.rows[18].function
    assert t.rows[18].name == "受益学校数"


# ---------------------------------------------------------------------------
# values on real rows


def test_002_satisfaction_without_operator():
    t = parsed(SEED_002).tables[0]
    i = row_index(t, "师生满意度")
    assert t.rows[i].value == "98%"
    assert [x for x in check_table(t) if x.row_index == i] == [
        f(
            "value-no-operator",
            i,
            "“师生满意度”的指标值“98%”没有写明运算符（≥、≤、=）；满意度指标一般写作“≥90%”。",
        )
    ]


def test_003_vague_value():
    t = table_of(SEED_003, "教育考试考务经费")
    i = row_index(t, "我区学生学业水平")
    assert [x for x in check_table(t) if x.row_index == i] == [
        f(
            "vague-value",
            i,
            "“我区学生学业水平”的指标值“显著提高”只写了变化方向，没有可衡量的目标值，无法考核。",
        )
    ]


def test_003_department_vague_and_cost_findings():
    t = table_of(SEED_003, kind="department")
    vague = {t.rows[i].value: m for i, _, m in findings_of(t, "vague-value")}
    assert set(vague) == {
        "提升教师专业水平",
        "力争实现",
        "按时开展",
        "按时完成",
        "社会反响良好",
        "有效提高",
        "不断提高",
        "奠定基础",
        "效果显著",
    }
    assert (
        vague["按时完成"]
        == "“民办学校现场摇号、义务教育报名工作”的指标值“按时完成”没有写明完成时限，无法考核。"
    )
    assert findings_of(t, "cost-format") == [
        (
            19,
            "warning",
            "成本指标“专项经费控制在预算范围内”的指标值“严格控制”没有给出金额上限，应写成“≤金额”。",
        )
    ]
    assert findings_of(t, "value-empty") == [(22, "error", "“全区教学质量”没有填写指标值。")]


def test_003_unit_mismatch_on_real_rows():
    t = table_of(SEED_003, "招商引资工作经费")
    assert findings_of(t, "unit-mismatch") == [
        (
            0,
            "warning",
            "“每次招商引资成本”是金额类指标，计量单位应为 元、万元，而指标值“≤1000 人/元”用的是“人/元”。",
        )
    ]
    t = table_of(SEED_003, "学前教育资助")
    assert findings_of(t, "unit-mismatch") == [
        (
            1,
            "warning",
            "“高考入学家庭经济困难学生资助受益学生数”是人数类指标，计量单位应为 人、人次、名，而指标值“≥95%”用的是“%”。",
        )
    ]


def test_004_times_measured_in_person_times():
    t = parsed(SEED_004).tables[0]
    assert findings_of(t, "unit-mismatch") == [
        (
            12,
            "warning",
            "“学校统计人员培训次数”是次数类指标，计量单位应为 次、场次、轮次，而指标值“≥30人次”用的是“人次”。",
        )
    ]


def test_001_empty_value_and_vague_timing():
    t = parsed(SEED_001).tables[0]
    assert findings_of(t, "value-empty") == [(45, "error", "“日常维护系统数量”没有填写指标值。")]
    assert [t.rows[i].name for i, _, _ in findings_of(t, "vague-value")] == [
        "线上教育系统故障响应及时性",
        "视频会议系统故障响应及时性",
        "活动开展及时性",
    ]


def test_000_half_year_equal_to_full_year_is_a_note():
    t = parsed(SEED_000).tables[0]
    notes = findings_of(t, "half-year-equals")
    assert [(t.rows[i].name, sev) for i, sev, _ in notes] == [
        ("研制全市义务教育质量监测的学科测试卷", "info"),
        ("研制全市义务教育质量监测的相关因素问卷", "info"),
        ("组织2022年项目的结题评审", "info"),
    ]
    assert notes[0][2] == (
        "“研制全市义务教育质量监测的学科测试卷”的半年指标值“≥22套”与全年指标值“≥22套”相同：请确认全年任务是否在上半年即全部完成。"
    )
    # ≥0万人次 in the first half, ≥32万人次 for the year: consistent
    assert not [x for x in check_table(t) if x.row_index == row_index(t, "组织全市初中学校学生参测")]
    assert findings_of(t, "half-year-exceeds") == []


def test_corpus_files_check_without_crashing_and_pdf_copy_matches_text():
    text = [(r.label, r.counts()) for r in check_path(SEED_003)]
    pdf = [(r.label, r.counts()) for r in check_path(CORPUS / "pdf_003_ganzhou_jiaoti_2023.pdf")]
    assert text == pdf
    assert len(text) == 11


# ---------------------------------------------------------------------------
# hand-made drafts for rules the corpus lacks


def _only(d: Draft) -> list[tuple[str, str, int | None, str]]:
    return [(x.rule_id, x.severity, x.row_index, x.message) for x in check_draft(d)]


def test_placeholders():
    d = draft(
        *BASE,
        (P, "数量指标", "XX项目覆盖学校数", "≥20所"),
        (P, "数量指标", "购置设备数量", "≥**个"),
        (P, "质量指标", "×××验收合格率", "≥95%"),
    )
    assert _only(d) == [
        ("placeholder", "error", 6, "指标名称“XX项目覆盖学校数”中残留模板占位符“XX”。"),
        ("placeholder", "error", 7, "指标值“≥**个”中残留模板占位符“**”。"),
        ("placeholder", "error", 8, "指标名称“×××验收合格率”中残留模板占位符“×××”。"),
    ]


def test_value_without_number_unit_or_operator():
    d = draft(
        *BASE,
        (P, "数量指标", "购置设备数量", "≥台"),
        (P, "数量指标", "开展培训期数", "≥12"),
        (P, "数量指标", "开展讲座场次", "12场"),
    )
    assert _only(d) == [
        ("value-no-number", "error", 6, "“购置设备数量”的指标值“≥台”有运算符但没有数值。"),
        ("value-no-unit", "warning", 7, "“开展培训期数”的指标值“≥12”没有计量单位。"),
        ("value-no-operator", "warning", 8, "“开展讲座场次”的指标值“12场”没有写明运算符（≥、≤、=）。"),
    ]


def test_unit_mismatch_handmade():
    d = draft(
        *BASE,
        (P, "质量指标", "设备验收合格率", "≥95台"),
        (P, "数量指标", "受益人数", "≥1000户"),
        (P, "数量指标", "巡查次数", "≥10个"),
        (P, "数量指标", "覆盖学校数量", "≥90%"),
    )
    assert _only(d) == [
        (
            "unit-mismatch",
            "warning",
            6,
            "“设备验收合格率”是比率类指标，计量单位应为 %、‰、个百分点，而指标值“≥95台”用的是“台”。",
        ),
        (
            "unit-mismatch",
            "warning",
            7,
            "“受益人数”是人数类指标，计量单位应为 人、人次、名，而指标值“≥1000户”用的是“户”。",
        ),
        (
            "unit-mismatch",
            "warning",
            8,
            "“巡查次数”是次数类指标，计量单位应为 次、场次、轮次，而指标值“≥10个”用的是“个”。",
        ),
        ("unit-mismatch", "warning", 9, "“覆盖学校数量”是数量类指标，不应使用“%”（指标值“≥90%”）。"),
    ]


def test_satisfaction_and_cost_format():
    d = draft(
        *BASE,
        (S, "服务对象满意度指标", "家长满意度", "=100%"),
        (S, "服务对象满意度指标", "学生满意度", "≥90分"),
        (S, "服务对象满意度指标", "群众满意度", "较高"),
        (C, "经济成本指标", "设备购置成本", "≥50万元"),
        (C, "经济成本指标", "人均补助标准", "=1500元/学年"),
    )
    assert _only(d) == [
        (
            "satisfaction-format",
            "warning",
            6,
            "满意度指标“家长满意度”的指标值“=100%”应写成“≥百分比”，如“≥90%”。",
        ),
        (
            "satisfaction-format",
            "warning",
            7,
            "满意度指标“学生满意度”的指标值“≥90分”应写成“≥百分比”，如“≥90%”。",
        ),
        ("vague-value", "warning", 8, "“群众满意度”的指标值“较高”是评价性描述，没有考核标准，无法考核。"),
        (
            "satisfaction-format",
            "warning",
            8,
            "满意度指标“群众满意度”的指标值“较高”应写成“≥百分比”，如“≥90%”。",
        ),
        ("cost-format", "warning", 9, "成本指标“设备购置成本”的指标值“≥50万元”应写成“≤金额”，表示成本上限。"),
    ]


def test_half_year_rules():
    d = draft(
        *BASE,
        (P, "数量指标", "培训教师人次", "≥500人次", "≥600人次"),
        (P, "质量指标", "设备完好率", "≥95%", "≥98%"),
        (P, "数量指标", "购置设备数量", "≥20台", "≥10套"),
        (P, "数量指标", "开展培训期数", "≥12期", "≤6期"),
        (P, "数量指标", "发放补助人数", "≥1000人", "≥400人"),
    )
    assert _only(d) == [
        (
            "half-year-exceeds",
            "error",
            6,
            "“培训教师人次”的半年指标值“≥600人次”与全年指标值“≥500人次”：半年值大于全年值（累计型指标）。",
        ),
        (
            "half-year-exceeds",
            "warning",
            7,
            "“设备完好率”的半年指标值“≥98%”与全年指标值“≥95%”：半年值大于全年值（比率型指标）。",
        ),
        (
            "half-year-mismatch",
            "warning",
            8,
            "“购置设备数量”的半年指标值“≥10套”与全年指标值“≥20台”计量单位不同（套 / 台）。",
        ),
        (
            "half-year-mismatch",
            "warning",
            9,
            "“开展培训期数”的半年指标值“≤6期”与全年指标值“≥12期”运算符方向相反。",
        ),
    ]


def test_duplicate_handmade():
    d = draft(*BASE, (P, "数量指标", "培训 人数", "≥600人"))
    assert _only(d) == [("duplicate", "warning", 6, "“培训 人数”与第1行重复（同名指标）。")]


# ---------------------------------------------------------------------------
# helpers


@pytest.mark.parametrize(
    ("text", "explicit"),
    [
        ("98%", False),
        ("3 名", False),
        ("≥90%", True),
        ("90%以上", True),
        ("不低于90%", True),
        ("=100%", True),
        ("10-11月份", True),
    ],
)
def test_has_explicit_operator(text, explicit):
    assert has_explicit_operator(text) is explicit


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("显著提高", "只写了变化方向，没有可衡量的目标值"),
        ("按时完成", "没有写明完成时限"),
        ("2025年12月底前按时完成", None),
        ("效果显著", "是评价性描述，没有考核标准"),
        ("健全", None),
        ("应助尽助", None),
    ],
)
def test_vague_reason(value, reason):
    assert vague_reason(value) == reason


def test_every_rule_has_chinese_text_and_known_severity():
    for r in RULES.values():
        assert r.severity in ("error", "warning", "info")
        assert r.text and any("\u4e00" <= ch <= "\u9fff" for ch in r.text)
