"""Indicator concepts: a synonym lexicon and lexical + semantic name matching.

A :class:`Concept` (满意度, 覆盖率, 预算执行率, 培训, 资助 …) has question-side
aliases, a regular expression over indicator names (``key()`` form), an
optional exclusion and optional level categories (a row under 一级/二级 指标
"满意度指标" is a satisfaction indicator even when its name does not say so).

:class:`ConceptMatcher` decides which distinct indicator names a concept
covers: the lexical rule (regex for lexicon concepts, containment for free
phrases) united with a semantic rule: cosine between the concept text and the
name, both embedded by the project's encoder, at least
:data:`SEMANTIC_THRESHOLD`.  Name embeddings are computed once per index
generation (the matcher is rebuilt with the catalog).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from indexer.normalize import key
from indexer.vocab import level1_category, level2_category

if TYPE_CHECKING:
    from indexer.embedding import Encoder

log = logging.getLogger(__name__)

# Cosine (query-prompt embeddings of both sides) a name needs to match a
# concept semantically.  Tuned on search/evaluation/data/questions.jsonl (62 questions, 4 of them
# worded unlike any name) with ``scripts/tune_qa_threshold.py``:
# accuracy is 100% only for 0.956-0.966.  Below, wrong neighbours join
# (参保率 for 参保人员数量 at 0.955, 覆盖学校数 for 覆盖率 at 0.947); above,
# semantic-only matches are lost (问题整改落实率 for 整改率 at 0.966).
# 0.96 sits inside that narrow plateau; the lexicon carries most concepts.
SEMANTIC_THRESHOLD = 0.96


@contextlib.contextmanager
def query_threads(n: int = 1):
    """Run a one-phrase encode on ``n`` torch threads (``EngineConfig.qa_query_threads``,
    ``$PERFSEARCH_QA_QUERY_THREADS``, default 1; 0 leaves the setting unchanged).

    A question's concept is a handful of tokens: on a busy 2-core machine two
    intra-op threads mostly wait for each other (measured p50 326 ms with 2
    threads vs 41 ms with 1).  The process-wide setting is restored afterwards,
    so batch encoding keeps its threads.  Never imports torch: without it (the
    ONNX backend, or no model loaded yet) this does nothing."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    old = torch.get_num_threads()
    if n <= 0 or n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@dataclass(frozen=True)
class Concept:
    id: str  # canonical label shown to users
    aliases: tuple[str, ...]  # words in questions
    pattern: str  # regex over key(indicator name)
    exclude: str = ""  # names matching this are never the concept
    categories: tuple[str, ...] = ()  # level categories implying the concept
    semantic: bool = True  # may the encoder add names the pattern misses?


_C = Concept
LEXICON: tuple[Concept, ...] = (
    _C("满意度", ("满意度", "满意率", "满意程度", "满意"), "满意", categories=("满意度",)),
    _C("覆盖率", ("覆盖率", "覆盖面", "覆盖程度"), "覆盖率|覆盖面"),
    # the neighbours of 预算执行率 in embedding space (预算调整率, 政府采购执行率)
    # are different indicators: lexical only
    _C(
        "预算执行率",
        ("预算执行率", "预算执行", "执行率"),
        "预算执行率|^执行率",
        exclude="采购",
        semantic=False,
    ),
    _C("政府采购执行率", ("政府采购执行率", "政府采购", "采购执行率"), "采购.*执行率", semantic=False),
    _C("及时率", ("及时率", "及时性", "及时完成率"), "及时"),
    _C("完成率", ("完成率",), "完成率"),
    _C("合格率", ("合格率", "验收合格率", "达标率", "验收率"), "合格率|验收率|达标率"),
    _C("合规性", ("合规率", "合规性", "合规"), "合规"),
    _C("培训", ("培训",), "培训"),
    _C(
        "资助",
        ("资助", "助学金", "助学", "补助", "免学费", "学生资助", "困难学生"),
        "资助|助学|补助|免学费|困难学生",
    ),
    _C("补助标准", ("补助标准", "人均补助", "补助金额"), "补助标准"),
    _C("成本", ("成本", "成本指标", "费用"), "成本", categories=("成本",)),
    _C("受益", ("受益人数", "受益学生", "受益对象", "受益学校", "受益"), "受益"),
    _C("知晓率", ("知晓率", "知晓度", "知晓"), "知晓"),
    _C("教研", ("教研活动", "教研"), "教研"),
    _C("督导", ("督导检查", "督导"), "督导"),
    _C("考试", ("考试", "考务", "组考"), "考试|考务|组考"),
    _C("网络安全", ("网络安全", "信息安全", "数据安全", "系统安全"), "网络安全|系统安全|数据安全|信息安全"),
    _C("运维", ("运维", "运行维护", "维护"), "运维|维护"),
    _C("宣传", ("宣传",), "宣传"),
    _C("监测", ("质量监测", "监测"), "监测"),
    _C("课题", ("课题",), "课题"),
    _C("三公经费", ("三公经费",), "三公经费"),
    _C("公开", ("公开率", "公开度", "信息公开", "公开"), "公开"),
    _C("健全性", ("制度健全性", "健全性", "制度健全", "制度建设"), "健全性"),
    _C("控制率", ("控制率",), "控制率"),
    _C("设备", ("设备购置", "设备"), "设备"),
    _C("志愿服务", ("志愿者", "志愿服务", "志愿"), "志愿"),
    _C("阳光食堂", ("阳光食堂",), "阳光食堂"),
    _C("招商引资", ("招商引资", "招商"), "招商"),
    _C("可用率", ("可用率", "系统可用率"), "可用率"),
    _C("故障", ("故障率", "故障"), "故障"),
    _C("视频会议", ("视频会议",), "视频会议"),
)
CONCEPTS: dict[str, Concept] = {c.id: c for c in LEXICON}
_ALIASES: dict[str, str] = {}
for _c in LEXICON:
    for _a in (_c.id, *_c.aliases):
        _ALIASES.setdefault(key(_a), _c.id)
