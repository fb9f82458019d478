"""Milvus backend vs the embedded backend (FAISS + bm25s) on the same synthetic collection (prints, asserts nothing).

    .venv/bin/python benchmarks/bench_milvus.py                    # 100k rows
    .venv/bin/python benchmarks/bench_milvus.py --sizes 10000      # quick run
    .venv/bin/python benchmarks/bench_milvus.py --sizes 100000,1000000

The collection is the one of bench_search.py: the demo corpus (corpus/) copied
with changed units and years until it holds N indicator rows (here the copies
are whole documents, so question answering sees them too).  Vectors come from a
deterministic 384-dimensional hashing encoder for documents and queries alike,
so no model runs and the figures are the backends' own cost.  Milvus is Milvus
Lite by file URI, in the same process as the client, like the embedded backend.

Measured per backend, each phase in a fresh child process:
- ingest: rows/s of writing the search data (chunks -> vectors, BM25, index);
- search: hybrid top-10 latency p50/p95 (unfiltered) and p95 with a unit filter;
- ask: p95 of numeric-condition questions (满意度≥90% ...), answered by the same
  question engine (search.qa.answer) on both: the embedded backend selects the
  candidate rows in Python over every row, Milvus reads them with one expression
  and a query iterator (search.retrieval.milvus.qa.candidate_rows); the full
  answers (Answer.to_json) are compared;
- memory: peak RSS of the build and of the query process.
Milvus figures are also printed as ratios to the embedded ones of the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_search as bs  # noqa: E402 - the same corpus, queries and helpers

DIM = 384
BACKENDS = ("faiss", "milvus")
ASK = ("哪些单位设定了满意度≥90%？", "满意度低于90%的单位有哪些", "哪些单位的覆盖率达到100%",
       "哪些项目的满意度不低于95%")


class HashEncoder:
    """Character-bigram hashing vectors (deterministic, no model)."""

    model_id = "bench:hash-384"
    dim = DIM

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(DIM, dtype=np.float32)
        for i in range(max(1, len(text) - 1)):
            h = int.from_bytes(hashlib.blake2b(text[i:i + 2].encode(), digest_size=4).digest(), "little")
            v[h % DIM] += 1.0 if h & 1 << 31 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_documents(self, texts, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if len(texts) else np.zeros((0, DIM), np.float32)

    encode_queries = encode_documents


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def replicate_docs(docs, n_rows: int):
    """Copies of the documents with changed unit and year until ``n_rows`` indicator rows exist."""
    out, rows, rep = [], 0, 0
    while rows < n_rows:
        for d in docs:
            if rows >= n_rows:
                break
            if rep == 0:
                out.append(d)
            else:
                tables = tuple(dataclasses.replace(t, unit=f"{t.unit or d.unit}第{rep}分部",
                                                   year=(t.year or d.year or 2024) - rep % 8) for t in d.tables)
                out.append(dataclasses.replace(d, file=f"r{rep:05d}_{d.file}", unit=f"{d.unit}第{rep}分部",
                                               tables=tables))
            rows += len(out[-1].rows)
        rep += 1
    return out


def _docs(work: Path, size: int):
    from indexer.store import IndexStore

    return replicate_docs(IndexStore(work / "docs").documents(), size)


def _milvus(work: Path, size: int):
    from search.retrieval.milvus.client import MilvusSettings
    from search.retrieval.milvus.store import MilvusIndex

    return MilvusIndex(MilvusSettings(str(work / f"milvus-{size}.db")))


def child_build(backend: str, size: int, work: Path) -> dict:
    from search.retrieval.artifacts import write_chunk_artifacts
    from search.retrieval.chunks import ROW, build_chunks
    from search.retrieval.tokenize import get_tokenizer

    get_tokenizer()
    chunks = build_chunks(_docs(work, size))
    n_rows = sum(1 for c in chunks if c.kind == ROW)
    enc = HashEncoder()
    rss0 = peak_rss_mb()
    t = time.perf_counter()
    if backend == "faiss":
        root = work / f"faiss-{size}"
        arts = write_chunk_artifacts(root, "bench", chunks, enc, None, show_progress=False)
        (root / "manifest.json").write_text(json.dumps({"artifacts": arts}, ensure_ascii=False), encoding="utf-8")
    else:
        _milvus(work, size).write(chunks, enc, show_progress=False)
    s = time.perf_counter() - t
    return {"rows": n_rows, "chunks": len(chunks), "seconds": s, "rows_per_s": n_rows / s,
            "peak_rss_mb": peak_rss_mb(), "rss_before_mb": rss0}


def child_query(backend: str, size: int, work: Path) -> dict:
    from indexer.store import Manifest
    from search.qa.answer import QAContext
    from search.retrieval.filters import Filters

    enc = HashEncoder()
    qs = bs.queries()
    docs = _docs(work, size)
    rss_docs = peak_rss_mb()
    t = time.perf_counter()
    if backend == "faiss":
        from search.retrieval.retrieve import load_retriever

        root = work / f"faiss-{size}"
        m = Manifest.from_json(json.loads((root / "manifest.json").read_text(encoding="utf-8")))
        r = load_retriever(root, m, encoder=enc)
    else:
        from search.retrieval.milvus.retriever import MilvusRetriever

        r = MilvusRetriever(_milvus(work, size), enc)
    load_s = time.perf_counter() - t
    for q in qs[:5]:
        r.search(q)
    unit = r.row(0)["unit"]
    lat, lat_f = [], []
    for q in qs:
        t = time.perf_counter()
        r.search(q, top_k=10)
        lat.append((time.perf_counter() - t) * 1000)
    filtered_hits = 0
    for q in qs:
        t = time.perf_counter()
        filtered_hits += len(r.search(q, top_k=10, filters=Filters(unit=unit)).hits)
        lat_f.append((time.perf_counter() - t) * 1000)
    ask_ms, answers, digests = [], [], []
    # the same question engine on both backends (search.qa.answer); on Milvus the candidate rows of a
    # condition question come from one Milvus expression + query iterator (Engine.condition_candidates)
    pushdown, pushed = None, [0]
    if backend == "milvus":
        from search.retrieval.milvus.qa import candidate_rows

        def pushdown(plan, names):
            rows = candidate_rows(r.index, plan, names)
            pushed[0] += rows is not None
            return rows

    t = time.perf_counter()
    ctx = QAContext.build(docs, pushdown=pushdown)  # parser vocabulary and table/row catalog
    if backend == "milvus":
        ctx.catalog.groups_of([])  # the copy -> row lookup used to map Milvus rows back
    ctx_s = time.perf_counter() - t
    for _ in range(3):
        for q in ASK:
            t = time.perf_counter()
            a = ctx.ask(q)
            ask_ms.append((time.perf_counter() - t) * 1000)
            answers.append(len(a.rows))
            digests.append(hashlib.blake2b(json.dumps(a.to_json(), ensure_ascii=False, sort_keys=True,
                                                      default=str).encode(), digest_size=8).hexdigest())
    return {"load_s": load_s, "p50": bs._pct(lat, 50), "p95": bs._pct(lat, 95), "p95_filtered": bs._pct(lat_f, 95),
            "ask_p95": bs._pct(ask_ms, 95), "ask_setup_s": ctx_s, "answers": answers[:len(ASK)],
            "answer_digests": digests[:len(ASK)], "pushed": pushed[0],
            "filtered_hits": filtered_hits,
            "peak_rss_mb": peak_rss_mb(), "rss_docs_mb": rss_docs}


def run_child(kind: str, backend: str, size: int, work: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--backend", backend, "--size", str(size),
                          "--work", str(work)], capture_output=True, text=True,
                         env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if out.returncode != 0:
        raise RuntimeError(f"child {kind} {backend} {size} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000", help="逗号分隔的指标行数（默认 100000；可加 1000000）")
    ap.add_argument("--work", default=None, help="工作目录（默认临时目录）")
    ap.add_argument("--child", choices=["build", "query"], help=argparse.SUPPRESS)
    ap.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fn = child_build if args.child == "build" else child_query
        print(json.dumps(fn(args.backend, args.size, Path(args.work))))
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-milvus-"))
    from indexer.pipeline import ingest_paths
    from indexer.store import IndexStore

    if not (work / "docs" / "manifest.json").exists():
        ingest_paths(bs.DEMO_CORPUS, IndexStore(work / "docs"))
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows_out = []
    for size in sizes:
        res = {b: {**run_child("build", b, size, work), **{"q": run_child("query", b, size, work)}} for b in BACKENDS}
        f, m = res["faiss"], res["milvus"]
        same = "相同" if f["q"]["answer_digests"] == m["q"]["answer_digests"] else "不同！"
        print(f"\n{bs._fmt_n(size)} 行：{f['chunks']} 个检索块；条件问答答案中的指标行数 内嵌 {f['q']['answers']} / "
              f"Milvus {m['q']['answers']}，完整答案（Answer.to_json）两边{same}，Milvus 下推 {m['q']['pushed']} 次；"
              f"按单位过滤的检索共返回 内嵌 {f['q']['filtered_hits']} / Milvus {m['q']['filtered_hits']} 条", flush=True)

        def ratio(key: str, sub: str | None = None, f=f, m=m) -> str:
            a = (f[sub] if sub else f)[key]
            b = (m[sub] if sub else m)[key]
            return f"{b / a:.2f}×" if a else "—"

        rows_out += [
            [bs._fmt_n(size), "导入（行/秒）", f"{f['rows_per_s']:.0f}", f"{m['rows_per_s']:.0f}", ratio("rows_per_s")],
            [bs._fmt_n(size), "检索 p50（毫秒）", f"{f['q']['p50']:.1f}", f"{m['q']['p50']:.1f}", ratio("p50", "q")],
            [bs._fmt_n(size), "检索 p95（毫秒）", f"{f['q']['p95']:.1f}", f"{m['q']['p95']:.1f}", ratio("p95", "q")],
            [bs._fmt_n(size), "按单位过滤检索 p95（毫秒）", f"{f['q']['p95_filtered']:.1f}",
             f"{m['q']['p95_filtered']:.1f}", ratio("p95_filtered", "q")],
            [bs._fmt_n(size), "条件问答 p95（毫秒）", f"{f['q']['ask_p95']:.1f}", f"{m['q']['ask_p95']:.1f}",
             ratio("ask_p95", "q")],
            [bs._fmt_n(size), "问答准备（秒）", f"{f['q']['ask_setup_s']:.1f}", f"{m['q']['ask_setup_s']:.1f}",
             ratio("ask_setup_s", "q")],
            [bs._fmt_n(size), "打开索引（秒）", f"{f['q']['load_s']:.2f}", f"{m['q']['load_s']:.2f}", ratio("load_s", "q")],
            [bs._fmt_n(size), "构建进程峰值内存（MB）", f"{f['peak_rss_mb']:.0f}", f"{m['peak_rss_mb']:.0f}",
             ratio("peak_rss_mb")],
            [bs._fmt_n(size), "检索进程峰值内存（MB）", f"{f['q']['peak_rss_mb']:.0f}", f"{m['q']['peak_rss_mb']:.0f}",
             ratio("peak_rss_mb", "q")],
        ]
    bs._print_table("Milvus Lite 与内嵌后端（FAISS + bm25s）对比（比值 = Milvus / 内嵌）",
                    ["规模", "指标", "内嵌", "Milvus Lite", "比值"], rows_out)
    print(f"\n工作目录：{work}")


if __name__ == "__main__":
    main()
