"""What the metadata reaches: every ref under refs/mvc/, the version trees in
its tip and (for gc) in its history, and the chunks their pointers name.

Shared by gc (mark) and fsck (which versions a bad chunk affects).  Anything
it cannot read is a typed error: gc must never guess that a chunk is garbage.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import FormatError, IntegrityError
from ..meta import refs
from ..meta.codec import decode_path
from ..meta.layout import numbered
from ..meta.odb import OBJECT_TREE, Commit, Tree
from ..store import Pointer

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Iterator

VERSION_DIRS = ("versions", "trash")


@dataclass(frozen=True)
class VersionRef:
    """One version tree found in the metadata, with the label users see."""

    label: str          # "proj/name:v3", "proj/name:v3 (deleted)", "registry/M:v0"
    tree: str    # the versions/vN (or links/vK/version) subtree
    kind: str           # "version" | "trash" | "link"
    key: tuple = ()     # (project, name, version) or (model, link)
    deleted_at: float | None = None


def refuse_damaged(meta) -> None:
    """An IntegrityError naming every ref under refs/mvc/ that cannot be read, if there is one:
    gc must not guess what such a ref reaches (R11), so it deletes nothing while one is there."""
    bad = meta.damaged_refs(refs.PREFIX)
    if not bad:
        return
    first = sorted(bad)[0]
    err = meta.damaged_ref(first, bad[first])
    if len(bad) > 1:
        others = "; ".join(f"{r} ({why})" for r, why in sorted(bad.items())[1:])
        err = IntegrityError(f"{err.message}; also damaged: {others}", err.hint)
    raise err


def mvc_refs(meta) -> list[tuple[str, tuple]]:
    """(refname, parsed) for every ref under refs/mvc/; an unknown namespace is refused, and so is
    a ref that cannot be read (``refuse_damaged``)."""
    refuse_damaged(meta)
    out = []
    for name in meta.refnames(refs.PREFIX):
        parsed = refs.parse(name)
        if parsed is None:
            raise FormatError(f"ref {name}: {refs.problem(name)}",
                              "a newer mvc wrote it, or it was made by hand: upgrade mvc, or remove the ref "
                              "with `git --git-dir=.mvc update-ref -d " + name + "` if it is junk")
        out.append((name, parsed))
    return out


def tip_commit(meta, refname: str) -> Commit:
    tip = meta.tip(refname)
    if tip is None:
        raise IntegrityError(f"ref {refname} vanished or points at nothing",
                             "another process deleted it meanwhile: run the command again; if it recurs, "
                             "run `mvc fsck`")
    try:
        tip.tree  # noqa: B018 - force the tree read
    except (KeyError, ValueError) as e:
        raise IntegrityError(f"ref {refname}: commit {tip.id} has an unreadable tree ({e})",
                             "run `mvc fsck`; restore the metadata from a remote or a backup") from None
    return tip


def _tree(meta, oid) -> Tree:
    obj = meta.get(oid, f"git object {oid}")  # checked before libgit2 reads it (MetaRepo.check)
    if obj.type != OBJECT_TREE:
        raise IntegrityError(f"git object {oid} should be a folder but is not")
    return obj


def version_refs(meta, parsed: tuple, tree: Tree) -> Iterator[VersionRef]:
    """The version trees one commit's tree holds."""
    kind, project, name = parsed
    if kind == "artifact":
        for d in VERSION_DIRS:
            for v, oid in numbered(meta, tree, d):
                label = f"{project}/{name}:{v}" + (" (deleted)" if d == "trash" else "")
                deleted = meta.json(_tree(meta, oid), "version.json", {}).get("deleted_at") if d == "trash" else None
                yield VersionRef(label, oid, "version" if d == "versions" else "trash", (project, name, v), deleted)
    elif kind == "registry":
        for link, oid in numbered(meta, tree, "links"):
            vt = meta.subtree(_tree(meta, oid), "version")
            if vt is not None:
                yield VersionRef(f"registry/{name}:{link}", vt.id, "link", (name, link))


def pointers(meta, vref: VersionRef) -> Iterator[tuple[str, Pointer]]:
    """(path, pointer) for each file of a version tree; a bad pointer is an IntegrityError."""
    files = meta.subtree(_tree(meta, vref.tree), "files")
    if files is None:
        return
    for stored, oid in meta.walk_blobs(files):
        try:
            path = decode_path(stored)
        except IntegrityError as e:
            raise IntegrityError(f"{vref.label}: {e.message}", e.hint) from None
        data = meta.get(oid, f"{vref.label}: pointer blob for {path!r}").data
        yield path, Pointer.decode(data, f"{vref.label} pointer {path!r}")


def history(meta, refname: str, since: float) -> Iterator[Commit]:
    """The tip, every commit made at or after ``since``, and the newest one
    before it (its state was live when the window opened)."""
    tip = tip_commit(meta, refname)
    try:
        for c in meta.walk(tip):  # git's topological+time order, each commit checked before libgit2 reads it
            yield c
            if c.commit_time < since:
                return
    except (KeyError, ValueError) as e:
        raise IntegrityError(f"history of {refname} is unreadable ({e})",
                             "run `mvc fsck`; gc refuses until the metadata is whole") from None
