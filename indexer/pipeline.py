"""Batch ingestion: files and folders -> an updated index, one bad file never stops the batch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from indexer.formats import scan_dir, supported, unsupported_reason
from indexer.ingest import parse_file, sha256_of
from indexer.model import Document, IngestError
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
    skipped: list[IngestError] = field(default_factory=list)  # not read (unsupported type), with the reason
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


def collect_files(
    paths: Iterable[Path | str], skipped: list[IngestError] | None = None
) -> tuple[list[Path], list[IngestError]]:
    """Expand folders (recursively, sorted) into supported files; report missing paths.

    Files that are not read (unsupported type, Office lock files) go to ``skipped``
    with the reason and what to do (see ``indexer.formats``).
    """
    files: list[Path] = []
    errors: list[IngestError] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found, passed = scan_dir(p)
            files.extend(found)
            if skipped is not None:
                skipped.extend(IngestError(str(s.path.relative_to(p)), s.reason) for s in passed)
        elif p.is_file():
            if not supported(p) and skipped is not None:
                skipped.append(IngestError(p.name, unsupported_reason(p)))
                continue
            files.append(p)
        else:
            errors.append(IngestError(p.name or str(p), f"路径不存在：{p}"))
    seen: dict[str, Path] = {}
    unique: list[Path] = []
    for f in files:
        if f.name in seen and seen[f.name].resolve() != f.resolve():
            errors.append(IngestError(f.name, f"与 {seen[f.name]} 同名，文件名在索引中必须唯一，已跳过"))
            continue
        if f.name not in seen:
            seen[f.name] = f
            unique.append(f)
    return unique, errors


def ingest_paths(
    paths: Iterable[Path | str],
    store: IndexStore,
    *,
    prune: bool = False,
    progress: Progress | None = None,
    after_parse: Callable[[list[Document]], object] | None = None,
    extra_writer=None,
) -> IngestReport:
    """Parse new/changed files and write a new index generation atomically."""
    skipped: list[IngestError] = []
    files, errors = collect_files(paths, skipped)
    report = IngestReport(errors=list(errors), skipped=skipped)
    with store.lock():
        old_docs = {d.file: d for d in store.documents()} if store.exists() else {}
        manifest = store.manifest()
        docs = dict(old_docs)
        paths_by_name: dict[str, str] = {}
        for i, f in enumerate(files, start=1):
            if progress:
                progress(i, len(files), f.name)
            try:
                data = f.read_bytes()
            except OSError as exc:
                report.errors.append(IngestError(f.name, f"无法读取文件：{exc.strerror or exc}"))
                continue
            digest = sha256_of(data)
            paths_by_name[f.name] = str(f)
            known = manifest.files.get(f.name)
            if known and known.get("sha256") == digest and f.name in old_docs:
                report.unchanged.append(f.name)
                continue
            try:
                doc = parse_file(f)
            except IngestError as exc:
                report.errors.append(exc)
                log.warning("%s", exc)
                continue
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
                log.exception("unexpected error in %s", f)
                report.errors.append(IngestError(f.name, f"解析时发生内部错误：{type(exc).__name__}: {exc}"))
                continue
            (report.updated if f.name in old_docs else report.added).append(f.name)
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
