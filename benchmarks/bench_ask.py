"""Latency of ``Engine.ask`` over the whole question set (search/evaluation/data/questions.jsonl).

    .venv/bin/python benchmarks/bench_ask.py --index /tmp/qa          # existing index
    .venv/bin/python benchmarks/bench_ask.py                          # builds one from corpus/

Warm-up first: the context is built, the embedding model loaded, the indicator
names embedded, and every question answered once.  Then each question is timed
``--repeat`` times in two modes:

* ``warm``: as a long-running process sees repeated questions (the concept's
  query embedding is cached);
* ``cold``: the concept query-embedding cache is cleared before every
  question, so each answer pays one encoder call (new wording).

Prints p50/p95/max per intent and overall; the target is p95 < 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the demo corpus: files directly in corpus/ (sub-folders hold the real-world labelled set and scans)
DEMO_CORPUS = sorted(p for p in (ROOT / "corpus").iterdir() if p.is_file())
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from search.engine import Engine  # noqa: E402
from search.evaluation.qa_evaluate import load_questions  # noqa: E402

TARGET_P95_MS = 200.0


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(values)
    if not s:
        return 0.0
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def measure(engine: Engine, questions: list[dict], repeat: int, cold: bool) -> dict[str, list[float]]:
    ctx = engine.qa_context()
    out: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        for q in questions:
            if cold:
                ctx.matcher.clear_query_cache()
            t = time.perf_counter()
            engine.ask(q["question"])
            ms = (time.perf_counter() - t) * 1000
            out[q["intent"]].append(ms)
            out["全部"].append(ms)
    return out


def table(results: dict[str, dict[str, list[float]]]) -> str:
    lines = [f"{'模式':<6}{'意图':<18}{'次数':>6}{'p50(ms)':>10}{'p95(ms)':>10}{'max(ms)':>10}"]
    for mode, per_intent in results.items():
        for intent, ms in per_intent.items():
            lines.append(
                f"{mode:<8}{intent:<20}{len(ms):>6}{statistics.median(ms):>10.1f}"
                f"{percentile(ms, 95):>10.1f}{max(ms):>10.1f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="问答延迟基准（p50/p95）")
    ap.add_argument("--index", default=None, help="索引目录（不指定则从 corpus/ 临时构建）")
    ap.add_argument("--questions", default=None, help="问题集（默认：search/evaluation/data/ 中的两个问题集）")
    ap.add_argument("--repeat", type=int, default=3, help="每个问题计时次数")
    args = ap.parse_args(argv)

    tmp = None
    index = args.index
    if index is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_ask_")
        index = tmp.name
        print(f"从 corpus/ 构建临时索引 {index} ……", file=sys.stderr)
        Engine.open(index).ingest(DEMO_CORPUS)
    engine = Engine.open(index)
    questions = load_questions(args.questions)

    t = time.perf_counter()
    ctx = engine.qa_context()
    ctx.matcher.warm_up()
    for q in questions:  # warm-up pass (model, name embeddings, search artefacts)
        engine.ask(q["question"])
    warm_up_s = time.perf_counter() - t
    results = {
        "warm": measure(engine, questions, args.repeat, cold=False),
        "cold": measure(engine, questions, args.repeat, cold=True),
    }
    print(f"问题 {len(questions)} 个，每个计时 {args.repeat} 次；预热 {warm_up_s:.1f} 秒"
          f"（语义匹配：{'开' if ctx.matcher.semantic_enabled else '关'}）")  # fmt: skip
    print(table(results))
    worst = max(percentile(r["全部"], 95) for r in results.values())
    verdict = "达标" if worst < TARGET_P95_MS else "未达标"
    print(f"p95 最大值 {worst:.1f} ms（目标 < {TARGET_P95_MS:.0f} ms）：{verdict}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
