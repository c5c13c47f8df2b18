"""Loose git objects are read here, never by libgit2 (docs/reliability.md, "the loose-object hang").

libgit2 1.9.7 inflates a loose object in a loop that treats zlib's "no input left" as progress:
a damaged object whose deflate stream neither ends nor yields the bytes asked for (a flipped bit
in a small object does it) spins forever.  This backend replaces libgit2's loose backend, after its pack
backend (whose indexes MetaRepo checks): it inflates each loose object in Python, requires the stream to end, the header to
name a known type and the SHA-1 of what it inflates to to be the object's id, and raises for a
damaged one, so libgit2's own loose reader never sees it.  Writes go through libgit2's loose backend (fsynced).
"""
from __future__ import annotations

import hashlib
import os
import zlib

import pygit2

_TYPES = {b"commit": pygit2.GIT_OBJECT_COMMIT, b"tree": pygit2.GIT_OBJECT_TREE,
          b"blob": pygit2.GIT_OBJECT_BLOB, b"tag": pygit2.GIT_OBJECT_TAG}


def inflate_loose(raw: bytes, hexid: str) -> tuple[int, bytes]:
    """(type, body) of a loose object file's bytes; ValueError if they are not object ``hexid``."""
    z = zlib.decompressobj()
    try:
        out = z.decompress(raw)
    except zlib.error as e:
        raise ValueError(f"loose object {hexid} is damaged ({e})") from None
    if not z.eof or z.unused_data or hashlib.sha1(out).hexdigest() != hexid:
        raise ValueError(f"loose object {hexid} is damaged (its bytes do not inflate to the object)")
    head, _, body = out.partition(b"\0")
    kind, _, size = head.partition(b" ")
    if kind not in _TYPES or size != str(len(body)).encode():
        raise ValueError(f"loose object {hexid} is damaged (bad header)")
    return _TYPES[kind], body


class SafeLoose(pygit2.OdbBackend):
    def __init__(self, objects: str):
        super().__init__()
        self.objects = objects
        self.writer = pygit2.Odb()
        self.writer.add_backend(pygit2.OdbBackendLoose(objects, -1, True), 1)

    def _read(self, hexid: str) -> tuple[int, bytes]:
        try:
            with open(os.path.join(self.objects, hexid[:2], hexid[2:]), "rb") as f:
                raw = f.read()
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(hexid) from None  # not loose: the pack backend looks next
        return inflate_loose(raw, hexid)

    def read_cb(self, oid):
        return self._read(str(oid))

    def read_header_cb(self, oid):
        kind, body = self._read(str(oid))
        return kind, len(body)

    def read_prefix_cb(self, hexid: str):
        if len(hexid) != 40:
            raise KeyError(hexid)  # mvc names objects in full; short prefixes resolve through the packs
        kind, body = self._read(hexid)
        return kind, body, pygit2.Oid(hex=hexid)

    def exists_cb(self, oid):
        h = str(oid)
        return os.path.exists(os.path.join(self.objects, h[:2], h[2:]))

    def exists_prefix_cb(self, hexid: str):
        if len(hexid) != 40 or not self.exists_cb(hexid):
            raise KeyError(hexid)
        return pygit2.Oid(hex=hexid)

    def refresh_cb(self):
        pass

    def write_cb(self, oid, data, kind):
        self.writer.write(kind, data)


def install(repo: pygit2.Repository, path: str) -> None:
    """Give ``repo`` an object database that reads loose objects through SafeLoose."""
    objects = os.path.join(path, "objects")
    odb = pygit2.Odb()
    odb.add_backend(pygit2.OdbBackendPack(objects), 3)  # first, as in libgit2: packed objects never reach Python
    odb.add_backend(SafeLoose(objects), 2)
    repo.set_odb(odb)
