"""Write many git objects as one packfile (docs/format.md, "Git packs of a log").

libgit2 writes each loose object with its own fsync (~0.6 ms or more apiece), so a
version of 20,000 files spent most of its log writing pointer blobs.  A log that
makes many objects writes them instead as one pack v2 with its index v2, each
through the atomic-write helper (temp -> fsync -> rename; the .pack before the
.idx, which is what makes the pack visible).  libgit2 re-scans objects/pack on a
lookup miss, so the objects are usable as soon as the .idx is renamed into place.

    pack: "PACK", u32 version 2, u32 count; per object a type/size varint header
          and the zlib-deflated body (no deltas); SHA-1 of everything before it
    idx:  "\\377tOc", u32 version 2, fanout[256], sorted SHA-1s, CRC32 of each
          object's packed bytes, u32 offsets (MSB set -> index into u64 offsets),
          u64 offsets, the pack's SHA-1, SHA-1 of everything before it
"""
from __future__ import annotations

import os
import struct
import zlib

from ..errors import StorageFullError
from ..fsutil import AtomicFile
from .odb import OBJECT_BLOB as OBJ_BLOB, OBJECT_COMMIT as OBJ_COMMIT, OBJECT_TREE as OBJ_TREE  # noqa: F401
from .odb import object_digest as object_id, sha1

MODE_BLOB, MODE_TREE = b"100644", b"40000"


def _header(kind: int, size: int) -> bytes:
    out = bytearray()
    byte = (kind << 4) | (size & 0x0F)
    size >>= 4
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


STORED_BELOW = 1024  # objects smaller than this are stored, not compressed (``deflate``)


def deflate(data: bytes) -> bytes:
    """The zlib stream of an object: level 1, or for a small object (a pointer
    blob, ~170 bytes) one stored block, as git writes with core.compression=0.
    ``zlib.compress`` sets up ~270 KiB of state per call, which cost 12-88 us
    a call here depending on the allocator's state, against ~1.4 us for the
    stored block; a log of 20,000 files makes 20,000 pointer blobs.  The
    price: ~50 bytes more per blob (180 against ~129)."""
    if len(data) >= STORED_BELOW:
        return zlib.compress(data, 1)
    return (b"\x78\x01\x01" + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data
            + struct.pack(">I", zlib.adler32(data)))  # zlib header, final stored block, Adler-32


class PackBuilder:
    """Collects objects (deduplicated by id), then writes the pack and its index."""

    def __init__(self):
        self.objects: dict[bytes, tuple[int, bytes]] = {}

    def add(self, kind: int, data: bytes) -> bytes:
        oid = object_id(kind, data)
        self.objects.setdefault(oid, (kind, data))
        return oid

    def add_tree(self, entries: dict[str, tuple[bytes, bytes]]) -> bytes:
        """A tree from name -> (mode, binary id), in git's order (a folder sorts as 'name/')."""
        def key(name: str) -> bytes:
            n = name.encode()
            return n + b"/" if entries[name][0] == MODE_TREE else n
        body = b"".join(entries[n][0] + b" " + n.encode() + b"\0" + entries[n][1] for n in sorted(entries, key=key))
        return self.add(OBJ_TREE, body)

    def pack_bytes(self) -> tuple[bytes, list[tuple[bytes, int, int]]]:
        """The pack file and (id, offset, crc32) of each object."""
        parts = [b"PACK" + struct.pack(">II", 2, len(self.objects))]
        offset, rows = len(parts[0]), []
        for oid, (kind, data) in self.objects.items():
            packed = _header(kind, len(data)) + deflate(data)
            rows.append((oid, offset, zlib.crc32(packed)))
            parts.append(packed)
            offset += len(packed)
        body = b"".join(parts)
        return body + sha1(body).digest(), rows

    def write(self, objects_dir: str) -> str | None:
        """Write ``objects/pack/pack-<sha>.pack`` and ``.idx``; return the pack's path (None if empty)."""
        if not self.objects:
            return None
        pack, rows = self.pack_bytes()
        name = "pack-" + pack[-20:].hex()
        folder = os.path.join(objects_dir, "pack")
        os.makedirs(folder, exist_ok=True)
        base = os.path.join(folder, name)
        if os.path.exists(base + ".idx"):
            return base + ".pack"  # the same objects are already packed
        for suffix, data in ((".pack", pack), (".idx", index_bytes(rows, pack[-20:]))):
            with AtomicFile(base + suffix, mode=0o444) as f:
                f.write(data)
        return base + ".pack"


def index_bytes(rows: list[tuple[bytes, int, int]], pack_sha: bytes) -> bytes:
    """The .idx (version 2) of a pack whose objects are ``rows`` of (id, offset, crc32)."""
    rows = sorted(rows)
    fanout, i = [], 0
    for b in range(256):
        while i < len(rows) and rows[i][0][0] <= b:
            i += 1
        fanout.append(i)
    small, large = [], []
    for _, off, _ in rows:
        if off < 0x80000000:
            small.append(off)
        else:
            small.append(0x80000000 | len(large))
            large.append(off)
    body = b"".join([b"\377tOc", struct.pack(">I", 2), struct.pack(">256I", *fanout),
                     b"".join(r[0] for r in rows), struct.pack(f">{len(rows)}I", *(r[2] for r in rows)),
                     struct.pack(f">{len(small)}I", *small), struct.pack(f">{len(large)}Q", *large), pack_sha])
    return body + sha1(body).digest()


