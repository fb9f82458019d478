"""What a piece of text IS, decided from vocabulary and value grammar.

Kinds: ``l1`` / ``l2`` (level labels), ``header`` (column header words),
``key`` (table fields: 项目名称, 实施单位 …), ``op`` (an operator alone),
``num`` (a bare number), ``unit`` (a unit word alone), ``value`` (a target
value: operator + number + unit, ``≥95%``), ``qual`` (a known qualitative
value: 健全, 按时完成), ``dir`` (正向/反向), ``vtype`` (定量/定性),
``clutter`` (web-page furniture: 扫一扫, 打印本页 …), ``end`` (approval blocks,
footnotes: nothing after them in the table is an indicator row) and ``text``.

Used to split lines whose cells are separated by single spaces (roles decide
where a cell ends, because names contain spaces too), to skip clutter and to
end indicator sections.
"""

from __future__ import annotations

import functools
import re

from indexer import vocab
from indexer.normalize import GLOSS_RE, key
from indexer.values.lexicon import (
    OP_SYMBOLS,
    STRONG_PREFIX_OPS,
    alternation,
    standalone_operator_re,
    symbol_operator_pattern,
)

# an operator cell: every standalone phrase of the one lexicon (indexer.values.lexicon)
OP_RE = standalone_operator_re()
_NUM_RE = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
_UNIT_RE = re.compile(
    r"^(?:%|％|‰|[\u4e00-\u9fff]{1,3}(?:/[\u4e00-\u9fff]{1,3}){0,2}|[a-zA-Z]{1,4}(?:/[\u4e00-\u9fffa-zA-Z]{1,3})?|"
    r"平方米|立方米|万元/人)$"
)
_KNOWN_UNITS = {
    "%", "％", "‰", "次", "人", "人次", "万人次", "名", "个", "所", "套", "节", "天", "日", "小时", "期", "场", "份",
    "条", "台", "项", "篇", "家", "户", "月", "年", "元", "万元", "亿元", "平方米", "公里", "千米", "米", "吨", "册",
    "本", "门", "课时", "学时", "分", "批", "批次", "辆", "座", "间", "张", "件", "处", "点", "盏", "亩", "村", "组",
    "个月", "工作日", "人/次", "万元/人", "元/人", "元/生", "元/生/年", "元/人/年", "km", "公顷", "立方米", "场次",
    "所次", "校", "班", "株", "棵", "头", "只", "平方公里", "万人", "人/年", "次/年", "元/月", "元/年",
}  # fmt: skip
DIRECTIONS = {key(x) for x in ("正向", "反向", "正向指标", "反向指标", "中性", "区间")}
VALUE_TYPES = {key(x) for x in ("定量", "定性", "定量指标", "定性指标")}
_CLUTTER_RE = re.compile(
    r"扫一扫|手机打开|打印本页|关闭窗口|打印此页|返回顶部|字号[:：]?\s*[大中小]|^【?字体[:：]|分享到|^发布时间|^发布日期|"
    r"^来源[:：]|浏览次数|^当前位置|您所在的位置|^首页\s*[>＞]|^上一篇|^下一篇|^qrcode$|联系客服|关注微信|下载APP|"
    r"^网站地图|^版权所有|ICP备|公网安备|^主办单位|^承办单位|网站标识码|^登录$|^注册$|^搜索$|^logo$|"
    r"^标\s*题[:：]?|^索\s*引\s*号|^文\s*号[:：]|^发文机关|^成文日期|^分\s*类[:：]|^【打印】|^【关闭】|^相关链接|"
    r"^阅读[:：]?\d*|^评论|^查看[:：]|发布者[:：]|扫码|主办$|承办$|^地址[:：]|^邮箱[:：]|监督电话|^网站标识码|标识码[:：]|"
    r"^内容保障|^技术支持|^联系我们|^网站声明|^无障碍|^【?返回】?$|^【?返回(?:顶部|首页|列表)】?$",
    re.I,
)
_END_RE = re.compile(
    r"[（(]\s*盖\s*章\s*[)）]|审核意见|审批意见|财政部门.{0,6}意见|^填报人|^填表人|^联系电话|^单位负责人|^注\s*[:：1１]|^说明\s*[:：]|"
    r"^备注\s*[:：]|^其他需要说明|^总分$|^合计\s*\d*$|^评价结论|^(?:预算)?绩效评价结果$|^存在问题|^(?:金额)?单位\s*[:：]\s*(?:万元|元|亿元|千元)$"
)


