"""Test doubles for search tests: the deterministic bigram encoder, registered as model id ``fake-bigram``.

It lives in the package (search/retrieval/fake.py) so ``--model fake-bigram`` works in the CLI and the
web UI; this module re-exports it for the tests that import it from here."""

from __future__ import annotations

from search.retrieval.fake import FAKE_MODEL_ID, FakeEncoder

__all__ = ["FAKE_MODEL_ID", "FakeEncoder"]
