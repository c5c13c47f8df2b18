"""Store upkeep for Python users and the CLI alike: create a store, collect garbage,
check it (fsck), re-read one version (verify), measure it (du), clear stale locks
(unlock), and convert an old format (migrate).  `mvc init|gc|fsck|verify|du|unlock|migrate`
are these calls plus printing; ``Api`` offers the same as methods (``api.gc(dry_run=True)``)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .. import durations
from ..errors import UsageError
from ..repo import layout
from ..repo import migrate as _migrate


def migrate(dir: str | None = None, dry_run: bool = False) -> "_migrate.Report":
    """Convert the store at ``dir`` (else MVC_DIR, else the nearest .mvc above the working
    directory) to the current format in place, or with ``dry_run`` say what that would do.
    Returns the report (chunks re-hashed, refs renamed, commits rewritten, ...)."""
    return _migrate.migrate(layout.find_store(dir, create=False), dry_run=dry_run)


# ---- init --------------------------------------------------------------------------
def store_target(dir: str | None = None) -> str:
    """Where `mvc init` puts a store: ``dir`` itself when it is (or is named) a store,
    else ``dir/.mvc``; without ``dir``, ``<project root>/.mvc`` (the top of the enclosing
    git work tree, or the working directory)."""
    if dir:
        path = os.path.abspath(dir)
        if layout.is_store(path) or os.path.basename(path) == layout.STORE_DIR:
            return path
        return os.path.join(path, layout.STORE_DIR)
    return os.path.join(layout.project_root(os.getcwd()), layout.STORE_DIR)


def init_store(dir: str | None = None) -> tuple[str, bool]:
    """Create a store at ``store_target(dir)``; (its path, whether it was new).  An existing
    store is left as it is (its format is still checked: a newer one is refused)."""
    target = store_target(dir)
    existed = layout.is_store(target)
    layout.create_store(target)
    layout.check_format(target)
    return target, not existed


# ---- gc ----------------------------------------------------------------------------
def _seconds(value, option: str) -> float:
    """A duration in the one grammar (mvc.durations): 3600, "90s", "1.5h", "14d"."""
    try:
        return durations.parse_duration(value)
    except ValueError as e:
        raise UsageError(f"{option}: {e}", f"write it as {durations.FORMS}") from None


@dataclass
class GcReport:
    """What gc deleted (or, with ``dry_run``, would delete).  Times are ISO 8601 UTC strings."""

    dry_run: bool
    chunks: list[str] = field(default_factory=list)
    bytes: int = 0
    purge: list[str] = field(default_factory=list)     # trash entries removed for good (proj/NAME:vN)
    expire: list[str] = field(default_factory=list)    # versions moved to the trash by keep_last
    temps: list[str] = field(default_factory=list)
    orphan_packs: list[str] = field(default_factory=list)
    leases: list[str] = field(default_factory=list)
    marked: int = 0
    kept_young: int = 0
    cutoff: str | None = None                          # chunks older than this were eligible
    _lines: list[str] = field(default_factory=list, repr=False)
    cache: list[str] = field(default_factory=list)     # whole files trimmed from the cache (LRU, to its limit)
    cache_bytes: int = 0
    clones: list[str] = field(default_factory=list)    # folders of killed clones beside the store (DIR/.mvc-clone-<pid>)

    def lines(self) -> list[str]:
        """One line per thing deleted (``expire``, ``purge``, ``chunk``, ``temp``, ``pack``, ``lease``, ``cache``,
        ``clone``)."""
        return list(self._lines) + [f"clone {c}" for c in self.clones]

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


def gc(repo, dry_run: bool = False, grace="1h", retention="14d", keep_last: int | None = None) -> GcReport:
    """Plan, and unless ``dry_run`` carry out, a garbage collection (docs/format.md, "gc").
    ``grace`` and ``retention`` are durations (seconds or text such as "1h", "14d")."""
    from ..repo import gc as _gc
    from .artifact import iso
    if keep_last is not None and (isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 0):
        raise UsageError(f"keep_last must be a whole number of versions (0 or more), not {keep_last!r}",
                         "pass e.g. 3, or leave it out to keep every version")
    opts = _gc.GcOptions(_seconds(grace, "grace"), _seconds(retention, "retention"), keep_last)
    plan = _gc.run(repo, opts, dry_run=dry_run)
    d = plan.to_json()
    return GcReport(dry_run, d["chunks"], d["bytes"], d["purge"], d["expire"], d["temps"], d["orphan_packs"],
                    d["leases"], d["marked"], d["kept_young"], iso(d["cutoff"]) if d["cutoff"] else None,
                    plan.lines(), cache=d["cache"], cache_bytes=d["cache_bytes"], clones=_dead_clones(repo, dry_run))


def _dead_clones(repo, dry_run: bool) -> list[str]:
    """The ``.mvc-clone-<pid>`` folders that killed clones left beside this store (removed unless
    ``dry_run``); a live clone's is never touched (remote/clone.py)."""
    from ..remote import clone
    root = clone.store_root(repo.path)
    if root is None:
        return []
    return clone.stale_staging(root) if dry_run else clone.remove_stale_staging(root)


