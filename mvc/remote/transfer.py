"""Chunk bytes between a local chunk store and a remote's storage (docs/format.md,
"Remote storage"; docs/design.md, "Remote bytes").

On the remote a chunk larger than ``PACKED_MAX`` is one object, ``chunks/ab/<62 hex>``;
smaller ones travel in packs, ``packs/<id>.pack`` with its index ``packs/<id>.idx`` (the
local pack format), so 20,000 small files cost a few requests, not 20,000.  The index is
written after its pack: an index on the remote means its pack is there.

- push: bytes are written create-only and each object is confirmed (its write answered)
  before ``push_chunks`` returns, so the caller moves refs only after every byte they reach
  is on the remote.  What is confirmed is remembered locally (``RemoteCache``), so a push
  re-run after an interruption sends only what is missing; ``verify=True`` asks the
  remote again instead of trusting that memory.
- fetch: every chunk is hashed (BLAKE3) against its id before it enters the store, and
  all of them enter in one store batch: one wrong byte or a short body is an
  IntegrityError naming the chunk, and nothing enters.

Work runs on a pool of ``jobs`` threads (S3 requests release the GIL, so does BLAKE3);
the calling thread alone reads and writes the local store, and at most ``jobs + 1``
objects are held in memory at a time.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import os
import re
import threading
from dataclasses import dataclass, field

from ..errors import IntegrityError, NotFoundError, RemoteError, UsageError
from ..store.digest import ID_LEN, chunk_id
from ..store.packs import decode_index, encode_index, pack_name

PACKED_MAX = 1 << 20         # chunks up to this size travel in packs
PACK_TARGET = 32 << 20       # a remote pack is closed when its chunks reach this size
ENTRY_MAX = 64 << 20         # an index entry larger than this is refused (a hostile index could ask for TBs)
RANGE_GAP = 1 << 20          # ranges of one pack closer than this are read by one request
RANGE_MAX = 32 << 20         # ... up to this size
CACHE_DIR = "remote-cache"   # <store>/remote-cache/<url id>/ (derived, safe to delete)

_HEX = frozenset("0123456789abcdef")
_PACK_KEY = re.compile(r"packs/([0-9a-f]{32})\.(pack|idx)")


def check_chunk_id(cid) -> str:
    if not isinstance(cid, str) or len(cid) != ID_LEN or not _HEX.issuperset(cid):
        raise UsageError(f"malformed chunk id {cid!r}", "chunk ids are 64 lowercase hex digits")
    return cid


def chunk_key(cid: str) -> str:
    """The key of a chunk stored alone."""
    return f"chunks/{cid[:2]}/{cid[2:]}"


def pack_key(pack: str, ext: str) -> str:
    return f"packs/{pack}.{ext}"


def corrupt(cid: str, where: str, why: str) -> IntegrityError:
    """The error for a chunk whose fetched bytes fail their check (``.chunk`` names it, so a
    caller can add the file and version it belongs to)."""
    err = IntegrityError(f"chunk {cid} fetched from {where} is corrupt: {why}; nothing was stored",
                         "the remote's copy is damaged: push the version again from a store that has it sound")
    err.chunk = cid
    return err


# ---- what a remote is known to hold --------------------------------------------------
class RemoteCache:
    """What this store knows one remote holds, kept under ``<store>/remote-cache/<url id>/``:
    ``present`` (chunk ids confirmed on the remote, one per line, appended) and ``idx/``
    (copies of the remote's pack indexes, checked when fetched).  Derived and safe to
    delete: a lost or stale entry costs a request, never a wrong answer that ``verify``
    cannot correct.  A store with no folder (MemoryChunkStore) keeps it in memory."""

    def __init__(self, store, storage):
        root = getattr(store, "root", None)
        url_id = hashlib.sha256(storage.url.encode()).hexdigest()[:24]
        self.dir = os.path.join(root, CACHE_DIR, url_id) if root else None
        self.storage = storage
        self.lock = threading.Lock()
        self.present: set[str] = self._read_present()
        self.packs: dict[str, list[tuple[str, int, int]]] | None = None  # loaded on first need
        self.where: dict[str, tuple[str, int, int]] = {}
        self.bad: dict[str, str] = {}  # pack id -> why its remote index was refused

    def _read_present(self) -> set[str]:
        if self.dir is None:
            return set()
        try:
            with open(os.path.join(self.dir, "present"), "r", encoding="ascii", errors="replace") as f:
                return {line.strip() for line in f if len(line.strip()) == ID_LEN and _HEX.issuperset(line.strip())}
        except FileNotFoundError:
            return set()

    def add_present(self, cids) -> None:
        new = [c for c in cids if c not in self.present]
        if not new:
            return
        with self.lock:
            self.present.update(new)
            if self.dir is not None:
                os.makedirs(self.dir, exist_ok=True)
                with open(os.path.join(self.dir, "present"), "a", encoding="ascii") as f:
                    f.write("".join(c + "\n" for c in new))

    def load_packs(self) -> None:
        """Read the indexes cached by earlier transfers (each re-checked: the cache is a file)."""
        if self.packs is not None:
            return
        self.packs = {}
        folder = os.path.join(self.dir, "idx") if self.dir else None
        for name in sorted(os.listdir(folder)) if folder and os.path.isdir(folder) else ():
            m = re.fullmatch(r"([0-9a-f]{32})\.idx", name)
            if not m:
                continue
            try:
                with open(os.path.join(folder, name), "rb") as f:
                    self._add_index(m.group(1), f.read(), f"cached pack index {name}")
            except (IntegrityError, OSError):
                continue  # fetched again by the next sync
        self._reindex()

    def _add_index(self, pack: str, data: bytes, where: str) -> None:
        _, entries = decode_index(data, where, pack)
        if any(n > ENTRY_MAX for _, _, n in entries):
            raise IntegrityError(f"{where} lists a chunk larger than {ENTRY_MAX} bytes")
        self.packs[pack] = entries

    def _reindex(self) -> None:
        self.where = {c: (p, o, n) for p, ents in self.packs.items() for c, o, n in ents}

    def remember_index(self, pack: str, data: bytes) -> None:
        """Record an index this process wrote or fetched and checked."""
        with self.lock:
            self.load_packs()
            self._add_index(pack, data, f"pack index {pack}")
            self._reindex()
            if self.dir is not None:
                folder = os.path.join(self.dir, "idx")
                os.makedirs(folder, exist_ok=True)
                tmp = os.path.join(folder, f".{pack}.{os.getpid()}.{threading.get_ident()}")
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, os.path.join(folder, pack + ".idx"))

    def sync_packs(self, pool) -> None:
        """List the remote's pack indexes and fetch the ones not known yet (one LIST per
        1,000 packs, one GET per new pack).  A malformed index is set aside in ``bad``: its
        chunks count as absent (a push sends them again in a new pack)."""
        self.load_packs()
        names = {m.group(1) for k in self.storage.list("packs/")
                 if (m := _PACK_KEY.fullmatch(k)) and m.group(2) == "idx"}
        new = sorted(names - set(self.packs) - set(self.bad))
        for pack, data in zip(new, pool.map(lambda p: self.storage.get(pack_key(p, "idx")), new)):
            try:
                self.remember_index(pack, data)
            except IntegrityError as e:
                self.bad[pack] = e.message


# ---- push -----------------------------------------------------------------------------
@dataclass
class Stats:
    chunks: int = 0
    bytes: int = 0
    requests: int = 0
    skipped: int = 0
    packs: int = 0
    start_requests: int = field(default=0, repr=False)

    def result(self, storage) -> dict:
        self.requests = storage.requests - self.start_requests
        return {"chunks": self.chunks, "bytes": self.bytes, "requests": self.requests,
                "skipped": self.skipped, "packs": self.packs}


def _unique(chunk_ids) -> tuple[list[str], dict[str, int]]:
    """The distinct ids of ``chunk_ids`` (ids, or (id, size) pairs) in order, and the sizes given."""
    ids, sizes = {}, {}
    for item in chunk_ids:
        if isinstance(item, (tuple, list)):
            cid, n = item
            sizes[check_chunk_id(cid)] = int(n)
        else:
            cid = item
        ids[check_chunk_id(cid)] = None
    return list(ids), sizes


def push_chunks(store, storage, chunk_ids, *, jobs: int = 4, progress=None, verify: bool = False) -> dict:
    """Put every chunk of ``chunk_ids`` the remote lacks; return
    ``{"chunks", "bytes", "requests", "skipped", "packs"}`` (chunks and bytes sent, requests
    made, chunks found present).  Returns only when every object is confirmed written;
    raises (RemoteError, NotFoundError for a chunk the local store lacks) otherwise, having
    remembered what did get confirmed."""
    ids, _ = _unique(chunk_ids)
    stats = Stats(start_requests=storage.requests)
    cache = RemoteCache(store, storage)
    todo = ids if verify else [c for c in ids if c not in cache.present]
    stats.skipped = len(ids) - len(todo)
    if not todo:
        return stats.result(storage)
    sizes = {c: store.stored_size(c) for c in todo}
    small = sorted(c for c in todo if sizes[c] <= PACKED_MAX)  # sorted: a re-run packs the same way
    large = [c for c in todo if sizes[c] > PACKED_MAX]
    with cf.ThreadPoolExecutor(max(1, jobs), thread_name_prefix="mvc-push") as pool:
        if small:
            cache.sync_packs(pool)
            small = _unpacked(cache, storage, small, verify)
        there = list(pool.map(lambda c: storage.exists(chunk_key(c)), large))
        cache.add_present(c for c, t in zip(large, there) if t)
        large = [c for c, t in zip(large, there) if not t]
        stats.skipped += len(todo) - len(small) - len(large)
        plan = _plan_packs(small, sizes)
        if progress is not None:
            progress.expect(sum(sizes[c] for c in large) + sum(sizes[c] for group in plan for c in group))
        uploads = _uploads(store, storage, cache, large, plan)
        _run_bounded(pool, uploads, max(1, jobs) + 1, lambda done: _count_sent(stats, done, progress))
    return stats.result(storage)


def _unpacked(cache: RemoteCache, storage, small: list[str], verify: bool) -> list[str]:
    """The small chunks in no remote pack (``verify``: a pack whose object is gone does not count)."""
    if verify:
        packs = sorted({cache.where[c][0] for c in small if c in cache.where})
        gone = {p for p in packs if not storage.exists(pack_key(p, "pack"))}
    else:
        gone = set()
    present = [c for c in small if c in cache.where and cache.where[c][0] not in gone]
    cache.add_present(present)
    kept = set(present)
    return [c for c in small if c not in kept]


def _plan_packs(small: list[str], sizes: dict[str, int]) -> list[list[str]]:
    plan, group, size = [], [], 0
    for c in small:
        group.append(c)
        size += sizes[c]
        if size >= PACK_TARGET:
            plan.append(group)
            group, size = [], 0
    if group:
        plan.append(group)
    return plan


def _uploads(store, storage, cache, large, plan):
    """(function, args) of each upload, reading the local store on the calling thread."""
    for cid in large:
        data = store.get(cid)  # verified: a damaged local chunk is never sent
        yield _put_chunk, (storage, cache, cid, data)
    for group in plan:
        buf, entries = bytearray(), []
        for cid in group:
            data = _read_small(store, cid)
            entries.append((cid, len(buf), len(data)))
            buf += data
        yield _put_pack, (storage, cache, bytes(buf), entries)


def _read_small(store, cid: str) -> bytes:
    """A small chunk, verified: from its local pack by one ``pread`` where the store's pack
    index places it (as ``copy_out`` reads), else through ``get`` (20,000 failed opens of a
    loose path cost 0.4 s of a 3 s push of 20,000 small files)."""
    packs = getattr(store, "packs", None)
    data = packs.read_known(cid) if packs is not None else None
    if data is not None and chunk_id(data) == cid:
        return data
    return store.get(cid)


def _put_chunk(storage, cache, cid, data):
    storage.put(chunk_key(cid), data)
    cache.add_present((cid,))
    return 1, len(data), 0, len(data)


def _put_pack(storage, cache, buf, entries):
    """The pack, then its index: an index on the remote always has its pack.  Names are
    content hashes, so an existing index of the same name is the same index, unless it
    was damaged: then the chunks go up again in another order (another name)."""
    for turn in range(len(entries)):
        if turn:
            buf, entries = _rotated(buf, entries, turn)
        pack = pack_name(buf)
        index = encode_index(pack, entries)
        if not storage.exists(pack_key(pack, "pack")):  # a push cut between the two left the pack
            storage.put(pack_key(pack, "pack"), buf)
        if storage.put(pack_key(pack, "idx"), index) or storage.get(pack_key(pack, "idx")) == index:
            break
    else:
        raise RemoteError(f"storage {storage.url}: every name of a pack of {len(entries)} chunks holds "
                          "another index", "the remote's packs/ folder is damaged; use another storage prefix")
    cache.remember_index(pack, index)
    cache.add_present(c for c, _, _ in entries)
    return len(entries), len(buf) + len(index), 1, len(buf)


def _rotated(buf: bytes, entries, turn: int):
    """The pack's chunks in another order (starting at its ``turn``-th)."""
    order = entries[turn:] + entries[:turn]
    out, new = bytearray(), []
    for cid, off, n in order:
        new.append((cid, len(out), n))
        out += buf[off:off + n]
    return bytes(out), new