_OTHER_HEADER_RE = re.compile(r"实际|完成值|得分|原因|措施|依据|说明|解释|备注|分值|权重|^(?:实施|执行)进度$|^完成情况$|^调整(?:后)?指标值|^是否核心|[(（](?:长期|中期)[)）]|(?:长期|中期)(?:指标|目标)")


def is_header_word(text: str) -> bool:
    """A column header: one of ours (三级指标, 指标值 …) or another short one (全年实际值, 得分, 未完成原因…)."""
    if vocab.header_role(text) is not None:
        return True
    k = key(text)
    return bool(k) and len(k) <= 14 and bool(_OTHER_HEADER_RE.search(k)) and not vocab.is_level1(text)


def is_compound_header(text: str) -> bool:
    """Several column headers run together (得分偏差原因分析及改进措施): never an indicator name."""
    k = key(text)
    return len(k) <= 24 and len({m.group(0) for m in _OTHER_HEADER_RE.finditer(k)}) >= 2


def is_op(text: str) -> bool:
    return bool(OP_RE.match(key(text)) or OP_RE.match(text.strip()))


def is_number(text: str) -> bool:
    return bool(_NUM_RE.match(key(text)))


def is_unit(text: str) -> bool:
    t = text.strip()
    return t in _KNOWN_UNITS or key(t) in _KNOWN_UNITS


def is_clutter(text: str) -> bool:
    t = text.strip()
    return bool(t) and bool(_CLUTTER_RE.search(t))


def count_clutter(rows) -> int:
    """Grid rows made only of web-page clutter."""
    return sum(1 for r in rows if r.nonempty and all(is_clutter(c.text) for _, c in r.nonempty))


def is_explanation(text: str) -> bool:
    """A 指标解释 or 评分标准 cell: 反映补助学生人数…, 对家庭负担减轻情况较大得10分,一般得6分"""
    k = key(text)
    return (k.startswith("反映") and len(k) >= 6) or (len(k) >= 8 and bool(_SCORING_RE.search(k)))


def is_restatement(text: str) -> bool:
    """An explanation that only restates the target: 达到目标值, 达到预计值."""
    return bool(_RESTATE_RE.fullmatch(key(text)))


_HEADING_RE = re.compile(r"^(?:[(（][一二三四五六七八九十]{1,3}[)）]|[一二三四五六七八九十]{1,3}、)\s*(?P<rest>[^\d%≥≤<>=]{2})")


def is_section_heading(text: str) -> bool:
    """A numbered heading of the surrounding report ((二)项目财务管理状况, 三、存在问题): not a table cell.
    A numbered level label ((一)产出指标) is not one."""
    m = _HEADING_RE.match(text.strip())
    if not m:
        return False
    from indexer.normalize import to_simplified

    rest = text.strip()[m.start("rest") :].strip(" :：")
    label = _label_re().match(to_simplified(rest))
    return not (label or vocab.is_level1(rest) or vocab.is_level2(rest) or vocab.is_ambiguous_cost(rest))


def is_end(text: str) -> bool:
    return bool(_END_RE.search(text.strip())) or is_section_heading(text)


@functools.lru_cache(maxsize=65536)
def kind(text: str) -> str:
    """The kind of one piece of text (see the module docstring)."""
    from indexer.target import parse_target, value_likeness

    t = GLOSS_RE.sub("", text).strip()
    k = key(t).rstrip(":：")
    if not k:
        return "text"
    if vocab.header_role(t) is not None and not vocab.is_level1(t) and not vocab.is_level2(t):
        return "header"
    if vocab.is_level1(t):
        return "l1"
    if vocab.is_level2(t):
        return "l2"
    if is_op(t):
        return "op"
    if is_number(t):
        return "num"
    if is_unit(t):
        return "unit"
    if k in DIRECTIONS:
        return "dir"
    if k in VALUE_TYPES:
        return "vtype"
    if _is_key(k):
        return "key"
    if is_clutter(t):
        return "clutter"
    if parse_target(t).is_numeric and not re.search(r"[(（)）]", t):
        return "value"
    vl = value_likeness(t)
    if vl >= 0.95 or (vl >= 0.75 and len(k) <= 10):
        return "qual"
    return "text"


