"""Robust ingestion (issue 16): one regression test per case, each with the smallest reproducer.

Everything runs in-process on ``indexer.pipeline.ingest_paths`` / ``parse_file``
without the embedding model; the CLI tests use click's runner with the fake
encoder registered as a model id.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from indexer.decode import DecodedText, decode_bytes, display_name
from indexer.ingest import parse_file
from indexer.model import IngestError
from indexer.pipeline import ingest_paths, scan_paths
from indexer.settings import IngestSettings, SettingsError
from indexer.store import IndexStore, IndexUnavailable, IndexWriteError
from tests.conftest import CORPUS, SEED_000, SEED_003
from tests.conftest import SEEDS as SEEDS_ALL  # noqa: N811

FIXTURES = Path(__file__).parent / "fixtures"
TRAD = CORPUS / "other_traditional_onecell_2023.txt"
FAST = IngestSettings(lock_wait_seconds=0)


def seed_text() -> str:
    return SEED_003.read_text(encoding="utf-8")


def xlsx_bytes(text: str, far_cell: str | None = None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for line in text.splitlines():
        ws.append(line.split("\t"))
    if far_cell:
        from openpyxl.styles import PatternFill

        ws[far_cell].fill = PatternFill("solid", fgColor="FFFF00")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def reasons(report) -> dict[str, str]:
    return {e.file: e.reason for e in report.errors}


# ---------------------------------------------------------------- 1. file names


def test_gbk_file_name_is_ingested_and_cited_by_a_printable_name(tmp_path: Path):
    raw_dir = os.fsencode(tmp_path / "in")
    os.mkdir(raw_dir)
    gbk_name = "赣州绩效目标.txt".encode("gbk")  # what a Windows zip unpacks to
    with open(os.path.join(raw_dir, gbk_name), "wb") as fh:
        fh.write(SEED_003.read_bytes())
    store = IndexStore(tmp_path / "ix")
    report = ingest_paths([tmp_path / "in"], store, settings=FAST)
    assert report.errors == []
    assert report.added == ["赣州绩效目标.txt"]
    doc = store.documents()[0]
    assert doc.file == "赣州绩效目标.txt"
    assert len(doc.rows) == 107
    assert doc.rows[0].source.label().startswith("赣州绩效目标.txt 第")


def test_control_characters_in_names_are_escaped_so_an_error_stays_one_line(tmp_path: Path):
    (tmp_path / "a\nb\x1b[31m.txt").write_bytes(b"")
    report = ingest_paths([tmp_path], IndexStore(tmp_path / "ix"), settings=FAST)
    assert [e.message for e in report.errors] == ["a\\nb\\x1b[31m.txt：文件为空，没有可读取的内容"]


def test_undecodable_name_gets_replacement_characters():
    name = os.fsdecode(b"\xff\xfe\xfa-x.txt")
    shown = display_name(name)
    assert shown.isprintable() and shown.endswith("-x.txt")
    shown.encode("utf-8")  # no surrogates left


# ---------------------------------------------------------------- 2. disk full, orphans, fsync


def test_orphans_of_an_interrupted_write_are_removed_at_the_next_ingest(tmp_path: Path):
    store = IndexStore(tmp_path / "ix")
    ingest_paths([SEED_000], store, settings=FAST)
    live = set(os.listdir(store.root))
    # what kill -9 in the middle of a write leaves behind
    orphans = ["docs-20260101000000-0badc0de.sqlite.tmp", "vec-20260101000000-0badc0de.npy",
               "manifest.json.1a2b3c.tmp"]
    for name in orphans:
        (store.root / name).write_bytes(b"x" * 1000)
    (store.root / "bm25-20260101000000-0badc0de").mkdir()
    (store.root / "bm25-20260101000000-0badc0de" / "data.npz").write_bytes(b"x")
    ingest_paths([SEED_003], store, settings=FAST)
    left = set(os.listdir(store.root))
    assert not any("0badc0de" in n or n.endswith(".tmp") for n in left)
    assert len(left) == len(live)  # manifest, .lock, one db


_KILLED_WRITER = """
import sys, time
from pathlib import Path
from indexer.pipeline import ingest_paths
from indexer.settings import IngestSettings
from indexer.store import IndexStore

