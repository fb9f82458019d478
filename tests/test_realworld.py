"""The hand-labelled real-world set (corpus/realworld/): exact figures per document and overall.

Each document is parsed and its rows matched to the hand labels by ``tests.realworld_score``.
EXPECTED records, per document, (labelled rows, output rows, labels found by name, found with the
right value, found with the right 一级/二级) as measured; a change in any of them fails the test,
so an improvement is recorded by updating the line, a regression is caught.
"""

from __future__ import annotations

import pytest

from tests.realworld_score import REALWORLD, documents, load_labels, score_all, score_document

EXPECTED: dict[str, tuple[int, int, int, int, int]] = {
    "anhui_guichi_tangxi_cunji_2022": (8, 8, 7, 7, 7),
    "anhui_huaibei_wenlv_songxi_2025": (9, 9, 9, 9, 9),
    "anhui_jinzhai_chagu_meilixiangcun_2023": (8, 8, 8, 8, 8),
    "anhui_jinzhai_kaifaqu_wuye_2021": (9, 9, 9, 9, 9),
    "anhui_luan_nongyenongcun_zhijian_2024": (7, 7, 7, 7, 7),
    "anhui_suixi_minzheng_linshijiuzhu_2019": (9, 10, 9, 9, 9),
    "anhui_tai_chengguan_cheliang_ranyou_2023": (9, 9, 9, 9, 9),
    "anhui_xiaoxian_zhangzhuangzhai_tesezhongyang_2023": (14, 14, 14, 14, 14),
    "chongqing_kexuecheng_rongmeiti_zhengti_2021": (19, 19, 15, 13, 15),
    "fujian_fuzhou_jinan_yuefeng_baisui_2024": (5, 5, 5, 4, 5),
    "fujian_ningde_rencaiyizhan_2023": (5, 5, 5, 5, 5),
    "fujian_xiuyu_shuili_2025": (4, 4, 3, 2, 3),
    "guangdong_dongguan_jiaotong_zhenjilianwanglu_2019": (6, 6, 6, 6, 6),
    "guangxi_wuzhou_yunwei_prose_2024": (6, 6, 6, 6, 6),
    "hainan_shangwu_huizhan_jiangli_2022": (1, 1, 1, 1, 1),
    "hebei_handan_kunnanqunzhong_jiuzhu_2019": (3, 0, 0, 0, 0),
    "hebei_ningjin_jiaoyu_gaozhongzhuxuejin_2019": (7, 6, 6, 5, 0),
    "hubei_canlian_xuanchuanwenhua_2017": (15, 14, 14, 14, 14),
    "hubei_ezhou_kexie_kepu_2022": (9, 9, 7, 7, 7),
    "hubei_huangshi_dangxiao_zhutiban_2022": (13, 13, 13, 13, 13),
    "hubei_huangshi_sanzhong_xiaoyuanweixiu_2023": (8, 8, 8, 8, 8),
    "hubei_jingmen_wenlv_wenwubaohu_2022": (9, 9, 9, 9, 9),
    "hubei_qianlima_xiaoyuanweixiu_prose_2022": (9, 9, 9, 9, 9),
    "hunan_nanxian_jikong_gongwei_2025": (3, 3, 3, 3, 3),
    "hunan_xiangxi_tejiao_huoshifei_2023": (10, 10, 10, 10, 10),
    "neimenggu_wuhai_gongxiaoshe_2021": (11, 11, 11, 11, 11),
    "neimenggu_zhalaite_jianchayuan_2025": (15, 16, 15, 15, 15),
    "ningxia_shizuishan_jikong_yimiao_2020": (13, 13, 13, 13, 13),
    "ningxia_yuanzhou_shuiyuanhanyanglin_2022": (11, 11, 11, 11, 11),
    "shaanxi_chencang_shuili_yinshui_2020": (5, 5, 5, 5, 5),
    "shandong_linyi_shifanfuxiao_2025": (8, 8, 8, 8, 8),
    "shanxi_jishan_yibao_jiandanglika_2020": (6, 6, 3, 2, 3),
    "sichuan_anju_shijian_shipinjianguan_2021": (10, 10, 10, 10, 10),
    "sichuan_daying_minzheng_guerzhuxue_2022": (9, 9, 9, 9, 9),
    "sichuan_daying_minzheng_yanglao_2020": (5, 4, 4, 4, 4),
    "sichuan_daying_shuangxin_chuangcheng_2020": (6, 6, 6, 6, 6),
    "sichuan_dyrmt_baozhang_runtogether": (4, 4, 4, 4, 4),
    "sichuan_dyrmt_tielu_huanjing_zipingbiao": (8, 8, 8, 8, 7),
    "sichuan_zhongjiang_shuili_shuibiaochi_2022": (9, 9, 9, 9, 9),
    "tianjin_hebeiqu_fayuan_2023": (11, 11, 11, 11, 11),
    "tianjin_mirror_chengguanwei_bingmei_2020": (11, 11, 11, 11, 11),
    "tianjin_nankai_shengwu_shiyanjiaoxue_2018": (9, 9, 9, 9, 9),
    "tianjin_ninghe_jiaoyu_minbanyuan_fangzu_2020": (11, 11, 11, 11, 11),
    "xinjiang_changji_sizhong_zhuxuejin_2019": (6, 6, 6, 6, 6),
    "yunnan_jingdong_minzheng_dibao_2022": (10, 10, 10, 10, 10),
    "yunnan_lijiang_guchengqu_weipian_2020": (5, 5, 5, 5, 5),
    "yunnan_nanhua_yejun_jiagongchejian_zipingbiao": (5, 5, 5, 5, 4),
    "yunnan_yongde_mingzhong_yingyang_2022": (9, 9, 9, 9, 9),
    "zhejiang_linhai_lvhua_yanghu_2024": (7, 7, 7, 7, 7),
}

