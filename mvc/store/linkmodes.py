"""How a materialised file gets its bytes (docs/format.md, "Materialisation").

- ``copy`` (default): stream the chunks out, verifying each chunk against its
  BLAKE3 id (the file digest is composed from the ids, checked before); a whole,
  already-verified file in the store is copied by the kernel
  (``os.copy_file_range``, no bytes through Python) and the copy checked.
- ``reflink``: clone a whole file in the store (FICLONE ioctl: btrfs, XFS,
  bcachefs ...); an error where the filesystem cannot.
- ``hardlink``: link to a whole file in the store.  The files are read-only
  (mode 0444): they ARE the store's bytes, so editing one in place would
  corrupt the store for every version that shares it (reads re-hash, so the
  damage would be detected, not silently served).
- ``symlink`` is refused: ``use`` never writes a symlink (a link into the
  store dangles once gc trims the whole-file cache, and a version holds files,
  not links: docs/design.md, "Logging what users have on disk").
- ``auto``: reflink when a whole file already exists and the filesystem can,
  else copy.

A "whole file in the store" is a loose chunk when the file is one chunk, else
an entry of the whole-file cache ``files/<2 hex>/<62 hex>`` (named by the
file's digest), built on first use from the chunks and verified.  The cache is
derived: deleting ``files/`` loses nothing.  Every whole file is re-verified
unless the stat cache says it is unchanged since it was last verified.

The cache is bounded: ``mvc gc`` removes its least recently used entries down to
``cache.max_size`` (``MVC_CACHE_MAX``; ``DEFAULT_CACHE_MAX`` if unset), never one
used since the oldest live lease began.  A cache entry handed out has its atime
set to now (its mtime, which the stat cache checks, kept), so "last used" does
not depend on the filesystem's atime policy (relatime, noatime).  Removing an
entry a hardlinked use still holds frees no disk until that use's files go, and
breaks nothing: the inode lives on.
"""
from __future__ import annotations

import errno
import fcntl
import os
from dataclasses import dataclass

from ..errors import IntegrityError, InvalidInputError, NotFoundError
from ..fsutil import WRITEBACK_FROM, AtomicFile, start_writeback
from .chunks import ChunkStore, DirChunkStore
from .digest import PARALLEL_FROM, Checks, file_matches
from .pointer import Pointer
from .statcache import StatCache, now_ns

MODES = ("copy", "hardlink", "reflink", "auto")
DEFAULT_CACHE_MAX = 20 << 30  # bytes of whole files gc keeps (cache.max_size / MVC_CACHE_MAX override it)
FICLONE = 0x40049409  # _IOW(0x94, 9, int)
STAMP_AGE_NS = 2_000_000_000
WRITEBACK_PIECE = 16 << 20  # a whole file is copied in pieces this size, so its flush starts early
WHOLE_COPY_FROM = 1 << 20  # a copy use of a smaller file streams its chunk (no whole file looked for: 2 stats)


def check_mode(mode: str | None) -> str:
    mode = mode or "copy"
    if mode == "symlink":
        raise InvalidInputError("use never writes symlinks: link='symlink' is not a link mode any more",
                                "use link='hardlink' (read-only files that share the store's bytes), "
                                "'reflink' or 'copy'")
    if mode not in MODES:
        raise InvalidInputError(f"unknown link mode {mode!r}", f"use one of: {', '.join(MODES)}")
    return mode


