"""Milvus collections of one perfsearch index and the entity of each chunk.

Collections (``<prefix>_<name>``, see ``client.MilvusSettings``):

- ``rows``: one entity per indicator-row chunk;
- ``sections``: one entity per table-level chunk (goals, duties, expense lines,
  running-text passages) -- same fields as ``rows`` so one search code serves both;
- ``vocab``: the BM25 vocabulary (token -> id, document frequency);
- ``meta``: one JSON value per key (BM25 statistics, model, tokenizer ...).

Chunk fields: ``pk`` = ``<file>\\x1f<chunk number in the file>`` (stable across
ingests of an unchanged file), ``pos`` = position in the generation's chunk order
(the embedded backend's chunk position: BM25 ties are broken by it), ``hash`` =
content hash of the embedded passage (unchanged text -> no re-embedding), ``fp``
= fingerprint of every stored field but the dense vector (unchanged -> no
upsert), the hit object ``row`` (JSON, exactly ``row_to_json``), normalised
filter fields (``*_key``, canonical ``level1c``/``level2c``), the parsed target
(``t_*``), the dense vector and the BM25 sparse vector.

Milvus requires a vector field in every collection: ``vocab`` and ``meta`` carry
a 2-dimensional dummy vector ``v``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from indexer.model import Target
from indexer.normalize import key
from indexer.values.units import UNIT_FAMILIES
from search.retrieval.chunks import ROW, Chunk
from search.retrieval.levels import canonical_levels

ROWS = "rows"
SECTIONS = "sections"
VOCAB = "vocab"
META = "meta"
CHUNK_COLLECTIONS = (ROWS, SECTIONS)
SCHEMA_VERSION = 2

MAX_KEY = 2048  # normalised text fields (unit names, project names ...)
DUMMY_DIM = 2
DUMMY = [0.0, 0.0]

# fields returned with every search candidate (cheap: the ranking needs only these) and with
# the hits shown (the hit object ``row``: JSON is the slow part of a Milvus Lite answer)
HIT_FIELDS = ["pk", "pos", "hash", "ident", "name_key"]
ROW_FIELDS = [*HIT_FIELDS, "row"]


@dataclass(frozen=True)
class IndexParams:
    """Vector index settings: exact FLAT search up to ``exact_threshold`` chunks (the
    embedded backend's default too), HNSW above -- on a Milvus server.  Milvus Lite
    always gets FLAT: its HNSW filters *after* the graph search, so a selective
    filter (one unit among 10⁵ rows) returned no hit at all (measured on the 100k
    benchmark collection: 0 of 106 matching rows with ef=128), while FLAT is exact."""

    exact_threshold: int = 50_000
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128

    def dense_index(self, n_chunks: int, local: bool = False) -> dict[str, Any]:
        if local or n_chunks <= self.exact_threshold:
            return {"index_type": "FLAT", "metric_type": "IP", "params": {}}
        return {"index_type": "HNSW", "metric_type": "IP",
                "params": {"M": self.hnsw_m, "efConstruction": self.ef_construction}}

    def dense_search_params(self, index_type: str) -> dict[str, Any]:
        if index_type == "HNSW":
            return {"metric_type": "IP", "params": {"ef": self.ef_search}}
        return {"metric_type": "IP", "params": {}}


def chunk_schema(client, dim: int):
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=4096)
    s.add_field("pos", DataType.INT64)
    s.add_field("hash", DataType.VARCHAR, max_length=64)
    s.add_field("fp", DataType.VARCHAR, max_length=64)
    s.add_field("ident", DataType.VARCHAR, max_length=64)
    s.add_field("doc", DataType.VARCHAR, max_length=MAX_KEY)
    for f in ("doc_key", "unit_key", "region_key", "project_key", "name_key"):
        s.add_field(f, DataType.VARCHAR, max_length=MAX_KEY)
    s.add_field("year", DataType.INT64)  # -1: unknown
    s.add_field("table", DataType.VARCHAR, max_length=16)
    s.add_field("level1c", DataType.VARCHAR, max_length=512)
    s.add_field("level2c", DataType.VARCHAR, max_length=512)
    s.add_field("t_op", DataType.VARCHAR, max_length=8)
    s.add_field("t_unit", DataType.VARCHAR, max_length=64)
    s.add_field("t_family", DataType.VARCHAR, max_length=32)
    s.add_field("t_numeric", DataType.BOOL)
    s.add_field("t_qual", DataType.BOOL)
    for f in ("t_lo", "t_hi", "t_blo", "t_bhi"):
        s.add_field(f, DataType.DOUBLE)
    s.add_field("row", DataType.JSON)
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    return s


def vocab_schema(client):
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("token", DataType.VARCHAR, is_primary=True, max_length=1024)
    s.add_field("tid", DataType.INT64)
    s.add_field("df", DataType.INT64)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
    return s


def meta_schema(client):
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("k", DataType.VARCHAR, is_primary=True, max_length=256)
    s.add_field("value", DataType.JSON)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
    return s


def chunk_index_params(client, dense: dict[str, Any]):
    ip = client.prepare_index_params()
    ip.add_index("dense", **dense)
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    return ip


def dummy_index_params(client):
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="FLAT", metric_type="L2")
    return ip


# -- entities ---------------------------------------------------------------------------

def chunk_pk(doc: str, seq: int) -> str:
    return f"{doc}\x1f{seq:06d}"


def pk_order(pk: str) -> tuple[str, int]:
    """(file, chunk number): the embedded backend's chunk order."""
    doc, _, seq = pk.rpartition("\x1f")
    return doc, int(seq)


def _finite(x: float | None) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else 0.0


def target_fields(t: Target) -> dict[str, Any]:
    """The parsed target as scalar fields (``t_lo``/``t_hi`` as written, ``t_blo``/``t_bhi``
    in the unit family's base unit; 0 when not numeric)."""
    numeric = bool(t.is_numeric)
    lo = hi = 0.0
    if numeric:
        if isinstance(t.number, tuple):
            lo, hi = _finite(t.number[0]), _finite(t.number[1])
        else:
            lo = hi = _finite(t.number)  # type: ignore[arg-type]
    fam = UNIT_FAMILIES.get(t.unit or "")
    factor = fam[1] if fam else 1.0
    return {
        "t_op": (t.op or "") if numeric else "",
        "t_unit": t.unit or "",
        "t_family": fam[0] if fam else "",
        "t_numeric": numeric,
        "t_qual": bool(t.qualitative),
        "t_lo": lo, "t_hi": hi, "t_blo": lo * factor, "t_bhi": hi * factor,
    }


def copy_ident(row: dict[str, Any]) -> str:
    """Digest of ``search.retrieval.retrieve.copy_identity`` (the same row in another file format)."""
    from search.retrieval.retrieve import copy_identity

    payload = json.dumps(copy_identity(row), ensure_ascii=False, default=str)
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


def chunk_scalars(chunk: Chunk) -> dict[str, Any]:
    """Every stored field of ``chunk`` but pk/pos/hash/fp and the vectors."""
    r = chunk.row
    c1, c2 = canonical_levels(str(r.get("level1") or ""), str(r.get("level2") or ""))
    if chunk.kind == ROW:
        target = Target.from_json(str(r.get("value") or ""), r.get("target") or {})
    else:
        target = Target(str(r.get("value") or ""), qualitative=True)
    return {
        "doc": chunk.doc,
        "doc_key": key(chunk.doc)[:MAX_KEY],
        "unit_key": key(str(r.get("unit") or ""))[:MAX_KEY],
        "region_key": key(chunk.region or "")[:MAX_KEY],
        "project_key": key(str(r.get("project") or ""))[:MAX_KEY],
        "name_key": key(str(r.get("name") or ""))[:MAX_KEY],
        "ident": copy_ident(r),
        "year": int(r["year"]) if r.get("year") is not None else -1,
        "table": str(r.get("table") or ""),
        "level1c": c1[:512],
        "level2c": c2[:512],
        **target_fields(target),
        "row": r,
    }


def fingerprint(pos: int, hash_: str, scalars: dict[str, Any], sparse: dict[int, float]) -> str:
    """Identity of everything stored for a chunk except the dense vector (decided by ``hash``)."""
    payload = json.dumps([pos, hash_, scalars, sorted((int(k), round(float(v), 7)) for k, v in sparse.items())],
                         ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


__all__ = ["CHUNK_COLLECTIONS", "DUMMY", "HIT_FIELDS", "IndexParams", "META", "ROWS", "ROW_FIELDS", "SCHEMA_VERSION", "SECTIONS",
           "VOCAB", "chunk_index_params", "chunk_pk", "chunk_scalars", "chunk_schema", "copy_ident", "dummy_index_params",
           "fingerprint", "meta_schema", "pk_order", "target_fields", "vocab_schema"]
