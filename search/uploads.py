"""Uploaded files as a service: where they are stored, their display names, which may be ingested.

The web interface (and any other front end) hands this module the files a
client uploaded.  Only files that are inside the front end's upload area (for
the web app: Gradio's upload cache, where Gradio itself puts the bytes of this
request's upload) are accepted; any other path is refused with one neutral
message (``UPLOAD_REFUSED``), whether or not it exists, so the endpoint cannot
be used to read or probe the server's disk.

Accepted files are copied under generated names into ``<index>/uploads/``
(``names.json`` maps stored name -> original name) and ingested; one bad file
never stops the others.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from indexer.formats import SUPPORTED_SUFFIXES, content_matches, unsupported_reason
from indexer.ingest import sha256_file

log = logging.getLogger(__name__)

UPLOAD_DIR_NAME = "uploads"
NAMES_FILE = "names.json"
DEFAULT_MAX_UPLOAD_MB = 50
ALLOWED_UPLOAD_SUFFIXES: tuple[str, ...] = tuple(SUPPORTED_SUFFIXES)
UPLOAD_REFUSED = "只能导入通过本页面上传的文件，请在「导入」页重新选择文件上传。"

# statuses of one file
IMPORTED = "已导入"
DUPLICATE = "已存在"
FAILED = "失败"
SKIPPED = "未导入"


class UploadRefused(Exception):
    """A file that did not arrive through the upload (neutral Chinese message)."""

    def __init__(self) -> None:
        super().__init__(UPLOAD_REFUSED)

    @property
    def message(self) -> str:
        return UPLOAD_REFUSED


@dataclass(frozen=True)
class UploadOutcome:
    """What happened to one uploaded file: shown name, status (已导入/已存在/失败/未导入), detail."""

    shown: str
    status: str
    detail: str = ""
    stored: str = ""  # generated file name inside <index>/uploads (imported files)


# ---------------------------------------------------------------- names


def sanitize_filename(name: str, default: str = "未命名文件") -> str:
    """A display-safe file name: no directories, control characters or shell/HTML specials."""
    name = PureWindowsPath(PurePosixPath(str(name or "")).name).name
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"/\\|?*`$&;\']+', "_", name).strip(" .")
    if len(name) > 120:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[:110] + dot + suffix[:8]) if dot else name[:120]
    return name or default


def uploads_dir(index_dir: Path | str) -> Path:
    return Path(index_dir) / UPLOAD_DIR_NAME


_names_lock = threading.Lock()


def load_names(index_dir: Path | str) -> dict[str, str]:
    """Stored name -> original name of every upload of this index (cached by mtime)."""
    path = uploads_dir(index_dir) / NAMES_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return {}
    return dict(_read_names_cached(str(path), mtime))


@functools.lru_cache(maxsize=8)
def _read_names_cached(path: str, _mtime: int) -> tuple[tuple[str, str], ...]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        log.warning("cannot read %s", path)
        return ()
    return tuple((str(k), str(v)) for k, v in data.items()) if isinstance(data, dict) else ()


def save_names(index_dir: Path | str, names: dict[str, str]) -> None:
    d = uploads_dir(index_dir)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{NAMES_FILE}.{uuid.uuid4().hex[:6]}.tmp"
    tmp.write_text(json.dumps(names, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, d / NAMES_FILE)


def display_name(index_dir: Path | str, file: str) -> str:
    """The name shown for an indexed file: the original name of an upload, else the file name."""
    return load_names(index_dir).get(file, file)


# ---------------------------------------------------------------- what may be ingested


def is_within(path: Path | str, root: Path | str) -> bool:
    """True when ``path`` (symlinks resolved) is a regular file strictly inside ``root``."""
    try:
        real = Path(os.path.realpath(path))
        base = Path(os.path.realpath(root))
    except (OSError, ValueError):
        return False
    if real == base or base not in real.parents:
        return False
    with contextlib.suppress(OSError):
        return real.is_file()
    return False


def require_uploaded(paths: Sequence[Path], upload_root: Path | str | None) -> None:
    """Raise ``UploadRefused`` unless every path is a file inside ``upload_root``.

    ``upload_root`` None means the caller is trusted (command line, tests)."""
    if upload_root is None:
        return
    for p in paths:
        if "://" in str(p) or not is_within(p, upload_root):
            log.warning("refused an upload path outside the upload area")
            raise UploadRefused()


def suffix_list() -> str:
    return "、".join(ALLOWED_UPLOAD_SUFFIXES)


_upload_lock = threading.Lock()


def _precheck(p: Path, max_mb: float) -> str:
    """Why ``p`` is not even tried ("" when it may be ingested)."""
    suffix = p.suffix.lower()
    if suffix not in ALLOWED_UPLOAD_SUFFIXES:
        return unsupported_reason(p)
    try:
        size = p.stat().st_size
    except OSError:
        return "上传的文件已丢失，请重新上传"
    if size > max_mb * 1024 * 1024:
        return f"文件过大（{size / 1048576:.1f} MB），单个文件上限 {max_mb:g} MB"
    if size == 0:
        return "文件为空（0 字节）"
    if not content_matches(p):
        return f"文件内容与扩展名 {suffix} 不符，可能已损坏"
    return ""


def ingest_uploads(
    engine: Any,
    paths: Sequence[Path],
    *,
    max_mb: float = DEFAULT_MAX_UPLOAD_MB,
    upload_root: Path | str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[UploadOutcome]:
    """Check, store and ingest uploaded files; one outcome per file in the order given.

    ``upload_root``: the only directory files may come from (see ``require_uploaded``);
    the whole request is refused when any file is outside it."""
    require_uploaded(paths, upload_root)
    index_dir = engine.index_dir
    outcomes: dict[int, UploadOutcome] = {}
    staged: dict[str, tuple[int, str]] = {}  # stored name -> (position, shown name)
    with _upload_lock:
        names = load_names(index_dir)
        known = {d.sha256: d.file for d in engine.documents()} if engine.has_index() else {}
        udir = uploads_dir(index_dir)
        udir.mkdir(parents=True, exist_ok=True)
        for i, p in enumerate(paths):
            shown = sanitize_filename(p.name)
            reason = _precheck(p, max_mb)
            if reason:
                outcomes[i] = UploadOutcome(shown, SKIPPED, reason)
                continue
            digest = sha256_file(p)
            if digest in known:
                same = display_name(index_dir, known[digest])
                outcomes[i] = UploadOutcome(shown, DUPLICATE, f"与已导入的「{same}」内容相同，未重复导入")
                continue
            stored = f"{uuid.uuid4().hex}{p.suffix.lower()}"
            (udir / stored).write_bytes(p.read_bytes())
            staged[stored] = (i, shown)
            known[digest] = stored
        if staged:
            save_names(index_dir, {**names, **{s: shown for s, (_, shown) in staged.items()}})

            def on_progress(i: int, n: int, name: str) -> None:
                if progress:
                    progress(i, n, staged[name][1] if name in staged else name)

            try:
                report = engine.ingest([udir / s for s in staged], progress=on_progress)
            except Exception:
                for s in staged:
                    with contextlib.suppress(OSError):
                        (udir / s).unlink()
                save_names(index_dir, names)
                raise
            failed = {e.file: e for e in report.errors}
            for s, (i, shown) in staged.items():
                if s in failed:
                    e = failed[s]
                    where = (f"第{e.page}页 " if e.page else "") + (f"第{e.line}行 " if e.line else "")
                    outcomes[i] = UploadOutcome(shown, FAILED, f"{where}{e.reason}")
                    with contextlib.suppress(OSError):
                        (udir / s).unlink()
            kept = {s: shown for s, (_, shown) in staged.items() if s not in failed}
            save_names(index_dir, {**names, **kept})
            if kept:
                docs = {d.file: d for d in engine.documents()}
                for s, (i, shown) in staged.items():
                    if s in failed:
                        continue
                    d = docs.get(s)
                    detail = ""
                    if d is not None:
                        detail = f"{len(d.tables)} 张表、{len(d.rows)} 条指标（{d.unit or '单位未识别'}）"
                        if d.warnings:
                            detail += "；" + "；".join(d.warnings)
                    outcomes[i] = UploadOutcome(shown, IMPORTED, detail, s)
    return [outcomes[i] for i in sorted(outcomes)]
