"""Honest search results in the web handlers: relevance floor, true counts, paging, one row per
indicator across table copies, canonical level labels, cascading choices, upload refusal, exports."""

from __future__ import annotations

import shutil

import gradio as gr
import pytest

from tests.conftest import CORPUS
from tests.test_ui_handlers import copy_ui_index


@pytest.fixture(scope="module")
def h():
    from ui import handlers

    return handlers


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from search.engine import Engine

    return Engine.open(copy_ui_index(tmp_path_factory, "ui-results"))


@pytest.fixture(scope="module")
def copies_engine(tmp_path_factory):
    """One table set as text and as PDF (the same 部门整体 and project tables), with the fake encoder."""
    from search.engine import Engine
    from search.retrieval import artifacts
    from tests.test_search_fakes import FakeEncoder
    from tests.test_ui_handlers import _corpus_file

    artifacts._encoders.setdefault("fake:bigram-64", FakeEncoder())
    src = tmp_path_factory.mktemp("copies-src")
    files = [_corpus_file("pdf_000_suzhou_jiance_2023.pdf", src)]
    shutil.copy(CORPUS / "000_49ac853719709592.txt", src)
    files.append(src / "000_49ac853719709592.txt")
    eng = Engine.open(tmp_path_factory.mktemp("copies") / "index", model="fake:bigram-64")
    report = eng.ingest(files)
    assert not report.errors
    return eng


def test_nonsense_query_finds_nothing(h, engine):
    view = h.search(engine, "qzxv乱码测试")
    assert view.hits == [] and view.total == 0 and len(view.table) == 0
    assert view.status.startswith("没有找到相关指标") and view.clusters == ""


def test_true_count_and_paging(h, engine):
    first = h.search(engine, "满意度", k=3)
    assert len(first.hits) == 3 and first.total > 3 and first.has_more
    assert f"找到 {first.total} 条相关指标，显示前 3 条" in first.status
    everything = h.search(engine, "满意度", k=first.total + 10)
    assert len(everything.hits) == everything.total == first.total and not everything.has_more
    assert [x["name"] for x in everything.hits[:3]] == [x["name"] for x in first.hits]
    assert f"找到 {first.total} 条相关指标。" in everything.status


def test_unit_filter_is_not_padded(h, engine):
    view = h.search(engine, "满意度", unit="临江市教育局", k=30)
    assert view.hits and {x["unit"] for x in view.hits} == {"临江市教育局"}
    assert view.total == len(view.hits) < 30
    assert "师生满意度" in {x["name"] for x in view.hits}


def test_filter_only_listing_shows_each_indicator_once(h, copies_engine):
    from search.retrieval.retrieve import copy_identity

    rows = copies_engine.rows_json()
    suzhou = [r for r in rows if r["unit"] == "苏州市教育质量监测中心"]
    distinct = {copy_identity(r) for r in suzhou}
    assert len(suzhou) == 2 * len(distinct)  # the txt and the PDF copy of every row
    view = h.search(copies_engine, "", unit="苏州市教育质量监测中心", k=1000)
    assert view.total == len(view.hits) == len(distinct)
    assert len({copy_identity(x) for x in view.hits}) == len(view.hits)


def test_level_labels_are_canonical(h, copies_engine, engine):
    from search.retrieval.levels import canonical_levels

    for eng in (engine, copies_engine):
        c = h.filter_choices(eng)
        level1 = [v for _, v in c["level1"]][1:]
        assert level1 and all(canonical_levels(v, "")[0] == v for v in level1)
        assert len(level1) == len(set(level1))
    # the traditional-script and unsuffixed labels of the UI corpus filter as one label
    view = h.search(engine, "", level1="效益", k=1000)
    assert view.hits
    assert {canonical_levels(x["level1"], x["level2"])[0] for x in view.hits} == {"效益指标"}
    written = {x["level1"] for x in view.hits}
    same = h.search(engine, "", level1="效益指標", k=1000)
    assert same.total == view.total and {x["level1"] for x in same.hits} == written


def test_choices_cascade(h, engine):
    everything = h.filter_choices(engine)
    one = h.filter_choices(engine, unit="临江市教育局")
    assert [v for _, v in one["year"]] == ["", "2024"]
    assert [v for _, v in one["project"]] == ["", "智慧校园网络升级项目"]
    assert len(everything["project"]) > len(one["project"])
    assert one["unit"] == everything["unit"]  # the unit list itself never shrinks
    l2 = [v for _, v in h.filter_choices(engine, level1="产出指标")["level2"]][1:]
    assert l2 and set(l2) <= {"数量指标", "质量指标", "时效指标"}


