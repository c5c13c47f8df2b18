"""Reading the refs of the metadata repository from disk, checked.

libgit2 leaves a ref it cannot parse out of its listings and fails to read it
by name with a raw ``GitError``: a truncated ref file was an artifact that
`mvc ls` did not show and that gc did not mark (its chunks were deleted).  So
every listing reads the refs here, the way git stores them (docs/format.md,
"Refs"): a loose file ``<gitdir>/<refname>`` holding 40 lower-case hex digits
and a newline, else a line ``<hex> <refname>`` of ``packed-refs``; a loose file
wins over a packed line.  Whatever does not parse is returned as damaged, by
name, never skipped.
"""
from __future__ import annotations

import os
import re

from ..record import field, record

_OID = re.compile(rb"[0-9a-f]{40}")
PACKED = "packed-refs"


@record
class RefTable:
    good: dict[str, str] = field(default_factory=dict)   # refname -> hex id
    bad: dict[str, str] = field(default_factory=dict)    # refname (or "packed-refs") -> what is wrong

    def names(self) -> list[str]:
        return sorted(self.good)


def parse_loose(data: bytes) -> str | None:
    """The hex id a loose ref file holds, or None when it is not exactly one."""
    body = data[:-1] if data.endswith(b"\n") else data
    return body.decode() if _OID.fullmatch(body) else None


def describe_loose(data: bytes) -> str:
    if not data:
        return "its file is empty"
    if data.startswith(b"ref: "):
        return "it is a symbolic ref, which mvc never writes"
    body = data.rstrip(b"\n")
    if re.fullmatch(rb"[0-9a-fA-F]{1,39}", body):
        return f"its file holds {len(body)} hex digits instead of 40 (truncated)"
    return f"its file does not hold a 40-digit object id ({data[:48]!r})"


def _packed(gitdir: str, prefix: str, table: RefTable) -> None:
    try:
        with open(os.path.join(gitdir, PACKED), "rb") as f:
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        return
    except OSError as e:
        table.bad[PACKED] = f"it cannot be read ({e.strerror})"
        return
    for n, line in enumerate(lines, 1):
        if not line or line.startswith(b"#") or (line.startswith(b"^") and _OID.fullmatch(line[1:])):
            continue
        oid, _, name = line.partition(b" ")
        text = name.decode("utf-8", "replace")
        if not _OID.fullmatch(oid) or not name:
            table.bad[PACKED] = f"line {n} ({line[:60]!r}) is not '<40 hex digits> <refname>'"
        elif text.startswith(prefix):
            table.good[text] = oid.decode()


def _loose(gitdir: str, prefix: str, table: RefTable) -> None:
    top = os.path.join(gitdir, *prefix.rstrip("/").split("/"))
    def unreadable(e: OSError) -> None:
        if not isinstance(e, (FileNotFoundError, NotADirectoryError)):  # no refs there (yet), or gone meanwhile
            table.bad[os.path.relpath(e.filename, gitdir).replace(os.sep, "/")] = f"it cannot be read ({e.strerror})"

    for dirpath, dirs, files in os.walk(top, onerror=unreadable):
        dirs.sort()
        for fname in sorted(files):
            if fname.endswith(".lock"):
                continue
            path = os.path.join(dirpath, fname)
            refname = os.path.relpath(path, gitdir).replace(os.sep, "/")
            try:
                with open(path, "rb") as f:
                    data = f.read(4096)
            except OSError as e:
                table.good.pop(refname, None)
                table.bad[refname] = f"its file cannot be read ({e.strerror})"
                continue
            oid = parse_loose(data)
            if oid is None:
                table.good.pop(refname, None)  # a damaged loose file hides any packed line of the same ref
                table.bad[refname] = describe_loose(data)
            else:
                table.good[refname] = oid


def read_one(gitdir: str, refname: str) -> tuple[str | None, str | None]:
    """(hex id, None) for a sound ref, (None, why) for a damaged one, (None, None) for none."""
    folder = refname.rsplit("/", 1)[0] + "/"
    table = read_refs(gitdir, folder)
    why = table.bad.get(refname) or (table.bad.get(PACKED) if refname not in table.good else None)
    return table.good.get(refname), why


def read_refs(gitdir: str, prefix: str = "refs/mvc/") -> RefTable:
    """Every ref under ``prefix``: the sound ones with their ids, the damaged ones with why."""
    table = RefTable()
    _packed(gitdir, prefix, table)
    _loose(gitdir, prefix, table)
    return table


_PACKED_CACHE: dict[str, tuple[tuple, dict[bytes, bytes], str | None]] = {}  # gitdir -> (stat, refs, damage)


def read_target(gitdir: str, refname: str) -> tuple[str | None, str | None]:
    """``read_one`` for one ref without listing its folder: its loose file, else its line of
    packed-refs (parsed once per change of that file).  (hex id, None), (None, why) or (None, None)."""
    path = os.path.join(gitdir, *refname.split("/"))
    try:
        with open(path, "rb") as f:
            data = f.read(4096)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        data = None
    except OSError as e:
        return None, f"its file cannot be read ({e.strerror})"
    if data is not None:
        oid = parse_loose(data)
        return (oid, None) if oid is not None else (None, describe_loose(data))
    refs, damage = _packed_refs(gitdir)
    oid = refs.get(refname.encode())
    if oid is not None:
        return oid.decode(), None
    return None, damage


def _packed_refs(gitdir: str) -> tuple[dict[bytes, bytes], str | None]:
    path = os.path.join(gitdir, PACKED)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return {}, None
    except OSError as e:
        return {}, f"packed-refs cannot be read ({e.strerror})"
    key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    cached = _PACKED_CACHE.get(gitdir)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    table = RefTable()
    _packed(gitdir, "", table)
    refs = {name.encode(): oid.encode() for name, oid in table.good.items()}
    damage = table.bad.get(PACKED)
    _PACKED_CACHE[gitdir] = (key, refs, damage)
    return refs, damage
