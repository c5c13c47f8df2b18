"""What push, fetch and pull share: the local refs, fetching a remote's refs checked into
the remote-tracking namespace, folding them into the local refs (fast-forward, create, or
replay with renumbering), and the chunks a set of tips needs."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..meta.pygit import pygit2

from ..errors import IntegrityError
from ..meta import refs, refstore
from ..meta.layout import numbered
from ..store import Pointer
from .checks import Checker
from .gitsync import GitRemote, cas, no_fsync
from .remotes import CONFIG_REF, TRACKING, tracking_ref
from .renumber import Rebaser, Renumbering

KIND_ORDER = {"artifact": 0, "registry": 1, "run": 2}
BULK = 64
_CHUNK_ID = re.compile(r"\b[0-9a-f]{64}\b")


def local_refs(meta) -> dict[str, str]:
    return dict(refstore.read_refs(meta.path, "refs/mvc/").good)


def tracking_refs(meta, remote: str) -> dict[str, str]:
    """refs/mvc/... -> hex of what ``remote`` last had, as fetched and checked."""
    prefix = f"{TRACKING}{remote}/"
    return {"refs/mvc/" + r[len(prefix):]: oid for r, oid in refstore.read_refs(meta.path, prefix).good.items()}


def ordered(refnames) -> list[str]:
    """Artifacts first (their renumbering is what links and runs follow), then registry, then runs."""
    def key(r):
        parsed = refs.parse(r)
        return (KIND_ORDER.get(parsed[0], 3) if parsed else 3, r)
    return sorted(refnames, key=key)


def has(meta, oid: str | None) -> bool:
    return oid is not None and meta.git.odb.exists(pygit2.Oid(hex=oid))


def descends(meta, new: str, old: str) -> bool:
    """``new`` is ``old`` or has it in its history (both present here)."""
    return new == old or (has(meta, old) and meta.git.descendant_of(pygit2.Oid(hex=new), pygit2.Oid(hex=old)))


def set_ref(meta, ref: str, oid: str | None) -> None:
    """Point a ref of mvc's own bookkeeping (tracking, incoming) at ``oid`` (None: delete it)."""
    if oid is None:
        if ref in meta.git.references:
            meta.git.references.delete(ref)
        return
    meta.git.references.create(ref, pygit2.Oid(hex=oid), force=True)


@dataclass
class Fetched:
    heads: dict[str, str]                                # what the remote advertised
    changed: list[str] = field(default_factory=list)     # refs whose tracking ref moved


def fetch_checked(meta, gr: GitRemote, refnames: list[str] | None = None, progress=None) -> Fetched:
    """Fetch the remote's refs (``refnames``, or all that changed since the last fetch), check
    every new commit (checks.Checker), and only then move the tracking refs."""
    name = gr.cfg.name
    heads = gr.heads()
    tracking = tracking_refs(meta, name)
    tracking_cfg = refstore.read_one(meta.path, tracking_ref_config(name))[0]
    wanted = [r for r in (refnames if refnames is not None else heads) if r in heads]
    changed = [r for r in wanted if (tracking_cfg if r == CONFIG_REF else tracking.get(r)) != heads[r]]
    missing = [r for r in changed if not has(meta, heads[r])]
    local = local_refs(meta)
    if missing:
        known = {**local, **{tracking_ref(name, r): oid for r, oid in tracking.items()}}
        gr.fetch(missing, known, progress)
    checker = Checker(meta, name)
    for r in ordered(changed):
        checker.check_ref(r, heads[r], [tracking.get(r), local.get(r)])
    with no_fsync():  # remote-tracking refs are a cache the next fetch rebuilds
        for r in changed:
            set_ref(meta, tracking_ref_config(name) if r == CONFIG_REF else tracking_ref(name, r), heads[r])
    return Fetched(heads, changed)


def tracking_ref_config(remote: str) -> str:
    return f"{TRACKING}{remote}-config"


@dataclass
class Plan:
    """How each local ref becomes what the remote has folded in: ref -> (old local or None, new)."""
    moves: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    mapping: Renumbering = field(default_factory=Renumbering)


def integrate(meta, remote_tips: dict[str, str], local: dict[str, str], selected=None) -> Plan:
    """Fold ``remote_tips`` (ref -> hex, all present here) into the local refs: a ref the store
    lacks is created, one behind is fast-forwarded, one that diverged is replayed on the
    remote's tip (renumbered); then local-only links and runs follow the new numbers.
    Nothing moves here: the plan is applied by ``apply``."""
    plan = Plan()
    rb = Rebaser(meta, plan.mapping)
    names = ordered(set(remote_tips) | set(local if selected is None else selected))
    for ref in names:
        mine, theirs = local.get(ref), remote_tips.get(ref)
        if theirs is None or mine == theirs:
            new = mine
        elif mine is None or descends(meta, theirs, mine):
            new = theirs                                     # create, or fast-forward
        elif descends(meta, mine, theirs):
            new = mine                                       # ahead: the push sends it
        else:
            new = rb.rebase(ref, mine, theirs)               # both moved on: replay ours on theirs
        if new is not None and new == mine != theirs and plan.mapping and _follows_numbers(rb, ref, new):
            new = rb.rebase(ref, mine, theirs)               # local-only links and runs follow the numbers
        if new is not None and new != mine:
            plan.moves[ref] = (mine, new)
    return plan


