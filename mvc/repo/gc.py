"""gc: plan, then execute (docs/format.md, "gc, leases and locks").

Mark every chunk named by a version tree that is
  - in the tip of any ref under refs/mvc/ (versions/, registry links/), or
  - in trash/ of a tip and deleted less than ``retention_s`` ago, or
  - in versions/ or links/ of any commit of a ref's history made within the
    retention window (and the newest one before it), so whatever an alias or
    a link pointed at during the window keeps its bytes;
then sweep the chunks not marked whose mtime is older than both the grace
period and the start of the oldest live writer's lease.  Trash older than the
retention is purged (one commit per artifact) before the sweep, and keep_last
moves unaliased, unlinked versions beyond the last N to the trash.  The
whole-file cache (``files/``, built by hardlinked uses) is trimmed to its size
limit, least recently used first, never an entry used after the cutoff
(store/linkmodes.py).

Anything unreadable (ref in an unknown namespace, unreadable commit or tree, a
pointer that does not decode) stops gc before it deletes anything.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field

from .. import durations
from ..errors import ConflictError, NotFoundError
from ..meta import refs
from ..fsutil import require_writable, temp_path, temp_writer_pid
from ..procs import pid_alive
from ..fsinfo import on_network_fs
from ..meta.gitdb import NoChange, TreeEdit
from ..meta.layout import version_path
from . import lease, reach
from .crash import crash_at

DEFAULT_GRACE_S = 3600.0
DEFAULT_RETENTION_S = 14 * 86400.0
SAME_HOST_SKEW_S = 1.0      # mtime granularity
OTHER_HOST_SKEW_S = 300.0   # clocks of hosts sharing a store differ


@dataclass
class GcOptions:
    grace_s: float = DEFAULT_GRACE_S
    retention_s: float = DEFAULT_RETENTION_S
    keep_last: int | None = None


@dataclass
class GcPlan:
    chunks: list[str] = field(default_factory=list)       # chunk ids to delete
    bytes: int = 0
    purge: list[tuple[str, str, str]] = field(default_factory=list)   # trash entries to remove
    expire: list[tuple[str, str, str]] = field(default_factory=list)  # versions to move to the trash
    temps: list[str] = field(default_factory=list)
    orphan_packs: list[str] = field(default_factory=list)  # .pack files a crash left without their .idx
    leases: list[str] = field(default_factory=list)
    cache: list[str] = field(default_factory=list)  # whole files the cache's size limit trims (LRU)
    cache_bytes: int = 0
    marked: int = 0
    kept_young: int = 0
    cutoff: float = 0.0

    def lines(self) -> list[str]:
        """What the run deletes, one line each: `--dry-run` prints exactly these."""
        out = [f"expire {p}/{n}:{v}" for p, n, v in self.expire]
        out += [f"purge {p}/{n}:{v}" for p, n, v in self.purge]
        out += [f"chunk {c}" for c in self.chunks]
        out += [f"temp {t}" for t in self.temps]
        out += [f"pack {t}" for t in self.orphan_packs]
        out += [f"lease {le}" for le in self.leases]
        out += [f"cache {c}" for c in self.cache]
        return out

    def to_json(self) -> dict:
        return {"chunks": self.chunks, "bytes": self.bytes, "purge": [f"{p}/{n}:{v}" for p, n, v in self.purge],
                "expire": [f"{p}/{n}:{v}" for p, n, v in self.expire], "temps": self.temps,
                "orphan_packs": self.orphan_packs, "leases": self.leases,
                "cache": self.cache, "cache_bytes": self.cache_bytes,
                "marked": self.marked, "kept_young": self.kept_young, "cutoff": self.cutoff}


# ---- mark -------------------------------------------------------------------
def _mark_version(meta, vref, marked: set, seen: set) -> None:
    if vref.tree in seen:
        return
    seen.add(vref.tree)
    for _, ptr in reach.pointers(meta, vref):
        marked.update(cid for cid, _ in ptr.chunks)


def mark(repo, opts: GcOptions, now: float, purge: set) -> set[str]:
    """Every chunk id the metadata needs (see the module doc)."""
    meta, marked, seen = repo.meta, set(), set()
    since = now - opts.retention_s
    _mark_reads(repo, marked, seen)
    for refname, parsed in reach.mvc_refs(meta):
        tip = reach.tip_commit(meta, refname)
        for c in reach.history(meta, refname, since):
            for vref in reach.version_refs(meta, parsed, c.tree):
                if c.id == tip.id and vref.kind == "trash" and vref.key in purge:
                    continue
                if vref.kind == "trash" and c.id != tip.id:
                    continue  # trash is kept from the tip, by its own clock
                _mark_version(meta, vref, marked, seen)
    return marked


def _mark_reads(repo, marked: set, seen: set) -> None:
    """The chunks of every version a live reader's lease names (a use in progress): kept even if
    the version was deleted and purged meanwhile.  A lease that cannot be read names nothing: a
    live process writes its lease whole (temp + rename), so only a power cut, which ended its
    writer, leaves one garbled (it still holds back the sweep's cutoff by its mtime)."""
    from ..meta.pygit import pygit2
    for le in lease.live_leases(repo.path):
        for tree in le.reads:
            try:
                oid = pygit2.Oid(hex=tree)
            except ValueError:
                continue
            _mark_version(repo.meta, reach.VersionRef(f"version read by {le.describe()}", oid, "read"), marked, seen)


def _linked(repo) -> set[tuple[str, str, str]]:
    return {li.source for m in repo.registry.names() for li in repo.registry.links(m)}


def _trash_to_purge(repo, opts: GcOptions, now: float) -> list[tuple[str, str, str]]:
    """Trash older than the retention, except versions a registry link points at."""
    out, linked = [], _linked(repo)
    for refname, parsed in reach.mvc_refs(repo.meta):
        if parsed[0] != "artifact":
            continue
        for vref in reach.version_refs(repo.meta, parsed, reach.tip_commit(repo.meta, refname).tree):
            if vref.kind == "trash" and (vref.deleted_at or 0) < now - opts.retention_s and vref.key not in linked:
                out.append(vref.key)
    return sorted(out)


def _to_expire(repo, keep_last: int | None) -> list[tuple[str, str, str]]:
    if not keep_last or keep_last < 1:
        return []
    linked, out = _linked(repo), []
    for project, name in repo.artifacts.list():
        st = repo.artifacts.state(project, name)
        for v in repo.artifacts.version_names(st)[:-keep_last]:
            if not st.aliases_of(v) and (project, name, v) not in linked:
                out.append((project, name, v))
    return out


# ---- sweep candidates ------------------------------------------------------------
def cutoff(repo, opts: GcOptions, now: float) -> float:
    """Chunks written or freshened after this time are kept whatever the marks say."""
    t = now - opts.grace_s
    for le in lease.live_leases(repo.path):
        skew = SAME_HOST_SKEW_S if le.host == lease.hostname() else OTHER_HOST_SKEW_S
        t = min(t, le.start - skew)
    return t


TEMP_FOLDERS = (("tmp", ""), ("leases", ".tmp-"), ("objects/pack", ".tmp-"), ("objects", "tmp_object_git2_"))


def _old_temps(repo, before: float) -> list[str]:
    """Temp files a failed or killed write left: in tmp/, leases/, objects/pack/ (mvc's, named
    by fsutil.temp_path) and objects/ (libgit2's).  Each goes once older than ``before``, or at
    once when its name gives a writer PID that is not alive on this host, the store is on a
    local filesystem and no live lease is another host's (a container sharing the folder has
    PIDs of its own): a dead writer never renames its temp."""
    local = not on_network_fs(repo.path) and all(le.host == lease.hostname() for le in lease.live_leases(repo.path))
    out = []
    for sub, prefix in TEMP_FOLDERS:
        folder = os.path.join(repo.path, *sub.split("/"))
        try:
            names = sorted(n for n in os.listdir(folder) if n.startswith(prefix))
        except (FileNotFoundError, NotADirectoryError):
            continue
        dead = [n for n in names if local and _writer_dead(n)]
        out += [os.path.join(folder, n) for n in dead]
        out += _older_than(folder, [n for n in names if n not in dead], before)
    return sorted(set(out))


def _writer_dead(name: str) -> bool:
    pid = temp_writer_pid(name)
    return pid is not None and pid != os.getpid() and not pid_alive(pid)


def _orphan_packs(repo, before: float) -> list[str]:
    """Pack files without their index, older than ``before``, among mvc's chunk packs and the
    metadata's git packs (objects/pack/pack-*.pack): a writer renames the .pack into place just
    before its .idx, so a crash between the two leaves bytes no reader can see and nothing
    else would ever delete."""
    chunk_packs = getattr(getattr(repo.chunks, "packs", None), "folder", None)
    git_packs = os.path.join(repo.path, "objects", "pack")
    return (_unindexed(chunk_packs, "", before) if chunk_packs else []) + _unindexed(git_packs, "pack-", before)


def _unindexed(folder: str, prefix: str, before: float) -> list[str]:
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    return _older_than(folder, [n for n in names if n.startswith(prefix) and n.endswith(".pack")
                                and not os.path.exists(os.path.join(folder, n[:-5] + ".idx"))], before)


def _remove_orphan_pack(path: str, before: float, tmp: str) -> bool:
    """Delete the index-less pack ``path`` if it still is one older than ``before``; True if
    deleted.  It is first renamed aside into ``tmp`` and judged there: a writer that renames the
    same pack (packs are named by their content) into place meanwhile gets its copy back at
    once, never an .idx left without its .pack."""
    os.makedirs(tmp, exist_ok=True)
    aside = temp_path(tmp, os.path.basename(path))
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    if os.stat(aside).st_mtime < before and not os.path.exists(path[:-5] + ".idx"):
        os.unlink(aside)
        return True
    try:
        os.link(aside, path)  # a writer's fresh copy: put it back (unless it has written one anew)
    except FileExistsError:
        pass
    os.unlink(aside)
    return False


def _older_than(folder: str, names: list[str], before: float) -> list[str]:
    """The paths of ``names`` in ``folder`` last modified before ``before`` (gone ones skipped)."""
    out = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            if os.lstat(path).st_mtime < before:
                out.append(path)
        except FileNotFoundError:
            continue
    return out


def _unmarked_old(repo, marked: set, before: float) -> tuple[list[str], int, int]:
    out, total, young = [], 0, 0
    for cid in repo.chunks.ids():
        if cid in marked:
            continue
        try:
            if repo.chunks.mtime(cid) >= before:
                young += 1
                continue
            total += repo.chunks.stored_size(cid)
        except (FileNotFoundError, KeyError):
            continue
        out.append(cid)
    return out, total, young


def plan(repo, opts: GcOptions | None = None, now: float | None = None) -> GcPlan:
    opts = opts or GcOptions()
    now = time.time() if now is None else now
    repo.meta.forget_checked()  # gc deletes by what it reads: each loose object is checked afresh, once per run
    p = GcPlan(expire=_to_expire(repo, opts.keep_last), purge=_trash_to_purge(repo, opts, now))
    marked = mark(repo, opts, now, set(p.purge))
    p.marked = len(marked)
    p.cutoff = cutoff(repo, opts, now)
    p.chunks, p.bytes, p.kept_young = _unmarked_old(repo, marked, p.cutoff)
    p.temps = _old_temps(repo, now - opts.grace_s)
    p.orphan_packs = _orphan_packs(repo, p.cutoff)
    p.leases = [le.path for le in lease.list_leases(repo.path) if le.stale(now)]
    p.cache, p.cache_bytes = _cache_to_trim(repo, p.cutoff)
    return p


def _cache_to_trim(repo, keep_after: float) -> tuple[list[str], int]:
    """The whole-file cache's least recently used entries beyond its size limit."""
    from ..store.linkmodes import cache_limit, cache_to_trim, cached_files
    trim = cache_to_trim(cached_files(repo.path), cache_limit(repo.path), keep_after)
    return [e.path for e in trim], sum(e.size for e in trim)


# ---- execute ------------------------------------------------------------------
def _purge_trash(repo, project: str, name: str, versions: list[str], before: float) -> None:
    meta = repo.meta

    def edit(tip):
        gone = []
        for v in versions:
            sub = meta.subtree(tip.tree, version_path(v, trash=True)) if tip is not None else None
            if sub is not None and (meta.json(sub, "version.json", {}).get("deleted_at") or 0) < before:
                gone.append(v)
        if not gone:
            raise NoChange()
        tree = meta.edit_tree(tip.tree, {version_path(v, trash=True): None for v in gone})
        return TreeEdit(tree, f"purge {name}:{', '.join(gone)} from the trash\n\nMvc-Op: purge\n"
                              f"Mvc-Version: {' '.join(gone)}\n")

    meta.update(refs.artifact(project, name), edit, crash_at)


def _apply_ref_changes(repo, p: GcPlan, opts: GcOptions, now: float) -> None:
    for project, name, v in p.expire:
        try:
            repo.artifacts.delete_version(project, name, v, delete_aliases=False)
        except (ConflictError, NotFoundError):
            continue  # aliased or gone meanwhile: keep it
    by_artifact: dict[tuple[str, str], list[str]] = {}
    for project, name, v in p.purge:
        by_artifact.setdefault((project, name), []).append(v)
    for (project, name), versions in by_artifact.items():
        _purge_trash(repo, project, name, versions, now - opts.retention_s)


def _delete_chunks(repo, chunks: list[str], before: float) -> list[str]:
    """Delete the chunks no writer freshened since the plan, each pack
    rewritten once per half (the rewrite keeps the pack's mtime, so it does not
    pass for a writer's freshen; packs.rewrite_without)."""
    done = []
    for cid in chunks:
        try:
            if repo.chunks.mtime(cid) >= before:
                continue  # a writer freshened it since the plan
        except (FileNotFoundError, KeyError, NotFoundError):
            continue
        done.append(cid)
    half = len(done) // 2
    repo.chunks.delete_many(done[:half])
    if done:
        crash_at("gc:mid-sweep")
    repo.chunks.delete_many(done[half:])
    return done


def _remove_paths(paths: list[str]) -> None:
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def run(repo, opts: GcOptions | None = None, dry_run: bool = False, now: float | None = None) -> GcPlan:
    """Plan, and unless ``dry_run`` execute: ref changes first, then a second
    mark (a version restored or linked meanwhile is kept), then the sweep."""
    opts = opts or GcOptions()
    now = time.time() if now is None else now
    if not dry_run:
        require_writable(repo.path, "collect garbage")
    p = plan(repo, opts, now)
    if dry_run:
        return p
    return execute(repo, p, opts, now)


def execute(repo, p: GcPlan, opts: GcOptions, now: float) -> GcPlan:
    """Carry out plan ``p`` (made at ``now``); return it as done."""
    crash_at("gc:after-plan")
    _apply_ref_changes(repo, p, opts, now)
    crash_at("gc:after-purge")
    still = mark(repo, opts, now, set())
    before = min(p.cutoff, cutoff(repo, opts, time.time()))
    p.chunks = _delete_chunks(repo, [c for c in p.chunks if c not in still], before)
    crash_at("gc:after-sweep")
    _remove_paths(p.temps)
    # Again, now: a writer may have given one its index, or written the same pack anew, since the plan.
    still = set(_orphan_packs(repo, before))
    tmp = os.path.join(repo.path, "tmp")
    p.orphan_packs = [path for path in p.orphan_packs if path in still and _remove_orphan_pack(path, before, tmp)]
    p.leases = [le.path for le in lease.remove_stale(repo.path) if le.path in p.leases]
    p.cache, p.cache_bytes = _trim_cache(p.cache, min(before, cutoff(repo, opts, time.time())))
    return p


def _trim_cache(paths: list[str], keep_after: float) -> tuple[list[str], int]:
    """Remove the planned cache entries not used since the plan (each looked at again, now)."""
    from ..store.linkmodes import remove_cached
    done, total = [], 0
    for path in paths:
        try:
            size = os.lstat(path).st_size
        except FileNotFoundError:
            continue
        if remove_cached(path, keep_after):
            done.append(path)
            total += size
    return done, total


def parse_duration(text: str | float) -> float:
    """Seconds from '90', '90s', '30m', '1.5h', '14d', '2w' (``mvc.durations``); UsageError otherwise."""
    try:
        return durations.parse_duration(text)
    except ValueError as e:
        from ..errors import UsageError
        raise UsageError(str(e), f"write it as {durations.FORMS}") from None
