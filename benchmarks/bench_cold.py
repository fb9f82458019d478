"""Cold-start cost of the command line: CPU seconds, wall time and peak RSS of a fresh
process for ``ask`` (a rows-only question), ``search`` and ``serve`` (until the first
HTTP 200), current code vs a baseline checkout, interleaved in the same run.

    .venv/bin/python benchmarks/bench_cold.py                      # baseline: git ref e6de2a2
    .venv/bin/python benchmarks/bench_cold.py --baseline-ref main --repeat 5
    .venv/bin/python benchmarks/bench_cold.py --no-baseline

The index (``--index``, default a temp dir) is built from ``corpus/`` by the current
code when missing; both versions read the same index.  The baseline is a
``git worktree`` of ``--baseline-ref`` (the commit before the cold-start work).
CPU seconds are user+system of the child process (``os.wait4``), so other load
on the machine inflates wall time but hardly CPU seconds; the 1-minute load
average is printed at start and end.  Also prints whether a cold ``ask`` and
``search`` imported torch / sentence-transformers (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the demo corpus: files directly in corpus/ (sub-folders hold the real-world labelled set and scans)
DEMO_CORPUS = sorted(p for p in (ROOT / "corpus").iterdir() if p.is_file())
ASK = "哪些单位设定了满意度≥90%？"
SEARCH = "师生满意度"
DEFAULT_BASELINE = "e6de2a2"


def _env(code: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(code) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_cli_rusage(code: Path, args: list[str]) -> tuple[float, float, float, str]:
    """(CPU s, wall s, max RSS MB, stdout) of ``python -m ui.cli ARGS`` run from ``code``."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = subprocess.Popen([sys.executable, "-m", "ui.cli", *args], cwd=code, env=_env(code), stdout=fo, stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = status
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode(), fe.read().decode()
    if status:
        raise SystemExit(f"{' '.join(args)} failed in {code}:\n{err[-2000:]}")
    return ru.ru_utime + ru.ru_stime, wall, ru.ru_maxrss / 1024, out


def _pad(s: str, width: int) -> str:
    """Left-align counting CJK characters as two columns."""
    return s + " " * max(1, width - sum(2 if ord(c) > 0x2E80 else 1 for c in s))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_serve(code: Path, index: Path, timeout: float = 600) -> tuple[float, float, float, str]:
    """(CPU s, wall s, RSS MB) of ``serve`` from start to the first HTTP 200 on /."""
    import psutil

    port = _free_port()
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "ui.cli", "serve", "--index", str(index), "--port", str(port)],
                         cwd=code, env=_env(code), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = psutil.Process(p.pid)
    try:
        while True:
            if p.poll() is not None:
                raise SystemExit(f"serve exited with {p.returncode} in {code}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > timeout:
                raise SystemExit("serve did not answer")
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        procs = [proc, *proc.children(recursive=True)]
        cpu = sum(sum(x.cpu_times()[:2]) for x in procs)
        rss = sum(x.memory_info().rss for x in procs) / 2**20
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return cpu, wall, rss, ""


def imports_torch(code: Path, args: list[str]) -> bool:
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "ui.cli", *args], cwd=code, env=_env(code),
                       capture_output=True, text=True)
    mods = {line.rsplit("|", 1)[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")}
    return bool(mods & {"torch", "sentence_transformers"})


def baseline_checkout(ref: str) -> Path | None:
    dest = Path(tempfile.mkdtemp(prefix="perfsearch-baseline-"))
    shutil.rmtree(dest)
    p = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(dest), ref],
                       capture_output=True, text=True)
    if p.returncode:
        print(f"（无法检出基线 {ref}：{p.stderr.strip()[:200]}；只测当前代码）")
        return None
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=None, help="index directory (built from corpus/ when missing)")
    ap.add_argument("--baseline-ref", default=DEFAULT_BASELINE)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-serve", action="store_true")
    args = ap.parse_args()

    print(f"冷启动基准：{os.cpu_count()} 个 CPU，开始时 1 分钟负载 {os.getloadavg()[0]:.1f}")
    tmp = Path(tempfile.mkdtemp(prefix="perfsearch-cold-"))
    index = args.index or tmp / "index"
    if not (index / "manifest.json").exists():
        print(f"构建索引 {index} ……")
        run_cli_rusage(ROOT, ["ingest", *map(str, DEMO_CORPUS), "--index", str(index), "--no-progress"])
    # warm the page cache and the one-off ONNX export so that only the cold process is measured
    run_cli_rusage(ROOT, ["search", SEARCH, "--index", str(index), "--json"])
    base = None if args.no_baseline else baseline_checkout(args.baseline_ref)
    versions = [("当前", ROOT)] + ([(f"基线 {args.baseline_ref}", base)] if base else [])
    cases = [
        ("ask（只需指标行的问题）", lambda c: run_cli_rusage(c, ["ask", ASK, "--index", str(index), "--json"])),
        ("search（混合检索）", lambda c: run_cli_rusage(c, ["search", SEARCH, "--index", str(index), "--json"])),
    ]
    if not args.no_serve:
        cases.append(("serve（到首个 HTTP 200）", lambda c: run_serve(c, index)))
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    outputs: dict[tuple[str, str], str] = {}
    try:
        for _ in range(max(1, args.repeat)):
            for case, fn in cases:
                for label, code in versions:  # interleaved: both versions see the same load
                    cpu, wall, rss, out = fn(code)
                    results.setdefault((case, label), []).append((cpu, wall, rss))
                    outputs[(case, label)] = out
        print(f"\n每项 {args.repeat} 次取中位数；CPU 秒 = 子进程用户态 + 内核态\n")
        print(f"{_pad('命令', 28)}{_pad('版本', 16)}{_pad('CPU 秒', 10)}{_pad('墙钟秒', 10)}峰值内存 MB")
        print("-" * 76)
        for case, _fn in cases:
            meds = {}
            for label, _code in versions:
                rows = results[(case, label)]
                meds[label] = tuple(statistics.median(r[i] for r in rows) for i in range(3))
                cpu, wall, rss = meds[label]
                print(f"{_pad(case, 28)}{_pad(label, 16)}{_pad(f'{cpu:.2f}', 10)}{_pad(f'{wall:.2f}', 10)}{rss:.0f}")
            if len(versions) == 2:
                (a, b) = (meds[versions[0][0]], meds[versions[1][0]])
                print(f"{_pad('', 28)}{_pad('基线/当前', 16)}{_pad(f'{b[0] / a[0]:.1f}×', 10)}"
                      f"{_pad(f'{b[1] / a[1]:.1f}×', 10)}{b[2] / a[2]:.1f}×")
                same = outputs[(case, versions[0][0])] == outputs[(case, versions[1][0])]
                if outputs[(case, versions[0][0])]:
                    print(f"{_pad('', 28)}输出与基线{'逐字节相同' if same else '不同'}")
        for case, cli_args in (("ask", ["ask", ASK, "--index", str(index)]),
                               ("search", ["search", SEARCH, "--index", str(index)])):
            print(f"冷启动 {case} 是否导入 torch / sentence-transformers：{'是' if imports_torch(ROOT, cli_args) else '否'}")
        print(f"结束时 1 分钟负载 {os.getloadavg()[0]:.1f}")
    finally:
        if base is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
