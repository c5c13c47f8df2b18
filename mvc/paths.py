"""The rules for the paths of a version's files (docs/format.md, "Paths"), in one
place: log refuses what breaks them (store/ingest.py), use refuses to write it
(store/materialise.py), fsck names every version that holds it (repo/fsck.py).

A path is relative and '/'-separated.  It is refused when a filesystem or git
could read it as something else than a plain file below the target: a way out
(``..``, absolute, drive), a name git takes for its own folder (``.git`` in any
spelling git refuses), a character that is a separator or a control code
somewhere, or text that is not UTF-8.  Two paths that differ only in case are
refused together: they are one file on a case-insensitive filesystem.
"""
from __future__ import annotations

import re

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Iterable

_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")   # C0, DEL, C1
_SURROGATE_RE = re.compile("[\ud800-\udfff]")        # a name that is not UTF-8 (git's bytes, surrogate-escaped)

# HFS+ ignores these code points in names, so ".g\u200cit" is ".git" there (git's next_hfs_char).
_HFS_IGNORABLE = "\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff"
_HFS_IGNORED = dict.fromkeys(c for a, b in ((0x200c, 0x200f), (0x202a, 0x202e), (0x206a, 0x206f), (0xfeff, 0xfeff))
                             for c in range(a, b + 1))
_I = f"[{_HFS_IGNORABLE}]*"
# Anything the rules below might refuse; a path without it passes them all: a search for odd
# characters and one for odd components (searched in "/" + path) instead of the walk over its
# components, which cost ~140 ms per 20,000 paths here, against ~30 ms.
_ODD_CHAR_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\\]")
_ODD_PART_RE = re.compile(r"/(?:\.{0,2}(?:/|$)|"
                          f"{_I}(?:\\.{_I}[gG]{_I}[iI]{_I}[tT]|[gG]{_I}[iI]{_I}[tT]{_I}~{_I}1))")


def is_dotgit(part: str) -> bool:
    """Whether git (or a filesystem below it) would take the path component ``part``
    for ``.git``: git's ``is_hfs_dotgit`` and ``is_ntfs_dotgit`` as one rule.  Any
    case; the code points HFS+ ignores removed; anything from a ``:`` on (an NTFS
    stream, ``.git::$INDEX_ALLOCATION``) and trailing dots and spaces (NTFS drops
    them) cut off; then ``.git`` or its 8.3 short name ``git~1``."""
    name = part.translate(_HFS_IGNORED).lower().split(":", 1)[0].rstrip(". ")
    return name in (".git", "git~1")


def path_problem(relpath) -> str | None:
    """Why ``relpath`` cannot be a file of a version (a phrase: "contains a backslash"), or None."""
    if (isinstance(relpath, str) and relpath and relpath[0] != "/" and relpath[1:2] != ":"
            and not _ODD_CHAR_RE.search(relpath) and not _ODD_PART_RE.search("/" + relpath)):
        return None  # the usual case: nothing odd in it
    if not isinstance(relpath, str) or not relpath:
        return "is empty"
    if "\x00" in relpath:
        return "contains a NUL byte"
    ctrl = _CONTROL_RE.search(relpath)
    if ctrl:
        return f"contains the control character U+{ord(ctrl.group()):04X}"
    if _SURROGATE_RE.search(relpath):
        return "is not valid UTF-8"
    if "\\" in relpath:
        return "contains a backslash"
    if relpath.startswith("/"):
        return "is absolute"
    if _DRIVE_RE.match(relpath):
        return "starts with a drive letter"
    for part in relpath.split("/"):
        if part in ("", ".", ".."):
            return f"has a {part or 'empty'!r} component"
        if is_dotgit(part):
            return f"has the component {part!r}, which git takes for its own .git folder"
    return None


def collision(paths: Iterable[str]) -> str | None:
    """Why ``paths`` cannot be files of one version together, or None: two paths
    equal but for case, or one path a file and a folder of another (also but for case)."""
    paths = list(paths)
    lows = [p.lower() for p in paths]
    files = set(lows)
    if len(files) != len(lows):
        first: dict[str, str] = {}
        for p, low in zip(paths, lows):
            if low in first:
                return f"paths {first[low]!r} and {p!r} collide on a case-insensitive filesystem"
            first[low] = p
    folders: set[str] = set()
    for low in lows:
        i = low.rfind("/")
        while i > 0 and low[:i] not in folders:  # a folder seen before brings its parents along
            folders.add(low[:i])
            i = low.rfind("/", 0, i)
    for p, low in zip(paths, lows):
        if low in folders:
            inside = next(q for q, lq in zip(paths, lows) if lq.startswith(low + "/"))
            return f"path {p!r} is both a file and a folder (of {inside!r})"
    return None
