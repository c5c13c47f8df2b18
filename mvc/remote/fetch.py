"""mvc fetch and mvc pull.  fetch brings a remote's refs into the remote-tracking namespace
(refs/mvc-remotes/<remote>/), each new commit checked first (checks.py); pull then folds
them into this store's refs (create, fast-forward, or replay with renumbering) and, unless
``no_bytes``, fetches the chunks of the versions that arrive first: every chunk re-hashed
(transfer.fetch_chunks), and no local ref moves before all of them are here."""
from __future__ import annotations

import time

from ..errors import ConflictError, IntegrityError, RemoteError
from ..repo.crash import crash_at
from . import remotes
from .gitsync import GitRemote
from .sync import (adopt_storage, apply, chunks_of, fetch_checked, integrate, local_refs, name_chunk, new_version_trees,
                   tracking_refs)

MAX_ATTEMPTS = 5


def fetch(repo, remote: str | None = None, progress=None) -> dict:
    cfg = remotes.get(repo.meta.git, remote)
    start = time.monotonic()
    got = fetch_checked(repo.meta, GitRemote(repo.meta.git, cfg), None, progress)
    adopt_storage(repo.meta, cfg, got.heads)
    return {"remote": cfg.name, "refs": sorted(got.changed), "advertised": len(got.heads),
            "seconds": round(time.monotonic() - start, 3)}


def pull(repo, remote: str | None = None, no_bytes: bool = False, jobs: int = 4, progress=None) -> dict:
    summary = fetch(repo, remote, progress)
    cfg = remotes.get(repo.meta.git, remote)
    for _ in range(MAX_ATTEMPTS):
        plan = integrate(repo.meta, tracking_refs(repo.meta, cfg.name), local_refs(repo.meta))
        fetched = {"chunks": 0, "bytes": 0} if no_bytes else fetch_bytes(repo, cfg, plan.moves, jobs, progress)
        crash_at("pull:after-chunks")
        if not apply(repo.meta, plan):
            return dict(summary, updated=sorted(plan.moves), renumbered=plan.mapping.to_json(), **fetched)
    raise ConflictError(f"this store kept changing while pulling from {cfg.name}", "run `mvc pull` again")


def fetch_bytes(repo, cfg, moves: dict, jobs: int = 4, progress=None) -> dict:
    """Fetch the chunks of the versions ``moves`` bring here that this store lacks."""
    where = chunks_of(repo, new_version_trees(repo.meta, moves))
    missing = repo.chunks.missing(where)
    if not missing:
        return {"chunks": 0, "bytes": 0}
    return fetch_missing(repo, cfg, missing, where, jobs, progress)


def fetch_missing(repo, cfg, missing, where: dict, jobs: int = 4, progress=None) -> dict:
    if not cfg.storage:
        raise RemoteError(f"remote {cfg.name} has no storage configured, so the bytes of {len(missing)} chunk(s) "
                          "cannot be fetched", f"run `mvc fetch {cfg.name}` (it reads the storage the remote "
                          f"records), or add it again with --storage")
    from .storage import open_storage
    from .transfer import fetch_chunks
    try:
        stats = fetch_chunks(repo.chunks, open_storage(cfg.storage), [(c, where[c][2]) for c in sorted(missing)],
                             jobs=jobs, progress=progress)
    except IntegrityError as e:
        raise name_chunk(e, where) from None
    return {"chunks": int(stats.get("chunks", 0)), "bytes": int(stats.get("bytes", 0))}
