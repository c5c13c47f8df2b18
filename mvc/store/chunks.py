"""Chunk stores: immutable blobs named by the BLAKE3 hex of their bytes (digest.chunk_id).

``DirChunkStore`` lays chunks out as ``<root>/chunks/ab/<62 more hex>``;
``MemoryChunkStore`` is its in-memory twin for tests.  Every read re-hashes.
"""
from __future__ import annotations

import contextlib
import errno
import mmap
import os
import threading
import time

from ..errors import IntegrityError, NotFoundError
from ..fsutil import AtomicFile, PendingFile, fsync_dir, start_writeback, write_all
from .digest import ID_LEN, chunk_id, file_digest
from .packs import PACK_CHUNK_MAX, PACK_MIN_CHUNKS, PackBuilder, PackIndex, rewrite_without
from .pointer import Pointer
from .worker import Worker

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Iterator

_HEX = frozenset("0123456789abcdef")


def check_id(cid: str) -> str:
    if len(cid) != ID_LEN or not _HEX.issuperset(cid):
        raise IntegrityError(f"malformed chunk id {cid!r}")
    return cid


class ChunkStore:
    """Interface: every backend (memory, directory, remote) passes tests/test_chunk_store.py."""

    def has(self, cid: str) -> bool:
        raise NotImplementedError

    def put(self, data, cid: str | None = None, source: tuple[int, int] | None = None) -> tuple[str, bool]:
        """Store ``data``; return (chunk id, whether it was new).  ``source``:
        (fd, offset) where the same bytes are in a file, which a backend may
        copy from instead (inside the kernel)."""
        raise NotImplementedError

    def get(self, cid: str) -> bytes:
        """Return the chunk's bytes, verified against its id."""
        raise NotImplementedError

    def delete(self, cid: str) -> None:
        raise NotImplementedError

    def delete_many(self, cids) -> None:
        """Delete every chunk of ``cids`` (a backend may group the work)."""
        for cid in cids:
            self.delete(cid)

    def freshen(self, cids) -> None:
        """Mark chunks the caller reuses as written now, so gc's grace period
        and a writer's lease count from now (a stat-cache hit writes no chunk)."""
        raise NotImplementedError

    def quarantine(self, cid: str) -> list[str]:
        """Set aside each stored copy of ``cid`` whose bytes fail their check, so the
        store no longer has it and the next log of the same bytes writes it afresh
        (``put`` trusts a chunk it has).  Sound copies stay.  Returns where each bad
        copy went."""
        raise NotImplementedError

    def quarantined(self, cid: str) -> list[str]:
        """Where ``quarantine`` set copies of ``cid`` aside (a read of a chunk found only
        there is an IntegrityError saying so, not a missing chunk)."""
        return []

    def get_view(self, cid: str):
        """Like ``get`` (verified), but may return a read-only view instead of a copy."""
        return self.get(cid)

    def open_unverified(self, cid: str) -> int | None:
        """A read-only descriptor of chunk ``cid``'s own file, or None where it has none (packed, in
        memory, in a batch).  Its bytes are NOT checked: the caller hashes every byte it reads and
        the rest of the file (``digest.chunk_hasher``), and checks the id before it returns
        anything computed from them (`mvc diff`, docs/design.md "Diff")."""
        return None

    def missing(self, cids) -> list[str]:
        """The ids of ``cids`` the store lacks."""
        return [c for c in cids if not self.has(c)]

    def copy_out(self, cid: str, n: int, fd: int, checks) -> None:
        """Append chunk ``cid`` (``n`` bytes by its pointer) to the file ``fd``, verified
        against its id: BLAKE3 once per byte.  A backend may hand the check to ``checks``
        (``digest.Checks``: it runs on another thread while this one copies, and its error
        surfaces from ``checks.wait()``, always before the caller publishes the file)."""
        data = self.get_view(cid)
        if len(data) != n:
            raise IntegrityError(f"chunk {cid} has {len(data)} bytes, the pointer says {n}")
        write_all(fd, data)

    def ids(self) -> Iterator[str]:
        raise NotImplementedError

    def stored_size(self, cid: str) -> int:
        raise NotImplementedError

    @contextlib.contextmanager
    def batch(self):
        """A block whose puts may be made durable together at its end (a no-op here)."""
        yield self

    def mtime(self, cid: str) -> float:
        """When the chunk was last written or freshened (gc's grace period uses it)."""
        raise NotImplementedError

    def _verified(self, cid: str, data: bytes) -> bytes:
        if chunk_id(data) != cid:
            raise IntegrityError(f"chunk {cid} is corrupt: its bytes hash to {chunk_id(data)}")
        return data


