"""Batch ingestion: files and folders -> an updated index, one bad file never stops the batch."""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import logging
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from indexer.decode import display_name, display_path
from indexer.formats import is_page_assets_dir, supported, unsupported_reason
from indexer.ingest import parse_file, sha256_of
from indexer.model import Document, IngestError
from indexer.settings import IngestSettings, current_settings
from indexer.store import IndexStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    skipped: list[IngestError] = field(default_factory=list)  # hidden / unsupported files, with the reason
    warnings: list[str] = field(default_factory=list)  # "file：warning" (replaced bytes, cut cells ...)
    n_rows: int = 0
    n_tables: int = 0
    n_documents: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        parts = [
            f"新增 {len(self.added)} 个",
            f"更新 {len(self.updated)} 个",
            f"未变 {len(self.unchanged)} 个",
        ]
        if self.removed:
            parts.append(f"移除 {len(self.removed)} 个")
        if self.errors:
            parts.append(f"失败 {len(self.errors)} 个")
        if self.skipped:
            parts.append(f"跳过 {len(self.skipped)} 个")
        return (
            "文件：" + "，".join(parts)
            + f"。索引共 {self.n_documents} 个文档、{self.n_tables} 张表、{self.n_rows} 条指标。"
        )


@dataclass(frozen=True)
class FoundFile:
    """A file to ingest and the printable name it is stored and cited under."""

    path: Path
    name: str


@dataclass
class Scan:
    files: list[FoundFile] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    skipped: list[IngestError] = field(default_factory=list)


_KIND_NAMES = {
    stat.S_IFIFO: "命名管道（FIFO）",
    stat.S_IFSOCK: "套接字（socket）",
    stat.S_IFCHR: "字符设备",
    stat.S_IFBLK: "块设备",
}


_ERRNO_REASONS = {
    errno.ENAMETOOLONG: "文件夹嵌套过深，路径超过系统长度限制",
    errno.EACCES: "没有读取权限",
    errno.EPERM: "没有读取权限",
    errno.ENOENT: "文件不存在（可能在导入过程中被删除）",
    errno.ELOOP: "符号链接循环（链接最终指向自身），已跳过",
    errno.EIO: "读取时发生磁盘 I/O 错误",
    errno.EISDIR: "是文件夹，不是文件",
}


def os_reason(exc: OSError, prefix: str = "无法访问") -> str:
    """A Chinese reason for an OSError (the OS's own text is English)."""
    known = _ERRNO_REASONS.get(exc.errno or 0)
    if known:
        return known
    return f"{prefix}：{exc.strerror or exc}"


def _special_reason(mode: int) -> str:
    kind = _KIND_NAMES.get(stat.S_IFMT(mode), "特殊文件")
    return f"不是普通文件（{kind}），已跳过"


def _link_problem(path: Path) -> str | None:
    """The reason a symlink cannot be followed, or None when it resolves."""
    try:
        os.stat(path)
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "符号链接循环（链接最终指向自身），已跳过"
        if exc.errno == errno.ENOENT:
            try:
                target = display_path(os.readlink(path))
            except OSError:
                target = "?"
            return f"失效的符号链接（指向的 {target} 不存在），已跳过"
        return os_reason(exc)


