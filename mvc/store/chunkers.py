"""Chunkers cut a file's bytes into chunks.  Each yields bytes-like pieces of
bounded size in file order; the concatenation is the file.

The cut of every chunker is normative (docs/format.md): the same bytes must be
cut the same way by every mvc, or dedup across machines is lost.
"""
from __future__ import annotations

from typing import BinaryIO, Iterator

MiB = 1 << 20


class Chunker:
    name = "abstract"

    def chunks(self, f: BinaryIO, size: int) -> Iterator[bytes]:
        raise NotImplementedError


class FixedChunker(Chunker):
    """Fixed-size pieces (the last one shorter); one chunk for a small file."""

    def __init__(self, piece: int = 16 * MiB):
        self.piece = piece
        self.name = f"fixed-{piece}"

    def chunks(self, f, size):
        while True:
            data = f.read(self.piece)
            if not data:
                return
            yield data


DEFAULT = FixedChunker()


def select_chunker(path: str, size: int, head: bytes = b"") -> Chunker:
    """Pick the chunker for a file from its size and first bytes."""
    return DEFAULT
