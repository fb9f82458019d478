"""Direct tests of the layout and row-assembly stages (indexer.layout, indexer.indicators,
indexer.prose, indexer.classify), each on a small snippet copied from a real document in
corpus/realworld/ (named beside each snippet), with exact expectations read from the source."""

from __future__ import annotations

from indexer import classify, layout, prose
from indexer.extract_text import rows_from_text
from indexer.indicators import Columns, header_columns, parse_row, resolve_groups, section_rows
from indexer.ingest import parse_file
from indexer.model import SourceRef
from tests.realworld_score import REALWORLD

# zhejiang_linhai_lvhua_yanghu_2024.txt, lines 12-16: a 一级 column headed 指标类型, names that are 二级 words,
# the 一级 cell printed only on the group's first row, an explanation column (指标描述)
LINHAI = """指标类型 | 指标名称 | 指标值 | 指标描述 |
产出指标 | 数量指标 | 375万平方米 | 完成全市375万平方米的绿地养护、维护等 |
质量指标 | 100% | 达到绿化绿地全覆盖 |
时效指标 | 全年 | 全年 |
效益指标 | 社会效益指标 | 是 | 满足市民生存环境的需求 |
"""

# hubei_huangshi_sanzhong_xiaoyuanweixiu_2023.txt: one cell per line, a header with cut-off brackets,
# then a form field label wrapped over three lines after the last row
SANZHONG = """一级指标
二级指标
三级指标
年初目标值(A
实际完成值(B
产出指标
数量指标
完成校园维修改造及设备购置项目
800万元
800万元
质量指标
校园维修改造及设备购置合格率
100%
100%
满意度指标
具体指标
教师满意度
≥95%
≥95%
偏差大或
目标未完成
原因分析
"""


def test_header_columns_of_a_type_name_value_table():
    rows = rows_from_text(LINHAI)
    assert header_columns(rows[0]) == Columns({"name": 1, "value": 2, "desc": 3, "level1": 0}, 4)
    assert header_columns(rows[1]) is None


def test_parse_row_reads_by_position_and_right_aligns_short_rows():
    rows = rows_from_text(LINHAI)
    cols = header_columns(rows[0])
    first = parse_row(rows[1], cols)
    assert (first.l1, first.l2, first.name, first.value) == ("产出指标", "", "数量指标", "375万平方米")
    assert first.extras == {"指标解释": "完成全市375万平方米的绿地养护、维护等"}
    # 质量指标 | 100% | 达到绿化绿地全覆盖: the merged 一级 cell is missing, the cells sit one column right
    short = parse_row(rows[2], cols)
    assert (short.l1, short.name, short.value) == ("", "质量指标", "100%")
    assert short.extras == {"指标解释": "达到绿化绿地全覆盖"}


def test_resolve_groups_carries_the_first_level_down():
    rows = rows_from_text(LINHAI)
    cols = header_columns(rows[0])
    parsed = [parse_row(r, cols) for r in rows[1:]]
    resolve_groups(parsed)
    assert [(p.r_l1, p.r_l2, p.name) for p in parsed] == [
        ("产出指标", "", "数量指标"),
        ("产出指标", "", "质量指标"),
        ("产出指标", "", "时效指标"),
        ("效益指标", "", "社会效益指标"),
    ]


def test_section_rows_gives_indicator_rows_with_their_lines():
    rows = rows_from_text(LINHAI)
    out = section_rows(rows[1:], header_columns(rows[0]), "linhai.txt")
    assert [(r.level1, r.level2, r.name, r.value, r.source.line) for r in out] == [
        ("产出指标", "", "数量指标", "375万平方米", 2),
        ("产出指标", "", "质量指标", "100%", 3),
        ("产出指标", "", "时效指标", "全年", 4),
        ("效益指标", "", "社会效益指标", "是", 5),
    ]
    assert out[0].target.number == 375.0 and out[0].target.unit == "万平方米"
    assert out[0].source == SourceRef(file="linhai.txt", line=2)


