"""Reading one stored file at any offset, chunk by chunk, for `mvc diff`.

A diff reads only the byte ranges it needs (a header, the tensors whose chunks
differ), never a whole file: ``StoredFile`` maps an offset to the chunk holding
it through the pointer's chunk list, loads that chunk from the store (verified
against its id, as every read is) and keeps only the last one, so memory stays
at one chunk per open file (mvc cuts tensors at 16 MiB, chunkers.TENSOR_PIECE; a chunk over
``MAX_CHUNK``, such as a very large header, is refused with ``ChunkTooLarge``).
"""
from __future__ import annotations

import bisect
import mmap
import threading

from ..errors import IntegrityError

MAX_CHUNK = 32 << 20  # a diff holds one chunk per file; mvc writes none over 16 MiB but a header


class ChunkTooLarge(Exception):
    """A chunk over MAX_CHUNK: the diff compares that file by chunk lists instead of holding it."""


class StoredFile:
    """The bytes of one file of a version (its pointer's chunk list) in a chunk store."""

    def __init__(self, store, chunks, label: str):
        self.store, self.label = store, label
        self.ids = [cid for cid, _ in chunks]
        self.starts = []
        pos = 0
        for _, n in chunks:
            self.starts.append(pos)
            pos += n
        self.size = pos
        self.bytes_read = 0          # bytes of distinct chunks loaded from the store (by this reader)
        self._index, self._data = -1, b""
        self._seen = (threading.Lock(), set())  # chunk indices counted, shared with clones: a chunk two
        # threads both load counts once, so bytes_read does not depend on how threads split the work

    def clone(self) -> "StoredFile":
        """Another reader of the same file, with its own chunk in hand (one per thread)."""
        other = object.__new__(StoredFile)
        other.store, other.label, other.ids, other.starts, other.size = (self.store, self.label, self.ids,
                                                                         self.starts, self.size)
        other.bytes_read, other._index, other._data, other._seen = 0, -1, b"", self._seen
        return other

    def covering(self, start: int, end: int) -> list[tuple[str, int, int]]:
        """The chunks that hold bytes ``[start, end)``, each as (id, its start, its end) relative to
        ``start``: two ranges with equal lists hold equal bytes, known without reading them."""
        if end <= start:
            return []
        first = bisect.bisect_right(self.starts, start) - 1
        out = []
        for i in range(max(first, 0), len(self.ids)):
            c_start = self.starts[i]
            if c_start >= end:
                break
            c_end = self.starts[i + 1] if i + 1 < len(self.starts) else self.size
            out.append((self.ids[i], c_start - start, c_end - start))
        return out

    def read(self, start: int, n: int) -> bytes:
        """``n`` bytes from ``start`` (fewer only past the end of the file)."""
        n = max(0, min(n, self.size - start))
        parts = []
        while n > 0:
            i = bisect.bisect_right(self.starts, start) - 1
            data = self._chunk(i)
            off = start - self.starts[i]
            piece = data[off:off + n]
            if not len(piece):
                raise IntegrityError(f"{self.label}: chunk {self.ids[i]} is shorter than its pointer says")
            parts.append(bytes(piece))
            self._release(off, len(piece))
            start += len(piece)
            n -= len(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _chunk(self, i: int):
        if i != self._index:
            self.close()
            n = (self.starts[i + 1] if i + 1 < len(self.starts) else self.size) - self.starts[i]
            if n > MAX_CHUNK:
                raise ChunkTooLarge(f"its chunk at byte {self.starts[i]} holds {n} bytes, over the "
                                    f"{MAX_CHUNK >> 20} MiB a diff holds in memory")
            self._data = self.store.get_view(self.ids[i]) if hasattr(self.store, "get_view") else \
                self.store.get(self.ids[i])
            self._index = i
            lock, seen = self._seen
            with lock:
                if i not in seen:
                    seen.add(i)
                    self.bytes_read += len(self._data)
            self._release(0, len(self._data))  # verified: its pages may go until read
        return self._data

    def _release(self, off: int, n: int) -> None:
        """Let the pages of a mapped chunk's ``[off, off + n)`` go from this process's memory (they stay
        in the page cache; a later read faults them back): a chunk costs RSS only while it is hashed,
        not for as long as it is in hand."""
        owner = getattr(self._data, "obj", None)
        if isinstance(owner, mmap.mmap) and hasattr(owner, "madvise"):
            lo = off - off % mmap.PAGESIZE
            hi = min(len(owner), -(-(off + n) // mmap.PAGESIZE) * mmap.PAGESIZE)
            if hi > lo:
                owner.madvise(mmap.MADV_DONTNEED, lo, hi - lo)

    def close(self) -> None:
        """Drop the chunk in hand (unmapping a loose chunk's file at once, not at the next gc)."""
        data, self._data, self._index = self._data, b"", -1
        if isinstance(data, memoryview):
            owner = data.obj
            data.release()
            try:
                owner.close()
            except (AttributeError, BufferError):
                pass


class Cursor:
    """Sequential reads over a StoredFile (a GGUF header), refusing to go past ``limit`` bytes."""

    def __init__(self, f: StoredFile, limit: int):
        self.f, self.limit, self.pos = f, limit, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > min(self.limit, self.f.size):
            raise ValueError(f"header runs past {'the end of the file' if self.pos + n > self.f.size else 'its limit'}"
                             f" (needs byte {self.pos + n})")
        data = self.f.read(self.pos, n)
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > min(self.limit, self.f.size):
            raise ValueError(f"header runs past the end of the file (needs byte {self.pos + n})")
        self.pos += n
