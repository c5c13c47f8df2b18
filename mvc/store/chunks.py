"""Chunk stores: immutable blobs named by the xxh3-128 hex of their bytes.

``DirChunkStore`` lays chunks out as ``<root>/chunks/ab/<30 more hex>``;
``MemoryChunkStore`` is its in-memory twin for tests.  Every read re-hashes.
"""
from __future__ import annotations

import os
from typing import Iterator

import xxhash

from ..errors import IntegrityError, NotFoundError
from ..fsutil import AtomicFile

ID_LEN = 32


def chunk_id(data) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def check_id(cid: str) -> str:
    if len(cid) != ID_LEN or any(c not in "0123456789abcdef" for c in cid):
        raise IntegrityError(f"malformed chunk id {cid!r}")
    return cid


class ChunkStore:
    """Interface: every backend (memory, directory, remote) passes tests/test_chunk_store.py."""

    def has(self, cid: str) -> bool:
        raise NotImplementedError

    def put(self, data, cid: str | None = None) -> tuple[str, bool]:
        """Store ``data``; return (chunk id, whether it was new)."""
        raise NotImplementedError

    def get(self, cid: str) -> bytes:
        """Return the chunk's bytes, verified against its id."""
        raise NotImplementedError

    def delete(self, cid: str) -> None:
        raise NotImplementedError

    def ids(self) -> Iterator[str]:
        raise NotImplementedError

    def stored_size(self, cid: str) -> int:
        raise NotImplementedError

    def _verified(self, cid: str, data: bytes) -> bytes:
        if chunk_id(data) != cid:
            raise IntegrityError(f"chunk {cid} is corrupt: its bytes hash to {chunk_id(data)}")
        return data


class MemoryChunkStore(ChunkStore):
    def __init__(self):
        self._chunks: dict[str, bytes] = {}

    def has(self, cid):
        return cid in self._chunks

    def put(self, data, cid=None):
        cid = cid or chunk_id(data)
        if cid in self._chunks:
            return cid, False
        self._chunks[cid] = bytes(data)
        return cid, True

    def get(self, cid):
        try:
            return self._verified(cid, self._chunks[cid])
        except KeyError:
            raise NotFoundError(f"chunk {cid} is missing from the store") from None

    def delete(self, cid):
        self._chunks.pop(cid, None)

    def ids(self):
        return iter(list(self._chunks))

    def stored_size(self, cid):
        return len(self._chunks[cid])


class DirChunkStore(ChunkStore):
    def __init__(self, root: str, durable: bool = True):
        self.root = root
        self.dir = os.path.join(root, "chunks")
        self.tmp = os.path.join(root, "tmp")
        self.durable = durable

    def path(self, cid: str) -> str:
        check_id(cid)
        return os.path.join(self.dir, cid[:2], cid[2:])

    def has(self, cid):
        return os.path.exists(self.path(cid))

    def put(self, data, cid=None):
        cid = cid or chunk_id(data)
        path = self.path(cid)
        if os.path.exists(path):
            return cid, False
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.makedirs(self.tmp, exist_ok=True)
        with AtomicFile(path, tmp_dir=self.tmp, mode=0o444, durable=self.durable) as f:
            f.write(data)
        return cid, True

    def get(self, cid):
        try:
            with open(self.path(cid), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFoundError(
                f"chunk {cid} is missing from the store",
                "run `mvc fsck` to list the affected versions; pull them again from a remote if you have one",
            ) from None
        return self._verified(cid, data)

    def delete(self, cid):
        try:
            os.unlink(self.path(cid))
        except FileNotFoundError:
            pass

    def ids(self):
        if not os.path.isdir(self.dir):
            return
        for fan in sorted(os.listdir(self.dir)):
            sub = os.path.join(self.dir, fan)
            if len(fan) != 2 or not os.path.isdir(sub):
                continue
            for rest in sorted(os.listdir(sub)):
                if not rest.startswith(".") and len(rest) == ID_LEN - 2:
                    yield fan + rest

    def stored_size(self, cid):
        return os.stat(self.path(cid)).st_size