class MemoryChunkStore(ChunkStore):
    def __init__(self):
        self._chunks: dict[str, bytes] = {}
        self._times: dict[str, float] = {}
        self._quarantined: dict[str, bytes] = {}

    def has(self, cid):
        return cid in self._chunks

    def put(self, data, cid=None, source=None):
        cid = cid or chunk_id(data)
        self._times[cid] = time.time()
        if cid in self._chunks and chunk_id(self._chunks[cid]) == cid:  # a bad copy is written over
            return cid, False
        self._chunks[cid] = bytes(data)
        return cid, True

    def get(self, cid):
        try:
            return self._verified(cid, self._chunks[cid])
        except KeyError:
            if self.quarantined(cid):
                raise IntegrityError(f"chunk {cid} is corrupt: it was set aside as {self.quarantined(cid)[0]}",
                                     "re-log the original files to write it back") from None
            raise NotFoundError(f"chunk {cid} is missing from the store") from None

    def delete(self, cid):
        self._chunks.pop(cid, None)

    def freshen(self, cids):
        now = time.time()
        self._times.update((c, now) for c in cids if c in self._chunks)

    def quarantine(self, cid):
        data = self._chunks.get(cid)
        if data is None or chunk_id(data) == cid:
            return []
        self._quarantined[cid] = self._chunks.pop(cid)
        return self.quarantined(cid)

    def quarantined(self, cid):
        return [f"memory:quarantine/{cid}"] if cid in self._quarantined else []

    def ids(self):
        return iter(list(self._chunks))

    def stored_size(self, cid):
        return len(self._chunks[cid])

    def mtime(self, cid):
        return self._times[cid]