def pack_files_tree(objects_dir: str, files: dict[str, bytes]) -> bytes:
    """Write ``files`` ('/'-separated path -> blob bytes) and the folders holding them as one
    pack; return the binary id of the root tree.  ``files`` must not be empty."""
    pb = PackBuilder()
    root: dict = {}
    for path, data in files.items():
        *dirs, leaf = path.split("/")
        node = root
        for d in dirs:
            node = node.setdefault(d, {})
        node[leaf] = pb.add(OBJ_BLOB, data)
    oid = _add_folder(pb, root)
    pb.write(objects_dir)
    return oid


def _add_folder(pb: PackBuilder, node: dict) -> bytes:
    entries = {}
    for name, child in node.items():
        entries[name] = (MODE_TREE, _add_folder(pb, child)) if isinstance(child, dict) else (MODE_BLOB, child)
    return pb.add_tree(entries)


# ---- checking a pack before libgit2 reads it ---------------------------------------
def index_problem(idx_path: str) -> str | None:
    """Why the index v2 at ``idx_path`` (and its pack) must not be handed to libgit2, or None.

    libgit2 (1.9.7) trusts an index's object offsets: one pointing past the end of its pack
    spins forever in its window cache, crashes the process or fails with "failed to close
    memory window" (bench/git_pack_flips.py).  So every index must carry its own SHA-1, list
    offsets inside its pack (before the trailer) and name its pack by that pack's SHA-1
    trailer.  Reads the whole index (28 bytes an object) and the pack's last 20 bytes."""
    try:
        with open(idx_path, "rb") as f:
            idx = f.read()
        pack_path = idx_path[:-4] + ".pack"
        pack_size = os.path.getsize(pack_path)
        with open(pack_path, "rb") as f:
            f.seek(max(0, pack_size - 20))
            pack_sha = f.read(20)
    except OSError as e:
        return f"cannot read it or its pack ({e.strerror or e})"
    return _index_bytes_problem(idx, pack_size, pack_sha)


def _index_bytes_problem(idx: bytes, pack_size: int, pack_sha: bytes) -> str | None:
    if len(idx) < 8 + 1024 + 40 or idx[:8] != b"\377tOc" + struct.pack(">I", 2):
        return "it is not a git pack index v2"
    if sha1(idx[:-20]).digest() != idx[-20:]:
        return "its SHA-1 checksum does not match its bytes"
    n = struct.unpack(">I", idx[8 + 255 * 4:8 + 256 * 4])[0]
    at = 8 + 1024 + 24 * n
    large = len(idx) - 40 - (at + 4 * n)
    if large < 0 or large % 8:
        return "its size does not match its object count"
    small = struct.unpack(f">{n}I", idx[at:at + 4 * n])
    offsets = list(struct.unpack(f">{large // 8}Q", idx[at + 4 * n:at + 4 * n + large]))
    if n and max(small) & 0x80000000:  # some offsets are in the 64-bit table
        if any(o & 0x80000000 and (o & 0x7FFFFFFF) >= large // 8 for o in small):
            return "a large offset is out of its table"
        small = [o for o in small if not o & 0x80000000]
    offsets += small
    if offsets and (min(offsets) < 12 or max(offsets) >= pack_size - 20):
        return f"an object offset lies outside its pack ({pack_size} bytes)"
    if idx[-40:-20] != pack_sha:
        return "it names a different pack than the one beside it (the pack's SHA-1 trailer differs)"
    return None


CHECKED_FILE = "git-packs-checked"  # in the store: "<idx name> <stat of idx> <stat of pack>" per line


def _stat_key(idx_path: str) -> str:
    a, b = os.stat(idx_path), os.stat(idx_path[:-4] + ".pack")
    return " ".join(str(x) for st in (a, b) for x in (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns))


def checked_before(store: str) -> dict[str, str]:
    """idx name -> stat key of the indexes (and packs) found sound before, unchanged since."""
    try:
        with open(os.path.join(store, CHECKED_FILE), encoding="ascii", errors="replace") as f:
            rows = [line.rstrip("\n").split(" ", 1) for line in f]
    except OSError:
        return {}
    return {r[0]: r[1] for r in rows if len(r) == 2}


def remember_checked(store: str, keys: dict[str, str]) -> None:
    """Record sound indexes (best effort: a lost record only costs a re-check)."""
    try:
        tmp = os.path.join(store, "tmp")  # where gc clears temps a killed writer left
        with AtomicFile(os.path.join(store, CHECKED_FILE), tmp_dir=tmp if os.path.isdir(tmp) else None,
                        durable=False) as f:
            f.write("".join(f"{n} {k}\n" for n, k in sorted(keys.items())).encode())
    except (OSError, StorageFullError):
        pass
