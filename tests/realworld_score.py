"""Score the parser against the hand-labelled real-world set (corpus/realworld/).

Every ``<id>.txt|md|html`` with an ``<id>.labels.jsonl`` beside it is parsed with
``indexer.ingest.parse_file``; output rows are matched to labelled rows by
normalised indicator name, in document order.  Figures per document and overall:

* names: labelled rows found (matched by name) / labelled rows;
* value: matched rows whose value equals the label (normalised: ``≥ >= ≧`` are one
  operator, full-/half-width folded, whitespace ignored) / matched rows;
* levels: matched rows whose 一级 and 二级 both equal the label / matched rows;
* spurious: output rows matched to no label / output rows.

Run: ``PYTHONPATH=$PWD .venv/bin/python -m tests.realworld_score [-v] [ID ...]``
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from indexer.normalize import key

REALWORLD = Path(__file__).resolve().parent.parent / "corpus" / "realworld"
SUFFIXES = (".txt", ".md", ".html", ".htm")

_OPS = [
    (re.compile(r">=|=>|≧|⩾|＞＝|大于等于|大于或等于"), "≥"),
    (re.compile(r"<=|=<|≦|⩽|＜＝|小于等于|小于或等于"), "≤"),
    (re.compile(r"＞"), ">"),
    (re.compile(r"＜"), "<"),
    (re.compile(r"＝|=="), "="),
]
# pinyin glosses inserted by machine conversion: 一級(jí)指標(biāo)
_GLOSS_RE = re.compile(r"[（(][a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,8}[）)]")


_INDEX_PREFIX_RE = re.compile(r"^指标\s*\d+\s*[:：]\s*")


def norm_name(text: str) -> str:
    """Names compared without pinyin glosses, spaces, script/width differences and a ``指标N:`` numbering."""
    s = _INDEX_PREFIX_RE.sub("", _GLOSS_RE.sub("", text or "").strip())
    return re.sub(r"[\s\u3000]+", "", key(s)).strip("：:;；，,。")


def norm_level(text: str) -> str:
    """Level labels compared without a printed score: 产出指标(50分) = 产出指标."""
    return re.sub(r"[(（]\d+(?:\.\d+)?分[)）]", "", norm_name(text))


def norm_value(text: str) -> str:
    s = unicodedata.normalize("NFKC", _GLOSS_RE.sub("", text or ""))
    for pat, rep in _OPS:
        s = pat.sub(rep, s)
    s = s.replace(",", "") if re.fullmatch(r"[≥≤=<>]?[\d,]+(\.\d+)?\D*", s.strip()) else s
    return key(s).rstrip("；;。，,")


@dataclass(frozen=True)
class Label:
    table: int
    project: str
    level1: str
    level2: str
    name: str
    value: str
    half_year: str


@dataclass
class DocScore:
    id: str
    labels: int
    output: int
    found: int = 0
    value_ok: int = 0
    levels_ok: int = 0
    project_ok: int = 0  # matched rows whose table's 项目名称 equals the label's (informative)
    error: str = ""
    misses: list[str] = field(default_factory=list)  # labelled names not found
    wrong_values: list[tuple[str, str, str]] = field(default_factory=list)  # name, want, got
    wrong_levels: list[tuple[str, str, str]] = field(default_factory=list)
    spurious: list[tuple[str, str]] = field(default_factory=list)  # name, value

    @property
    def n_spurious(self) -> int:
        return self.output - self.found


@dataclass(frozen=True)
class Totals:
    docs: int
    labels: int
    output: int
    found: int
    value_ok: int
    levels_ok: int
    project_ok: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.labels if self.labels else 0.0

    @property
    def value_acc(self) -> float:
        return self.value_ok / self.found if self.found else 0.0

    @property
    def level_acc(self) -> float:
        return self.levels_ok / self.found if self.found else 0.0

    @property
    def spurious_rate(self) -> float:
        return (self.output - self.found) / self.output if self.output else 0.0


def load_labels(path: Path) -> list[Label]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        out.append(
            Label(int(d.get("table", 0)), d.get("project", ""), d.get("level1", ""), d.get("level2", ""),
                  d["name"], d.get("value", ""), d.get("half_year", ""))
        )
    return out


def documents(ids: list[str] | None = None) -> list[tuple[str, Path, Path]]:
    """(id, source file, labels file) of every labelled real-world document."""
    out = []
    for lab in sorted(REALWORLD.glob("*.labels.jsonl")):
        doc_id = lab.name.removesuffix(".labels.jsonl")
        if ids and doc_id not in ids:
            continue
        src = next((REALWORLD / (doc_id + s) for s in SUFFIXES if (REALWORLD / (doc_id + s)).exists()), None)
        if src is not None:
            out.append((doc_id, src, lab))
    return out


def levels_match(lb: Label, level1: str, level2: str) -> bool:
    """一级 and 二级 equal the label's.  Where the source prints no 一级 (label empty), an 一级 label the
    parser inferred from the 二级 label (数量指标 -> 产出指标) is accepted."""
    from indexer import vocab

    if norm_level(level2) != norm_level(lb.level2):
        return False
    if norm_level(level1) == norm_level(lb.level1):
        return True
    return not lb.level1 and bool(lb.level2) and vocab.is_level1(level1)


def score_document(doc_id: str, src: Path, lab: Path) -> DocScore:
    from indexer.ingest import parse_file
    from indexer.model import IngestError

    labels = load_labels(lab)
    try:
        doc = parse_file(src)
        rows = list(doc.rows)
        projects = [t.project for t in doc.tables for _ in t.rows]
    except IngestError as exc:
        rows, projects = [], []
        err = exc.reason
    else:
        err = ""
    s = DocScore(doc_id, len(labels), len(rows), error=err)
    used: set[int] = set()
    cursor = 0
    for lb in labels:
        nk = norm_name(lb.name)
        cands = [i for i, r in enumerate(rows) if i not in used and norm_name(r.name) == nk]
        if not cands:
            s.misses.append(lb.name)
            continue
        # prefer the next candidate in document order
        i = next((c for c in cands if c >= cursor), cands[0])
        used.add(i)
        cursor = i + 1
        r = rows[i]
        s.found += 1
        if norm_value(r.value) == norm_value(lb.value):
            s.value_ok += 1
        else:
            s.wrong_values.append((lb.name, lb.value, r.value))
        if norm_name(projects[i]) == norm_name(lb.project):
            s.project_ok += 1
        if levels_match(lb, r.level1, r.level2):
            s.levels_ok += 1
        else:
            s.wrong_levels.append((lb.name, f"{lb.level1}/{lb.level2}", f"{r.level1}/{r.level2}"))
    s.spurious = [(r.name, r.value) for i, r in enumerate(rows) if i not in used]
    return s


def score_all(ids: list[str] | None = None) -> tuple[list[DocScore], Totals]:
    scores = [score_document(*d) for d in documents(ids)]
    totals = Totals(
        docs=len(scores),
        labels=sum(s.labels for s in scores),
        output=sum(s.output for s in scores),
        found=sum(s.found for s in scores),
        value_ok=sum(s.value_ok for s in scores),
        levels_ok=sum(s.levels_ok for s in scores),
        project_ok=sum(s.project_ok for s in scores),
    )
    return scores, totals


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f}%" if b else "   - "


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    ids = [a for a in argv if not a.startswith("-")]
    scores, t = score_all(ids or None)
    print(f"{'document':48} {'labels':>6} {'out':>4} {'names':>6} {'value':>6} {'levels':>6} {'spur':>6}")
    for s in scores:
        print(
            f"{s.id[:48]:48} {s.labels:6d} {s.output:4d} {_pct(s.found, s.labels)} {_pct(s.value_ok, s.found)} "
            f"{_pct(s.levels_ok, s.found)} {_pct(s.n_spurious, s.output)}" + (f"  [{s.error[:30]}]" if s.error else "")
        )
        if verbose:
            for m in s.misses:
                print(f"    MISS   {m}")
            for n, want, got in s.wrong_values:
                print(f"    VALUE  {n}: want {want!r} got {got!r}")
            for n, want, got in s.wrong_levels:
                print(f"    LEVEL  {n}: want {want} got {got}")
            for n, v in s.spurious:
                print(f"    SPUR   {n!r} = {v!r}")
    print(
        f"\nTOTAL {t.docs} documents, {t.labels} labelled rows, {t.output} output rows: "
        f"names {100 * t.recall:.1f}%  value {100 * t.value_acc:.1f}%  levels {100 * t.level_acc:.1f}%  "
        f"spurious {100 * t.spurious_rate:.1f}%  (project name {100 * t.project_ok / max(1, t.found):.1f}%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
