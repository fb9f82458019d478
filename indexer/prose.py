"""Indicators written as lists and running text instead of a table.

Recognised shapes (any script; wrapped lines are joined first):

* ``(一)、产出指标`` / ``一、产出指标`` / ``【产出指标-数量指标】`` headings set the current levels;
* ``数量指标:名称1≥300人;名称2>=85%。`` a 二级 label and a colon, then items separated by
  ``;`` ``；`` ``,`` ``，`` ``。``; each item is a name followed by its value;
* ``指标1:名称(≥77台)`` a value in brackets after the name;
* ``名称定性有效`` a qualitative value after 定性.

An item is an indicator only when a value can be read from it (an operator or a number, a
bracketed value, or a 定性 marker).  Used only for documents in which no table was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer import vocab
from indexer.grid import GridRow
from indexer.model import SourceRef
from indexer.normalize import key
from indexer.values.lexicon import OP_SYMBOLS, value_start_pattern

_ENUM = r"(?:[(（]?[一二三四五六七八九十\d]{1,3}[)）]?[、.．:：]?|\d+[、.．]|[A-H](?=[\u4e00-\u9fff]))?\s*"
_BRACKET_HEAD_RE = re.compile(r"【\s*([^】\-－—]+?)\s*[-－—]+\s*([^】]+?)\s*】")
_ITEM_SPLIT_RE = re.compile(r"[;；。]|[,，](?![^()（）]*[)）])")
_INDEX_RE = re.compile(r"^(?:指标\s*\d+\s*[:：]|\d+[、.．]|[(（]\d+[)）]|设\s*\d+\s*条)\s*")
_VALUE_START_RE = re.compile(value_start_pattern())  # operator symbol, operator word + number, digit
_PAREN_VALUE_RE = re.compile(rf"^(?P<name>.+?)\s*[(（](?P<value>[^()（）]*[\d{re.escape(OP_SYMBOLS)}][^()（）]*)[)）]$")
_QUAL_RE = re.compile(r"^(?P<name>.+?)定性(?P<value>.+)$")
_PART_RE = re.compile(r"\s*(?:\d+[、.．]|[(（]\d+[)）]|[一二三四五六七八九十]+、|第[一二三四五六七八九十]+部分|项目联系人)")
# what was achieved, not a target: 当年实际完成9人
_ACTUAL_RE = re.compile(r"^(?:当年|全年|年度)?实际完成")
_NAME_TAIL_RE = re.compile(r"(?:为|為|达到|達到|完成|:|：)$")


@dataclass(frozen=True)
class ProseRow:
    level1: str
    level2: str
    name: str
    value: str
    source: SourceRef


def _label_pattern() -> re.Pattern[str]:
    words = {w for w in _RAW_LABELS}
    alts = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    return re.compile(rf"({alts})\s*[:：]")


_RAW_LABELS = (
    "数量指标", "质量指标", "时效指标", "成本指标", "经济成本指标", "社会成本指标", "生态环境成本指标",
    "经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标", "环境效益指标", "满意度指标",
    "服务对象满意度指标", "社会公众满意度指标",
    "數量指標", "質量指標", "時效指標", "成本指標", "經濟效益指標", "社會效益指標", "生態效益指標",
    "可持續影響指標", "滿意度指標", "服務對象滿意度指標",
)  # fmt: skip
_L2_RE = _label_pattern()
# a heading line: 一、产出指标 / (1)数量指标: / A产出指标(自评分19分)
_L1_HEAD_RE = re.compile(rf"^{_ENUM}(?P<label>[^\s:：,，。;；()（）]{{2,10}}?(?:[(（][^()（）]{{0,6}}\d+(?:\.\d+)?分[)）])?)[:：]?\s*$")
# name, then its target after a value word: 项目完成及时率,年初目标值100%,实际完成值100%。
_KEYED_RE = re.compile(
    r"^(?P<name>[^,，;；。]{2,60}?)[,，]\s*(?:年初|年度|全年|预期)?(?:目标值|指标值)\s*[:：为]?\s*(?P<value>[^,，;；。]{1,30})"
)


def split_item(item: str) -> tuple[str, str] | None:
    """``名称≧300人`` -> (名称, ≧300人); None when no value can be read."""
    t = _INDEX_RE.sub("", item.strip()).strip()
    t = _VALUE_WORD_RE.sub("", t)  # 年初目标值提高…显著提高: the column word is not part of the name
    if len(t) < 3:
        return None
    m = _PAREN_VALUE_RE.match(t)
    if m and not _VALUE_START_RE.search(t[m.end("value") + 1 :]):
        return m.group("name").strip(), m.group("value").strip()
    m = _QUAL_RE.match(t)
    if m:
        return m.group("name").strip(), m.group("value").strip()
    depth = 0
    for i, ch in enumerate(t):
        if ch in "(（":
            depth += 1
        elif ch in ")）":
            depth = max(0, depth - 1)
        elif depth == 0 and i >= 2 and _VALUE_START_RE.match(t, i):
            name, value = t[:i], t[i:]
            cut = re.search(r"[为為]", name)
            if cut and cut.start() >= 2:
                name, value = name[: cut.start()], name[cut.end() :] + value
            tail = _NAME_TAIL_RE.search(name)
            if tail:
                name = name[: tail.start()]
            if len(name) >= 2:
                return name.strip(), value.strip()
            return None
    return _qualitative_tail(t)


_VALUE_WORD_RE = re.compile(r"^(?:年初|年度|全年|预期)?(?:目标值|指标值)\s*[:：为]?\s*")
# degree words that open a qualitative value (基本健全, 进一步完善)
_DEGREE_RE = re.compile(r"(?:基本|较为|更加|进一步|明显|有效|逐步|持续|全面|显著|不断|稳步|总体)$")


def _qualitative_tail(t: str) -> tuple[str, str] | None:
    """``文物保护名录和数据库基本健全`` -> (文物保护名录和数据库, 基本健全): a short item ending in an
    evaluative word (健全, 良好, 到位 …), optionally after a degree word, with a name of 4+ characters."""
    from indexer.target import VALUE_ENDINGS

    if len(t) > 30 or re.search(r"[\s,，:：、()（）]", t):
        return None
    for end in sorted(VALUE_ENDINGS, key=len, reverse=True):
        if t.endswith(end) and len(t) - len(end) >= 4:
            head = t[: -len(end)]
            deg = _DEGREE_RE.search(head)
            cut = deg.start() if deg and deg.start() >= 4 else len(head)
            name = _NAME_TAIL_RE.sub("", head[:cut])
            return (name, t[cut:]) if len(name) >= 4 else None
    return None


def _split_items(seg: str) -> list[str]:
    """Items of a running-text segment: sentences that state a name and its 目标值 stay whole."""
    out: list[str] = []
    for sentence in re.split(r"[;；。]", seg):
        if _KEYED_RE.match(sentence.strip()):
            out.append(sentence.strip())
        else:
            out.extend(_ITEM_SPLIT_RE.split(sentence))
    return out


def _keyed_item(item: str) -> tuple[str, str] | None:
    """``名称,年初目标值X,实际完成值Y`` -> (名称, X); a name restating its target drops it."""
    m = _KEYED_RE.match(item.strip())
    if not m:
        return None
    name, value = _INDEX_RE.sub("", m.group("name")).strip(), m.group("value").strip()
    if name.endswith(value) and len(name) > len(value) + 2:
        name = name[: -len(value)]
    return (name, value) if len(name) >= 2 else None


def prose_rows(rows: list[GridRow], file: str) -> list[ProseRow]:
    """Indicators in running text (see the module docstring)."""
    # join wrapped lines, remembering where each line starts
    text = ""
    starts: list[tuple[int, GridRow]] = []
    headings: list[tuple[int, str]] = []
    l2_heads: list[tuple[int, int, str]] = []
    cell_heads: list[tuple[int, int, str]] = []  # (start, end of the items cell, label)
    l1_heads: list[tuple[int, int, str]] = []  # 一级 heading lines: items right under them have no 二级
    for r in rows:
        line = " ".join(c.text for c in r.cells if c.text).strip()
        if not line:
            continue
        hm = _L1_HEAD_RE.match(line)
        if hm and vocab.is_ambiguous_cost(hm.group("label")) and l2_heads and (
            not headings or l2_heads[-1][0] > headings[-1][0]
        ):
            # (4)成本指标 after (1)数量指标 …: a 二级 heading like its siblings
            l2_heads.append((len(text), len(text) + len(line), hm.group("label")))
        elif hm and vocab.is_level1(hm.group("label")) and not vocab.is_level2(hm.group("label")):
            headings.append((len(text), hm.group("label")))
            l1_heads.append((len(text), len(text) + len(line), hm.group("label")))
        elif hm and vocab.is_level2(hm.group("label")):
            l2_heads.append((len(text), len(text) + len(line), hm.group("label")))  # (一)数量指标 on its own line
        # a level label in its own cell, its indicators in the next cell (产出指标 | 名称8次;名称2≥86%)
        cells = [c.text for c in r.cells if c.text]
        offset = 0
        for a, b in zip(cells, cells[1:]):
            offset = line.find(a, offset)
            nxt = line.find(b, offset + len(a))
            if (vocab.is_level1(a) or vocab.is_level2(a)) and len(b) >= 8 and split_item(_ITEM_SPLIT_RE.split(b)[0]):
                cell_heads.append((len(text) + nxt, len(text) + nxt + len(b), a))
            offset += len(a)
        starts.append((len(text), r))
        text += line

    def source_at(pos: int) -> SourceRef:
        row = starts[0][1]
        for s, r in starts:
            if s > pos:
                break
            row = r
        return row.source(file)

    out: list[ProseRow] = []
    markers = [(m.start(), m.end(), m.group(1), "l2") for m in _L2_RE.finditer(text)]
    markers += [(a, b, label, "l2") for a, b, label in l2_heads if not any(a <= m[0] < b for m in markers)]
    markers += [(m.start(), m.end(), m.group(1) + "-" + m.group(2), "br") for m in _BRACKET_HEAD_RE.finditer(text)]
    markers += [(a, a, label, "cell") for a, _b, label in cell_heads]
    markers += [(a, b, label, "l1h") for a, b, label in l1_heads if not any(a <= m[0] < b for m in markers)]
    markers.sort()
    line_ends = {s for s, _ in starts}
    for k, (a, b, label, kind) in enumerate(markers):
        l1 = next((h for s, h in reversed(headings) if s <= a), "")
        if kind == "br":
            l1, l2 = (x.strip() for x in label.split("-", 1))
        elif kind == "l1h" or kind == "cell" and not vocab.is_level2(label):
            l1, l2 = label, ""
        else:
            l2 = label
        end = markers[k + 1][0] if k + 1 < len(markers) else len(text)
        if kind == "cell":
            end = min(end, next(e for s_, e, lb in cell_heads if s_ == a))
        seg = text[b:end]
        if kind in ("l2", "cell", "l1h"):
            # running text ends at the next numbered part (第三部分, 二、…) or a line opening with a number
            stop = next((p - b for p in sorted(line_ends) if b < p < end and _PART_RE.match(text, p)), None)
            if stop is not None:
                seg = seg[:stop]
            seg = re.split(r"第[一二三四五六七八九十]+部分|[一二三四五六七八九十]+、", seg)[0]
            items = _split_items(seg)
        else:
            # one item per line after a 【一级-二级】 heading
            cuts = sorted(p - b for p in line_ends if b < p < end)
            parts, prev = [], 0
            for c in [*cuts, len(seg)]:
                parts.extend(re.split(r"[;；]", seg[prev:c]))
                prev = c
            items = parts
        pos = b
        for item in items:
            got = _keyed_item(item) or split_item(item)
            at = text.find(item, pos) if item else pos
            if got and not (_ACTUAL_RE.match(got[0]) or _ACTUAL_RE.match(item.strip())):
                name, value = got
                out.append(ProseRow(l1, l2, name, value, source_at(at)))
            pos = max(pos, at + len(item))
    return [r for r in out if key(r.name) and not vocab.is_level2(r.name)]