def _is_key(k: str) -> bool:
    k = vocab.PREFIX_RE.sub("", k)
    return (
        k in vocab.GOAL_KEYS or k in vocab.UNIT_KEYS or k in vocab.PROJECT_KEYS or k in vocab.IMPL_UNIT_KEYS
        or k in vocab.SUPERVISOR_KEYS or k in vocab.DUTY_KEYS or k in vocab.TOTAL_KEYS or k in vocab.FUNDING_KEYS
    )


# a code opens a new cell: 776001-扎赉特旗人民检察院, [077]淮北市…, (433)乌海市…
_CODE_START_RE = re.compile(r"^[\[(（]?\d{2,}[\])）\-－]")
_STRONG = {"l1", "l2", "header", "op", "value", "dir", "vtype"}


def split_by_roles(line: str) -> list[str] | None:
    """Cells of a line whose cells are separated by single spaces, or None when it is one cell.

    Tokens between spaces are classified; runs of free text are joined back (names may contain
    spaces); an operator, number and unit written apart become one value (``= 24 人/次`` ->
    ``=24人/次``).  A line is split only when it holds a level label, a header word, a value or a
    table key next to other text, so prose stays whole.
    """
    tokens = [t for t in re.split(r"[ \u3000\u00a0]+", line.strip()) if t]
    if len(tokens) < 2 or is_clutter(line):
        return None
    kinds = [kind(t) for t in tokens]
    if all(k in ("op", "num", "unit", "value") for k in kinds):
        return ["".join(tokens)]  # one value written with spaces: ≥ 95 %
    strong = sum(1 for k in kinds if k in _STRONG)
    if strong == 0 and not (kinds[0] == "key" and len(tokens) >= 2):
        if not (kinds[-1] == "num" and kinds[-2] == "text"):
            return None
    if all(k == "header" for k in kinds) and len(tokens) < 3:
        return None
    cells: list[str] = []
    ck: list[str] = []
    i = 0
    while i < len(tokens):
        t, k = tokens[i], kinds[i]
        if k == "unit" and ck and ck[-1] in ("num", "value") and not cells[-1].endswith(t):
            if ck[-1] == "num" or not re.search(rf"[^\d.,%{re.escape(OP_SYMBOLS)}]$", cells[-1]):
                cells[-1] += t
                ck[-1] = "value"
                i += 1
                continue
        if k == "num" and ck and ck[-1] == "op":
            cells[-1] += t
            ck[-1] = "num"
            i += 1
            continue
        if k in ("text", "clutter") and ck and ck[-1] in ("text",) and not _CODE_START_RE.match(t) and not (
            cells[-1].endswith("。") and len(cells[-1]) >= 8  # a full stop then a space: the next cell starts
        ):
            cells[-1] += " " + t
            i += 1
            continue
        cells.append(t)
        ck.append("text" if k == "clutter" else k)
        i += 1
    return cells if len(cells) > 1 else None


# -- cells run together with no separator -------------------------------------------------------------

