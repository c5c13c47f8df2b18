"""Ref locks (docs/format.md, "gc, leases and locks").

libgit2 moves a ref by writing ``<ref>.lock`` (O_EXCL) and renaming it over the ref; the
lock records nothing, so a writer killed holding it leaves a lock nobody can prove stale.
mvc therefore takes its own lock on the ref first: an flock on ``ref-owners/<ref>.owner``,
which the kernel drops when its holder dies, and whose content names the holder (host,
PID, start) while it holds it and is emptied when it lets go.  Whoever takes the owner lock
and finds a record there knows its last holder died holding it; if that record names a
process of this host that has ended, a ``.lock`` it left is removed at once.

Advisory locks lie on network filesystems, and a ``.lock`` without an owner record (a
program other than mvc, a lost record) proves nothing: those are stale only by age,
STALE_LOCK_S, and only if they still look so LOCK_RECHECK_S later as the same file."""
from __future__ import annotations

import errno
import fcntl
import os
import time

from .. import canonical
from ..fsinfo import on_network_fs
from ..procs import hostname, process_gone, start_ticks

OWNERS = "ref-owners"  # folder of owner files in the metadata repository, mirroring refs/
STALE_LOCK_S = 30.0    # a ref lock whose owner is not provably gone is stale this old
LOCK_RECHECK_S = 0.5   # ... when it still is, as the same file, this much later (clear_aged_lock)


def lock_path(store: str, refname: str) -> str:
    return os.path.join(store, *refname.split("/")) + ".lock"


def owner_path(store: str, refname: str) -> str:
    return os.path.join(store, OWNERS, *refname.split("/")) + ".owner"


def _record() -> bytes:
    pid = os.getpid()
    return canonical.dumps({"host": hostname(), "pid": pid, "since": time.time(), "start": start_ticks(pid)})


def _parse(data: bytes) -> dict | None:
    """An owner record, or None for an empty or unreadable one (proves nothing)."""
    try:
        rec = canonical.loads(data) if data else None
    except ValueError:
        return None
    ok = (isinstance(rec, dict) and isinstance(rec.get("pid"), int) and isinstance(rec.get("host"), str)
          and isinstance(rec.get("since"), (int, float)) and isinstance(rec.get("start"), (int, type(None))))
    return rec if ok else None


def _gone(rec: dict | None) -> bool:
    """The record names a process of this host that has ended."""
    return rec is not None and rec["host"] == hostname() and process_gone(rec["pid"], rec["start"])


_held: set[int] = set()  # descriptors of the owner locks this process holds
_NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


def _forget_in_child() -> None:
    """A forked child must not keep its parent's owner locks: an flock lives until every copy of
    its descriptor is closed, so a child that kept one would hold the ref for its whole life."""
    for fd in list(_held):
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _open_owner(path: str, flags: int = os.O_RDWR | os.O_CREAT) -> int:
    try:
        return os.open(path, flags | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, flags | os.O_CLOEXEC, 0o644)