class DirChunkStore(ChunkStore):
    """Loose chunks in ``chunks/ab/<62 hex>``; small chunks written in a batch go
    into ``packs/`` (see packs.py).  Outside a batch every put is durable at once."""

    def __init__(self, root: str, durable: bool = True, cache=None):
        self.root = root
        self.dir = os.path.join(root, "chunks")
        self.tmp = os.path.join(root, "tmp")
        self.durable = durable
        self.cache = cache  # a StatCache: vouches for loose chunk files checked since (see sound)
        self.packs = PackIndex(os.path.join(root, "packs"))
        self._local = threading.local()  # one batch per thread: threads of one process log concurrently

    @property
    def _batch(self) -> "Batch | None":
        return getattr(self._local, "batch", None)

    @_batch.setter
    def _batch(self, value: "Batch | None") -> None:
        self._local.batch = value

    def path(self, cid: str) -> str:
        check_id(cid)
        return os.path.join(self.dir, cid[:2], cid[2:])

    def is_loose(self, cid: str) -> bool:
        return os.path.exists(self.path(cid))

    def has(self, cid):
        batch = self._batch
        if batch is not None:  # inside a batch the pack index is loaded once (see Batch.has)
            return batch.has(cid) or self.is_loose(cid)
        if self.packs.locate(cid) is not None:  # a dict lookup: cheaper than the stat below
            return True
        return self.is_loose(cid)

    def missing(self, cids) -> list[str]:
        """The ids of ``cids`` the store lacks, as of now (the pack indexes are re-read once)."""
        self.packs.refresh()
        where = self.packs._where
        return [c for c in cids if c not in where and not self.is_loose(c)]

    @contextlib.contextmanager
    def batch(self):
        """Defer durability: chunks put inside are fsynced in the background and
        renamed into place (small ones packed) when the block ends without error."""
        if self._batch is not None:
            yield self
            return
        os.makedirs(self.tmp, exist_ok=True)
        self._batch = Batch(self)
        try:
            yield self
            self._batch.commit()
        except BaseException:
            self._batch.abort()
            raise
        finally:
            self._batch = None

    def put(self, data, cid=None, source=None):
        """Dedup trusts a chunk the store has only once it is known sound (``sound``): a copy
        planted or damaged under ``cid`` is written over (loose, where reads look first) with
        the bytes in hand, which the write check holds to ``cid`` before they are published."""
        cid = check_id(cid) if cid else chunk_id(data)
        present = self.has(cid)
        sound = present and self.sound(cid, len(data))
        if sound:
            self.freshen((cid,))
            return cid, False
        if self._batch is not None:
            self._batch.put(cid, data, source, loose=present and sound is False)
            return cid, True
        path = self.path(cid)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.makedirs(self.tmp, exist_ok=True)
        with AtomicFile(path, tmp_dir=self.tmp, mode=0o444, durable=self.durable) as f:
            f.write(data)
        return cid, True

    def sound(self, cid: str, n: int) -> bool | None:
        """Whether a stored copy of ``cid`` (``n`` bytes) may stand for new bytes with that id:
        one written in this batch (its write check is pending), a loose file the stat cache
        vouches for (it was written or checked since, and its size, mtime and inode are
        unchanged), or any copy that hashes to ``cid`` now (then vouched for).  False: the
        store has a bad copy, None: it has none (gone meanwhile)."""
        batch = self._batch
        if batch is not None and batch.holds(cid):
            return True
        path = self.path(cid)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        if st is not None:
            if st.st_size != n:
                return False
            return self.vouched(path, cid, st) or self._check_loose(path, cid, st)
        try:
            data = self.packs.read(cid)
        except IntegrityError:  # its index places it past the end of its pack
            return False
        return None if data is None else len(data) == n and chunk_id(data) == cid

    def vouched(self, path: str, cid: str, st: os.stat_result) -> bool:
        """Whether the stat cache vouches that the loose file ``path`` holds chunk ``cid``."""
        hit = self.cache.lookup(path, st, use_ctime=False) if self.cache is not None else None
        return hit is not None and hit.chunks == ((cid, st.st_size),)

    def vouch(self, path: str, cid: str, st: os.stat_result | None = None) -> None:
        """Record in the stat cache that the loose file ``path`` (as ``st`` says, else as it is
        now) holds chunk ``cid``: checked, so a dedup need not read it again (linkmodes'
        whole files use the same rows: a loose chunk is the whole file of a one-chunk file)."""
        if self.cache is None:
            return
        try:
            st = st or os.stat(path)
        except FileNotFoundError:
            return
        chunks = ((cid, st.st_size),)
        self.cache.remember(path, st, Pointer(size=st.st_size, digest=file_digest(chunks), chunks=chunks),
                            0, use_ctime=False)

    def _check_loose(self, path: str, cid: str, st: os.stat_result) -> bool:
        try:
            with open(path, "rb") as f:
                good = chunk_id(f.read()) == cid
        except FileNotFoundError:
            return False
        if good:
            self.vouch(path, cid, st)
        return good

    def get(self, cid):
        data = self._batch.get(cid) if self._batch is not None else None
        if data is None:
            try:
                with open(self.path(cid), "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                data = self.packs.read(cid)
        if data is None and self.packs.bad:
            raise IntegrityError(f"chunk {cid} is in no chunk file or readable pack; damaged: "
                                 + "; ".join(self.packs.bad.values()),
                                 "run `mvc fsck` to list the affected versions; re-log or pull them again")
        if data is None and self.quarantined(cid):
            raise IntegrityError(f"chunk {cid} is corrupt: `mvc fsck` set its bytes aside as "
                                 + ", ".join(self.quarantined(cid)),
                                 "re-log the original files (`mvc log PATH --name NAME`) to write it back, or pull "
                                 "it from a remote; `mvc fsck` lists the affected versions")
        if data is None:
            raise NotFoundError(
                f"chunk {cid} is missing from the store",
                "run `mvc fsck` to list the affected versions; pull them again from a remote if you have one",
            )
        return self._verified(cid, data)

    def quarantined(self, cid: str) -> list[str]:
        """The copies of ``cid`` that fsck set aside (``quarantine``)."""
        folder = os.path.join(self.root, "quarantine")
        try:
            return [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.split(".")[0] == cid]
        except FileNotFoundError:
            return []

    def get_view(self, cid):
        """A loose chunk as a verified view of an mmap of its file: no copy and no
        allocation (a fresh bytes per 16 MiB chunk costs page faults); packed or
        empty chunks as ``get`` returns them.  Chunk files are written once and
        only ever unlinked, which leaves a mapping valid."""
        if self._batch is not None:
            return self.get(cid)
        try:
            fd = os.open(self.path(cid), os.O_RDONLY)
        except FileNotFoundError:
            return self.get(cid)
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                return self.get(cid)
            m = mmap.mmap(fd, size, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0), prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        return self._verified(cid, memoryview(m))

    def open_unverified(self, cid):
        if self._batch is not None:
            return None
        try:
            return os.open(self.path(cid), os.O_RDONLY)
        except FileNotFoundError:
            return None

    def copy_out(self, cid, n, fd, checks):
        """A loose chunk is verified through a mapping (on ``checks``' thread) while this
        thread copies it inside the kernel (``copy_file_range``): no bytes pass through a
        user buffer, which halves the cost of writing a GiB here (0.44 s against 0.82-1.3 s
        for ``write``, the latter when the page cache needs pages the VM never touched).
        Chunk files are written once, read-only, and never modified in place, so the
        copied bytes are the verified ones.  A small chunk is read from its pack and
        checked here, before it is written."""
        if self._batch is not None:
            return super().copy_out(cid, n, fd, checks)
        if n <= PACK_CHUNK_MAX:  # small chunks live in packs, mostly: look there first
            data = self.packs.read_known(cid)
            if data is not None and chunk_id(data) == cid:  # else the usual order: loose, then packs
                write_all(fd, data)
                return
        try:
            src = os.open(self.path(cid), os.O_RDONLY)
        except FileNotFoundError:
            return super().copy_out(cid, n, fd, checks)
        try:
            size = os.fstat(src).st_size
            if size != n:
                raise IntegrityError(f"chunk {cid} has {size} bytes, the pointer says {n}")
            if size == 0:
                return super().copy_out(cid, n, fd, checks)
            m = mmap.mmap(src, size, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0), prot=mmap.PROT_READ)
            checks.submit(self._verified, cid, memoryview(m))
            kernel_append(src, fd, size)
        finally:
            os.close(src)

    def delete(self, cid):
        """Remove a loose chunk, and rewrite every pack that holds it without it."""
        self.delete_many((cid,))

    def delete_many(self, cids):
        """Remove the loose chunks, and rewrite each pack holding any of them
        once (not once per chunk), keeping its mtime (packs.rewrite_without)."""
        cids = list(cids)
        for cid in cids:
            try:
                os.unlink(self.path(cid))
            except FileNotFoundError:
                pass
        rewrite_without(self.packs, cids, self.tmp)

    def ids(self):
        seen = set()
        if os.path.isdir(self.dir):
            for fan in sorted(os.listdir(self.dir)):
                sub = os.path.join(self.dir, fan)
                if len(fan) != 2 or not os.path.isdir(sub):
                    continue
                for rest in sorted(os.listdir(sub)):
                    if not rest.startswith(".") and len(rest) == ID_LEN - 2:
                        seen.add(fan + rest)
                        yield fan + rest
        for cid in sorted(self.packs.ids()):
            if cid not in seen:
                yield cid

    def freshen(self, cids):
        """Touch each packed chunk's pack (once; once per batch inside one), else its file."""
        batch = self._batch
        if batch is None:
            self.packs.refresh()
        where = batch.packs_at_start if batch is not None else self.packs._where  # as has() saw them
        done = batch.fresh_packs if batch is not None else set()
        for cid in cids:
            loc = where.get(cid)
            if loc is None:
                self._touch_loose(cid)
            elif loc[0] not in done:
                done.add(loc[0])
                _touch(self.packs.path(loc[0], "pack"))

    def _touch_loose(self, cid: str) -> None:
        """Touch a loose chunk; a file the stat cache vouched for stays vouched for (its new mtime)."""
        path = self.path(cid)
        try:
            before = os.stat(path)
        except FileNotFoundError:  # gone: the caller's presence check after ingest sees it
            return
        trusted = self.vouched(path, cid, before)
        _touch(path)
        if trusted:
            self.vouch(path, cid)

    def quarantine(self, cid):
        """A bad loose copy is moved to ``quarantine/<cid>``; a bad packed copy is copied to
        ``quarantine/<cid>.<pack id>`` and its pack written again without it (as gc deletes
        a packed chunk).  Nothing is deleted that is not kept there."""
        check_id(cid)
        folder = os.path.join(self.root, "quarantine")
        moved = []
        try:
            with open(self.path(cid), "rb") as f:
                bad = chunk_id(f.read()) != cid
        except FileNotFoundError:
            bad = False
        if bad:
            os.makedirs(folder, exist_ok=True)
            os.replace(self.path(cid), os.path.join(folder, cid))
            fsync_dir(folder)
            fsync_dir(os.path.dirname(self.path(cid)))
            moved.append(os.path.join(folder, cid))
        self.packs.refresh(force=True)
        loc = self.packs.locate(cid)
        try:
            data = self.packs.read(cid)  # None: in no pack
        except IntegrityError:  # its index places it past the end of its pack
            data = b""
        if loc and data is not None and chunk_id(data) != cid:
            os.makedirs(folder, exist_ok=True)
            os.makedirs(self.tmp, exist_ok=True)
            dest = os.path.join(folder, f"{cid}.{loc[0]}")
            with AtomicFile(dest, tmp_dir=self.tmp, mode=0o444) as f:
                f.write(data)
            rewrite_without(self.packs, (cid,), self.tmp)
            moved.append(dest)
        return moved

    def _pack_path(self, cid: str) -> str | None:
        loc = self.packs.locate(cid)
        return self.packs.path(loc[0], "pack") if loc else None

    def mtime(self, cid):
        """The newer of its file's and its pack's (freshen touches only the pack of a chunk in both)."""
        times = []
        for path in (self.path(cid), self._pack_path(cid)):
            if path:
                try:
                    times.append(os.stat(path).st_mtime)
                except FileNotFoundError:
                    continue
        if times:
            return max(times)
        if self._batch is not None and self._batch.has(cid):
            return time.time()
        raise NotFoundError(f"chunk {cid} is missing from the store")

    def stored_size(self, cid):
        try:
            return os.stat(self.path(cid)).st_size
        except FileNotFoundError:
            loc = self.packs.locate(cid)
            if loc is None:
                raise NotFoundError(f"chunk {cid} is missing from the store") from None
            return loc[2]


