"""The self-describing index directory.

Layout::

    index/
      manifest.json          format version, package versions, per-file hashes,
                             the current generation's file names (db, vectors, bm25)
      docs-<gen>.sqlite      documents (tables and indicator rows as JSON, one record per file)
      ...                    search artefacts written by ``search`` (see manifest["artifacts"])

Every write creates files for a new generation next to the old ones and then
atomically replaces ``manifest.json`` (``os.replace``) after every file of
the generation and the directory are ``fsync``ed.  A crash or ``kill -9`` at
any point leaves the previous manifest and the files it names untouched, so
the previous index stays loadable.  Files no manifest refers to (orphans of an
interrupted or failed write) are removed at the start of the next write and
right after a write fails, so a full disk never locks the index: the write
error becomes ``IndexWriteError`` (Chinese, with the free space needed).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from indexer.model import (
    Document,
    ExpenseLine,
    IndicatorRow,
    Passage,
    SourceRef,
    Table,
    Target,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DEFAULT_INDEX_DIR = "index"


class IndexUnavailable(Exception):
    """The index directory cannot be used; the message is Chinese."""


class IndexWriteError(IndexUnavailable):
    """Writing a new generation failed (disk full, I/O error); the previous index is intact."""


LOCK_WAIT_MESSAGE = "等待另一个导入完成…"
# names of generation files: docs-<gen>.sqlite, vec-<gen>.npy, bm25-<gen>/ ...
_GEN_RE = re.compile(r"\d{14}-[0-9a-f]{8}")
_DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def is_disk_full(exc: BaseException) -> bool:
    """Disk-full errors as raised by os, sqlite3 and faiss (following ``__cause__``/``__context__``)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _DISK_FULL_ERRNOS:
            return True
        text = str(e).lower()
        if isinstance(e, sqlite3.Error) and ("full" in text or getattr(e, "sqlite_errorcode", 0) == 13):
            return True
        if "no space left" in text or "disk full" in text or "errno 28" in text:
            return True
        stack.extend([e.__cause__, e.__context__])
    return False


def _fsync_path(path: Path) -> None:
    """fsync a file, or a directory with every file below it."""
    if path.is_dir():
        for sub in sorted(path.iterdir()):
            _fsync_path(sub)
        flags = os.O_RDONLY
    elif path.is_file():
        flags = os.O_RDONLY
    else:
        return
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def default_index_dir() -> Path:
    return Path(os.environ.get("PERFSEARCH_INDEX", DEFAULT_INDEX_DIR))


