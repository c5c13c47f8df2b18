"""Digests as a log records them, without a store (`mvc hash`): compare a file or folder on
disk with a version (`mvc show`, `mvc ls --json`) without logging it."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import InvalidInputError
from ..repo.repository import artifact_digest_rows, hash_tree
from ..store.digest import hash_file as _hash_file


def hash_file(path) -> tuple[str, int]:
    """The digest (``"blake3:<64 hex>"``) and size a log records for the file at ``path``:
    the file is cut into chunks as a log cuts it, each chunk hashed once (BLAKE3) and the
    ids composed (docs/format.md, "Pointer blobs").  Memory stays bounded."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InvalidInputError(f"{path} is a folder", "use mvc.hash_folder(path) (`mvc hash PATH`) for a folder")
    if not os.path.isfile(path):
        raise InvalidInputError(f"{path} is not a file", "give the path of a regular file")
    return _hash_file(path)


@dataclass
class HashedFolder:
    """What a log of a file or folder would record: each file (path, digest, size) sorted by
    path, and the artifact digest of the whole (``mvc ls``'s digest)."""
    files: list[tuple[str, str, int]] = field(default_factory=list)
    digest: str = ""

    @property
    def size(self) -> int:
        return sum(n for _, _, n in self.files)


def hash_folder(path, exclude=()) -> HashedFolder:
    """Hash every file under ``path`` (or the file ``path``, named by its basename) as a log
    of it would, following the same rules (symlinks, refused paths, the .mvcignore, and
    ``exclude``: the patterns of a log's ``exclude``/--exclude)."""
    from ..names import as_list
    files = hash_tree(path, as_list(exclude, "exclude"))
    return HashedFolder(files, artifact_digest_rows([[p, n, d] for p, d, n in files]))
