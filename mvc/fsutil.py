"""The one atomic-write helper.  No other code opens store files for writing.

temp file in the target folder (or a given tmp folder on the same filesystem)
-> write -> fsync -> rename into place -> fsync the folder.
"""
from __future__ import annotations

import errno
import os
import re
from contextlib import contextmanager

from .errors import LockError, StorageFullError

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Iterable


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


WRITEBACK_FROM = 8 << 20  # files smaller than this are left to the kernel's own writeback
_sync_file_range = []  # [function or None], bound on first use


def write_all(fd: int, data) -> None:
    """All of ``data`` to ``fd`` (``os.write`` may write less than it is given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing ``length`` bytes of ``fd`` from ``offset``
    to disk now, without waiting (Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``,
    as git's ``core.fsyncMethod=batch`` does); nothing where the call is missing.

    A large file written in pieces is otherwise flushed only when somebody
    syncs (or after ~30 s): the disk idles while the file is copied, then does
    all its work at the end.  Started piece by piece, the flush overlaps the
    copying and its checks (docs/performance.md, "Fourth round")."""
    if not _sync_file_range:
        try:
            import ctypes
            fn = ctypes.CDLL(None, use_errno=True).sync_file_range
            fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        except (OSError, AttributeError):
            fn = None
        _sync_file_range.append(fn)
    if _sync_file_range[0] is not None:
        _sync_file_range[0](fd, offset, length, 2)  # SYNC_FILE_RANGE_WRITE; a hint: its errors change nothing


def fsync_tree(root: str) -> None:
    """fsync every file and folder under ``root`` (deepest first): for files written
    by code that does not fsync (libgit2's repository init), before they are relied on."""
    for dirpath, _, files in os.walk(root, topdown=False):
        for name in files:
            try:
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except OSError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(dirpath)
    fsync_dir(os.path.dirname(os.path.abspath(root)))


def temp_path(folder: str, name: str) -> str:
    return os.path.join(folder, f".tmp-{name[:40]}-{os.getpid()}-{os.urandom(4).hex()}")


_TEMP_PID = re.compile(r"\.tmp-.*-([0-9]+)-[0-9a-f]{8}$")


def temp_writer_pid(name: str) -> int | None:
    """The PID of the process that made a ``temp_path`` name, or None for any other name."""
    m = _TEMP_PID.search(name)
    return int(m.group(1)) if m else None


def is_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the filesystem is full.  libgit2's errors carry no errno, only
    its text ("failed to write out file: No space left on device")."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "No space left on device" in text or "Disk quota exceeded" in text


def free_bytes(path: str) -> int:
    """Bytes free to this user on the filesystem of ``path`` (its nearest existing folder)."""
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    import shutil  # here: shutil loads bz2, lzma and fnmatch, which a read never needs
    return shutil.disk_usage(path).free


def storage_full(what: str, where: str, needed: int | None = None, hint: str | None = None) -> StorageFullError:
    """The error for a write that found its filesystem full: what was being written, the bytes
    the whole operation needs (when known) and the bytes free, measured now: call it after the
    failed write's temp files are gone, or they count against the free space."""
    free = free_bytes(where)
    need = f"it needs about {_size(needed)} and " if needed is not None else ""
    return StorageFullError(
        f"no space left on the filesystem of {where} while {what}: {need}{_size(free)} are free",
        hint or "free some space (or run `mvc gc`) and retry; nothing was changed")


def _size(n: int) -> str:
    return f"{n} bytes" if n < 1 << 20 else f"{n} bytes ({n / (1 << 20):.1f} MiB)"


def read_only_error(store: str, what: str, exc: OSError):
    """The error for a write refused because the store (or the file) is read-only."""
    from .errors import ReadOnlyError
    where = getattr(exc, "filename", None) or store
    why = "is on a read-only filesystem" if exc.errno == errno.EROFS else "is not writable by this user"
    return ReadOnlyError(f"cannot {what}: {where} {why} ({exc.strerror})",
                         "reading commands (ls, show, use, verify) work on a read-only store; to change it, "
                         "use a writable copy or ask its owner; nothing was changed")


def require_writable(store: str, what: str) -> None:
    """A ReadOnlyError before an operation starts, if this process cannot write ``store``."""
    if os.access(store, os.W_OK):
        return
    ro = os.statvfs(store).f_flag & os.ST_RDONLY
    raise read_only_error(store, what, OSError(errno.EROFS if ro else errno.EACCES,
                                               "read-only filesystem" if ro else "permission denied", store))


def raise_if_full(exc: OSError, path: str, needed: int | None = None) -> None:
    if not is_full(exc):
        return
    raise storage_full(f"writing {path}", os.path.dirname(path) or ".", needed) from exc


