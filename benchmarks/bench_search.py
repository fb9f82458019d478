"""Search benchmarks (prints tables, asserts nothing).

    .venv/bin/python benchmarks/bench_search.py                  # 1k, 10k, 100k, 1M rows
    .venv/bin/python benchmarks/bench_search.py --max-rows 10000 # quick run

Measures, on this machine:
- ingestion throughput on corpus/ (files/s, rows/s; parsing + store, and with embedding);
- embedding throughput of the default model (passages/s);
- per size: index build time (vectors, FAISS, BM25, chunk table, save), hybrid query
  latency p50/p95 with query encoding included (unfiltered and with a unit filter),
  process RSS of a fresh process that loads the index and answers queries,
  FAISS approximate vs exact recall@10, and bm25s vs rank_bm25 indexing/query time.

Large collections replicate the real chunks with changed units and years; their
vectors are the real passage embeddings perturbed by Gaussian noise and
re-normalised (no 1M-text encoding), while queries are encoded for real.
Each size is built in one child process and queried in another, so memory
figures are those of a query process and do not include the build.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# the demo corpus: files directly in corpus/ (sub-folders hold the real-world labelled set and scans)
DEMO_CORPUS = sorted(p for p in (ROOT / "corpus").iterdir() if p.is_file())
sys.path.insert(0, str(ROOT))

SIZES = (1_000, 10_000, 100_000, 1_000_000)
NOISE = 0.35  # per-dimension Gaussian noise relative to 1/sqrt(dim): cosine(copy, original) ~ 0.94
QUERY_EXTRA = (
    "学校满意度", "教师培训", "预算执行", "网络安全事故", "资助学生人数", "考试组织", "督导检查", "信息化运维",
    "设备采购", "校舍维修", "志愿服务", "食堂监管", "课题研究", "医保参保", "政务云运维", "绩效评价报告",
)


# -- helpers ---------------------------------------------------------------------------------

def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p)) if xs else float("nan")


def _fmt_n(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n))


def _print_table(title: str, head: list[str], rows: list[list[str]]) -> None:
    def w(s: str) -> int:
        return sum(2 if ord(c) > 0x2E80 else 1 for c in s)

    widths = [max(w(str(x)) for x in col) for col in zip(head, *rows)]
    line = "  ".join("{}" for _ in head)
    print(f"\n{title}")
    print(line.format(*(h + " " * (widths[i] - w(h)) for i, h in enumerate(head))))
    print("  ".join("-" * x for x in widths))
    for r in rows:
        print(line.format(*(str(c) + " " * (widths[i] - w(str(c))) for i, c in enumerate(r))))


def _base_docs():
    from indexer.pipeline import ingest_paths
    from indexer.store import IndexStore

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        store = IndexStore(tmp)
        ingest_paths(DEMO_CORPUS, store)
        return store.documents()


def queries() -> list[str]:
    from search.evaluation.evaluate import DEFAULT_QUERIES, load_queries

    qs = [q.query for q in load_queries(DEFAULT_QUERIES)]
    return list(dict.fromkeys([*qs, *QUERY_EXTRA]))


# -- replicated collections ------------------------------------------------------------------

class PerturbedEncoder:
    """Vectors for replicated passages: the real vector of the original passage plus noise."""

    model_id = "bench:perturbed"

    def __init__(self, base: dict[str, np.ndarray], origin: dict[str, tuple[str, int]]):
        self.base = base  # original passage -> real vector
        self.origin = origin  # replicated passage -> (original passage, replica number)
        self.dim = len(next(iter(base.values())))

    def encode_documents(self, texts, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            src, rep = self.origin.get(t, (t, 0))
            v = self.base[src]
            if rep:
                rng = np.random.default_rng([rep, zlib.crc32(src.encode())])
                v = v + rng.standard_normal(self.dim).astype(np.float32) * (NOISE / np.sqrt(self.dim))
            out[i] = v / np.linalg.norm(v)
        return out

    def encode_queries(self, texts, batch_size: int = 64) -> np.ndarray:
        """Indicator-name vectors stored for question answering (not measured here):
        deterministic random unit vectors."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            v = np.random.default_rng(zlib.crc32(t.encode())).standard_normal(self.dim).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out