def _count_sent(stats: Stats, done, progress) -> None:
    chunks, nbytes, packs, payload = done
    stats.chunks += chunks
    stats.bytes += nbytes
    stats.packs += packs
    if progress is not None:
        progress(payload)


def _run_bounded(pool, tasks, window: int, on_done) -> None:
    """Run ``tasks`` on ``pool`` with at most ``window`` submitted and unfinished; call
    ``on_done`` with each result on this thread.  The first error cancels what has not
    started and is raised once the running ones end."""
    pending: set = set()
    try:
        for fn, args in tasks:
            pending.add(pool.submit(fn, *args))
            if len(pending) >= window:
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for f in done:
                    on_done(f.result())
        for f in cf.as_completed(pending):
            on_done(f.result())
        pending = set()
    finally:
        for f in pending:
            f.cancel()


# ---- fetch ----------------------------------------------------------------------------
def fetch_chunks(store, storage, chunk_ids, *, jobs: int = 4, progress=None) -> dict:
    """Bring every chunk of ``chunk_ids`` (ids, or (id, size) pairs: sizes let progress
    know its total up front) the store lacks from the remote; return the same counts as
    ``push_chunks``.  Every chunk is hashed against its id on arrival; all enter the store
    in one batch, after the last one checked: an IntegrityError (``.chunk`` names it) or a
    NotFoundError (the remote lacks one) leaves the store as it was."""
    ids, sizes = _unique(chunk_ids)
    stats = Stats(start_requests=storage.requests)
    missing = store.missing(ids)
    stats.skipped = len(ids) - len(missing)
    if not missing:
        return stats.result(storage)
    cache = RemoteCache(store, storage)
    with cf.ThreadPoolExecutor(max(1, jobs), thread_name_prefix="mvc-fetch") as pool:
        cache.load_packs()
        if any(c not in cache.where for c in missing):
            cache.sync_packs(pool)  # packs pushed since this store last looked
        packed = [c for c in missing if c in cache.where]
        loose = [c for c in missing if c not in cache.where]
        ranges = _plan_ranges(cache, packed)
        if progress is not None and all(c in sizes for c in loose):
            progress.expect(sum(n for _, _, n, _ in ranges) + sum(sizes[c] for c in loose))
        tasks = [(_get_range, (storage, pack, start, n, want)) for pack, start, n, want in ranges]
        tasks += [(_get_chunk, (storage, cid, cache)) for cid in loose]
        with store.batch():
            _run_bounded(pool, iter(tasks), max(1, jobs) + 1, lambda done: _store_fetched(store, stats, done, progress))
    return stats.result(storage)