class WholeFiles:
    """Finds or builds a verified, read-only whole copy of a file in the store."""

    def __init__(self, store: ChunkStore, cache: StatCache | None):
        self.store, self.cache = store, cache
        root = getattr(store, "root", None)
        self.folder = os.path.join(root, "files") if root else None

    def existing(self, ptr: Pointer, rehash: bool = True) -> str | None:
        """A verified whole file, only if one already exists (``rehash=False``:
        only if the stat cache vouches for it, so nothing is read twice)."""
        for path in self._candidates(ptr):
            if self._verified(path, ptr, rehash):
                if self.folder and path.startswith(self.folder):
                    _mark_used(path)
                return path
        return None

    def get(self, ptr: Pointer, label: str) -> str:
        path = self.existing(ptr)
        if path is not None:
            return path
        if self.folder is None:
            raise InvalidInputError(f"{label}: this store cannot link files", "use link='copy'")
        return self._build(ptr, label)

    def forget(self, path: str) -> None:
        """Stop vouching for ``path`` (it failed a re-hash): the next use re-hashes or rebuilds it."""
        if self.cache:
            self.cache.forget(path)

    def _candidates(self, ptr: Pointer) -> list[str]:
        out = []
        if isinstance(self.store, DirChunkStore) and len(ptr.chunks) == 1 and self.store.is_loose(ptr.chunks[0][0]):
            out.append(self.store.path(ptr.chunks[0][0]))
        if self.folder:
            out.append(self._cache_path(ptr))
        return out

    def _cache_path(self, ptr: Pointer) -> str:
        hexd = ptr.digest.split(":", 1)[1]
        return os.path.join(self.folder, hexd[:2], hexd[2:])

    def _verified(self, path: str, ptr: Pointer, rehash: bool = True) -> bool:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        if st.st_size != ptr.size:
            return False
        hit = self.cache.lookup(path, st, use_ctime=False) if self.cache else None
        if hit is not None and hit.digest == ptr.digest:
            return True
        if not rehash:
            return False
        started = now_ns()
        if not matches(path, ptr):
            return False
        if self.cache:
            self.cache.remember(path, st, ptr, started, use_ctime=False)
            self.cache.commit()
        return True

    def _build(self, ptr: Pointer, label: str) -> str:
        path = self._cache_path(ptr)
        with AtomicFile(path, tmp_dir=os.path.join(self.store.root, "tmp"), mode=0o444) as f:
            copy_chunks(self.store, ptr, f.fileno(), label)
            stamp = now_ns() - STAMP_AGE_NS  # an old mtime lets the stat cache trust it at once
            os.utime(f.tmp, ns=(now_ns(), stamp))  # atime: used now (gc's LRU order)
        _BUILT[0] += ptr.size
        if self.cache:
            self.cache.remember(path, os.stat(path), ptr, now_ns(), use_ctime=False)
            self.cache.commit()
        return path


def copy_chunks(store: ChunkStore, ptr: Pointer, fd: int, label: str) -> None:
    """Append the chunks of ``ptr`` to ``fd``, each checked against its BLAKE3 id (once per
    byte, on a second thread while this one copies, inside the kernel: ChunkStore.copy_out).
    The caller has checked that the ids compose to the file's digest (materialise.check_composed).
    Errors name ``label``."""
    checks = Checks(threaded=ptr.size >= PARALLEL_FROM)
    early = ptr.size >= WRITEBACK_FROM
    off = os.lseek(fd, 0, os.SEEK_CUR) if early else 0
    try:
        for cid, n in ptr.chunks:
            store.copy_out(cid, n, fd, checks)
            if early:
                start_writeback(fd, off, n)
                off += n
        checks.wait()
    except (IntegrityError, NotFoundError) as e:  # name the file and version, not only the chunk
        raise type(e)(f"{label}: {e.message}", e.hint) from None
    finally:
        checks.settle()


def matches(path: str, ptr: Pointer) -> bool:
    """Whether the file at ``path`` holds exactly the chunks of ``ptr`` (each span against its id)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        return file_matches(fd, ptr.chunks)
    finally:
        os.close(fd)


def reflink(src: str, dest: str) -> bool:
    """Clone ``src`` to a new ``dest``; False (and no dest) where the filesystem cannot."""
    with open(src, "rb") as s:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            fcntl.ioctl(fd, FICLONE, s.fileno())
            return True
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EPERM):
                raise
        finally:
            os.close(fd)
    os.unlink(dest)
    return False


def kernel_copy(src: str, dest: str, size: int) -> None:
    """Copy without passing bytes through Python: copy_file_range, else
    sendfile; a large file in pieces, each flush started as it is written."""
    step = WRITEBACK_PIECE if size >= WRITEBACK_FROM else max(size, 1)
    with open(src, "rb") as s:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            left = size
            copy = getattr(os, "copy_file_range", None)
            while left > 0:
                want = min(left, step)
                try:
                    n = copy(s.fileno(), fd, want) if copy else os.sendfile(fd, s.fileno(), None, want)
                except OSError as e:
                    if copy is None or e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL):
                        raise
                    copy = None
                    continue
                if n == 0:
                    raise IntegrityError(f"{src} is shorter than its recorded size")
                if step < size:
                    start_writeback(fd, size - left, n)
                left -= n
        finally:
            os.close(fd)


def place(whole: WholeFiles, ptr: Pointer, dest: str, mode: str, label: str) -> bool:
    """Put one file at ``dest`` by ``mode`` from a whole file; False means: copy it by streaming."""
    if mode == "copy":
        if ptr.size < WHOLE_COPY_FROM:  # one small chunk: streaming it is as cheap, and looks nowhere else
            return False
        src = whole.existing(ptr, rehash=False)
        if src is None:
            return False
        kernel_copy(src, dest, ptr.size)
        if matches(dest, ptr):  # a use re-hashes what it delivers: the stat cache only says "unchanged"
            return True
        os.unlink(dest)  # the store's file rotted under an unchanged stat: stream (and verify) the chunks instead
        whole.forget(src)
        return False
    if mode in ("auto", "reflink"):
        src = whole.existing(ptr) if mode == "auto" else whole.get(ptr, label)
        if src is not None and reflink(src, dest):
            return True
        if mode == "reflink":
            raise InvalidInputError(f"{label}: the output folder's filesystem cannot reflink it from the store's "
                                    f"{os.path.dirname(src) if src else 'file cache'}",
                                    "use link='copy' (or 'auto', which falls back to a copy)")
        return False
    src = whole.get(ptr, label)
    try:
        try:
            os.link(src, dest)
        except FileNotFoundError:  # a gc trimmed the cache between its check and the link: build it again
            if os.path.lexists(dest):
                raise
            os.link(whole._build(ptr, label), dest)
    except OSError as e:
        if e.errno == errno.EXDEV:
            raise InvalidInputError(f"{label}: cannot hardlink across filesystems ({dest} vs the store)",
                                    "download onto the store's filesystem, or use link='copy'") from None
        raise
    return True


# ---- the whole-file cache's size and its LRU trim (mvc du, mvc gc) --------------------------
_BUILT = [0]  # bytes of whole files this process added to a cache (use's first-use note)


def built_bytes() -> int:
    """Bytes of whole files this process has built into a store's cache so far."""
    return _BUILT[0]