def _touch(path: str) -> None:
    try:
        os.utime(path)
    except (FileNotFoundError, PermissionError):  # gone: the caller's presence check after ingest sees it
        pass


def kernel_append(src: int, fd: int, size: int, start: int = 0) -> None:
    """Append ``size`` bytes of ``src`` from offset ``start`` to ``fd`` inside
    the kernel (``copy_file_range``; a buffered copy where the kernel cannot)."""
    off = 0
    while off < size:
        try:
            n = os.copy_file_range(src, fd, size - off, start + off)
        except (AttributeError, OSError) as e:
            if getattr(e, "errno", None) not in (None, errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            n = 0
        if n == 0:  # no in-kernel copy here (or the file shrank): copy what is left through a buffer
            data = os.pread(src, size - off, start + off)
            if len(data) != size - off:
                raise IntegrityError(f"a chunk file changed while it was copied ({off + len(data)} of {size} bytes)")
            write_all(fd, data)
            return
        off += n


def check_written(path: str, entries: list[tuple[str, int, int]]) -> None:
    """STYLE 8: re-read a file just written (from the page cache, before it is
    fsynced or published) and re-hash each chunk in it against its id (BLAKE3)."""
    with open(path, "rb") as f:  # mapped, not read: a fresh copy of 16 MiB costs page faults
        size = os.fstat(f.fileno()).st_size
        data = memoryview(mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ) if size else b"")
    for cid, off, n in entries:
        got = chunk_id(data[off:off + n])
        if got != cid or off + n > len(data):
            raise IntegrityError(
                f"chunk {cid} was written wrong: {path} holds bytes hashing to {got}; nothing was published",
                "the bytes changed between hashing and writing (a memory or disk fault); retry the log, "
                "and check the machine if it happens again")


