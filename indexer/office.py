"""Convert old Office/WPS files (.doc, .wps, .et, odd .xls) with LibreOffice in headless mode.

Each conversion runs in a private temporary directory with its own LibreOffice
profile (``-env:UserInstallation``), so it never touches or waits for a user's
running LibreOffice, and parallel conversions do not share a profile.  A
conversion that does not finish within ``timeout`` seconds is killed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from indexer.model import IngestError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 180.0

INSTALL_HINT = (
    "请安装 LibreOffice 后重试：Debian/Ubuntu 执行 "
    "sudo apt-get install -y libreoffice-writer-nogui libreoffice-calc-nogui；"
    "Windows/Mac 请从 libreoffice.org 安装，或用 Word/WPS 把文件另存为 .docx / .xlsx 后再导入"
)

_CANDIDATES = (
    "/usr/bin/soffice",
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice/program/soffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
    r"C:\Program Files\LibreOffice\program\soffice.exe",
)

# target -> LibreOffice export filter
_FILTERS = {
    "docx": "docx:MS Word 2007 XML",
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
}


def soffice_path() -> str | None:
    """The LibreOffice executable, or None when LibreOffice is not installed."""
    env = os.environ.get("PERFSEARCH_SOFFICE")
    if env:
        return env if Path(env).is_file() else None
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    for c in _CANDIDATES:
        if Path(c).is_file():
            return c
    return None


def _kind_label(suffix: str) -> str:
    return {".doc": "Word 97-2003 (.doc)", ".wps": "WPS 文字 (.wps)", ".et": "WPS 表格 (.et)"}.get(
        suffix, f"{suffix} 文件"
    )


@contextlib.contextmanager
def converted(path: Path, target: str, *, timeout: float = DEFAULT_TIMEOUT) -> Iterator[Path]:
    """Yield the path of ``path`` converted to ``target`` (``docx`` or ``xlsx``); removed afterwards.

    Raises ``IngestError`` (named after ``path``) when LibreOffice is missing,
    fails or times out.
    """
    path = Path(path)
    name = path.name
    soffice = soffice_path()
    label = _kind_label(path.suffix.lower())
    if soffice is None:
        raise IngestError(name, f"读取{label}需要 LibreOffice，但本机没有安装。{INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="perfsearch-office-") as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / f"input{path.suffix.lower()}"
        shutil.copyfile(path, src)
        outdir = tmpdir / "out"
        outdir.mkdir()
        profile = tmpdir / "profile"
        cmd = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless", "--invisible", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            "--convert-to", _FILTERS[target],
            "--outdir", str(outdir),
            str(src),
        ]
        env = {**os.environ, "HOME": str(tmpdir), "SAL_USE_VCLPLUGIN": "svp"}
        log.debug("running %s", cmd)
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise IngestError(
                name, f"LibreOffice 转换{label}超时（超过 {timeout:g} 秒），文件可能过大、已损坏或有密码保护"
            ) from exc
        result = outdir / f"input.{target}"
        if proc.returncode != 0 or not result.is_file() or result.stat().st_size == 0:
            detail = (err or out or b"").decode("utf-8", errors="replace").strip().splitlines()
            log.warning("soffice failed on %s (rc=%s): %s", name, proc.returncode, detail[-3:])
            raise IngestError(name, f"LibreOffice 无法转换该{label}，文件可能已损坏或有密码保护")
        yield result
