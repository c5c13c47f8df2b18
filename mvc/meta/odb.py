"""Reading git objects in Python: loose files and packs (index v2, offset and ref deltas), each
object checked against its SHA-1 before it is returned.

Why not libgit2: `import pygit2` costs ~60-100 ms of a command's start (its enums, ssl and
libgit2's own start; docs/performance.md, "Start-up"), more than every read a command like
`mvc ls` makes; and libgit2 1.9.7 hangs or crashes on some damaged objects and pack indexes
(docs/design.md), which mvc then had to check in Python before libgit2 saw them anyway.  The
common writes are Python too (mvc/meta/writer.py); pygit2 stays for remotes, repacks and upkeep.

Everything read here is hostile until checked: sizes are bounded by what the header declared,
a delta may not copy outside its base nor chain without end, and an object whose bytes do not
hash to its id is an ``ObjectError``, as is any pack entry that does not parse.  A missing
object is a ``KeyError``.  The objects returned carry the attribute names of pygit2's (``id``,
``type``, ``tree``, ``parents``, ``data``, ``filemode`` ...), and ids are hex strings, which
pygit2's ``Oid`` compares and hashes equal to."""
from __future__ import annotations

import mmap
import os
import struct
import zlib

try:  # CPython's own SHA-1: ~0.3 ms to import, where hashlib loads OpenSSL (~3.5 ms of every start)
    from _sha1 import sha1
except ImportError:  # an interpreter built without it
    from hashlib import sha1

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Callable, Iterator

OBJECT_COMMIT, OBJECT_TREE, OBJECT_BLOB, OBJECT_TAG = 1, 2, 3, 4  # git's (and pygit2's) type numbers
_OFS_DELTA, _REF_DELTA = 6, 7
FILEMODE_TREE, FILEMODE_BLOB, FILEMODE_BLOB_EXECUTABLE, FILEMODE_LINK, FILEMODE_COMMIT = (
    0o040000, 0o100644, 0o100755, 0o120000, 0o160000)
_KIND = {b"commit": OBJECT_COMMIT, b"tree": OBJECT_TREE, b"blob": OBJECT_BLOB, b"tag": OBJECT_TAG}
_NAME = {v: k for k, v in _KIND.items()}
_MODES = {FILEMODE_TREE, FILEMODE_BLOB, FILEMODE_BLOB_EXECUTABLE, FILEMODE_LINK, FILEMODE_COMMIT}

MAX_OBJECT = 1 << 31      # no metadata object comes near this; a header claiming more is damage
MAX_CHAIN = 4096          # deltas on deltas: git's own default depth is 50
_CACHE_BYTES = 16 << 20   # delta bases and parsed objects kept per reader
_HEAD_READ = 4096         # the first read of a pack entry: header and, for most metadata, all of it
_READ = 1 << 16           # each further read of an entry's deflate stream


