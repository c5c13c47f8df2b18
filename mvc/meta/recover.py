"""Finding the newest commit of a ref whose file was damaged (fsck's repair).

Every mvc commit's tree says whose it is: an artifact's ``artifact.json`` holds
its project and name, a registered model's ``model.json`` its name, a run's
``run.json`` its project and id (docs/format.md, "Trees").  So the commits of a
damaged ref can be found by reading every commit in the object database; its
tip is the newest of those that no other one has as parent.  This reads every
object once (each checked before libgit2 reads it): fsck's cost, not a
command's.
"""
from __future__ import annotations

from dataclasses import dataclass

from .pygit import pygit2

from ..errors import MvcError
from . import refs
from .layout import numbered


@dataclass
class Found:
    commit: str          # hex id of the newest commit found
    when: int            # its commit time
    versions: list[str]  # the versions (or registry links) its tree holds


def _owner(meta, tree, kind: str) -> tuple | None:
    """(kind, project, name) this commit tree belongs to, or None."""
    try:
        if kind == "artifact":
            info = meta.json(tree, "artifact.json")
            return ("artifact", info.get("project"), info.get("name")) if isinstance(info, dict) else None
        if kind == "registry":
            info = meta.json(tree, "model.json")
            return ("registry", None, info.get("name")) if isinstance(info, dict) else None
        info = meta.json(tree, "run.json")
        return ("run", info.get("project"), info.get("id")) if isinstance(info, dict) else None
    except MvcError:
        return None


def _commits(meta):
    for oid in meta.git.odb:
        try:
            obj = meta.get(oid, f"git object {oid}")
        except MvcError:
            continue  # fsck reports damaged objects on its own
        if obj.type == pygit2.GIT_OBJECT_COMMIT:
            yield obj


def _entries(meta, tree, folder: str) -> list[str]:
    try:
        return [v for v, _ in numbered(meta, tree, folder)]
    except MvcError:
        return []


def lost_tip(meta, refname: str) -> Found | None:
    """The newest commit that belongs to ``refname`` and is no other one's parent, or None."""
    want = refs.parse(refname)
    if want is None:
        return None
    mine, parents = {}, set()
    for c in _commits(meta):
        try:
            tree = meta.get(c.tree_id, f"tree of commit {c.id}")
        except MvcError:
            continue
        if _owner(meta, tree, want[0]) == want:
            mine[str(c.id)] = (c, tree)
            parents.update(str(p) for p in c.parent_ids)
    heads = [(c.commit_time, h) for h, (c, _) in mine.items() if h not in parents]
    if not heads:
        return None
    when, head = max(heads)
    folder = "links" if want[0] == "registry" else "versions"
    return Found(head, when, _entries(meta, mine[head][1], folder) if want[0] != "run" else [])
