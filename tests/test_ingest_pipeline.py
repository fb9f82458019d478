"""Batch ingestion through the CLI: contract, incremental updates, bad input, atomicity.

Commands run in-process with click's ``CliRunner`` on the test encoder ``fake-bigram``; the kill -9
test is the one test that runs ``perfsearch ingest`` as a separate process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import CORPUS, FAKE_MODEL, SEED_000, SEED_003, SEEDS

ROW_KEYS = {
    "doc", "unit", "year", "table", "project", "function", "level1", "level2", "task",
    "name", "half_year", "value", "target", "source",
}
DOC_KEYS = {"doc", "unit", "year", "table", "project", "total_budget_wan", "expenses", "goals"}


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, env: dict | None = None, check: bool = True) -> Run:
    """``perfsearch ARGS`` in-process; ``ingest`` embeds with ``--model fake-bigram``."""
    from ui.cli import main

    if args[0] == "ingest":
        args = (*args, "--model", FAKE_MODEL)
    r = CliRunner().invoke(main, list(args), env=env)
    p = Run(r.exit_code, r.stdout, r.stderr)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}\n{r.exception!r}")
    return p


def rows_of(index: Path) -> list[dict]:
    out = cli("rows", "--index", str(index), "--json").stdout
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture()
def seeds_dir(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for s in SEEDS:
        shutil.copy(s, d / s.name)
    return d


def test_rows_and_docs_contract(seeds_dir: Path, tmp_path: Path):
    index = tmp_path / "ix"
    p = cli("ingest", str(seeds_dir), "--index", str(index), "--no-progress")
    assert "新增 5 个" in p.stderr and "15 张表、321 条指标" in p.stderr
    rows = rows_of(index)
    assert len(rows) == 321
    assert all(set(r) == ROW_KEYS for r in rows)
    assert all(set(r["target"]) == {"op", "number", "unit", "qualitative"} for r in rows)
    assert all(set(r["source"]) == {"file", "page", "line", "bbox"} for r in rows)
    r = next(r for r in rows if r["name"] == "师生满意度大于 90%")
    assert r == {
        "doc": SEED_003.name, "unit": "赣州经济技术开发区教体服务中心", "year": 2023, "table": "department",
        "project": "", "function": "", "level1": "满意度指标", "level2": "服务对象满意度指标", "task": "",
        "name": "师生满意度大于 90%", "half_year": "", "value": "≥90%",
        "target": {"op": "≥", "number": 90.0, "unit": "%", "qualitative": False},
        "source": {"file": SEED_003.name, "page": None, "line": 46, "bbox": None},
    }
    docs = [json.loads(x) for x in cli("docs", "--index", str(index), "--json").stdout.splitlines()]
    assert len(docs) == 15 and all(set(d) == DOC_KEYS for d in docs)
    d = next(d for d in docs if d["doc"] == SEED_000.name)
    assert d["total_budget_wan"] == 794.87
    assert d["expenses"][0] == {"name": "基本支出", "half_year": 200.1, "annual": 400.21}
    assert set(d["goals"]) == {"中长期目标", "年度目标"}
    assert [d["project"] for d in docs if d["doc"] == SEED_003.name][1:3] == ["招商引资工作经费", "高考入学政府资助区配套"]


def test_default_index_dir_from_environment(seeds_dir: Path, tmp_path: Path):
    index = tmp_path / "env-index"
    cli("ingest", str(seeds_dir / SEED_000.name), "--no-progress", env={"PERFSEARCH_INDEX": str(index)})
    assert (index / "manifest.json").is_file()
    assert len(rows_of(index)) == 53


def test_incremental_skip_change_and_prune(seeds_dir: Path, tmp_path: Path):
    index = tmp_path / "ix"
    cli("ingest", str(seeds_dir), "--index", str(index), "--no-progress")
    m1 = json.loads((index / "manifest.json").read_text())
    # unchanged files are skipped and the index is not rewritten
    p = cli("ingest", str(seeds_dir), "--index", str(index), "--no-progress")
    assert "未变 5 个" in p.stderr
    assert json.loads((index / "manifest.json").read_text())["generation"] == m1["generation"]
    # a changed file is replaced
    f = seeds_dir / SEED_000.name
    f.write_text(f.read_text(encoding="utf-8").replace("师生满意度", "x").replace("≥85%", "≥88%"), encoding="utf-8")
    p = cli("ingest", str(seeds_dir), "--index", str(index), "--no-progress")
    assert "更新 1 个" in p.stderr and "未变 4 个" in p.stderr
    rows = rows_of(index)
    sat = next(r for r in rows if r["doc"] == SEED_000.name and r["level1"] == "满意度")
    assert sat["value"] == "≥88%"
    # a removed file is dropped with --prune only
    (seeds_dir / SEED_003.name).unlink()
    cli("ingest", str(seeds_dir), "--index", str(index), "--no-progress")
    assert any(r["doc"] == SEED_003.name for r in rows_of(index))
    p = cli("ingest", str(seeds_dir), "--index", str(index), "--no-progress", "--prune")
    assert "移除 1 个" in p.stderr
    assert not any(r["doc"] == SEED_003.name for r in rows_of(index))
    assert len(rows_of(index)) == 321 - 107
    # old generation files are cleaned up
    db_files = [p.name for p in index.iterdir() if p.name.startswith("docs-")]
    assert len(db_files) == 1


def _bad_files(d: Path) -> dict[str, str]:
    """Bad inputs and the reason each must report."""
    (d / "empty.txt").write_bytes(b"")
    (d / "garbage.txt").write_bytes(bytes(range(256)) * 20)
    (d / "garbage.pdf").write_bytes(b"\x00\x01 not a pdf at all" * 30)
    (d / "truncated.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" + b"x" * 100)
    (d / "broken.xlsx").write_bytes(b"PK\x03\x04 this is not really a zip")
    return {
        "empty.txt": "文件为空",
        "garbage.txt": "二进制",
        "garbage.pdf": "PDF",
        "truncated.pdf": "PDF",
        "broken.xlsx": "Excel",
    }


def test_bad_files_reported_batch_continues_index_intact(seeds_dir: Path, tmp_path: Path):
    index = tmp_path / "ix"
    cli("ingest", str(seeds_dir), "--index", str(index), "--no-progress")
    before = rows_of(index)
    bad = tmp_path / "bad"
    bad.mkdir()
    expected = _bad_files(bad)
    shutil.copy(CORPUS / "other_bracket_list_2024.txt", bad / "good.txt")
    p = cli("ingest", str(bad), "--index", str(index), "--no-progress", check=False)
    assert p.returncode == 1
    for name, reason in expected.items():
        line = next((ln for ln in p.stderr.splitlines() if ln.startswith(f"错误：{name}")), None)
        assert line is not None, f"no error line for {name}:\n{p.stderr}"
        assert reason in line, line
    # the good file in the same batch was ingested, nothing else changed
    after = rows_of(index)
    assert len(after) == len(before) + 7
    assert [r for r in after if r["doc"] != "good.txt"] == before


def test_gbk_text_is_decoded(tmp_path: Path):
    index = tmp_path / "ix"
    f = tmp_path / "gbk_seed.txt"
    f.write_bytes(SEED_003.read_text(encoding="utf-8").encode("gb18030"))
    cli("ingest", str(f), "--index", str(index), "--no-progress")
    rows = rows_of(index)
    assert len(rows) == 107
    assert rows[0]["unit"] == "赣州经济技术开发区教体服务中心"


def test_missing_index_gives_chinese_error(tmp_path: Path):
    p = cli("rows", "--index", str(tmp_path / "nope"), "--json", check=False)
    assert p.returncode != 0 and "还没有索引" in p.stderr


def test_kill_during_ingest_leaves_previous_index_loadable(seeds_dir: Path, tmp_path: Path):
    index = tmp_path / "ix"
    cli("ingest", str(seeds_dir / SEED_000.name), "--index", str(index), "--no-progress")
    before = rows_of(index)
    big = tmp_path / "big"
    big.mkdir()
    text = SEED_003.read_text(encoding="utf-8")
    for i in range(60):
        (big / f"copy{i:03d}.txt").write_text(text.replace("2023", str(1900 + i)), encoding="utf-8")
    killed = 0
    for delay in (0.3, 0.6, 0.9, 1.2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "ingest", str(big), "--index", str(index), "--no-progress",
             "--model", FAKE_MODEL],
            cwd=Path(__file__).parent.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        rows = rows_of(index)  # always loadable
        assert rows == before or len(rows) == len(before) + 60 * 107
        if len(rows) != len(before):
            break
    assert killed >= 1, "ingest finished before it could be killed; make the batch larger"


def test_perfsearchignore_keeps_labels_and_notes_out_of_the_index(tmp_path: Path):
    """A folder's .perfsearchignore excludes matching names there (reported as skipped, with the reason)."""
    from indexer.pipeline import scan_paths

    src = CORPUS / "realworld"
    doc = "tianjin_hebeiqu_fayuan_2023"
    folder = tmp_path / "realworld"
    folder.mkdir()
    for name in (f"{doc}.txt", f"{doc}.labels.jsonl", "SOURCES.md", ".perfsearchignore"):
        shutil.copy(src / name, folder / name)
    (tmp_path / "notes.md").write_text("# 说明\n本文件夹外的说明文件不受该忽略规则影响。\n", encoding="utf-8")
    scan = scan_paths([tmp_path])
    assert [f.name for f in scan.files] == ["notes.md", f"{doc}.txt"]
    assert [(e.file, e.reason) for e in scan.skipped] == [
        ("SOURCES.md", "按 .perfsearchignore 排除，已跳过"),
        (f"{doc}.labels.jsonl", "按 .perfsearchignore 排除，已跳过"),
    ]
    assert scan.errors == []