def replicate(chunks, n_rows: int):
    """Copies of ``chunks`` with changed unit and year until ``n_rows`` row chunks exist."""
    from search.retrieval.chunks import ROW, content_hash

    out, origin = [], {}
    rows = 0
    rep = 0
    while rows < n_rows:
        for c in chunks:
            if c.kind == ROW and rows >= n_rows:
                break
            if rep == 0:
                out.append(c)
            else:
                unit = f"{c.unit}第{rep}分部"
                year = (c.year or 2024) - (rep % 8)
                row = {**c.row, "unit": unit, "year": year}
                dense = c.dense_text.replace(c.unit, unit) if c.unit else c.dense_text + f"；{unit}"
                origin[dense] = (c.dense_text, rep)
                out.append(dataclasses.replace(c, row=row, dense_text=dense, hash=content_hash(dense)))
            rows += c.kind == ROW
        rep += 1
    return out, origin


# -- children --------------------------------------------------------------------------------

def child_build(size: int, work: Path) -> dict:
    from search.retrieval.artifacts import BuildConfig, write_chunk_artifacts
    from search.retrieval.chunks import build_chunks
    from search.retrieval.tokenize import get_tokenizer, tokenize_fields

    get_tokenizer()  # jieba's dictionary load is not part of the BM25 build time
    base = json.loads((work / "base.json").read_text(encoding="utf-8"))
    vecs = np.load(work / "base.npy")
    base_vecs = {t: vecs[i] for i, t in enumerate(base)}
    chunks, origin = replicate(build_chunks(_base_docs()), size)
    enc = PerturbedEncoder(base_vecs, origin)
    timings: dict[str, float] = {}
    root = work / f"index-{size}"
    t0 = time.perf_counter()
    arts = write_chunk_artifacts(root, "bench", chunks, enc, None, config=BuildConfig(), show_progress=False,
                                 timings=timings)
    total = time.perf_counter() - t0
    (root / "manifest.json").write_text(json.dumps({"artifacts": arts}, ensure_ascii=False), encoding="utf-8")
    res = {"size": size, "chunks": len(chunks), "vectors": arts["embedding"]["count"], "kind": arts["faiss"]["kind"],
           "build": timings, "build_total": total}
    # bm25s vs rank_bm25 on the same tokens
    tokens = [tokenize_fields(list(c.bm25_fields)) for c in chunks]
    qtok = [tokenize_fields([q]) for q in queries()[:30]]
    from search.retrieval.bm25 import BM25Index

    t = time.perf_counter()
    bm = BM25Index.build(tokens)
    res["bm25s_index"] = time.perf_counter() - t
    t = time.perf_counter()
    for q in qtok:
        bm.search(q, 50)
    res["bm25s_query_ms"] = (time.perf_counter() - t) / len(qtok) * 1000
    try:  # optional: only in the dev extra; the benchmark runs without it
        from rank_bm25 import BM25Okapi
    except ImportError:
        BM25Okapi = None
        res["rank_bm25_missing"] = True
    if BM25Okapi is not None and size <= int(os.environ.get("BENCH_RANK_BM25_MAX", "1000000")):
        t = time.perf_counter()
        rb = BM25Okapi([x or [""] for x in tokens])
        res["rank_bm25_index"] = time.perf_counter() - t
        t = time.perf_counter()
        for q in qtok:
            s = rb.get_scores(q)
            np.argpartition(-s, 50)[:50]
        res["rank_bm25_query_ms"] = (time.perf_counter() - t) / len(qtok) * 1000
    return res


def child_query(size: int, work: Path) -> dict:
    from indexer.store import Manifest
    from search.config import EngineConfig
    from search.retrieval.artifacts import LazyEncoder, get_encoder, resolve_model_id
    from search.retrieval.filters import Filters
    from search.retrieval.retrieve import RetrievalOptions, load_retriever, torch_threads

    root = work / f"index-{size}"
    m = Manifest.from_json(json.loads((root / "manifest.json").read_text(encoding="utf-8")))
    real = get_encoder(resolve_model_id(None))

    class QueryEncoder(LazyEncoder):  # real query encoding against the perturbed index
        def __init__(self):
            super().__init__("bench:perturbed", loader=lambda _id: real)

    rss0 = _rss_mb()
    t = time.perf_counter()
    threads = EngineConfig.from_env().query_threads
    r = load_retriever(root, m, encoder=QueryEncoder(), options=RetrievalOptions(query_threads=threads))
    load_s = time.perf_counter() - t
    qs = queries()
    for q in qs[:5]:  # warm-up
        r.search(q)
    lat, lat_f = [], []
    unit = r.chunks.row(len(r.chunks) - 1)["unit"]
    for q in qs:
        t = time.perf_counter()
        r.search(q, top_k=10)
        lat.append((time.perf_counter() - t) * 1000)
    for q in qs:
        t = time.perf_counter()
        r.search(q, top_k=10, filters=Filters(unit=unit))
        lat_f.append((time.perf_counter() - t) * 1000)
    enc_ms = []
    for q in qs:
        t = time.perf_counter()
        with torch_threads(threads):
            real.encode_queries([q])
        enc_ms.append((time.perf_counter() - t) * 1000)
    rss = _rss_mb()
    # the previous query path (sentence-transformers on torch) in the same process, interleaved
    enc_torch, enc_again = [], []
    if os.environ.get("BENCH_TORCH_BASELINE", "1") != "0":
        from indexer.embedding import Encoder

        torch_enc = Encoder.load(None, backend="torch")
        torch_enc.encode_queries([qs[0]])
        for q in qs:
            t = time.perf_counter()
            with torch_threads(threads):
                torch_enc.encode_queries([q])
            enc_torch.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            real.encode_queries([q])
            enc_again.append((time.perf_counter() - t) * 1000)
    # FAISS approximate vs exact recall@10
    qv = real.encode_queries(qs)
    recall = _faiss_recall(r.dense, qv, size)
    return {"size": size, "load_s": load_s, "p50": _pct(lat, 50), "p95": _pct(lat, 95), "p95_filtered": _pct(lat_f, 95),
            "p50_encode": _pct(enc_ms, 50), "p50_encode_torch": _pct(enc_torch, 50) if enc_torch else None,
            "p50_encode_interleaved": _pct(enc_again, 50) if enc_again else None, "rss_mb": rss, "rss_model_mb": rss0, "kind": r.dense.kind,
            "nprobe": getattr(r.dense, "nprobe", None), **recall}