def scan_paths(paths: Iterable[Path | str]) -> Scan:
    """Expand folders into supported files, iteratively (any depth), sorted by path.

    Everything that is not ingested is reported with a reason: missing paths,
    broken symlinks, symlink loops, FIFOs and other special files, unreadable or
    too deeply nested folders (errors); hidden files and files of unsupported
    formats inside folders (skipped).  Names that are not valid UTF-8 are decoded
    to a printable name (``indexer.decode.display_name``).
    """
    scan = Scan()
    found: list[FoundFile] = []
    for raw in paths:
        p = Path(raw)
        shown = display_path(p)
        label = display_name(p.name) or shown
        if p.is_symlink():
            problem = _link_problem(p)
            if problem:
                scan.errors.append(IngestError(label, problem))
                continue
        try:
            st = os.stat(p)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                scan.errors.append(IngestError(label, f"路径不存在：{shown}"))
            else:
                scan.errors.append(IngestError(label, os_reason(exc)))
            continue
        if stat.S_ISDIR(st.st_mode):
            _walk(p, scan, found)
        elif stat.S_ISREG(st.st_mode):
            if supported(p) and not p.name.startswith("~$"):
                found.append(FoundFile(p, display_name(p.name)))
            else:
                scan.skipped.append(IngestError(label, unsupported_reason(p)))
        else:
            scan.errors.append(IngestError(label, _special_reason(st.st_mode)))
    seen: dict[str, Path] = {}
    for f in found:
        if f.name in seen:
            if _same_file(seen[f.name], f.path):
                continue
            scan.errors.append(
                IngestError(f.name, f"与 {display_path(seen[f.name])} 同名，文件名在索引中必须唯一，已跳过")
            )
            continue
        seen[f.name] = f.path
        scan.files.append(f)
    return scan


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


IGNORE_FILE = ".perfsearchignore"


