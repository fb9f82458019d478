"""The Gradio HTTP API of the web interface, called with gradio_client against a live local server."""

from __future__ import annotations

import shutil
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from tests.test_ui_handlers import copy_ui_index

DRAFT_HEADERS = ["一级指标", "二级指标", "三级指标", "指标值", "检查意见"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from ui.app import EngineHolder, create_server

    index = copy_ui_index(tmp_path_factory, "ui-api")
    srv = create_server(EngineHolder(index), port=free_port()).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server.url, verbose=False)


def _rows(table: dict) -> list[dict]:
    return [dict(zip(table["headers"], row)) for row in table["data"]]


def test_named_endpoints(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/search", "/ask", "/suggest", "/check", "/upload", "/export_results", "/export_draft",
            "/open_source"} <= names  # fmt: skip


def test_page_is_served_in_chinese(server):
    html = urllib.request.urlopen(server.url, timeout=30).read().decode("utf-8")
    assert "Navigator.prototype" in html and "zh-CN" in html  # Gradio's own widgets follow the Chinese locale
    assert "绩效目标检索助手" in html


def test_search(client):
    status, table, clusters = client.predict(
        "满意度", "临江市教育局", "", "", "", "", "", "", api_name="/search"
    )
    rows = _rows(table)
    assert "找到" in status and rows
    assert {r["单位"] for r in rows} == {"临江市教育局"}
    assert isinstance(clusters, str)


def _get_json(url: str, headers: dict | None = None) -> tuple[int, dict]:
    import json

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_json_search_route_matches_the_search_tab(client, server):
    """``GET /api/search``: the same rows, count and status as the Gradio ``/search`` endpoint."""
    from urllib.parse import urlencode

    status, table, _ = client.predict("满意度", "临江市教育局", "", "", "", "", "", "", api_name="/search")
    code, body = _get_json(server.url + "api/search?" + urlencode({"q": "满意度", "unit": "临江市教育局"}))
    assert code == 200
    assert body["status"] == status and body["rows"] == table["data"] and body["columns"] == table["headers"]
    assert body["total"] == body["shown"] == len(body["hits"]) == len(table["data"])
    assert {h["unit"] for h in body["hits"]} == {"临江市教育局"}
    code, body = _get_json(server.url + "api/search?" + urlencode({"q": "qzxv乱码测试"}))
    assert code == 200 and body["total"] == 0 and body["hits"] == [] and body["status"].startswith("没有找到相关指标")
    code, body = _get_json(server.url + "api/search")
    assert code == 400 and body["detail"].startswith("请输入要检索")


def test_empty_search_shows_a_hint(client):
    status, _, _ = client.predict("", "", "", "", "", "", "", "", api_name="/search")
    assert status.startswith("请输入要检索")


def test_nonsense_query_finds_nothing(client):
    status, table, clusters = client.predict("qzxv乱码测试", "", "", "", "", "", "", "", api_name="/search")
    assert status.startswith("没有找到相关指标") and table["data"] == [] and clusters == ""


def _call_raw(url: str, api: str, data: list) -> tuple[str, str]:
    """POST /gradio_api/call/<api> then read its event stream: (last event name, its data)."""
    import json

    req = urllib.request.Request(
        f"{url}gradio_api/call/{api}", data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    event_id = json.loads(urllib.request.urlopen(req, timeout=60).read())["event_id"]
    text = urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event_id}", timeout=120).read().decode()
    events = [b for b in text.split("\n\n") if b.strip()]
    last = events[-1].splitlines()
    return last[0].removeprefix("event: ").strip(), "\n".join(x.removeprefix("data: ") for x in last[1:])