def _faiss_recall(dense, qv: np.ndarray, size: int) -> dict:
    from search.retrieval.dense import DenseConfig, DenseIndex

    exact = [set(_exact_top(dense.vectors, dense.slots, q, 10).tolist()) for q in qv]
    approx_idx = dense
    if dense.kind == "flat":  # also measure what IVF would give at this size
        approx_idx = DenseIndex.build(np.asarray(dense.vectors), dense.slots, DenseConfig(kind="ivf"))
    t = time.perf_counter()
    got = approx_idx.search(qv, 10)
    approx_ms = (time.perf_counter() - t) / len(qv) * 1000
    rec = float(np.mean([len(set(s.tolist()) & e) / 10 for (s, _), e in zip(got, exact)]))
    t = time.perf_counter()
    for q in qv:
        _exact_top(dense.vectors, dense.slots, q, 10)
    exact_ms = (time.perf_counter() - t) / len(qv) * 1000
    return {"approx_kind": approx_idx.kind, "approx_recall": rec, "approx_ms": approx_ms, "exact_ms": exact_ms}


def _exact_top(vectors, slots, q, k):
    s = np.asarray(vectors) @ q
    top = np.argpartition(-s, k)[:k]
    return slots[top[np.argsort(-s[top])]]


# -- parent ----------------------------------------------------------------------------------

