"""Layouts from other provinces: one test per corpus document, exact rows."""

from __future__ import annotations

from tests.conftest import CORPUS, parsed


def _rows(doc):
    return [(r.level1, r.level2, r.name, r.value) for r in doc.rows]


def test_gbk_pipes_with_operator_and_unit_columns():
    doc = parsed(CORPUS / "other_gbk_pipes_columns_2024.txt")
    assert doc.encoding == "gb18030"
    t = doc.tables[0]
    assert (t.kind, t.project, t.unit, t.year, t.total_budget_wan) == (
        "project", "政务云数据中心运维项目", "梅岭县政务服务数据管理局", 2024, 320.0,
    )
    assert t.funding == (("财政拨款", 300.0), ("其他资金", 20.0))
    assert _rows(doc)[:3] == [
        ("产出指标", "数量指标", "机柜数量", "≥77台"),
        ("产出指标", "数量指标", "云存储容量", "≥500TB"),
        ("产出指标", "质量指标", "系统可用率", "≥99.9%"),
    ]
    r = doc.rows[0]
    # 计算符号 and 度量单位 columns joined into the value and the parse
    assert (r.target.op, r.target.number, r.target.unit) == ("≥", 77.0, "台")
    assert dict(r.extras) == {"指标值类型": "定量", "指标解释": "数据中心在用机柜数量", "权重": "10"}
    r = doc.rows[6]
    assert (r.name, r.value, r.target.qualitative) == ("数据安全保障机制", "健全", True)
    assert doc.rows[3].target.to_json() == {"op": "≤", "number": 30.0, "unit": "分钟", "qualitative": False}


def test_traditional_one_cell_per_line_ascii_operators():
    doc = parsed(CORPUS / "other_traditional_onecell_2023.txt")
    assert doc.traditional
    t = doc.tables[0]
    # original script is kept
    assert (t.project, t.unit, doc.region, t.total_budget_wan) == ("社區衛生服務中心設備購置", "花蓮縣衛生健康局", "花蓮縣", 150.0)
    assert _rows(doc) == [
        ("產出指標", "數量指標", "購置設備數量", ">=12臺"),
        ("產出指標", "質量指標", "設備驗收合格率", ">=98%"),
        ("產出指標", "時效指標", "設備採購完成時間", "2023年10月底前"),
        ("效益指標", "社會效益指標", "服務居民人次", ">=30000人次"),
        ("滿意度指標", "服務對象滿意度指標", "居民滿意度", ">=90%"),
    ]
    assert [r.source.line for r in doc.rows] == [17, 20, 23, 27, 31]
    assert doc.rows[1].target.to_json() == {"op": "≥", "number": 98.0, "unit": "%", "qualitative": False}
    assert doc.rows[2].target.qualitative


def test_bracket_indicator_list():
    doc = parsed(CORPUS / "other_bracket_list_2024.txt")
    t = doc.tables[0]
    assert (t.project, t.unit, t.total_budget_wan) == ("智慧校园网络升级项目", "临江市教育局", 86.5)
    assert _rows(doc) == [
        ("产出指标", "数量指标", "机柜数量", "≥77台"),
        ("产出指标", "数量指标", "覆盖学校数", "≥35所"),
        ("产出指标", "质量指标", "网络设备验收合格率", "100%"),
        ("产出指标", "时效指标", "项目完成时间", "2024年12月底前"),
        ("成本指标", "经济成本指标", "项目总成本", "≤86.5万元"),
        ("效益指标", "社会效益指标", "受益师生人数", "≥42000人"),
        ("满意度指标", "服务对象满意度指标", "师生满意度", "≥92%"),
    ]
    assert [r.source.line for r in doc.rows] == [8, 8, 9, 10, 11, 12, 13]


def test_no_levels_and_project_level1_labels():
    doc = parsed(CORPUS / "other_nolevels_fujian_2024.txt")
    dept, proj = doc.tables
    assert (dept.kind, dept.unit, dept.total_budget_wan) == ("department", "青石县财政局", 1260.4)
    # no 一级/二级 columns: 服务对象满意度 is an indicator name here, not a label
    assert _rows(dept)[-1] == ("", "", "服务对象满意度", "不低于90%")
    assert dept.rows[-1].target.to_json() == {"op": "≥", "number": 90.0, "unit": "%", "qualitative": False}
    assert dict(dept.rows[0].extras) == {"权重": "20"}
    assert all(r.level1 == "" and r.level2 == "" for r in dept.rows)
    assert _rows(proj) == [
        ("项目完成指标", "数量指标", "重点项目绩效评价个数", "≥20个"),
        ("项目完成指标", "数量指标", "第三方机构参与评价项目数", "≥8个"),
        ("项目完成指标", "质量指标", "评价报告合格率", "100%"),
        ("项目效益指标", "社会效益指标", "评价结果应用率", "≥90%"),
        ("项目效益指标", "满意度指标", "被评价单位满意度", "九十%以上"),
    ]
    assert proj.rows[-1].target.to_json() == {"op": "≥", "number": 90.0, "unit": "%", "qualitative": False}


def test_csv_export():
    doc = parsed(CORPUS / "other_csv_export_2024.csv")
    t = doc.tables[0]
    assert (t.project, t.unit, t.total_budget_wan) == ("城乡居民基本医疗保险参保补助", "云溪县医疗保障局", 2450.8)
    assert len(t.rows) == 7
    assert _rows(doc)[1] == ("产出指标", "数量指标", "财政补助标准", "≥640元/人")
    assert dict(t.rows[0].extras) == {"指标解释": "年度城乡居民医保参保人数"}
    assert doc.rows[0].target.to_json() == {"op": "≥", "number": 18.5, "unit": "万人", "qualitative": False}
