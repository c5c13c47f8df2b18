"""The format-2 content ids written from docs/format.md with the `blake3` module alone, never
with mvc's code: tests compare what mvc records with these (STYLE 17)."""
from __future__ import annotations

import struct

import blake3


def chunk_id(data: bytes) -> str:
    """BLAKE3-256 (default key) of the chunk's bytes, lowercase hex."""
    return blake3.blake3(data).hexdigest()


def file_digest(pieces: list[bytes]) -> str:
    """"blake3:" + BLAKE3 of b"mvc-file-v2\\0" and, per chunk, its raw id and u64 LE length."""
    body = b"mvc-file-v2\x00" + b"".join(blake3.blake3(p).digest() + struct.pack("<Q", len(p)) for p in pieces)
    return "blake3:" + blake3.blake3(body).hexdigest()


def whole(data: bytes) -> str:
    """The digest of a file of at most 1 MiB (one chunk; none when empty)."""
    return file_digest([data] if data else [])