def ingestion_and_embedding(work: Path) -> list[list[str]]:
    from indexer.pipeline import ingest_paths
    from indexer.store import IndexStore
    from search.engine import Engine
    from search.retrieval.artifacts import get_encoder, resolve_model_id
    from search.retrieval.chunks import build_chunks

    corpus = ROOT / "corpus"
    files = [p for p in corpus.iterdir() if p.is_file()]
    t = time.perf_counter()
    rep = ingest_paths([corpus], IndexStore(work / "ingest-only"))
    parse_s = time.perf_counter() - t
    enc = get_encoder(resolve_model_id(None))  # load outside the timings
    docs = IndexStore(work / "ingest-only").documents()
    chunks = build_chunks(docs)
    texts = list(dict.fromkeys(c.dense_text for c in chunks))
    rows_texts = list(dict.fromkeys(c.dense_text for c in chunks if c.kind == "row"))
    t = time.perf_counter()
    vecs = enc.encode_documents(texts, batch_size=64)
    emb_s = time.perf_counter() - t
    (work / "base.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    np.save(work / "base.npy", vecs)
    t = time.perf_counter()
    enc.encode_documents(rows_texts, batch_size=64)
    emb_rows_s = time.perf_counter() - t
    from search.retrieval.artifacts import RECENT

    RECENT.clear()
    t = time.perf_counter()
    Engine.open(work / "full").ingest([corpus])
    full_s = time.perf_counter() - t
    print(f"\n语料：{len(files)} 个文件，{rep.n_rows} 条指标，{len(chunks)} 个检索块（{len(texts)} 段不同文本）")
    return [
        ["导入（解析+入库）", f"{len(files) / parse_s:.1f} 文件/秒", f"{rep.n_rows / parse_s:.0f} 行/秒", f"{parse_s:.2f} 秒"],
        ["导入（含向量化与检索索引）", f"{len(files) / full_s:.2f} 文件/秒", f"{rep.n_rows / full_s:.1f} 行/秒",
         f"{full_s:.1f} 秒"],
        ["向量化（指标行）", "—", f"{len(rows_texts) / emb_rows_s:.1f} 行/秒", f"{emb_rows_s:.1f} 秒"],
        ["向量化（全部检索块）", "—", f"{len(texts) / emb_s:.1f} 段/秒", f"{emb_s:.1f} 秒"],
    ]


def run_child(kind: str, size: int, work: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--size", str(size), "--work", str(work)],
                         capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if out.returncode != 0:
        raise RuntimeError(f"child {kind} {size} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-rows", type=int, default=max(SIZES), help="只测到这个规模（快速运行用）")
    ap.add_argument("--sizes", default=",".join(str(s) for s in SIZES), help="逗号分隔的规模")
    ap.add_argument("--work", default=None, help="工作目录（默认临时目录）")
    ap.add_argument("--child", choices=["build", "query"], help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    if args.child:
        work = Path(args.work)
        res = child_build(args.size, work) if args.child == "build" else child_query(args.size, work)
        print(json.dumps(res))
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-search-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [s for s in (int(x) for x in args.sizes.split(",")) if s <= args.max_rows]
    from indexer.embedding import available_cpus

    print(f"检索基准测试：{available_cpus()} 个 CPU，开始时负载 {os.getloadavg()[0]:.1f}，工作目录 {work}")
    _print_table("导入与向量化吞吐", ["阶段", "文件", "行", "耗时"], ingestion_and_embedding(work))
    gc.collect()
    builds, queries_ = [], []
    for s in sizes:
        b = run_child("build", s, work)
        q = run_child("query", s, work)
        builds.append(b)
        queries_.append(q)
        print(f"  完成 {_fmt_n(s)} 行：构建 {b['build_total']:.1f} 秒，p95 {q['p95']:.1f} 毫秒", file=sys.stderr)
    _print_table(
        "索引构建（秒）",
        ["规模", "检索块", "向量", "索引类型", "向量整理", "FAISS", "BM25", "块表", "写盘", "合计"],
        [[_fmt_n(b["size"]), b["chunks"], b["vectors"], b["kind"], *(f"{b['build'].get(k, 0):.2f}" for k in
          ("vectors", "dense", "bm25", "chunks", "save")), f"{b['build_total']:.2f}"] for b in builds],
    )
    _print_table(
        "混合检索延迟（毫秒，含查询向量化）与内存",
        ["规模", "p50", "p95", "p95（按单位筛选）", "查询向量化 p50", "此前 torch 向量化 p50（交替测）", "加载（秒）",
         "常驻内存 MB"],
        [[_fmt_n(q["size"]), f"{q['p50']:.1f}", f"{q['p95']:.1f}", f"{q['p95_filtered']:.1f}", f"{q['p50_encode']:.1f}",
          (f"{q['p50_encode_torch']:.1f} vs {q['p50_encode_interleaved']:.1f}"
           f"（{q['p50_encode_torch'] / q['p50_encode_interleaved']:.1f}×）") if q.get("p50_encode_torch") else "—",
          f"{q['load_s']:.2f}", f"{q['rss_mb']:.0f}"] for q in queries_],
    )
    _print_table(
        "FAISS 近似检索 vs 精确检索（recall@10）",
        ["规模", "在用索引", "近似索引", "recall@10", "近似（毫秒/查询）", "精确（毫秒/查询）"],
        [[_fmt_n(q["size"]), q["kind"], q["approx_kind"] + (f"（nprobe {q['nprobe']}）" if q["nprobe"] else ""),
          f"{q['approx_recall']:.3f}", f"{q['approx_ms']:.2f}", f"{q['exact_ms']:.2f}"] for q in queries_],
    )
    print(f"\n（结束时 1 分钟平均负载 {os.getloadavg()[0]:.1f}；负载高于 CPU 数时延迟会明显变大）")
    _print_table(
        "BM25：bm25s vs rank_bm25（同一批分词）",
        ["规模", "bm25s 建索引（秒）", "bm25s 查询（毫秒）", "rank_bm25 建索引（秒）", "rank_bm25 查询（毫秒）"],
        [[_fmt_n(b["size"]), f"{b['bm25s_index']:.2f}", f"{b['bm25s_query_ms']:.2f}",
          f"{b['rank_bm25_index']:.2f}" if "rank_bm25_index" in b
          else "未安装 rank_bm25" if b.get("rank_bm25_missing") else "未测（过大）",
          f"{b['rank_bm25_query_ms']:.2f}" if "rank_bm25_query_ms" in b else "—"] for b in builds],
    )


if __name__ == "__main__":
    main()
