"""The dyadwatch corpus: one SQLite file through sqlite-utils (see :mod:`storage.corpus`)."""

from storage.corpus import (
    CorpusError,
    content_hash,
    ensure_schema,
    open_corpus,
)

__all__ = ["CorpusError", "content_hash", "ensure_schema", "open_corpus"]
