"""Writers' leases: a writer that may create chunks nothing references yet
holds a lease, and gc keeps every chunk younger than the oldest live lease.

    .mvc/leases/<host>-<pid>-<rand>.json   {"host","pid","start","refreshed","op"[,"reads"]}

A reader (a use) holds one too, naming in "reads" the version trees it is reading: gc keeps
their chunks, whatever the refs say, until the read ends.

A daemon thread refreshes the lease every refresh_s() seconds.  A lease is stale when its
holder is provably gone (same host, dead PID) or when it has not been refreshed
for expire_s() seconds (another host that died).  docs/format.md, "gc, leases and locks".
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from .. import canonical
from ..errors import StorageFullError
from ..fsutil import AtomicFile
from ..procs import hostname, pid_alive

LEASE_DIR = "leases"


def refresh_s() -> float:
    """Seconds between lease refreshes (MVC_LEASE_REFRESH_S; read at use, not at import: a
    resident `mvc` server imports this module once for many commands, each with its own env)."""
    return float(os.environ.get("MVC_LEASE_REFRESH_S", "120"))


def expire_s() -> float:
    """Seconds after its last refresh that a lease of another host counts as dead (MVC_LEASE_EXPIRE_S)."""
    return float(os.environ.get("MVC_LEASE_EXPIRE_S", "1800"))


@dataclass
class LeaseInfo:
    path: str
    host: str
    pid: int
    start: float
    refreshed: float
    op: str = ""
    reads: tuple = ()  # hex ids of the version trees a reader holds

    @property
    def age(self) -> float:
        return time.time() - self.start

    def stale(self, now: float | None = None) -> bool:
        if self.host == hostname():
            return not pid_alive(self.pid)
        return (now or time.time()) - self.refreshed > expire_s()

    def describe(self) -> str:
        return f"lease {self.path} (host {self.host}, PID {self.pid}, age {self.age:.0f}s)"


def lease_dir(store: str) -> str:
    return os.path.join(store, LEASE_DIR)


def read_lease(path: str) -> LeaseInfo:
    """A lease file; an unreadable one counts as live from its mtime (keep, don't guess)."""
    try:
        with open(path, "rb") as f:
            d = canonical.loads(f.read())
        reads = d.get("reads", [])
        if not isinstance(reads, list) or not all(isinstance(r, str) for r in reads):
            raise TypeError("reads")
        return LeaseInfo(path, str(d["host"]), int(d["pid"]), float(d["start"]),
                         float(d.get("refreshed", d["start"])), str(d.get("op", "")), tuple(reads))
    except (ValueError, KeyError, TypeError):
        mtime = os.stat(path).st_mtime
        return LeaseInfo(path, "?", -1, mtime, mtime, "unreadable")


def list_leases(store: str) -> list[LeaseInfo]:
    out = []
    d = lease_dir(store)
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if name.endswith(".json") and not name.startswith("."):
            try:
                out.append(read_lease(os.path.join(d, name)))
            except FileNotFoundError:
                continue  # released while we listed
    return out


def live_leases(store: str) -> list[LeaseInfo]:
    now = time.time()
    return [le for le in list_leases(store) if not le.stale(now)]


def remove_stale(store: str) -> list[LeaseInfo]:
    """Delete the leases whose holders are provably gone; return them."""
    gone = [le for le in list_leases(store) if le.stale()]
    for le in gone:
        try:
            os.unlink(le.path)
        except FileNotFoundError:
            pass
    return gone


class Lease:
    """Context manager: hold a refreshed lease on ``store`` while writing."""

    def __init__(self, store: str, op: str = "log", reads: list[str] | None = None):
        self.store = store
        self.op = op
        self.reads = list(reads or [])
        self.held = False  # a reader of a store it cannot write goes on without one (nobody gc's it from here)
        self.host = hostname()
        self.pid = os.getpid()
        self.path = os.path.join(lease_dir(store), f"{self.host}-{self.pid}-{os.urandom(4).hex()}.json")
        self.start = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _write(self) -> None:
        """Atomic (temp + rename) but not fsynced: a lease speaks for a live process, and a
        reboot ends every process, so a lease lost with the page cache loses nothing."""
        with AtomicFile(self.path, durable=False) as f:
            rec = {"host": self.host, "pid": self.pid, "start": self.start, "refreshed": time.time(), "op": self.op}
            f.write(canonical.dumps(dict(rec, reads=self.reads) if self.reads else rec))

    def _refresh_loop(self) -> None:
        while not self._stop.wait(refresh_s()):
            try:
                self._write()
            except (OSError, StorageFullError):
                pass  # a full disk must not kill the writer; the lease stays at its last refresh

    def __enter__(self) -> "Lease":
        self.start = time.time()
        try:
            os.makedirs(lease_dir(self.store), exist_ok=True)
            self._write()
        except (OSError, StorageFullError) as e:  # an operation's first write: a store it cannot write says so here
            if self.reads:
                return self  # a reader of a full or read-only store: no gc can run there from here either
            if isinstance(e, StorageFullError):
                raise
            from ..fsutil import read_only_error
            raise read_only_error(self.store, self.op, e) from None
        self.held = True
        self._thread = threading.Thread(target=self._refresh_loop, name="mvc-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not self.held:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