def test_rebuild_single_cell_rows_stops_at_a_wrapped_form_label():
    rebuilt = [[c.text for c in r.cells] for r in layout.rebuild_single_cell_rows(rows_from_text(SANZHONG))]
    assert rebuilt == [
        ["一级指标", "二级指标", "三级指标", "年初目标值(A", "实际完成值(B"],
        ["产出指标", "数量指标", "完成校园维修改造及设备购置项目", "800万元", ""],
        ["", "质量指标", "校园维修改造及设备购置合格率", "100%", ""],
        ["满意度指标", "具体指标", "教师满意度", "≥95%", ""],
        ["偏差大或"],
        ["目标未完成"],
        ["原因分析"],
    ]


def test_parse_tables_one_cell_per_line():
    tables = layout.parse_tables(rows_from_text(SANZHONG), "sanzhong.txt")
    assert [(r.level1, r.level2, r.name, r.value) for t in tables for r in t.rows] == [
        ("产出指标", "数量指标", "完成校园维修改造及设备购置项目", "800万元"),
        ("产出指标", "质量指标", "校园维修改造及设备购置合格率", "100%"),
        ("满意度指标", "具体指标", "教师满意度", "≥95%"),
    ]


def test_join_wrapped_labels():
    # sichuan_daying_shuangxin_chuangcheng_2020.txt: 社会效益 / 指标 on two lines
    rows = layout.join_wrapped_labels(rows_from_text("项目效益\n社会效益\n指标\n提升全县消费者维权意识\n"))
    assert [[c.text for c in r.cells] for r in rows] == [["项目效益"], ["社会效益指标"], ["提升全县消费者维权意识"]]


def test_header_fields_and_title_fields():
    # zhejiang_linhai_lvhua_yanghu_2024.txt, lines 1-2 and 12-13: 项目名称 in the table's own fields
    tables = layout.parse_tables(rows_from_text("项目名称: | 绿化养护经费 | 项目编号: |\n" + LINHAI), "linhai.txt")
    assert [(t.project, len(t.rows)) for t in tables] == [("绿化养护经费", 4)]
    # ningxia_shizuishan_jikong_yimiao_2020.txt, hunan_xiangxi_tejiao_huoshifei_2023.txt: titles name unit and year
    assert layout.title_fields("石嘴山市疾病预防控制中心2020年项目绩效目标批复表") == ("石嘴山市疾病预防控制中心", 2020)
    assert layout.title_fields("湘西州特校2023项目支出绩效目标表公开") == ("湘西州特校", 2023)
    assert layout.title_fields("项目支出绩效目标申报表") == ("", None)
    assert layout.title_fields("宁晋县教育局2023年项目支出绩效目标表") == ("宁晋县教育局", 2023)
    # a notice's wording is no unit
    assert layout.title_fields("关于印发宁晋县教育局2023年项目支出绩效目标表的通知") == ("", 2023)


def test_title_fields_fill_a_table_without_unit_and_year():
    text = "湘西州特校2023项目支出绩效目标表公开\n" + LINHAI
    (table,) = layout.parse_tables(rows_from_text(text), "x.txt")
    assert (table.unit, table.year) == ("湘西州特校", 2023)
    # the table's own fields win over the title
    text = "湘西州特校2023项目支出绩效目标表公开\n单位名称 | 湘西州民族特殊教育学校 |\n" + LINHAI
    (table,) = layout.parse_tables(rows_from_text(text), "x.txt")
    assert (table.unit, table.year) == ("湘西州民族特殊教育学校", 2023)


def test_prose_label_cell_then_items_cell():
    # hubei_jingmen_wenlv_wenwubaohu_2022.txt, lines 7-8
    text = (
        "年度绩效总目标 | 产出指标 | 开展文物安全巡查频次8次;编制文物宣传资料数量3个;文物保护项目验收合格率≥86%; |\n"
        "效益指标 | 文物保护宣传覆盖人次≥20万人次;文物保护名录和数据库基本健全;文物保护修缮个数≥5个。 |\n"
    )
    found = prose.prose_rows(rows_from_text(text), "jingmen.txt")
    assert [(p.level1, p.level2, p.name, p.value) for p in found] == [
        ("产出指标", "", "开展文物安全巡查频次", "8次"),
        ("产出指标", "", "编制文物宣传资料数量", "3个"),
        ("产出指标", "", "文物保护项目验收合格率", "≥86%"),
        ("效益指标", "", "文物保护宣传覆盖人次", "≥20万人次"),
        ("效益指标", "", "文物保护名录和数据库", "基本健全"),
        ("效益指标", "", "文物保护修缮个数", "≥5个"),
    ]


