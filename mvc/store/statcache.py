"""The stat cache (``.mvc/state.db``, SQLite): a file whose path, size, mtime,
ctime, inode and device are what they were when it was last hashed is not read
again; its pointer comes from here (docs/format.md, "Stat cache").

It is only a cache.  Any doubt degrades to re-hashing, never to a wrong
pointer: an entry is trusted only if the file's mtime was at least ``RACY_NS``
older than the moment hashing began (a write in the same timestamp tick would
otherwise go unseen, git's "racily clean" problem); a corrupt database is moved
aside and rebuilt; an unreadable or locked one, or one on a full or read-only
disk, switches the cache off for the process.
"""
from __future__ import annotations

import os
sqlite3 = None  # imported at the first connection (_conn): a command that only reads never opens it
import time

import xxhash

from ..errors import IntegrityError, MvcError
from .pointer import Pointer

RACY_NS = 100_000_000  # 100 ms: well above any filesystem's timestamp granularity we meet
SCHEMA = ("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
          "ctime_ns INTEGER, ino INTEGER, dev INTEGER, pointer BLOB)")


def stat_key(st: os.stat_result, use_ctime: bool = True) -> tuple[int, int, int, int, int]:
    """ctime is left out (-1) for the store's own read-only whole files: every
    hardlink made to one changes its ctime, which would defeat the cache."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns if use_ctime else -1, st.st_ino, st.st_dev)


class StatCache:
    _inherited: list = []  # connections a fork copied from the parent: never used or closed here

    def __init__(self, path: str):
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._off = False
        self._pending: dict[str, tuple] = {}  # rows remembered, written together at commit
        self._rows: dict[str, tuple] | None = None  # rows preloaded for one folder
        self._prefix = ""

    def _conn(self) -> sqlite3.Connection | None:
        global sqlite3
        if sqlite3 is None:
            import sqlite3
        if self._pid != os.getpid():  # a forked child: SQLite connections must not cross a fork
            if self._db is not None:
                StatCache._inherited.append(self._db)  # closing it here could checkpoint the parent's WAL
            self._db, self._pid, self._pending, self._rows = None, os.getpid(), {}, None
        if self._db is None and not self._off:
            for attempt in (0, 1):
                try:
                    db = sqlite3.connect(self.path, timeout=1.0, isolation_level=None)
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("PRAGMA synchronous=NORMAL")
                    db.execute(SCHEMA)
                    db.execute("SELECT count(*) FROM files LIMIT 1").fetchone()
                    self._db = db
                    break
                except sqlite3.Error as e:
                    if attempt == 0 and damaged(e):
                        self._discard()
                    else:  # a full or read-only disk, a lock held too long: not the file's fault
                        self._off = True
                        break
        return self._db

    def _discard(self) -> None:
        """Move a damaged database aside (it is only a cache)."""
        for suffix in ("", "-wal", "-shm"):
            try:
                os.replace(self.path + suffix, self.path + suffix + ".corrupt")
            except FileNotFoundError:
                pass
            except OSError:
                self._off = True

    def lookup(self, path: str, st: os.stat_result, use_ctime: bool = True) -> Pointer | None:
        row = self._row(path)
        key = stat_key(st, use_ctime)
        if row is None or tuple(row[:5]) != key:
            return None
        try:
            ptr = Pointer.decode(unseal(path, key, bytes(row[5])), "stat cache entry")
        except (MvcError, TypeError):
            return None
        return ptr if ptr.size == st.st_size and not ptr.is_reference else None

    def _row(self, path: str) -> tuple | None:
        if path in self._pending:
            return self._pending[path]
        if self._rows is not None and path.startswith(self._prefix):
            return self._rows.get(path)
        db = self._conn()
        if db is None:
            return None
        try:
            return db.execute("SELECT size, mtime_ns, ctime_ns, ino, dev, pointer FROM files WHERE path=?",
                              (path,)).fetchone()
        except sqlite3.Error:
            return None

    def preload(self, folder: str) -> None:
        """Load every row under ``folder`` in one query: lookups there become
        dict lookups (one query per file cost more than hashing a small file)."""
        self._rows, self._prefix = None, ""
        db = self._conn()
        if db is None:
            return
        prefix = folder.rstrip(os.sep) + os.sep
        end = prefix[:-1] + chr(ord(os.sep) + 1)
        try:
            rows = db.execute("SELECT path, size, mtime_ns, ctime_ns, ino, dev, pointer FROM files "
                              "WHERE path >= ? AND path < ?", (prefix, end)).fetchall()
        except sqlite3.Error:
            return
        self._rows, self._prefix = {r[0]: r[1:] for r in rows}, prefix

    def remember(self, path: str, st: os.stat_result, ptr: Pointer, hashed_at_ns: int,
                 use_ctime: bool = True) -> None:
        """Record the pointer of a file hashed from ``hashed_at_ns`` on, unless its
        mtime is too recent to tell a later same-tick write apart."""
        racy = use_ctime and st.st_mtime_ns > hashed_at_ns - RACY_NS  # store files are written once, by rename
        if racy or ptr.size != st.st_size:
            return
        key = stat_key(st, use_ctime)
        self._pending[path] = (*key, seal(path, key, ptr.encode()))

    def forget(self, path: str) -> None:
        self._pending.pop(path, None)
        if self._rows is not None:
            self._rows.pop(path, None)
        db = self._conn()
        if db is not None:
            try:
                db.execute("DELETE FROM files WHERE path=?", (path,))
            except sqlite3.Error:
                pass

    def commit(self) -> None:
        """Write the remembered rows in one transaction."""
        rows, self._pending, self._rows = [(p, *r) for p, r in self._pending.items()], {}, None
        db = self._conn() if rows else None
        if db is None:
            return
        try:
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?)", rows)
            db.execute("COMMIT")
        except sqlite3.Error:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def rollback(self) -> None:
        self._pending, self._rows = {}, None

    def close(self) -> None:
        """Write what is remembered and close the connection (the next use reopens it)."""
        self.commit()
        if self._db is not None and self._pid == os.getpid():
            try:
                self._db.close()
            except sqlite3.Error:  # opened by another thread: left to be closed when collected
                return
            self._db = None


def damaged(e: sqlite3.Error) -> bool:
    """Whether SQLite says the database file itself is damaged (then it is moved aside and rebuilt);
    a full disk ("database or disk is full"), a read-only one or a lock only switch the cache off."""
    text = str(e).lower()
    return any(w in text for w in ("malformed", "not a database", "corrupt"))


def seal(path: str, key: tuple, pointer: bytes) -> bytes:
    """The stored pointer with a check over path, stat key and pointer: SQLite checks no
    row's bytes, and a flipped digit of a pointer's digest would still parse."""
    return pointer + b"#" + _check(path, key, pointer)


def unseal(path: str, key: tuple, stored: bytes) -> bytes:
    """The pointer of a sealed row; a damaged or unsealed row is an IntegrityError (a cache miss)."""
    pointer, sep, check = stored.rpartition(b"#")
    if not sep or check != _check(path, key, pointer):
        raise IntegrityError(f"stat cache row for {path} fails its check")
    return pointer


def _check(path: str, key: tuple, pointer: bytes) -> bytes:
    return xxhash.xxh3_64_hexdigest(f"{path}\0{key}\0".encode("utf-8", "surrogateescape") + pointer).encode()


def now_ns() -> int:
    return time.time_ns()
