"""mvc clone URL [DIR]: a new store whose `origin` is URL, with everything the remote holds.

The store is built in a temporary folder beside its final place and renamed into place
only once the metadata (and, unless ``no_bytes``, the bytes) are all here and checked, so a
failed or interrupted clone leaves no half-written store.  The storage URL comes from the
remote's own metadata (remotes.CONFIG_REF) unless ``storage`` is given.

The temporary folder is ``DIR/.mvc-clone-<pid>``, flocked by its clone while it is built.  A
clone killed outright (SIGKILL, power cut) cannot remove it, so the next clone into DIR, and
`mvc gc` (or `mvc fsck --repair`) of the store in DIR, remove one whose PID is not alive on this
host and whose lock nobody holds: a live clone's folder is never touched."""
from __future__ import annotations

import errno
import os
import re
import shutil
from urllib.parse import urlparse

from ..errors import InvalidInputError
from ..fsutil import lock_nowait
from ..procs import pid_alive
from ..repo import Repository
from ..repo.layout import STORE_DIR, create_store
from . import remotes

STAGING_PREFIX = ".mvc-clone-"
_STAGING_RE = re.compile(re.escape(STAGING_PREFIX) + r"(?:removing-)?([0-9]+)(?:-[0-9a-f]{8})?")


def default_dir(url: str) -> str:
    tail = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1] or "store"
    return tail[:-4] if tail.endswith(".git") and len(tail) > 4 else tail


def clone(url: str, dir: str | None = None, storage: str | None = None, no_bytes: bool = False, jobs: int = 4,
          progress=None) -> tuple[str, dict]:
    """Clone into ``dir`` (default: the URL's last component); returns (store path, summary)."""
    url = remotes.check_git_url(url)
    root = os.path.abspath(dir or default_dir(url))
    final = os.path.join(root, STORE_DIR)
    if os.path.exists(final):
        raise InvalidInputError(f"{final} exists already; a clone makes a new store",
                                f"clone into another folder, or use `mvc remote add origin {url}` and `mvc pull` "
                                "in this one")
    from .fetch import pull
    made_root = not os.path.exists(root)
    os.makedirs(root, exist_ok=True)
    remove_stale_staging(root)
    staging = os.path.join(root, f"{STAGING_PREFIX}{os.getpid()}")
    _clear_own(staging)
    lock = None
    try:
        os.makedirs(staging)
        lock = _hold(staging)
        create_store(staging)
        repo = Repository(staging)
        remotes.add(repo.meta.git, "origin", url, storage)
        summary = pull(repo, "origin", no_bytes=no_bytes, jobs=jobs, progress=progress)
        _publish(staging, final, url)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if made_root:
            try:
                os.rmdir(root)  # only if empty: a clone into the same new folder may have finished meanwhile
            except OSError:
                pass
        raise
    finally:
        if lock is not None:
            os.close(lock)
    return final, dict(summary, store=final, storage=remotes.get(Repository(final).meta.git, "origin").storage)


def _publish(staging: str, final: str, url: str) -> None:
    """Rename the finished store into place; a store another clone put there meanwhile wins."""
    try:
        os.rename(staging, final)
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise
        raise InvalidInputError(f"{final} appeared while cloning (another clone or `mvc init` made it)",
                                f"use that store, or clone {url} into another folder") from None


# ---- the folders of killed clones ------------------------------------------------------------
def _hold(staging: str) -> int:
    """An flock on the staging folder, held until the clone ends (the kernel drops it if the
    clone is killed): what tells a live clone's folder from a dead one's, beyond its PID."""
    fd = os.open(staging, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    try:
        if not lock_nowait(fd):
            raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN), staging)
    except OSError:
        os.close(fd)
        raise
    return fd


def _lock_if_dead(path: str, pid: int) -> int | None:
    """A descriptor holding the lock of ``path`` if the clone that made it has ended (its PID is
    not alive here, and nobody holds the folder's lock: not a clone of that PID on another host
    sharing this folder), else None."""
    if pid == os.getpid() or pid_alive(pid):
        return None
    return _take(path)


def _take(path: str) -> int | None:
    """A descriptor of the folder ``path`` holding its lock, or None if another holds it (or it
    is not a folder).  Where flock is missing the lock is taken as free: the PID decides alone."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        held = lock_nowait(fd)
    except OSError:
        held = False
    if not held:
        os.close(fd)
        return None
    return fd


def _clear_own(staging: str) -> None:
    """Remove a folder of this PID's name, left by a killed clone whose PID this one reuses;
    one whose lock is held is a clone running in another thread of this process."""
    if not os.path.lexists(staging):
        return
    fd = _take(staging)
    if fd is None:
        raise InvalidInputError(f"another clone into {os.path.dirname(staging)} is running in this process",
                                "wait for it to finish, or clone into another folder")
    try:
        shutil.rmtree(staging)
    finally:
        os.close(fd)


def _staging(root: str) -> list[tuple[str, int]]:
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    return [(os.path.join(root, n), int(m.group(1))) for n in names if (m := _STAGING_RE.fullmatch(n))]


def stale_staging(root: str) -> list[str]:
    """The ``.mvc-clone-<pid>`` folders in ``root`` left by clones that have ended."""
    out = []
    for path, pid in _staging(root):
        fd = _lock_if_dead(path, pid)
        if fd is not None:
            os.close(fd)
            out.append(path)
    return out


def remove_stale_staging(root: str) -> list[str]:
    """Remove the folders ``stale_staging`` finds; the paths removed.  Each is renamed aside while
    its lock is held (still the same folder), then removed: a remover killed half-way leaves a
    ``.mvc-clone-removing-<its pid>-…`` that the next one removes in turn."""
    done = []
    for path, pid in _staging(root):
        fd = _lock_if_dead(path, pid)
        if fd is None:
            continue
        aside = os.path.join(root, f"{STAGING_PREFIX}removing-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            if os.stat(path, follow_symlinks=False).st_ino != os.fstat(fd).st_ino:
                continue  # replaced meanwhile
            os.rename(path, aside)
        except OSError:
            continue
        finally:
            os.close(fd)
        shutil.rmtree(aside, ignore_errors=True)
        done.append(path)
    return done


def store_root(store: str) -> str | None:
    """The folder a clone put ``store`` in (where its staging folder was), if it is a ``.mvc``."""
    store = os.path.abspath(store)
    return os.path.dirname(store) if os.path.basename(store) == STORE_DIR else None