class AtomicFile:
    """Write a file so it appears whole or not at all.

    Use as a context manager; ``write`` as with a file.  On a clean exit the
    file is fsynced and renamed to ``path``; on an exception the temp is removed.
    """

    def __init__(self, path: str, tmp_dir: str | None = None, mode: int = 0o644, durable: bool = True):
        self.path = path
        self.tmp_dir = tmp_dir or os.path.dirname(path) or "."
        self.mode = mode
        self.durable = durable
        self.tmp = temp_path(self.tmp_dir, os.path.basename(path))
        self._f = None
        self.size = 0

    def __enter__(self) -> "AtomicFile":
        try:
            self._f = open(self.tmp, "xb")
        except OSError as e:
            raise_if_full(e, self.tmp)
            raise
        return self

    def write(self, data) -> None:
        self._f.write(data)  # a full disk is reported by __exit__, once the temp is gone
        self.size += len(data)

    def fileno(self) -> int:
        """The temp file's descriptor, for writers that bypass ``write`` (an
        in-kernel copy); buffered bytes are flushed first."""
        self._f.flush()
        return self._f.fileno()

    def abort(self) -> None:
        if self._f is not None and not self._f.closed:
            try:
                self._f.close()  # flushes what is buffered: on a full disk that fails too
            except OSError:
                pass
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            if isinstance(exc, OSError):
                raise_if_full(exc, self.path)
            return
        try:
            self._f.flush()
            if self.durable:
                os.fsync(self._f.fileno())
            self._f.close()
            os.chmod(self.tmp, self.mode)
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.abort()
            raise_if_full(e, self.path)
            raise
        except BaseException:
            self.abort()
            raise
        if self.durable:
            fsync_dir(os.path.dirname(self.path) or ".")


FOLDER_LOCK_WAIT_S = 30.0  # a read-modify-write holds its folder's lock for milliseconds; this is a hang
_NO_FLOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


def lock_nowait(fd: int) -> bool:
    """Take an exclusive ``flock`` on ``fd`` without waiting: False if another process holds it;
    True once held, and where the filesystem has no flock (some network mounts: the caller goes
    on unlocked, as the ref locks do).  Any other failure is raised."""
    import fcntl
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as e:
        if e.errno not in _NO_FLOCK:
            raise
    return True


@contextmanager
def folder_lock(folder: str, what: str):
    """Hold an exclusive ``flock`` on ``folder`` itself while a small file in it is read,
    changed and rewritten (``atomic_write``), so two processes editing it at once cannot lose
    one's change.  The folder, not a ``<file>.lock`` beside it: nothing is left behind, the
    kernel drops the lock when its holder dies, and no lock file can be mistaken for a stale
    ref lock or committed to a code repository.  Where the filesystem has no flock (some network
    mounts) the edit goes on unlocked, as the ref locks do; a holder that does not let go within
    FOLDER_LOCK_WAIT_S is a LockError naming ``what``."""
    import time
    os.makedirs(folder, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    try:
        deadline = time.monotonic() + FOLDER_LOCK_WAIT_S
        while not lock_nowait(fd):
            if time.monotonic() > deadline:
                raise LockError(f"another process has been changing {what} for over "
                                f"{FOLDER_LOCK_WAIT_S:.0f}s (a lock on {folder})",
                                "wait for it to finish, or find the hung mvc process and stop it")
            time.sleep(0.005)
        yield
    finally:
        os.close(fd)  # releases the flock


def atomic_write(path: str, data: bytes | Iterable[bytes], tmp_dir: str | None = None, mode: int = 0o644) -> None:
    with AtomicFile(path, tmp_dir=tmp_dir, mode=mode) as f:
        if isinstance(data, (bytes, bytearray, memoryview)):
            f.write(data)
        else:
            for piece in data:
                f.write(piece)


class PendingFile:
    """A write whose durability is batched: ``write`` and ``close`` now, ``sync``
    later (any thread), ``publish`` (rename into place) only after ``sync``.

    Used by the chunk store to write many chunks with overlapped fsyncs; the
    crash rule is the same as AtomicFile's: nothing is renamed before it is fsynced.
    """

    def __init__(self, path: str, tmp_dir: str, mode: int = 0o444):
        self.path, self.mode = path, mode
        self.tmp = temp_path(tmp_dir, os.path.basename(path))
        try:
            self._fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as e:
            raise_if_full(e, self.tmp)
            raise

    def write(self, data) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as e:
            raise_if_full(e, self.tmp, len(view))
            raise

    def fileno(self) -> int:
        """The temp file's descriptor, for writers that bypass ``write`` (an in-kernel copy)."""
        return self._fd

    def sync(self, durable: bool = True) -> None:
        try:
            os.fchmod(self._fd, self.mode)
            if durable:
                os.fsync(self._fd)
        except OSError as e:
            raise_if_full(e, self.tmp)
            raise
        finally:
            os.close(self._fd)
            self._fd = -1

    def publish(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass
