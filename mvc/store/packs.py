"""Pack files: many small chunks in one file, so 20,000 tiny files cost a few
files and a few fsyncs, not 20,000 of each (docs/format.md, "Packs").

    packs/<pack id>.pack   the chunks' bytes, concatenated (pack id: xxh3-128 of these bytes, a name only)
    packs/<pack id>.idx    {"chunks":[["<chunk id>",<offset>,<length>],...],"pack":"<pack id>","v":1}

A pack is visible once its ``.idx`` exists; the ``.pack`` is renamed into place
first.  Deleting a packed chunk rewrites its pack without it (new pack and index
first, then the old index, then the old pack), so a reader always finds every
other chunk in one of them.
"""
from __future__ import annotations

import os
import re

import xxhash

from .. import canonical
from ..errors import IntegrityError
from ..fsutil import AtomicFile, PendingFile

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Iterator

PACK_TARGET = 16 << 20    # a pack is written when its chunks reach this size
PACK_CHUNK_MAX = 128 << 10  # chunks up to this size go into packs (in a batch)
PACK_MIN_CHUNKS = 8        # fewer small chunks than this in a batch are written loose
IDX_VERSION = 1
_ID_RE = re.compile(r"[0-9a-f]{64}")  # chunk ids (BLAKE3); a pack's own id is 32 hex (xxh3-128)


def pack_name(data) -> str:
    """A pack's id: xxh3-128 of its bytes.  A name, never trusted: every chunk read from a
    pack is hashed against its BLAKE3 id, so a collision can only make two packs share a
    name (docs/format.md, "Packs")."""
    return xxhash.xxh3_128_hexdigest(data)


def encode_index(pack_id: str, entries: list[tuple[str, int, int]]) -> bytes:
    return canonical.dumps({"chunks": [list(e) for e in entries], "pack": pack_id, "v": IDX_VERSION})


def decode_index(data: bytes, where: str, pack_id: str | None = None) -> tuple[str, list[tuple[str, int, int]]]:
    """An index's (pack id, entries).  It has no checksum of its own, so it must be
    exactly the canonical encoding of well-formed entries of pack ``pack_id``: a
    flipped byte that still parses (a digit, an id's hex) is caught here or by the
    chunk hashes."""
    try:
        d = canonical.loads(data)
        if d["v"] > IDX_VERSION:
            raise IntegrityError(f"{where} uses pack index format {d['v']}; this mvc knows {IDX_VERSION}")
        pack, entries = d["pack"], [(c, int(o), int(n)) for c, o, n in d["chunks"]]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise IntegrityError(f"{where} is malformed ({e})", "run `mvc fsck`") from None
    if (encode_index(pack, entries) != data or (pack_id is not None and pack != pack_id)
            or not all(_ID_RE.fullmatch(c) and o >= 0 and n >= 0 for c, o, n in entries)):
        raise IntegrityError(f"{where} is damaged: it is not the canonical index of pack {pack_id or pack}",
                             "run `mvc fsck`")
    return pack, entries


class PackIndex:
    """chunk id -> (pack id, offset, length), refreshed when the packs folder changes."""

    def __init__(self, folder: str):
        self.folder = folder
        self._mtime = None
        self._packs: dict[str, list[tuple[str, int, int]]] = {}
        self._where: dict[str, tuple[str, int, int]] = {}
        self.bad: dict[str, str] = {}  # pack id -> why its index was refused (its chunks are unreachable)

    def refresh(self, force: bool = False) -> None:
        try:
            mtime = os.stat(self.folder).st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime == self._mtime and not force:
            return
        self._mtime = mtime
        names = {n[:-4] for n in os.listdir(self.folder) if n.endswith(".idx")} if mtime else set()
        for gone in set(self._packs) - names:
            del self._packs[gone]
        self.bad = {n: why for n, why in self.bad.items() if n in names}
        for new in names - set(self._packs):
            try:
                with open(os.path.join(self.folder, new + ".idx"), "rb") as f:
                    _, entries = decode_index(f.read(), f"pack index {self.path(new, 'idx')}", new)
            except FileNotFoundError:
                continue
            except IntegrityError as e:  # one damaged index must not make every other pack unreadable
                self.bad[new] = e.message
                continue
            self._packs[new] = entries
        self._where = {c: (p, o, n) for p, ents in self._packs.items() for c, o, n in ents}

    def locate(self, cid: str) -> tuple[str, int, int] | None:
        self.refresh()
        return self._where.get(cid)

    def ids(self) -> Iterator[str]:
        self.refresh()
        return iter(list(self._where))

    def path(self, pack_id: str, ext: str) -> str:
        return os.path.join(self.folder, f"{pack_id}.{ext}")

    def read_known(self, cid: str) -> bytes | None:
        """The chunk's bytes (unverified) if the index as last read places it,
        by one ``pread``; None if it does not, or the read comes up short or
        finds the pack gone (``read`` then looks again and names the damage).
        No re-read of the folder: a use of 20,000 small files made ~10 system
        calls per chunk through ``read``, 3 through this."""
        if self._mtime is None:
            self.refresh()
        loc = self._where.get(cid)
        if loc is None:
            return None
        try:
            data = self._read_at(*loc)
        except FileNotFoundError:
            return None
        return data if len(data) == loc[2] else None

    def _read_at(self, pack: str, off: int, n: int) -> bytes:
        """Up to ``n`` bytes of pack ``pack`` at ``off``; FileNotFoundError if it is gone."""
        fd = os.open(self.path(pack, "pack"), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            return os.pread(fd, n, off)
        finally:
            os.close(fd)

    def read(self, cid: str) -> bytes | None:
        """The chunk's bytes from its pack (unverified), or None if no pack holds it."""
        for attempt in (0, 1):
            loc = self.locate(cid) if attempt == 0 else (self.refresh(force=True) or self._where.get(cid))
            if loc is None:
                continue
            pack, off, n = loc
            try:
                data = self._read_at(pack, off, n)
            except FileNotFoundError:
                continue  # rewritten under us: reload the index and look again
            if len(data) != n:  # a length digit flipped up on the last chunk: the short read hashes right
                raise IntegrityError(f"pack index {self.path(pack, 'idx')} is damaged: chunk {cid} at {off}+{n} "
                                     "runs past the end of its pack", "run `mvc fsck`")
            return data
        return None


class PackBuilder:
    """Collects small chunks in memory (bounded by PACK_TARGET) and writes them
    as pending files; the caller syncs and publishes them (pack before index)."""

    def __init__(self, folder: str, tmp: str):
        self.folder, self.tmp = folder, tmp
        self.buf = bytearray()
        self.entries: list[tuple[str, int, int]] = []
        self.where: dict[str, tuple[int, int]] = {}

    def add(self, cid: str, data) -> None:
        self.where[cid] = (len(self.buf), len(data))
        self.entries.append((cid, len(self.buf), len(data)))
        self.buf += data

    def get(self, cid: str) -> bytes | None:
        loc = self.where.get(cid)
        return bytes(self.buf[loc[0]:loc[0] + loc[1]]) if loc else None

    def full(self) -> bool:
        return len(self.buf) >= PACK_TARGET

    def write(self) -> tuple[PendingFile, PendingFile] | None:
        """Write the collected chunks as (pack, index) pending files and start afresh."""
        if not self.entries:
            return None
        pack_id = pack_name(self.buf)
        os.makedirs(self.folder, exist_ok=True)
        made = []
        try:  # a failed write (a full disk) removes its temps here: nobody else holds them yet
            for suffix, data in ((".pack", self.buf), (".idx", encode_index(pack_id, self.entries))):
                made.append(PendingFile(os.path.join(self.folder, pack_id + suffix), self.tmp))
                made[-1].write(data)
        except BaseException:
            for pf in made:
                pf.abort()
            raise
        self.buf, self.entries, self.where = bytearray(), [], {}
        return made[0], made[1]


def rewrite_without(index: PackIndex, cids, tmp: str) -> None:
    """Delete packed chunks: write each pack holding any of ``cids`` again
    without them (once per pack), then drop the old pack."""
    gone = set(cids)
    index.refresh(force=True)
    while packs := {index._where[c][0] for c in gone if c in index._where}:  # a chunk may be in two packs
        for old in sorted(packs):
            _rewrite_pack(index, old, gone, tmp)
        index.refresh(force=True)


def _rewrite_pack(index: PackIndex, old: str, gone: set, tmp: str) -> None:
    """The new pack keeps the old one's mtime: gc's rewrite is no writer's
    freshen, so the chunks left in it keep their age (a freshen made
    meanwhile is read at the last moment and kept)."""
    keep = [(c, o, n) for c, o, n in index._packs.get(old, []) if c not in gone]
    if keep:
        with open(index.path(old, "pack"), "rb") as f:
            blob = f.read()
        buf, entries = bytearray(), []
        for c, o, n in keep:
            entries.append((c, len(buf), n))
            buf += blob[o:o + n]
        new = pack_name(buf)
        ages = [_mtime_ns(index.path(new, "pack"))]  # the same bytes packed before: keep its freshen too
        with AtomicFile(index.path(new, "pack"), tmp_dir=tmp, mode=0o444) as f:
            f.write(buf)
        ages.append(_mtime_ns(index.path(old, "pack")))
        if any(ages):
            os.utime(index.path(new, "pack"), ns=(max(ages),) * 2)
        with AtomicFile(index.path(new, "idx"), tmp_dir=tmp, mode=0o444) as f:
            f.write(encode_index(new, entries))
    for ext in ("idx", "pack"):
        try:
            os.unlink(index.path(old, ext))
        except FileNotFoundError:
            pass


def _mtime_ns(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return 0