def test_prose_headings_and_target_sentences():
    # the whole of hubei_qianlima_xiaoyuanweixiu_prose_2022.txt: A产出指标(自评分19分) / (1)数量指标: headings,
    # 名称,年初目标值X,实际完成值Y。 sentences, (4)成本指标 among the 二级 headings, C满意度指标 without 二级
    text = (REALWORLD / "hubei_qianlima_xiaoyuanweixiu_prose_2022.txt").read_text(encoding="utf-8")
    found = prose.prose_rows(rows_from_text(text), "q.txt")
    l1 = "产出指标(自评分19分)"
    assert [(p.level1, p.level2, p.name, p.value) for p in found] == [
        (l1, "数量指标", "2022年校园维修改造与设备购置资金", "300万"),
        (l1, "时效指标", "项目完成及时率", "100%"),
        (l1, "质量指标", "项目完成验收合格率", "100%"),
        (l1, "成本指标", "项目成本控制率", "100%"),
        ("效益指标", "经济效益", "提高教育质量与上年相比", "显著提高"),
        ("效益指标", "社会效益", "保障地方教育事业发展", "显著提高"),
        ("满意度指标", "", "学生对校园维修改造及设备购置项目实施的满意度", "≥95%"),
        ("满意度指标", "", "教师对校园维修改造及设备购置项目实施的满意度", "≥95%"),
        ("满意度指标", "", "家长对校园维修改造及设备购置项目实施的满意度", "≥95%"),
    ]
    assert [p.source.line for p in found[:2]] == [12, 14]


def test_run_together_cells_with_a_completion_status():
    # yunnan_jingdong_minzheng_dibao_2022.txt: 名称, 指标性质 + 指标值, then 实际完成值 as 已完成/未完成
    assert classify.segment_run_together("质量指标补助人群精准率>=95.00%已完成农村低保覆盖率>=95.00%") == [
        "质量指标", "补助人群精准率", ">=95.00%", "已完成", "农村低保覆盖率", ">=95.00%",
    ]
    assert classify.segment_run_together("社会效益指标救助对象生活水平=提高已完成") == [
        "社会效益指标", "救助对象生活水平", "=提高", "已完成",
    ]


def test_run_together_rows_closed_by_a_yes_no_column():
    # chongqing_kexuecheng_rongmeiti_zhengti_2021.txt, line 3 (the header, then rows ending in 是否核心指标)
    text = (
        "指标名称计量单位指标性质年初指标值调整指标值年成值全完值得分系数(%)指标权重(分)指标得分(分)是否核心指标"
        "财政供养人员控制率%定量指标100%92%100%22否“三公经费变动率%100%22否党性教育培训次数次26次12次100%55是"
    )
    assert classify.segment_run_together(text) == [
        "指标名称", "计量单位", "指标性质", "年初指标值", "调整指标值", "年成值全完值", "得分系数(%)", "指标权重(分)",
        "指标得分(分)", "是否核心指标",
        "财政供养人员控制率", "%", "定量指标", "100%", "92%", "100%", "22", "否",
        "“三公经费变动率", "%", "100%", "22", "否",
        "党性教育培训次数", "次", "26次", "12次", "100%", "55", "是",
    ]


def test_run_together_weight_before_the_value():
    # sichuan_zhongjiang_shuili_shuibiaochi_2022.txt: 三级指标 | 分值 | 指标值 | 全年实际值 | 得分, no separators
    assert classify.segment_run_together("质量指标项目(工程)验收合格率20100%100%20") == [
        "质量指标", "项目(工程)验收合格率", "20", "100%", "100%", "20",
    ]
    assert classify.segment_run_together("社会效益指标群众生产生活条件改善状况10显著提升显著提升10") == [
        "社会效益指标", "群众生产生活条件改善状况", "10", "显著提升", "显著提升", "10",
    ]


