"""The interface every storage backend implements, and the rules for keys.

A backend stores immutable objects under keys.  Writes are create-only (``put`` never
replaces an object: that is what lets two pushers share a remote without a lock), and
nothing here deletes.  Keys are relative, ``/``-separated, made of ``[A-Za-z0-9._-]``
segments; anything else (``..``, an absolute path, an empty segment) is refused on the
way in and skipped on the way out (a listing is hostile input).
"""
from __future__ import annotations

import os
import re
import secrets
import threading

from ...errors import RemoteError, UsageError

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Iterator

_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
MAX_KEY = 512


def check_key(key: str) -> str:
    """``key`` if it is a safe relative key, else UsageError (a caller's bug or hostile input)."""
    if not valid_key(key):
        raise UsageError(f"invalid storage key {key!r}",
                         "keys are relative, '/'-separated segments of letters, digits, '.', '_' and '-' "
                         "(no '..', no empty segment)")
    return key


def valid_key(key) -> bool:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        return False
    return all(_SEGMENT.fullmatch(s) and s not in (".", "..") for s in key.split("/"))


def is_path(data) -> bool:
    """Whether ``put``'s ``data`` names a file (str or os.PathLike) rather than holding bytes."""
    return isinstance(data, (str, os.PathLike))


class Storage:
    """Create-only object storage.  ``requests`` counts the calls made to the backend (one
    per HTTP request on S3, one per file operation in a folder); transfer reports it."""

    url: str

    def __init__(self):
        self._count_lock = threading.Lock()
        self.requests = 0

    def _count(self, n: int = 1) -> None:
        with self._count_lock:
            self.requests += n

    def put(self, key: str, data) -> bool:
        """Store ``data`` (bytes-like, or the path of a file) under ``key`` unless the key
        exists.  True if this call created it, False if it was there already (its content
        is left alone: keys name content, so it is the same)."""
        raise NotImplementedError

    def get(self, key: str) -> bytes:
        """The object's bytes; NotFoundError if there is none."""
        raise NotImplementedError

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of the object from ``start`` (fewer if it is shorter: the
        caller checks)."""
        raise NotImplementedError

    def get_to(self, key: str, path: str) -> None:
        """Write the object to the file ``path`` in bounded pieces (memory does not grow
        with the object's size)."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def list(self, prefix: str) -> Iterator[str]:
        """The keys under ``prefix`` (a folder-like prefix such as ``packs/``), sorted;
        keys that break the key rules are skipped, never returned."""
        raise NotImplementedError

    def check_conditional_writes(self) -> None:
        """R13: a server that ignores ``If-None-Match: *`` would let a second writer
        silently replace an object.  Write a fresh probe key twice: the second write must
        report the key as existing, and the first content must survive.  The probe stays
        (nothing deletes from a remote); it is a few bytes under ``probes/``."""
        key = f"probes/{secrets.token_hex(16)}"
        first, second = b"mvc conditional-write probe 1\n", b"mvc conditional-write probe 2\n"
        if not self.put(key, first):
            raise RemoteError(f"storage {self.url}: a new probe key {key} was reported as existing",
                              "check the storage URL and that the server supports create-only writes")
        replaced = self.put(key, second)
        kept = self.get(key)
        if replaced or kept != first:
            raise RemoteError(
                f"storage {self.url} ignores conditional writes (If-None-Match: *): a second write of {key} "
                "replaced the first", "use a server that supports conditional writes (AWS S3 since 2024, "
                "recent MinIO and Ceph); without them two pushers can overwrite each other's bytes")
