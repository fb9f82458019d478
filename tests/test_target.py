"""Tests for indexer.target: parse_target and value_likeness.

The seed cases are every distinct value cell of corpus/*.txt, collected by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indexer.model import Target
from indexer.target import parse_target, value_likeness

Q = (None, None, None, True)  # qualitative
EMPTY = (None, None, None, False)


def _fields(t: Target) -> tuple:
    return (t.op, t.number, t.unit, t.qualitative)


# (text, (op, number, unit, qualitative))
SEED_VALUES = [
    # 000 苏州市教育质量监测中心
    ("健全", Q),
    ("合理", Q),
    ("明确", Q),
    ("规范", Q),
    ("科学", Q),
    ("=100%", ("=", 100.0, "%", False)),
    ("=0%", ("=", 0.0, "%", False)),
    ("≤100%", ("≤", 100.0, "%", False)),
    ("≤0%", ("≤", 0.0, "%", False)),
    ("≥100%", ("≥", 100.0, "%", False)),
    ("完善", Q),
    ("公开", Q),
    ("合规", Q),
    ("有效", Q),
    ("≥22套", ("≥", 22.0, "套", False)),
    ("=2套", ("=", 2.0, "套", False)),
    ("≥0万人次", ("≥", 0.0, "万人次", False)),
    ("≥32万人次", ("≥", 32.0, "万人次", False)),
    ("≥0套", ("≥", 0.0, "套", False)),
    ("≥33套", ("≥", 33.0, "套", False)),
    ("≥100套", ("≥", 100.0, "套", False)),
    ("≥24套", ("≥", 24.0, "套", False)),
    ("≥2.4万人次", ("≥", 2.4, "万人次", False)),
    ("反馈效果较好", Q),
    ("按进度实施", Q),
    ("=6个", ("=", 6.0, "个", False)),
    ("≥0个", ("≥", 0.0, "个", False)),
    ("≥1个", ("≥", 1.0, "个", False)),
    ("≥95%", ("≥", 95.0, "%", False)),
    ("=6次", ("=", 6.0, "次", False)),
    ("=12次", ("=", 12.0, "次", False)),
    ("≤2%", ("≤", 2.0, "%", False)),
    ("≥85%", ("≥", 85.0, "%", False)),
    # 001 苏州市电化教育馆
    ("=45%", ("=", 45.0, "%", False)),
    ("≤10%", ("≤", 10.0, "%", False)),
    ("≤3次", ("≤", 3.0, "次", False)),
    ("≤6次", ("≤", 6.0, "次", False)),
    ("=1份", ("=", 1.0, "份", False)),
    ("=2份", ("=", 2.0, "份", False)),
    ("=250TB", ("=", 250.0, "TB", False)),
    ("=500TB", ("=", 500.0, "TB", False)),
    ("=4场", ("=", 4.0, "场", False)),
    ("=8场", ("=", 8.0, "场", False)),
    ("=18所", ("=", 18.0, "所", False)),
    ("=400节", ("=", 400.0, "节", False)),
    ("=800节", ("=", 800.0, "节", False)),
    ("完成", Q),
    ("验收合格", Q),
    ("及时", Q),
    ("=1000节", ("=", 1000.0, "节", False)),
    ("=2000节", ("=", 2000.0, "节", False)),
    ("=30天", ("=", 30.0, "天", False)),
    ("=278个", ("=", 278.0, "个", False)),
    ("按月", Q),
    ("无事故", Q),
    ("≥7人", ("≥", 7.0, "人", False)),
    (">90%", (">", 90.0, "%", False)),
    ("≥1次", ("≥", 1.0, "次", False)),
    ("≥3次", ("≥", 3.0, "次", False)),
    ("≥175条", ("≥", 175.0, "条", False)),
    ("≥350条", ("≥", 350.0, "条", False)),
    ("≥40条", ("≥", 40.0, "条", False)),
    ("≥80条", ("≥", 80.0, "条", False)),
    ("≥5次", ("≥", 5.0, "次", False)),
    ("≥10次", ("≥", 10.0, "次", False)),
    ("=0场", ("=", 0.0, "场", False)),
    ("=1场", ("=", 1.0, "场", False)),
    ("0", ("=", 0.0, None, False)),
    ("不发生网络安全事故", Q),
    ("全部整改完成，不逾期", Q),
    ("≥0%", ("≥", 0.0, "%", False)),
    # 002 苏州市教育装备与勤工俭学管理办公室
    ("=30%", ("=", 30.0, "%", False)),
    ("≥1000人次", ("≥", 1000.0, "人次", False)),
    ("≥2000人次", ("≥", 2000.0, "人次", False)),
    ("≥2700人次", ("≥", 2700.0, "人次", False)),
    ("≥5400人次", ("≥", 5400.0, "人次", False)),
    ("≥1100人次", ("≥", 1100.0, "人次", False)),
    ("≥2200人次", ("≥", 2200.0, "人次", False)),
    ("≥0人次", ("≥", 0.0, "人次", False)),
    ("≥120人次", ("≥", 120.0, "人次", False)),
    ("≥500人次", ("≥", 500.0, "人次", False)),
    ("≥14500人", ("≥", 14500.0, "人", False)),
    ("≥38600人", ("≥", 38600.0, "人", False)),
    ("≥90%", ("≥", 90.0, "%", False)),
    ("≥98%", ("≥", 98.0, "%", False)),
    ("建立健全相关制度", Q),
    ("90%", ("=", 90.0, "%", False)),
    ("98%", ("=", 98.0, "%", False)),
    # 003 赣州经济技术开发区教体服务中心 (spaces between number and unit)
    ("3 名", ("=", 3.0, "名", False)),
    ("≥100 次", ("≥", 100.0, "次", False)),
    ("一年 1 次", ("=", 1.0, "次", False)),
    ("应助尽助", Q),
    ("覆盖全区中学思政课教师数", Q),
    ("≥8 次", ("≥", 8.0, "次", False)),
    ("≥12 次", ("≥", 12.0, "次", False)),
    ("≥9 次", ("≥", 9.0, "次", False)),
    ("充分保障", Q),
    ("提升教师专业水平", Q),
    ("保持全市前三", Q),
    ("力争实现", Q),
    ("16 小时", ("=", 16.0, "小时", False)),
    ("按时开展", Q),
    ("按时完成", Q),
    ("严格控制", Q),
    ("100%", ("=", 100.0, "%", False)),
    ("20000 元", ("=", 20000.0, "元", False)),
    ("社会反响良好", Q),
    ("有效提高", Q),
    ("不断提高", Q),
    ("奠定基础", Q),
    ("效果显著", Q),
    ("≤1000 人/元", ("≤", 1000.0, "人/元", False)),
    ("≥10 次", ("≥", 10.0, "次", False)),
    ("2 个", ("=", 2.0, "个", False)),
    ("95%", ("=", 95.0, "%", False)),
    ("6000 元/学年", ("=", 6000.0, "元/学年", False)),
    ("≥100 人", ("≥", 100.0, "人", False)),
    ("≥5 天", ("≥", 5.0, "天", False)),
    ("≤115.33 万元", ("≤", 115.33, "万元", False)),
    ("1 次", ("=", 1.0, "次", False)),
    ("≥50%", ("≥", 50.0, "%", False)),
    ("显著提高", Q),
    ("≤300 万元", ("≤", 300.0, "万元", False)),
    ("≥12 期", ("≥", 12.0, "期", False)),
    ("≥1500 人", ("≥", 1500.0, "人", False)),
    ("≤20 万元", ("≤", 20.0, "万元", False)),
    ("≥150 次", ("≥", 150.0, "次", False)),
    ("≥1 次", ("≥", 1.0, "次", False)),
    ("≥2 次", ("≥", 2.0, "次", False)),
    ("≥3 次", ("≥", 3.0, "次", False)),
    ("9 次", ("=", 9.0, "次", False)),
    ("≥16 小时", ("≥", 16.0, "小时", False)),
    ("全市县区排名前三", Q),
    ("1500 元/学年", ("=", 1500.0, "元/学年", False)),
    ("≤800 万元", ("≤", 800.0, "万元", False)),
    # 004 潢源县教育局
    ("≥560个", ("≥", 560.0, "个", False)),
    ("≥100次", ("≥", 100.0, "次", False)),
    ("≥200次", ("≥", 200.0, "次", False)),
    ("≥18个", ("≥", 18.0, "个", False)),
    ("≥30人次", ("≥", 30.0, "人次", False)),
    ("10-11月份", ("range", (10.0, 11.0), "月份", False)),
    ("≥18所", ("≥", 18.0, "所", False)),
    ("5月--10月", ("range", (5.0, 10.0), "月", False)),
    ("≥11800人", ("≥", 11800.0, "人", False)),
    ("长期", Q),
    ("≥3560人次", ("≥", 3560.0, "人次", False)),
]

# Forms used by other provinces and edge cases of the rules.
OTHER_FORMS = [
    # operators
    (">=90%", ("≥", 90.0, "%", False)),
    ("＞＝90%", ("≥", 90.0, "%", False)),
    ("≧95%", ("≥", 95.0, "%", False)),
    ("⩾95%", ("≥", 95.0, "%", False)),
    ("大于等于95%", ("≥", 95.0, "%", False)),
    ("不低于95%", ("≥", 95.0, "%", False)),
    ("不少于10次", ("≥", 10.0, "次", False)),
    ("95%以上", ("≥", 95.0, "%", False)),
    ("90%及以上", ("≥", 90.0, "%", False)),
    ("至少3次", ("≥", 3.0, "次", False)),
    ("达到90%", ("≥", 90.0, "%", False)),
    ("达到90%以上", ("≥", 90.0, "%", False)),
    ("全年不少于3次", ("≥", 3.0, "次", False)),
    ("<=5%", ("≤", 5.0, "%", False)),
    ("≦5%", ("≤", 5.0, "%", False)),
    ("小于等于5%", ("≤", 5.0, "%", False)),
    ("不高于5%", ("≤", 5.0, "%", False)),
    ("不超过300万元", ("≤", 300.0, "万元", False)),
    ("300万元以内", ("≤", 300.0, "万元", False)),
    ("控制在300万元以内", ("≤", 300.0, "万元", False)),
    ("5%以下", ("≤", 5.0, "%", False)),
    ("3天内", ("≤", 3.0, "天", False)),
    ("大于90%", (">", 90.0, "%", False)),
    ("高于90%", (">", 90.0, "%", False)),
    ("超过100人", (">", 100.0, "人", False)),
    ("多于3次", (">", 3.0, "次", False)),
    ("＞90％", (">", 90.0, "%", False)),
    ("小于5%", ("<", 5.0, "%", False)),
    ("低于5%", ("<", 5.0, "%", False)),
    ("少于3次", ("<", 3.0, "次", False)),
    ("＜5%", ("<", 5.0, "%", False)),
    ("等于100%", ("=", 100.0, "%", False)),
    ("＝100％", ("=", 100.0, "%", False)),
    ("≥-5%", ("≥", -5.0, "%", False)),
    # forms from the other-province fixtures in corpus/other_*.txt
    ("≥77台", ("≥", 77.0, "台", False)),
    ("≤86.5万元", ("≤", 86.5, "万元", False)),
    ("九十%以上", ("≥", 90.0, "%", False)),
    (">=12臺", ("≥", 12.0, "台", False)),
    (">=30000人次", ("≥", 30000.0, "人次", False)),
    ("2024年12月底前", Q),
    ("2023年10月底前", Q),
    # operator words without a number are qualitative
    ("以内", Q),
    ("高于", Q),
    ("低于", Q),
    ("≥", Q),
    # full-width and traditional
    ("≥９０％", ("≥", 90.0, "%", False)),
    ("不低於９５％", ("≥", 95.0, "%", False)),
    ("≥3萬人次", ("≥", 3.0, "万人次", False)),
    # numbers
    ("1,000", ("=", 1000.0, None, False)),
    ("≥1,000人", ("≥", 1000.0, "人", False)),
    ("九十", ("=", 90.0, None, False)),
    ("九十%", ("=", 90.0, "%", False)),
    ("百分之九十五", ("=", 95.0, "%", False)),
    ("不低于百分之九十五", ("≥", 95.0, "%", False)),
    ("百分之百", ("=", 100.0, "%", False)),
    ("一百二十", ("=", 120.0, None, False)),
    ("两次", ("=", 2.0, "次", False)),
    ("3千", ("=", 3000.0, None, False)),
    ("3千人", ("=", 3000.0, "人", False)),
    ("二十万元", ("=", 20.0, "万元", False)),
    ("≥1.5万人", ("≥", 1.5, "万人", False)),
    ("零", ("=", 0.0, None, False)),
    ("每年2次", ("=", 2.0, "次", False)),
    ("一年一次", ("=", 1.0, "次", False)),
    ("1次/年", ("=", 1.0, "次/年", False)),
    ("约5天", ("=", 5.0, "天", False)),
    ("100%完成", ("=", 100.0, "%", False)),
    ("≥ 95 %", ("≥", 95.0, "%", False)),
    # generic (unknown) units
    ("≥3 人·次", ("≥", 3.0, "人·次", False)),
    ("=5 盏", ("=", 5.0, "盏", False)),
    # ranges
    ("90%-95%", ("range", (90.0, 95.0), "%", False)),
    ("90%～95%", ("range", (90.0, 95.0), "%", False)),
    ("90%~95%", ("range", (90.0, 95.0), "%", False)),
    ("3至5次", ("range", (3.0, 5.0), "次", False)),
    ("三至五次", ("range", (3.0, 5.0), "次", False)),
    ("3-5天", ("range", (3.0, 5.0), "天", False)),
    ("5—10万元", ("range", (5.0, 10.0), "万元", False)),
    # dates and deadlines are qualitative
    ("2023年12月31日前", Q),
    ("2023年12月31日前完成", Q),
    ("12月底前", Q),
    ("12月底前完成", Q),
    ("年底前完成", Q),
    ("6月30日前", Q),
    ("2023-12-31", Q),
    # incidental numbers are qualitative
    ("48小时内解决", Q),
    ("上级通报的网络安全事故48小时内解决完成", Q),
    ("排名前三", Q),
    ("国内一流", Q),
    ("十分满意", Q),
    ("≥90%，≤95%", Q),
    ("3个项目完成验收", Q),
    ("师生满意度大于 90%", Q),
    # empty and placeholders
    ("", EMPTY),
    ("   ", EMPTY),
    ("/", EMPTY),
    ("——", EMPTY),
]


@pytest.mark.parametrize(("text", "expected"), SEED_VALUES, ids=[c[0] for c in SEED_VALUES])
def test_seed_values(text: str, expected: tuple) -> None:
    t = parse_target(text)
    assert t.text == text
    assert _fields(t) == expected


@pytest.mark.parametrize(("text", "expected"), OTHER_FORMS, ids=[c[0] or "<empty>" for c in OTHER_FORMS])
def test_other_forms(text: str, expected: tuple) -> None:
    t = parse_target(text)
    assert t.text == text
    assert _fields(t) == expected


def test_seed_cases_are_distinct() -> None:
    texts = [c[0] for c in SEED_VALUES]
    assert len(texts) == len(set(texts))


def test_text_kept_verbatim() -> None:
    raw = " ≥９０％\n"
    t = parse_target(raw)
    assert t.text == raw
    assert _fields(t) == ("≥", 90.0, "%", False)


def test_empty_target_equals_default() -> None:
    assert parse_target("") == Target(text="")
    assert parse_target("").is_empty


def test_numeric_flags() -> None:
    assert parse_target("≥90%").is_numeric
    assert not parse_target("按时完成").is_numeric
    assert parse_target("10-11月份").to_json() == {
        "op": "range",
        "number": [10.0, 11.0],
        "unit": "月份",
        "qualitative": False,
    }


@pytest.mark.parametrize(
    ("text", "op_hint", "unit_hint", "expected"),
    [
        ("95", "≥", "%", ("≥", 95.0, "%", False)),
        ("95", "大于等于", "百分比", ("≥", 95.0, "%", False)),
        ("95", "＞＝", "％", ("≥", 95.0, "%", False)),
        ("10", "≤", "人次", ("≤", 10.0, "人次", False)),
        ("10", "", "万元", ("=", 10.0, "万元", False)),
        ("10", "≥", "", ("≥", 10.0, None, False)),
        ("10", "定性", "/", ("=", 10.0, None, False)),  # unknown hints ignored
        ("≤5次", "≥", "%", ("≤", 5.0, "次", False)),  # the value's own op/unit win
        ("5%以上", "≤", "", ("≥", 5.0, "%", False)),
        ("健全", "=", "%", Q),  # hints never make a qualitative value numeric
        ("3-5", "≥", "天", ("range", (3.0, 5.0), "天", False)),
        # the 计算符号 | 指标值 | 度量单位 columns of corpus/other_gbk_pipes_columns_2024.txt
        ("77", "≥", "台", ("≥", 77.0, "台", False)),
        ("99.9", "≥", "%", ("≥", 99.9, "%", False)),
        ("30", "≤", "分钟", ("≤", 30.0, "分钟", False)),
    ],
)
def test_hints(text: str, op_hint: str, unit_hint: str, expected: tuple) -> None:
    t = parse_target(text, op_hint=op_hint, unit_hint=unit_hint)
    assert t.text == text
    assert _fields(t) == expected


# --------------------------------------------------------------------------- value_likeness

LIKELY_VALUES = [
    "健全", "按时完成", "及时", "完成", "无事故", "长期", "按月", "社会反响良好",
    "不发生网络安全事故", "全部整改完成，不逾期", "保持全市前三", "提升教师专业水平",
    "≥90%", "3 名", "16 小时", "0",
]  # fmt: skip
LIKELY_NAMES = [
    "日常维护系统数量", "学生满意度", "全区教学质量", "预算执行率", "资产管理规范性",
    "师生满意度大于 90%", "信息系统日常维护合格率", "教学完成时间及时性",
    "组织全市初中学校学生参测", "开展义务教育系统维护费",
]  # fmt: skip


@pytest.mark.parametrize("text", LIKELY_VALUES)
def test_value_likeness_values(text: str) -> None:
    assert value_likeness(text) >= 0.5


@pytest.mark.parametrize("text", LIKELY_NAMES)
def test_value_likeness_names(text: str) -> None:
    assert value_likeness(text) <= 0.3


@pytest.mark.parametrize("text", ["≥90%", "3 名", "16 小时", "0", "10-11月份", "≤1000 人/元"])
def test_value_likeness_numeric_is_one(text: str) -> None:
    assert value_likeness(text) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "text", ["健全", "按时完成", "应助尽助", "反馈效果较好", "建立健全相关制度", "不断提高"]
)
def test_value_likeness_known_qualitative_high(text: str) -> None:
    assert value_likeness(text) >= 0.7


@pytest.mark.parametrize(
    "text",
    ["保障特岗人员人数", "各教育督导工作站检查学校次数", "教育资助配套补助资金到位率", "指标1:", "三级指标",
     "全年指标值", "接入苏州教育视频会议系统的各直属学校比例", "招生工作得到良好社会评价",
     "组织2022年项目的结题评审", "资金总额", "年度检查任务按时完成", "定量", "定性"],
)  # fmt: skip
def test_value_likeness_more_names(text: str) -> None:
    assert value_likeness(text) < 0.5


@pytest.mark.parametrize("text", ["2023年12月31日前完成", "12月底前", "全市县区排名前三", "/"])
def test_value_likeness_more_values(text: str) -> None:
    assert value_likeness(text) >= 0.5


def test_value_likeness_empty_is_zero() -> None:
    assert value_likeness("") == 0.0
    assert value_likeness("  ") == 0.0


def test_value_likeness_of_every_value_cell() -> None:
    """Every value cell of the seed and other-province tables (242) scores as a value: the numeric ones
    exactly 1.0, the blank ones 0.0, the others at least 0.5, except the two cells written like names."""
    cases = SEED_VALUES + OTHER_FORMS
    numeric = [t for t, (op, number, _, _) in cases if op is not None or number is not None]
    assert len(numeric) == 181
    assert [t for t in numeric if value_likeness(t) != 1.0] == []
    rest = {t: value_likeness(t) for t, (op, number, _, _) in cases if op is None and number is None}
    assert {t: v for t, v in rest.items() if v < 0.5} == {
        "": 0.0, "   ": 0.0, "师生满意度大于 90%": 0.15, "上级通报的网络安全事故48小时内解决完成": 0.2,
    }


def test_value_likeness_ranks_value_above_its_name() -> None:
    pairs = [("预算执行率", "=100%"), ("学生满意度", "≥85%"), ("保障学校校舍安全", "长期"),
             ("我区学生学业水平", "显著提高"), ("线上教育系统故障响应及时性", "及时")]  # fmt: skip
    for name, value in pairs:
        assert value_likeness(value) > value_likeness(name), (name, value)


# --------------------------------------------------------------------------- whole corpus

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _read_any(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="replace")


def test_corpus_operator_cells_are_numeric() -> None:
    """Every short corpus cell that starts with an operator and has a digit is numeric."""
    files = sorted(CORPUS.glob("*.txt"))
    if not files:
        pytest.skip("no seed corpus")
    seen = 0
    for f in files:
        for line in _read_any(f).splitlines():
            for cell in re.split(r"[\t|]", line):
                cell = cell.strip()
                if len(cell) <= 15 and cell[:1] in "≥≤=><" and any(ch.isdigit() for ch in cell):
                    seen += 1
                    assert parse_target(cell).is_numeric, (f.name, cell)
    assert seen > 100