def test_upload_refuses_files_outside_the_upload_area(h, engine, tmp_path):
    from search.uploads import UPLOAD_REFUSED

    area = tmp_path / "gradio-cache"
    area.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text((CORPUS / "other_bracket_list_2024.txt").read_text(encoding="utf-8"), encoding="utf-8")
    inside = area / "abc" / "x.txt"
    inside.parent.mkdir()
    link = area / "link.txt"
    link.symlink_to(outside)
    before = len(engine.documents())
    for bad in ([outside], [tmp_path / "missing.txt"], [area / ".." / "secret.txt"], [link], [area]):
        with pytest.raises(gr.Error) as err:
            h.upload(engine, bad, upload_root=area)
        assert err.value.message == UPLOAD_REFUSED
    inside.write_text("这不是绩效目标表\n", encoding="utf-8")
    with pytest.raises(gr.Error, match=UPLOAD_REFUSED):  # one foreign file refuses the whole request
        h.upload(engine, [inside, outside], upload_root=area)
    assert len(engine.documents()) == before


def test_exports_go_to_the_served_area_and_are_cleaned_up(h, engine, tmp_path):
    root = tmp_path / "exports"
    d = h.new_export_dir(root)
    assert d.parent == root and d.is_dir()
    path = h.export_hits(engine, h.search(engine, "满意度").hits, "csv", d)
    assert path.is_file()
    assert h.cleanup_exports() >= 1 and not d.exists()


def test_suggestion_detail_counts_start_at_zero_and_list_every_source(h, engine):
    view = h.suggest(engine, "网络升级改造项目")
    item = next(it for it in view.items if it.get("rows", 0) >= 2)
    d = h.suggestion_detail(engine, item)
    assert d.y_max == int(d.chart["次数"].max()) and d.chart["次数"].min() >= 1
    assert len(d.example_hits) == item["rows"] and f"列出全部 {item['rows']} 个来源" in d.note
    # 部门整体 履职 rows are not suggested for a project table
    assert all(it["level1"] != "履职" for it in view.items)


def test_draft_carries_goal_funds_half_year_weight_and_explanation(h, tmp_path):
    from openpyxl import load_workbook

    frame = h.draft_frame([("产出指标", "数量指标", "培训人次", "≥1000人次", "≥2000人次", "20", "全年参训人次")])
    path = h.export_draft(frame, "教师培训项目", "临江市教育局", "2025", tmp_path, goal="培训全区教师", funds="120")
    cells = [[c for c in row if c] for row in load_workbook(path).active.iter_rows(values_only=True)]
    flat = [c for row in cells for c in row]
    assert ["项目资金", "120 万元"] in cells and ["年度绩效目标", "培训全区教师"] in cells
    header = next(row for row in cells if "三级指标" in row)
    assert header == ["一级指标", "二级指标", "三级指标", "半年指标值", "全年指标值", "权重", "指标解释"]
    assert ["产出指标", "数量指标", "培训人次", "≥1000人次", "≥2000人次", "20", "全年参训人次"] in cells
    assert "培训全区教师" in flat


def test_login_backoff_per_client():
    from ui.app import LoginThrottle

    now = [100.0]
    t = LoginThrottle(free=3, base=2.0, cap=60.0, clock=lambda: now[0])
    for _ in range(3):
        assert t.wait_seconds("10.0.0.1") == 0
        t.failed("10.0.0.1")
    assert t.wait_seconds("10.0.0.1") == 2.0  # the 4th try waits 2 s
    assert t.wait_seconds("10.0.0.2") == 0  # another client is not affected
    now[0] += 2.0
    t.failed("10.0.0.1")
    assert t.wait_seconds("10.0.0.1") == 4.0  # doubles
    for _ in range(10):
        t.failed("10.0.0.1")
    assert t.wait_seconds("10.0.0.1") == 60.0  # capped
    t.succeeded("10.0.0.1")
    assert t.wait_seconds("10.0.0.1") == 0


def test_query_batcher_answers_concurrent_callers_in_batches():
    import threading
    import time

    import numpy as np

    from search.retrieval.retrieve import QueryBatcher

    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        time.sleep(0.05)  # a forward pass: callers arriving meanwhile wait for the next batch
        return np.array([[float(len(t)), float(ord(t[0]))] for t in texts], dtype=np.float32)

    b = QueryBatcher(encode, cache_size=100)
    queries = [f"{chr(0x4e00 + i)}查询{'x' * i}" for i in range(12)]
    out: dict[str, np.ndarray] = {}
    threads = [threading.Thread(target=lambda q=q: out.__setitem__(q, b.encode([q]))) for q in queries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for q in queries:  # every caller got the vector of its own query
        assert out[q].tolist() == [[float(len(q)), float(ord(q[0]))]]
    assert sum(len(c) for c in calls) == len(queries) and len(calls) < len(queries)
    n = len(calls)
    assert b.encode([queries[0], queries[1]]).shape == (2, 2) and len(calls) == n  # cached

    def broken(texts):
        raise RuntimeError("模型不可用")

    with pytest.raises(RuntimeError, match="模型不可用"):
        QueryBatcher(broken).encode(["满意度"])
