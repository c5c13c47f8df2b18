"""The check of a loose git object file before libgit2 reads it: libgit2 1.9.7 loops
forever on a loose object whose deflate stream does not end inside the file
(docs/design.md), so every loose object is inflated and verified here first."""
from __future__ import annotations

import hashlib
import zlib

from ..errors import IntegrityError

_KINDS = (b"blob", b"tree", b"commit", b"tag")


def loose_problem(data: bytes, hexid: str) -> str | None:
    """What is wrong with the bytes of the loose object file of ``hexid`` (None if sound): its
    deflate stream must end inside the file with nothing after it (git tolerates nothing), its
    header "<type> <size>\\0" must give the body's length, and the SHA-1 of both must be the id."""
    d = zlib.decompressobj()
    try:
        raw = d.decompress(data)
    except zlib.error as e:
        return f"its deflate stream is damaged ({e})"
    if not d.eof:
        return "its deflate stream does not end inside the file (truncated or damaged)"
    if d.unused_data:
        return f"{len(d.unused_data)} bytes of garbage follow its deflate stream"
    head, nul, body = raw.partition(b"\0")
    kind, _, size = head.partition(b" ")
    if not nul or kind not in _KINDS or size != b"%d" % len(body):
        return f"its header {head[:40]!r} does not give a git type and its {len(body)}-byte size"
    if hashlib.sha1(raw).hexdigest() != hexid:
        return "the SHA-1 of its content is not its name"
    return None


def check_loose(repo_path: str, hexid: str) -> bool:
    """True if ``hexid`` is a sound loose object file of the repository at ``repo_path``,
    False if there is no such file (packed or missing: the .idx check and libgit2's own
    lookup cover those); IntegrityError if the file is not sound."""
    if len(hexid) != 40:
        raise ValueError(f"{hexid!r} is not a full git object id")
    path = f"{repo_path}/objects/{hexid[:2]}/{hexid[2:]}"
    try:
        with open(path, "rb", buffering=0) as f:
            data = f.readall()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as e:
        data, why = None, f"it cannot be read ({e})"
    if data is not None:
        why = loose_problem(data, hexid)
    if why is not None:
        raise IntegrityError(f"metadata object file {path} is damaged: {why}",
                             "run `mvc fsck`; restore the metadata from a remote or a backup")
    return True