def _mark_used(path: str) -> None:
    """Set a cache entry's atime to now, its mtime kept (the stat cache checks it): gc's LRU order."""
    try:
        st = os.stat(path)
        os.utime(path, ns=(now_ns(), st.st_mtime_ns))
    except OSError:  # a read-only store or another user's file: the order is only less exact
        pass


@dataclass(frozen=True)
class CachedFile:
    path: str
    size: int
    used: float  # last use: the later of atime (set on every hand-out) and mtime
    links: int   # st_nlink: above 1 while a hardlinked use still holds it


def _cached(path: str) -> CachedFile | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return CachedFile(path, st.st_size, max(st.st_atime, st.st_mtime), st.st_nlink)


def cache_folder(store_root: str) -> str:
    return os.path.join(store_root, "files")


def cached_files(store_root: str) -> list[CachedFile]:
    """Every whole file in the store's cache (``files/<2 hex>/<62 hex>``)."""
    out = []
    top = cache_folder(store_root)
    try:
        shards = sorted(os.scandir(top), key=lambda e: e.name)
    except FileNotFoundError:
        return out
    for shard in shards:
        if len(shard.name) != 2 or not shard.is_dir(follow_symlinks=False):
            continue
        for e in os.scandir(shard.path):
            if e.is_file(follow_symlinks=False):
                entry = _cached(e.path)
                if entry is not None:
                    out.append(entry)
    return out


def cache_limit(store_root: str | None) -> int:
    """The cache's size limit: the ``cache.max_size`` setting (``MVC_CACHE_MAX``), else the default."""
    from .. import settings
    value = settings.get("cache.max_size", store_root)
    return DEFAULT_CACHE_MAX if value is None else int(value)


def cache_usage(store_root: str) -> dict:
    """What the cache holds: ``files``, ``bytes``, ``shared`` (bytes of entries a hardlinked use
    still holds: no extra disk while it does) and ``limit``."""
    entries = cached_files(store_root)
    return {"files": len(entries), "bytes": sum(e.size for e in entries),
            "shared": sum(e.size for e in entries if e.links > 1), "limit": cache_limit(store_root)}


def cache_to_trim(entries: list[CachedFile], limit: int, keep_after: float) -> list[CachedFile]:
    """The least recently used entries to remove so the rest fit in ``limit`` bytes; none used at
    or after ``keep_after`` (gc's cutoff: a live lease's start, or the grace period)."""
    total = sum(e.size for e in entries)
    out = []
    for e in sorted(entries, key=lambda e: (e.used, e.path)):
        if total <= limit:
            break
        if e.used >= keep_after:
            continue
        out.append(e)
        total -= e.size
    return out


def remove_cached(path: str, keep_after: float) -> bool:
    """Remove a cache entry unless it was used since ``keep_after`` (looked at again, now)."""
    e = _cached(path)
    if e is None or e.used >= keep_after:
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True