class RefOwner:
    """mvc's lock on one ref: taken before libgit2 makes ``<ref>.lock``, released once that
    lock is gone (renamed over the ref, or removed by libgit2 on a failure)."""

    def __init__(self, store: str, refname: str):
        self.path = owner_path(store, refname)
        self.lock = lock_path(store, refname)
        self.fd: int | None = None
        self.left: dict | None = None  # the record of a holder that died holding it (found by acquire)

    def acquire(self) -> bool:
        """Take it without waiting and record this process in it; False if another holds it."""
        fd = _open_owner(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in _NO_FLOCK:
                return True  # a filesystem without flock: go on unowned, as on a network one (age rule)
            if isinstance(e, BlockingIOError):
                return False
            raise
        self.fd, self.left = fd, _parse(os.pread(fd, 4096, 0))
        _held.add(fd)
        data = _record()
        try:  # not fsynced: a record speaks for a live process, and a reboot ends them all
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        except OSError:
            pass  # a full disk: held but not recorded; a lock left now is cleared by age, not at once
        return True

    def release(self) -> None:
        """Empty the record (a clean release) and let go."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        if fd not in _held:
            return  # closed in a forked child (_forget_in_child): the parent's lock is the parent's
        _held.discard(fd)
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            os.close(fd)

    def clear_left_lock(self) -> bool:
        """While held: remove the ``.lock`` the last holder left if that holder died holding the
        owner lock (its record names a process of this host that has ended) and no process on
        this host holds the ``.lock`` open (a program other than mvc).  True if removed."""
        if self.fd is None or not _gone(self.left) or _open_by(self.lock):
            return False
        try:
            os.unlink(self.lock)
        except FileNotFoundError:
            return False
        self.left = None
        return True

    def __enter__(self) -> "RefOwner":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def probe_owner(store: str, refname: str) -> dict:
    """Who owns ``refname`` now, without waiting or writing: {"held": True, "record"} while a
    writer holds the owner lock, {"held": False, "record"} when it is free (a record then was
    left by a holder that died holding it), {"held": None, "record": None} if unknowable."""
    try:
        fd = _open_owner(owner_path(store, refname), os.O_RDONLY)
    except OSError:
        return {"held": None if os.path.exists(owner_path(store, refname)) else False, "record": None}
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            held = False
        except BlockingIOError:
            held = True
        except OSError:
            held = None
        return {"held": held, "record": _parse(os.pread(fd, 4096, 0))}
    finally:
        os.close(fd)


def _open_by(path: str) -> list[int] | None:
    """PIDs on this host holding ``path`` open (Linux /proc), or None if unknowable."""
    if not os.path.isdir("/proc/self/fd"):
        return None
    target = os.path.realpath(path)
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    pids.append(int(pid))
                    break
            except OSError:
                continue
    return pids


def ref_of(lock: str) -> tuple[str, str] | None:
    """(metadata repository, refname) of a ``<ref>.lock`` under a repository's refs/, or None:
    the repository is the nearest folder above holding HEAD and a refs/ the lock lies in."""
    if not lock.endswith(".lock"):
        return None
    folder = os.path.dirname(os.path.abspath(lock))
    while os.path.dirname(folder) != folder:
        store = os.path.dirname(folder)
        if os.path.basename(folder) == "refs" and os.path.isfile(os.path.join(store, "HEAD")):
            return store, os.path.relpath(os.path.abspath(lock)[:-5], store).replace(os.sep, "/")
        folder = store
    return None


def _owner_of(lock: str) -> dict:
    """The owner lock of a ref lock: held, record, and whether it proves the lock stale."""
    ref = ref_of(lock)
    if ref is None or on_network_fs(lock):
        return {"held": None, "record": None, "dead": False}
    owner = probe_owner(*ref)
    return dict(owner, dead=owner["held"] is False and _gone(owner["record"]))


def _holders(owner: dict, pids: list[int] | None) -> str:
    rec = owner["record"]
    if owner["held"]:
        return (f"held by mvc writer PID {rec['pid']} on host {rec['host']}" if rec is not None
                else "held by an mvc writer that has not recorded itself yet")
    if rec is not None and owner["dead"]:
        return f"left by mvc writer PID {rec['pid']} on host {rec['host']}, which has ended"
    if pids:
        return "held open by PID " + ", ".join(map(str, pids)) + f" on host {hostname()}"
    return (f"no process on host {hostname()} holds it open" if pids is not None else "holder unknown") + \
        ("; no owner record (not written by mvc, or on a network filesystem)" if rec is None else "")


def lock_info(lock: str) -> dict | None:
    """Age, owner and holders of a ref lock file, or None if there is none."""
    try:
        st = os.stat(lock)
    except FileNotFoundError:
        return None
    owner, pids = _owner_of(lock), _open_by(lock)
    rec = owner["record"] if owner["held"] or owner["dead"] else None
    return {"path": lock, "age": time.time() - st.st_mtime, "pids": pids, "holders": _holders(owner, pids),
            "host": rec["host"] if rec else None, "pid": rec["pid"] if rec else None,
            "owner_held": owner["held"], "owner_dead": owner["dead"], "inode": st.st_ino, "mtime": st.st_mtime}


def lock_is_stale(info: dict) -> bool:
    """Stale: its owner record names a process of this host that ended holding it, or (no
    mvc writer holding it) it is older than STALE_LOCK_S."""
    return bool(info.get("owner_dead")) or (not info.get("owner_held") and info["age"] > STALE_LOCK_S)


def clear_stale_lock(lock: str) -> bool:
    """Remove ``lock`` if it is provably stale; True if removed.  A ref lock is judged under its
    owner lock (at once if its owner died); any other, or one on a network filesystem, by age."""
    ref = ref_of(lock)
    if ref is None or on_network_fs(lock):
        return clear_aged_lock(lock)
    with RefOwner(*ref) as owner:
        try:
            if not owner.acquire():
                return False  # a live mvc writer holds it
        except OSError:  # no owner file can be made here (a read-only folder): nothing proves more than age
            return clear_aged_lock(lock)
        return owner.clear_left_lock() or clear_aged_lock(lock)


def clear_aged_lock(lock: str) -> bool:
    """Remove ``lock`` if it is older than STALE_LOCK_S and still is, as the same file (inode
    and mtime), LOCK_RECHECK_S later; True if removed.  A writer no owner lock covers closes its
    lock file after a (possibly slow) fsync and renames it a moment later: removing it in that
    moment would let the rename publish another writer's new lock, a lost update (R1 caught it
    once under load); a live writer's lock is renamed away long before the second look."""
    first = _aged(lock)
    if first is None:
        return False
    time.sleep(LOCK_RECHECK_S)
    if _aged(lock) != first:
        return False  # renamed by its writer, or a new writer took it meanwhile
    try:
        os.unlink(lock)
    except FileNotFoundError:
        return False
    return True


def _aged(lock: str) -> tuple[int, float] | None:
    try:
        st = os.stat(lock)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime) if time.time() - st.st_mtime > STALE_LOCK_S else None


def describe(store: str, refname: str) -> str:
    """The ref lock of ``refname`` for a message: lock file, host, PID and age, as far as known."""
    lock = lock_path(store, refname)
    info = lock_info(lock)
    if info is not None:
        return f"lock {lock} (age {info['age']:.0f}s; {info['holders']})"
    owner = probe_owner(store, refname) if not on_network_fs(store) else {"held": None, "record": None}
    rec = owner["record"]
    if owner["held"] and rec is not None:
        return (f"ref {refname} (owner lock {owner_path(store, refname)} held by mvc writer PID {rec['pid']} "
                f"on host {rec['host']}, age {time.time() - rec['since']:.0f}s)")
    return f"ref {refname}"