_RT_UNITS = (
    "万人次|人次|万元|亿元|千元|元/人|元/户|元/生|个百分点|百分点|平方米|平方公里|立方米|公里|千米|厘米|毫米|米|公顷|亩|吨|"
    "小时|分钟|工作日|个月|%|％|‰|个|次|人|元|天|日|件|项|台|套|所|场|期|批|篇|户|名|家|辆|座|间|张|册|本|门|株|头|只|年|月|周|篇|条|处|村|组|份"
)
_RT_VALUE_RE = re.compile(
    rf"(?:{symbol_operator_pattern()})\s*\d+(?:\.\d+)?\s*(?:{_RT_UNITS})?(?:以上|以下|以内)?"
    # an operator word before a percentage: 入学率大于90%
    rf"|(?:{alternation(STRONG_PREFIX_OPS)})\s*\d+(?:\.\d+)?\s*(?:%|％)(?:以上|以下|以内)?"
    rf"|\d+(?:\.\d+)?\s*(?:%|％)(?:以上|以下|以内)?"
    # an operator before a word, closed by a completion status: =提高已完成
    rf"|(?:{symbol_operator_pattern()})[\u4e00-\u9fff]{{1,6}}?(?=已完成|未完成|基本完成|部分完成)"
)
_REPEAT_RE = re.compile(r"(?<=\d)(?P<v>\d+(?:\.\d+)?[\u4e00-\u9fff%]{1,3}|[\u4e00-\u9fff]{2,6})(?P=v)(?=\d|$)")
_FOOTNOTE_RE = re.compile(r"(?<=[\d\u4e00-\u9fff%])注\s*[:：]\s*\d")
_QUAL_OPENER_RE = re.compile(r"(?:有所|逐步|明显|显著|进一步|不断|持续|稳步)[\u4e00-\u9fff]{2}")
_SCORING_RE = re.compile(r"[得扣]\d+(?:\.\d+)?分")
SCORING_RE = _SCORING_RE  # a scoring rule (得10分, 扣1分)
_RESTATE_RE = re.compile(r"达到(?:目标|预计|预期|计划)值")
_STATUS_RE = re.compile(r"(?:已完成|未完成|基本完成|部分完成|已达成|未达成|已达到|未达到)")
_RT_NUM_RE = re.compile(r"\d+(?:\.\d+)?")
_OTHER_HEADERS = (
    "全年实际值", "实际完成值", "全年实际完成值", "年度实际完成值", "得分", "未完成原因及拟采取的改进措施",
    "偏差原因分析及改进措施", "未完成原因和改进措施", "年初目标值", "全年执行数", "全年预算数",
    "年初指标值", "调整指标值", "全年完成值", "得分系数(%)", "指标权重(分)", "指标得分(分)", "是否核心指标",
)  # fmt: skip


# 是/否 right after a number: the last column of a row (是否核心指标) when it recurs
_YN_RE = re.compile(r"(?<=\d)[是否](?=[\u4e00-\u9fff“\"‘]|$)")
_ROW_NAME_UNIT_RE = re.compile(
    r"(?P<num>\d{1,2}、)?[^\d%％]{2,}?(?:(?P<q>[\u4e00-\u9fff])(?P=q)(?=\d)|"
    r"(?P<u>[%％]|(?P<w>[\u4e00-\u9fff]{1,2})(?=\d+(?:\.\d+)?(?P=w))))"
)