_ALIAS_RE = re.compile("|".join(re.escape(a) for a in sorted(_ALIASES, key=len, reverse=True)))

# --------------------------------------------------------------------------- question side

# Words that never name an indicator (question and filler words).  Words of
# two or more characters are removed anywhere; single characters only at the
# edges of a fragment (有 in 有效, 上 in 上座率 must survive).
_STOPWORDS = (
    "请问", "帮我", "列出", "列举", "给出", "告诉我", "一下", "显示", "查询", "查找", "查看", "所有", "全部",
    "各个", "分别", "哪些", "哪个", "哪几个", "哪家", "有哪些", "什么", "多少", "几个", "几项", "几条",
    "是否", "是不是", "有没有", "单位", "部门", "项目", "设定", "设置", "设有", "制定", "规定", "包含", "包括",
    "涉及", "相关", "有关", "关于", "方面", "指标值", "指标", "目标值", "目标", "绩效", "数值", "要求", "情况",
    "一共", "总共", "年度", "全年", "当年", "对应", "具体", "定为", "达到", "实现", "中的",
)  # fmt: skip
_EDGE_STOPS = "请各哪几吗呢吧啊类值的了和与及或是为有中里在对上都要其这那些个条项家张之把被给达实共表"
_STOP_RE = re.compile("|".join(re.escape(w) for w in sorted(set(_STOPWORDS), key=len, reverse=True)) + "|的")
_PUNCT_RE = re.compile(r"[\s,.;:!?、，。；：！？()（）\[\]【】“”\"'《》<>=≥≤%~\-—]+")


def find_concept(text: str) -> tuple[str, int, int] | None:
    """The longest lexicon alias in ``text`` (key form): (concept id, start, end)."""
    best = None
    for m in _ALIAS_RE.finditer(text):
        if best is None or m.end() - m.start() > best[2] - best[1]:
            best = (_ALIASES[m.group(0)], m.start(), m.end())
    return best


def strip_stopwords(text: str) -> list[str]:
    """Content fragments of ``text`` once stop words and punctuation are removed."""
    out = []
    for frag in _PUNCT_RE.split(_STOP_RE.sub(" ", text)):
        frag = frag.strip(_EDGE_STOPS)
        if frag:
            out.append(frag)
    return out


def is_stop_fragment(fragment: str) -> bool:
    """True for leftovers that carry no meaning (digits, single characters)."""
    return len(fragment) < 2 or fragment.isdigit()


# --------------------------------------------------------------------------- matching


def row_in_categories(level1: str, level2: str, categories: Sequence[str]) -> bool:
    if not categories:
        return False
    cats = {level1_category(level1), level2_category(level2)}
    for label in (level1, level2):  # 成本指标 / 满意度指标 under any parent
        k = key(label).removesuffix("指标").removesuffix("类")
        if k in categories or any(k.endswith(c) for c in categories):
            cats.add(k)
    return any(c in cats for c in categories)


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def lexical_match(concept: str, free: bool, name_key: str) -> bool:
    if free:
        return concept in name_key
    c = CONCEPTS[concept]
    return bool(_compiled(c.pattern).search(name_key)) and not excluded(concept, free, name_key)


def excluded(concept: str, free: bool, name_key: str) -> bool:
    if free:
        return False
    ex = CONCEPTS[concept].exclude
    return bool(ex and _compiled(ex).search(name_key))


def semantic_allowed(concept: str, free: bool) -> bool:
    return free or CONCEPTS[concept].semantic


