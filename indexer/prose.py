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

_ENUM = r"(?:[(（]?[一二三四五六七八九十\d]{1,3}[)）]?[、.．:：]?|\d+[、.．])?\s*"
_BRACKET_HEAD_RE = re.compile(r"【\s*([^】\-－—]+?)\s*[-－—]+\s*([^】]+?)\s*】")
_ITEM_SPLIT_RE = re.compile(r"[;；。]|[,，](?![^()（）]*[)）])")
_INDEX_RE = re.compile(r"^(?:指标\s*\d+\s*[:：]|\d+[、.．]|[(（]\d+[)）]|设\s*\d+\s*条)\s*")
_VALUE_START_RE = re.compile(value_start_pattern())  # operator symbol, operator word + number, digit
_PAREN_VALUE_RE = re.compile(rf"^(?P<name>.+?)\s*[(（](?P<value>[^()（）]*[\d{re.escape(OP_SYMBOLS)}][^()（）]*)[)）]$")
_QUAL_RE = re.compile(r"^(?P<name>.+?)定性(?P<value>.+)$")
_PART_RE = re.compile(r"\s*(?:\d+[、.．]|[(（]\d+[)）]|[一二三四五六七八九十]+、|第[一二三四五六七八九十]+部分|项目联系人)")
# what was achieved, not a target: 当年实际完成9人
_ACTUAL_RE = re.compile(r"^(?:当年|全年|年度)?实际完成")
_NAME_TAIL_RE = re.compile(r"(?:为|為|达到|達到|:|：)$")


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
_L1_HEAD_RE = re.compile(rf"^{_ENUM}(?P<label>[^\s:：,，。;；]{{2,10}}?)[:：]?\s*$")


def split_item(item: str) -> tuple[str, str] | None:
    """``名称≧300人`` -> (名称, ≧300人); None when no value can be read."""
    t = _INDEX_RE.sub("", item.strip()).strip()
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
    return None


def prose_rows(rows: list[GridRow], file: str) -> list[ProseRow]:
    """Indicators in running text (see the module docstring)."""
    # join wrapped lines, remembering where each line starts
    text = ""
    starts: list[tuple[int, GridRow]] = []
    headings: list[tuple[int, str]] = []
    l2_heads: list[tuple[int, int, str]] = []
    for r in rows:
        line = " ".join(c.text for c in r.cells if c.text).strip()
        if not line:
            continue
        hm = _L1_HEAD_RE.match(line)
        if hm and vocab.is_level1(hm.group("label")) and not vocab.is_level2(hm.group("label")):
            headings.append((len(text), hm.group("label")))
        elif hm and vocab.is_level2(hm.group("label")):
            l2_heads.append((len(text), len(text) + len(line), hm.group("label")))  # (一)数量指标 on its own line
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
    markers.sort()
    line_ends = {s for s, _ in starts}
    for k, (a, b, label, kind) in enumerate(markers):
        l1 = next((h for s, h in reversed(headings) if s <= a), "")
        if kind == "br":
            l1, l2 = (x.strip() for x in label.split("-", 1))
        else:
            l2 = label
        end = markers[k + 1][0] if k + 1 < len(markers) else len(text)
        seg = text[b:end]
        if kind == "l2":
            # running text ends at the next numbered part (第三部分, 二、…) or a line opening with a number
            stop = next((p - b for p in sorted(line_ends) if b < p < end and _PART_RE.match(text, p)), None)
            if stop is not None:
                seg = seg[:stop]
            seg = re.split(r"第[一二三四五六七八九十]+部分|[一二三四五六七八九十]+、", seg)[0]
            items = _ITEM_SPLIT_RE.split(seg)
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
            got = split_item(item)
            at = text.find(item, pos) if item else pos
            if got and not _ACTUAL_RE.match(got[0]):
                name, value = got
                out.append(ProseRow(l1, l2, name, value, source_at(at)))
            pos = max(pos, at + len(item))
    return [r for r in out if key(r.name) and not vocab.is_level2(r.name)]
