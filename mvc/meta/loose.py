"""The check of a loose git object file before libgit2 reads it for a write (a TreeBuilder's
base, an inserted id, a commit's tree and parents): libgit2 1.9.7 loops forever on a loose
object whose deflate stream does not end inside the file (docs/design.md), so each is parsed
and hashed first, by the same rules as mvc's own reads (mvc/meta/odb.py)."""
from __future__ import annotations

from ..errors import IntegrityError
from .odb import object_id, parse_loose, read_loose_file, ObjectError


def loose_problem(data: bytes, hexid: str) -> str | None:
    """What is wrong with the bytes of the loose object file of ``hexid`` (None if sound)."""
    kind, body, why = parse_loose(data)
    if why is None and object_id(kind, body) != hexid:
        why = "the SHA-1 of its content is not its name"
    return why


def check_loose(repo_path: str, hexid: str) -> bool:
    """True if ``hexid`` is a sound loose object file of the repository at ``repo_path``,
    False if there is no such file (packed or missing: the .idx check and libgit2's own
    lookup cover those); IntegrityError if the file is not sound."""
    if len(hexid) != 40:
        raise ValueError(f"{hexid!r} is not a full git object id")
    path = f"{repo_path}/objects/{hexid[:2]}/{hexid[2:]}"
    try:
        data = read_loose_file(path)
    except ObjectError as e:
        raise IntegrityError(f"metadata {e}", "run `mvc fsck`; restore the metadata from a remote or a backup") from None
    if data is None:
        return False
    why = loose_problem(data, hexid)
    if why is not None:
        raise IntegrityError(f"metadata object file {path} is damaged: {why}",
                             "run `mvc fsck`; restore the metadata from a remote or a backup")
    return True
