"""mvc push: bytes before names.  Every chunk the pushed refs reach and the remote lacks is
uploaded (transfer.push_chunks: create-only writes, confirmed) before any remote ref moves;
each ref then moves by compare-and-swap (gitsync).  A ref the remote moved meanwhile is
fetched, checked and replayed with renumbering (sync.integrate), and the push is retried a
bounded number of times, then a ConflictError."""
from __future__ import annotations

import random
import time

from .. import canonical
from ..errors import ConflictError, RemoteError
from ..meta.gitdb import git_signature, identity
from ..repo.crash import crash_at
from . import remotes
from .gitsync import MOVED, GitRemote
from .remotes import CONFIG_REF
from .sync import (adopt_storage, apply, chunks_of, descends, fetch_checked, has, integrate, local_refs,
                   new_version_trees, set_ref, tracking_ref, version_trees)

MAX_ATTEMPTS = 8


def push(repo, remote: str | None = None, refnames: list[str] | None = None, jobs: int = 4,
         verify: bool = False, progress=None, attempts: int = MAX_ATTEMPTS) -> dict:
    cfg = remotes.get(repo.meta.git, remote)
    gr = GitRemote(repo.meta.git, cfg)
    summary = Summary(cfg.name)
    for attempt in range(1, attempts + 1):
        summary.attempts = attempt
        heads = gr.heads()
        local = local_refs(repo.meta)
        if _fold_in(repo, gr, heads, local, refnames, summary):
            local = local_refs(repo.meta)
        wanted = [r for r in (refnames or local) if r in local]
        updates = {r: (heads.get(r), local[r]) for r in wanted if heads.get(r) != local[r]}
        storage_url = _storage_url(repo, gr, cfg, heads)
        _config_update(repo, heads, storage_url, updates)
        if not updates:
            return summary.done(gr)
        _send_chunks(repo, storage_url, cfg, updates, jobs, verify, progress, summary)
        crash_at("push:after-chunks")
        failed = gr.push(updates)
        crash_at("push:after-refs")
        for r in updates.keys() - failed.keys():
            set_ref(repo.meta, _tracking(cfg.name, r), updates[r][1])
            summary.refs.append(r)
        if not failed:
            return summary.done(gr)
        _refuse_hard_rejections(gr, heads, failed)
        time.sleep(random.uniform(0.005, 0.02) * attempt)  # jittered: two racers do not retry in step
    raise ConflictError(f"push to {cfg.name} gave up after {attempts} attempts: other pushers kept moving "
                        f"{', '.join(sorted(failed)[:3])}", "run `mvc push` again; nothing pushed so far is lost")


class Summary:
    def __init__(self, remote: str):
        self.remote = remote
        self.refs: list[str] = []
        self.renumbered: dict[str, str] = {}
        self.chunks = self.bytes = self.requests = self.skipped = 0
        self.attempts = 0
        self.start = time.monotonic()

    def done(self, gr: GitRemote) -> dict:
        return {"remote": self.remote, "refs": sorted(set(self.refs)), "objects": gr.objects_sent,
                "chunks": self.chunks, "bytes": self.bytes,
                "requests": self.requests, "skipped": self.skipped, "renumbered": dict(sorted(self.renumbered.items())),
                "attempts": self.attempts, "seconds": round(time.monotonic() - self.start, 3)}


def _tracking(remote: str, ref: str) -> str:
    return f"{remotes.TRACKING}{remote}-config" if ref == CONFIG_REF else tracking_ref(remote, ref)


def _fold_in(repo, gr: GitRemote, heads: dict, local: dict, refnames, summary: Summary) -> bool:
    """Fetch the refs the remote moved past ours and replay ours on them (renumbered); True
    when local refs moved."""
    meta = repo.meta
    wanted = [r for r in (refnames or local) if r in local]
    behind = [r for r in wanted if r in heads and heads[r] != local[r]
              and not (has(meta, heads[r]) and descends(meta, local[r], heads[r]))]
    if not behind:
        return False
    fetch_checked(meta, gr, behind)
    tips = {r: heads[r] for r in wanted if r in heads and has(meta, heads[r])}
    plan = integrate(meta, tips, local, selected=wanted)
    failed = apply(meta, plan)
    if failed:
        raise ConflictError(f"this store changed while the push replayed it ({', '.join(sorted(failed)[:3])})",
                            "run `mvc push` again")
    summary.renumbered.update(plan.mapping.to_json())
    return bool(plan.moves)


def _storage_url(repo, gr: GitRemote, cfg, heads: dict) -> str | None:
    """The remote's storage: as configured here, else as recorded in its metadata."""
    if not cfg.storage and CONFIG_REF in heads:
        fetch_checked(repo.meta, gr, [CONFIG_REF])
    return adopt_storage(repo.meta, cfg, heads)


def _config_update(repo, heads: dict, storage_url: str | None, updates: dict) -> None:
    """On the first push to a remote, record where its bytes live (remote.json) so that a clone
    needs nothing else; an existing record is never replaced."""
    if CONFIG_REF in heads or not storage_url:
        return
    meta = repo.meta
    blob = meta.write_blob(canonical.dumps({"format": 2, "storage": storage_url}))
    tree = meta.build_tree({"remote.json": blob})
    sig = git_signature(identity())
    oid = meta.git.create_commit(None, sig, sig, "record the remote's storage\n\nMvc-Op: remote\n", tree, [])
    meta.git.references.create(CONFIG_REF, oid, force=True)
    updates[CONFIG_REF] = (None, str(oid))


def _send_chunks(repo, storage_url, cfg, updates, jobs, verify, progress, summary: Summary) -> None:
    meta = repo.meta
    if verify:
        trees: dict[str, str] = {}
        for r, (_, new) in updates.items():
            trees.update(version_trees(meta, r, new))
    else:
        trees = new_version_trees(meta, {r: u for r, u in updates.items() if r != CONFIG_REF})
    where = chunks_of(repo, trees)
    if not where:
        return
    if not storage_url:
        raise RemoteError(f"remote {cfg.name} has no storage for the bytes of {len(trees)} version(s)",
                          f"give it one: `mvc remote rm {cfg.name}` and `mvc remote add {cfg.name} {cfg.url} "
                          "--storage s3://BUCKET/PREFIX` (or a folder); nothing was pushed")
    from .storage import open_storage
    from .transfer import push_chunks
    stats = push_chunks(repo.chunks, open_storage(storage_url), sorted(where), jobs=jobs, progress=progress,
                        verify=verify)
    for key in ("chunks", "bytes", "requests", "skipped"):
        setattr(summary, key, getattr(summary, key) + int(stats.get(key, 0)))


def _refuse_hard_rejections(gr: GitRemote, before: dict, failed: dict) -> None:
    """A ref the server refused although nobody moved it (a hook, a protected ref, permissions):
    retrying cannot help, so it is an error naming the server's reason."""
    after = gr.heads()
    hard = {r: why for r, why in failed.items() if after.get(r) == before.get(r) and not why.startswith(MOVED)}
    if hard:
        ref, why = sorted(hard.items())[0]
        raise RemoteError(f"remote {gr.cfg.name} refused to update {ref}: {why}"
                          + (f" (and {len(hard) - 1} more refs)" if len(hard) > 1 else ""),
                          "the server's configuration or hooks refused it; ask whoever runs it. The chunks "
                          "are uploaded; refs it accepted were moved")
