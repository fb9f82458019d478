"""Accuracy of question answering on labelled question files (default: the package data
``search/evaluation/data/questions.jsonl`` and ``questions_staff.jsonl``).

Each line: ``{"id", "question", "intent", "expect": {...}}``.  A question is
correct when the intent matches and every key in ``expect`` holds exactly:

* ``units`` / ``projects``: the answer's sets;
* ``rows`` / ``unquantified``: multisets of ``[doc, name]``; an answer row
  matches an expected one when ``doc`` is any of its sources (copies of a
  table in other files are one row);
* ``near_miss_units``: units with near misses but no satisfying row;
* ``value``: the answer's number (or value text), ``null`` for "not filled";
* ``answer_contains`` / ``answer_excludes``: substrings of the answer text;
* ``fallback``: the answer is the plain fallback ("未能理解为结构化问题…").

``perfsearch eval --ask`` prints accuracy per intent; ``tune_threshold`` sweeps the
semantic threshold of concept matching (``scripts/tune_qa_threshold.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search.evaluation.data import QUESTIONS, STAFF_QUESTIONS
from search.qa.question import INTENTS

log = logging.getLogger(__name__)

# the original question set and the set typed the way budget staff type (eval/make_staff_questions.py)
DEFAULT_QUESTIONS = QUESTIONS
DEFAULT_QUESTION_FILES = (DEFAULT_QUESTIONS, STAFF_QUESTIONS)
THRESHOLD_GRID = (
    0.90,
    0.92,
    0.93,
    0.94,
    0.945,
    0.95,
    0.952,
    0.954,
    0.956,
    0.958,
    0.96,
    0.962,
    0.964,
    0.966,
    0.968,
    0.97,
    0.975,
    0.98,
    0.99,
    1.01,
)


def load_questions(path: Path | str | None = None) -> list[dict[str, Any]]:
    """Questions of ``path``; without a path, of every default file (that exists)."""
    if path is None:
        return [q for p in DEFAULT_QUESTION_FILES if p.exists() for q in load_questions(p)]
    path = Path(path)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} 第{n}行不是合法的 JSON：{exc}") from exc
    return out


# --------------------------------------------------------------------------- checking


def _row_docs(row: dict[str, Any], sources: Sequence[dict[str, Any]] | None) -> set[str]:
    docs = {row["doc"]}
    docs.update(s["doc"] for s in (sources or row.get("sources") or ()))
    return docs


def rows_match(
    expected: Iterable[Sequence[str]],
    rows: Sequence[dict[str, Any]],
    sources: Sequence[Sequence[dict]] | None = None,
) -> list[str]:
    """Differences between expected ``[doc, name]`` pairs and answer rows (multiset)."""
    pool = [(_row_docs(r, sources[i] if sources else None), r["name"]) for i, r in enumerate(rows)]
    used = [False] * len(pool)
    missing = []
    for doc, name in expected:
        for i, (docs, n) in enumerate(pool):
            if not used[i] and n == name and doc in docs:
                used[i] = True
                break
        else:
            missing.append(f"缺少 {doc}:{name}")
    extra = [f"多出 {rows[i]['doc']}:{rows[i]['name']}" for i, u in enumerate(used) if not u]
    return missing + extra


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-6
    return a == b


def check_answer(q: dict[str, Any], a: dict[str, Any]) -> list[str]:
    """Failures of answer ``a`` (``Answer.to_json()``) against question ``q``."""
    fails = []
    exp = q.get("expect", {})
    if a["intent"] != q["intent"]:
        fails.append(f"意图 {a['intent']} ≠ {q['intent']}")
    for k in ("units", "projects"):
        if k in exp and set(a[k]) != set(exp[k]):
            fails.append(
                f"{k}: 多出 {sorted(set(a[k]) - set(exp[k]))} 缺少 {sorted(set(exp[k]) - set(a[k]))}"
            )
    if "rows" in exp:
        fails += rows_match(exp["rows"], a["rows"], a.get("sources"))
    if "unquantified" in exp:
        fails += [f"未量化{d}" for d in rows_match(exp["unquantified"], a.get("unquantified", []))]
    if "near_miss_units" in exp:
        got = {r["unit"] for r in a["near_misses"]} - set(a["units"])
        if got != set(exp["near_miss_units"]):
            fails.append(f"临界单位 {sorted(got)} ≠ {sorted(exp['near_miss_units'])}")
    if "value" in exp and not _same_value(a.get("value"), exp["value"]):
        fails.append(f"值 {a.get('value')!r} ≠ {exp['value']!r}")
    for s in exp.get("answer_contains", []):
        if s not in a["answer"]:
            fails.append(f"答案缺少“{s}”")
    for s in exp.get("answer_excludes", []):
        if s in a["answer"]:
            fails.append(f"答案不应含“{s}”")
    if "fallback" in exp:
        from search.qa.answer import FALLBACK_PREFIX

        if a["answer"].startswith(FALLBACK_PREFIX) != bool(exp["fallback"]):
            fails.append("回退检索判断不符")
    return fails


# --------------------------------------------------------------------------- report


@dataclass
class QAReport:
    per_intent: dict[str, list[int]] = field(default_factory=dict)  # intent -> [correct, total]
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def correct(self) -> int:
        return sum(c for c, _ in self.per_intent.values())

    @property
    def total(self) -> int:
        return sum(n for _, n in self.per_intent.values())

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.accuracy, 4),
            "correct": self.correct,
            "total": self.total,
            "per_intent": {
                k: {"correct": c, "total": n, "accuracy": round(c / n, 4) if n else 0.0}
                for k, (c, n) in self.per_intent.items()
            },
            "failures": self.failures,
        }

    def table(self) -> str:
        lines = [f"{'意图':<18}{'正确':>6}{'总数':>6}{'准确率':>9}"]
        for k, (c, n) in self.per_intent.items():
            lines.append(f"{k:<20}{c:>6}{n:>6}{c / n if n else 0:>10.1%}")
        lines.append(f"{'合计':<18}{self.correct:>6}{self.total:>6}{self.accuracy:>10.1%}")
        for f in self.failures:
            lines.append(f"✗ {f['id']} {f['question']}：{'；'.join(f['failures'])}")
        return "\n".join(lines)


def evaluate(ask: Callable[[str], dict[str, Any]], questions: Sequence[dict[str, Any]]) -> QAReport:
    """Run ``ask(question) -> Answer.to_json()`` over ``questions``."""
    rep = QAReport(per_intent={i: [0, 0] for i in INTENTS})
    for q in questions:
        a = ask(q["question"])
        fails = check_answer(q, a)
        cell = rep.per_intent.setdefault(q["intent"], [0, 0])
        cell[1] += 1
        if fails:
            rep.failures.append({"id": q.get("id", ""), "question": q["question"], "failures": fails})
        else:
            cell[0] += 1
    rep.per_intent = {k: v for k, v in rep.per_intent.items() if v[1]}
    return rep


def evaluate_engine(engine: Any, path: Path | str | None = None) -> QAReport:
    """Accuracy per intent of ``engine.ask`` on the question file ``path`` (default: both
    packaged question sets, ``DEFAULT_QUESTION_FILES``)."""
    return evaluate(lambda q: engine.ask(q).to_json(), load_questions(path))


def tune_threshold(engine: Any, path: Path | str | None = None, grid: Sequence[float] = THRESHOLD_GRID
                   ) -> list[tuple[float, QAReport]]:  # fmt: skip
    """Accuracy at each semantic threshold (the encoder is loaded once)."""
    ctx = engine.qa_context()
    questions = load_questions(path)
    original = ctx.matcher.threshold
    out = []
    try:
        for t in grid:
            ctx.matcher.threshold = t
            out.append((t, evaluate(lambda q: ctx.ask(q).to_json(), questions)))
    finally:
        ctx.matcher.threshold = original
    return out