def writer(root, gen, docs):
    (root / f"vec-{gen}.npy").write_bytes(b"x" * 900_000)  # a partial search artefact
    (root / "ready").write_text(gen)
    time.sleep(600)

ingest_paths([sys.argv[2]], IndexStore(sys.argv[1]), extra_writer=writer,
             settings=IngestSettings(lock_wait_seconds=0))
"""


def test_kill_9_mid_write_keeps_the_index_and_the_next_ingest_removes_its_files(tmp_path: Path):
    import signal
    import sys

    store = IndexStore(tmp_path / "ix")
    ingest_paths([SEED_000], store, settings=FAST)
    before = store.manifest().generation
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(store.root), str(SEED_003)], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    try:
        for _ in range(1200):  # until the writer is inside the new generation (at most 120 s)
            if (store.root / "ready").exists() or proc.poll() is not None:
                break
            threading.Event().wait(0.1)
        assert (store.root / "ready").exists(), "the writer never reached the artefact step"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    gen = (store.root / "ready").read_text()
    (store.root / "ready").unlink()
    orphans = [n for n in os.listdir(store.root) if gen in n]
    assert orphans  # the killed write left its files behind
    assert store.manifest().generation == before and [d.file for d in store.documents()] == [SEED_000.name]
    report = ingest_paths([SEED_003], store, settings=FAST)
    assert report.added == [SEED_003.name]
    assert not [n for n in os.listdir(store.root) if gen in n]


def test_every_generation_file_and_the_directory_are_fsynced_before_the_switch(tmp_path: Path, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    def writer(root, gen, docs):
        d = root / f"bm25-{gen}"
        d.mkdir()
        (d / "params.json").write_text("{}")
        (root / f"vec-{gen}.npy").write_bytes(b"\0" * 64)
        return {"bm25": {"files": [f"bm25-{gen}"]}, "embedding": {"files": [f"vec-{gen}.npy"]}}

    monkeypatch.setattr(os, "fsync", recording_fsync)
    store = IndexStore(tmp_path / "ix")
    store.write([parse_file(SEED_000)], extra_writer=writer)
    m = store.manifest()
    root = str(store.root.resolve())
    manifest_tmp = next(i for i, p in enumerate(synced) if p.startswith(root + "/manifest.json."))
    before_switch = set(synced[:manifest_tmp])
    gen_files = {f"{root}/{m.db}", f"{root}/vec-{m.generation}.npy",
                 f"{root}/bm25-{m.generation}/params.json", f"{root}/bm25-{m.generation}", root}
    assert gen_files <= before_switch


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root / CAP_SYS_ADMIN): {exc}")


@pytest.fixture()
def small_disk(tmp_path: Path):
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "4m")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False, capture_output=True)


def _fake_search_writer():
    from search.retrieval.artifacts import write_artifacts
    from tests.test_search_fakes import FakeEncoder

    enc = FakeEncoder()

    def writer(root, gen, docs):
        return write_artifacts(root, gen, docs, enc)

    return writer


def test_full_disk_reports_space_needed_and_recovers_after_freeing(small_disk: Path, tmp_path: Path):
    store = IndexStore(small_disk / "ix")
    ingest_paths([SEED_000], store, settings=FAST, extra_writer=_fake_search_writer())
    before = [d.file for d in store.documents()]
    # fill the disk, leaving a few KB
    filler = small_disk / "filler.bin"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    with open(filler, "r+b") as fh:
        fh.truncate(filler.stat().st_size - 16 * 1024)
    inp = tmp_path / "in"
    inp.mkdir()
    for p in (SEED_003, CORPUS / "001_5faa2bc3c3b6a31c.txt", CORPUS / "002_e915be5c49c8d360.txt"):
        shutil.copy(p, inp / p.name)
    with pytest.raises(IndexWriteError) as err:
        ingest_paths([inp], store, settings=FAST, extra_writer=_fake_search_writer())
    msg = str(err.value)
    assert msg.startswith("磁盘空间不足") and "约需" in msg and "MB" in msg and "原有索引保持不变" in msg
    # nothing of the failed generation is left; the old index still loads
    assert sorted(os.listdir(store.root)) == sorted(store.manifest().referenced_files())
    assert [d.file for d in store.documents()] == before
    filler.unlink()  # the user frees space; no manual step in the index
    report = ingest_paths([inp], store, settings=FAST, extra_writer=_fake_search_writer())
    assert report.errors == [] and len(report.added) == 3
    assert len(store.documents()) == 4


def test_sqlite_disk_full_is_recognised():
    from indexer.store import is_disk_full

    assert is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert is_disk_full(RuntimeError("Error: 'ret == 1' failed: write error: No space left on device"))
    assert not is_disk_full(ValueError("bad value"))


# ---------------------------------------------------------------- 3. resource bounds


def test_formatted_empty_cell_at_xfd1048576_does_not_blow_up(tmp_path: Path):
    p = tmp_path / "far.xlsx"
    p.write_bytes(xlsx_bytes(seed_text(), far_cell="XFD1048576"))
    doc = parse_file(p)
    assert len(doc.rows) == 107


def test_sheet_data_area_over_the_limit_is_refused_by_name(tmp_path: Path):
    p = tmp_path / "wide.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "一级指标"
    wb.active["AZ300"] = "x"
    wb.save(p)
    with pytest.raises(IngestError) as err:
        parse_file(p, settings=IngestSettings(max_sheet_rows=200))
    assert str(err.value) == (
        "wide.xlsx：工作表“Sheet”有数据的区域为 300 行 × 52 列，超过上限 200 行 × 200 列"
        "（PERFSEARCH_MAX_SHEET_ROWS / PERFSEARCH_MAX_SHEET_COLS）"
    )


def test_zip_bomb_limit(tmp_path: Path):
    p = tmp_path / "t.xlsx"
    p.write_bytes(xlsx_bytes(seed_text()))
    with pytest.raises(IngestError, match="解压后有 .* MB，超过 0.01 MB 的上限"):
        parse_file(p, settings=IngestSettings(max_uncompressed_mb=0.01))


def test_row_of_2000_cells_is_refused_before_layout(tmp_path: Path):
    p = tmp_path / "wide.txt"
    p.write_text(seed_text() + "\n" + "\t".join(str(i) for i in range(2000)) + "\n", encoding="utf-8")
    with pytest.raises(IngestError) as err:
        parse_file(p)
    assert err.value.line == (seed_text() + "\n").count("\n") + 1  # the 2000-cell line
    assert "一行有 2000 个单元格，超过每行 200 个的上限" in err.value.reason


def test_40k_character_cell_is_cut_with_a_warning(tmp_path: Path):
    p = tmp_path / "long.txt"
    run = "绩效目标完成率满意度" * 4000  # 40,000 characters jieba cannot split usefully
    p.write_text(seed_text() + f"\n说明\t{run}\n", encoding="utf-8")
    doc = parse_file(p)
    assert len(doc.rows) == 107  # the 107 indicators; a 说明 line is no indicator row
    assert doc.warnings == ("第266行有单元格长达 40000 个字符，超过 4000 个字符的上限（PERFSEARCH_MAX_CELL_CHARS），已截断",)
    assert "有单元格长达 40000 个字符，超过 4000 个字符的上限（PERFSEARCH_MAX_CELL_CHARS），已截断" in doc.warnings[0]


def test_file_size_limit(tmp_path: Path):
    store = IndexStore(tmp_path / "ix")
    report = ingest_paths([SEED_003], store, settings=IngestSettings(max_file_mb=0.001, lock_wait_seconds=0))
    assert reasons(report) == {
        SEED_003.name: f"文件大小 {SEED_003.stat().st_size / 1024 / 1024:.1f} MB 超过 0.001 MB 的上限（PERFSEARCH_MAX_FILE_MB）"
    }


def test_row_limit_before_decoding_and_before_layout():
    name = SEED_003.name
    with pytest.raises(IngestError) as err:  # line count of the raw bytes, before decoding
        parse_file(SEED_003, settings=IngestSettings(max_rows=10))
    assert str(err.value) == f"{name}：共有约 264 行，超过每个文件 10 行的上限（PERFSEARCH_MAX_ROWS）"
    with pytest.raises(IngestError) as err:  # grid rows, before the layout stage
        parse_file(SEED_003, settings=IngestSettings(max_rows=100))
    assert str(err.value) == f"{name}：共有 228 行，超过每个文件 100 行的上限（PERFSEARCH_MAX_ROWS）"


def _pdf(tmp_path: Path, n_tables: int = 2) -> Path:
    from scripts import make_corpus as mc

    doc = parse_file(SEED_003)
    return mc.render_pdf(doc.tables[:n_tables], tmp_path / "seed.pdf")


def test_pdf_page_limit(tmp_path: Path):
    pdf = _pdf(tmp_path)
    with pytest.raises(IngestError, match=r"seed.pdf：PDF 共 \d+ 页，超过 1 页的上限（PERFSEARCH_MAX_PDF_PAGES）"):
        parse_file(pdf, settings=IngestSettings(max_pdf_pages=1))


def test_per_file_time_budget(tmp_path: Path):
    pdf = _pdf(tmp_path)
    with pytest.raises(IngestError) as err:
        parse_file(pdf, settings=IngestSettings(file_seconds=0.001))
    assert err.value.reason.startswith("处理时间超过上限 0.001 秒，已放弃该文件")


def test_per_file_time_budget_outside_the_main_thread(tmp_path: Path):
    pdf = _pdf(tmp_path)
    out: list[BaseException] = []

    def run():
        try:
            parse_file(pdf, settings=IngestSettings(file_seconds=0.001))
        except BaseException as exc:  # noqa: BLE001
            out.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert len(out) == 1 and isinstance(out[0], IngestError)
    assert "处理时间超过上限" in out[0].reason


def test_settings_are_validated_and_read_from_the_environment():
    s = IngestSettings.from_env({"PERFSEARCH_MAX_FILE_MB": "5", "PERFSEARCH_LOCK_WAIT": "0"})
    assert s.max_file_mb == 5.0 and s.lock_wait_seconds == 0 and s.max_rows == 50_000
    with pytest.raises(SettingsError, match="PERFSEARCH_MAX_ROWS 必须是整数"):
        IngestSettings.from_env({"PERFSEARCH_MAX_ROWS": "1.5"})
    with pytest.raises(SettingsError, match="PERFSEARCH_MAX_CELLS_PER_ROW 必须大于 0"):
        IngestSettings(max_cells_per_row=0)
    with pytest.raises(SettingsError, match="PERFSEARCH_FILE_SECONDS 必须是数字"):
        IngestSettings.from_env({"PERFSEARCH_FILE_SECONDS": "abc"})


# ---------------------------------------------------------------- 4. damaged PDFs


def test_damaged_pdf_whose_close_reraises_gives_a_typed_error():
    # a mutant of a rendered seed PDF: pdfplumber's close() re-raised pdfminer's error
    with pytest.raises(IngestError) as err:
        parse_file(FIXTURES / "damaged_close_reraises.pdf")
    assert str(err.value) == "damaged_close_reraises.pdf：PDF 文件已损坏或不完整"


# ---------------------------------------------------------------- 5. lock


def test_second_writer_waits_for_the_lock(tmp_path: Path, capsys):
    store = IndexStore(tmp_path / "ix")
    held = threading.Event()
    release = threading.Event()

    def first_writer():
        with store.lock(0):
            held.set()
            release.wait(30)

    t = threading.Thread(target=first_writer)
    t.start()
    held.wait(30)
    threading.Timer(0.5, release.set).start()
    report = ingest_paths([SEED_003], IndexStore(tmp_path / "ix"), settings=IngestSettings(lock_wait_seconds=60))
    t.join()
    assert report.added == [SEED_003.name]
    assert "等待另一个导入完成…" in capsys.readouterr().err


def test_lock_wait_gives_up_with_a_chinese_message(tmp_path: Path):
    store = IndexStore(tmp_path / "ix")
    with store.lock(0), pytest.raises(IndexUnavailable, match="已等待 0.2 秒仍未完成.*PERFSEARCH_LOCK_WAIT"):
        ingest_paths([SEED_003], IndexStore(tmp_path / "ix"), settings=IngestSettings(lock_wait_seconds=0.2))


# ---------------------------------------------------------------- 6. decoding


def test_one_stray_byte_keeps_the_file_and_counts_the_replacement(tmp_path: Path):
    data = SEED_003.read_bytes()
    i = data.index("满意度".encode())
    p = tmp_path / "cut.txt"
    p.write_bytes(data[: i + 1] + data[i + 3 :])  # a character cut in half
    doc = parse_file(p)
    assert len(doc.rows) == 107 and doc.encoding == "utf-8"
    assert doc.warnings == ("有 1 个字节无法按 utf-8 解码，已替换为“\ufffd”，其余内容照常导入",)


def test_big5_is_detected(tmp_path: Path):
    p = tmp_path / "big5.txt"
    p.write_bytes(TRAD.read_text(encoding="utf-8").encode("big5"))
    doc = parse_file(p)
    assert doc.encoding == "big5"
    assert [r.name for r in doc.rows] == [r.name for r in parse_file(TRAD).rows]


def test_gbk_still_wins_over_big5():
    assert decode_bytes(seed_text().encode("gb18030"), "x").encoding == "gb18030"


@pytest.mark.parametrize("enc", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(tmp_path: Path, enc: str):
    p = tmp_path / "u16.txt"
    p.write_bytes(seed_text().encode(enc))
    doc = parse_file(p)
    assert doc.encoding == enc and len(doc.rows) == 107


def test_random_bytes_are_not_taken_for_gbk_text():
    data = bytes(range(0x81, 0xFF)) * 8 + "一级指标".encode()
    with pytest.raises(IngestError) as err:
        decode_bytes(data, "x.txt")
    assert err.value.reason == (
        "文本编码无法识别或内容已损坏（不是 UTF-8、UTF-16、GBK/GB18030 或 Big5）"
        "（按最接近的 gb18030 解码后大多是生僻字，像是乱码或二进制数据）"
    )


def test_xlsx_named_txt_is_read_as_a_workbook(tmp_path: Path):
    p = tmp_path / "table.txt"
    p.write_bytes(xlsx_bytes(seed_text()))
    doc = parse_file(p)
    assert doc.fmt == "xlsx" and len(doc.rows) == 107


@pytest.mark.parametrize("suffix", [".xlsx", ".pdf"])
def test_csv_export_renamed_to_xlsx_or_pdf_is_read_as_text(tmp_path: Path, suffix: str):
    p = tmp_path / f"export{suffix}"
    shutil.copy(CORPUS / "other_csv_export_2024.csv", p)
    doc = parse_file(p)
    assert doc.fmt == "text"
    assert [r.name for r in doc.rows] == [r.name for r in parse_file(CORPUS / "other_csv_export_2024.csv").rows]


def test_docx_gets_its_own_reason(tmp_path: Path):
    import zipfile

    p = tmp_path / "report.docx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(IngestError) as err:
        parse_file(p)
    assert "Word" in err.value.reason and "Excel" not in err.value.reason


def test_pdf_named_txt_says_what_it_is():
    with pytest.raises(IngestError, match="文件内容是PDF 文件，不是文本文件"):
        decode_bytes(b"%PDF-1.4 ...", "x.txt")


def test_bom_only_file_is_empty_not_binary():
    with pytest.raises(IngestError, match="文件为空，没有可读取的内容"):
        decode_bytes(b"\xef\xbb\xbf \n", "x.txt")
    with pytest.raises(IngestError, match="文件为空，没有可读取的内容"):
        decode_bytes(b"\xff\xfe", "x.txt")


def test_decoded_text_warning_is_empty_without_replacements():
    assert DecodedText("x", "utf-8").warning == ""


# ---------------------------------------------------------------- 6. odd paths


def test_symlink_loop_fifo_hidden_and_broken_symlinks_are_reported(tmp_path: Path):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED_003, d / "good.txt")
    (d / ".hidden.txt").write_text("x")
    os.mkfifo(d / "pipe.txt")
    os.symlink(d / "nowhere.txt", d / "broken.txt")
    os.symlink(d / "loop_b.txt", d / "loop_a.txt")
    os.symlink(d / "loop_a.txt", d / "loop_b.txt")
    os.symlink(d, d / "sub_back")  # a folder link pointing to its own parent
    store = IndexStore(tmp_path / "ix")
    report = ingest_paths([d, tmp_path / "missing.txt"], store, settings=FAST)
    assert report.added == ["good.txt"]
    r = reasons(report)
    assert r["pipe.txt"] == "不是普通文件（命名管道（FIFO）），已跳过"
    assert r["broken.txt"].startswith("失效的符号链接（指向的 ") and "nowhere.txt 不存在）" in r["broken.txt"]
    assert r["loop_a.txt"] == r["loop_b.txt"] == "符号链接循环（链接最终指向自身），已跳过"
    assert r["sub_back"] == "符号链接循环（文件夹指向其上层文件夹），已跳过"
    assert r["missing.txt"] == f"路径不存在：{tmp_path / 'missing.txt'}"
    assert [(e.file, e.reason) for e in report.skipped] == [(".hidden.txt", "隐藏文件或文件夹，已跳过")]


def test_fifo_given_directly_is_not_opened(tmp_path: Path):
    os.mkfifo(tmp_path / "p.txt")
    scan = scan_paths([tmp_path / "p.txt"])
    assert scan.files == [] and [e.reason for e in scan.errors] == ["不是普通文件（命名管道（FIFO）），已跳过"]


def _nest(top: Path, part: str, depth: int) -> None:
    """``top/part/part/.../seed.txt``, built with dir fds so paths beyond PATH_MAX work."""
    top.mkdir()
    cur = os.open(top, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(part, dir_fd=cur)
            nxt = os.open(part, os.O_RDONLY, dir_fd=cur)
            os.close(cur)
            cur = nxt
        with open(os.open("seed.txt", os.O_WRONLY | os.O_CREAT, dir_fd=cur), "wb") as fh:
            fh.write(SEED_003.read_bytes())
    finally:
        os.close(cur)


def _unnest(top: Path, part: str, depth: int) -> None:
    """Remove what ``_nest`` built without recursion (shutil.rmtree recurses)."""
    fds = [os.open(top, os.O_RDONLY)]
    try:
        for _ in range(depth):
            fds.append(os.open(part, os.O_RDONLY, dir_fd=fds[-1]))
        os.unlink("seed.txt", dir_fd=fds[-1])
        while len(fds) > 1:
            os.close(fds.pop())
            os.rmdir(part, dir_fd=fds[-1])
    finally:
        for fd in fds:
            os.close(fd)
    top.rmdir()


@pytest.mark.parametrize(("part", "found"), [("d", True), ("dddd", False)])
def test_a_thousand_nested_folders_no_recursion_error(tmp_path: Path, part: str, found: bool):
    top = tmp_path / "deep"
    _nest(top, part, 1000)
    try:
        scan = scan_paths([top])
    finally:
        _unnest(top, part, 1000)
    if found:
        assert [f.name for f in scan.files] == ["seed.txt"] and scan.errors == []
    else:  # 1000 levels of "dddd/" exceed PATH_MAX (4096): the too-deep folder is named with a reason
        assert scan.files == []
        assert [e.reason for e in scan.errors] == ["文件夹嵌套过深，路径超过系统长度限制"]


# ---------------------------------------------------------------- CLI


@pytest.fixture()
def fake_model(monkeypatch):
    monkeypatch.setenv("PERFSEARCH_MODEL", "fake-bigram")  # the registered test encoder (search/retrieval/fake.py)


def test_cli_one_line_per_failure_no_traceback(tmp_path: Path, fake_model):
    from ui.cli import main

    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SEED_003, d / "good.txt")
    (d / "garbage.txt").write_bytes(bytes(range(256)) * 4)
    shutil.copy(FIXTURES / "damaged_close_reraises.pdf", d / "bad.pdf")
    res = CliRunner().invoke(main, ["ingest", str(d), "--index", str(tmp_path / "ix"), "--no-progress"])
    assert res.exit_code == 1
    lines = res.output.splitlines()  # stderr and stdout together
    assert [ln for ln in lines if ln.startswith("错误：")] == [
        "错误：bad.pdf：PDF 文件已损坏或不完整",
        "错误：garbage.txt：不是文本文件（含有二进制数据），无法读取；支持的格式为 .txt、.pdf、.xlsx",
    ]
    assert "Traceback" not in res.output and "pdfminer" not in res.output
    assert lines[-1].startswith("文件：新增 1 个")


def test_cli_no_progress_shows_no_progress_bar(tmp_path: Path, fake_model):
    from ui.cli import main

    # the seeds give several hundred chunks: enough for the embedding bar unless --no-progress
    res = CliRunner().invoke(main, ["ingest", *map(str, SEEDS_ALL), "--index", str(tmp_path / "ix"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "向量化" not in res.stderr and "导入" not in res.stderr.replace("导入文件", "")
    assert "索引共 5 个文档" in res.stderr


def test_cli_usage_errors_are_chinese(tmp_path: Path):
    from ui.cli import main

    res = CliRunner().invoke(main, ["ingest", "-rf.txt"])
    assert res.exit_code == 2
    assert "错误：没有这个选项 '-r'（若这是以“-”开头的文件名，请写成 ./文件名，或放在 -- 之后）。" in res.output
    assert "用法：" in res.output and "No such option" not in res.output
    res = CliRunner().invoke(main, ["ingest"])
    assert "错误：缺少参数 'PATHS...'" in res.output


def test_cli_unexpected_error_is_one_line_and_traceback_only_with_v(tmp_path: Path, fake_model, monkeypatch):
    from search.engine import Engine
    from ui.cli import main

    def boom(self, *a, **k):
        raise KeyError("unexpected")

    monkeypatch.setattr(Engine, "ingest", boom)
    args = ["ingest", str(SEED_003), "--index", str(tmp_path / "ix"), "--no-progress"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == ["错误：内部错误（KeyError: 'unexpected'）；加 -v 运行可查看详细信息"]
    res = CliRunner().invoke(main, ["-v", *args])
    assert "Traceback" in res.output and res.exit_code == 1


def test_wait_message_is_shown_once_and_not_when_not_waiting(tmp_path: Path):
    store = IndexStore(tmp_path / "ix")
    messages: list[str] = []
    store.notify = messages.append  # type: ignore[method-assign]
    other = IndexStore(tmp_path / "ix")
    with other.lock(0):
        with pytest.raises(IndexUnavailable, match="正在被另一个导入写入，请稍后再试"), store.lock(0):
            pass
        assert messages == []
        with pytest.raises(IndexUnavailable, match="已等待 0.5 秒"), store.lock(0.5):
            pass
    assert messages == ["等待另一个导入完成…"]


def test_cli_ingests_a_gbk_named_file_with_the_progress_bar(tmp_path: Path, fake_model):
    from ui.cli import main

    raw_dir = os.fsencode(tmp_path / "in")
    os.mkdir(raw_dir)
    with open(os.path.join(raw_dir, "项目绩效.txt".encode("gbk")), "wb") as fh:
        fh.write(SEED_003.read_bytes())
    with open(os.path.join(raw_dir, "坏.txt".encode("gbk")), "wb") as fh:
        fh.write(b"")
    index = tmp_path / "ix"
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "in"), "--index", str(index)])
    assert res.exit_code == 1, res.output
    assert "错误：坏.txt：文件为空，没有可读取的内容" in res.output
    assert "文件：新增 1 个，更新 0 个，未变 0 个，失败 1 个。索引共 1 个文档、11 张表、107 条指标。" in res.output
    res = CliRunner().invoke(main, ["rows", "--index", str(index), "--json"])
    assert res.exit_code == 0 and '"doc": "项目绩效.txt"' in res.output
