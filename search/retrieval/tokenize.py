"""The one tokenizer shared by BM25 indexing and queries.

Texts go through ``indexer.normalize.key`` first (full-width -> half-width,
traditional -> simplified, lower case, no whitespace), then through ONE
module-level ``jieba.Tokenizer`` loaded lazily with the domain user dictionary
``search/data/userdict.txt`` (jieba's global ``cut`` is never used).
Punctuation and stopwords are dropped.

Two settings, both recorded in the index manifest so queries are tokenised the
way the documents were:

- ``mode``: ``"search"`` (jieba's search mode: long words plus their 2/3-character
  sub-words, e.g. 预算执行率 -> 预算 执行 执行率 预算执行率) or ``"cut"``;
- ``bigrams``: also emit CJK character bigrams of each CJK run (prefixed with
  ``#`` so they never collide with words), which catches phrasings the
  dictionary splits differently (满不满意 ~ 满意).

Measured on search/evaluation/data/queries.jsonl (BM25 alone, nDCG@10): search mode 0.820 vs plain
cut 0.731; adding bigrams to search mode 0.817 (no gain), so the default is
search mode without bigrams.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from indexer.normalize import key

log = logging.getLogger(__name__)

USERDICT = Path(__file__).resolve().parents[1] / "data" / "userdict.txt"
TOKENIZER_VERSION = 1

_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_KEEP = re.compile(r"[\u3400-\u9fff\uf900-\ufaffa-z0-9]")
_NUMBER = re.compile(r"^[0-9.]+$")

# Function words and question scaffolding; they carry no topic.  Level labels
# such as 指标 are kept: their low IDF already makes them cheap.
STOPWORDS = frozenset(
    """
    的 了 和 与 及 或 等 对 在 是 有 为 把 被 将 于 以 之 其 并 且 而 及其 以及 或者 还是
    吗 呢 吧 啊 么 呀 哪 哪些 哪个 哪里 什么 多少 几 怎么 怎样 如何 怎么样 是否 有没有 有无
    请 请问 查 查询 查找 找 找找 一下 相关 关于 有关 方面 情况 这个 那个 这些 那些 这 那
    我 我们 你 你们 他们 它 谁 一些 所有 各个 都 也 还 就 要 能 会 可以 需要 应该 进行
    """.split()
)

_lock = threading.Lock()
_tokenizer = None


@dataclass(frozen=True)
class TokenizerConfig:
    mode: str = "search"  # "search" | "cut"
    bigrams: bool = False  # measured: no gain over search mode on search/evaluation/data/queries.jsonl
    hmm: bool = True
    version: int = TOKENIZER_VERSION

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict | None) -> TokenizerConfig:
        if not d:
            return cls()
        return cls(
            mode=d.get("mode", "search"),
            bigrams=bool(d.get("bigrams", False)),
            hmm=bool(d.get("hmm", True)),
            version=int(d.get("version", TOKENIZER_VERSION)),
        )


def get_tokenizer():
    """The process-wide ``jieba.Tokenizer`` with the domain dictionary (lazy, thread-safe)."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                tok.load_userdict(str(USERDICT))
                _tokenizer = tok
    return _tokenizer


def _is_token(t: str) -> bool:
    return bool(_KEEP.search(t)) and t not in STOPWORDS


def _words(text: str, config: TokenizerConfig) -> list[str]:
    tok = get_tokenizer()
    if config.mode == "cut":
        parts = tok.cut(text, HMM=config.hmm)
    else:
        parts = tok.cut_for_search(text, HMM=config.hmm)
    out = []
    for p in parts:
        p = p.strip()
        if not p or not _is_token(p):
            continue
        if _NUMBER.match(p):
            p = p.rstrip(".")
            if not p:
                continue
        out.append(p)
    return out


def _bigrams(text: str) -> list[str]:
    out = []
    for run in _CJK_RUN.findall(text):
        out.extend("#" + run[i : i + 2] for i in range(len(run) - 1))
    return out


@functools.lru_cache(maxsize=200_000)
def _tokenize_cached(text: str, config: TokenizerConfig) -> tuple[str, ...]:
    s = key(text)
    if not s:
        return ()
    toks = _words(s, config)
    if config.bigrams:
        toks.extend(_bigrams(s))
    return tuple(toks)


def tokenize(text: str, config: TokenizerConfig | None = None) -> list[str]:
    """Tokens of ``text`` for BM25 (documents and queries alike).

    >>> tokenize("预算执行率", TokenizerConfig(bigrams=False))
    ['预算', '执行', '执行率', '预算执行率']
    """
    return list(_tokenize_cached(text or "", config or TokenizerConfig()))


def tokenize_fields(fields: list[str], config: TokenizerConfig | None = None) -> list[str]:
    """Tokens of several fields; each field is tokenised (and cached) on its own so
    repeated labels (二级指标, unit names ...) cost one jieba call per distinct text."""
    cfg = config or TokenizerConfig()
    out: list[str] = []
    for f in fields:
        if f:
            out.extend(_tokenize_cached(f, cfg))
    return out
