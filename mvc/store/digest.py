"""Content ids of format 2 (docs/format.md, "Pointer blobs"): every hash of chunk bytes in mvc
goes through here.

- chunk id: the lowercase hex of BLAKE3-256 (default key) of the chunk's bytes;
- file digest: ``"blake3:"`` + the hex of BLAKE3 over ``b"mvc-file-v2\\0"`` and, for each
  chunk in file order, its id's 32 raw bytes and its length as a little-endian u64.

A file's digest is composed from its chunk ids, so a log hashes each byte once (for its
chunk's id) and a use once (checking each chunk against its id).
"""
from __future__ import annotations

import mmap
import os
from collections import deque

import blake3

from .worker import Task, Worker

ID_LEN = 64
FILE_DOMAIN = b"mvc-file-v2\x00"
PARALLEL_FROM = 8 << 20  # a piece this large is hashed on every core (a tensor piece: 16 MiB)
WINDOW = 32 << 20  # hash_file and file_matches map at most this much of a file at a time


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _hasher(size: int):
    """A BLAKE3 hasher for a piece of ``size`` bytes.  A large piece gets a thread pool of
    its own (``max_threads``), never Rayon's global pool (``AUTO``): a ``fork`` does not
    copy that pool's threads, so a child of a process that had hashed (a DataLoader worker
    of a script that logged a model) would wait for ever (docs/design.md).  A new hasher
    per piece: a fork can never meet a pool made before it.  Tests count bytes here."""
    n = cores() if size >= PARALLEL_FROM else 1
    return blake3.blake3(max_threads=n) if n > 1 else blake3.blake3()


def chunk_hasher():
    """An incremental chunk id for a reader that hashes a chunk as it reads it (`mvc diff`, which
    streams large chunk files in small pieces): ``update`` with every byte of the chunk in order,
    then ``hexdigest()`` is ``chunk_id`` of them.  One thread: the pieces are small."""
    return _hasher(0)


def chunk_id(data) -> str:
    """The id of a chunk: the hex BLAKE3 of its bytes (64 lowercase hex digits)."""
    h = _hasher(len(data))
    h.update(data)
    return h.hexdigest()


def file_digest(chunks) -> str:
    """The digest of a file from its (chunk id, length) list in file order."""
    parts = [FILE_DOMAIN]
    for cid, n in chunks:
        raw = bytes.fromhex(cid)
        if len(raw) != 32 or len(cid) != ID_LEN:
            raise ValueError(f"malformed chunk id {cid!r}")
        parts += (raw, n.to_bytes(8, "little"))
    return "blake3:" + blake3.blake3(b"".join(parts)).hexdigest()


class Lane:
    """Calls run in order on one shared worker thread while the caller goes on (cutting,
    copying); ``threaded=False`` runs each at once.  BLAKE3 releases the GIL, so a lane
    hashes on one core while the caller works on the other."""

    DEPTH = 2  # calls a caller may leave waiting: its pieces stay mapped until they ran
    _pool: Worker | None = None

    def __init__(self, threaded: bool):
        if threaded and Lane._pool is None:
            Lane._pool = Worker("mvc-blake3")
        self.pool = Lane._pool if threaded else None

    def submit(self, fn, *args) -> Task:
        task = Task(fn, args)
        if self.pool is None:
            task.run()
            return task
        return self.pool.submit(fn, *args)


class Checks:
    """Checks (each raises on bad bytes) run on a lane while the caller copies; at most
    ``Lane.DEPTH`` wait.  ``wait`` surfaces the first error, always before the caller
    publishes what it wrote; ``settle`` (on the way out) waits for every check, so none
    still reads a chunk when the caller has moved on."""

    def __init__(self, threaded: bool):
        self.lane = Lane(threaded)
        self.waiting: deque = deque()

    def submit(self, fn, *args) -> None:
        self.waiting.append(self.lane.submit(fn, *args))
        while len(self.waiting) > Lane.DEPTH:
            self.waiting.popleft().result()

    def wait(self) -> None:
        while self.waiting:
            self.waiting.popleft().result()

    def settle(self) -> None:
        for task in self.waiting:
            task.done.wait()
        self.waiting.clear()


def hashed_pieces(items, threaded: bool):
    """(piece, tag, chunk id) for each (piece, tag) of ``items``, in order, each piece hashed
    on a lane while the caller takes the next (at most ``Lane.DEPTH + 1`` pieces are held)."""
    lane, waiting = Lane(threaded), deque()
    for piece, tag in items:
        waiting.append((piece, tag, lane.submit(chunk_id, piece)))
        if len(waiting) > Lane.DEPTH:
            piece, tag, task = waiting.popleft()
            yield piece, tag, task.result()
    while waiting:
        piece, tag, task = waiting.popleft()
        yield piece, tag, task.result()


def hash_file(path: str, chunker=None) -> tuple[str, int]:
    """The digest and size a log would record for the file at ``path``, without storing it:
    cut by the rules of docs/format.md, "Chunking" (the same code as a log), each chunk
    hashed, the ids composed.  Memory stays bounded: pieces are mapped a few at a time."""
    from .chunkers import SMALL_FILE, SpanFile, select_chunker
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if chunker is None and size <= SMALL_FILE:
            data = f.read(SMALL_FILE + 1)
            if len(data) <= SMALL_FILE:
                chunks = [(chunk_id(data), len(data))] if data else []
                return file_digest(chunks), len(data)
            f.seek(0)
            size = os.fstat(f.fileno()).st_size  # it grew while it was read: cut it by its new size
        if chunker is None:
            head = f.read(64 * 1024)
            f.seek(0)
            chunker = select_chunker(path, size, head)
        span = SpanFile(f, Lane.DEPTH + 2)
        pieces = ((p, None) for p in chunker.chunks(span, size))
        chunks = [(cid, len(p)) for p, _, cid in hashed_pieces(pieces, size >= PARALLEL_FROM)]
    return file_digest(chunks), sum(n for _, n in chunks)


def file_matches(fd: int, chunks) -> bool:
    """Whether the file ``fd`` holds exactly the chunks ``chunks`` (id, length), in order:
    each span hashed against its id (a whole file in the store, checked against its
    pointer: no cutting, and a wrong span stops the read)."""
    if os.fstat(fd).st_size != sum(n for _, n in chunks):
        return False
    off = 0
    for cid, n in chunks:
        h = _hasher(n)
        for start in range(off, off + n, WINDOW):
            _update_mapped(h, fd, start, min(WINDOW, off + n - start))
        if h.hexdigest() != cid:
            return False
        off += n
    return True


def _update_mapped(h, fd: int, start: int, n: int) -> None:
    base = start - start % mmap.ALLOCATIONGRANULARITY
    with mmap.mmap(fd, start + n - base, prot=mmap.PROT_READ, offset=base,
                   flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)) as m:
        with memoryview(m) as view:
            h.update(view[start - base:])
