"""Ingest a listed set of files (a W&B-style draft artifact): each entry names its path in the
version and where its bytes come from, instead of one folder whose layout is the version's.

An entry is one of
    Source(path, file="/abs/local/file")         a local file, stored as chunks like any log
    Source(path, ref="file:///x" | "s3://…", …)  a reference; a folder or prefix becomes many entries
    Source(path, pointer=Pointer(...))           a file of a version already in the store (new_draft)

The result is the (path, Pointer) list that Repository._log commits, so a draft goes through the
same lease, write order, dedup and compare-and-swap as `log PATH`."""
from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass

from ..errors import InvalidInputError
from ..paths import collision, path_problem
from ..store import Pointer
from ..store.ingest import ingest_file
from ..store.statcache import now_ns


@dataclass(frozen=True)
class Source:
    path: str                      # '/'-separated path inside the version ("" for a reference's own name)
    file: str | None = None        # absolute local path
    ref: str | None = None         # reference URI
    pointer: Pointer | None = None  # bytes already in the store
    max_objects: int | None = None  # a reference folder/prefix may hold at most this many files
    checksum: bool = True           # W&B's: False records a reference by its URI alone where the scheme allows

    def label(self) -> str:
        return self.file or self.ref or self.path


def ingest_sources(repo, sources: list[Source], progress=None) -> tuple[list[tuple[str, Pointer]], int]:
    """(path, pointer) of every entry, sorted by path, and the bytes that were new to the store.
    Paths are checked (mvc/paths.py rules, no case clash) before a byte is stored."""
    refs = []
    for s in sources:
        if s.ref is not None:
            refs += _reference_entries(repo, s)
    paths = [s.path for s in sources if s.ref is None] + [p for p, _ in refs]
    _check(paths)
    started = now_ns()  # before the stats: the stat cache's racy-clean check counts from here (as ingest_tree)
    files = [(s, _stat(s.file)) for s in sources if s.file is not None]  # a file gone is refused before any write
    if progress is not None and hasattr(progress, "expect"):
        progress.expect(sum(st.st_size for _, st in files))
    _preload(repo.stat_cache, [s.file for s, _ in files])
    out = [(s.path, s.pointer) for s in sources if s.pointer is not None] + refs
    new_total = 0
    cache = repo.stat_cache
    try:
        with repo.chunks.batch():
            for s, st in files:
                ptr, new = ingest_file(repo.chunks, s.file, cache=cache, st=st, started=started)
                out.append((s.path, ptr))
                new_total += new
                if progress:
                    progress(ptr.size)
    except BaseException:
        cache.rollback()
        raise
    cache.commit()
    return sorted(out, key=lambda e: e[0]), new_total


def _preload(cache, paths: list[str]) -> None:
    """Load the stat cache's rows under the files' deepest common folder in one query (as a
    folder log does), so an unchanged re-log costs a stat per file; not for files spread from
    the root down, whose common folder is the whole cache."""
    if not paths:
        return
    common = os.path.commonpath([os.path.dirname(p) for p in paths])
    if common != os.path.dirname(common):  # not the filesystem root
        cache.preload(common)


def _stat(path: str) -> os.stat_result:
    try:
        st = os.stat(path)
    except OSError as e:
        raise InvalidInputError(f"{path} cannot be read ({e.strerror})",
                                "it was added to the artifact but is gone or unreadable now; add it again") from None
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInputError(f"{path} is no longer a regular file", "add the file again, then log the artifact")
    return st


def _reference_entries(repo, s: Source) -> list[tuple[str, Pointer]]:
    """A reference's entries placed as W&B places them: one object at ``path`` (default: its
    basename); a folder or prefix under ``path`` (default: the version's root)."""
    entries = repo._references(s.ref, checksum=s.checksum, max_objects=s.max_objects)
    base = posixpath.basename(s.ref.rstrip("/").split("://", 1)[-1])
    if s.max_objects is not None and len(entries) > s.max_objects:
        raise InvalidInputError(f"reference {s.ref} holds {len(entries)} files, more than max_objects="
                                f"{s.max_objects}", "raise max_objects, or reference a narrower folder or prefix")
    single = len(entries) == 1 and entries[0][0] == base and not s.ref.endswith("/")
    if single:
        return [(s.path or base, entries[0][1])]
    return [(f"{s.path}/{p}" if s.path else p, ptr) for p, ptr in entries]


def _check(paths: list[str]) -> None:
    seen = set()
    for p in paths:
        why = path_problem(p)
        if why:
            raise InvalidInputError(f"cannot log an artifact file named {p!r}: its path {why}",
                                    "pass name= with a relative path of plain names, e.g. name='weights/model.bin'")
        if p in seen:
            raise InvalidInputError(f"two entries of the artifact are named {p!r}",
                                    "give one of them another name= (or remove() one before adding the other)")
        seen.add(p)
    clash = collision(paths)
    if clash:
        raise InvalidInputError(f"cannot log the artifact: its {clash}",
                                "rename one of them: a version must be usable on case-insensitive filesystems too")
    if not paths:
        raise InvalidInputError("the artifact holds no files", "add_file(), add_dir(), add_reference() or new_file() "
                                                               "before logging it")
