"""The stat cache (``.mvc/state.db``, SQLite): a file whose path, size, mtime,
ctime, inode and device are what they were when it was last hashed is not read
again; its pointer comes from here (docs/format.md, "Stat cache").

It is only a cache.  Any doubt degrades to re-hashing, never to a wrong
pointer: an entry is trusted only if the file's mtime was at least ``RACY_NS``
older than the moment hashing began (a write in the same timestamp tick would
otherwise go unseen, git's "racily clean" problem); an unreadable, locked or
corrupt database is moved aside and rebuilt, or the cache is switched off.
"""
from __future__ import annotations

import os
import sqlite3
import time

from ..errors import MvcError
from .pointer import Pointer

RACY_NS = 100_000_000  # 100 ms: well above any filesystem's timestamp granularity we meet
SCHEMA = ("CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
          "ctime_ns INTEGER, ino INTEGER, dev INTEGER, pointer BLOB)")


def stat_key(st: os.stat_result, use_ctime: bool = True) -> tuple[int, int, int, int, int]:
    """ctime is left out (-1) for the store's own read-only whole files: every
    hardlink made to one changes its ctime, which would defeat the cache."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns if use_ctime else -1, st.st_ino, st.st_dev)


class StatCache:
    def __init__(self, path: str):
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._off = False
        self._dirty = False

    def _conn(self) -> sqlite3.Connection | None:
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
                except sqlite3.Error:
                    if attempt == 0:
                        self._discard()
                    else:
                        self._off = True
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
        db = self._conn()
        if db is None:
            return None
        try:
            row = db.execute("SELECT size, mtime_ns, ctime_ns, ino, dev, pointer FROM files WHERE path=?",
                             (path,)).fetchone()
        except sqlite3.Error:
            return None
        if row is None or tuple(row[:5]) != stat_key(st, use_ctime):
            return None
        try:
            ptr = Pointer.decode(bytes(row[5]), "stat cache entry")
        except (MvcError, TypeError):
            return None
        return ptr if ptr.size == st.st_size and not ptr.is_reference else None

    def remember(self, path: str, st: os.stat_result, ptr: Pointer, hashed_at_ns: int,
                 use_ctime: bool = True) -> None:
        """Record the pointer of a file hashed from ``hashed_at_ns`` on, unless its
        mtime is too recent to tell a later same-tick write apart."""
        racy = use_ctime and st.st_mtime_ns > hashed_at_ns - RACY_NS  # store files are written once, by rename
        if racy or ptr.size != st.st_size:
            return
        db = self._conn()
        if db is None:
            return
        try:
            if not self._dirty:
                db.execute("BEGIN")
                self._dirty = True
            db.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?)",
                       (path, *stat_key(st, use_ctime), ptr.encode()))
        except sqlite3.Error:
            pass

    def forget(self, path: str) -> None:
        db = self._conn()
        if db is not None:
            try:
                db.execute("DELETE FROM files WHERE path=?", (path,))
            except sqlite3.Error:
                pass

    def commit(self) -> None:
        if self._db is not None and self._dirty:
            self._dirty = False
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass

    def rollback(self) -> None:
        if self._db is not None and self._dirty:
            self._dirty = False
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def close(self) -> None:
        self.commit()
        if self._db is not None:
            self._db.close()
            self._db = None


def now_ns() -> int:
    return time.time_ns()
