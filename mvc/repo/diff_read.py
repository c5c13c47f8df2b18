"""Reading one stored file at any offset, chunk by chunk, for `mvc diff`.

A diff reads only the byte ranges it needs (a header, the tensors whose chunks
differ), never a whole file.  Two ways in: ``read`` (headers, JSON) maps an offset
to the chunk holding it through the pointer's chunk list, loads that chunk from the
store (verified against its id, as every read is) and keeps only the last one, so
memory stays at one chunk per open file; ``blocks`` (tensor bytes) streams a range
through one small buffer, hashing each chunk file as it reads it and checking the
chunk before the stream ends.  mvc cuts tensors at 16 MiB (chunkers.TENSOR_PIECE);
a chunk over ``MAX_CHUNK``, such as a very large header, is refused with
``ChunkTooLarge``.
"""
from __future__ import annotations

import bisect
import mmap
import os
import struct
import threading

from ..errors import IntegrityError

_U64 = struct.Struct("<Q")
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

    def blocks(self, start: int, n: int, step: int, out: memoryview | None = None):
        """Bytes ``[start, start + n)`` in pieces of ``step`` (the last one shorter), each a view of one
        buffer (``out``, at least ``step`` bytes, if given) that the next piece overwrites.  A chunk with a file of its own is read straight into
        that buffer (``pread``: no mapping, no page faults, no copy per piece) and hashed there while
        the bytes are in the CPU's cache; its bytes outside the range are hashed too, and it is checked
        against its id as the range leaves it, the last one before the iterator ends.  So a caller
        computes on bytes not yet checked, but returns a result only after the loop has run to its
        end: a bad chunk raises IntegrityError from the loop instead (docs/design.md, "Diff").
        Other chunks (packed, in memory) are verified whole by the store first, as ``read`` does."""
        if start < 0 or start + n > self.size:
            raise IntegrityError(f"{self.label}: bytes {start}-{start + n} run past the file's {self.size}")
        buf = out if out is not None else memoryview(bytearray(max(1, min(step, n))))
        source = None
        try:
            pos, end = start, start + n
            while pos < end:
                k = min(step, end - pos)
                filled = 0
                while filled < k:
                    i = bisect.bisect_right(self.starts, pos) - 1
                    if source is None or source.index != i:
                        if source is not None:
                            source, done = None, source
                            done.finish()
                        source = self._source(i)
                    m = min(k - filled, self._end(i) - pos)
                    source.read_into(buf[filled:filled + m], pos - self.starts[i])
                    filled += m
                    pos += m
                yield buf[:k]
            if source is not None:
                source, done = None, source
                done.finish()
        finally:
            if source is not None:
                source.abandon()

    def _end(self, i: int) -> int:
        return self.starts[i + 1] if i + 1 < len(self.starts) else self.size

    def _source(self, i: int) -> "_Hashing | _Verified":
        n = self._size_of(i)
        cid = self.ids[i]
        fd = self.store.open_unverified(cid) if hasattr(self.store, "open_unverified") else None
        source = _Verified(i, self._get(cid), cid, self.label) if fd is None else _Hashing(i, fd, cid, n, self.label)
        self._count(i, n)
        return source

    def _size_of(self, i: int) -> int:
        """The bytes of chunk ``i``; ChunkTooLarge above what a diff holds in memory."""
        n = self._end(i) - self.starts[i]
        if n > MAX_CHUNK:
            raise ChunkTooLarge(f"its chunk at byte {self.starts[i]} holds {n} bytes, over the "
                                f"{MAX_CHUNK >> 20} MiB a diff holds in memory")
        return n

    def _count(self, i: int, n: int) -> None:
        """Add chunk ``i``'s ``n`` bytes to bytes_read, once for this reader and its clones."""
        lock, seen = self._seen
        with lock:
            if i not in seen:
                seen.add(i)
                self.bytes_read += n

    def _get(self, cid: str):
        return self.store.get_view(cid) if hasattr(self.store, "get_view") else self.store.get(cid)

    def _chunk(self, i: int):
        if i != self._index:
            self.close()
            self._size_of(i)
            self._data = self._get(self.ids[i])
            self._index = i
            self._count(i, len(self._data))
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
        _unmap(data)