def test_upload_api_refuses_server_paths(server, tmp_path):
    """A path on the server's disk posted to the upload API is refused, existing or not,
    with the same neutral message, and nothing reaches the index."""
    from search.uploads import UPLOAD_REFUSED

    engine = server.demo.holder.get()
    secret = tmp_path / "secret.txt"
    secret.write_text((CORPUS / "other_bracket_list_2024.txt").read_text(encoding="utf-8").replace(
        "机柜数量", "机密指标甲"), encoding="utf-8")  # fmt: skip
    docs_before = len(engine.documents())
    replies = []
    for path in (str(secret), str(tmp_path / "missing.txt"), str(CORPUS / "other_csv_export_2024.csv"),
                 "http://127.0.0.1:9/x.txt"):  # fmt: skip
        file = {"path": path, "orig_name": "x.txt", "meta": {"_type": "gradio.FileData"}}
        event, data = _call_raw(server.url, "upload", [[file]])
        assert event == "error", data
        reply = __import__("json").loads(data)
        assert reply["error"] == UPLOAD_REFUSED and reply["title"] == "无法导入"
        replies.append(data)
    assert len(set(replies)) == 1  # the reply does not tell whether the path exists
    assert len(engine.documents()) == docs_before
    assert not any(r["name"] == "机密指标甲" for r in engine.rows_json())
    stored = [p for p in (engine.index_dir / "uploads").glob("*") if p.suffix == ".txt"] if (
        engine.index_dir / "uploads").is_dir() else []  # fmt: skip
    assert all("机密指标甲" not in p.read_text(encoding="utf-8") for p in stored)
    # nor can a client download a server file through Gradio's file route
    for path in ("/etc/passwd", str(secret), str(engine.index_dir / "manifest.json")):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{server.url}gradio_api/file={path}", timeout=30)
        assert err.value.code == 403


def test_export_results_downloads_a_file(client, server):
    import tempfile

    from openpyxl import load_workbook

    before = set(Path(tempfile.gettempdir()).glob("perfsearch-export-*"))
    status, _, _ = client.predict("满意度", "", "", "", "", "", "", "", api_name="/search")
    total = int(status.split("找到 ")[1].split(" 条")[0])
    path = client.predict("满意度", api_name="/export_results")  # downloaded by the client over HTTP
    assert Path(path).suffix == ".xlsx"
    ws = load_workbook(path).active
    assert ws.cell(1, 2).value == "三级指标" and ws.max_row == total + 1  # every match, not one page
    csv_path = client.predict("满意度", "", "", "", "", "", "", "", "csv", api_name="/export_results")
    assert Path(csv_path).read_text(encoding="utf-8-sig").startswith("序号,三级指标")
    assert set(Path(tempfile.gettempdir()).glob("perfsearch-export-*")) == before  # no temp dirs left behind


def test_ask(client):
    answer, plan, rows, near = client.predict("哪些单位设定了满意度≥90%?", api_name="/ask")
    assert "临江市教育局" in answer
    assert plan.startswith("理解为")
    assert "临江市教育局" in {r["单位"] for r in _rows(rows)}
    assert "苏州市教育质量监测中心" in {r["单位"] for r in _rows(near)}


def test_suggest_add_check_export(client):
    from openpyxl import load_workbook

    status, table = client.predict("网络升级改造项目", api_name="/suggest")
    suggestions = _rows(table)
    assert suggestions and "建议" in status
    picked = [[s["一级指标"], s["二级指标"], s["建议指标"], s["常用指标值"], ""] for s in suggestions[:2]]
    draft = {"headers": DRAFT_HEADERS, "data": [*picked, ["产出指标", "数量指标", "培训人次", "显著提高", ""]]}
    checked, summary = client.predict(draft, "网络升级改造项目", "临江市教育局", "2025", api_name="/check")
    notes = [r["检查意见"] for r in _rows(checked)]
    assert len(notes) == 3 and notes[2] and "检查完成" in summary
    path = client.predict(draft, "网络升级改造项目", "临江市教育局", "2025", api_name="/export_draft")
    assert Path(path).suffix == ".xlsx"
    cells = [c for row in load_workbook(path).active.iter_rows(values_only=True) for c in row if c]
    assert "培训人次" in cells


def test_upload_then_search(client, tmp_path):
    from gradio_client import handle_file

    src = tmp_path / "梅岭县新项目.txt"
    text = (CORPUS / "other_bracket_list_2024.txt").read_text(encoding="utf-8")
    src.write_text(text.replace("机柜数量", "无人机巡检架次").replace("智慧校园网络升级项目", "无人机巡检项目"),
                   encoding="utf-8")  # fmt: skip
    bad = tmp_path / "损坏.xlsx"
    bad.write_bytes(b"PK\x03\x04 but not really a workbook")
    summary, table = client.predict([handle_file(str(src)), handle_file(str(bad))], api_name="/upload")
    results = {r["文件"]: r["结果"] for r in _rows(table)}
    assert results == {"梅岭县新项目.txt": "已导入", "损坏.xlsx": "失败"}, table
    assert "成功 1 个" in summary
    _, found, _ = client.predict("无人机巡检架次", "", "", "", "", "", "", "", api_name="/search")
    hit = next(r for r in _rows(found) if r["三级指标"] == "无人机巡检架次")
    assert hit["来源"].startswith("梅岭县新项目.txt 第")


