"""Bytes, not names: the content-addressed chunk store, chunkers, pointers and
materialisation.  Nothing here knows about git, artifacts, versions or runs.

The names below load on first use (PEP 562): a command that only reads
metadata (`mvc ls`) never pays for BLAKE3, SQLite or the chunkers."""
from __future__ import annotations

import importlib

_WHERE = {
    "ChunkStore": "chunks", "DirChunkStore": "chunks", "MemoryChunkStore": "chunks", "chunk_id": "chunks",
    "Pointer": "pointer", "Chunker": "chunkers", "FixedChunker": "chunkers", "select_chunker": "chunkers",
    "FileEntry": "ingest", "collect_files": "ingest", "ingest_file": "ingest", "ingest_tree": "ingest",
    "check_relpath": "materialise",
}
# Not `materialise`: that name is the submodule mvc.store.materialise, which an import of it sets on
# this package; the function is `from mvc.store.materialise import materialise`.

__all__ = list(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
