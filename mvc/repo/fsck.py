"""fsck: re-hash chunks, check every pointer resolves, run `git fsck` on the
metadata, and name each problem with the versions it affects and the command
that repairs or removes it."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field

from ..errors import FormatError, IntegrityError, MvcError, NotFoundError
from ..fsutil import atomic_write
from ..meta import recover, refstore
from ..meta.locks import lock_info, lock_is_stale
from ..store.digest import hash_file
from . import lease, manifest, reach


AFFECTS_SHOWN = 20  # versions named per problem in the text report


@dataclass
class Problem:
    kind: str              # corrupt-chunk | missing-chunk | bad-pointer | bad-ref | git-fsck | corrupt-pack-index |
    #                        corrupt-git-pack | corrupt-whole-file | stale-lock | stale-lease | bad-path | bad-digest
    #                        | not-fetched (info: absent here, a remote has them) | stale-clone (api/upkeep.py)
    object: str            # chunk id, ref name, lock or lease path
    file: str | None       # the store file that holds it, when there is one
    message: str
    versions: list[str] = field(default_factory=list)
    fix: str = ""
    severity: str = "error"  # error | warning | info (neither fails fsck)

    def text(self) -> str:
        out = f"{self.severity}: {self.message}"
        if self.versions:  # a --no-bytes clone's "not fetched" can name thousands: --json lists them all
            shown = self.versions[:AFFECTS_SHOWN]
            more = len(self.versions) - len(shown)
            out += "\n  affects: " + ", ".join(shown) + (f" and {more} more (`mvc fsck --json` lists all)" if more else "")
        if self.fix:
            out += "\n  fix: " + self.fix
        return out


@dataclass
class FsckReport:
    problems: list[Problem] = field(default_factory=list)
    chunks_total: int = 0
    chunks_hashed: int = 0
    pointers: int = 0
    versions: int = 0
    git_checked: bool = False
    chunks_not_fetched: int = 0  # absent here, held by a remote that has the versions using them
    vrefs: list = field(default_factory=list, repr=False)  # every version read (names git fsck's findings)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def affected(self) -> set[str]:
        return {v for p in self.problems if p.severity == "error" for v in p.versions}

    def to_json(self) -> dict:
        return {"ok": self.ok, "chunks_total": self.chunks_total, "chunks_hashed": self.chunks_hashed,
                "pointers": self.pointers, "versions": self.versions, "git_checked": self.git_checked,
                "chunks_not_fetched": self.chunks_not_fetched, "problems": [asdict(p) for p in self.problems]}


def fix_for(labels: list[str], kind: str = "missing-chunk", aside: bool = False) -> str:
    """The command that repairs or removes each affected version.  A corrupt chunk must be set
    aside first (`mvc fsck --repair`): a log trusts a chunk the store has."""
    first = "" if kind != "corrupt-chunk" or aside else "run `mvc fsck --repair` to set its bytes aside, then "
    return (first + "re-log the original files (`mvc log PATH --name NAME`) to write the chunk back, "
            "or pull it from a remote; or remove: " + _remove(labels))


def _remove(labels: list[str]) -> str:
    cmds = []
    for label in labels:
        base = label.replace(" (deleted)", "")
        if label.startswith("registry/"):
            cmds.append(f"`mvc registry unlink {base[len('registry/'):]}`")
        elif label.endswith("(deleted)"):
            cmds.append(f"leave {base} to `mvc gc` (it is in the trash)")
        else:
            cmds.append(f"`mvc delete {base}`")
    return "; ".join(cmds)


def _removal(labels: list[str]) -> str:
    """The fix for damaged metadata: restore it, or remove the versions it affects."""
    return "restore the metadata from a remote (`mvc pull`) or a backup" + (
        "; or remove: " + _remove(labels) if labels else "")


# ---- pointers -----------------------------------------------------------------
def _uses(repo, report: FsckReport) -> dict[str, list[str]]:
    """chunk id -> labels of the versions that need it; bad refs and pointers become problems."""
    uses: dict[str, list[str]] = {}
    _damaged_refs(repo, report)
    try:
        named = reach.mvc_refs(repo.meta)
    except (FormatError, IntegrityError) as e:
        if isinstance(e, FormatError):
            report.problems.append(Problem("bad-ref", "refs/mvc", None, e.message, fix=e.hint))
        named = [(r, p) for r in repo.meta.refnames() if (p := reach.refs.parse(r))]
    for refname, parsed in named:
        try:
            vrefs = list(reach.version_refs(repo.meta, parsed, reach.tip_commit(repo.meta, refname).tree))
        except MvcError as e:  # the tip commit or its tree is damaged: name what its newest readable commit held
            found = recover.lost_tip(repo.meta, refname)
            held = (f"; {reach.refs.describe(refname)} held {', '.join(found.versions)} at its newest readable commit "
                    f"{found.commit[:12]}, and maybe more since" if found and found.versions else "")
            report.problems.append(Problem("bad-ref", refname, _ref_file(repo, refname), e.message + held,
                                           _found_labels(refname, found),
                                           fix="restore the metadata from a remote (`mvc pull`) or a backup"))
            continue
        for vref in vrefs:
            report.versions += 1
            report.vrefs.append(vref)
            _version_uses(repo, vref, uses, report)
    return uses


def _version_uses(repo, vref, uses: dict, report: FsckReport) -> None:
    entries = []
    try:
        for path, ptr in reach.pointers(repo.meta, vref):
            entries.append((path, ptr))
            report.pointers += 1
            for cid, _ in ptr.chunks:
                labels = uses.setdefault(cid, [])
                if not labels or labels[-1] != vref.label:
                    labels.append(vref.label)
    except MvcError as e:
        report.problems.append(Problem("bad-pointer", vref.label, None, e.message, [vref.label],
                                       _removal([vref.label])))
        return
    for kind, message in manifest.manifest_problems(repo.meta, vref, entries):  # paths, digest
        report.problems.append(Problem(kind, vref.label, None, message, [vref.label], _removal([vref.label])))


def _damaged_refs(repo, report: FsckReport) -> None:
    """A problem for each ref that cannot be read, naming what it held (from its newest commit,
    found by ``recover.lost_tip``) and how `mvc fsck --repair` puts it back."""
    for refname, why in sorted(repo.meta.damaged_refs().items()):
        label = reach.refs.describe(refname) or refname
        found = recover.lost_tip(repo.meta, refname) if reach.refs.parse(refname) else None
        report.problems.append(Problem(
            "damaged-ref", refname, _ref_file(repo, refname), f"ref {refname} ({label}) is damaged: {why}",
            _found_labels(refname, found), _repair_text(repo, refname, found)))


def _found_labels(refname: str, found) -> list[str]:
    kind, project, name = reach.refs.parse(refname) or (None, None, None)
    if found is None or kind == "run":
        return [f"run {project}/{name}"] if kind == "run" else []
    base = f"registry/{name}" if kind == "registry" else f"{project}/{name}"
    return [f"{base}:{v}" for v in found.versions]


def _repair_text(repo, refname: str, found) -> str:
    if found is None:
        return (f"no commit of it is left in the store: restore {_ref_file(repo, refname)} from a backup, "
                "or pull the metadata from a remote; nothing else reads this ref until then")
    return (f"`mvc fsck --repair` points it back at its newest commit {found.commit[:12]} "
            f"(made {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(found.when))})")


def repair_refs(repo) -> list[tuple[str, str]]:
    """Point each damaged ref whose newest commit is found back at it; (refname, commit) for each.
    A ref file is replaced (the one atomic-write helper) only if it is still damaged when read
    just before: another process may have repaired it meanwhile."""
    done = []
    for refname in sorted(repo.meta.damaged_refs()):
        found = recover.lost_tip(repo.meta, refname) if reach.refs.parse(refname) else None
        if found is None:
            continue
        path = _ref_file(repo, refname)
        try:
            with open(path, "rb") as f:
                before = f.read()
        except FileNotFoundError:
            before = None  # damaged in packed-refs: a loose file overrides it
        except IsADirectoryError:
            continue
        if before is not None and refstore.parse_loose(before) is not None:
            continue  # repaired meanwhile
        atomic_write(path, (found.commit + "\n").encode())
        done.append((refname, found.commit))
    return done


def _ref_file(repo, refname: str) -> str:
    return os.path.join(repo.path, *refname.split("/"))


# ---- chunks -------------------------------------------------------------------
def _chunk_file(repo, cid: str) -> str | None:
    path = getattr(repo.chunks, "path", None)
    return path(cid) if callable(path) else None


def _check_chunks(repo, uses: dict, sample: float | None, report: FsckReport, quarantine: bool = False,
                  remote_trees=None) -> None:
    present = set(repo.chunks.ids())
    report.chunks_total = len(present)
    packs = getattr(repo.chunks, "packs", None)
    for pack_id, why in sorted(getattr(packs, "bad", {}).items()):
        path = packs.path(pack_id, "idx")
        report.problems.append(Problem("corrupt-pack-index", path, path, why + "; its chunks are unreachable",
                                       fix="the versions listed under missing chunks need them: re-log their "
                                           "files or pull them, then `mvc gc`; or restore the .idx from a backup"))
    rng = random.Random()
    for cid in sorted(present):
        if sample is not None and sample < 1 and rng.random() >= sample:
            continue
        report.chunks_hashed += 1
        try:
            repo.chunks.get(cid)
        except IntegrityError as e:
            message = _set_aside(repo, cid, e.message, report) if quarantine else e.message
            if message is not None:
                _chunk_problem(repo, "corrupt-chunk", cid, message, uses, report, aside=quarantine)
        except NotFoundError:
            present.discard(cid)  # removed by gc while we looked: judged below
    absent = [cid for cid in sorted(uses) if cid not in present and not repo.chunks.has(cid)]
    unfetched = _not_fetched(repo, absent, uses, report, remote_trees)
    for cid in absent:
        if cid not in unfetched:
            aside = repo.chunks.quarantined(cid)
            _chunk_problem(repo, "missing-chunk", cid, f"chunk {cid} is missing from the store" + (
                f" (an earlier fsck set its corrupt bytes aside as {', '.join(aside)})" if aside else ""), uses, report)


def _not_fetched(repo, absent: list[str], uses: dict, report: FsckReport, remote_trees) -> set[str]:
    """The absent chunks that are not damage but bytes never fetched (a `--no-bytes` clone or
    pull): some version using each is held by a remote whose bytes storage is known, as its last
    fetch recorded (``remote_trees()``: version tree id -> remote; the caller's, no network call).
    A remote holds every chunk its refs reach (a push sends bytes before names), so a `use`
    fetches them.  One informational problem per remote; the set of such chunks is returned.
    A chunk an earlier fsck set aside as corrupt stays damage."""
    if not absent or remote_trees is None:
        return set()
    held = remote_trees()
    if not held:
        return set()
    tree_of = {v.label: str(v.tree) for v in report.vrefs}
    by_remote: dict[str, tuple[set, set]] = {}
    for cid in absent:
        remote = next((held[t] for label in uses[cid] if (t := tree_of.get(label)) in held), None)
        if remote is None or repo.chunks.quarantined(cid):
            continue
        chunks, labels = by_remote.setdefault(remote, (set(), set()))
        chunks.add(cid)
        labels.update(uses[cid])
    for remote, (chunks, labels) in sorted(by_remote.items()):
        report.chunks_not_fetched += len(chunks)
        report.problems.append(Problem(
            "not-fetched", remote, None, f"{len(chunks)} chunk(s) of {len(labels)} version(s) are not fetched: "
            f"their bytes are on remote {remote} (a --no-bytes clone or pull brings metadata only)",
            sorted(labels), fix=f"`mvc use ADDRESS` fetches a version's bytes from {remote} when it is used",
            severity="info"))
    return set().union(*(chunks for chunks, _ in by_remote.values()))


def _set_aside(repo, cid: str, message: str, report: FsckReport) -> str | None:
    """Quarantine the bad copies of a corrupt chunk (ChunkStore.quarantine), so that a re-log of
    the original files writes it back (a log trusts a chunk the store has).  The message to
    report, or None when a sound copy is left (reported here, as a warning)."""
    try:
        moved = repo.chunks.quarantine(cid)
    except (OSError, MvcError) as e:  # a read-only or full store: report it as it is
        why = getattr(e, "strerror", None) or getattr(e, "message", str(e))
        return f"{message} (not set aside: {why}; a re-log cannot replace it until it is)"
    if not moved:
        return message
    where = ", ".join(moved)
    try:
        repo.chunks.get(cid)
    except MvcError:
        return f"{message}; set aside as {where}, so that a re-log of the original files writes it back"
    report.problems.append(Problem("corrupt-chunk", cid, moved[0], f"{message}; set aside as {where}; a sound "
                                   "copy is left", fix="nothing: reads use the sound copy", severity="warning"))
    return None


def _chunk_problem(repo, kind: str, cid: str, message: str, uses: dict, report: FsckReport,
                   aside: bool = False) -> None:
    labels = uses.get(cid, [])
    if not labels:
        report.problems.append(Problem(kind, cid, _chunk_file(repo, cid), message + " (no version uses it)",
                                       fix="`mvc gc` removes it", severity="warning"))
        return
    report.problems.append(Problem(kind, cid, _chunk_file(repo, cid), message, labels, fix_for(labels, kind, aside)))


# ---- git, locks, leases -----------------------------------------------------------
def git_fsck(store: str) -> tuple[bool, str]:
    """Run the real `git fsck` over the metadata; (clean, output)."""
    git = shutil.which("git")
    if git is None:
        return False, "the git binary is not installed"
    proc = subprocess.run([git, "-c", "safe.directory=*", "--git-dir", store, "fsck", "--no-dangling",
                           "--no-progress", "--strict"], capture_output=True, text=True, errors="replace",
                          timeout=600)  # a damaged tree's names need not be UTF-8
    out = (proc.stdout + proc.stderr).strip()
    return proc.returncode == 0, out


def _check_git_packs(repo, report: FsckReport) -> bool:
    """Report each damaged git pack index; False if there is one (mvc then reads no metadata,
    so which versions need which chunks is unknown: chunks are left to a fsck after the repair)."""
    bad = repo.meta.pack_problems(trust_checked=False)  # read every index, whatever was recorded
    for idx, why in sorted(bad.items()):
        report.problems.append(Problem("corrupt-git-pack", idx, idx, f"git pack index {idx} is damaged: {why}; "
                                       "no metadata is read while it is there (libgit2 can hang on it)",
                                       fix="restore the .idx and .pack from a remote or a backup (`git index-pack` "
                                           "on a sound .pack rebuilds its .idx)"))
    return not bad


def _check_git(repo, report: FsckReport) -> None:
    clean, out = git_fsck(repo.path)
    report.git_checked = True
    if not clean:
        labels = manifest.holders(repo.meta, report.vrefs, manifest.GIT_ID_RE.findall(out))  # the objects it names
        report.problems.append(Problem("git-fsck", repo.path, repo.path, "git fsck found problems in the metadata:\n    "
                                       + "\n    ".join(out.splitlines()[:50]), labels, fix=_removal(labels)))


def _check_locks(repo, report: FsckReport) -> None:
    for root, _, files in os.walk(os.path.join(repo.path, "refs")):
        for f in files:
            if f.endswith(".lock"):
                info = lock_info(os.path.join(root, f))
                if info and lock_is_stale(info):
                    report.problems.append(Problem("stale-lock", info["path"], info["path"],
                                                   f"stale ref lock {info['path']} (age {info['age']:.0f}s, "
                                                   f"{info['holders']})", fix="`mvc unlock`", severity="warning"))
    for le in lease.list_leases(repo.path):
        if le.stale():
            report.problems.append(Problem("stale-lease", le.path, le.path, f"stale {le.describe()}",
                                           fix="`mvc unlock` (or `mvc gc`) removes it", severity="warning"))


# ---- the whole-file link cache ------------------------------------------------
def _check_whole_files(repo, report: FsckReport) -> None:
    """Re-hash files/<2 hex>/<62 hex> against its name (the file's digest, composed from its
    chunk ids: the file is cut as a log cuts it, each chunk hashed once; digest.hash_file):
    hardlinked and symlinked uses hand these out as they are when the stat cache vouches for them."""
    folder = os.path.join(repo.path, "files")
    for base, _, names in os.walk(folder):
        for n in names:
            path = os.path.join(base, n)
            name = os.path.basename(base) + n
            if len(name) != 64 or n.startswith("."):
                continue
            try:
                got = hash_file(path)[0].removeprefix("blake3:")
            except OSError as e:
                got = f"unreadable ({e.strerror})"
            if got != name:
                report.problems.append(Problem(
                    "corrupt-whole-file", path, path, f"whole-file cache entry {path} is corrupt: its bytes hash to "
                    f"{got}; files hardlinked or symlinked from it share the damage",
                    fix=f"remove it (rm -f {path}): the next linked use rebuilds it from the chunks; "
                        "re-download linked copies"))


def fsck(repo, sample: float | None = None, git: bool = True, quarantine: bool = False,
         remote_trees=None) -> FsckReport:
    """Check the whole store; ``sample`` re-hashes only that share of chunks.  It changes nothing,
    unless ``quarantine`` (`mvc fsck --repair`): then the bad copies of each corrupt chunk are set
    aside (``<store>/quarantine/``), so that a re-log of the original files writes it back.
    ``remote_trees`` (called only when chunks are absent): version tree id -> the remote holding
    it, whose chunks are then "not fetched" rather than missing (the remote layer knows remotes)."""
    report = FsckReport()
    repo.meta.forget_checked()  # every loose git object fsck reads is checked afresh
    if _check_git_packs(repo, report):
        _check_chunks(repo, _uses(repo, report), sample, report, quarantine, remote_trees)
    _check_whole_files(repo, report)
    if git:
        _check_git(repo, report)
    _check_locks(repo, report)
    return report
