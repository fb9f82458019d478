"""Suggestions: canonical groups, dedupe of copies, relevance ranking, CLI, leave-one-out eval.

The engine tests build a real index (real embedding model, no network) over
part of the corpus: seed 003 with its PDF copy, seed 002 with its xlsx copy and
three other-province project tables.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from search.drafting.cluster import Cluster
from search.drafting.suggest import (
    Catalog,
    SuggestError,
    canonical_levels,
    display_name,
    group_order,
    level_matches,
    normalize_value,
    parse_exclude,
    suggest_table_input,
    table_identity,
)
from tests.conftest import CORPUS, SEED_002, SEED_003, parsed

PDF_003 = CORPUS / "pdf_003_ganzhou_jiaoti_2023.pdf"
XLSX_002 = CORPUS / "xlsx_002_suzhou_zhuangbei_2023.xlsx"
FILES = [
    SEED_003,
    PDF_003,
    SEED_002,
    XLSX_002,
    CORPUS / "other_bracket_list_2024.txt",
    CORPUS / "other_gbk_pipes_columns_2024.txt",
    CORPUS / "other_traditional_onecell_2023.txt",
]
SUGGESTION_KEYS = {"name", "variants", "units", "tables", "rows", "weak", "values", "examples"}
ROW_KEYS = {
    "doc", "unit", "year", "table", "project", "function", "level1", "level2", "task",
    "name", "half_year", "value", "target", "source",
}  # fmt: skip


# ---------------------------------------------------------------------------
# pure helpers


@pytest.mark.parametrize(
    ("level1", "level2", "name", "expected"),
    [
        ("产出指标", "数量指标", "x", ("产出指标", "数量指标")),
        ("产出", "数量", "x", ("产出指标", "数量指标")),
        ("產出指標", "質量指標", "x", ("产出指标", "质量指标")),
        ("项目完成指标", "数量指标", "x", ("产出指标", "数量指标")),
        ("产出指标", "成本指标", "x", ("成本指标", "经济成本指标")),  # older tables: cost under 产出
        ("成本指标", "经济成本指标", "x", ("成本指标", "经济成本指标")),
        ("项目效益指标", "满意度指标", "x", ("满意度指标", "服务对象满意度指标")),  # Fujian
        ("满意度", "服务对象满意度", "x", ("满意度指标", "服务对象满意度指标")),
        ("过程", "预算执行", "x", ("过程", "预算执行")),
        ("履职", "负责全市义务教育学业质量监测的组织管理", "x", ("履职", "")),
        ("", "", "服务对象满意度", ("满意度指标", "服务对象满意度指标")),
        ("", "", "三公经费支出", ("", "")),
    ],
)
def test_canonical_levels(level1, level2, name, expected):
    assert canonical_levels(level1, level2, name) == expected


@pytest.mark.parametrize(
    ("value", "normal"),
    [("≥90%", "≥90%"), ("≥ 90 %", "≥90%"), ("98%", "98%"), ("≥100 次", "≥100次"), ("九十%以上", "≥90%"),
     ("10-11月份", "10-11月份"), ("按时完成", "按时完成"), ("", "")],
)  # fmt: skip
def test_normalize_value(value, normal):
    assert normalize_value(value) == normal


def test_level_matches():
    assert level_matches("满意度", "满意度指标")
    assert level_matches("产出", "产出指标") and not level_matches("产出", "效益指标")
    assert level_matches("数量", "数量指标") and not level_matches("数量指标", "质量指标")
    assert level_matches(None, "anything")


def test_display_name_prefers_simplified_script():
    c = Cluster(
        "設備驗收合格率", "设备验收合格率", (("設備驗收合格率", 1), ("网络设备验收合格率", 1)), (), 2, (), ()
    )
    assert display_name(c) == "网络设备验收合格率"


def test_copies_share_identity_and_text_is_representative():
    docs = [parsed(p) for p in (SEED_003, PDF_003, SEED_002, XLSX_002)]
    cat = Catalog.build(docs)
    assert len(cat.tables) == 11 + 11 + 1 + 1
    assert len(cat.representative) == 12
    assert {r.doc.file for r in cat.representative.values()} == {SEED_003.name, SEED_002.name}
    t = parsed(PDF_003).tables[7]
    assert table_identity(parsed(PDF_003), t) == (
        "赣州经济技术开发区教体服务中心",
        2023,
        "project",
        "学前教育资助",
    )
    hidden = parse_exclude([f"{SEED_003.name}#8"], cat)
    assert hidden == {("赣州经济技术开发区教体服务中心", 2023, "project", "学前教育资助")}
    assert len(parse_exclude([PDF_003.name], cat)) == 11
    with pytest.raises(SuggestError, match="要排除的文档或表不存在：nope.txt"):
        parse_exclude(["nope.txt"], cat)


def test_suggest_table_input_is_project_and_goal():
    t = parsed(SEED_003).tables[7]
    assert (
        suggest_table_input(t)
        == "学前教育资助 落实国家资助政策，资助学前教育，减轻贫困家庭负担，确保贫困家庭子女顺利完成学业"
    )


# ---------------------------------------------------------------------------
# with a real index (slow: embeds ~200 chunks with the bundled model)


@pytest.fixture(scope="module")
def draft_index(tmp_path_factory) -> Path:
    from search.engine import Engine

    src = tmp_path_factory.mktemp("draft_corpus")
    for f in FILES:
        shutil.copy(f, src / f.name)
    index = tmp_path_factory.mktemp("draft_index")
    Engine.open(index).ingest([src])
    return index


@pytest.fixture(scope="module")
def engine(draft_index):
    from search.engine import Engine

    return Engine.open(draft_index)


def _all(result):
    return [s for g in result.groups for s in g.suggestions]


@pytest.mark.slow
def test_suggest_json_shape_groups_and_dedupe(engine):
    res = engine.suggest("学前教育资助 落实国家资助政策，减轻贫困家庭经济负担")
    obj = res.to_json()
    assert set(obj) == {"groups"}
    groups = [(g["level1"], g["level2"]) for g in obj["groups"]]
    # every core group is present, in the standard order of a table
    core = [
        ("产出指标", "数量指标"),
        ("产出指标", "质量指标"),
        ("产出指标", "时效指标"),
        ("成本指标", "经济成本指标"),
        ("效益指标", "社会效益指标"),
        ("满意度指标", "服务对象满意度指标"),
    ]
    assert [g for g in groups if g in core] == core
    assert groups == sorted(groups, key=lambda g: group_order(*g))
    for g in obj["groups"]:
        for s in g["suggestions"]:
            assert set(s) == SUGGESTION_KEYS
            assert all(set(ex) == ROW_KEYS for ex in s["examples"])
    sat = next(g for g in obj["groups"] if g["level1"] == "满意度指标")["suggestions"][0]
    # four 003 project tables use it; the PDF copy of 003 is not counted again
    assert sat["name"] == "受资助家庭经济困难学生满意度"
    assert (sat["units"], sat["tables"]) == (1, 4)
    assert sat["values"] == [{"value": "≥95%", "count": 4}]
    assert {ex["doc"] for ex in sat["examples"]} == {SEED_003.name}
    assert sum(len(g["suggestions"]) for g in obj["groups"]) == 20


@pytest.mark.slow
def test_exclude_hides_table_and_copies(engine):
    res = engine.suggest("学前教育资助", exclude=[f"{SEED_003.name}#8"])
    rows = [ex for s in _all(res) for ex in s.examples]
    assert rows and all(ex["project"] != "学前教育资助" for ex in rows)
    sat = next(s for s in _all(res) if s.name == "受资助家庭经济困难学生满意度")
    assert sat.tables == 3
    # the table's own phrasings are not leaked through other tables' clusters
    assert "受资助学前教育学生覆盖率" not in {n for s in _all(res) for n in (s.name, *s.variants)}


@pytest.mark.slow
def test_ranking_follows_relevance_not_frequency(engine):
    res = engine.suggest("教师培训")
    qty = next(g for g in res.groups if g.level2 == "数量指标").suggestions
    assert qty[0].name in {"开展全区教师培训", "教师培训人数", "开展全区教师培训期数"}
    # the most widespread 时效 phrasing (4 tables) does not outrank the training one
    timely = next(g for g in res.groups if g.level2 == "时效指标").suggestions
    assert timely[0].name == "教学完成时间及时性"
    res2 = engine.suggest("学前教育资助")
    assert (
        next(g for g in res2.groups if g.level2 == "时效指标").suggestions[0].name
        == "享受政策学生名单公示时间"
    )


@pytest.mark.slow
def test_level_and_source_filters(engine):
    res = engine.suggest("满意度", level1="满意度")
    assert {g.level1 for g in res.groups} == {"满意度指标"}
    res = engine.suggest("网络设备", unit="临江市")
    examples = [ex for s in _all(res) for ex in s.examples]
    assert examples and {ex["unit"] for ex in examples} == {"临江市教育局"}


@pytest.mark.slow
def test_suggest_cli_json_and_batch(draft_index, tmp_path):
    from ui.cli import main

    r = CliRunner().invoke(
        main, ["suggest", "教师培训", "--index", str(draft_index), "--json", "--top-k", "6"]
    )
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert sum(len(g["suggestions"]) for g in obj["groups"]) == 6
    batch = tmp_path / "in.txt"
    batch.write_text("教师培训\n\n学前教育资助\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["suggest", "--batch", str(batch), "--index", str(draft_index), "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.output.splitlines()]
    assert [x["input"] for x in lines] == ["教师培训", "学前教育资助"]
    assert all("groups" in x for x in lines)
    r = CliRunner().invoke(main, ["suggest", "教师培训", "--index", str(draft_index)])
    assert r.exit_code == 0 and "「教师培训」的指标建议" in r.output and "例：" in r.output
    r = CliRunner().invoke(main, ["suggest", "x", "--index", str(draft_index), "--exclude", "nope.txt"])
    assert r.exit_code == 1 and "要排除的文档或表不存在：nope.txt" in r.output


@pytest.mark.slow
def test_leave_one_table_out_eval(engine, draft_index):
    from search.evaluation.draft_evaluate import evaluate_drafting

    rep = evaluate_drafting(engine)
    by_project = {t.project: t for t in rep.tables}
    # 13 distinct project tables: the PDF copies of 003's ten are not evaluated twice
    assert len(rep.tables) == 13
    assert by_project["学前教育资助"].copies == (PDF_003.name,)
    # the subsidy tables share their template: every indicator is found
    for p in ("学前教育资助", "义务教育生活补助区配套", "高中教育助学金区配套", "高考入学政府资助区配套"):
        assert by_project[p].hits == by_project[p].total == by_project[p].ceiling_hits
    assert rep.ceiling_recall >= rep.micro_recall >= rep.baseline_recall + 0.1
    from ui.cli import main

    r = CliRunner().invoke(main, ["eval", "--draft", "--index", str(draft_index), "--json"])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output.splitlines()[-1])
    assert obj["top_n"] == 20 and obj["indicators"] == sum(t.total for t in rep.tables)
    assert obj["found"] == sum(t.hits for t in rep.tables)


@pytest.mark.slow
def test_draft_pick_adds_numbered_suggestions(draft_index, tmp_path):
    from search.drafting.draft import DraftRow, load_draft
    from ui.cli import main

    runner = CliRunner()
    r = runner.invoke(main, ["suggest", "学前教育资助", "--index", str(draft_index), "--json"])
    numbered = [
        (g["level1"], g["level2"], s) for g in json.loads(r.output)["groups"] for s in g["suggestions"]
    ]
    n = next(
        i for i, (_, _, s) in enumerate(numbered, start=1) if s["name"] == "受资助家庭经济困难学生满意度"
    )
    d = tmp_path / "d.json"
    runner.invoke(main, ["draft", "new", str(d), "--project", "学前教育资助"])
    r = runner.invoke(
        main, ["draft", "pick", str(d), "学前教育资助", "-n", "1", "-n", str(n), "--index", str(draft_index)]
    )
    assert r.exit_code == 0, r.output
    rows = load_draft(d).rows
    first = numbered[0]
    assert rows[0] == DraftRow(first[0], first[1], first[2]["name"], first[2]["values"][0]["value"])
    assert rows[1] == DraftRow("满意度指标", "服务对象满意度指标", "受资助家庭经济困难学生满意度", "≥95%")
    r = runner.invoke(
        main, ["draft", "pick", str(d), "学前教育资助", "-n", "99", "--index", str(draft_index)]
    )
    assert r.exit_code == 2 and "没有第99条建议（共 20 条）" in r.output
