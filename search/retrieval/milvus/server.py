"""Milvus Lite as a real gRPC server on 127.0.0.1 (tests and benchmarks).

``MilvusLiteServer(data_dir)`` starts ``python -m milvus_lite server`` in a
child process on a free port and waits until it accepts connections; its
``uri`` (``http://127.0.0.1:<port>``) then goes through pymilvus' network
client path exactly like a Milvus standalone server.  ``stop()`` ends that one
child process (by its pid) and is also called on exit from a ``with`` block.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class MilvusLiteServer:
    def __init__(self, data_dir: Path | str, port: int | None = None, startup_timeout: float = 60.0):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MilvusLiteServer:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data_dir),
               "--host", "127.0.0.1", "--port", str(self.port)]
        self.log_path = Path(str(self.data_dir) + ".server.log")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while not _listening(self.port):
            if self.proc.poll() is not None:
                err = self.log_path.read_text(encoding="utf-8", errors="replace")
                raise RuntimeError(f"Milvus Lite 服务未能启动（退出码 {self.proc.returncode}）：{err[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Milvus Lite 服务在 {self.startup_timeout:.0f} 秒内未开始监听端口 {self.port}")
            time.sleep(0.1)
        log.info("Milvus Lite server pid %d on %s", self.proc.pid, self.uri)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> MilvusLiteServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["MilvusLiteServer", "free_port"]
