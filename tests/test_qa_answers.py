"""Question answering end to end on the real corpus.

Fast tests build a lexical-only ``QAContext`` from the parsed corpus files (no
index, no model).  Tests marked ``slow`` use a session-scoped index built in a
tmp dir by ``Engine.ingest`` and the real embedding model through ``Engine.ask``.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from indexer.model import row_to_json
from indexer.normalize import key
from indexer.pipeline import collect_files
from search.evaluation.qa_evaluate import check_answer, evaluate, load_questions
from search.qa.answer import FALLBACK_PREFIX, ROW_KEYS, QAContext
from search.qa.question import INTENTS
from tests.conftest import CORPUS, CORPUS_FILES, SEED_001, parsed

QUESTIONS = load_questions()
BY_ID = {q["id"]: q for q in QUESTIONS}


def corpus_docs(*extra: Path):
    files, errors = collect_files([*CORPUS_FILES, *extra])
    assert not errors
    return [parsed(f) for f in files]


@pytest.fixture(scope="module")
def ctx() -> QAContext:
    return QAContext.build(corpus_docs(), "test", encoder=None)


def ask(ctx: QAContext, q: str) -> dict:
    return ctx.ask(q).to_json()


# --------------------------------------------------------------------------- the question set


def test_question_set_covers_every_intent():
    counts = Counter(q["intent"] for q in QUESTIONS)
    assert len(QUESTIONS) >= 45
    assert set(counts) == set(INTENTS)
    assert min(counts.values()) >= 4, counts
    assert len({q["id"] for q in QUESTIONS}) == len(QUESTIONS)


LEXICAL = [q for q in QUESTIONS if not q.get("needs_semantic")]
SEMANTIC = [q for q in QUESTIONS if q.get("needs_semantic")]


def test_question_set_passes_lexical(ctx):
    rep = evaluate(lambda q: ask(ctx, q), LEXICAL)
    assert rep.failures == []
    assert rep.correct == len(LEXICAL) >= 45


def test_semantic_questions_need_the_encoder(ctx):
    # worded unlike any indicator name: lexical matching alone finds nothing
    assert len(SEMANTIC) >= 3
    for q in SEMANTIC:
        a = ask(ctx, q["question"])
        assert a["intent"] == q["intent"] and a["rows"] == [], q["id"]
        assert check_answer(q, a)


def test_checker_detects_wrong_answers(ctx):
    q = BY_ID["wu-01"]
    a = ask(ctx, q["question"])
    assert check_answer(q, a) == []
    wrong = {**a, "units": a["units"][:-1], "intent": "count"}
    fails = check_answer(q, wrong)
    assert any("意图" in f for f in fails) and any("units" in f for f in fails)
    assert check_answer(BY_ID["bg-01"], {**ask(ctx, BY_ID["bg-01"]["question"]), "value": 794.0})


# --------------------------------------------------------------------------- semantics in answers


def test_satisfaction_answer(ctx):
    a = ask(ctx, "哪些单位设定了满意度≥90%的目标？")
    assert a["intent"] == "which_units"
    assert a["answer"].startswith("共8个单位设定了满意度≥90%的目标：苏州市教育装备与勤工俭学管理办公室、")
    assert "苏州市教育质量监测中心（≥85%）" in a["answer"] and "口径" in a["answer"]
    assert "苏州市教育质量监测中心" not in a["units"] and "苏州市电化教育馆" not in a["units"]
    near = {(r["unit"], r["name"]): r for r in a["near_misses"]}
    r = near[("苏州市教育质量监测中心", "苏州市教育局下辖各县市区教育局、直属学校")]
    assert r["value"] == "≥85%" and r["reason"].startswith("≥85%")
    assert sum(1 for u, _ in near if u == "苏州市电化教育馆") == 3
    assert [(r["unit"], r["name"], r["reason"]) for r in a["unquantified"]] == [
        ("潢源县教育局", "学生满意度", "未填写指标值")
    ]
    # every supporting row really satisfies the condition
    assert all(r["target"]["op"] in ("≥", "=", ">") and r["target"]["number"] >= 90 for r in a["rows"])


def test_qualitative_rows_listed_as_unquantified(ctx):
    a = ask(ctx, "赣州经开区教体服务中心部门整体有哪些指标值不低于90%的指标？")
    assert a["intent"] == "list_indicators"
    assert [r["name"] for r in a["rows"]] == [
        "各教育督导工作站检查学校覆盖率", "教育资助申请程序和审核过程科学合规率", "教育资助工作任务及时完成率",
        "教育资助配套补助资金到位率", "师生满意度大于 90%",
    ]  # fmt: skip
    unq = {r["name"]: r["reason"] for r in a["unquantified"]}
    assert unq["学前、义务教育、高中、高考入学、中职教育家庭经济困难资助受益学生数"] == "未量化（定性指标）"
    assert unq["全区教学质量"] == "未填写指标值"
    assert "未量化" in a["answer"]
    assert not any(r["target"]["qualitative"] for r in a["rows"])
    # counts in other units are near misses for a unit mismatch, not matches
    assert {r["name"]: r["reason"] for r in a["near_misses"]}["保障特岗人员人数"].startswith("单位不一致")


def test_half_year_values_only_when_asked(ctx):
    annual = ask(ctx, "哪些单位的预算执行率目标低于50%？")
    half = ask(ctx, "哪些单位的半年预算执行率目标低于50%？")
    assert annual["units"] == [] and annual["plan"]["column"] == "annual"
    assert half["units"] == ["苏州市电化教育馆", "苏州市教育装备与勤工俭学管理办公室"]
    assert "半年" in half["answer"]


def test_money_units_converted(ctx):
    wan = ask(ctx, "哪些项目的成本指标不超过20万元？")
    yuan = ask(ctx, "哪些项目的成本不超过200000元？")
    assert wan["projects"] == yuan["projects"] == ["教研活动经费", "教育督导专项经费"]
    assert [r["name"] for r in yuan["rows"]] == ["开展教研活动成本", "教育督导成本"]


def test_not_found_never_invents(ctx):
    a = ask(ctx, "苏州市电化教育馆的招商引资指标是多少？")
    assert (a["intent"], a["rows"], a["value"]) == ("unit_value", [], None)
    assert "没有找到" in a["answer"]
    b = ask(ctx, "潢源县教育局的资金总额是多少？")
    assert b["value"] is None and "未填写资金总额" in b["answer"]


# --------------------------------------------------------------------------- output shape and citations


def _answers(ctx) -> list[dict]:
    return [ask(ctx, q["question"]) for q in QUESTIONS]


def test_row_objects_are_row_to_json(ctx):
    a = ask(ctx, "哪些单位设定了满意度≥90%的目标？")
    assert set(a) >= {"answer", "intent", "plan", "units", "projects", "rows", "near_misses"}
    for r in a["rows"]:
        assert tuple(r) == ROW_KEYS
    for r in a["near_misses"] + a["unquantified"]:
        assert tuple(r)[: len(ROW_KEYS)] == ROW_KEYS and set(r) - set(ROW_KEYS) == {"reason", "sources"}
    json.dumps(a, ensure_ascii=False)
    # the first row is exactly the stored row
    doc = parsed(CORPUS / "002_e915be5c49c8d360.txt")
    t = doc.tables[0]
    assert a["rows"][0] == row_to_json(doc, t, next(r for r in t.rows if r.name == "师生满意度"))


def _read(path: Path) -> list[str]:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc).splitlines()
        except UnicodeDecodeError:
            continue
    raise AssertionError(path)


def test_cited_rows_exist_in_source_files(ctx):
    checked = 0
    for a in _answers(ctx):
        items = list(zip(a["rows"], a["sources"])) + [
            (r, r["sources"]) for r in a["near_misses"] + a["unquantified"]
        ]
        for row, sources in items:
            assert sources and sources[0]["doc"] == row["doc"]
            for s in sources:
                path = CORPUS / s["doc"]
                assert path.exists(), s
                if s["line"] is not None and path.suffix in (".txt", ".csv"):
                    line = _read(path)[s["line"] - 1]
                    assert key(row["name"]) in key(line), (s, row["name"], line)
                    checked += 1
                else:
                    assert (s["page"] or s["line"] or 0) >= 1
    assert checked > 300


def test_readable_answer_has_citations(ctx):
    text = ctx.ask("苏州市电化教育馆有哪些满意度指标？").render()
    assert text.splitlines()[0] == "理解为：范围：单位=苏州市电化教育馆；对象：指标“满意度”；计算：列出指标"
    assert text.splitlines()[1] == (
        "苏州市电化教育馆共有3条满意度指标：市直属学校管理员对线上教育平台满意度（≥85%）、"
        "学校用户对视频会议的满意度（≥85%）、苏州教育E卡通运维项目学生学校满意度（≥85%）。"
    )
    assert "依据（3条）：" in text and "来源：001_5faa2bc3c3b6a31c.txt 第114行" in text


# --------------------------------------------------------------------------- copies of a document


def test_pdf_and_xlsx_copies_are_not_double_counted(ctx):
    # corpus/ holds pdf_000 / pdf_003 / pdf_004 / xlsx_002 (and html_001, docx_003, doc_004, xls_003) copies of seed tables
    a = ask(ctx, "苏州市教育质量监测中心一共有多少条指标？")
    assert a["value"] == 53
    b = ask(ctx, "赣州经济技术开发区教体服务中心有多少个项目支出绩效目标表?")
    assert b["value"] == 10
    assert all({s["doc"] for s in t["sources"]} == {"003_be79a3bdad299845.txt", "pdf_003_ganzhou_jiaoti_2023.pdf",
                                                    "docx_003_ganzhou_jiaoti_2023.docx",
                                                    "xls_003_ganzhou_jiaoti_2023.xls"}
               for t in b["tables"])  # fmt: skip
    c = ask(ctx, "苏州市教育装备与勤工俭学管理办公室的师生满意度是多少")
    assert [s["doc"] for s in c["sources"][0]] == [
        "002_e915be5c49c8d360.txt",
        "xlsx_002_suzhou_zhuangbei_2023.xlsx",
    ]


def test_renamed_text_copy_is_one_unit(tmp_path):
    copy = tmp_path / "电化教育馆2024_副本.txt"
    shutil.copy(SEED_001, copy)
    ctx2 = QAContext.build(corpus_docs(tmp_path), "copy", encoder=None)
    a = ask(ctx2, "苏州市电化教育馆有多少个满意度指标？")
    assert a["value"] == 3
    assert all([s["doc"] for s in srcs] == [SEED_001.name, copy.name, "html_001_suzhou_dianhua_2024.html"]
               for srcs in a["sources"])  # fmt: skip
    assert ask(ctx2, "哪些单位设定了满意度≥90%的目标？")["value"] is None
    assert ask(ctx2, "有多少个单位设定了满意度≥90%的目标？")["value"] == 8
    assert ask(ctx2, "苏州市电化教育馆的资金总额是多少？")["value"] == 2190.36


# --------------------------------------------------------------------------- fallback


def test_fallback_nothing_found(ctx):
    a = ask(ctx, "今天天气怎么样")
    assert (a["intent"], a["rows"], a["value"]) == ("fallback_search", [], None)
    assert a["answer"].startswith(FALLBACK_PREFIX + "没有找到相关内容。")
    # honest: says these are search results and what was (not) understood
    assert "以上为检索结果，不是结构化答案" in a["answer"] and "未能识别：开放式问题" in a["answer"]


def test_fallback_lexical_ranking(ctx):
    a = ask(ctx, "网络安全怎么保障")
    assert a["intent"] == "fallback_search" and a["answer"].startswith(FALLBACK_PREFIX)
    assert a["rows"][0]["name"] == "上级要求的重保期间，做好网络安全工作，无网络安全事故"
    assert all(tuple(r) == ROW_KEYS for r in a["rows"])


def test_fallback_uses_search_hits():
    docs = corpus_docs()
    doc = parsed(CORPUS / "other_bracket_list_2024.txt")
    hit = {**row_to_json(doc, doc.tables[0], doc.tables[0].rows[-1]), "score": 0.9, "chunk": "x"}
    calls = []

    def search(q, k):
        calls.append((q, k))
        return [hit, {"doc": "missing.txt", "name": "不存在", "source": {}}]

    c = QAContext.build(docs, "s", encoder=None, search=search)
    a = c.ask("介绍一下智慧校园建设").to_json()
    assert calls == [("介绍一下智慧校园建设", 5)]
    assert [(r["doc"], r["name"]) for r in a["rows"]] == [("other_bracket_list_2024.txt", "师生满意度")]


def test_fallback_when_search_fails():
    def broken(q, k):
        raise RuntimeError("no artefacts")

    c = QAContext.build(corpus_docs(), "s", encoder=None, search=broken)
    a = c.ask("网络安全怎么保障").to_json()
    assert a["rows"] and a["answer"].startswith(FALLBACK_PREFIX)
    assert c.search is None  # not retried for this generation


# --------------------------------------------------------------------------- real index + model (slow)


@pytest.fixture(scope="session")
def qa_index(tmp_path_factory) -> Path:
    from search.engine import Engine

    d = tmp_path_factory.mktemp("qa_index")
    Engine.open(d).ingest(CORPUS_FILES)
    return d


@pytest.fixture(scope="session")
def engine(qa_index):
    from search.engine import Engine

    return Engine.open(qa_index)


@pytest.mark.slow
def test_question_set_passes_with_engine_and_model(engine):
    from search.evaluation.qa_evaluate import evaluate_engine

    rep = evaluate_engine(engine)
    assert rep.failures == []
    assert engine.qa_context().matcher.semantic_enabled  # the real encoder was used


@pytest.mark.slow
def test_semantic_threshold_matters(engine):
    from search.qa.concepts import SEMANTIC_THRESHOLD

    m = engine.qa_context().matcher
    tuned = m.match("覆盖率", False)
    loose = m.match("覆盖率", False, threshold=0.90)
    assert "覆盖学校数" not in tuned and loose["覆盖学校数"].startswith("semantic")
    assert all(how == "lexical" for how in tuned.values())
    sims = m.similarities("满意度")
    assert min(sims[n] for n in m.names if "满意" in n) < 1.0 and SEMANTIC_THRESHOLD < 1.0
    # lexicon concepts marked lexical-only never grow semantically
    assert set(m.match("预算执行率", False, threshold=0.5)) == {"预算执行率"}


@pytest.mark.slow
def test_engine_context_cached_per_generation(tmp_path, monkeypatch):
    from search.engine import Engine

    monkeypatch.setenv("PERFSEARCH_QA_SEMANTIC", "0")
    e = Engine.open(tmp_path / "idx")
    e.ingest([CORPUS / "other_bracket_list_2024.txt"])
    c1 = e.qa_context()
    assert e.qa_context() is c1
    assert e.ask("梅岭县有哪些项目？").projects == ()  # not in this index yet
    e.ingest([CORPUS / "other_gbk_pipes_columns_2024.txt"])
    c2 = e.qa_context()
    assert c2 is not c1 and c2.generation != c1.generation
    assert e.ask("梅岭县有哪些项目？").projects == ("政务云数据中心运维项目",)


@pytest.mark.slow
def test_cli_ask_json_and_batch(qa_index, tmp_path):
    from click.testing import CliRunner

    from ui.cli import main

    r = CliRunner().invoke(
        main, ["ask", "苏州市教育质量监测中心2023年资金总额是多少?", "--index", str(qa_index), "--json"]
    )
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert (obj["intent"], obj["value"]) == ("budget", 794.87)
    assert set(obj) >= {"answer", "intent", "plan", "units", "projects", "rows", "near_misses"}

    batch = tmp_path / "q.txt"
    batch.write_text(
        "哪些单位的预算执行率目标为100%?\n\n" + json.dumps({"question": "赣州经济技术开发区教体服务中心有多少个项目支出绩效目标表?"},
                                                    ensure_ascii=False) + "\n如何提升教育信息化水平？\n",
        encoding="utf-8",
    )  # fmt: skip
    r = CliRunner().invoke(main, ["ask", "--batch", str(batch), "--index", str(qa_index), "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.output.splitlines()]
    assert [x["question"] for x in lines] == [
        "哪些单位的预算执行率目标为100%?", "赣州经济技术开发区教体服务中心有多少个项目支出绩效目标表?", "如何提升教育信息化水平？",
    ]  # fmt: skip
    assert [x["intent"] for x in lines] == ["which_units", "budget", "fallback_search"]
    assert lines[1]["value"] == 10
    assert all(tuple(row) == ROW_KEYS for x in lines for row in x["rows"])

    r = CliRunner().invoke(main, ["ask", "苏州市电化教育馆有哪些满意度指标？", "--index", str(qa_index)])
    assert r.exit_code == 0 and "来源：001_5faa2bc3c3b6a31c.txt 第114行" in r.output
    r = CliRunner().invoke(main, ["ask", "--index", str(qa_index)])
    assert r.exit_code != 0


@pytest.mark.slow
def test_cli_eval_ask(qa_index):
    from click.testing import CliRunner

    from ui.cli import main

    r = CliRunner().invoke(main, ["eval", "--ask", "--index", str(qa_index)])
    assert r.exit_code == 0, r.output
    assert "which_units" in r.output and "fallback_search" in r.output
    assert r.output.splitlines()[-1].split()[-1] == "100.0%"


def test_budget_amount_condition_filters_project_tables(ctx):
    a = ctx.ask("哪些项目的资金总额超过100万元？")
    assert a.intent == "budget" and a.plan.filters.table == "project"
    assert a.value == 5
    assert list(a.projects) == [
        "城乡居民基本医疗保险参保补助", "其他资金", "政务云数据中心运维项目", "教师培训费", "社區衛生服務中心設備購置",
    ]
    assert "2450.8万元" in a.text and "800万元" in a.text and "其余10张表不满足" in a.text
    b = ctx.ask("资金总额不超过20万元的项目有哪些")
    assert list(b.projects) == ["教研活动经费", "招商引资工作经费", "高中教育助学金区配套", "高考入学政府资助区配套"]
    # 元 in the question is converted to 万元
    c = ctx.ask("哪些项目的资金总额超过3000000元？")
    assert list(c.projects) == ["城乡居民基本医疗保险参保补助", "其他资金", "政务云数据中心运维项目"]
