"""One test per real seed document: exact counts, trap rows, invariants."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import SEED_000, SEED_001, SEED_002, SEED_003, SEED_004, find_row, levels, parsed


def _expense(table, name):
    return next(e for e in table.expenses if e.name == name)


def _items_sum(table, attr="annual"):
    return round(sum(getattr(e, attr) or 0 for e in table.expenses if e.name not in ("基本支出", "项目支出")), 2)


def test_000_suzhou_jiance_center():
    doc = parsed(SEED_000)
    assert (doc.unit, doc.year, doc.region) == ("苏州市教育质量监测中心", 2023, "苏州市")
    assert doc.title == "苏州市市级部门整体预算绩效目标表"
    assert len(doc.tables) == 1
    t = doc.tables[0]
    assert t.kind == "department" and t.project == ""
    assert len(t.rows) == 53
    assert Counter(r.level1 for r in t.rows) == {"决策": 6, "过程": 26, "履职": 18, "效益": 2, "满意度": 1}
    # expense lines add up: items -> 项目支出, 基本+项目 -> 资金总额
    assert t.total_budget_wan == 794.87
    assert len(t.expenses) == 9
    assert _items_sum(t) == _expense(t, "项目支出").annual == 394.66
    assert _items_sum(t, "half_year") == _expense(t, "项目支出").half_year == 94.28
    assert round(_expense(t, "基本支出").annual + _expense(t, "项目支出").annual, 2) == t.total_budget_wan
    assert _expense(t, "物业管理费（保洁、水池绿化等）").annual == 11.5
    assert [g for g, _ in t.goals] == ["中长期目标", "年度目标"]
    assert "<p>" not in t.goals_dict()["中长期目标"]
    # group label printed on the 2nd row of its group (决策) and a name in the 二级 column
    r = find_row(doc, "中长期规划制定健全性")
    assert levels(r)[1:3] == ("决策", "计划制定") and (r.half_year, r.value) == ("健全", "健全")
    assert r.source.line == 36
    # a name shifted into the 一级 column, before its group's label (预算执行 on the next row)
    r = find_row(doc, "支付进度符合率")
    assert levels(r)[1:3] == ("过程", "预算执行") and r.value == "=100%"
    # a group label on the last row of its group
    assert find_row(doc, "预算编制规范性").level2 == "预算编制"
    assert find_row(doc, "在职人员控制率").level2 == "人员管理"
    # shifted right: 预算管理 label in the 三级 column
    r = find_row(doc, "预算管理制度健全性")
    assert (r.level2, r.value) == ("预算管理", "健全")
    assert find_row(doc, "非税收入管理合规性").level2 == "预算管理"
    # 重点工作 column
    r = find_row(doc, "组织全市初中学校学生参测")
    assert levels(r)[1:] == ("履职", "负责全市义务教育学业质量监测的组织管理", "测试实施、结果反馈工作")
    assert (r.half_year, r.value) == ("≥0万人次", "≥32万人次")
    assert (r.target.op, r.target.number, r.target.unit) == ("≥", 32.0, "万人次")
    r = find_row(doc, "日常运维次数")
    assert levels(r)[2:] == ("负责中心信息化平台的运维和管理", "虚拟云平台运维工作")
    assert (r.half_year, r.value) == ("=6次", "=12次")
    # stray space inside a wrapped name removed; label-only rows (经济效益/生态效益) are not rows
    r = find_row(doc, "构建基于数据的区域教育质量评估监测体系")
    assert levels(r)[1:3] == ("效益", "社会效益")
    assert not any(r.level2 in ("经济效益", "生态效益", "可持续影响") for r in t.rows)
    r = find_row(doc, "苏州市教育局下辖各县市区教育局、直属学校")
    assert levels(r)[1:3] == ("满意度", "服务对象满意度") and r.value == "≥85%"


def test_001_suzhou_dianhua():
    doc = parsed(SEED_001)
    assert (doc.unit, doc.year, doc.region) == ("苏州市电化教育馆", 2024, "苏州市")
    t = doc.tables[0]
    assert len(t.rows) == 71
    assert Counter(r.level1 for r in t.rows) == {"决策": 6, "过程": 26, "履职": 31, "效益指标": 5, "满意度指标": 3}
    assert t.total_budget_wan == 2190.36 and len(t.expenses) == 15
    assert _items_sum(t) == _expense(t, "项目支出").annual == 1096.52
    assert round(_expense(t, "基本支出").annual + _expense(t, "项目支出").annual, 2) == t.total_budget_wan
    # rows shifted right by two columns
    r = find_row(doc, "资金使用合规性")
    assert (r.level1, r.level2, r.value) == ("过程", "预算管理", "合规")
    # names in the 一级 column
    assert find_row(doc, "人员管理制度执行有效性").level2 == "人员管理"
    assert find_row(doc, "在职人员控制率").level2 == "人员管理"
    # 重点工作 between 二级 and 三级; a task on a row whose value cells are empty
    r = find_row(doc, "日常维护系统数量")
    assert r.task == "承担“苏州教育E卡通”项目的日常工作" and (r.half_year, r.value) == ("", "")
    r = find_row(doc, "信息系统日常维护周期")
    assert (r.task, r.half_year, r.value) == ("承担“苏州教育E卡通”项目的日常工作", "=30天", "=30天")
    r = find_row(doc, "日常维护信息系统数量")
    assert (r.level2, r.task, r.value) == ("教育信息化服务环境建设", "保障中心机房及城域网日常运维", "=278个")
    r = find_row(doc, "视频会议网络畅通性")
    assert r.task == "保障教育系统视频会议正常运行" and r.value == "=100%"
    r = find_row(doc, "活动举办场次")
    assert (r.level2, r.task) == ("信息技术应用研究", "举办江苏省青少年网络信息安全应用能力竞赛实际选拔赛")
    r = find_row(doc, "线上教育云资源租用CDN流量")
    assert (r.target.op, r.target.number, r.target.unit) == ("=", 500.0, "TB")
    # a half-year value of 0 and a qualitative full-year value
    r = find_row(doc, "上级要求的重保期间，做好网络安全工作，无网络安全事故")
    assert (r.level1, r.level2, r.half_year, r.value) == ("效益指标", "经济效益", "0", "不发生网络安全事故")
    assert r.target.qualitative
    # half-year ≥0%
    r = find_row(doc, "学校用户对视频会议的满意度")
    assert (r.half_year, r.value, r.half_year_target.number) == ("≥0%", "≥85%", 0.0)


def test_002_suzhou_zhuangbei():
    doc = parsed(SEED_002)
    assert (doc.unit, doc.year) == ("苏州市教育装备与勤工俭学管理办公室", 2023)
    t = doc.tables[0]
    assert len(t.rows) == 43
    assert t.total_budget_wan == 8055.47
    # the expense block is split by a page break with its row labels glued to a line
    assert len(t.expenses) == 22
    assert _expense(t, "内涵项目-贫困生生活补助及帮困经费").half_year == 109.35
    assert _items_sum(t) == _expense(t, "项目支出").annual == 7334.21
    assert round(_expense(t, "基本支出").annual + _expense(t, "项目支出").annual, 2) == t.total_budget_wan
    # a goal key shifted into the third column
    assert [g for g, _ in t.goals] == ["中长期目标", "年度目标"]
    # header row shifted right and missing 全年指标值; 履职 rows with a long 重点工作 cell
    r = find_row(doc, "贫困学生补助人次")
    assert (r.level1, r.level2) == ("履职", "学生资助与关爱工作")
    assert r.task.startswith("开展对苏州市直属（代管）学校")
    assert (r.half_year, r.value) == ("≥1000人次", "≥2000人次")
    r = find_row(doc, "“阳光食堂”监管服务覆盖率")
    assert (r.level1, r.level2, r.value) == ("履职", "“阳光食堂”后勤保障建设工作", "≥98%")
    r = find_row(doc, "在苏高校家庭经济困难大学生资助奖及时性")
    assert r.value == "及时"
    r = find_row(doc, "为单位发展提供可持续保障")
    assert (r.level2, r.half_year, r.value) == ("可持续影响", "建立健全相关制度", "建立健全相关制度")
    r = find_row(doc, "师生满意度")
    assert (r.level1, r.value, r.target.op, r.target.number) == ("满意度", "98%", "=", 98.0)


def test_003_ganzhou_department_and_ten_projects():
    doc = parsed(SEED_003)
    assert (doc.unit, doc.year, doc.region) == ("赣州经济技术开发区教体服务中心", 2023, "赣州经济技术开发区")
    kinds = Counter(t.kind for t in doc.tables)
    assert kinds == {"department": 1, "project": 10}
    dept = doc.tables[0]
    assert dept.kind == "department" and len(dept.rows) == 30
    assert dept.total_budget_wan == 4073.97
    assert [(e.name, e.annual) for e in dept.expenses] == [("基本支出", 208.24), ("项目支出", 1696.43)]
    assert dept.goals_dict()["年度总体目标"].startswith("高标准完成年度教育教学")
    projects = [t.project for t in doc.tables[1:]]
    assert projects == [
        "招商引资工作经费", "高考入学政府资助区配套", "教育考试考务经费", "教师培训费", "教研活动经费",
        "教育督导专项经费", "学前教育资助", "其他资金", "义务教育生活补助区配套", "高中教育助学金区配套",
    ]
    assert [len(t.rows) for t in doc.tables[1:]] == [7, 7, 7, 8, 11, 8, 8, 6, 8, 7]
    assert sum(len(t.rows) for t in doc.tables) == 107
    # 成本指标: a 二级 label in the department table, a 一级 label in the project tables
    r = find_row(doc, "开展义务教育系统维护费")
    assert (r.level1, r.level2, r.value) == ("产出指标", "成本指标", "20000 元")
    r = find_row(doc, "每次招商引资成本")
    assert (r.level1, r.level2, r.value) == ("成本指标", "经济成本指标", "≤1000 人/元")
    # the project named 其他资金 is a project, not a funding line
    other = next(t for t in doc.tables if t.project == "其他资金")
    assert other.total_budget_wan == 800 and dict(other.funding)["其他资金"] == 800
    assert all(t.unit == "赣州经济技术开发区教体服务中心" for t in doc.tables)
    assert [t.total_budget_wan for t in doc.tables[1:]] == [14, 6.3, 52, 294.65, 20, 30, 90, 800, 25.15, 9.92]
    for t in doc.tables[1:]:
        assert [g for g, _ in t.goals] == ["年度绩效目标"] and t.goals[0][1]
        assert round(sum(v for _, v in t.funding), 2) == t.total_budget_wan
    # a 二级 label shifted into the 一级 column
    r = find_row(doc, "教学完成时间及时性")
    assert (r.level1, r.level2, r.value) == ("产出指标", "时效指标", "及时")
    # 一级+二级 labels on a row whose value is empty, then names in the 一级 column
    r = find_row(doc, "全区教学质量")
    assert (r.level1, r.level2, r.value) == ("效益指标", "社会效益指标", "")
    r = find_row(doc, "在社会上招生入学工作反响情况")
    assert (r.level1, r.level2, r.value) == ("效益指标", "社会效益指标", "社会反响良好")
    r = find_row(doc, "抓好各学科教育教学工作，为教学质量奠定坚实的基础")
    assert (r.level1, r.level2) == ("效益指标", "可持续影响指标")
    r = find_row(doc, "开展中小学思政课教师专业能力培训，全面提升中小学思政课教师素质能力")
    assert (r.level2, r.value) == ("数量指标", "覆盖全区中学思政课教师数")
    r = find_row(doc, "师生满意度大于 90%")
    assert (r.level1, r.value, r.target.op, r.target.number, r.target.unit) == ("满意度指标", "≥90%", "≥", 90.0, "%")


def test_004_huangyuan_core_functions():
    doc = parsed(SEED_004)
    assert (doc.unit, doc.year, doc.region) == ("潢源县教育局", 2024, "潢源县")
    t = doc.tables[0]
    assert t.kind == "department" and len(t.rows) == 47
    assert t.goals_dict()["年度整体绩效目标"].startswith("目标1")
    assert t.duties.startswith("1. 贯彻执行党和国家教育方针政策")
    assert Counter(r.function.split(":")[0] for r in t.rows) == {
        "职能1": 11, "职能2": 7, "职能3": 7, "职能4": 8, "职能5": 7, "职能6": 7,
    }
    assert all(not r.name.startswith("指标") for r in t.rows)
    # numbering restarts at 指标1 inside 质量指标: the next group's label is printed on its 2nd row
    r = find_row(doc, "年度课题数量完成率")
    assert (r.level1, r.level2, r.value) == ("产出指标", "时效指标", "≥90%")
    # a 二级 label sitting in the 一级 column
    r = find_row(doc, "年度检查任务按时完成")
    assert (r.function, r.level1, r.level2) == ("职能1: 教育督导", "产出指标", "时效指标")
    # 社会效益指标 before its 一级 label (效益指标 printed on a later row)
    r = find_row(doc, "检查结果公开率")
    assert (r.level1, r.level2) == ("效益指标", "社会效益指标")
    assert find_row(doc, "课题公开率").level2 == "社会效益指标"
    # two labels on one line: 时效指标 for this row, 社会效益指标 for the next
    r = find_row(doc, "各项任务完成及时率")
    assert (r.function, r.level1, r.level2) == ("职能4: 师生资助工作、教育援助", "产出指标", "时效指标")
    r = find_row(doc, "受益学生数", nth=2)
    assert (r.function, r.level1, r.level2, r.value) == ("职能4: 师生资助工作、教育援助", "效益指标", "社会效益指标", "≥11800人")
    # a group whose 二级 label is missing: left empty, 一级 known from both neighbours
    r = find_row(doc, "维修工程验收率")
    assert (r.level1, r.level2) == ("产出指标", "")
    # row shifted right with its value on the next line
    r = find_row(doc, "学生满意度")
    assert (r.level1, r.level2, r.value) == ("满意度指标", "服务对象满意度指标", "")
    r = find_row(doc, "家长满意度")
    assert (r.level2, r.value) == ("服务对象满意度指标", "100%")
    r = find_row(doc, "统计平台维护、统计人员培训时限")
    assert (r.value, r.target.op, r.target.number, r.target.unit) == ("10-11月份", "range", (10.0, 11.0), "月份")
    r = find_row(doc, "维修工程完成时限")
    assert (r.target.op, r.target.number, r.target.unit) == ("range", (5.0, 10.0), "月")


@pytest.mark.parametrize("path", [SEED_000, SEED_001, SEED_002, SEED_003, SEED_004])
def test_invariants_every_seed(path):
    doc = parsed(path)
    for t in doc.tables:
        for r in t.rows:
            assert r.name, "an indicator row always has a name"
            assert "<p>" not in r.name and "\t" not in r.name
            assert r.source.file == doc.file and r.source.line is not None and r.source.page is None
            assert r.target.text == r.value
            # a group label never appears as the indicator name
            from indexer import vocab

            assert not vocab.is_level1(r.name) and not vocab.is_level2(r.name)
            if r.level2 and vocab.level2_category(r.level2):
                assert vocab.level1_category(r.level1) == vocab.level2_category(r.level2)
    lines = path.read_text(encoding="utf-8").splitlines()
    for t in doc.tables:
        for r in t.rows:
            assert r.name.replace(" ", "")[:6] in lines[r.source.line - 1].replace(" ", ""), r.name