class Batch:
    """The chunks of one batch: loose ones as pending files (fsynced by a
    background thread while ingest goes on), small ones in a PackBuilder."""

    def __init__(self, store: DirChunkStore):
        self.store = store
        self.loose: dict[str, PendingFile] = {}
        self.packed: list[PendingFile] = []
        self.builder = PackBuilder(store.packs.folder, store.tmp)
        self.syncer = Worker("mvc-fsync")
        self.syncs = []
        self.written: dict[str, tuple[PendingFile, int, int]] = {}  # packed chunks in pending packs
        self.fresh_packs: set[str] = set()  # packs freshened in this batch (DirChunkStore.freshen)
        store.packs.refresh()
        self.packs_at_start = store.packs._where

    def holds(self, cid: str) -> bool:
        """Written in this batch."""
        return cid in self.loose or cid in self.builder.where or cid in self.written

    def has(self, cid: str) -> bool:
        """In this batch or in a pack as of the batch's start.  A pack that gc
        rewrites meanwhile is caught by the caller's check after the batch
        (Repository._ingest_present); one another writer adds costs a duplicate."""
        return (cid in self.loose or cid in self.builder.where or cid in self.written
                or cid in self.packs_at_start)

    def put(self, cid: str, data, source: tuple[int, int] | None = None, loose: bool = False) -> None:
        """``loose``: never packed (a copy that replaces a bad one, where reads look first)."""
        if len(data) <= PACK_CHUNK_MAX and not loose:
            self.builder.add(cid, data)
            if self.builder.full():
                self._write_pack()
            return
        self._write_loose(cid, data, source)

    def _write_loose(self, cid: str, data, source: tuple[int, int] | None = None) -> None:
        """A loose chunk; with ``source`` (fd, offset) copied by the kernel from
        there (half the cost of ``write`` from a mapping here).  Either way the
        write check re-hashes the file before it is fsynced, so bytes that
        changed in the source after they were hashed are caught."""
        pf = PendingFile(self.store.path(cid), self.store.tmp)
        self.loose[cid] = pf
        if source is not None:
            kernel_append(source[0], pf.fileno(), len(data), source[1])
        else:
            pf.write(data)
        if self.store.durable:
            start_writeback(pf.fileno(), 0, len(data))  # the disk writes it while the fsync thread checks it
        self._sync_later(pf, [(cid, 0, len(data))])

    def get(self, cid: str) -> bytes | None:
        if cid in self.loose:
            with open(self.loose[cid].tmp, "rb") as f:
                return f.read()
        if cid in self.written:
            pf, off, n = self.written[cid]
            with open(pf.tmp, "rb") as f:
                f.seek(off)
                return f.read(n)
        return self.builder.get(cid)

    def _sync_later(self, pf: PendingFile, entries: list[tuple[str, int, int]] | None = None) -> None:
        """Check (``entries``: the chunks the file must hold) and fsync ``pf`` on the background thread."""
        def work():
            if entries:
                check_written(pf.tmp, entries)
            pf.sync(self.store.durable)
        self.syncs.append(self.syncer.submit(work))

    def _write_pack(self) -> None:
        entries = list(self.builder.entries)
        if len(entries) < PACK_MIN_CHUNKS:  # a pack of a few chunks costs more files than it saves
            for cid, _, _ in entries:
                self._write_loose(cid, self.builder.get(cid))
            self.builder = PackBuilder(self.store.packs.folder, self.store.tmp)
            return
        files = self.builder.write()
        if files:
            self.written.update((c, (files[0], o, n)) for c, o, n in entries)
            for pf, check in zip(files, (entries, None)):
                self.packed.append(pf)
                self._sync_later(pf, check)

    def commit(self) -> None:
        self._write_pack()
        self.syncer.shutdown(wait=True)
        for fut in self.syncs:
            fut.result()
        dirs = set()
        for pf in list(self.loose.values()) + self.packed:  # each pack before its index
            pf.publish()
            dirs.add(os.path.dirname(pf.path))
        if self.store.durable:
            for d in sorted(dirs):
                fsync_dir(d)
        for cid, pf in self.loose.items():  # checked before they were published: vouched for
            self.store.vouch(pf.path, cid)

    def abort(self) -> None:
        self.syncer.shutdown(wait=True)
        for pf in list(self.loose.values()) + self.packed:
            pf.abort()
