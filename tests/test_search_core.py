"""Tokenizer, fusion, filters and clustering (pure code, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from search.drafting.cluster import cluster_rows, core_name, similar
from search.retrieval.chunks import ChunkTable, build_chunks
from search.retrieval.filters import FilterError, Filters, allowed_mask
from search.retrieval.fuse import minmax, rrf, weighted
from search.retrieval.tokenize import TokenizerConfig, get_tokenizer, tokenize
from tests.conftest import CORPUS, SEED_001, parsed

# -- tokenizer -------------------------------------------------------------------------


def test_one_module_level_tokenizer_not_jieba_global():
    import jieba

    tok = get_tokenizer()
    assert tok is get_tokenizer()
    assert isinstance(tok, jieba.Tokenizer)
    assert tok is not jieba.dt


def test_user_dictionary_words_and_search_mode_subwords():
    toks = tokenize("预算执行率")
    assert toks == ["预算", "执行", "执行率", "预算执行率"]
    assert tokenize("服务对象满意度指标") == ["服务", "对象", "服务对象", "满意", "指标", "满意度", "满意度指标"]
    assert tokenize("“三公经费”变动率") == ["三公", "经费", "三公经费", "变动", "变动率"]
    # a colloquial query still shares 满意 with every 满意度 row
    assert "满意" in tokenize("学生家长对学校满不满意")


def test_normalisation_punctuation_and_stopwords():
    # traditional + full-width text tokenises like its simplified half-width form
    assert tokenize("師生滿意度大於９０％") == tokenize("师生满意度大于90%")
    toks = tokenize("哪些单位的预算执行率？")
    assert "哪些" not in toks and "的" not in toks and "？" not in toks
    assert "预算执行率" in toks


def test_bigram_option():
    assert "#满意" in tokenize("满不满意", TokenizerConfig(bigrams=True))
    assert "#满意" not in tokenize("满不满意")


# -- fusion ----------------------------------------------------------------------------


def test_rrf_exact_values():
    fused = dict(rrf([["a", "b", "c"], ["c", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62, abs=1e-15)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61, abs=1e-15)
    assert fused["b"] == pytest.approx(1 / 62, abs=1e-15)
    assert [d for d, _ in rrf([["a", "b", "c"], ["c", "a"]], k=60)] == ["a", "c", "b"]


def test_rrf_k_and_weights_and_ties():
    assert dict(rrf([[1, 2]], k=1)) == {1: 0.5, 2: pytest.approx(1 / 3)}
    assert dict(rrf([[1], [2]], k=60, weights=[2.0, 1.0])) == {1: 2 / 61, 2: 1 / 61}
    # equal fused scores: the better best-rank wins, then the smaller id
    assert [d for d, _ in rrf([[1, 2], [2, 1]], k=60)] == [1, 2]


def test_weighted_min_max_fusion():
    assert minmax([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]
    assert minmax([5.0, 5.0]) == [1.0, 1.0]
    fused = dict(weighted([[("a", 10.0), ("b", 6.0), ("c", 2.0)], [("c", 0.9), ("a", 0.5)]], weights=[0.5, 0.5]))
    assert fused == {"a": pytest.approx(0.5), "b": pytest.approx(0.25), "c": pytest.approx(0.5)}
    ranked = weighted([[("a", 10.0), ("b", 6.0), ("c", 2.0)], [("c", 0.9), ("a", 0.5)]], weights=[0.5, 0.5])
    assert [d for d, _ in ranked] == ["a", "c", "b"]  # tie a/c: a has the better best rank


# -- filters ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_table():
    from indexer.ingest import parse_file

    docs = [parsed(SEED_001), parse_file(CORPUS / "other_traditional_onecell_2023.txt"),
            parse_file(CORPUS / "other_nolevels_fujian_2024.txt")]
    chunks = build_chunks(docs)
    return chunks, ChunkTable.from_chunks(chunks, np.arange(len(chunks)))


def test_filter_containment_after_key(corpus_table):
    chunks, table = corpus_table
    mask = allowed_mask(table, Filters(unit="电化教育馆"))
    assert {chunks[i].unit for i in np.flatnonzero(mask)} == {"苏州市电化教育馆"}
    assert mask.sum() == sum(1 for c in chunks if c.doc == SEED_001.name)
    # simplified filter matches the traditional unit and region
    mask = allowed_mask(table, Filters(unit="花莲县卫生健康局", region="花莲"))
    assert {chunks[i].unit for i in np.flatnonzero(mask)} == {"花蓮縣衛生健康局"}
    assert allowed_mask(table, Filters()) is None


def test_filter_year_table_levels(corpus_table):
    chunks, table = corpus_table
    mask = allowed_mask(table, Filters(year=2023))
    assert {chunks[i].doc for i in np.flatnonzero(mask)} == {"other_traditional_onecell_2023.txt"}
    mask = allowed_mask(table, Filters(table="project", year=2024))
    assert {chunks[i].project for i in np.flatnonzero(mask)} == {"预算绩效管理专项"}
    mask = allowed_mask(table, Filters(unit="电化教育馆", level1="满意度"))
    assert sorted(chunks[i].row["name"] for i in np.flatnonzero(mask)) == sorted(
        ["市直属学校管理员对线上教育平台满意度", "学校用户对视频会议的满意度", "苏州教育E卡通运维项目学生学校满意度"]
    )
    assert not allowed_mask(table, Filters(unit="不存在的单位")).any()


def test_filter_validation_and_matches():
    with pytest.raises(FilterError):
        Filters(table="部门")
    assert Filters(year="2024").year == 2024
    row = {"unit": "苏州市电化教育馆", "year": 2024, "table": "department", "project": "", "level1": "满意度指标",
           "level2": "", "doc": "001.txt"}
    assert Filters(unit="電化教育館", level1="满意度").matches(row)
    assert not Filters(year=2023).matches(row)
    assert Filters.from_json({"unit": "x", "year": None}).to_json() == {"unit": "x"}


# -- clustering ------------------------------------------------------------------------


def _row(name, unit, value="≥90%", doc="d.txt", project=""):
    return {"name": name, "unit": unit, "value": value, "doc": doc, "table": "project" if project else "department",
            "project": project}


def test_core_name_and_similarity_thresholds():
    assert core_name("指标3：“三公经费”变动率") == "三公经费变动率"
    assert core_name("師生滿意度大於 90%") == "师生满意度"
    assert similar("系统日常维护合格率", "信息系统日常维护合格率")
    assert similar("政府采购执行率", "政府采购预算执行率")
    assert not similar("学生满意度", "学校满意度")
    assert not similar("打印制作全市义务教育质量监测初中生", "打印制作全市义务教育质量监测小学生")
    assert not similar("师生满意度", "督导检查学校整改情况师生满意度")


def test_cluster_rows_groups_phrasings_across_units():
    rows = [
        _row("师生满意度", "A单位", "98%"),
        _row("学生满意度", "A单位"),
        _row("师生满意度大于 90%", "B单位"),
        _row("师生滿意度", "C单位", "≥90%", doc="c.txt", project="某项目"),
        _row("“三公经费”变动率", "A单位", "≤0%"),
        _row("三公经费变动率", "B单位", "≤0%"),
    ]
    clusters = cluster_rows(rows)
    assert [c.name for c in clusters] == ["师生满意度", "学生满意度", "三公经费变动率"]
    c = clusters[0]
    assert c.units == ("A单位", "B单位", "C单位")
    assert c.label() == "师生满意度 — 3 个单位使用：A单位、B单位、C单位"
    assert dict(c.variants) == {"师生满意度": 1, "师生满意度大于 90%": 1, "师生滿意度": 1}
    assert c.values == (("≥90%", 2), ("98%", 1))
    assert c.tables == 2  # (d.txt, department, "") and (c.txt, project, 某项目)
    assert [r["unit"] for r in c.rows] == ["A单位", "B单位", "C单位"]
    assert clusters[2].size == 2 and clusters[2].key == "三公经费变动率"


def test_cluster_rows_on_corpus_rows_is_a_partition():
    from indexer.model import row_to_json

    doc = parsed(SEED_001)
    rows = [row_to_json(doc, t, r) for t in doc.tables for r in t.rows]
    clusters = cluster_rows(rows)
    assert sum(c.size for c in clusters) == len(rows)
    merged = {c.name: dict(c.variants) for c in clusters if len(c.variants) > 1}
    assert merged["系统日常维护合格率"] == {"信息系统日常维护合格率": 1, "系统日常维护合格率": 1}