def test_open_source(client):
    shown = client.predict(
        {"file": "other_bracket_list_2024.txt", "page": None, "line": 13, "bbox": None}, api_name="/open_source"
    )
    assert "第13行" in shown["title"] and "师生满意度" in shown["highlighted"]
    pdf = client.predict(
        {"file": "pdf_000_suzhou_jiance_2023.pdf", "page": 2, "line": None, "bbox": [40, 600, 555, 615]},
        api_name="/open_source",
    )
    assert pdf["has_image"] and "第2页" in pdf["title"]


def test_login_required_when_auth_is_set(tmp_path_factory):
    from gradio_client import Client

    from ui.app import EngineHolder, create_server

    index = copy_ui_index(tmp_path_factory, "ui-auth")
    srv = create_server(EngineHolder(index), port=free_port(), auth=("科室", "s3cret"), warm=False).start()
    try:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(srv.url + "config", timeout=30)
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain ValueError here
            Client(srv.url, verbose=False)
        c = Client(srv.url, auth=("科室", "s3cret"), verbose=False)
        status, _, _ = c.predict("满意度", "", "", "", "", "", "", "", api_name="/search")
        assert "找到" in status
        # the JSON route needs the same account (HTTP Basic)
        import base64

        code, body = _get_json(srv.url + "api/search?q=%E6%BB%A1%E6%84%8F%E5%BA%A6")
        assert code == 401 and "需要登录" in body["detail"]
        good = "Basic " + base64.b64encode("科室:s3cret".encode()).decode()
        code, body = _get_json(srv.url + "api/search?q=%E6%BB%A1%E6%84%8F%E5%BA%A6", {"Authorization": good})
        assert code == 200 and body["status"] == status
        # failed logins: after 3 the client must wait, told so in Chinese
        import json
        from urllib.parse import urlencode

        def login(password: str) -> tuple[int, str]:
            data = urlencode({"username": "科室", "password": password}).encode()
            try:
                with urllib.request.urlopen(urllib.request.Request(srv.url + "login", data=data), timeout=30) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()

        assert [login("wrong")[0] for _ in range(3)] == [400, 400, 400]
        code, body = login("s3cret")  # even the right password waits now
        assert code == 429 and "登录失败次数过多" in json.loads(body)["detail"]
    finally:
        srv.stop()
        shutil.rmtree(index, ignore_errors=True)


def test_serve_helpers():
    import click

    from ui.cli_serve import is_loopback, parse_auth

    assert parse_auth("科室:pa:ss") == ("科室", "pa:ss")
    assert parse_auth("") is None and parse_auth(None) is None
    for bad in ("nopass", ":x", "x:"):
        with pytest.raises(click.BadParameter):
            parse_auth(bad)
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")


def test_serve_builds_a_missing_index_and_requires_login(tmp_path):
    """``perfsearch serve --corpus DIR`` builds the index first; PERFSEARCH_AUTH turns on the login.

    A separate process (serve runs until Ctrl+C), on the test encoder ``fake-bigram``."""
    import subprocess
    import sys
    import time

    from tests.conftest import FAKE_MODEL

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "other_bracket_list_2024.txt", corpus)
    index = tmp_path / "index"
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "serve", "--index", str(index), "--corpus", str(corpus),
             "--port", str(port), "--model", FAKE_MODEL],  # fmt: skip
            cwd=Path(__file__).resolve().parent.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**__import__("os").environ, "PERFSEARCH_AUTH": "科室:s3cret"},
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")
            try:
                urllib.request.urlopen(url + "config", timeout=5)
                raise AssertionError("config must need a login")
            except urllib.error.HTTPError as exc:
                assert exc.code == 401
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.3)
        # the startup line is printed right after the server starts answering
        while "已启动" not in log.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.2)
        text = log.read_text(errors="replace")
        assert "正在从" in text and "新增 1 个" in text and "已启动" in text
        # the search model is warmed before the server says it is ready (the first search does not wait)
        assert text.index("正在加载检索模型") < text.index("已启动"), text
        assert (index / "manifest.json").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
