"""The web server under load: search latency with 20 parallel clients over HTTP (prints, asserts nothing).

    .venv/bin/python benchmarks/bench_serve.py                       # index: ./index, else built from corpus/
    .venv/bin/python benchmarks/bench_serve.py --index /tmp/idx --clients 20 --seconds 30
    .venv/bin/python benchmarks/bench_serve.py --index /tmp/idx --against HEAD~3 --rounds 2 --json

Starts the real ``perfsearch serve`` in a child process on 127.0.0.1 (a free port),
waits until it reports ready (the model is warmed before that), then calls the
``/search`` endpoint the way the browser's Gradio client does: each client first
opens its session like a page load (``refresh``, untimed), then searches back to
back; an event that uses Gradio's queue is called by joining the queue and reading
the session's event stream, one that does not (``queue=False``, the search since
this version) by one POST to ``/gradio_api/run/search``.  First with 1 client (the
baseline of this run), then with ``--clients`` clients at once; each phase is bounded
by a number of requests per client and a time limit.  Prints p50/p95/max latency,
errors, throughput and the server's CPU time per request, and the ratio of the loaded
p50/p95 to the 1-client baseline.  ``--against REF`` also serves the git revision REF
(``git archive``) in turns with the working tree, on the same index, and prints the
ratios current/REF; ``--json`` adds the JSON route ``GET /api/search``; ``--ask`` the
``/ask`` endpoint.
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


_DEPS: dict[str, dict[str, dict]] = {}  # url -> api name -> dependency of the page config


def dependency(url: str, api: str) -> dict:
    if url not in _DEPS:
        config = json.loads(urllib.request.urlopen(f"{url}config", timeout=60).read())
        _DEPS[url] = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}
    return _DEPS[url][api]


def call(url: str, api: str, data: list, session: str, timeout: float = 120.0) -> tuple[bool, float]:
    """One call the way the browser's Gradio client makes it (and gradio_client): for an event
    that uses the queue, join the queue with this client's session and read the session's event
    stream until the result; for one that does not (queue=False), one POST to ``run/<api>``.
    Returns (ok, seconds)."""
    t0 = time.perf_counter()
    try:
        dep = dependency(url, api)
        body = {"data": data, "fn_index": dep["id"], "session_hash": session, "event_data": None,
                "trigger_id": None}  # fmt: skip
        headers = {"Content-Type": "application/json"}
        if dep.get("queue") is False:
            req = urllib.request.Request(f"{url}gradio_api/run/{api}", data=json.dumps(body).encode(), headers=headers)
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                ok = resp.status == 200 and "data" in json.loads(resp.read())
            return ok, time.perf_counter() - t0
        req = urllib.request.Request(f"{url}gradio_api/queue/join", data=json.dumps(body).encode(), headers=headers)
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


def call_json(url: str, query: str, timeout: float = 120.0) -> tuple[bool, float]:
    """One search over the JSON route ``GET /api/search?q=…`` (no Gradio session)."""
    from urllib.parse import urlencode

    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{url}api/search?{urlencode({'q': query})}", timeout=timeout) as resp:
            ok = resp.status == 200 and "rows" in json.loads(resp.read())
    except (OSError, ValueError):
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
    """Every distinct indicator name of the index after the fixed queries, then every distinct
    "unit + name" (如「临江市教育局 师生满意度」): each request of a run asks something new (no
    answer, result page or query vector can be reused from an earlier request)."""
    from search.engine import Engine

    rows = [r for r in Engine.open(index).rows_json() if r["name"].strip()]
    names = dict.fromkeys(r["name"] for r in rows)
    SEARCHES.extend(n for n in names if n not in SEARCHES)
    pairs = dict.fromkeys(f"{r['unit']} {r['name']}" for r in rows if r.get("unit"))
    SEARCHES.extend(p for p in pairs if p not in SEARCHES)


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
        call(url, "refresh", [], session)  # untimed: the page load, which opens the session in a browser
        start.wait()
        for j in range(per_client):
            if time.monotonic() > deadline:
                break
            args = make_args(c * 7 + j)
            ok, dt = call_json(url, args[0]) if api == "json" else call(url, api, args, session)
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


def start_server(index: Path, port: int, log: Path, root: Path = ROOT) -> subprocess.Popen:
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "--index", str(index), "--port", str(port)],
        cwd=root, stdout=out, stderr=subprocess.STDOUT,
        env={**os.environ, "PERFSEARCH_AUTH": "", "PYTHONPATH": str(root)},
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while "已启动" not in log.read_text(errors="replace"):  # printed once the model is warm
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"服务未能启动：\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    return proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc), threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def checkout(ref: str, dest: Path) -> Path:
    """The source tree of git revision ``ref`` (``git archive``) in ``dest``."""
    import io
    import tarfile

    data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], check=True,
                          capture_output=True).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def measure(label: str, root: Path, index: Path, work: Path, args: argparse.Namespace) -> dict[str, dict]:
    """Start the server of source tree ``root``, run the phases, stop it; {api: {"base", "loaded"}}.
    Every server gets the same sequence of queries."""
    global _counter
    _counter = iter(range(10**9))
    port = free_port()
    log = work / f"serve-{port}.log"
    t0 = time.perf_counter()
    print(f"== {label}：{time.strftime('%H:%M:%S')} 启动，1 分钟负载 {os.getloadavg()[0]:.2f}", flush=True)
    proc = start_server(index, port, log, root)
    print(f"   服务就绪（含模型预热）用时 {time.perf_counter() - t0:.1f} 秒", flush=True)
    url = f"http://127.0.0.1:{port}/"
    out: dict[str, dict] = {}
    try:
        # the very first search after "已启动" (the model is warmed before that line)
        ok, first = call(url, "search", ["师生满意度", "", "", "", "", "", "", ""], uuid.uuid4().hex[:11])
        print(f"   启动后第一次检索：{first * 1000:.0f} ms{'' if ok else '（失败）'}", flush=True)
        apis = [("检索 /search", "search", search_args)]
        if args.json and call_json(url, "满意度")[0]:  # older versions have no JSON route
            apis.append(("检索 /api/search", "json", search_args))
        if args.ask:
            apis.append(("问答 /ask", "ask", ask_args))
        for name, api, make in apis:
            phase(url, api, make, 2, 3, 20)  # first calls: connection setup, caches
            base = phase(url, api, make, 1, max(10, args.per_client), args.seconds)
            load = os.getloadavg()[0]
            cpu0, own0 = cpu_seconds(proc.pid), time.process_time()
            loaded = phase(url, api, make, args.clients, args.per_client, args.seconds)
            n = max(1, loaded["n"] + loaded["errors"])
            loaded["cpu_ms"] = (cpu_seconds(proc.pid) - cpu0) / n * 1000
            loaded["client_cpu_ms"] = (time.process_time() - own0) / n * 1000
            show(name, base)
            show(name, loaded)
            print(f"{name:<16} CPU 每次请求：服务端 {loaded['cpu_ms']:.1f} ms，压测客户端 {loaded['client_cpu_ms']:.1f} ms"
                  f"（{args.clients} 客户端阶段）")  # fmt: skip
            print(f"{name:<16} {args.clients} 客户端 / 1 客户端：p50 ×{loaded['p50'] / base['p50']:.1f}，"
                  f"p95 ×{loaded['p95'] / base['p95']:.1f}（{args.clients} 客户端阶段开始时 1 分钟负载 {load:.2f}）",
                  flush=True)  # fmt: skip
            out[api] = {"name": name, "base": base, "loaded": loaded}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        _DEPS.pop(url, None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", default=os.environ.get("PERFSEARCH_INDEX", "index"))
    ap.add_argument("--corpus", default=str(ROOT / "corpus"))
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--per-client", type=int, default=15, help="每个客户端最多请求数")
    ap.add_argument("--seconds", type=float, default=60.0, help="每个阶段的时间上限")
    ap.add_argument("--ask", action="store_true", help="同时测问答接口")
    ap.add_argument("--json", action="store_true", help="同时测 JSON 检索接口 GET /api/search（旧版本没有该接口）")
    ap.add_argument("--against", metavar="REF", default=None,
                    help="对照的 git 版本（如 HEAD~3 或提交号）：同一次运行中两个版本的服务轮流测，打印比值")
    ap.add_argument("--same-query", action="store_true",
                    help="所有请求都检索同一个词（结果缓存命中）：测每次请求的固定开销（HTTP、Gradio）")
    ap.add_argument("--rounds", type=int, default=1, help="轮数（有 --against 时每轮两个版本各测一次）")
    args = ap.parse_args()

    index = Path(args.index).resolve()
    ensure_index(index, Path(args.corpus))
    if args.same_query:
        SEARCHES[:] = ["师生满意度"]
    else:
        load_searches(index)
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    print(f"网页服务压测：{os.cpu_count()} 个 CPU，开始时 1 分钟负载 {os.getloadavg()[0]:.2f}，索引 {index}；"
          f"检索词 {len(SEARCHES)} 个互不相同，按顺序使用（同一次运行中不重复，直到用完）")  # fmt: skip
    try:
        trees = [("当前版本", ROOT)]
        if args.against:
            trees.append((f"对照 {args.against}", checkout(args.against, work / "against")))
        results: dict[str, list[dict]] = {label: [] for label, _ in trees}
        for _ in range(max(1, args.rounds)):
            for label, root in (trees if _ % 2 == 0 else trees[::-1]):
                results[label].append(measure(label, root, index, work, args))
        if args.against:
            cur, ref = (results[label] for label, _ in trees)
            print(f"== 当前版本 / 对照 {args.against}（{args.clients} 客户端，各轮取中位数）")
            for api in [a for a in cur[0] if a in ref[0] and a != "json"]:
                def med(runs: list[dict], key: str, api: str = api) -> float:
                    return statistics.median(r[api]["loaded"][key] for r in runs)

                print(f"{cur[0][api]['name']:<16} p50 {med(cur, 'p50') * 1000:.0f} / {med(ref, 'p50') * 1000:.0f} ms"
                      f" = ×{med(cur, 'p50') / med(ref, 'p50'):.2f}；p95 {med(cur, 'p95') * 1000:.0f} / "
                      f"{med(ref, 'p95') * 1000:.0f} ms = ×{med(cur, 'p95') / med(ref, 'p95'):.2f}；"
                      f"吞吐 {med(cur, 'rps'):.1f} / {med(ref, 'rps'):.1f} 次/秒；"
                      f"服务端 CPU 每次 {med(cur, 'cpu_ms'):.1f} / {med(ref, 'cpu_ms'):.1f} ms = "
                      f"×{med(cur, 'cpu_ms') / med(ref, 'cpu_ms'):.2f}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