def _yes_no_rows(simple: str, cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cells of rows run together and closed by a 是/否 column (是否核心指标): the 是/否 cell, the unit
    cell after the name (``%``, or 次 before 26次), 定量指标 after it, values in that unit, a qualitative
    value written twice (高高: 年初 and 全年 value), and a page's ``3、`` numbering before the name."""
    ends = [m.start() for m in _YN_RE.finditer(simple)]
    if len(ends) < 3:
        return []
    out = [(p, p + 1) for p in ends]
    first = max((b for _a, b in cuts if b <= ends[0]), default=0)  # the first row starts after the header
    for s0 in [first, *(p + 1 for p in ends)]:
        seg_end = next((p for p in ends if p >= s0), len(simple))
        m = _ROW_NAME_UNIT_RE.match(simple, s0, seg_end)
        if not m:
            continue
        if m.group("num"):
            out.append((m.start("num"), m.end("num")))
        if m.group("q"):
            out += [(m.start("q"), m.start("q") + 1), (m.start("q") + 1, m.start("q") + 2)]
            continue
        out.append((m.start("u"), m.end("u")))
        pos = m.end("u")
        vt = re.compile(r"定量指标|定性指标").match(simple, pos)
        if vt:
            out.append((vt.start(), vt.end()))
            pos = vt.end()
        if m.group("w"):
            for vm in re.compile(rf"\d+(?:\.\d+)?{re.escape(m.group('w'))}").finditer(simple, pos, seg_end):
                if vm.start() != pos:
                    break
                out.append((vm.start(), vm.end()))
                pos = vm.end()
    return out


@functools.lru_cache(maxsize=1)
def _label_re() -> re.Pattern[str]:
    words = {w for w in (*vocab.LEVEL1, *vocab.LEVEL2) if len(w) >= 4 and w.endswith("指标")}
    words |= {w.removesuffix("指标") + "目标" for w in words}  # 数量目标, 产出目标
    words |= {w for w in vocab.HEADER_ROLES if len(w) >= 3}
    words |= {key(w) for w in _OTHER_HEADERS}
    alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    # 产出数量指标: the 一级 word before a 二级 label (vocab.level2_category reads it so)
    return re.compile(rf"(?:(?:产出|效益)(?=[\u4e00-\u9fff]{{2,8}}指标))?(?:{alts})(?:[(（]\d+分[)）])?")


def segment_run_together(text: str, need_label: bool = True) -> list[str] | None:
    """Pieces of a line whose cells are written with no separator (``质量指标验收合格率100%10``):
    level labels and header words from the vocabulary, values by their grammar (operator + number +
    unit, percentages), numbers right after a value (weights, scores); free text between them is a
    name.  None when the line holds no level label or no value."""
    from indexer.normalize import to_simplified

    simple = to_simplified(text)
    if len(simple) != len(text):
        return None
    cuts: list[tuple[int, int]] = [(m.start(), m.end()) for m in _label_re().finditer(simple)]
    if cuts and simple[cuts[0][1] : cuts[0][1] + 1] in (":", "："):
        return None  # 数量指标:… is a list in running text (indexer.prose), not run-together cells
    headers = [(a, b) for a, b in cuts if vocab.header_role(simple[a:b]) is not None or simple[a:b] in _OTHER_HEADERS]
    values = [
        (m.start(), m.end()) for m in _RT_VALUE_RE.finditer(simple)
        if not any(a < m.end() and m.start() < b for a, b in cuts)
    ]
    # a value stuck to a name just before an explanation (补助学生数量168反映…, 任务完成时间2023年12月31日反映…)
    for m in re.finditer(r"(?<=[\u4e00-\u9fff)）.\d])反映", simple):
        start = max((b for _a, b in [*cuts, *values] if b <= m.start()), default=0)
        d = re.search(r"(?<=[\u4e00-\u9fff)）])\d", simple[start : m.start()])
        if d and d.start() >= 4 and not re.search(r"[，。；,;:：]", simple[start + d.start() : m.start()]):
            values.append((start + d.start(), m.start()))
    # a bare number right after a restating explanation (…达到预计值2100…) is the value
    for m in _RESTATE_RE.finditer(simple):
        n = _RT_NUM_RE.match(simple, m.end())
        if n and not any(a < n.end() and n.start() < b for a, b in values):
            values.append((n.start(), n.end()))
    # a weight stuck to a percentage (分值 20 + 指标值 100%, written 20100%): two cells
    for k, (a, b) in enumerate(values):
        m = re.fullmatch(r"([1-9]\d?)(100(?:\.0+)?\s*[%％])", simple[a:b])
        if m and a > 0 and "\u4e00" <= simple[a - 1] <= "\u9fff" and int(m.group(1)) <= 30:
            values[k] = (a + len(m.group(1)), b)
            values.append((a, a + len(m.group(1))))
    note = _FOOTNOTE_RE.search(simple)
    if note:  # a footnote run into the table's last line (…总分100100注:1.…): one cell, nothing read inside it
        cuts = [c for c in cuts if c[1] <= note.start()]
        values = [v for v in values if v[1] <= note.start()]
    yes_no = _yes_no_rows(simple, cuts)
    values += yes_no
    # a target written twice after a weight (年度指标值 = 实际完成值): 状况10显著提升显著提升10, 投资1020万元20万元10
    for m in _REPEAT_RE.finditer(simple):
        a, mid, b = m.start("v"), m.end("v"), m.end()
        if not any(x < b and a < y for x, y in [*cuts, *values]):
            values += [(a, mid), (mid, b)]
            w = re.search(r"(?<=[\u4e00-\u9fff)）])[1-9]\d?$", simple[:a])
            if w and not re.fullmatch(r"\d+", m.group("v")):
                values.append((w.start(), w.end()))
    # a completion status right after a value (实际完成值 written as 已完成 / 未完成) is a cell of its own
    for _a, b in list(values):
        m = _STATUS_RE.match(simple, b)
        if m:
            values.append((m.start(), m.end()))
    if not values and not cuts and _SCORING_RE.search(simple):
        # a table row with a scoring rule and a qualitative target: 家庭负担率有所减轻对家庭负担…得10分
        q = _QUAL_OPENER_RE.search(simple, 4)
        if q and q.start() <= 20:
            values.append((q.start(), q.end()))
    if not values and len(headers) >= 3:
        pass  # a header line written without separators
    elif len(headers) < 3:
        # a header word inside a data line (资金支出率达到目标值95%) is just text
        cuts = [c for c in cuts if c not in headers]
    n_labels = len(cuts)
    cuts += values
    if len(cuts) == n_labels and len(headers) < 3:
        return None
    scored = bool(_SCORING_RE.search(simple)) and bool(values) and 4 <= values[0][0] <= 20 and not re.search(
        r"[，。；,;：:(（]", simple[: values[0][0]]
    )
    if need_label and n_labels == 0 and not yes_no and not scored:
        # no label: only a short "name value [numbers]" line (资金支出率达到目标值95%10), never running text
        # (unless it holds a scoring rule, 得10分/扣1分, which only a table row does)
        if re.search(r"[，。；,;：:]", simple) or not values or values[0][0] > 20 or values[0][0] < 2:
            return None
        if not re.fullmatch(r"[\d.\s]*", simple[values[-1][1] :]) or len(values) > 2:
            return None
    if not need_label and n_labels == 0 and not yes_no and not (len(cuts) == 1 and cuts[0][1] == len(simple) and cuts[0][0] >= 2):
        return None  # without a label: only "name + value" (科目调整次数≤10次)
    # an explanation that only restates the target (指标说明 达到目标值 / 达到预计值) is a cell of its own
    for m in _RESTATE_RE.finditer(simple):
        if m.start() >= 2 and not any(a < m.end() and m.start() < b for a, b in cuts):
            cuts.append((m.start(), m.end()))
    # an explanation column run into the name: 开展修复工程(个)反映防洪水利设施… (指标解释 opens with 反映)
    for m in re.finditer(r"(?<=[\u4e00-\u9fff)）])反映", simple):
        if m.start() >= 4 and not any(a <= m.start() < b for a, b in cuts):
            nxt = min((a for a, _b in cuts if a > m.start()), default=len(simple))
            cuts.append((m.start(), nxt))
    cuts.sort()
    # a number stuck to the end of a name just before an operator value is its own cell (分值 before 指标值)
    for a, _b in list(cuts):
        if a > 0 and simple[a] in OP_SYMBOLS:
            m = re.search(r"(?<=[\u4e00-\u9fff)）])\d+(?:\.\d+)?$", simple[:a])
            if m and not any(a2 <= m.start() < b2 for a2, b2 in cuts):
                cuts.append((m.start(), m.end()))
    cuts.sort()
    # bare numbers right after a value or another such number (权重, 分值, 得分)
    extra: list[tuple[int, int]] = []
    for _a, b in cuts:
        pos = b
        while True:
            while pos < len(simple) and simple[pos] == " ":
                pos += 1
            m = _RT_NUM_RE.match(simple, pos)
            if not m or any(a2 <= m.start() < b2 for a2, b2 in cuts):
                break
            nxt = simple[m.end() : m.end() + 1]
            if nxt and not (nxt == " " or "\u4e00" <= nxt <= "\u9fff" or nxt in OP_SYMBOLS or nxt == "("):
                break
            extra.append((m.start(), m.end()))
            pos = m.end()
    cuts = sorted(cuts + extra)
    if note:
        cuts = [c for c in cuts if c[1] <= note.start()] + [(note.start(), len(simple))]
    pieces: list[str] = []
    pos = 0
    for a, b in cuts:
        if a < pos:
            continue
        if text[pos:a].strip():
            pieces.append(text[pos:a].strip())
        pieces.append(text[a:b].strip())
        pos = b
    if text[pos:].strip():
        pieces.append(text[pos:].strip())
    return pieces if len(pieces) >= (3 if need_label else 2) else None
