"""Connecting to Milvus by URI: a local Milvus Lite file or a Milvus server/cluster.

One setting chooses the backend (``--milvus URI`` / ``PERFSEARCH_MILVUS_URI``):

- a local path ending in ``.db`` (``/data/perfsearch/milvus.db``): Milvus Lite,
  started in this process by pymilvus (the path is its data directory);
- ``http://host:19530`` / ``https://...`` / ``tcp://...``: a Milvus server or
  cluster; ``PERFSEARCH_MILVUS_TOKEN`` (``user:password`` or an API key) and
  ``PERFSEARCH_MILVUS_DB`` (database name) are passed to it.

Collections are named ``<prefix>_rows`` ... (``PERFSEARCH_MILVUS_COLLECTION``,
default ``perfsearch``) so several indexes can share one database.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.retrieval.backends.base import BackendError

log = logging.getLogger(__name__)

ENV_URI = "PERFSEARCH_MILVUS_URI"
ENV_TOKEN = "PERFSEARCH_MILVUS_TOKEN"
ENV_DB = "PERFSEARCH_MILVUS_DB"
ENV_PREFIX = "PERFSEARCH_MILVUS_COLLECTION"
DEFAULT_PREFIX = "perfsearch"

_SERVER_RE = re.compile(r"^(https?|tcp|grpc)://[^/\s]+(:\d+)?/?$", re.IGNORECASE)
_PREFIX_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")


class MilvusError(BackendError):
    """The Milvus backend cannot be used; the message is Chinese and says how to fix it."""


@dataclass(frozen=True)
class MilvusSettings:
    uri: str
    token: str = ""
    db_name: str = ""
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        uri = (self.uri or "").strip()
        if not uri:
            raise MilvusError(f"未指定 Milvus 地址。请用 --milvus 或环境变量 {ENV_URI} 指定（本地 *.db 文件或 http://主机:19530）。")
        if not (is_local(uri) or _SERVER_RE.match(uri)):
            raise MilvusError(
                f"无法识别的 Milvus 地址「{uri}」：本地 Milvus Lite 请给出以 .db 结尾的路径"
                "（如 /data/perfsearch/milvus.db），Milvus 服务请给出 http://主机:19530。"
            )
        if not _PREFIX_RE.match(self.prefix or ""):
            raise MilvusError(f"集合名前缀「{self.prefix}」无效：只能包含英文字母、数字和下划线，且不能以数字开头。")
        object.__setattr__(self, "uri", uri)

    @property
    def local(self) -> bool:
        return is_local(self.uri)

    def collection(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def describe(self) -> str:
        """The location without secrets (for the manifest and messages)."""
        where = str(Path(self.uri).resolve()) if self.local else self.uri
        return where + (f"（数据库 {self.db_name}）" if self.db_name else "")

    def to_json(self) -> dict[str, Any]:
        """What the manifest records (never the token)."""
        return {"uri": str(Path(self.uri).resolve()) if self.local else self.uri,
                "db_name": self.db_name, "prefix": self.prefix}



def is_local(uri: str) -> bool:
    """A Milvus Lite data path (``*.db``), not a server address."""
    return "://" not in uri and uri.rstrip("/").endswith(".db")


def connect(settings: MilvusSettings, timeout: float = 30.0):
    """A ``pymilvus.MilvusClient`` for ``settings`` (raises ``MilvusError`` in Chinese)."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:  # pragma: no cover - pymilvus is a dependency
        raise MilvusError("未安装 pymilvus，无法使用 Milvus 后端：pip install 'pymilvus[milvus-lite]'") from exc
    kwargs: dict[str, Any] = {"timeout": timeout}
    if settings.local:
        path = Path(settings.uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        uri = str(path.resolve())
    else:
        uri = settings.uri
        if settings.token:
            kwargs["token"] = settings.token
        if settings.db_name:
            kwargs["db_name"] = settings.db_name
    try:
        return MilvusClient(uri=uri, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every connection failure becomes one Chinese message
        if settings.local:
            hint = "请确认路径可写、且没有另一个进程独占该 Milvus Lite 数据目录。"
        else:
            hint = "请确认 Milvus 服务已启动、地址和端口正确，以及令牌（PERFSEARCH_MILVUS_TOKEN）和数据库名是否有效。"
        raise MilvusError(f"无法连接 Milvus（{settings.describe()}）：{type(exc).__name__}: {exc}。{hint}") from exc


__all__ = ["DEFAULT_PREFIX", "ENV_DB", "ENV_PREFIX", "ENV_TOKEN", "ENV_URI", "MilvusError", "MilvusSettings",
           "connect", "is_local"]
