"""Search errors (a light module: the engine and the backend factory import it without numpy)."""

from __future__ import annotations


class SearchError(Exception):
    """A search index cannot be built or used; the message is Chinese and says how to fix it."""


class ModelLoadError(SearchError):
    """The embedding model cannot be loaded (offline, missing directory ...)."""