class ConceptMatcher:
    """Which indicator names (``key()`` form) a concept covers.

    Vectors come from :meth:`use_stored` (written into the index at ingest) when
    available; the encoder is resolved only for what is not stored (a free
    phrase from a question, names of rows added since), so lexicon-concept
    questions never load the model."""

    def __init__(
        self,
        names: Sequence[str],
        encoder: Encoder | Callable[[], Encoder | None] | None = None,
        threshold: float = SEMANTIC_THRESHOLD,
        query_threads: int = 1,
    ):
        """``encoder``: an Encoder, a zero-argument loader called on first semantic
        use (None from it disables the semantic rule), or None (lexical only);
        ``query_threads``: torch threads for one free phrase (see ``query_threads``)."""
        self.names = list(dict.fromkeys(names))
        self.query_threads = query_threads
        self._encoder_arg = encoder
        self._encoder: Encoder | None = None
        self._resolved = encoder is None
        self.threshold = threshold
        self._name_vecs: np.ndarray | None = None
        self._stored_names: dict[str, np.ndarray] = {}
        self._lexicon_vecs: dict[str, np.ndarray] = {}  # lexicon concepts (stored, or embedded in one batch)
        self._query_cache: dict[str, np.ndarray] = {}  # free phrases seen so far
        self._stored = False

    def use_stored(
        self,
        names: dict[str, np.ndarray],
        concepts: dict[str, np.ndarray],
        encoder: Encoder | Callable[[], Encoder | None] | None = None,
    ) -> None:
        """Use name and concept vectors stored in the index.  ``encoder`` (optional)
        replaces the loader for what is missing; it must be the model that computed
        the stored vectors."""
        self._stored_names = dict(names)
        self._lexicon_vecs = dict(concepts)
        self._name_vecs = None
        self._stored = True
        if encoder is not None:
            self._encoder_arg, self._encoder, self._resolved = encoder, None, False

    @property
    def encoder(self) -> Encoder | None:
        if not self._resolved:
            arg = self._encoder_arg
            self._encoder = arg if hasattr(arg, "encode_queries") else arg()  # type: ignore[operator,misc]
            self._resolved = True
        return self._encoder

    def loaded_encoder(self) -> Encoder | None:
        """The encoder if it is already loaded (never triggers loading)."""
        if self._resolved:
            return self._encoder
        return self._encoder_arg if hasattr(self._encoder_arg, "encode_queries") else None  # type: ignore[return-value]

    @property
    def semantic_enabled(self) -> bool:
        return self._stored or self.encoder is not None

    def _names_matrix(self) -> np.ndarray | None:
        if self._name_vecs is None:
            missing = [n for n in self.names if n not in self._stored_names]
            fresh: dict[str, np.ndarray] = {}
            if missing:
                if self.encoder is None:
                    return None
                # symmetric task (short phrase vs short phrase): query prompt on both sides
                fresh = dict(zip(missing, self.encoder.encode_queries(missing)))
                log.debug("embedded %d indicator names (%d stored)", len(missing), len(self.names) - len(missing))
            if not self.names:
                return np.zeros((0, 0), dtype=np.float32)
            self._name_vecs = np.stack(
                [self._stored_names[n] if n in self._stored_names else fresh[n] for n in self.names]
            ).astype(np.float32)
        return self._name_vecs

    def _query(self, text: str) -> np.ndarray | None:
        v = self._lexicon_vecs.get(text)
        if v is None:
            v = self._query_cache.get(text)
        if v is None:
            if self.encoder is None:
                return None
            with query_threads(self.query_threads):
                v = self.encoder.encode_queries([text])[0]
            if len(self._query_cache) > 4096:
                self._query_cache.clear()
            self._query_cache[text] = v
        return v

    def clear_query_cache(self) -> None:
        """Forget free-phrase embeddings (the lexicon's are kept)."""
        self._query_cache.clear()

    def warm_up(self) -> None:
        """Embed the indicator names and every semantic lexicon concept (what is not stored)."""
        if not self._stored and self.encoder is None:
            return
        self._names_matrix()
        ids = [c.id for c in LEXICON if c.semantic and c.id not in self._lexicon_vecs]
        if ids and self.encoder is not None:
            self._lexicon_vecs.update(zip(ids, self.encoder.encode_queries(ids)))

    def similarities(self, concept: str) -> dict[str, float]:
        """Cosine between the concept text and every name (empty without vectors)."""
        if not self.names or (not self._stored and self.encoder is None):
            return {}
        if not self._stored:
            self.warm_up()
        names = self._names_matrix()
        q = self._query(concept) if names is not None else None
        if names is None or q is None:
            return {}
        sims = names @ q
        return {n: float(s) for n, s in zip(self.names, sims)}

    def match(self, concept: str, free: bool, threshold: float | None = None) -> dict[str, str]:
        """name key -> how it matched (``lexical`` or ``semantic 0.97``)."""
        out = {n: "lexical" for n in self.names if lexical_match(concept, free, n)}
        if semantic_allowed(concept, free) and (self._stored or self.encoder is not None):
            t = self.threshold if threshold is None else threshold
            for n, s in self.similarities(concept).items():
                if n not in out and s >= t and not excluded(concept, free, n):
                    out[n] = f"semantic {s:.3f}"
        return out


__all__ = [
    "CONCEPTS",
    "LEXICON",
    "SEMANTIC_THRESHOLD",
    "Concept",
    "ConceptMatcher",
    "find_concept",
    "query_threads",
    "is_stop_fragment",
    "lexical_match",
    "row_in_categories",
    "strip_stopwords",
]
