"""The layout families of issue 9 on small made-up examples (the real files are in tests/test_realworld.py)."""

from __future__ import annotations

from pathlib import Path

from indexer.classify import kind, split_by_roles
from indexer.ingest import parse_file
from indexer.model import NO_TABLE_WARNING
from indexer.normalize import clean_cell
from indexer.prose import split_item
from indexer.report import report_file


def _doc(tmp_path: Path, text: str, name: str = "t.txt"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return parse_file(p)


def _rows(doc):
    return [(r.level1, r.level2, r.name, r.value) for r in doc.rows]


def test_kinds():
    assert [kind(t) for t in ("产出指标", "数量值", "≥", "800", "平方米", ">=12个", "正向", "定性", "扫一扫在手机打开当前页")] == [
        "l1", "l2", "op", "num", "unit", "value", "dir", "vtype", "clutter",
    ]
    assert kind("新建村级文化广场数量") == "text"


def test_single_space_cells_split_by_roles():
    assert split_by_roles("产出指标 数量指标 新建村级 文化广场数量 >=12个") == [
        "产出指标", "数量指标", "新建村级 文化广场数量", ">=12个",
    ]
    assert split_by_roles("产出指标 数量指标 出差人次 正向 = 24 人/次 4") == [
        "产出指标", "数量指标", "出差人次", "正向", "=24人/次", "4",
    ]
    assert split_by_roles("按照年度计划 完成 各项工作") is None  # prose stays whole
    assert split_by_roles("≥ 95 %") == ["≥95%"]


def test_pinyin_glosses_removed():
    assert clean_cell("一級(jí)指標(biāo)") == "一級指標"
    assert clean_cell("指标(a)") == "指标(a)"


def test_single_space_table(tmp_path: Path):
    doc = _doc(tmp_path, "项目支出绩效目标表\n项目名称 广场建设\n一级指标 二级指标 三级指标 指标值\n"
               "产出指标 数量指标 新建村级文化广场数量 >=12个\n产出指标 质量指标 验收合格率 100%\n")
    assert _rows(doc) == [
        ("产出指标", "数量指标", "新建村级文化广场数量", ">=12个"),
        ("产出指标", "质量指标", "验收合格率", "100%"),
    ]


def test_one_cell_per_line_with_pipes_wrapped_labels_and_unit_column(tmp_path: Path):
    text = "\n".join([
        "项目支出绩效目标表 |", "一级指标 |", "二级指标 |", "三级指标 |", "指标值 |", "计量单位 |", "|||",
        "产出指标 |", "数量指标 |", "绿化面积 |", "≥800 |", "平方米 |", "|||",
        "社会效益 |", "指标 |", "受益人数 |", "≥300 |", "人 |",
    ])
    doc = _doc(tmp_path, text)
    assert _rows(doc) == [("产出指标", "数量指标", "绿化面积", "≥800平方米"), ("效益指标", "社会效益指标", "受益人数", "≥300人")]


def test_columns_after_the_value_stay_out_of_it(tmp_path: Path):
    text = ("一级指标 | 二级指标 | 三级指标 | 年度指标值 | 实际完成值 | 分值 | 得分 |\n"
            "产出指标 | 数量指标 | 培训人次 | ≥200人次 | 230人次 | 10 | 10 |\n"
            "培训场次 | ≥5场 | 6场 | 10 | 10 |\n")
    assert _rows(_doc(tmp_path, text)) == [
        ("产出指标", "数量指标", "培训人次", "≥200人次"), ("产出指标", "数量指标", "培训场次", "≥5场"),
    ]


def test_clutter_and_approval_blocks_are_not_rows(tmp_path: Path):
    text = ("当前位置: 首页 > 信息公开\n一级指标 | 二级指标 | 三级指标 | 指标值 |\n产出指标 | 数量指标 | 培训人次 | ≥200人次 |\n"
            "扫一扫在手机打开当前页\n财政部门审核意见 (盖章) | 年 月 日 |\n说明 | 各地据实填写 |\n")
    doc = _doc(tmp_path, text)
    assert _rows(doc) == [("产出指标", "数量指标", "培训人次", "≥200人次")]
    rep = report_file(tmp_path / "t.txt")
    assert (rep.tables, rep.rows, rep.empty_value, rep.unknown_level, rep.clutter_lines) == (1, 1, 0, 0, 2)


def test_prose_lists(tmp_path: Path):
    assert split_item("★名称(≥**株)>=17600株") == ("★名称(≥**株)", ">=17600株")
    assert split_item("指标1:机柜数量(≥77台)") == ("机柜数量", "≥77台")
    text = ("三、绩效目标\n(一)产出指标\n1、数量指标:培训教师≧300人;覆盖学校数>=85所。\n"
            "2、质量指标:培训合格率不低于95%。\n")
    assert _rows(_doc(tmp_path, text)) == [
        ("产出指标", "数量指标", "培训教师", "≧300人"),
        ("产出指标", "数量指标", "覆盖学校数", ">=85所"),
        ("产出指标", "质量指标", "培训合格率", "不低于95%"),
    ]


def test_bracket_heading_on_its_own_line(tmp_path: Path):
    text = "绩效指标\n【产出指标-数量指标】\n指标1:机柜数量(≥77台)\n指标2:覆盖学校数(≥35所)\n"
    assert _rows(_doc(tmp_path, text)) == [
        ("产出指标", "数量指标", "机柜数量", "≥77台"), ("产出指标", "数量指标", "覆盖学校数", "≥35所"),
    ]


def test_no_table_is_imported_as_passages(tmp_path: Path):
    doc = _doc(tmp_path, "关于2024年预算公开的说明\n本单位没有绩效目标表。\n")
    assert doc.rows == () and doc.warnings == (NO_TABLE_WARNING,)
    assert [(p.text, p.source.line) for p in doc.passages] == [("关于2024年预算公开的说明 本单位没有绩效目标表。", 1)]
    from search.retrieval.chunks import document_chunks

    chunks = document_chunks(doc)
    assert [(c.kind, c.row["name"], c.row["source"]["line"]) for c in chunks] == [("section", "正文", 1)]
    assert NO_TABLE_WARNING in report_file(tmp_path / "t.txt").text()


def test_several_projects_in_one_grid(tmp_path: Path):
    text = ("项目名称\t项目单位\t年度绩效目标\t一级指标\t二级指标\t三级指标\t指标值\n"
            "道路养护\t交通局\t完成养护任务\t产出指标\t数量指标\t养护里程\t≥120公里\n"
            "\t\t\t\t质量指标\t养护合格率\t≥95%\n"
            "路灯维修\t城管局\t保障照明\t产出指标\t数量指标\t维修路灯数\t≥300盏\n")
    doc = _doc(tmp_path, text)
    assert [(t.project, [r.name for r in t.rows]) for t in doc.tables] == [
        ("道路养护", ["养护里程", "养护合格率"]), ("路灯维修", ["维修路灯数"]),
    ]
    assert doc.tables[1].rows[0].value == "≥300盏"


def test_unit_and_operator_columns_before_the_value_one_cell_per_line(tmp_path: Path):
    lines = ["项目支出绩效目标表", "一级指标", "二级指标", "三级指标", "计量单位", "计算符号", "指标值",
             "产出指标", "数量指标", "绿化面积", "平方米", "≥", "800", "巡查次数", "次", "=", "12"]
    doc = _doc(tmp_path, "".join(f"{ln} |\n|\n" for ln in lines))
    assert _rows(doc) == [("产出指标", "数量指标", "绿化面积", "≥800平方米"), ("产出指标", "数量指标", "巡查次数", "=12次")]


def test_half_and_full_year_columns(tmp_path: Path):
    text = ("一级指标\t二级指标\t三级指标\t半年(程)指标值\t全年(程)指标值\n"
            "产出指标\t数量指标\t巡查里程\t≥60公里\t≥120公里\n\t质量指标\t问题整改率\t≥90%\t100%\n")
    doc = _doc(tmp_path, text)
    assert [(r.name, r.half_year, r.value) for r in doc.rows] == [("巡查里程", "≥60公里", "≥120公里"), ("问题整改率", "≥90%", "100%")]


def test_other_hierarchies(tmp_path: Path):
    text = ("一级指标\t二级指标\t三级指标\t指标值\n实施效果指标\t产出指标\t开展培训场次\t≥5场\n"
            "\t效益指标\t群众满意度\t≥90%\n效益指标\t满意度指标\t服务对象满意度\t≥95%\n")
    assert _rows(_doc(tmp_path, text)) == [
        ("实施效果指标", "产出指标", "开展培训场次", "≥5场"),
        ("实施效果指标", "效益指标", "群众满意度", "≥90%"),
        ("效益指标", "满意度指标", "服务对象满意度", "≥95%"),
    ]


def test_traditional_with_glosses_placeholders_and_periods(tmp_path: Path):
    text = ("| 一級(jí)指標(biāo) | 二級(jí)指標(biāo) | 三級(jí)指標(biāo) | 指標(biāo)值(zhí) |\n| --- | --- | --- | --- |\n"
            "| 產(chǎn)出指標(biāo) | 數(shù)量指標(biāo) | 新建廣場數(shù)量(≥**個(gè)) | ≥12個(gè) |\n"
            "| 項(xiàng)目周期(2023.07-2024.01)完成率 | 100% |\n")
    assert _rows(_doc(tmp_path, text, "t.md")) == [
        ("產出指標", "數量指標", "新建廣場數量(≥**個)", "≥12個"),
        ("產出指標", "數量指標", "項目周期(2023.07-2024.01)完成率", "100%"),
    ]


def test_run_together_cells(tmp_path: Path):
    text = "绩效指标\n产出指标数量指标足额保障率=100% 22.5 科目调整次数≤10次 22.5\n质量指标验收合格率100%\n"
    assert _rows(_doc(tmp_path, text)) == [
        ("产出指标", "数量指标", "足额保障率", "=100%"),
        ("产出指标", "数量指标", "科目调整次数", "≤10次"),
        ("产出指标", "质量指标", "验收合格率", "100%"),
    ]


def test_numbered_level2_heading_then_running_text(tmp_path: Path):
    text = "三、绩效指标\n(一)数量指标\n培训人数≧300人;合格率>=85%;\n(二)质量指标\n验收合格率100%。\n"
    assert _rows(_doc(tmp_path, text)) == [
        ("", "数量指标", "培训人数", "≧300人"), ("", "数量指标", "合格率", ">=85%"), ("", "质量指标", "验收合格率", "100%"),
    ]


def test_operator_in_a_nature_column_and_direction_kept_out(tmp_path: Path):
    text = ("一级指标\t二级指标\t三级指标\t指标性质\t指标值\t计量单位\t指标方向\t权重\n"
            "产出指标\t数量指标\t培训人次\t≥\t200\t人次\t正向\t10\n\t\t培训合格率\t定性\t合格\t\t正向\t10\n")
    doc = _doc(tmp_path, text)
    assert [(r.name, r.value, dict(r.extras)) for r in doc.rows] == [
        ("培训人次", "≥200人次", {"指标方向": "正向", "权重": "10"}),
        ("培训合格率", "合格", {"指标方向": "正向", "指标值类型": "定性", "权重": "10"}),
    ]
    assert doc.rows[0].target.to_json() == {"op": "≥", "number": 200.0, "unit": "人次", "qualitative": False}


def test_passages_are_found_by_search_with_their_line(tmp_path: Path, own_vector_cache):
    from search.retrieval.retrieve import load_retriever
    from tests.test_search_fakes import FakeEncoder
    from tests.test_search_index import _write

    p = tmp_path / "note.txt"
    p.write_text("关于2024年预算公开的说明\n\n本单位2024年开展农村饮水安全巩固提升工程，覆盖12个行政村。\n", encoding="utf-8")
    doc = parse_file(p)
    enc = FakeEncoder()
    m = _write(tmp_path / "ix", "g1", [doc], enc)
    hits = load_retriever(tmp_path / "ix", m, encoder=enc).search("农村饮水安全巩固提升工程", top_k=3).hits
    assert hits and hits[0].chunk == "section" and hits[0].row["name"] == "正文"
    assert "农村饮水安全" in hits[0].row["value"] and hits[0].row["source"]["line"] == 1


def test_long_term_columns_clutter_inside_a_stream_and_approval_end(tmp_path: Path):
    lines = ["一级指标", "二级指标", "三级指标", "半年(程)指标值", "全年(程)指标值", "二级指标(长期)", "三级指标(长期)",
             "指标值(长期)", "产出指标", "数量指标", "巡查里程", "≥60公里", "≥120公里", "打印本页", "质量指标", "整改率",
             "≥90%", "100%", "财政部门审核意见（盖章）", "同意"]
    doc = _doc(tmp_path, "\n".join(lines) + "\n")
    assert [(r.level2, r.name, r.half_year, r.value) for r in doc.rows] == [
        ("数量指标", "巡查里程", "≥60公里", "≥120公里"), ("质量指标", "整改率", "≥90%", "100%"),
    ]


def test_passages_and_clutter_count_survive_the_store(tmp_path: Path):
    from indexer.report import report_for
    from indexer.store import document_from_dict, document_to_dict

    doc = _doc(tmp_path, "扫一扫在手机打开当前页\n关于2024年预算公开的说明\n本单位没有绩效目标表。\n")
    again = document_from_dict(document_to_dict(doc))
    assert again == doc and again.clutter_lines == 1 and len(again.passages) == 1
    assert report_for(again).text() == "t.txt：0 张表，0 条指标，跳过网页杂项 1 行，正文 1 段。未识别到指标表，已按正文导入"
    assert again.passages[0].text == "关于2024年预算公开的说明 本单位没有绩效目标表。" and again.passages[0].source.line == 2


def test_performance_standard_column(tmp_path: Path):
    both = "一级指标\t二级指标\t三级指标\t绩效标准\t指标值\n产出指标\t数量指标\t培训人次\t计划标准\t≥200人次\n"
    alone = "一级指标\t二级指标\t三级指标\t绩效标准\n产出指标\t数量指标\t培训人次\t≥200人次\n"
    assert [r.value for r in _doc(tmp_path, both).rows] == ["≥200人次"]
    assert [r.value for r in _doc(tmp_path, alone, "u.txt").rows] == ["≥200人次"]


def test_two_project_blocks_under_one_title(tmp_path: Path):
    text = ("法院业务经费-2023绩效目标表\n项目名称 | 安全隐患维修 |\n一级指标 | 二级指标 | 三级指标 | 指标值 |\n"
            "产出指标 | 数量指标 | 维修面积 | ≥400平方米 |\n项目名称 | 陪审员经费 |\n一级指标 | 二级指标 | 三级指标 | 指标值 |\n"
            "产出指标 | 数量指标 | 陪审案件数 | ≥300件 |\n")
    doc = _doc(tmp_path, text)
    assert [(t.kind, t.project, [r.name for r in t.rows]) for t in doc.tables] == [
        ("project", "安全隐患维修", ["维修面积"]), ("project", "陪审员经费", ["陪审案件数"]),
    ]
