"""Sweep the semantic threshold of question answering's concept matching.

    python scripts/tune_qa_threshold.py --index ./index [--questions FILE]

Prints the accuracy over the labelled questions (default: the packaged sets,
``search/evaluation/data/questions*.jsonl``) at each threshold of
``search.evaluation.qa_evaluate.THRESHOLD_GRID`` and the ids of the failures; the
chosen value is ``search.qa.concepts.SEMANTIC_THRESHOLD``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search.engine import Engine  # noqa: E402
from search.evaluation.qa_evaluate import tune_threshold  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="扫描问答概念匹配的语义阈值")
    ap.add_argument("--index", default=None, help="索引目录（默认 ./index 或 PERFSEARCH_INDEX）")
    ap.add_argument("--model", default=None, help="嵌入模型（默认：索引记录的模型）")
    ap.add_argument("--questions", default=None, help="问题集（默认：软件包自带的两个问题集）")
    args = ap.parse_args(argv)
    engine = Engine.open(args.index, model=args.model)
    for t, rep in tune_threshold(engine, args.questions):
        print(f"阈值 {t:.3f}：{rep.correct}/{rep.total} = {rep.accuracy:.1%}  "
              + " ".join(f"{f['id']}" for f in rep.failures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
