"""ONNX export of a sentence-transformers model and the onnxruntime backend.

``<model dir>/onnx/`` (written once, beside the sentence-transformers files)::

    encoder.onnx          transformer from input embeddings to the last hidden state
    encoder-int8.onnx     the same, onnxruntime dynamic int8 (written on first --fast-embed)
    word_embeddings.npy   float32 token embedding table, memory-mapped at run time
    export.json           versions, pooling, verification (min cosine vs torch)

The word-embedding lookup stays outside the graph: a query touches a handful of
its 250k rows, so a cold process does not read the 384 MB table and the graph
loads in a fraction of a second.  Tokenisation uses ``tokenizers`` directly on
the model's ``tokenizer.json`` with sentence-transformers' conventions (prompt
prepended, text stripped, truncation to ``max_seq_length``); pooling (mean over
all tokens or CLS) and L2 normalisation run in numpy.

An export is accepted only if its vectors match sentence-transformers at cosine
>= ``MIN_COSINE`` on a fixed set of texts (short and long, both prompts, padded
batches and single texts); otherwise it is discarded and torch is used.
Exporting needs torch (imported only then); loading needs only onnxruntime,
tokenizers and numpy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from indexer.embedding import SMALL_QUERY_BATCH, TOKEN_BUDGET, batch_threads, query_threads, read_st_config

log = logging.getLogger(__name__)

EXPORT_VERSION = 1
EXPORT_DIR = "onnx"
GRAPH = "encoder.onnx"
GRAPH_INT8 = "encoder-int8.onnx"
WORD_EMBEDDINGS = "word_embeddings.npy"
MARKER = "export.json"
MARKER_INT8 = "export-int8.json"
MIN_COSINE = 0.9999
ENV_ONNX_CACHE = "PERFSEARCH_ONNX_CACHE"

# Verification texts: indicator names, values, a question, section-length text.
_CHECK_TEXTS = (
    "师生满意度",
    "学生家长对学校满不满意",
    "预算执行率≥90%",
    "网络安全等级保护测评完成率",
    "哪些单位设定了满意度≥90%？",
    "培训人次 ≥1200人次；覆盖全市中小学校",
    "Satisfaction of teachers and students",
    "苏州市电化教育馆 部门整体 年度目标：" + "围绕教育信息化工作要点，推进智慧校园建设、数字资源共建共享、网络安全保障和教师信息素养提升；" * 8,
)


class ExportError(Exception):
    """The model could not be exported or did not reproduce the torch vectors."""


# --------------------------------------------------------------------------- locations


def export_dir(model_dir: Path) -> Path:
    """``<model_dir>/onnx`` when writable, else a per-model directory under
    ``$PERFSEARCH_ONNX_CACHE`` (default ``~/.cache/perfsearch/onnx``)."""
    model_dir = Path(model_dir).resolve()
    own = model_dir / EXPORT_DIR
    if own.is_dir() or os.access(model_dir, os.W_OK):
        return own
    import hashlib

    tag = hashlib.blake2b(str(model_dir).encode(), digest_size=8).hexdigest()
    base = Path(os.environ.get(ENV_ONNX_CACHE) or Path.home() / ".cache" / "perfsearch" / "onnx")
    return base / f"{model_dir.name}-{tag}"


def _source_stamp(model_dir: Path) -> dict[str, Any]:
    """Size and mtime of the weight files, to notice a model replaced in place."""
    out = {}
    for name in ("model.safetensors", "pytorch_model.bin", "config.json", "tokenizer.json"):
        for p in (Path(model_dir) / name,):
            if p.is_file():
                st = p.stat()
                out[name] = [st.st_size, int(st.st_mtime)]
    return out


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_valid(model_dir: Path, out: Path | None = None) -> bool:
    out = out or export_dir(model_dir)
    meta = _read_marker(out / MARKER)
    return bool(
        meta
        and meta.get("version") == EXPORT_VERSION
        and meta.get("source") == _source_stamp(Path(meta.get("transformer_dir", model_dir)))
        and meta.get("min_cosine", 0) >= MIN_COSINE
        and (out / GRAPH).is_file()
        and (out / WORD_EMBEDDINGS).is_file()
    )


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    """Serialise concurrent exports of the same directory (processes and threads)."""
    from filelock import FileLock

    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(out.parent / f".{out.name}.lock"):
        yield


# --------------------------------------------------------------------------- backend


SMALL_TOKENIZER = "tokenizer-small.json"
SMALL_META = "tokenizer-small-meta.json"
SMALL_VERSION = 1
SMALL_FAILED = "tokenizer-small.failed"  # not reproducible for this model: do not retry
# Characters the small tokenizer covers besides the prompts' letters: digits, ASCII and
# Latin-1 punctuation, general punctuation, letterlike symbols and math operators
# (≥ ≤), CJK punctuation, CJK ideographs (incl. extension A), full-width forms, ▁.
_SMALL_RANGES = (
    (0x20, 0x40), (0x5B, 0x60), (0x7B, 0x7E), (0xA0, 0xBF), (0xD7, 0xD7), (0xF7, 0xF7),
    (0x2000, 0x206F), (0x2100, 0x22FF), (0x2581, 0x2581), (0x3000, 0x303F), (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF), (0xFF00, 0xFFEF),
)


def _small_charset(letters: str) -> str:
    """Regex character class (without brackets) of the covered characters."""
    parts = [f"\\u{a:04x}-\\u{b:04x}" if a != b else f"\\u{a:04x}" for a, b in _SMALL_RANGES]
    return "".join(parts) + "".join(sorted({re.escape(c) for c in letters}))


class SmallTokenizer:
    """The model's Unigram tokenizer restricted to pieces made of common Chinese-text
    characters (CJK, digits, punctuation, the prompts' letters): ~10x fewer pieces, so
    it loads in a fraction of the time and memory of the 250k-piece original.

    Exact by construction: a text whose normalised form uses only covered characters
    can only be segmented into pieces made of covered characters, all of which (with
    their scores, and the lowest-scoring piece that sets the unknown-piece penalty)
    are kept; ids are mapped back to the original vocabulary.  Other texts go to the
    full tokenizer.  Verified against the full tokenizer when written."""

    def __init__(self, tok, ids: np.ndarray, letters: str):
        self.tok = tok
        self.ids = ids
        self._outside = re.compile(f"[^{_small_charset(letters)}]")

    @classmethod
    def load(cls, out: Path, max_len: int) -> SmallTokenizer | None:
        meta = _read_marker(out / SMALL_META)
        if not meta or meta.get("version") != SMALL_VERSION or not (out / SMALL_TOKENIZER).is_file():
            return None
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(out / SMALL_TOKENIZER))
        tok.no_padding()
        tok.enable_truncation(max_len)
        return cls(tok, np.asarray(meta["ids"], dtype=np.int64), meta["letters"])

    def covers(self, text: str) -> bool:
        return self._outside.search(self.tok.normalizer.normalize_str(text)) is None

    def encode(self, texts: list[str]) -> list[list[int]]:
        return [self.ids[e.ids].tolist() for e in self.tok.encode_batch(texts)] if texts else []


def build_small_tokenizer(out: Path, transformer_dir: Path, prompts: dict[str, str], max_len: int) -> bool:
    """Write the small tokenizer beside the export if the model's tokenizer is a
    Unigram model and the small one reproduces it; returns whether it was written."""
    from tokenizers import Tokenizer

    j = json.loads((transformer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = j.get("model") or {}
    if model.get("type") != "Unigram" or model.get("byte_fallback"):
        return False
    letters = "".join(sorted({c for p in prompts.values() for c in p if c.isalpha() and ord(c) < 0x80}))
    outside = re.compile(f"[^{_small_charset(letters)}]")
    vocab = model["vocab"]
    special = {t["id"] for t in j.get("added_tokens", [])}
    lowest = min(range(len(vocab)), key=lambda i: vocab[i][1])
    keep = [i for i, (piece, _score) in enumerate(vocab)
            if i in special or i == lowest or i == model.get("unk_id") or not outside.search(piece)]
    new_id = {old: new for new, old in enumerate(keep)}
    small = dict(j)
    small["model"] = {**model, "vocab": [vocab[i] for i in keep], "unk_id": new_id.get(model.get("unk_id"))}
    small["added_tokens"] = [{**t, "id": new_id[t["id"]]} for t in j.get("added_tokens", [])]
    post = json.loads(json.dumps(j.get("post_processor")))
    for spec in ((post or {}).get("special_tokens") or {}).values():
        spec["ids"] = [new_id[i] for i in spec["ids"]]
    small["post_processor"] = post
    small["truncation"] = None
    small["padding"] = None
    text = json.dumps(small, ensure_ascii=False)
    full = Tokenizer.from_file(str(transformer_dir / "tokenizer.json"))
    tok = Tokenizer.from_str(text)
    for t in (full, tok):
        t.no_padding()
        t.enable_truncation(max_len)
    ids = np.asarray(keep, dtype=np.int64)
    # verification: every covered code point alone and in the prompts, the check texts,
    # and random strings of covered characters (fixed seed)
    chars = [chr(c) for a, b in _SMALL_RANGES for c in range(a, b + 1)] + list(letters)
    rng = np.random.default_rng(0)
    common = [chr(c) for c in range(0x4E00, 0x9FA6)] + list("0123456789%.,;:()（）、，。；：≥≤=<>+-/ 年月日")
    prefixes = list(prompts.values()) or [""]
    randoms = [prefixes[k % len(prefixes)] + "".join(rng.choice(common, size=int(rng.integers(2, 40))))
               for k in range(3000)]
    samples = [p + c for p in (list(prompts.values()) or [""]) for c in chars] + list(_CHECK_TEXTS) + randoms
    samples = [s for s in samples if not outside.search(full.normalizer.normalize_str(s))]
    got = [ids[e.ids].tolist() for e in tok.encode_batch(samples)]
    want = [e.ids for e in full.encode_batch(samples)]
    bad = sum(1 for a, b in zip(got, want) if a != b)
    if bad:
        log.warning("small tokenizer differs on %d of %d samples; not used", bad, len(samples))
        return False
    (out / SMALL_TOKENIZER).write_text(text, encoding="utf-8")
    meta = {"version": SMALL_VERSION, "letters": letters, "pieces": len(keep), "of": len(vocab),
            "verified_samples": len(samples), "ids": keep}
    (out / SMALL_META).write_text(json.dumps(meta), encoding="utf-8")
    log.info("small tokenizer: %d of %d pieces, verified on %d texts", len(keep), len(vocab), len(samples))
    return True


class OnnxBackend:
    """onnxruntime + tokenizers; same interface as ``indexer.embedding.TorchBackend``."""

    name = "onnx"
    token_budget = TOKEN_BUDGET

    def __init__(self, out: Path, meta: dict[str, Any], precision: str = "fp32", num_threads: int | None = None):

        self.dir = Path(out)
        self.meta = meta
        self.precision = precision
        self.graph = self.dir / (GRAPH_INT8 if precision == "int8" else GRAPH)
        self.prompts: dict[str, str] = dict(meta["prompts"])
        self.max_seq_length = int(meta["max_seq_length"])
        self.dim = int(meta["dim"])
        self._lower = bool(meta.get("do_lower_case"))
        self._pooling = meta["pooling"]
        self._normalize = bool(meta["normalize"])
        self._pad = int(meta["pad_id"])
        self._num_threads = num_threads
        self._tokenizer_path = Path(meta["transformer_dir"]) / "tokenizer.json"
        self._full: Any = None  # the model's own tokenizer, loaded when a text needs it
        self._small = SmallTokenizer.load(self.dir, self.max_seq_length)
        if self._small is None:
            self._full_tokenizer()
        self._emb = np.load(self.dir / WORD_EMBEDDINGS, mmap_mode="r")
        self._sessions: dict[int, Any] = {}

    def _session(self, threads: int):
        s = self._sessions.get(threads)
        if s is None:
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            # no busy-waiting worker threads: they steal the CPU other processes need
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            s = self._sessions[threads] = ort.InferenceSession(str(self.graph), so,
                                                               providers=["CPUExecutionProvider"])
        return s

    def _texts(self, texts: list[str], prompt: str) -> list[str]:
        out = [(prompt + t).strip() for t in texts]
        return [t.lower() for t in out] if self._lower else out

    def _full_tokenizer(self):
        if self._full is None:
            from tokenizers import Tokenizer

            self._full = Tokenizer.from_file(str(self._tokenizer_path))
            self._full.no_padding()
            self._full.enable_truncation(self.max_seq_length)
        return self._full

    def token_ids(self, texts: list[str], prompt: str) -> list[list[int]]:
        prepared = self._texts(texts, prompt)
        out: list[list[int] | None] = [None] * len(prepared)
        rest = list(range(len(prepared)))
        if self._small is not None:
            rest = []
            covered = []
            for i, t in enumerate(prepared):
                (covered if self._small.covers(t) else rest).append(i)
            for i, ids in zip(covered, self._small.encode([prepared[i] for i in covered])):
                out[i] = ids
        if rest:
            full = self._full_tokenizer()
            for i, e in zip(rest, full.encode_batch([prepared[i] for i in rest])):
                out[i] = e.ids
        return out  # type: ignore[return-value]

    def token_lengths(self, texts: list[str], prompt: str) -> list[int]:
        return [len(x) for x in self.token_ids(texts, prompt)]

    def run_ids(self, ids_list: list[list[int]], threads: int) -> np.ndarray:
        n, longest = len(ids_list), max(len(x) for x in ids_list)
        ids = np.full((n, longest), self._pad, dtype=np.int64)
        mask = np.zeros((n, longest), dtype=np.int64)
        for i, x in enumerate(ids_list):
            ids[i, : len(x)] = x
            mask[i, : len(x)] = 1
        emb = np.ascontiguousarray(self._emb[ids], dtype=np.float32)
        hidden = self._session(threads).run(None, {"inputs_embeds": emb, "attention_mask": mask})[0]
        if self._pooling == "cls":
            v = hidden[:, 0]
        else:
            m = mask[..., None].astype(np.float32)
            v = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        if self._normalize:
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(v, dtype=np.float32)

    def encode(self, texts: list[str], prompt_name: str | None, *, queries: bool) -> np.ndarray:
        prompt = self.prompts.get(prompt_name, "") if prompt_name else ""
        few = queries and len(texts) < SMALL_QUERY_BATCH
        threads = query_threads() if few else batch_threads(self._num_threads)
        return self.run_ids(self.token_ids(texts, prompt), threads)


# --------------------------------------------------------------------------- export


def _pad_id(transformer_dir: Path) -> int:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(transformer_dir / "tokenizer.json"))
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        p = transformer_dir / name
        if p.is_file():
            pad = json.loads(p.read_text(encoding="utf-8")).get("pad_token")
            if isinstance(pad, dict):
                pad = pad.get("content")
            if isinstance(pad, str) and tok.token_to_id(pad) is not None:
                return int(tok.token_to_id(pad))
    return 0


def _export_graph(transformer_dir: Path, tmp: Path) -> int:
    """Write encoder.onnx and word_embeddings.npy; returns the hidden size."""
    import torch
    from transformers import AutoModel

    from indexer.embedding import _quiet_transformers

    _quiet_transformers()
    hf = AutoModel.from_pretrained(str(transformer_dir), attn_implementation="eager", local_files_only=True)
    hf.eval()
    weight = hf.get_input_embeddings().weight.detach().float().numpy()
    np.save(tmp / WORD_EMBEDDINGS, np.ascontiguousarray(weight))

    class Body(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, inputs_embeds, attention_mask):
            return self.m(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state

    ids = np.array([[0, 5, 6, 7, 8, 9, 10, 2], [0, 5, 6, 2, 1, 1, 1, 1]])
    emb = torch.from_numpy(weight[ids])
    mask = torch.tensor((np.arange(8)[None, :] < np.array([[8], [4]])).astype(np.int64))
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Body(hf), (emb, mask), str(tmp / GRAPH), input_names=["inputs_embeds", "attention_mask"],
            output_names=["last_hidden_state"], opset_version=17, dynamo=False,
            dynamic_axes={"inputs_embeds": axes, "attention_mask": axes, "last_hidden_state": axes},
        )
    return int(weight.shape[1])


def verify(backend: OnnxBackend, reference) -> float:
    """Min cosine between ``backend`` and the sentence-transformers ``reference`` over the
    check texts, both prompts, one padded batch and one text at a time."""
    worst = 1.0
    names = [n for n in backend.prompts] or [None]
    texts = list(_CHECK_TEXTS)
    for name in names:
        ref = reference.encode(texts, prompt_name=name, batch_size=len(texts), convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
        ref = np.asarray(ref, dtype=np.float32)
        got = backend.encode(texts, name, queries=False)
        one = np.concatenate([backend.encode([t], name, queries=True) for t in texts])
        for g in (got, one):
            cos = (g * ref).sum(axis=1) / np.linalg.norm(g, axis=1) / np.linalg.norm(ref, axis=1)
            worst = min(worst, float(cos.min()))
    return worst


def export(model_dir: Path, reference_loader: Callable[[], Any], out: Path | None = None) -> Path:
    """Export ``model_dir`` to ONNX and verify it against sentence-transformers.

    Written to a temporary sibling and moved into place only if verified."""
    model_dir = Path(model_dir)
    out = out or export_dir(model_dir)
    cfg = read_st_config(model_dir)
    tdir = Path(cfg["transformer_dir"])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    t0 = time.perf_counter()
    try:
        dim = _export_graph(tdir, tmp)
        meta = {
            "version": EXPORT_VERSION, **cfg, "transformer_dir": str(tdir.resolve()), "dim": dim,
            "pad_id": _pad_id(tdir), "source": _source_stamp(tdir),
        }
        backend = OnnxBackend(tmp, meta)
        worst = verify(backend, reference_loader())
        meta.update(min_cosine=worst, created_unix=int(time.time()), versions=_versions(),
                    export_seconds=round(time.perf_counter() - t0, 1))
        if worst < MIN_COSINE:
            raise ExportError(f"ONNX vectors differ from torch (min cosine {worst:.6f} < {MIN_COSINE})")
        (tmp / MARKER).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        _relax(tmp)
        if out.exists():
            shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("ONNX export of %s verified (min cosine %.6f) in %.1fs", model_dir, worst, time.perf_counter() - t0)
    return out


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "transformers", "onnxruntime", "tokenizers"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _relax(root: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(root, 0o777 & ~umask)
    for p in root.iterdir():
        os.chmod(p, 0o666 & ~umask)


def quantize_int8(out: Path) -> Path:
    """``encoder-int8.onnx`` from ``encoder.onnx`` (onnxruntime dynamic quantisation)."""
    target = out / GRAPH_INT8
    if target.is_file() and _read_marker(out / MARKER_INT8):
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp_name = tempfile.mkstemp(prefix=".encoder-int8-", suffix=".onnx", dir=out)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(out / GRAPH), tmp_name, weight_type=QuantType.QInt8)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    (out / MARKER_INT8).write_text(json.dumps({"version": EXPORT_VERSION, "created_unix": int(time.time())}),
                                   encoding="utf-8")
    return target


def load_backend(model_dir: Path, precision: str, reference_loader: Callable[[], Any], *,
                 num_threads: int | None = None, required: bool = False) -> OnnxBackend | None:
    """The ONNX backend of ``model_dir``, exporting (and verifying) it on first use.

    None when the model cannot be exported (unless ``required``): the caller uses torch."""
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401

        out = export_dir(model_dir)
        if not is_valid(model_dir, out):
            with _lock(out):
                if not is_valid(model_dir, out):
                    log.info("exporting %s to ONNX (one-off)", model_dir)
                    export(model_dir, reference_loader, out)
        meta = _read_marker(out / MARKER) or {}
        if not (out / SMALL_META).is_file() and not (out / SMALL_FAILED).exists():
            with _lock(out):
                if not (out / SMALL_META).is_file():
                    try:
                        ok = build_small_tokenizer(out, Path(meta["transformer_dir"]), meta["prompts"],
                                                   int(meta["max_seq_length"]))
                    except Exception as exc:  # noqa: BLE001 - the full tokenizer always works
                        log.warning("small tokenizer not built: %s", exc)
                        ok = False
                    if not ok:
                        (out / SMALL_FAILED).write_text("", encoding="utf-8")
        if precision == "int8":
            with _lock(out):
                quantize_int8(out)
        return OnnxBackend(out, meta, precision, num_threads)
    except Exception as exc:  # noqa: BLE001 - any failure means "use torch"
        if required or precision == "int8":
            raise
        log.warning("ONNX backend unavailable for %s, using torch: %s", model_dir, exc)
        return None


__all__ = ["MIN_COSINE", "ExportError", "OnnxBackend", "export", "export_dir", "is_valid", "load_backend",
           "quantize_int8", "verify"]
