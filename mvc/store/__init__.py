"""Bytes, not names: the content-addressed chunk store, chunkers, pointers and
materialisation.  Nothing here knows about git, artifacts, versions or runs."""
from .chunks import ChunkStore, DirChunkStore, MemoryChunkStore, chunk_id
from .pointer import Pointer
from .chunkers import Chunker, FixedChunker, select_chunker
from .ingest import FileEntry, collect_files, ingest_file, ingest_tree
from .materialise import materialise, check_relpath

__all__ = [
    "ChunkStore", "DirChunkStore", "MemoryChunkStore", "chunk_id", "Pointer", "Chunker", "FixedChunker",
    "select_chunker", "FileEntry", "collect_files", "ingest_file", "ingest_tree", "materialise", "check_relpath",
]