def test_whole_document_with_yes_no_rows():
    text = (REALWORLD / "chongqing_kexuecheng_rongmeiti_zhengti_2021.txt").read_text(encoding="utf-8")
    rows = [r for t in layout.parse_tables(rows_from_text(text), "cq.txt") for r in t.rows]
    assert [r.name for r in rows[:4]] == ["财政供养人员控制率", "“三公经费变动率", "基础信息完善", "预算完成率"]
    # 年初指标值 is the first value after the unit and 指标性质 cells
    assert [(rows[k].value, rows[k].target.number) for k in (0, 2, 3)] == [("100%", 100.0), ("100%", 100.0), ("70%", 70.0)]
    assert ("党性教育培训次数", "26次") in [(r.name, r.value) for r in rows]


def test_split_header_and_data():
    # yunnan_yongde_mingzhong_yingyang_2022.txt, line 15 (the goal cells and the first header left out)
    from indexer.grid import Cell, GridRow

    texts = ["年度总体目标", "确保每一个学生都能享受到国家政策福利", "一级指标", "二级指标", "三级指标", "指标性质", "指标值",
             "度量单位", "产出指标", "数量指标", "学生受资助人数", "≧", "735", "人次"]
    rows = layout.split_header_and_data([GridRow(tuple(Cell(t, 15) for t in texts), line=15)])
    assert [[c.text for c in r.cells] for r in rows] == [texts[:2], texts[2:8], texts[8:]]
    out = layout.parse_tables(rows, "yongde.txt")
    assert [(r.level1, r.level2, r.name, r.value) for t in out for r in t.rows] == [
        ("产出指标", "数量指标", "学生受资助人数", "≧735人次"),
    ]


def test_side_by_side_groups_keep_the_annual_one():
    # guangdong_dongguan_jiaotong_zhenjilianwanglu_2019.txt, lines 16-24: 中期 | 年度 column groups
    text = (REALWORLD / "guangdong_dongguan_jiaotong_zhenjilianwanglu_2019.txt").read_text(encoding="utf-8")
    rows = [r for t in layout.parse_tables(rows_from_text(text), "dg.txt") for r in t.rows]
    assert [(r.level1, r.level2, r.name, r.value) for r in rows[:3]] == [
        ("预期产出指标", "数量指标(或建筑规模指标)", "镇街补助款完成结算项目数", "3"),
        ("预期产出指标", "质量指标", "补助款结算误差率", "±3%以内"),
        ("预期产出指标", "时效指标(工期指标、形象进度指标)", "结算款支付及时性", "及时"),
    ]


def test_what_is_never_a_name():
    from indexer.indicators import _is_name

    # shanxi_jishan (headers run together), hunan_xiangxi (scoring rules, -定性), sichuan_daying_minzheng_yanglao
    # (a glossary entry), zhejiang_linhai (form options), hunan_xiangxi (a unit code)
    for text in ("得分偏差原因分析及改进措施", "得10分,每减少", "-定性", "5.年末结转和结余:指单位按有关规定结转到下年的资金。",
                 "优秀□ 良好□ 合格□ 不合格□未评价□", "505006州民族特殊教育学校30.00"):
        assert not _is_name(text), text
    for text in ("项目实际完成率", "资金使用说明", "数量指标", "2023年项目完工、投入使用"):
        assert _is_name(text), text


def test_org_name_drops_printed_codes_and_a_run_in_label():
    """Real header cells: anhui_suixi (`[155]濉溪县民政局 |`) and shanxi_jishan (single-space header)."""
    from indexer.layout import org_name

    assert org_name("[155]濉溪县民政局") == "濉溪县民政局"
    assert org_name("稷山县医疗保障局 项目资金 年初预算数 (万元)") == "稷山县医疗保障局"
    assert org_name("101-苏州市教育局") == "苏州市教育局"
    assert org_name("临江市教育局") == "临江市教育局"
    docs = {name: parse_file(REALWORLD / f"{name}.txt")
            for name in ("anhui_suixi_minzheng_linshijiuzhu_2019", "shanxi_jishan_yibao_jiandanglika_2020")}
    assert {t.unit for t in docs["anhui_suixi_minzheng_linshijiuzhu_2019"].tables} == {"濉溪县民政局"}
    assert {t.unit for t in docs["shanxi_jishan_yibao_jiandanglika_2020"].tables} == {"稷山县医疗保障局"}
