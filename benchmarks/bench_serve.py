"""The web server under load: search latency with 20 parallel clients over HTTP (prints, asserts nothing).

    .venv/bin/python benchmarks/bench_serve.py                       # index: ./index, else built from corpus/
    .venv/bin/python benchmarks/bench_serve.py --index /tmp/idx --clients 20 --seconds 30

Starts the real ``perfsearch serve`` in a child process on 127.0.0.1 (a free port),
waits until it reports ready (the model is warmed before that), then calls the
``/search`` endpoint the way the browser and ``gradio_client`` do (each client
keeps one session: ``POST /gradio_api/queue/join``, then the session's event
stream ``/gradio_api/queue/data``), first with 1 client (the baseline of this run),
then with ``--clients`` clients at once.  Each phase is bounded by a number of
requests per client and a time limit.  Prints p50/p95/max latency, errors and
throughput per phase, and the ratio of the loaded p50/p95 to the 1-client baseline.
Optionally the same for ``/ask`` (``--ask``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = (
    "师生满意度", "预算执行率", "教师培训人数", "网络安全事故", "资助学生人数", "考试组织", "督导检查",
    "信息化运维", "设备采购", "校舍维修", "志愿服务", "食堂监管", "课题研究", "医保参保", "政务云运维",
    "绩效评价报告", "学生家长对学校满不满意", "系统出故障后多久响应", "困难学生每人每年补助多少钱",
    "“三公经费”变动率", "固定资产利用率", "视频会议网络畅通性", "对补助政策的知晓率", "qzxv乱码测试",
)  # fmt: skip
QUESTIONS = ("哪些单位设定了满意度≥90%?", "预算执行率的目标值通常是多少？", "培训类项目一般设定哪些产出指标？")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_FN_INDEX: dict[str, int] = {}


def fn_index(url: str, api: str) -> int:
    if not _FN_INDEX:
        config = json.loads(urllib.request.urlopen(f"{url}config", timeout=60).read())
        for dep in config["dependencies"]:
            if dep.get("api_name"):
                _FN_INDEX[dep["api_name"]] = dep["id"]
    return _FN_INDEX[api]


def call(url: str, api: str, data: list, session: str, timeout: float = 120.0) -> tuple[bool, float]:
    """One call the way the browser (and gradio_client) makes it: join the queue with this
    client's session, then read the session's event stream until the result; (ok, seconds)."""
    t0 = time.perf_counter()
    try:
        body = {"data": data, "fn_index": fn_index(url, api), "session_hash": session, "event_data": None,
                "trigger_id": None}  # fmt: skip
        req = urllib.request.Request(f"{url}gradio_api/queue/join", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        event_id = json.loads(urllib.request.urlopen(req, timeout=timeout).read())["event_id"]
        ok = False
        with urllib.request.urlopen(f"{url}gradio_api/queue/data?session_hash={session}", timeout=timeout) as resp:
            for raw in resp:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") == event_id and msg.get("msg") == "process_completed":
                    ok = bool(msg.get("success"))
                    break
    except (OSError, ValueError, KeyError):
        ok = False
    return ok, time.perf_counter() - t0


def call_stateless(url: str, api: str, data: list, timeout: float = 120.0) -> tuple[bool, float]:
    """One call of the stateless REST form (``/gradio_api/call/<api>``: a new session every time)."""
    t0 = time.perf_counter()
    try:
        req = urllib.request.Request(
            f"{url}gradio_api/call/{api}", data=json.dumps({"data": data}).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        event_id = json.loads(urllib.request.urlopen(req, timeout=timeout).read())["event_id"]
        text = urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event_id}", timeout=timeout).read().decode()
        ok = "event: complete" in text
    except (OSError, ValueError, KeyError):
        ok = False
    return ok, time.perf_counter() - t0


SEARCHES: list[str] = list(QUERIES)


def load_searches(index: Path) -> None:
    """Every distinct indicator name of the index after the fixed queries: each request of a run
    asks something new (no answer or query vector can be reused from an earlier request)."""
    from search.engine import Engine

    names = dict.fromkeys(r["name"] for r in Engine.open(index).rows_json() if r["name"].strip())
    SEARCHES.extend(n for n in names if n not in SEARCHES)


_counter = iter(range(10**9))
_counter_lock = threading.Lock()


def search_args(_i: int) -> list:
    with _counter_lock:
        n = next(_counter)
    return [SEARCHES[n % len(SEARCHES)], "", "", "", "", "", "", ""]


def ask_args(i: int) -> list:
    return [QUESTIONS[i % len(QUESTIONS)]]


def phase(url: str, api: str, make_args, clients: int, per_client: int, seconds: float) -> dict:
    """``clients`` threads, each calling back to back until ``per_client`` calls or ``seconds`` passed."""
    lat: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    start = threading.Barrier(clients)

    def run(c: int) -> None:
        nonlocal errors
        session = uuid.uuid4().hex[:11]  # one browser tab / one gradio_client per client
        start.wait()
        for j in range(per_client):
            if time.monotonic() > deadline:
                break
            ok, dt = call(url, api, make_args(c * 7 + j), session)
            with lock:
                if ok:
                    lat.append(dt)
                else:
                    errors += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else lat * 99
    return {
        "clients": clients, "n": len(lat), "errors": errors, "wall": wall,
        "p50": q[49] if lat else float("nan"), "p95": q[94] if lat else float("nan"),
        "max": lat[-1] if lat else float("nan"), "rps": len(lat) / wall if wall else 0.0,
    }  # fmt: skip


def show(name: str, r: dict) -> None:
    print(
        f"{name:<16} 客户端 {r['clients']:>2}  请求 {r['n']:>4}  错误 {r['errors']:>3}  "
        f"p50 {r['p50'] * 1000:7.0f} ms  p95 {r['p95'] * 1000:7.0f} ms  最大 {r['max'] * 1000:7.0f} ms  "
        f"吞吐 {r['rps']:5.1f} 次/秒  用时 {r['wall']:5.1f} 秒"
    )


def ensure_index(index: Path, corpus: Path) -> None:
    if (index / "manifest.json").is_file():
        return
    print(f"索引 {index} 不存在，正在从 {corpus} 构建……", flush=True)
    subprocess.run([sys.executable, "-m", "ui.cli", "ingest", str(corpus), "--index", str(index)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def start_server(index: Path, port: int, log: Path) -> subprocess.Popen:
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "--index", str(index), "--port", str(port)],
        cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PERFSEARCH_AUTH": ""},
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while "已启动" not in log.read_text(errors="replace"):  # printed once the model is warm
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"服务未能启动：\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    return proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default=os.environ.get("PERFSEARCH_INDEX", "index"))
    ap.add_argument("--corpus", default=str(ROOT / "corpus"))
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--per-client", type=int, default=15, help="每个客户端最多请求数")
    ap.add_argument("--seconds", type=float, default=60.0, help="每个阶段的时间上限")
    ap.add_argument("--ask", action="store_true", help="同时测问答接口")
    args = ap.parse_args()

    index = Path(args.index).resolve()
    ensure_index(index, Path(args.corpus))
    load_searches(index)
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    port = free_port()
    log = work / "serve.log"
    load = os.getloadavg()[0]
    print(f"网页服务压测：{os.cpu_count()} 个 CPU，开始时 1 分钟负载 {load:.1f}，索引 {index}")
    t0 = time.perf_counter()
    proc = start_server(index, port, log)
    print(f"服务就绪（含模型预热）用时 {time.perf_counter() - t0:.1f} 秒；检索词 {len(SEARCHES)} 个互不相同，"
          "按顺序使用（同一次运行中不重复，直到用完）")
    url = f"http://127.0.0.1:{port}/"
    try:
        apis = [("检索 /search", "search", search_args)]
        if args.ask:
            apis.append(("问答 /ask", "ask", ask_args))
        for name, api, make in apis:
            phase(url, api, make, 2, 3, 20)  # first calls: connection setup, caches
            base = phase(url, api, make, 1, max(10, args.per_client), args.seconds)
            loaded = phase(url, api, make, args.clients, args.per_client, args.seconds)
            show(name, base)
            show(name, loaded)
            print(f"{name:<16} {args.clients} 客户端 / 1 客户端：p50 ×{loaded['p50'] / base['p50']:.1f}，"
                  f"p95 ×{loaded['p95'] / base['p95']:.1f}")  # fmt: skip
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
