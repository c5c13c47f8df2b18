"""Ingest: walk a path, hash while reading, write only chunks the store lacks,
and return one Pointer per file.  Memory stays bounded by the chunk size."""
from __future__ import annotations

import os
import stat

from .chunkers import SMALL_FILE, Chunker, SpanFile, select_chunker
from .chunks import ChunkStore
from .digest import PARALLEL_FROM, Lane, chunk_id, file_digest, hashed_pieces
from .pointer import Pointer
from .statcache import StatCache, now_ns
from .walk import FileEntry, check_paths, collect_files  # noqa: F401  (check_paths: the walk lived here)


# Fault-injection seam (STYLE 13, like borg's failing chunker): MVC_TEST_CORRUPT_CHUNK=<n>
# flips one byte of the n-th chunk (1-based, per process) after its id is computed and
# before it is written.  Inert unless set.  The chunk store's write check must catch it
# before any ref moves (tests/test_reliability_r8.py).


def _corrupt_at() -> int:  # read at use: a resident `mvc` server imports this once for many commands
    return int(os.environ.get("MVC_TEST_CORRUPT_CHUNK") or 0)


_seen = [0]


def _corrupt_seam(piece):
    _seen[0] += 1
    if _seen[0] != _corrupt_at() or not len(piece):
        return piece
    bad = bytearray(piece)
    bad[len(bad) // 2] ^= 0x01
    return bytes(bad)


THREADED_FROM = PARALLEL_FROM  # smaller files hash inline: a thread hop costs more than it saves


def _put(store: ChunkStore, piece, cid: str, source: tuple[int, int] | None = None, seam: int = 0) -> bool:
    """Store ``piece`` under ``cid`` (its BLAKE3, computed by the caller); whether it was new."""
    if seam:  # the failing-chunker seam (_corrupt_at, read once per ingest): hash the true bytes, store damaged ones
        return store.put(_corrupt_seam(piece), cid)[1]
    return store.put(piece, cid, source=source)[1] if source else store.put(piece, cid)[1]


def _store_small(store: ChunkStore, data: bytes, seam: int = 0) -> tuple[list, int, str]:
    """A small file: one chunk (none if empty), hashed once."""
    if not data:
        return [], 0, file_digest(())
    chunks = [(chunk_id(data), len(data))]
    new = _put(store, data, chunks[0][0], seam=seam)
    return chunks, len(data) if new else 0, file_digest(chunks)


def _read_small(abspath: str, size: int) -> bytes | None:
    """A small file's bytes in one ``read`` (a third of the cost of a buffered
    open, read and close: ~5 us against ~17 us, 0.25 s of a log of 20,000
    files); None if it has grown past ``size``, its size when stat'ed."""
    fd = os.open(abspath, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = os.read(fd, size + 1)  # a regular file reads short only at its end
    finally:
        os.close(fd)
    return data if len(data) <= size else None


def _store_file(store: ChunkStore, path: str, size: int, chunker: Chunker | None,
                seam: int = 0, progress=None) -> tuple[list, int, str]:
    """Read the file at ``path`` (``size``: as its stat said) once, storing its chunks;
    ``progress(nbytes)`` is told each chunk as it is stored (a large file moves the bar
    as it is read, not once at its end)."""
    if chunker is None and size <= SMALL_FILE:
        data = _read_small(path, size)
        if data is not None:
            if progress:
                progress(len(data))
            return _store_small(store, data, seam)
        size = os.stat(path).st_size  # it grew while it was logged: chunk it by its new size
    with open(path, "rb") as f:
        return _store_large(store, f, size, chunker, path, seam, progress)


def _store_large(store: ChunkStore, f, size: int, chunker: Chunker | None, path: str,
                 seam: int, progress=None) -> tuple[list, int, str]:
    if chunker is None:
        if size <= SMALL_FILE:
            data = f.read()
            if progress:
                progress(len(data))
            return _store_small(store, data, seam)
        head = f.read(64 * 1024)
        f.seek(0)
        chunker = select_chunker(path, size, head)
    chunks, new_bytes = [], 0
    span_file = SpanFile(f, Lane.DEPTH + 2)  # ring slots: the pieces a lane holds, the one in hand, one spare
    # each piece with where it lies in the file (taken as it is cut), for the kernel to copy it from there
    pieces = ((piece, span_file.source_of(piece)) for piece in chunker.chunks(span_file, size))
    for piece, source, cid in hashed_pieces(pieces, size >= THREADED_FROM):
        if _put(store, piece, cid, source, seam):
            new_bytes += len(piece)
        chunks.append((cid, len(piece)))
        if progress:
            progress(len(piece))
    return chunks, new_bytes, file_digest(chunks)


def ingest_file(store: ChunkStore, abspath: str, chunker: Chunker | None = None,
                cache: StatCache | None = None, st: os.stat_result | None = None,
                started: int | None = None, seam: int | None = None, progress=None) -> tuple[Pointer, int]:
    """Store one file; return its pointer and the number of bytes that were new.

    With a stat cache, a file whose stat is unchanged and whose chunks are all
    still in the store is not read at all.  ``st``: the file's stat if the
    caller has it; ``started``: when the caller began, before that stat (the
    racy-clean check counts from it); ``seam``: the caller's ``_corrupt_at()``;
    ``progress(nbytes)``: told the bytes as they are read (all at once on a cache hit)."""
    st = st or os.stat(abspath)
    if cache is not None:
        hit = cache.lookup(abspath, st)
        if hit is not None and all(store.has(cid) for cid, _ in hit.chunks):
            store.freshen(cid for cid, _ in hit.chunks)  # no chunk is written: the lease and grace count from now
            if progress:
                progress(hit.size)
            return hit, 0
    started = started or now_ns()
    seam = _corrupt_at() if seam is None else seam
    chunks, new_bytes, digest = _store_file(store, abspath, st.st_size, chunker, seam, progress)
    ptr = Pointer(size=sum(n for _, n in chunks), digest=digest, chunks=tuple(chunks),
                  executable=bool(st.st_mode & stat.S_IXUSR))
    if cache is not None:
        cache.remember(abspath, st, ptr, started)
    return ptr, new_bytes


def _common_folder(files: list[FileEntry], root: str) -> str:
    """The folder holding every file read: ``root``, unless symlinks lead out of it (a Hugging
    Face snapshot's files are in ``../../blobs/``), so the stat cache preloads their rows too."""
    prefix = root.rstrip(os.sep) + os.sep
    outside = [fe.abspath for fe in files if not fe.abspath.startswith(prefix)]
    return os.path.commonpath([root, *outside]) if outside else root


def ingest_tree(store: ChunkStore, path: str, progress=None, cache: StatCache | None = None,
                exclude=(), skipped: list | None = None) -> tuple[list[tuple[str, Pointer]], int]:
    """Store every file under ``path`` in one batch: chunks become durable
    together at the end, before this returns (and before any ref can move).
    ``progress(nbytes)`` is called per chunk read (per file on a stat-cache hit); a ``progress.expect(total)`` is
    told the total first, from the walk this makes anyway (a second walk to
    size a meter cost 0.19 s on 20,000 files).  ``exclude`` and ``skipped``: as
    ``collect_files`` (store/walk.py) takes them."""
    started = now_ns()
    files = collect_files(path, exclude, skipped)
    if progress is not None and hasattr(progress, "expect"):
        progress.expect(sum(fe.st.st_size for fe in files))
    if cache is not None and os.path.isdir(path):
        cache.preload(_common_folder(files, os.path.realpath(path)))
    out = []
    new_total = 0
    seam = _corrupt_at()
    try:
        with store.batch():
            for fe in files:
                ptr, new = ingest_file(store, fe.abspath, cache=cache, st=fe.st, started=started, seam=seam,
                                       progress=progress)
                out.append((fe.relpath, ptr))
                new_total += new
    except BaseException:
        if cache is not None:
            cache.rollback()
        raise
    if cache is not None:
        cache.commit()
    return out, new_total
