"""Pointer blobs: one per file of a version, in the canonical JSON encoding.

    {"chunks":[["<chunk id>",<size>],...],"digest":"blake3:<hex>","exec":false,"size":<n>,"v":1}
    {"digest":"blake3:<hex>","ref":"file:///abs/path","size":<n>,"v":1}      (a reference)

A chunk id is 64 hex digits (BLAKE3 of the chunk); ``digest`` is composed from the chunk
list (digest.file_digest).  Unknown keys are kept on a round trip (docs/format.md).
"""
from __future__ import annotations

import re

from .. import canonical
from ..errors import FormatError, IntegrityError
from ..record import field, record

POINTER_VERSION = 1
_DIGEST_RE = re.compile(r"blake3:[0-9a-f]{64}")
_CID_RE = re.compile(r"[0-9a-f]{64}")
_INT = rb"(0|[1-9][0-9]*)"
_CHUNK = rb'\["[0-9a-f]{64}",(?:0|[1-9][0-9]*)\]'
# The canonical encoding of a plain (no extra keys) chunked pointer: parsed by one
# regex instead of json + per-field checks (the stat cache decodes one per file).
_PLAIN_RE = re.compile(rb'\{"chunks":\[((?:' + _CHUNK + rb'(?:,' + _CHUNK + rb')*)?)\],"digest":"(blake3:[0-9a-f]{64})",'
                       rb'"exec":(true|false),"size":' + _INT + rb',"v":1\}\n')
_CHUNK_RE = re.compile(rb'\["([0-9a-f]{64})",([0-9]+)\]')


@record(frozen=True)
class Pointer:
    size: int
    digest: str
    chunks: tuple = ()
    executable: bool = False
    ref: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def is_reference(self) -> bool:
        return self.ref is not None

    def to_dict(self) -> dict:
        d = dict(self.extra)
        d.update({"v": POINTER_VERSION, "size": self.size, "digest": self.digest})
        if self.ref is not None:
            d["ref"] = self.ref
        else:
            d["chunks"] = [[cid, n] for cid, n in self.chunks]
            d["exec"] = self.executable
        return d

    def encode(self) -> bytes:
        """The canonical encoding (a plain chunked pointer is formatted directly:
        the same bytes as canonical.dumps, pinned by tests/test_packs.py).
        Kept once made: a log encodes each pointer twice (the stat cache and
        the version's tree), and a pointer never changes."""
        out = self.__dict__.get("_encoded")
        if out is not None:
            return out
        if self.extra or self.ref is not None or not _plain(self):
            out = canonical.dumps(self.to_dict())
        else:
            chunks = ",".join(f'["{cid}",{n}]' for cid, n in self.chunks)
            out = (f'{{"chunks":[{chunks}],"digest":"{self.digest}","exec":{"true" if self.executable else "false"},'
                   f'"size":{self.size},"v":{POINTER_VERSION}}}\n').encode()
        self.__dict__["_encoded"] = out  # not a field: equality and hashing ignore it
        return out

    @classmethod
    def decode(cls, data: bytes, where: str = "pointer") -> "Pointer":
        m = _PLAIN_RE.fullmatch(data) if type(data) is bytes else None
        if m is not None:
            listed, digest, exe, size = m.groups()
            size = int(size)
            if listed.count(b"[") == 1:  # one chunk: ["<64 hex>",<n>]
                chunks = ((listed[2:66].decode(), int(listed[68:-1])),)
                total = chunks[0][1]
            else:
                chunks = tuple((c.decode(), int(n)) for c, n in _CHUNK_RE.findall(listed))
                total = sum(n for _, n in chunks)
            if total == size:  # every field checked by the regex: set them without the dataclass __init__
                ptr = object.__new__(cls)
                ptr.__dict__.update(size=size, digest=digest.decode(), chunks=chunks, executable=exe == b"true",
                                    ref=None, extra={}, _encoded=data)  # the regex admits only the canonical bytes
                return ptr
        try:
            d = canonical.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise IntegrityError(f"{where} is not valid JSON ({e})") from None
        if not isinstance(d, dict):
            raise IntegrityError(f"{where} is not a JSON object")
        v = d.get("v")
        if not isinstance(v, int) or isinstance(v, bool):
            raise IntegrityError(f"{where} has no format version")
        if v > POINTER_VERSION:
            raise FormatError(f"{where} uses pointer format {v}; this mvc knows up to {POINTER_VERSION}")
        size, digest = d.get("size"), d.get("digest")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise IntegrityError(f"{where} has an invalid size {size!r}")
        if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
            raise IntegrityError(f"{where} has an invalid digest {digest!r}")
        extra = {k: val for k, val in d.items() if k not in ("v", "size", "digest", "ref", "chunks", "exec")}
        if "ref" in d:
            if not isinstance(d["ref"], str) or not d["ref"]:
                raise IntegrityError(f"{where} has an invalid reference {d['ref']!r}")
            return cls(size=size, digest=digest, ref=d["ref"], extra=extra)
        chunks = d.get("chunks")
        if not isinstance(chunks, list):
            raise IntegrityError(f"{where} has no chunk list")
        out = []
        total = 0
        for c in chunks:
            if (not isinstance(c, list) or len(c) != 2 or not isinstance(c[0], str) or not _CID_RE.fullmatch(c[0])
                    or not isinstance(c[1], int) or isinstance(c[1], bool) or c[1] < 0):
                raise IntegrityError(f"{where} has a malformed chunk entry {c!r}")
            out.append((c[0], c[1]))
            total += c[1]
        if total != size:
            raise IntegrityError(f"{where}: chunk sizes add up to {total}, not the recorded size {size}")
        return cls(size=size, digest=digest, chunks=tuple(out), executable=bool(d.get("exec", False)), extra=extra)


def _plain(p: Pointer) -> bool:
    """Whether ``p`` holds only values whose JSON is their plain text (ids, digest, ints)."""
    return (type(p.size) is int and _DIGEST_RE.fullmatch(p.digest) is not None
            and all(type(n) is int and _CID_RE.fullmatch(c) for c, n in p.chunks))