class ObjectError(ValueError):
    """A git object (or the pack or index holding it) that cannot be read as what it claims;
    ``path`` is the loose object file when the damage is in one."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


def loose_bytes(kind: int, data: bytes) -> bytes:
    """``<type> <size>\\0<data>``: what git hashes to name an object, and zlib-compresses into a
    loose object file (mvc/meta/writer.py)."""
    return b"%s %d\0" % (_NAME[kind], len(data)) + data


def kind_name(kind: int) -> str:
    """``blob``, ``tree``, ``commit`` or ``tag``."""
    return _NAME[kind].decode()


def object_digest(kind: int, data: bytes) -> bytes:
    """The binary SHA-1 git names an object by (mvc/meta/packwriter.py writes packs with it)."""
    return sha1(loose_bytes(kind, data)).digest()


def object_id(kind: int, data: bytes) -> str:
    """The same, in hex: the id every read is checked against."""
    return object_digest(kind, data).hex()


# ---- objects, with pygit2's attribute names ----------------------------------------------------
class Signature:
    """Who and when, as pygit2's: ``time`` in seconds since the epoch, ``offset`` in minutes east of
    UTC (read from a commit here, made for a new one by writer.signature)."""
    __slots__ = ("name", "email", "time", "offset")

    def __init__(self, name: str, email: str, time: int, offset: int):
        self.name, self.email, self.time, self.offset = name, email, time, offset

    def __repr__(self) -> str:
        return f"Signature({self.name!r}, {self.email!r}, {self.time}, {self.offset})"


class Object:
    __slots__ = ("id", "_db", "_raw")
    type: int = 0

    def __init__(self, oid: str, raw: bytes, db: "ObjectDB"):
        self.id, self._raw, self._db = oid, raw, db

    @property
    def type_str(self) -> str:
        return kind_name(self.type)

    def read_raw(self) -> bytes:
        return self._raw

    def __eq__(self, other) -> bool:
        return isinstance(other, Object) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"


class Blob(Object):
    __slots__ = ()
    type = OBJECT_BLOB

    @property
    def data(self) -> bytes:
        return self._raw

    @property
    def size(self) -> int:
        return len(self._raw)


class TreeEntry:
    """One entry of a tree: what pygit2 yields when a tree is iterated or indexed."""
    __slots__ = ("name", "id", "filemode")

    def __init__(self, name: str, oid: str, filemode: int):
        self.name, self.id, self.filemode = name, oid, filemode

    @property
    def type(self) -> int:
        if self.filemode == FILEMODE_TREE:
            return OBJECT_TREE
        return OBJECT_COMMIT if self.filemode == FILEMODE_COMMIT else OBJECT_BLOB

    @property
    def type_str(self) -> str:
        return kind_name(self.type)

    def __repr__(self) -> str:
        return f"<TreeEntry {self.filemode:o} {self.name} {self.id}>"


class Tree(Object):
    __slots__ = ("_entries", "_by_name")
    type = OBJECT_TREE

    def __init__(self, oid: str, raw: bytes, db: "ObjectDB"):
        super().__init__(oid, raw, db)
        self._entries = _parse_tree(raw, oid)
        self._by_name = {e.name: e for e in self._entries}

    def __iter__(self) -> Iterator[TreeEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, path: str) -> TreeEntry:
        """The entry at ``path`` ('/'-separated, as pygit2 allows); KeyError if there is none."""
        head, _, rest = path.partition("/")
        entry = self._by_name[head]
        if not rest:
            return entry
        if entry.type != OBJECT_TREE:
            raise KeyError(path)
        return self._db.get(entry.id, OBJECT_TREE)[rest]

    def __contains__(self, path: str) -> bool:
        try:
            self[path]
        except KeyError:
            return False
        return True


class Commit(Object):
    __slots__ = ("tree_id", "parent_ids", "author", "committer", "raw_message", "message")
    type = OBJECT_COMMIT

    def __init__(self, oid: str, raw: bytes, db: "ObjectDB"):
        super().__init__(oid, raw, db)
        head, message = _split_headers(raw, oid)
        trees, parents = head.get(b"tree", []), head.get(b"parent", [])
        if len(trees) != 1 or len(head.get(b"author", [])) != 1 or len(head.get(b"committer", [])) != 1:
            raise ObjectError(f"commit {oid} does not have one tree, one author and one committer")
        self.tree_id = _hex(trees[0], oid)
        self.parent_ids = [_hex(p, oid) for p in parents]
        self.author = _signature(head[b"author"][0], oid)
        self.committer = _signature(head[b"committer"][0], oid)
        self.raw_message = message
        self.message = message.decode("utf-8", "replace")

    @property
    def tree(self) -> Tree:
        return self._db.get(self.tree_id, OBJECT_TREE)

    @property
    def parents(self) -> list["Commit"]:
        return [self._db.get(p, OBJECT_COMMIT) for p in self.parent_ids]

    @property
    def commit_time(self) -> int:
        return self.committer.time

    @property
    def commit_time_offset(self) -> int:
        return self.committer.offset


class Tag(Object):
    __slots__ = ("target", "name", "message")
    type = OBJECT_TAG

    def __init__(self, oid: str, raw: bytes, db: "ObjectDB"):
        super().__init__(oid, raw, db)
        head, message = _split_headers(raw, oid)
        if len(head.get(b"object", [])) != 1:
            raise ObjectError(f"tag {oid} does not name one object")
        self.target = _hex(head[b"object"][0], oid)
        self.name = b"".join(head.get(b"tag", [b""])[:1]).decode("utf-8", "replace")
        self.message = message.decode("utf-8", "replace")


_CLASSES = {OBJECT_COMMIT: Commit, OBJECT_TREE: Tree, OBJECT_BLOB: Blob, OBJECT_TAG: Tag}


def _hex(value: bytes, oid: str) -> str:
    if len(value) != 40 or value.strip(b"0123456789abcdef"):
        raise ObjectError(f"object {oid} names {value[:48]!r}, not a 40-digit object id")
    return value.decode()


def _split_headers(raw: bytes, oid: str) -> tuple[dict[bytes, list[bytes]], bytes]:
    """The header lines of a commit or tag (continuation lines, as in gpgsig, folded into the
    one before) and the message after the blank line."""
    head_text, sep, message = raw.partition(b"\n\n")
    if not sep and not raw.endswith(b"\n"):
        head_text, message = raw, b""
    head: dict[bytes, list[bytes]] = {}
    last: list[bytes] | None = None
    for line in head_text.split(b"\n"):
        if line.startswith(b" ") and last is not None:
            last[-1] += b"\n" + line[1:]
            continue
        key, space, value = line.partition(b" ")
        if not space or not key:
            raise ObjectError(f"object {oid} has a header line {line[:48]!r} that is not '<key> <value>'")
        last = head.setdefault(key, [])
        last.append(value)
    return head, message


def _signature(value: bytes, oid: str) -> Signature:
    """``Name <email> 1700000000 +0100``."""
    lt, gt = value.find(b"<"), value.rfind(b">")
    parts = value[gt + 1:].split()
    try:
        if lt < 0 or gt < lt or len(parts) != 2:
            raise ValueError
        when, tz = int(parts[0]), parts[1]
        sign = -1 if tz[:1] == b"-" else 1
        offset = sign * (int(tz[-4:-2]) * 60 + int(tz[-2:]))
    except ValueError:
        raise ObjectError(f"object {oid} has a signature {value[:60]!r} that does not parse") from None
    return Signature(value[:lt].strip().decode("utf-8", "replace"), value[lt + 1:gt].decode("utf-8", "replace"),
                     when, offset)


def _parse_tree(raw: bytes, oid: str) -> list[TreeEntry]:
    """``<octal mode> <name>\\0<20-byte id>`` repeated; a name is never empty, '.', '..' or
    holds '/' (git's own fsck rules; mvc/paths.py checks names again where they become paths)."""
    out, at, n = [], 0, len(raw)
    while at < n:
        sp = raw.find(b" ", at, at + 8)
        nul = raw.find(b"\0", sp + 1) if sp > 0 else -1
        if sp < 0 or nul < 0 or nul + 21 > n:
            raise ObjectError(f"tree {oid} is truncated or damaged at byte {at}")
        try:
            mode = int(raw[at:sp], 8)
        except ValueError:
            raise ObjectError(f"tree {oid} has a mode {raw[at:sp]!r} that is not octal") from None
        name = raw[sp + 1:nul]
        if mode not in _MODES or not name or name in (b".", b"..") or b"/" in name:
            raise ObjectError(f"tree {oid} has an entry {name[:60]!r} with mode {raw[at:sp]!r} git never writes")
        out.append(TreeEntry(name.decode("utf-8", "surrogateescape"), raw[nul + 1:nul + 21].hex(), mode))
        at = nul + 21
    return out


# ---- the object database ------------------------------------------------------------------
class Pack:
    """One pack and its index v2 (checked sound before it gets here: ``MetaRepo.pack_problems``)."""

    def __init__(self, idx_path: str):
        self.fd = -1
        with open(idx_path, "rb") as f:  # mapped, not read: a lookup touches a few pages of it
            self.idx = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(f.fileno()).st_size else b""
        if self.idx[:8] != b"\377tOc\0\0\0\2" or len(self.idx) < 8 + 1024 + 40:
            raise ObjectError(f"{idx_path} is not a git pack index v2")
        self.fanout = struct.unpack(">256I", self.idx[8:8 + 1024])
        self.count = self.fanout[255]
        self.names_at = 8 + 1024
        self.small_at = self.names_at + 24 * self.count
        self.large_at = self.small_at + 4 * self.count
        if self.large_at + 40 > len(self.idx):
            raise ObjectError(f"{idx_path} is shorter than its {self.count} objects need")
        self.path = idx_path[:-4] + ".pack"
        self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self.size = os.fstat(self.fd).st_size

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if isinstance(self.idx, mmap.mmap):
            self.idx.close()

    def __del__(self):
        self.close()

    def offset(self, raw: bytes) -> int | None:
        """Where the object ``raw`` (20 bytes) starts in the pack, or None."""
        first = raw[0]
        lo = self.fanout[first - 1] if first else 0
        hi = self.fanout[first]
        idx, at = self.idx, self.names_at
        while lo < hi:
            mid = (lo + hi) // 2
            name = idx[at + 20 * mid:at + 20 * mid + 20]
            if name < raw:
                lo = mid + 1
            elif name > raw:
                hi = mid
            else:
                (off,) = struct.unpack_from(">I", idx, self.small_at + 4 * mid)
                if off & 0x80000000:
                    (off,) = struct.unpack_from(">Q", idx, self.large_at + 8 * (off & 0x7FFFFFFF))
                return off
        return None

    def header(self, offset: int) -> tuple[int, int, int, bytes, int | bytes | None]:
        """(type, size, where its deflate stream starts, the bytes read, base) of the entry at
        ``offset``; base is the base's offset (offset delta), id (ref delta) or None."""
        if not 12 <= offset < self.size - 20:
            raise ObjectError(f"pack {self.path}: an entry offset {offset} lies outside the pack")
        buf = os.pread(self.fd, _HEAD_READ, offset)
        try:
            c = buf[0]
            kind, size, shift, i = (c >> 4) & 7, c & 15, 4, 1
            while c & 0x80:
                c = buf[i]
                size |= (c & 0x7F) << shift
                shift, i = shift + 7, i + 1
                if shift > 70:
                    raise IndexError
            base: int | bytes | None = None
            if kind == _OFS_DELTA:
                c = buf[i]
                back, i = c & 0x7F, i + 1
                while c & 0x80:
                    c = buf[i]
                    back, i = ((back + 1) << 7) | (c & 0x7F), i + 1
                    if back > offset:
                        raise IndexError
                base = offset - back
                if not 12 <= base < offset:
                    raise ObjectError(f"pack {self.path}: the entry at {offset} names a base at {base}")
            elif kind == _REF_DELTA:
                base, i = bytes(buf[i:i + 20]), i + 20
                if len(base) != 20:
                    raise IndexError
            elif kind not in _NAME:
                raise ObjectError(f"pack {self.path}: the entry at {offset} has type {kind}, which git never writes")
        except IndexError:
            raise ObjectError(f"pack {self.path}: the entry header at {offset} is truncated") from None
        if size > MAX_OBJECT:
            raise ObjectError(f"pack {self.path}: the entry at {offset} claims {size} bytes")
        return kind, size, offset + i, buf[i:], base

    def inflate(self, start: int, have: bytes, size: int) -> bytes:
        """Exactly ``size`` bytes of the deflate stream at ``start`` (``have`` its first bytes)."""
        d, out, at = zlib.decompressobj(), [], start + len(have)
        got, data = 0, have
        try:
            while True:
                piece = d.decompress(data, size + 1 - got)
                out.append(piece)
                got += len(piece)
                if d.eof or got > size:
                    break
                data = d.unconsumed_tail
                if not data:
                    if at >= self.size - 20:
                        break
                    data = os.pread(self.fd, max(_READ, min(size - got, 1 << 24)), at)
                    at += len(data)
        except zlib.error as e:
            raise ObjectError(f"pack {self.path}: the entry at {start} does not inflate ({e})") from None
        if not d.eof or got != size:
            raise ObjectError(f"pack {self.path}: the entry at {start} inflates to {got} bytes, "
                              f"not the {size} its header gives")
        return b"".join(out)


def apply_delta(base: bytes, delta: bytes, where: str) -> bytes:
    """git's delta: the base's size, the result's size, then copy (from the base) and insert ops."""
    def varint(at: int) -> tuple[int, int]:
        value, shift = 0, 0
        while True:
            c = delta[at]
            value |= (c & 0x7F) << shift
            at, shift = at + 1, shift + 7
            if not c & 0x80:
                return value, at
            if shift > 63:
                raise IndexError

    try:
        src, at = varint(0)
        dst, at = varint(at)
        if src != len(base) or dst > MAX_OBJECT:
            raise ObjectError(f"{where}: a delta for a {src}-byte base applied to {len(base)} bytes")
        out, n = [], len(delta)
        while at < n:
            op = delta[at]
            at += 1
            if op & 0x80:
                off = size = 0
                for bit in range(4):
                    if op & (1 << bit):
                        off |= delta[at] << (8 * bit)
                        at += 1
                for bit in range(3):
                    if op & (0x10 << bit):
                        size |= delta[at] << (8 * bit)
                        at += 1
                size = size or 0x10000
                if off + size > len(base):
                    raise ObjectError(f"{where}: a delta copies past the end of its base")
                out.append(base[off:off + size])
            elif op:
                if at + op > n:
                    raise IndexError
                out.append(delta[at:at + op])
                at += op
            else:
                raise ObjectError(f"{where}: a delta holds the reserved op 0")
    except IndexError:
        raise ObjectError(f"{where}: a delta is truncated") from None
    result = b"".join(out)
    if len(result) != dst:
        raise ObjectError(f"{where}: a delta builds {len(result)} bytes, not the {dst} it declares")
    return result


def read_loose_file(path: str) -> bytes | None:
    """The bytes of a loose object file, None if there is none."""
    try:
        with open(path, "rb", buffering=0) as f:
            return f.readall()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise ObjectError(f"object file {path} cannot be read ({e.strerror or e})", path) from None


def parse_loose(data: bytes) -> tuple[int, bytes, None] | tuple[None, None, str]:
    """(type, body, None) of a loose object file's bytes, or (None, None, what is wrong): its
    zlib stream must start with ``<type> <size>\\0`` in git's spelling, inflate to exactly that
    size (never more is inflated: a bomb costs nothing) and end inside the file with nothing
    after it (libgit2 1.9.7 looped forever on a stream that did not: docs/design.md)."""
    d = zlib.decompressobj()
    try:
        head = d.decompress(data, 64)
        nul = head.find(b"\0")
        if nul < 0 and not d.eof and not d.unconsumed_tail:  # the stream stops inside its header
            return None, None, "its deflate stream does not end inside the file (truncated or damaged)"
        kind, _, size = head[:nul].partition(b" ")
        if nul < 0 or kind not in _KIND or not size.isdigit() or size != b"%d" % int(size) or int(size) > MAX_OBJECT:
            return None, None, f"its header {head[:40]!r} does not give a git type and size"
        want, body = int(size), head[nul + 1:]
        if len(body) <= want:  # max_length 0 would mean no bound
            body += d.decompress(d.unconsumed_tail, want + 1 - len(body))
    except zlib.error as e:
        return None, None, f"its deflate stream is damaged ({e})"
    if len(body) > want:
        return None, None, f"its body is longer than the {want} bytes its header gives"
    if not d.eof:
        return None, None, "its deflate stream does not end inside the file (truncated or damaged)"
    if d.unused_data:
        return None, None, f"{len(d.unused_data)} bytes of garbage follow its deflate stream"
    if len(body) != want:
        return None, None, f"its body is {len(body)} bytes, not the {want} its header gives"
    return _KIND[kind], body, None


class ObjectDB:
    """The objects of ``objects_dir``: packs first, then loose files.  ``packs`` gives the
    index paths allowed to be read (checked sound); it is asked again when an object is not
    found, as a writer may have packed it since."""

    def __init__(self, objects_dir: str, packs: Callable[[], list[str]]):
        self.dir = objects_dir
        self._list_packs = packs
        self._packs: dict[str, Pack] = {}
        self._last: Pack | None = None  # the pack of the last hit
        self._listed = False
        self._cache: dict[str, Object] = {}
        self._cache_bytes = 0
        self._bases: dict[tuple[str, int], tuple[int, bytes]] = {}

    def close(self) -> None:
        packs, self._packs, self._listed, self._last = self._packs, {}, False, None
        for p in packs.values():
            p.close()

    def forget(self) -> None:
        """Drop every object read so far: the next read of each goes to the disk again."""
        self._cache.clear()
        self._cache_bytes = 0
        self._bases.clear()

    def refresh(self) -> None:
        """Look for packs again: new ones are opened, gone ones dropped (closed when the last
        reader lets go of them: another thread may be reading one).  The table is replaced
        whole, so a reader on another thread always iterates a complete one."""
        wanted = set(self._list_packs())
        packs = {path: pack for path, pack in self._packs.items() if path in wanted}
        for path in sorted(wanted - set(packs)):
            try:
                packs[path] = Pack(path)
            except FileNotFoundError:  # removed by a repack since it was listed
                continue
            except OSError as e:
                raise ObjectError(f"git pack {path} cannot be read ({e.strerror or e})") from None
        self._packs = packs
        if self._last is not None and self._last.path not in packs:
            self._last = None
        self._listed = True

    def get(self, oid: str, kind: int | None = None) -> Object:
        """The object ``oid`` (a hex id), parsed; KeyError if absent, ObjectError if damaged or
        (with ``kind``) not of that type."""
        oid = str(oid)
        obj = self._cache.get(oid)
        if obj is None:
            t, raw = self.read(oid)
            obj = _CLASSES[t](oid, raw, self)
            self._remember(oid, obj, len(raw))
        if kind is not None and obj.type != kind:
            raise ObjectError(f"object {oid} is a {obj.type_str}, not a {kind_name(kind)}")
        return obj

    def _remember(self, oid: str, obj: Object, size: int) -> None:
        if size > _CACHE_BYTES // 4:
            return
        if self._cache_bytes + size > _CACHE_BYTES:
            self._cache.clear()
            self._cache_bytes = 0
        self._cache[oid] = obj
        self._cache_bytes += size

    def read(self, oid: str) -> tuple[int, bytes]:
        """(type, bytes) of ``oid``, checked against its id."""
        if len(oid) != 40 or oid.strip("0123456789abcdef"):
            raise ObjectError(f"{oid!r} is not a full git object id")
        raw = bytes.fromhex(oid)
        if not self._listed:
            self.refresh()
        found, loose = self._from_packs(oid, raw), False
        if found is None:
            found = self._loose(oid)
            loose = found is not None
        if found is None:
            self.refresh()
            found = self._from_packs(oid, raw)
        if found is None:
            found = self._loose(oid)
            loose = found is not None
        if found is None:
            raise KeyError(oid)
        kind, data = found
        if object_id(kind, data) != oid:
            if loose:
                path = os.path.join(self.dir, oid[:2], oid[2:])
                raise ObjectError(f"object file {path} is damaged: the SHA-1 of its content is not its name", path)
            raise ObjectError(f"object {oid}: the SHA-1 of its content is not its id")
        return kind, data

    def _from_packs(self, oid: str, raw: bytes) -> tuple[int, bytes] | None:
        located = self._locate(raw)
        return self._entry(*located, oid) if located is not None else None

    def _loose(self, oid: str) -> tuple[int, bytes] | None:
        path = os.path.join(self.dir, oid[:2], oid[2:])
        data = read_loose_file(path)
        if data is None:
            return None
        kind, body, why = parse_loose(data)
        if why is not None:
            raise ObjectError(f"object file {path} is damaged: {why}", path)
        return kind, body

    def _entry(self, pack: Pack, offset: int, what: str) -> tuple[int, bytes]:
        """The object at ``offset`` of ``pack``, its delta chain (if any) resolved."""
        chain: list[tuple[Pack, int, int, int, bytes]] = []  # deltas, newest first
        seen = set()
        while True:
            cached = self._bases.get((pack.path, offset))
            if cached is not None:
                kind, data = cached
                break
            kind, size, start, have, base = pack.header(offset)
            if base is None:
                data = pack.inflate(start, have, size)
                self._keep_base(pack, offset, kind, data, bool(chain))
                break
            chain.append((pack, offset, start, size, have))
            if len(chain) > MAX_CHAIN or (pack.path, offset) in seen:
                raise ObjectError(f"object {what}: its delta chain in {pack.path} loops or runs past {MAX_CHAIN}")
            seen.add((pack.path, offset))
            if isinstance(base, int):
                offset = base
                continue
            located = self._locate(base)
            if located is None:  # a ref delta on a loose object, or on nothing
                kind, data = self.read(base.hex())
                break
            pack, offset = located
        for dpack, doff, start, size, have in reversed(chain):
            delta = dpack.inflate(start, have, size)
            data = apply_delta(data, delta, f"object {what} ({dpack.path} at {doff})")
            self._keep_base(dpack, doff, kind, data, True)
        return kind, data

    def pack_path(self, oid: str) -> str | None:
        """The file of the pack holding ``oid`` (a hex id), or None: where a writer freshens an
        object it finds packed (mvc/meta/writer.py)."""
        located = self._locate(bytes.fromhex(oid))
        return located[0].path if located is not None else None

    def _locate(self, raw: bytes) -> tuple[Pack, int] | None:
        """The pack holding ``raw`` and where, the pack of the last hit tried first (as libgit2
        does): the objects of one version sit in one pack, and a store may have dozens."""
        last = self._last
        if last is not None:
            off = last.offset(raw)
            if off is not None:
                return last, off
        for pack in self._packs.values():
            if pack is not last:
                off = pack.offset(raw)
                if off is not None:
                    self._last = pack
                    return pack, off
        return None

    def _keep_base(self, pack: Pack, offset: int, kind: int, data: bytes, wanted: bool) -> None:
        """Delta bases are read again by their neighbours: keep the recent ones (bounded)."""
        if not wanted or len(data) > _CACHE_BYTES // 8:
            return
        if len(self._bases) > 256:
            self._bases.clear()
        self._bases[(pack.path, offset)] = (kind, data)