class _Hashing:
    """A chunk's own file, read piece by piece with ``pread`` and hashed as it is read; ``finish``
    hashes what the reader skipped and checks the id (every byte of the file is hashed once)."""

    GAP = 1 << 20  # bytes per read when hashing what the reader skipped

    def __init__(self, index: int, fd: int, cid: str, n: int, label: str):
        from ..store.digest import chunk_hasher
        self.index, self.fd, self.cid, self.label = index, fd, cid, label
        self.hasher, self.hashed = chunk_hasher(), 0
        try:
            self.size = os.fstat(fd).st_size
            if self.size != n:
                raise IntegrityError(f"{label}: chunk {cid} holds {self.size} bytes, its pointer says {n}",
                                     "run `mvc fsck` to list the affected versions")
        except BaseException:
            self.abandon()
            raise

    def read_into(self, dst: memoryview, off: int) -> None:
        if off > self.hashed:
            self._hash_upto(off)
        got = os.preadv(self.fd, [dst], off)
        if got != len(dst):
            raise IntegrityError(f"{self.label}: chunk {self.cid} is shorter than its pointer says")
        if off + got > self.hashed:  # bytes read again (off < hashed) were hashed the first time
            self.hasher.update(dst[self.hashed - off:])
            self.hashed = off + got

    def _hash_upto(self, end: int) -> None:
        scratch = memoryview(bytearray(min(self.GAP, end - self.hashed)))
        while self.hashed < end:
            piece = scratch[:min(len(scratch), end - self.hashed)]
            got = os.preadv(self.fd, [piece], self.hashed)
            if got != len(piece):
                raise IntegrityError(f"{self.label}: chunk {self.cid} is shorter than its pointer says")
            self.hasher.update(piece)
            self.hashed += got

    def finish(self) -> None:
        try:
            self._hash_upto(self.size)
            got = self.hasher.hexdigest()
            if got != self.cid:
                raise IntegrityError(f"chunk {self.cid} is corrupt: its bytes hash to {got}",
                                     "run `mvc fsck` to list the affected versions; re-log or pull them again")
        finally:
            self.abandon()

    def abandon(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


class _Verified:
    """A chunk the store has verified whole (packed, in memory): pieces are copies of its bytes."""

    def __init__(self, index: int, data, cid: str, label: str):
        self.index, self.data, self.cid, self.label = index, data, cid, label

    def read_into(self, dst: memoryview, off: int) -> None:
        piece = self.data[off:off + len(dst)]
        if len(piece) != len(dst):
            raise IntegrityError(f"{self.label}: chunk {self.cid} is shorter than its pointer says")
        dst[:] = piece

    def finish(self) -> None:
        self.abandon()

    def abandon(self) -> None:
        data, self.data = self.data, b""
        _unmap(data)


class Cursor:
    """Sequential reads over a StoredFile (a GGUF header), refusing to go past ``limit`` bytes.
    Small reads are served from a window of up to ``WINDOW`` bytes that never reaches past the
    chunk holding its start (reading ahead must not load a tensor's chunk): a vocabulary of
    400,000 strings is 800,000 reads, and each taken from the file alone (a chunk lookup, a copy,
    an madvise) made the header of a llama-3 GGUF cost 2.5 s per side."""

    WINDOW = 1 << 20

    def __init__(self, f: StoredFile, limit: int):
        self.f, self.limit, self.pos = f, limit, 0
        self._window, self._at = b"", 0   # bytes of the file from offset _at

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > min(self.limit, self.f.size):
            raise ValueError(f"header runs past {'the end of the file' if self.pos + n > self.f.size else 'its limit'}"
                             f" (needs byte {self.pos + n})")
        off = self._window_at(n)
        self.pos += n
        return self._window[off:off + n]

    def _window_at(self, n: int) -> int:
        """Where ``pos`` is in the window, read again from ``pos`` unless it holds ``n`` bytes from there."""
        off = self.pos - self._at
        if off < 0 or off + n > len(self._window):
            self._fill(n)
            off = 0
        return off

    def _fill(self, n: int) -> None:
        """Read the window from ``pos``: at least ``n`` bytes, else up to the end of its chunk."""
        f = self.f
        i = bisect.bisect_right(f.starts, self.pos) - 1
        chunk_end = f._end(i) if 0 <= i < len(f.starts) else f.size
        ahead = min(self.WINDOW, chunk_end - self.pos, min(self.limit, f.size) - self.pos)
        self._window, self._at = f.read(self.pos, max(n, ahead)), self.pos

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > min(self.limit, self.f.size):
            raise ValueError(f"header runs past the end of the file (needs byte {self.pos + n})")
        self.pos += n

    def skip_strings(self, count: int) -> None:
        """Skip ``count`` GGUF strings (a u64 length, then the bytes), reading the lengths straight
        from the window: a vocabulary is most of a GGUF header.  Ends within ``count`` x 8 bytes."""
        end, unpack = min(self.limit, self.f.size), _U64.unpack_from
        for _ in range(count):
            if self.pos + 8 > end:
                raise ValueError(f"header runs past the end of the file (needs byte {self.pos + 8})")
            (n,) = unpack(self._window, self._window_at(8))
            if self.pos + 8 + n > end:
                raise ValueError(f"header runs past the end of the file (needs byte {self.pos + 8 + n})")
            self.pos += 8 + n


def _unmap(data) -> None:
    """Release a memoryview of a mapped chunk file and close its map now, not at the next gc."""
    if isinstance(data, memoryview):
        owner = data.obj
        data.release()
        try:
            owner.close()
        except (AttributeError, BufferError):
            pass