def _plan_ranges(cache: RemoteCache, packed: list[str]):
    """(pack, start, length, [(chunk, offset, size)]) reads covering ``packed``: chunks of one
    pack closer than RANGE_GAP share a read of at most RANGE_MAX bytes."""
    by_pack: dict[str, list[tuple[str, int, int]]] = {}
    for c in packed:
        pack, off, n = cache.where[c]
        by_pack.setdefault(pack, []).append((c, off, n))
    ranges = []
    for pack in sorted(by_pack):
        cur = None
        for c, off, n in sorted(by_pack[pack], key=lambda e: e[1]):
            if cur is not None and off - (cur[0] + cur[1]) <= RANGE_GAP and off + n - cur[0] <= RANGE_MAX \
                    and off >= cur[0]:
                cur[1] = max(cur[1], off + n - cur[0])
                cur[2].append((c, off, n))
            else:
                cur = [off, n, [(c, off, n)]]
                ranges.append((pack, cur))
    return [(pack, start, n, want) for pack, (start, n, want) in ranges]


def _get_range(storage, pack, start, n, want):
    """One read of a pack, split into its chunks, each checked against its id."""
    key = pack_key(pack, "pack")
    data = memoryview(storage.get_range(key, start, n))
    where = f"{storage.url} ({key})"
    out = []
    for cid, off, size in want:
        piece = data[off - start:off - start + size]
        if len(piece) != size:
            raise corrupt(cid, where, f"short body: {len(piece)} of {size} bytes arrived")
        got = chunk_id(piece)
        if got != cid:
            raise corrupt(cid, where, f"its bytes hash to {got}")
        out.append((cid, bytes(piece)))
    return out, len(data)


def _get_chunk(storage, cid, cache):
    key = chunk_key(cid)
    try:
        data = storage.get(key)
    except NotFoundError:
        hint = f"; pack indexes refused: {'; '.join(cache.bad.values())}" if cache.bad else ""
        err = NotFoundError(f"chunk {cid} is not on the remote {storage.url} (neither {key} nor in a pack{hint})",
                            "push the version again from a store that has its bytes")
        err.chunk = cid
        raise err from None
    got = chunk_id(data)
    if got != cid:
        raise corrupt(cid, f"{storage.url} ({key})", f"its {len(data)} bytes hash to {got}")
    return [(cid, data)], len(data)


def _store_fetched(store, stats: Stats, done, progress) -> None:
    chunks, nbytes = done
    for cid, data in chunks:
        store.put(data, cid)
    stats.chunks += len(chunks)
    stats.bytes += nbytes
    if progress is not None:
        progress(nbytes)
