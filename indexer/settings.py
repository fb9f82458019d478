"""Ingestion limits and waits: one frozen settings object, read from the environment once.

Every limit is enforced *before* the expensive step it protects (reading,
decompressing, laying out, tokenising) and each violation becomes an
``IngestError`` with a Chinese reason naming the limit and its variable.

=====================================  ===============================  =========
setting                                environment variable             default
=====================================  ===============================  =========
``max_file_mb``                        ``PERFSEARCH_MAX_FILE_MB``       50
``max_uncompressed_mb`` (xlsx zip)     ``PERFSEARCH_MAX_UNCOMPRESSED_MB``  300
``max_rows`` (rows of one file)        ``PERFSEARCH_MAX_ROWS``          50000
``max_cells_per_row``                  ``PERFSEARCH_MAX_CELLS_PER_ROW`` 200
``max_cell_chars`` (longer: cut)       ``PERFSEARCH_MAX_CELL_CHARS``    4000
``max_sheet_rows`` / ``max_sheet_cols``  ``PERFSEARCH_MAX_SHEET_ROWS/COLS``  100000 / 200
``max_pdf_pages``                      ``PERFSEARCH_MAX_PDF_PAGES``     500
``file_seconds`` (time per file)       ``PERFSEARCH_FILE_SECONDS``      120
``lock_wait_seconds``                  ``PERFSEARCH_LOCK_WAIT``         600
=====================================  ===============================  =========
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields

from indexer.model import IngestError


class SettingsError(ValueError):
    """An invalid setting; the message is Chinese and names the variable."""


_ENV = {
    "max_file_mb": "PERFSEARCH_MAX_FILE_MB",
    "max_uncompressed_mb": "PERFSEARCH_MAX_UNCOMPRESSED_MB",
    "max_rows": "PERFSEARCH_MAX_ROWS",
    "max_cells_per_row": "PERFSEARCH_MAX_CELLS_PER_ROW",
    "max_cell_chars": "PERFSEARCH_MAX_CELL_CHARS",
    "max_sheet_rows": "PERFSEARCH_MAX_SHEET_ROWS",
    "max_sheet_cols": "PERFSEARCH_MAX_SHEET_COLS",
    "max_pdf_pages": "PERFSEARCH_MAX_PDF_PAGES",
    "file_seconds": "PERFSEARCH_FILE_SECONDS",
    "lock_wait_seconds": "PERFSEARCH_LOCK_WAIT",
}


@dataclass(frozen=True)
class IngestSettings:
    max_file_mb: float = 50.0
    max_uncompressed_mb: float = 300.0
    max_rows: int = 50_000
    max_cells_per_row: int = 200
    max_cell_chars: int = 4000
    max_sheet_rows: int = 100_000
    max_sheet_cols: int = 200
    max_pdf_pages: int = 500
    file_seconds: float = 120.0
    lock_wait_seconds: float = 600.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SettingsError(f"设置 {_ENV[f.name]} 必须是数字，实际为 {value!r}")
            if f.name == "lock_wait_seconds":
                if value < 0:
                    raise SettingsError(f"设置 {_ENV[f.name]} 不能为负数，实际为 {value}")
            elif value <= 0:
                raise SettingsError(f"设置 {_ENV[f.name]} 必须大于 0，实际为 {value}")
            if f.type in (int, "int") and not float(value).is_integer():
                raise SettingsError(f"设置 {_ENV[f.name]} 必须是整数，实际为 {value}")

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def max_uncompressed_bytes(self) -> int:
        return int(self.max_uncompressed_mb * 1024 * 1024)

    @staticmethod
    def env_name(field_name: str) -> str:
        return _ENV[field_name]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestSettings:
        env = os.environ if environ is None else environ
        kwargs: dict[str, float | int] = {}
        for f in fields(cls):
            raw = env.get(_ENV[f.name])
            if raw is None or not raw.strip():
                continue
            try:
                num = float(raw)
            except ValueError:
                raise SettingsError(f"设置 {_ENV[f.name]} 必须是数字，实际为 {raw!r}") from None
            if f.type in (int, "int"):
                if not num.is_integer():
                    raise SettingsError(f"设置 {_ENV[f.name]} 必须是整数，实际为 {raw!r}")
                kwargs[f.name] = int(num)
            else:
                kwargs[f.name] = num
        return cls(**kwargs)


@functools.cache
def current_settings() -> IngestSettings:
    """The settings of this process, read from the environment on first use."""
    return IngestSettings.from_env()


# ---------------------------------------------------------------- time budget


class _BudgetExceeded(BaseException):
    """Raised inside the parse when the per-file time budget is used up.

    A ``BaseException`` so that the ``except Exception`` of libraries (pdfminer,
    openpyxl) cannot swallow it; ``file_budget`` turns it into ``IngestError``.
    """


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("perfsearch_deadline", default=None)


def check_deadline() -> None:
    """Extractors call this between pages / rows: stop once the file's time budget is used up."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise _BudgetExceeded()


def _budget_reason(seconds: float) -> str:
    return (
        f"处理时间超过上限 {seconds:g} 秒，已放弃该文件（文件可能已损坏或异常复杂；"
        f"上限可用环境变量 PERFSEARCH_FILE_SECONDS 调整）"
    )


@contextlib.contextmanager
def file_budget(name: str, seconds: float) -> Iterator[None]:
    """Limit the wall time spent on one file.

    In the main thread a ``SIGALRM`` timer interrupts even a parse stuck inside a
    library; elsewhere (web UI workers) the extractors' ``check_deadline`` calls
    stop it between pages and rows.
    """
    token = _deadline.set(time.monotonic() + seconds)
    use_alarm = (
        threading.current_thread() is threading.main_thread()
        and hasattr(signal, "setitimer")
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0  # nobody else is timing us
    )
    previous = None
    if use_alarm:

        def _on_alarm(signum, frame):  # noqa: ARG001
            raise _BudgetExceeded()

        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        try:
            yield
        finally:
            # disarm inside the outer try: an alarm landing while we disarm is still converted
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            _deadline.reset(token)
    except _BudgetExceeded:
        raise IngestError(name, _budget_reason(seconds)) from None