# Whole-set floors, as measured (see docs/readme-parser.md); the issue's targets are in test_issue_targets.
FLOOR = {"recall": 0.958, "value": 0.984, "levels": 0.979, "spurious": 0.033}


@pytest.mark.parametrize("doc_id", sorted(EXPECTED))
def test_document_exact(doc_id: str):
    src = next(p for p in REALWORLD.iterdir() if p.name.startswith(doc_id + ".") and not p.name.endswith(".jsonl"))
    s = score_document(doc_id, src, REALWORLD / f"{doc_id}.labels.jsonl")
    assert (s.labels, s.output, s.found, s.value_ok, s.levels_ok) == EXPECTED[doc_id], (
        s.misses, s.wrong_values, s.wrong_levels, s.spurious,
    )


def test_fully_read_documents_give_the_labelled_rows():
    """Where every row is right, the rows equal the labels one for one, in order."""
    from indexer.ingest import parse_file
    from tests.realworld_score import levels_match, norm_name, norm_value

    for doc_id, (n, out, found, val, lev) in EXPECTED.items():
        if not (n == out == found == val == lev):
            continue
        src = next(p for p in REALWORLD.iterdir() if p.name.startswith(doc_id + ".") and not p.name.endswith(".jsonl"))
        rows = parse_file(src).rows
        labels = load_labels(REALWORLD / f"{doc_id}.labels.jsonl")
        for r, lb in zip(rows, labels, strict=True):
            assert norm_name(r.name) == norm_name(lb.name), doc_id
            assert norm_value(r.value) == norm_value(lb.value), (doc_id, r.name)
            assert levels_match(lb, r.level1, r.level2), (doc_id, r.name)


def test_every_labelled_document_is_imported():
    """No real document is rejected: a file without a recognised table becomes text passages."""
    from indexer.ingest import parse_file
    from indexer.model import NO_TABLE_WARNING

    for _doc_id, src, _lab in documents():
        doc = parse_file(src)
        assert doc.rows or (doc.passages and NO_TABLE_WARNING in doc.warnings), src.name


def test_whole_set_floor():
    _, t = score_all(sorted(EXPECTED))
    assert t.recall >= FLOOR["recall"] and t.value_acc >= FLOOR["value"]
    assert t.level_acc >= FLOOR["levels"] and t.spurious_rate <= FLOOR["spurious"]


def test_issue_targets():
    """Issue 9: ≥95% of labelled rows found by name, ≥95% of those with the right value, ≥90% with the right
    levels, spurious rows under 5% of the output, on the whole labelled set."""
    _, t = score_all()
    assert t.recall >= 0.95 and t.value_acc >= 0.95 and t.level_acc >= 0.90 and t.spurious_rate < 0.05
