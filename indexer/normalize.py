"""Text normalisation shared by every stage.

Two forms of a string exist:
- *clean* text (``clean_cell``): what the document says, as written (original
  script kept), minus markup and extraction noise.  Stored and shown.
- a *key* (``key``): NFKC-folded (full-width -> half-width), traditional ->
  simplified (OpenCC), lower-cased, with all whitespace removed.  Used for
  matching labels, indexing and comparing.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata

_TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>")
_WS_RE = re.compile(r"[ \t\u3000\u00a0\r\n]+")
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_PUNCT = r"\u3000-\u303f\uff00-\uffef“”‘’《》、，。；：？！（）【】"
# a space between two CJK characters/punctuation is extraction noise ("监 测体系")
_CJK_SPACE_RE = re.compile(rf"(?<=[{_CJK}{_CJK_PUNCT}])\s+(?=[{_CJK}{_CJK_PUNCT}])")
# pinyin glosses that machine conversion inserts into words: 一級(jí)指標(biāo) -> 一級指標
_TONE = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
GLOSS_RE = re.compile(rf"(?<=[{_CJK}])\s?[（(][a-zü]*[{_TONE}][a-zü{_TONE}]*[）)]")


def clean_cell(text: str | None) -> str:
    """Clean one cell: drop HTML tags, join wrapped lines, collapse spaces.

    >>> clean_cell("构建基于数据的区域教育质量评估监 测体系")
    '构建基于数据的区域教育质量评估监测体系'
    >>> clean_cell("<p>1、负责</p> <p>2、研发</p>")
    '1、负责 2、研发'
    """
    if not text:
        return ""
    s = html.unescape(str(text))
    s = _TAG_RE.sub(" ", s)
    s = GLOSS_RE.sub("", s)
    s = _WS_RE.sub(" ", s).strip()
    s = _CJK_SPACE_RE.sub("", s)
    return s


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    if not text:
        return text
    return _t2s().convert(text)


def fold_width(text: str) -> str:
    """Full-width ASCII -> half-width (NFKC), keeping ≥ ≤ and CJK as they are."""
    return unicodedata.normalize("NFKC", text)


@functools.lru_cache(maxsize=65536)
def key(text: str) -> str:
    """Matching key: NFKC, simplified, lower-case, no whitespace."""
    if not text:
        return ""
    s = to_simplified(fold_width(text)).lower()
    return re.sub(r"\s+", "", s)


def looks_traditional(text: str, threshold: int = 3) -> bool:
    """True when converting to simplified changes at least ``threshold`` characters."""
    if not text:
        return False
    sample = text[:20000]
    conv = to_simplified(sample)
    changed = sum(1 for a, b in zip(sample, conv) if a != b)
    return changed >= threshold