def ignore_patterns(folder: Path) -> tuple[str, ...]:
    """Name patterns (fnmatch, one per line, ``#`` comments) of ``folder/.perfsearchignore``.

    They apply to the entries of that folder only (e.g. label files and notes kept beside
    real tables in a corpus folder); an unreadable ignore file ignores nothing."""
    try:
        text = (folder / IGNORE_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def _walk(top: Path, scan: Scan, found: list[FoundFile]) -> None:
    """Iterative, sorted, depth-first walk; follows directory symlinks once (loops reported)."""
    visited: set[tuple[int, int]] = set()
    with contextlib.suppress(OSError):
        st = os.stat(top)
        visited.add((st.st_dev, st.st_ino))
    stack: list[Path] = [top]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            scan.errors.append(IngestError(display_path(d), os_reason(exc, "无法读取文件夹")))
            continue
        subdirs: list[Path] = []
        ignored = ignore_patterns(d)
        for e in entries:
            path = Path(e.path)
            name = display_name(e.name)
            if e.name == IGNORE_FILE:
                continue
            if e.name.startswith("."):
                scan.skipped.append(IngestError(name, "隐藏文件或文件夹，已跳过"))
                continue
            if any(fnmatch.fnmatchcase(e.name, pat) for pat in ignored):
                scan.skipped.append(IngestError(name, f"按 {IGNORE_FILE} 排除，已跳过"))
                continue
            try:
                if e.is_symlink():
                    problem = _link_problem(path)
                    if problem:
                        scan.errors.append(IngestError(name, problem))
                        continue
                st = e.stat(follow_symlinks=True)
            except OSError as exc:
                scan.errors.append(IngestError(name, os_reason(exc)))
                continue
            if stat.S_ISDIR(st.st_mode):
                if is_page_assets_dir(path):
                    continue  # the assets folder a browser saves next to a web page
                key = (st.st_dev, st.st_ino)
                if key in visited:
                    scan.errors.append(IngestError(name, "符号链接循环（文件夹指向其上层文件夹），已跳过"))
                    continue
                visited.add(key)
                subdirs.append(path)
            elif not stat.S_ISREG(st.st_mode):
                scan.errors.append(IngestError(name, _special_reason(st.st_mode)))
            elif supported(path) and not e.name.startswith("~$"):
                found.append(FoundFile(path, name))
            else:
                scan.skipped.append(IngestError(name, unsupported_reason(path)))
        stack.extend(reversed(subdirs))


def collect_files(
    paths: Iterable[Path | str], skipped: list[IngestError] | None = None
) -> tuple[list[Path], list[IngestError]]:
    """Expand folders (recursively, sorted) into supported files; report what cannot be read.

    Files that are not read (unsupported type, hidden, Office lock files) go to
    ``skipped`` with the reason and what to do (``indexer.formats.unsupported_reason``)."""
    scan = scan_paths(paths)
    if skipped is not None:
        skipped.extend(scan.skipped)
    return [f.path for f in scan.files], scan.errors


def ingest_paths(
    paths: Iterable[Path | str],
    store: IndexStore,
    *,
    prune: bool = False,
    progress: Progress | None = None,
    after_parse: Callable[[list[Document]], object] | None = None,
    extra_writer=None,
    settings: IngestSettings | None = None,
) -> IngestReport:
    """Parse new/changed files and write a new index generation atomically.

    One bad file never stops the batch: every failure becomes an ``IngestError``
    in the report.  Waits for another writer (``settings.lock_wait_seconds``).
    """
    settings = settings or current_settings()
    scan = scan_paths(paths)
    report = IngestReport(errors=list(scan.errors), skipped=list(scan.skipped))
    files = scan.files
    with store.lock(settings.lock_wait_seconds):
        store.remove_orphans()  # left by kill -9 or a failed (e.g. disk-full) write
        old_docs = {d.file: d for d in store.documents()} if store.exists() else {}
        manifest = store.manifest()
        docs = dict(old_docs)
        paths_by_name: dict[str, str] = {}
        for i, f in enumerate(files, start=1):
            if progress:
                progress(i, len(files), f.name)
            doc = _parse_one(f, manifest, old_docs, report, settings, paths_by_name)
            if doc is None:
                continue
            (report.updated if f.name in old_docs else report.added).append(f.name)
            report.warnings.extend(f"{f.name}：{w}" for w in doc.warnings)
            docs[f.name] = doc
        if prune:
            keep = {f.name for f in files}
            for name in list(docs):
                if name not in keep:
                    report.removed.append(name)
                    del docs[name]
        changed = report.added or report.updated or report.removed or not store.exists()
        final = sorted(docs.values(), key=lambda d: d.file)
        if changed:
            if after_parse is not None:
                after_parse(final)
            store.write(final, paths=paths_by_name, extra_writer=extra_writer)
        report.n_documents = len(final)
        report.n_tables = sum(len(d.tables) for d in final)
        report.n_rows = sum(len(d.rows) for d in final)
    return report


def _parse_one(
    f: FoundFile, manifest, old_docs: dict[str, Document], report: IngestReport,
    settings: IngestSettings, paths_by_name: dict[str, str],
) -> Document | None:
    """Parse one file unless unchanged; record its error in ``report``."""
    try:
        size = f.path.stat().st_size
        if size > settings.max_file_bytes:
            raise IngestError(
                f.name,
                f"文件大小 {size / 1024 / 1024:.1f} MB 超过 {settings.max_file_mb:g} MB 的上限（PERFSEARCH_MAX_FILE_MB）",
            )
        data = f.path.read_bytes()
    except IngestError as exc:
        report.errors.append(exc)
        return None
    except OSError as exc:
        report.errors.append(IngestError(f.name, os_reason(exc, "无法读取文件")))
        return None
    digest = sha256_of(data)
    del data
    paths_by_name[f.name] = display_path(f.path)
    known = manifest.files.get(f.name)
    if known and known.get("sha256") == digest and f.name in old_docs:
        report.unchanged.append(f.name)
        return None
    try:
        return parse_file(f.path, f.name, settings=settings)
    except IngestError as exc:
        report.errors.append(exc)
        log.info("%s", exc)
    except RecursionError:
        log.debug("recursion in %s", f.name, exc_info=True)
        report.errors.append(IngestError(f.name, "文件结构嵌套过深，无法解析"))
    except MemoryError:
        report.errors.append(IngestError(f.name, "内存不足，文件过大或结构异常，无法解析"))
    except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
        log.debug("unexpected error in %s", f.name, exc_info=True)
        report.errors.append(IngestError(f.name, f"解析时发生内部错误（{type(exc).__name__}），请把该文件提交给维护者"))
    return None
