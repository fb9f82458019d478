from __future__ import annotations

import functools
from pathlib import Path

import pytest

from search.retrieval.fake import FAKE_MODEL_ID

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"

SEED_000 = CORPUS / "000_49ac853719709592.txt"
SEED_001 = CORPUS / "001_5faa2bc3c3b6a31c.txt"
SEED_002 = CORPUS / "002_e915be5c49c8d360.txt"
SEED_003 = CORPUS / "003_be79a3bdad299845.txt"
SEED_004 = CORPUS / "004_65f67547a9505fce.txt"
SEEDS = [SEED_000, SEED_001, SEED_002, SEED_003, SEED_004]
# the test corpus proper: files directly in corpus/ (corpus/realworld/ is the labelled real-world set)
CORPUS_FILES = sorted(p for p in CORPUS.iterdir() if p.is_file())


@functools.cache
def parsed(path: Path):
    from indexer.ingest import parse_file

    return parse_file(path)


def find_row(doc, name: str, project: str | None = None, nth: int = 0):
    hits = [
        r
        for t in doc.tables
        if project is None or t.project == project
        for r in t.rows
        if r.name == name
    ]
    assert len(hits) > nth, f"row {name!r} not found in {doc.file}"
    return hits[nth]


def levels(row) -> tuple[str, str, str, str]:
    return (row.function, row.level1, row.level2, row.task)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


# ---------------------------------------------------------------- embedding models in tests
#
# Tests marked neither ``slow`` nor ``browser`` never load the real embedding model: they use the registered
# test encoder ``fake-bigram`` (search/retrieval/fake.py).  The guard below fails such a test
# the moment it (or a fixture it requests) asks for the default model.  Tests marked ``slow``
# share ONE real-model index of the whole corpus (``real_index``); smaller real-model indexes
# (``real_subset_index``) are built after it and reuse its vectors (process-local cache).

FAKE_MODEL = FAKE_MODEL_ID
_running: dict[str, pytest.Item | None] = {"item": None}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _running["item"] = item
    try:
        yield
    finally:
        _running["item"] = None


def pytest_sessionstart(session):
    from indexer import embedding

    real_load = embedding.Encoder.load.__func__

    def guarded_load(cls, model=None, *args, **kwargs):
        item = _running["item"]
        base = embedding.split_precision(model)[0]
        marked = item is None or item.get_closest_marker("slow") or item.get_closest_marker("browser")
        if not marked and embedding.is_default_model(base):
            pytest.fail(f"{item.nodeid} is not marked slow (or browser) but loads the real embedding model; "
                        f"use --model {FAKE_MODEL} (search/retrieval/fake.py) or mark it slow", pytrace=False)
        return real_load(cls, model, *args, **kwargs)

    embedding.Encoder.load = classmethod(guarded_load)


@pytest.fixture()
def own_vector_cache():
    """An empty process-local vector cache for this test (so it counts its own embeddings);
    the shared entries (e.g. the real-model corpus vectors) are put back afterwards."""
    from search.retrieval.artifacts import RECENT

    saved = RECENT._data.copy()
    RECENT.clear()
    yield RECENT
    RECENT.clear()
    with RECENT._lock:
        RECENT._data.update(saved)


@pytest.fixture(scope="session")
def real_index(tmp_path_factory) -> Path:
    """The whole test corpus indexed with the real default model, built once per session
    (only tests marked ``slow`` may request it).  Copy it before changing it."""
    from search.engine import Engine

    root = tmp_path_factory.mktemp("real_index")
    report = Engine.open(root).ingest(CORPUS_FILES)
    assert report.ok, [e.message for e in report.errors]
    return root


def real_subset_index(tmp_path_factory, real_index: Path, files, name: str) -> Path:
    """A real-model index of some corpus files (copied into a fresh folder); the vectors come
    from ``real_index``'s build through the process-local cache, so nothing is re-embedded."""
    import shutil

    from search.engine import Engine

    assert (real_index / "manifest.json").is_file()
    src = tmp_path_factory.mktemp(f"{name}_corpus")
    for f in files:
        shutil.copy(f, src / Path(f).name)
    index = tmp_path_factory.mktemp(name)
    report = Engine.open(index).ingest([src])
    assert report.ok, [e.message for e in report.errors]
    return index


@pytest.fixture(scope="session")
def fake_index(tmp_path_factory) -> Path:
    """The text files of the test corpus (seeds and other provinces, .txt/.csv: no PDF or office copies
    to convert) indexed with the test encoder ``fake-bigram``, built once per session (about a CPU
    second, no model).  Copy it before changing it."""
    from search.engine import Engine

    root = tmp_path_factory.mktemp("fake_index")
    report = Engine.open(root, model=FAKE_MODEL).ingest([f for f in CORPUS_FILES if f.suffix in (".txt", ".csv")])
    assert report.ok, [e.message for e in report.errors]
    return root