def package_versions() -> dict[str, str]:
    out = {}
    for pkg in ("perfsearch", "pdfplumber", "openpyxl", "jieba", "bm25s", "faiss-cpu", "sentence-transformers"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


# -- (de)serialisation ---------------------------------------------------------


def _src(d: dict[str, Any]) -> SourceRef:
    return SourceRef.from_json(d)


def row_to_dict(r: IndicatorRow) -> dict[str, Any]:
    return {
        "level1": r.level1,
        "level2": r.level2,
        "task": r.task,
        "function": r.function,
        "name": r.name,
        "half_year": r.half_year,
        "value": r.value,
        "target": r.target.to_json(),
        "half_target": r.half_year_target.to_json(),
        "source": r.source.to_json(),
        "extras": [list(e) for e in r.extras],
    }


def row_from_dict(d: dict[str, Any]) -> IndicatorRow:
    return IndicatorRow(
        level1=d["level1"],
        level2=d["level2"],
        name=d["name"],
        value=d["value"],
        target=Target.from_json(d["value"], d["target"]),
        source=_src(d["source"]),
        half_year=d["half_year"],
        half_year_target=Target.from_json(d["half_year"], d["half_target"]),
        task=d["task"],
        function=d["function"],
        extras=tuple((a, b) for a, b in d.get("extras", [])),
    )


def table_to_dict(t: Table) -> dict[str, Any]:
    return {
        "kind": t.kind,
        "title": t.title,
        "unit": t.unit,
        "year": t.year,
        "source": t.source.to_json(),
        "project": t.project,
        "total_budget_wan": t.total_budget_wan,
        "expenses": [{**e.to_json(), "source": e.source.to_json()} for e in t.expenses],
        "funding": [list(f) for f in t.funding],
        "goals": [list(g) for g in t.goals],
        "duties": t.duties,
        "rows": [row_to_dict(r) for r in t.rows],
        "total_source": t.total_source.to_json() if t.total_source else None,
    }


def table_from_dict(d: dict[str, Any]) -> Table:
    return Table(
        kind=d["kind"],
        title=d["title"],
        unit=d["unit"],
        year=d["year"],
        source=_src(d["source"]),
        project=d["project"],
        total_budget_wan=d["total_budget_wan"],
        expenses=tuple(
            ExpenseLine(e["name"], e["half_year"], e["annual"], _src(e["source"])) for e in d["expenses"]
        ),
        funding=tuple((a, b) for a, b in d["funding"]),
        goals=tuple((a, b) for a, b in d["goals"]),
        duties=d["duties"],
        rows=tuple(row_from_dict(r) for r in d["rows"]),
        total_source=_src(d["total_source"]) if d.get("total_source") else None,
    )


def document_to_dict(doc: Document) -> dict[str, Any]:
    return {
        "file": doc.file,
        "sha256": doc.sha256,
        "title": doc.title,
        "unit": doc.unit,
        "year": doc.year,
        "region": doc.region,
        "fmt": doc.fmt,
        "encoding": doc.encoding,
        "traditional": doc.traditional,
        "warnings": list(doc.warnings),
        "tables": [table_to_dict(t) for t in doc.tables],
        "passages": [[p.text, p.source.to_json()] for p in doc.passages],
        "clutter_lines": doc.clutter_lines,
    }


def document_from_dict(d: dict[str, Any]) -> Document:
    return Document(
        file=d["file"],
        sha256=d["sha256"],
        title=d["title"],
        unit=d["unit"],
        year=d["year"],
        region=d["region"],
        tables=tuple(table_from_dict(t) for t in d["tables"]),
        fmt=d.get("fmt", "text"),
        encoding=d.get("encoding", ""),
        traditional=d.get("traditional", False),
        warnings=tuple(d.get("warnings", [])),
        passages=tuple(Passage(t, _src(src)) for t, src in d.get("passages", [])),
        clutter_lines=int(d.get("clutter_lines", 0)),
    )


# -- the store -------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE documents (
    file TEXT PRIMARY KEY, sha256 TEXT NOT NULL, path TEXT, title TEXT, unit TEXT,
    year INTEGER, region TEXT, fmt TEXT, n_tables INTEGER, n_rows INTEGER, data TEXT NOT NULL
);
"""


@dataclass
class Manifest:
    format_version: int = FORMAT_VERSION
    generation: str = ""
    created: float = 0.0
    updated: float = 0.0
    db: str = ""
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {sha256, path, rows, tables}
    artifacts: dict[str, Any] = field(default_factory=dict)  # written by search: embedding, faiss, bm25
    versions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "generation": self.generation,
            "created": self.created,
            "updated": self.updated,
            "db": self.db,
            "files": self.files,
            "artifacts": self.artifacts,
            "versions": self.versions,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Manifest:
        return cls(
            format_version=d.get("format_version", 0),
            generation=d.get("generation", ""),
            created=d.get("created", 0.0),
            updated=d.get("updated", 0.0),
            db=d.get("db", ""),
            files=d.get("files", {}),
            artifacts=d.get("artifacts", {}),
            versions=d.get("versions", {}),
        )

    def referenced_files(self) -> set[str]:
        names = {MANIFEST, ".lock"}
        if self.db:
            names.add(self.db)
        for v in self.artifacts.values():
            if isinstance(v, dict):
                names.update(x for x in v.get("files", []) if isinstance(x, str))
        return names


class IndexStore:
    """Read and atomically rewrite one index directory."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_index_dir()

    # -- reading --
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> Manifest:
        if not self.exists():
            return Manifest()
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise IndexUnavailable(f"索引清单 {self.manifest_path} 无法读取：{exc}") from exc
        m = Manifest.from_json(data)
        if m.format_version != FORMAT_VERSION:
            raise IndexUnavailable(
                f"索引 {self.root} 的格式版本为 {m.format_version}，本程序需要 {FORMAT_VERSION}；请删除该目录后重新运行 perfsearch ingest"
            )
        return m

    def _connect_ro(self, m: Manifest) -> sqlite3.Connection:
        path = self.root / m.db
        if not path.is_file():
            raise IndexUnavailable(f"索引数据库 {path} 不存在，索引已损坏；请删除 {self.root} 后重新运行 perfsearch ingest")
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def documents(self) -> list[Document]:
        m = self.manifest()
        if not m.db:
            return []
        with contextlib.closing(self._connect_ro(m)) as con:
            cur = con.execute("SELECT data FROM documents ORDER BY file")
            return [document_from_dict(json.loads(d)) for (d,) in cur]

    # -- writing --
    @contextlib.contextmanager
    def lock(self, wait_seconds: float | None = None) -> Iterator[None]:
        """Hold the index's write lock; wait for another writer up to ``wait_seconds``.

        The default wait is ``PERFSEARCH_LOCK_WAIT`` (600 s); while waiting,
        ``self.notify`` shows ``等待另一个导入完成…`` once.
        """
        if wait_seconds is None:
            from indexer.settings import current_settings

            wait_seconds = current_settings().lock_wait_seconds
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.root / ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout as exc:
            if wait_seconds <= 0:
                raise IndexUnavailable(
                    f"索引 {self.root} 正在被另一个导入写入，请稍后再试"
                    "（可用环境变量 PERFSEARCH_LOCK_WAIT 设置等待的秒数）"
                ) from exc
            self.notify(LOCK_WAIT_MESSAGE)
            try:
                lock.acquire(timeout=wait_seconds, poll_interval=0.2)
            except Timeout as exc2:
                raise IndexUnavailable(
                    f"索引 {self.root} 正在被另一个导入写入，已等待 {wait_seconds:g} 秒仍未完成，请稍后再试"
                    f"（等待时间可用环境变量 PERFSEARCH_LOCK_WAIT 设置，单位秒）"
                ) from exc2
        try:
            yield
        finally:
            lock.release()

    def notify(self, message: str) -> None:
        """Tell the user something while we wait (stderr; the web UI may replace this)."""
        print(message, file=sys.stderr, flush=True)

    def remove_orphans(self) -> list[str]:
        """Delete generation files the current manifest does not name (call under ``lock``).

        They are left behind by a ``kill -9`` or a failed write; removing them at the start
        of every write means a full disk never locks the index.
        """
        keep = self.manifest().referenced_files() if self.exists() else {MANIFEST, ".lock"}
        return self._remove_unreferenced(keep)

    def write(
        self,
        docs: list[Document],
        paths: dict[str, str] | None = None,
        artifacts: dict[str, Any] | None = None,
        extra_writer: Any = None,
    ) -> Manifest:
        """Write a new generation holding exactly ``docs`` and switch to it atomically.

        ``extra_writer(root, generation) -> dict`` may write search artefacts for
        the same generation before the switch; its result is stored under
        ``manifest["artifacts"]``.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        old = self.manifest()
        gen = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:8]
        try:
            m = self._write_generation(old, gen, docs, paths, artifacts, extra_writer)
        except BaseException as exc:
            partial = self._remove_generation(gen)
            if isinstance(exc, (OSError, sqlite3.Error, MemoryError)) or is_disk_full(exc):
                log.debug("writing generation %s failed", gen, exc_info=True)
                raise self._write_error(exc, old, partial) from exc
            raise
        self._cleanup(m)
        return m

    def _write_generation(
        self, old: Manifest, gen: str, docs: list[Document], paths: dict[str, str] | None,
        artifacts: dict[str, Any] | None, extra_writer: Any,
    ) -> Manifest:
        db_name = f"docs-{gen}.sqlite"
        tmp_db = self.root / (db_name + ".tmp")
        _write_db(tmp_db, sorted(docs, key=lambda d: d.file), paths or {})
        os.replace(tmp_db, self.root / db_name)
        now = time.time()
        files = {
            d.file: {
                "sha256": d.sha256,
                "path": (paths or {}).get(d.file, old.files.get(d.file, {}).get("path", "")),
                "tables": len(d.tables),
                "rows": len(d.rows),
            }
            for d in docs
        }
        new_artifacts = dict(old.artifacts if artifacts is None else artifacts)
        if extra_writer is not None:
            new_artifacts.update(extra_writer(self.root, gen, docs) or {})
        m = Manifest(
            generation=gen,
            created=old.created or now,
            updated=now,
            db=db_name,
            files=files,
            artifacts=new_artifacts,
            versions=package_versions(),
        )
        # every file of the new generation and the directory reach the disk before the switch
        for name in sorted(m.referenced_files() - {MANIFEST, ".lock"}):
            _fsync_path(self.root / name)
        _fsync_dir(self.root)
        _atomic_write_text(self.manifest_path, json.dumps(m.to_json(), ensure_ascii=False, indent=2))
        return m

    def _generation_size(self, m: Manifest) -> int:
        total = 0
        for name in m.referenced_files() - {MANIFEST, ".lock"}:
            p = self.root / name
            with contextlib.suppress(OSError):
                if p.is_dir():
                    total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
                elif p.is_file():
                    total += p.stat().st_size
        return total

    def _remove_generation(self, gen: str) -> int:
        """Delete every file of generation ``gen`` (and temp files); return the bytes they held."""
        freed = 0
        for p in list(self.root.iterdir()):
            if gen not in p.name and p.suffix != ".tmp":
                continue
            with contextlib.suppress(OSError):
                if p.is_dir():
                    freed += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    freed += p.stat().st_size
                    p.unlink()
        return freed

    def _write_error(self, exc: BaseException, old: Manifest, partial: int) -> IndexWriteError:
        try:
            free = shutil.disk_usage(self.root).free
        except OSError:
            free = 0
        if is_disk_full(exc):
            # a new generation needs about as much as the previous one (or what was written so far)
            need = int(max(self._generation_size(old), partial) * 1.2) + 1024 * 1024
            return IndexWriteError(
                f"磁盘空间不足：写入索引 {self.root} 时磁盘已满。本次写入约需 {_mb(need)}，"
                f"当前可用 {_mb(free)}，请至少再释放 {_mb(max(0, need - free))} 后重新运行 perfsearch ingest。"
                "未完成的文件已清理，原有索引保持不变。"
            )
        if isinstance(exc, MemoryError):
            return IndexWriteError(f"写入索引 {self.root} 时内存不足，原有索引保持不变。")
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return IndexWriteError(f"写入索引 {self.root} 失败：{reason}。未完成的文件已清理，原有索引保持不变。")

    def _cleanup(self, m: Manifest) -> None:
        self._remove_unreferenced(m.referenced_files())

    def _remove_unreferenced(self, keep: set[str]) -> list[str]:
        removed: list[str] = []
        for p in list(self.root.iterdir()):
            if p.name in keep or p.name.startswith("."):
                continue
            generation_file = p.name.startswith(("docs-", "vec-", "bm25-", "chunks-", "faiss-", "tmp-"))
            if not (generation_file or _GEN_RE.search(p.name) or p.suffix == ".tmp"):
                continue
            try:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
                removed.append(p.name)
            except OSError as exc:
                log.warning("cannot remove %s: %s", p, exc)
        if removed:
            log.info("removed %d unreferenced index files", len(removed))
        return removed


def _write_db(path: Path, docs: list[Document], paths: dict[str, str]) -> None:
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    try:
        con.executescript(_SCHEMA)
        for d in docs:  # rows live inside ``data``; search reads them from its own chunk table
            con.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    d.file, d.sha256, paths.get(d.file, ""), d.title, d.unit, d.year, d.region, d.fmt,
                    len(d.tables), len(d.rows), json.dumps(document_to_dict(d), ensure_ascii=False),
                ),
            )
        con.commit()
        con.execute("PRAGMA journal_mode=DELETE")
    finally:
        con.close()
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        dfd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
