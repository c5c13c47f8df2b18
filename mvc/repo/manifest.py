"""What fsck checks of a version besides its chunks: its paths pass the path rules
(mvc/paths.py), no two collide, and its files hash to the digest its version.json
records (docs/format.md, "Paths" and "Artifact tree"); and which versions hold
the git objects that `git fsck` names, so that its findings name versions too."""
from __future__ import annotations

import re

from ..errors import IntegrityError, MvcError
from ..meta.odb import OBJECT_TREE
from ..paths import collision, path_problem
from .reach import VersionRef
from .repository import check_digest

MAX_PATHS = 5  # bad paths named per version; the count says how many more
GIT_ID_RE = re.compile(r"\b[0-9a-f]{40}\b")


def manifest_problems(meta, vref: VersionRef, entries: list) -> list[tuple[str, str]]:
    """(kind, message) for each rule the files of ``vref`` break: ``bad-path`` (a path use
    refuses to write) and ``bad-digest`` (its files do not hash to its recorded digest)."""
    out = []
    bad = [(p, why) for p, _ in entries if (why := path_problem(p))]
    for p, why in bad[:MAX_PATHS]:
        out.append(("bad-path", f"{vref.label}: path {p!r} {why}; use refuses to write it"))
    if len(bad) > MAX_PATHS:
        out.append(("bad-path", f"{vref.label}: {len(bad) - MAX_PATHS} more paths break the path rules"))
    clash = collision(p for p, _ in entries)
    if clash:
        out.append(("bad-path", f"{vref.label}: its {clash}; use refuses to write them"))
    try:
        record = meta.json(meta.get(vref.tree, f"version tree of {vref.label}"), "version.json", {})
        check_digest(vref.label, record if isinstance(record, dict) else {}, entries)
    except IntegrityError as e:
        out.append(("bad-digest", e.message))
    return out


def holders(meta, vrefs: list[VersionRef], ids) -> list[str]:
    """The labels of the versions whose trees hold any of the git objects ``ids`` (hex)."""
    wanted = set(ids)
    if not wanted:
        return []
    return [v.label for v in vrefs if _objects(meta, v.tree) & wanted]


def _objects(meta, tree_id) -> set[str]:
    """Every object id below a version tree, the tree's own included (what could be read)."""
    found, todo = set(), [tree_id]
    while todo:
        oid = todo.pop()
        found.add(str(oid))
        try:
            tree = meta.get(oid, f"git object {oid}")
        except (MvcError, KeyError, ValueError):
            continue
        if tree.type != OBJECT_TREE:
            continue
        for e in tree:
            if e.type == OBJECT_TREE:
                todo.append(e.id)
            else:
                found.add(str(e.id))
    return found
