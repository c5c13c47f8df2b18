"""Packing the metadata's loose git objects as part of mvc's own upkeep, as git's
`gc --auto` does (docs/format.md, "Git packs of upkeep").

Every commit libgit2 makes leaves its new objects loose, one file each; an artifact of
3,000 versions had 33,007 of them (503 MiB), and every read of old metadata paid for
it.  So after a commit, when the loose objects are many (estimated as git does: the
entries of one fan-out folder, ``objects/17/``, times 256), they are written into one
pack with libgit2's packbuilder (deltas on), and the loose copies are deleted.

Safe under concurrent writers and readers: the objects to pack are listed first; the
pack is written in a private temp folder, checked (``packwriter.index_problem``),
fsynced, and renamed into ``objects/pack/`` ``.pack`` before ``.idx`` (a reader sees a
pack only through its index), the folder fsynced; only then is a loose file deleted,
and only one that was listed and is in that index.  A loose object a writer made
meanwhile was not listed and stays.  A reader that misses a loose object finds it
packed (libgit2 re-scans ``objects/pack`` on a miss; mvc checks every index before
libgit2 reads it).  An upkeep lock (``flock``) keeps two processes from packing the same
objects at once; nothing depends on it for correctness.
"""
from __future__ import annotations

import fcntl
import os
import re
import struct
from contextlib import contextmanager

from ..errors import MvcError
from ..fsutil import fsync_dir, temp_path
from .gitdb import git_error
from .packwriter import index_problem

AUTO_PACK = 2048  # loose objects (estimated) above which a commit packs them; MVC_GIT_AUTO_PACK overrides, 0: never
SAMPLE = "17"     # the fan-out folder counted, as git's gc --auto counts objects/17
LOCK = "git-upkeep.lock"
_LOOSE_NAME = re.compile(r"[0-9a-f]{38}")


def auto_pack() -> int:
    return int(os.environ.get("MVC_GIT_AUTO_PACK") or AUTO_PACK)


def loose_estimate(store: str) -> int:
    """About how many loose objects ``store``'s git holds: the entries of objects/17 times 256."""
    try:
        names = os.listdir(os.path.join(store, "objects", SAMPLE))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    return 256 * sum(1 for n in names if _LOOSE_NAME.fullmatch(n))


def after_commit(meta) -> int:
    """Called after each commit: pack the loose objects when they are many.  Costs one listing of
    objects/17 when there is nothing to do.  Best effort: the commit is made whatever happens
    here, so a failure (a full disk, a damaged object) leaves the loose objects as they were and
    is not raised.  Returns the number of loose objects packed and deleted."""
    limit = auto_pack()
    if limit <= 0 or loose_estimate(meta.path) <= limit:
        return 0
    try:
        return pack_loose(meta)
    except (OSError, MvcError, ValueError, git_error()):  # git_error: libgit2's pack builder's GitError
        return 0


def pack_loose(meta) -> int:
    """Pack every sound loose object of ``meta`` into one new pack and delete the loose files it
    holds; returns how many were deleted (0 when another process is packing)."""
    with _lock(meta.path) as held:
        if not held:
            return 0
        oids = _sound_loose(meta)
        if not oids:
            return 0
        idx = _write_pack(meta, oids)
        return _prune(meta.path, oids, _index_ids(idx))


def _loose(store: str) -> list[str]:
    """The hex ids of the loose objects (a snapshot: later ones are not packed, hence not deleted)."""
    out = []
    objects = os.path.join(store, "objects")
    for fan in sorted(os.listdir(objects)):
        if len(fan) != 2:
            continue
        try:
            names = os.listdir(os.path.join(objects, fan))
        except (NotADirectoryError, FileNotFoundError):
            continue
        out += [fan + n for n in names if _LOOSE_NAME.fullmatch(n)]
    return out


def _sound_loose(meta) -> list[str]:
    """The loose objects that pass ``MetaRepo.check`` (libgit2 may hang on a damaged one: those are
    left loose, for fsck to name)."""
    out = []
    for hexid in _loose(meta.path):
        try:
            meta.check(hexid)
        except (MvcError, ValueError):
            continue
        out.append(hexid)
    return out


def _write_pack(meta, oids: list[str]) -> str:
    """Write ``oids`` as one pack in a temp folder, check, fsync and rename it into objects/pack
    (.pack, then .idx, then the folder fsynced); return the path of the renamed .idx."""
    tmp_root = os.path.join(meta.path, "tmp")
    os.makedirs(tmp_root, exist_ok=True)
    work = temp_path(tmp_root, "git-upkeep")  # gc removes it if this process dies (repo/gc.py, _old_temps)
    os.mkdir(work)
    from .pygit import pygit2
    try:
        pb = pygit2.PackBuilder(meta.git)
        for hexid in oids:
            pb.add(pygit2.Oid(hex=hexid))
        with meta.full_guard():
            pb.write(work)
        (name,) = [n[:-4] for n in os.listdir(work) if n.endswith(".idx")]
        why = index_problem(os.path.join(work, name + ".idx"))
        if why is not None:
            raise ValueError(f"libgit2 wrote a pack mvc would refuse: {why}")
        folder = os.path.join(meta.path, "objects", "pack")
        os.makedirs(folder, exist_ok=True)
        for suffix in (".pack", ".idx"):
            src = os.path.join(work, name + suffix)
            _fsync(src)
            os.chmod(src, 0o444)
            os.replace(src, os.path.join(folder, name + suffix))
        fsync_dir(folder)
        return os.path.join(folder, name + ".idx")
    finally:
        import shutil  # here: shutil loads bz2 and lzma, which a read never needs
        shutil.rmtree(work, ignore_errors=True)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _index_ids(idx_path: str) -> set[str]:
    """The hex ids an index v2 lists (checked by ``index_problem`` before)."""
    with open(idx_path, "rb") as f:
        data = f.read()
    n = struct.unpack(">I", data[8 + 255 * 4:8 + 256 * 4])[0]
    ids = data[8 + 1024:8 + 1024 + 20 * n]
    return {ids[i:i + 20].hex() for i in range(0, len(ids), 20)}


def _prune(store: str, oids: list[str], packed: set[str]) -> int:
    """Delete the loose files of ``oids`` that ``packed`` holds (its pack renamed and fsynced before)."""
    done = 0
    for hexid in oids:
        if hexid not in packed:
            continue
        try:
            os.unlink(os.path.join(store, "objects", hexid[:2], hexid[2:]))
            done += 1
        except FileNotFoundError:
            continue
    return done


@contextmanager
def _lock(store: str):
    """Yields True while this process holds the upkeep lock, False if another does."""
    folder = os.path.join(store, "tmp")
    os.makedirs(folder, exist_ok=True)
    fd = os.open(os.path.join(folder, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
