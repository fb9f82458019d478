"""``perfsearch check`` and ``perfsearch draft ...`` through click."""

from __future__ import annotations

import json

import openpyxl
from click.testing import CliRunner

from indexer.ingest import parse_file
from tests.conftest import CORPUS, SEED_002, SEED_003
from ui.cli import main

GBK = CORPUS / "other_gbk_pipes_columns_2024.txt"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_check_clean_file_exits_0():
    r = run("check", str(GBK))
    assert r.exit_code == 0
    assert "未发现问题" in r.output
    assert "共检查 1 张表：错误 0，警告 0，提示 0" in r.output


def test_check_json_and_exit_code_on_errors():
    r = run("check", str(SEED_003), "--json")
    assert r.exit_code == 1  # the department table has an empty value (error)
    reports = [json.loads(line) for line in r.output.splitlines()]
    assert len(reports) == 11
    dep = reports[0]
    assert dep["framework"] == "standard" and dep["kind"] == "department"
    assert dep["counts"] == {"error": 1, "warning": 17, "info": 0}
    empty = next(f for f in dep["findings"] if f["rule_id"] == "value-empty")
    assert empty["row"]["name"] == "全区教学质量" and empty["row"]["source"]["line"] == 39
    assert empty["rule"].startswith("每个三级指标都必须填写指标值")
    exam = next(x for x in reports if x["project"] == "教育考试考务经费")
    assert [(f["rule_id"], f["row"]["name"]) for f in exam["findings"]] == [
        ("value-no-operator", "组织开展高考次数"),
        ("vague-value", "我区学生学业水平"),
    ]


def test_check_warnings_only_exit_0_unless_strict():
    assert run("check", str(SEED_002)).exit_code == 0
    r = run("check", str(SEED_002), "--strict")
    assert r.exit_code == 1
    assert "[警告] value-no-operator 第43条指标（002_e915be5c49c8d360.txt 第" in r.output
    assert "依据：定量指标值应写成“运算符 + 数值 + 计量单位”" in r.output
    r = run("check", str(SEED_002), "--min-severity", "error")
    assert "没有所选级别及以上的问题" in r.output and "[警告]" not in r.output


def test_check_unreadable_input_exit_2(tmp_path):
    r = run("check", str(tmp_path / "nope.txt"))
    assert r.exit_code == 2
    assert "错误：nope.txt：无法读取文件" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": [{"level1": "产出", "level2": "数量指标"}]}', encoding="utf-8")
    r = run("check", str(bad))
    assert r.exit_code == 2
    assert "错误：bad.json：第1行指标缺少字段“name”（三级指标）" in r.output


def test_draft_workflow(tmp_path):
    d = tmp_path / "草稿.json"
    r = run("draft", "new", str(d), "--project", "教师培训项目", "--unit", "某区教育局", "--year", "2025")
    assert r.exit_code == 0, r.output
    assert run("draft", "new", str(d)).exit_code == 2  # exists, no --force
    for args in [
        (
            "--level1",
            "满意度指标",
            "--level2",
            "服务对象满意度指标",
            "--name",
            "参训教师满意度",
            "--value",
            "≥90%",
        ),
        ("--level1", "产出指标", "--level2", "数量指标", "--name", "培训人数", "--value", "500人"),
        ("--level1", "成本指标", "--level2", "经济成本指标", "--name", "培训成本", "--value", "≤30万元"),
        ("--level1", "效益指标", "--level2", "社会效益指标", "--name", "教师教学水平", "--value", "显著提高"),
    ]:
        r = run("draft", "add", str(d), *args)
        assert r.exit_code == 0, r.output
    r = run("draft", "show", str(d))
    assert r.output.splitlines()[1:] == [
        "  1. 满意度指标/服务对象满意度指标｜参训教师满意度｜≥90%",
        "  2. 产出指标/数量指标｜培训人数｜500人",
        "  3. 成本指标/经济成本指标｜培训成本｜≤30万元",
        "  4. 效益指标/社会效益指标｜教师教学水平｜显著提高",
    ]
    r = run("check", str(d), "--json")
    assert r.exit_code == 0
    rep = json.loads(r.output)
    assert [(f["rule_id"], f["row_index"]) for f in rep["findings"]] == [
        ("value-no-operator", 1),
        ("vague-value", 3),
    ]
    assert run("draft", "edit", str(d), "2", "--value", "≥500人").exit_code == 0
    assert run("draft", "remove", str(d), "4").exit_code == 0
    r = run("check", str(d))
    assert r.exit_code == 1 and "缺少效益指标" in r.output  # removing the only 效益 row is an error
    out = tmp_path / "表.xlsx"
    r = run("draft", "export", str(d), "--out", str(out))
    assert r.exit_code == 0, r.output
    t = parse_file(out).tables[0]
    assert t.project == "教师培训项目" and t.year == 2025
    assert [(r.level1, r.name, r.value) for r in t.rows] == [
        ("满意度指标", "参训教师满意度", "≥90%"),
        ("产出指标", "培训人数", "≥500人"),
        ("成本指标", "培训成本", "≤30万元"),
    ]
    assert openpyxl.load_workbook(out).active["A1"].value == "2025年项目支出绩效目标表"


def test_draft_errors_are_chinese(tmp_path):
    d = tmp_path / "d.json"
    run("draft", "new", str(d))
    r = run("draft", "add", str(d), "--level1", "产出指标", "--level2", "效益", "--name", "x")
    assert r.exit_code == 2
    assert "错误：d.json：新指标（x）：“效益”是一级指标名称，不能用作二级指标" in r.output
    r = run("draft", "edit", str(d), "3", "--value", "1")
    assert r.exit_code == 2 and "没有第3行指标（草稿共 0 行）" in r.output
    r = run("draft", "export", str(d), "--out", str(tmp_path / "x.docx"))
    assert r.exit_code == 2 and "不支持的导出格式“.docx”" in r.output


def test_draft_new_from_existing_table(tmp_path):
    d = tmp_path / "d.json"
    r = run("draft", "new", str(d), "--from", str(SEED_003), "--table", "5")
    assert r.exit_code == 0, r.output
    data = json.loads(d.read_text(encoding="utf-8"))
    assert data["project"] == "教师培训费" and len(data["rows"]) == 8
    r = run("draft", "new", str(d), "--from", str(SEED_003), "--table", "12", "--force")
    assert r.exit_code == 2 and "没有第12张表（共 11 张）" in r.output


def test_help_shows_examples():
    for cmd in (["check"], ["draft"], ["draft", "export"]):
        r = run(*cmd, "--help")
        assert "示例" in r.output and "perfsearch" in r.output
