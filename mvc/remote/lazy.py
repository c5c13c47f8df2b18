"""Lazy bytes: a `use` of a version whose chunks are not here fetches them from the remote
that has the version (as git-lfs and the Hugging Face cache do), so a clone can start with
metadata alone.  The remote is the one whose remote-tracking ref holds this very version
tree; every chunk is re-hashed on arrival (transfer.fetch_chunks)."""
from __future__ import annotations

from ..errors import NotFoundError
from ..meta import refs
from ..meta.layout import version_path
from . import remotes


def ensure_chunks(repo, v, progress=None) -> int:
    """Fetch the chunks of version ``v`` this store lacks; returns how many were fetched.  A store
    with no remote pays one read of its git config; one with remotes, a lookup of the version's
    chunks in the store (the entries are the ones the download reads next, cached)."""
    if not remotes.read_all(repo.meta.git):
        return 0
    label = f"{v.project}/{v.name}:{v.version}"
    where = {cid: (label, path, n) for path, ptr in repo.entries(v) if not ptr.is_reference
             for cid, n in ptr.chunks}
    missing = repo.chunks.missing(where)
    if not missing:
        return 0
    cfg = holder(repo, v)
    if cfg is None:
        return 0  # no remote has it: the use reports the missing chunk as it always did
    from .fetch import fetch_missing
    return fetch_missing(repo, cfg, missing, where, progress=progress)["chunks"]


def holder(repo, v):
    """The remote whose tracking ref of ``v``'s artifact holds ``v``'s tree (else the only remote)."""
    git = repo.meta.git
    configured = remotes.read_all(git)
    ref = refs.artifact(v.project, v.name)
    for cfg in configured.values():
        tip = repo.meta.tip(remotes.tracking_ref(cfg.name, ref))
        for trash in (False, True):
            sub = repo.meta.subtree(tip.tree, version_path(v.version, trash)) if tip else None
            if sub is not None and sub.id == v.tree:
                return cfg
    if len(configured) == 1:
        return next(iter(configured.values()))
    if configured:
        raise NotFoundError(f"the bytes of {v.project}/{v.name}:{v.version} are not here and no remote's "
                            "last fetch holds this version", "run `mvc fetch REMOTE` for the remote that has it")
    return None


def remote_trees(repo) -> dict[str, str]:
    """version tree id (hex) -> the name of a remote whose last fetch holds that version (or trashed
    or linked one) and whose bytes storage is known: its chunks can be fetched from there, since a
    push sends bytes before names.  For fsck, to tell bytes never fetched from bytes lost; it
    reads the git config and the remote-tracking refs only, no network call."""
    from .sync import tracking_refs, version_trees
    out: dict[str, str] = {}
    for cfg in remotes.read_all(repo.meta.git).values():
        if not cfg.storage:
            continue
        for ref, tip in tracking_refs(repo.meta, cfg.name).items():
            for oid in version_trees(repo.meta, ref, tip):
                out.setdefault(oid, cfg.name)
    return out