# ---- fsck, verify, du, unlock ---------------------------------------------------------
def fsck(repo, sample: float | None = None, git: bool = True, repair: bool = False):
    """Check the whole store (docs/format.md, "fsck").  With ``repair``, damaged refs are first
    pointed back at their newest commit, and corrupt chunks set aside so a re-log writes them
    back; ``report.repaired`` lists (ref, commit) for each ref repaired.  ``report.ok`` is
    False when an error was found; it never raises for what it finds."""
    from ..repo import fsck as _fsck
    if sample is not None and not (isinstance(sample, (int, float)) and 0 < sample <= 1):
        raise UsageError(f"sample must be a share in (0, 1], not {sample!r}", "pass e.g. 0.1 for a tenth of the chunks")
    repaired = _fsck.repair_refs(repo) if repair else []

    def remote_trees():  # only when chunks are absent: a --no-bytes clone's are "not fetched", not lost
        from ..remote.lazy import remote_trees
        return remote_trees(repo)
    report = _fsck.fsck(repo, sample=sample, git=git, quarantine=repair, remote_trees=remote_trees)
    report.repaired = repaired
    _report_dead_clones(repo, report, repair)
    return report


def _report_dead_clones(repo, report, repair: bool) -> None:
    """A warning for each folder a killed clone left beside the store; --repair removes them
    (fsck changes nothing without it; `mvc gc` removes them too)."""
    from ..remote import clone
    from ..repo.fsck import Problem
    root = clone.store_root(repo.path)
    if root is None:
        return
    removed = set(clone.remove_stale_staging(root)) if repair else set()
    for path in sorted(removed | set(clone.stale_staging(root))):
        gone = path in removed
        report.problems.append(Problem(
            "stale-clone", path, path, f"{path} is the folder of a clone that was killed"
            + (" (removed)" if gone else ""), fix="nothing: removed" if gone else
            "`mvc gc` or `mvc fsck --repair` removes it", severity="info" if gone else "warning"))


def du(repo, project: str | None, name: str | None = None) -> dict:
    """Logical bytes, stored bytes and the dedup ratio: of ``name``'s versions when given, else of
    the store and each artifact of ``project`` (None: every project).  Fields: docs/cli.md, `du`."""
    from ..repo import usage
    if name:
        return usage.artifact_usage(repo, project, name)[0]
    return usage.store_usage(repo, project)


def unlock(repo, force: bool = False) -> list[dict]:
    """Remove ref locks and leases left by writers that are provably gone (``force``: every one,
    when no mvc process runs); each found one as {kind, path, host, pid, age, stale, removed, detail}."""
    from ..repo.unlock import unlock as _unlock
    return _unlock(repo.path, force)