def _follows_numbers(rb: Rebaser, ref: str, tip: str) -> bool:
    """A registry ref or run whose records name a version that was just renumbered."""
    parsed = refs.parse(ref)
    if parsed is None or parsed[0] == "artifact":
        return False
    tree = rb.meta.commit(pygit2.Oid(hex=tip)).tree
    return rb.registry_needs_renumber(tree) if parsed[0] == "registry" else rb.run_needs_renumber(tree)


def apply(meta, plan: Plan) -> dict[str, str]:
    """Move the local refs of ``plan`` by compare-and-swap; ref -> why, for those that did not
    move.  Beyond BULK refs (a first pull of a big remote) they are written without fsync and
    made durable by one sync(2) after the last: one flush instead of one per ref.  (libgit2's
    compress_references into one packed-refs was measured superlinear: 7 s for 2,000 refs,
    32 s for 6,000; and every later ref write scans packed-refs.)"""
    failed = {}
    bulk = len(plan.moves) > BULK
    with no_fsync(bulk):
        for ref, (old, new) in plan.moves.items():
            why = cas(meta.git, ref, old, new, "mvc: fold in the remote")
            if why:
                failed[ref] = why
    if bulk:
        os.sync()
    return failed


# ---- the chunks of versions ---------------------------------------------------------------
def version_trees(meta, ref: str, tip: str | None) -> dict[str, str]:
    """version tree id -> label ('p/name:v3') of every version (and trashed one) and every
    linked version in the tree at ``tip``."""
    if tip is None or not has(meta, tip):
        return {}
    parsed = refs.parse(ref)
    if parsed is None or parsed[0] == "run":
        return {}
    tree = meta.commit(pygit2.Oid(hex=tip)).tree
    kind, project, name = parsed
    out = {}
    if kind == "artifact":
        for folder in ("versions", "trash"):
            for v, oid in numbered(meta, tree, folder):
                out[str(oid)] = f"{project}/{name}:{v}"
    else:
        for link, oid in numbered(meta, tree, "links"):
            sub = meta.subtree(meta.get(oid), "version")
            if sub is not None:
                out[str(sub.id)] = f"registry/{name}:{link}"
    return out


def new_version_trees(meta, pairs: dict[str, tuple[str | None, str]]) -> dict[str, str]:
    """The version trees the new tips hold that the old tips did not (ref -> (old, new))."""
    out: dict[str, str] = {}
    for ref, (old, new) in pairs.items():
        before = version_trees(meta, ref, old)
        out.update({oid: label for oid, label in version_trees(meta, ref, new).items() if oid not in before})
    return out


def chunks_of(repo, trees: dict[str, str]) -> dict[str, tuple[str, str, int]]:
    """chunk id -> (version label, file path, size) for every chunk of the version trees ``trees``."""
    out: dict[str, tuple[str, str, int]] = {}
    for oid, label in trees.items():
        for path, data in repo.artifacts.files(pygit2.Oid(hex=oid), label):
            ptr = Pointer.decode(data, f"{label} pointer {path!r}")
            if not ptr.is_reference:
                for cid, size in ptr.chunks:
                    out.setdefault(cid, (label, path, size))
    return out


def name_chunk(e: IntegrityError, where: dict[str, tuple[str, str, int]]) -> IntegrityError:
    """A storage integrity error, with the file and version the chunk belongs to."""
    for cid in [getattr(e, "chunk", None) or "", *_CHUNK_ID.findall(e.message)]:
        if cid in where:
            label, path, _ = where[cid]
            return IntegrityError(f"{e.message}; chunk {cid} is part of file {path!r} of {label}; nothing "
                                  "from the remote entered the store", e.hint)
    return e


def adopt_storage(meta, cfg, heads: dict) -> str | None:
    """The remote's storage URL: as configured here, else as its metadata records it (then kept
    in this store's config).  The recorded one is checked as a URL the user typed would be."""
    if cfg.storage or CONFIG_REF not in heads or not has(meta, heads[CONFIG_REF]):
        return cfg.storage
    from .checks import read_config
    from .remotes import check_storage_url, set_storage
    url = check_storage_url(read_config(meta, heads[CONFIG_REF]).get("storage"))
    if url:
        set_storage(meta.git, cfg.name, url)
        cfg.storage = url
    return url
