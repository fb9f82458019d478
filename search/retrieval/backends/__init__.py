"""Index backends (see ``base``): ``create_backend(config, store)`` picks one by ``EngineConfig.backend``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from search.retrieval.backends.base import (
    BackendError,
    BackendMismatchError,
    BackendUnavailable,
    IndexBackend,
    Retriever,
    check_backend,
    recorded_backend,
)

if TYPE_CHECKING:
    from indexer.store import IndexStore
    from search.config import EngineConfig

# backend name -> (module, class); modules are imported only when chosen
BACKENDS = {
    "faiss": ("search.retrieval.backends.faiss", "FaissBackend"),
    "milvus": ("search.retrieval.backends.milvus", "MilvusBackend"),
}


def create_backend(config: EngineConfig, store: IndexStore) -> IndexBackend:
    """The backend ``config.backend`` names, for the index directory of ``store``."""
    try:
        module_name, class_name = BACKENDS[config.backend]
    except KeyError:
        raise BackendError(f"未知的检索后端：{config.backend}（可选：{'、'.join(BACKENDS)}）") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # the module, or a client library it needs, is missing
        hint = ("请安装 pymilvus（pip install 'pymilvus[milvus-lite]'），或去掉 --milvus / PERFSEARCH_MILVUS_URI "
                "使用默认的 faiss 后端。") if config.backend == "milvus" else ""
        raise BackendUnavailable(f"后端 {config.backend} 尚未安装/实现（{exc}）。{hint}") from exc
    return getattr(module, class_name)(config, store)


__all__ = [
    "BACKENDS", "BackendError", "BackendMismatchError", "BackendUnavailable", "IndexBackend", "Retriever",
    "check_backend", "create_backend", "recorded_backend",
]
