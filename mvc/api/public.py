"""Api: query a store without starting a run."""
from __future__ import annotations

from ..errors import NotFoundError
from ..errors import InvalidNameError
from ..names import check_alias, check_name, parse_address
from ..repo import Repository
from . import lineage
from .artifact import Artifact, RegisteredModel
from .runs import RunRecord


class Api:
    def __init__(self, dir: str | None = None, project: str | None = None, create: bool = False):
        self.repo = Repository.find(dir, create=create)
        self.project = project or self.repo.default_project

    def artifact(self, address: str) -> Artifact:
        v, link = self.repo.resolve(address, self.project)
        return Artifact(self.repo, v, link)

    def artifacts(self, name: str, project: str | None = None, alias: str | None = None, tag: str | None = None,
                  type: str | None = None, since: float | None = None, deleted: bool = False) -> list[Artifact]:
        """Every version of ``name`` (oldest first), filtered by alias, tag, type and creation time."""
        addr = parse_address(name)
        project = addr.project or project or self.project
        st = self.repo.artifact_state(project, addr.name)
        out = [Artifact(self.repo, v) for v in self.repo.artifacts.versions(st, trash=deleted)]
        if alias:
            out = [a for a in out if alias in a.aliases]
        if tag:
            out = [a for a in out if tag in a.tags]
        if type:
            out = [a for a in out if a.type == type]
        if since is not None:
            out = [a for a in out if a._info.record.get("created_at", 0) >= since]
        return out

    def artifact_names(self, project: str | None = None, type: str | None = None) -> list[str]:
        project = project or self.project
        names = []
        for p, n in self.repo.artifacts.list(project):
            if type is None or (self.repo.artifacts.state(p, n).type == type):
                names.append(n)
        return names

    def damaged_refs(self, kind: str | None = None, project: str | None = None) -> list[dict]:
        """The refs a listing could not read: [{ref, kind, project, name, problem, label}], where ``kind``
        is artifact, registry or run (None: all).  Listings show what they could read and this."""
        from ..meta import refs
        out = []
        for ref, why in sorted(self.repo.meta.damaged_refs().items()):
            k, p, n = refs.parse(ref) or (None, None, None)
            if (kind is None or k == kind) and (project is None or p in (None, project)):
                out.append({"ref": ref, "kind": k, "project": p, "name": n, "problem": why,
                            "label": refs.describe(ref) or ref})
        return out

    def projects(self) -> list[str]:
        return sorted({p for p, _ in self.repo.artifacts.list()} | {p for p, _ in self.repo.runs.ids()})

    def registered_model(self, name: str) -> RegisteredModel:
        check_name(name, "registered model name")
        if self.repo.registry.info(name) is None:
            raise NotFoundError(f"no registered model {name!r}", "list them with `mvc registry ls`")
        return RegisteredModel(self.repo, name)

    def registered_models(self) -> list[RegisteredModel]:
        return [RegisteredModel(self.repo, n) for n in self.repo.registry.names()]

    def run(self, run_id: str) -> RunRecord:
        r = RunRecord.load(self.repo, run_id)
        if r is None:
            raise NotFoundError(f"no run with id {run_id!r}", "list runs with `mvc runs ls`")
        return r

    def runs(self, project: str | None = None) -> list[RunRecord]:
        project = project or self.project
        recs = [RunRecord(self.repo, self.repo.runs.read(p, rid)) for p, rid in self.repo.runs.ids(project)]
        return sorted(recs, key=lambda r: r.record.get("started_at", 0))

    def alias_history(self, address: str) -> list[dict]:
        addr = parse_address(address)
        if addr.registry:
            if self.repo.registry.tip(addr.name) is None:   # a deleted model keeps its history
                self.registered_model(addr.name)             # raises NotFoundError with the hint
            return self.repo.registry.alias_history(addr.name)
        project = addr.project or self.project
        self.repo.artifact_state(project, addr.name)
        return self.repo.artifacts.alias_history(project, addr.name)

    def lineage(self, address: str, direction: str = "both", depth: int | None = None) -> lineage.Graph:
        """The lineage graph of a version (an address) or a run (``run:<id>``)."""
        if address.startswith("run:"):
            self.run(address[4:])
            return lineage.build(self.repo, address, direction, depth)
        v, _ = self.repo.resolve(address, self.project)
        return lineage.build(self.repo, f"artifact:{v.project}/{v.name}:{v.version}", direction, depth)

    def diff(self, a: str, b: str) -> dict:
        """What changed from version ``a`` to version ``b`` (any two addresses): files, tensors and
        JSON keys, as the JSON object docs/cli.md documents under `mvc diff`."""
        from .diff import diff
        return diff(self.repo, self.project, a, b)

    def stats(self) -> dict:
        """What the store holds (for `mvc status`): counts of artifacts, versions, models, runs, chunks."""
        arts = self.repo.artifacts
        live = deleted = 0
        for p, n in arts.list():
            st = arts.state(p, n)
            live += len(arts.version_names(st))
            deleted += len(arts.version_names(st, trash=True))
        chunk_ids = list(self.repo.chunks.ids())
        return {"store": self.repo.path, "format": self.repo.format.get("format"), "project": self.project,
                "projects": self.projects(), "artifacts": len(arts.list()), "versions": live,
                "deleted_versions": deleted, "registered_models": len(self.repo.registry.names()),
                "runs": len(self.repo.runs.ids()), "chunks": len(chunk_ids),
                "chunk_bytes": sum(self.repo.chunks.stored_size(c) for c in chunk_ids)}

    # ---- alias moves and restore (used by `mvc alias` and `mvc restore`) ----
    def set_alias(self, address: str, alias: str, force: bool = False) -> str | None:
        """Point ``alias`` at the version (or registry link) ``address`` names; return its old target.
        A protected alias (``protect_alias``) moves only with ``force`` (or a pre-alias hook's yes)."""
        with self.repo.events.forcing(force):
            return self._set_alias(address, alias)

    def _set_alias(self, address: str, alias: str) -> str | None:
        check_alias(alias)
        addr = parse_address(address)
        if addr.registry:
            li = self.repo.resolve_link(addr)
            return self.repo.registry.set_alias(addr.name, li.link, alias)
        v, _ = self.repo.resolve(addr, self.project)
        return self.repo.artifacts.set_alias(v.project, v.name, v.version, alias)

    def remove_alias(self, name: str, alias: str, force: bool = False) -> str | None:
        """Remove ``alias`` from artifact ``name`` (or ``registry/<model>``); return the version it named.
        A protected alias goes only with ``force`` (or a pre-alias hook's yes)."""
        with self.repo.events.forcing(force):
            return self._remove_alias(name, alias)

    def _remove_alias(self, name: str, alias: str) -> str | None:
        check_alias(alias)
        addr = _bare(name)
        if addr.registry:
            return self.registered_model(addr.name).remove_alias(alias)
        project = addr.project or self.project
        self.repo.artifact_state(project, addr.name)
        return self.repo.artifacts.set_alias(project, addr.name, "", alias, remove=True)

    def restore(self, address: str) -> "Artifact":
        """Bring a soft-deleted version (``name:v<N>``) back from the trash."""
        addr = parse_address(address)
        if addr.registry or not addr.version:
            raise InvalidNameError(f"{address!r} does not name a version", "write NAME:v<N>, e.g. MNIST:v2")
        project = addr.project or self.project
        self.repo.artifacts.restore_version(project, addr.name, addr.version)
        return self.artifact(f"{project}/{addr.name}:{addr.version}")

    # ---- store upkeep (mvc.api.upkeep; `mvc init|gc|fsck|verify|du|unlock` call these) ----
    @classmethod
    def create(cls, dir: str | None = None, project: str | None = None) -> "Api":
        """Create a store as `mvc init` does (at ``dir``, else ``<project root>/.mvc``) and return an
        Api on it; ``api.created`` is False when the store was already there (it is left as it is)."""
        from . import upkeep
        path, created = upkeep.init_store(dir)
        api = cls(path, project)
        api.created = created
        return api

    def gc(self, dry_run: bool = False, grace="1h", retention="14d", keep_last: int | None = None):
        """Delete what nothing reaches (``dry_run``: only say what); an upkeep.GcReport."""
        from . import upkeep
        return upkeep.gc(self.repo, dry_run=dry_run, grace=grace, retention=retention, keep_last=keep_last)

    def fsck(self, sample: float | None = None, git: bool = True, repair: bool = False):
        """Check the whole store; a report whose ``ok`` is False when something is wrong."""
        from . import upkeep
        return upkeep.fsck(self.repo, sample=sample, git=git, repair=repair)

    def verify(self, address: str) -> Artifact:
        """Re-read every byte of the version ``address`` names; IntegrityError naming each bad file."""
        art = self.artifact(address)
        art.verify()
        return art

    def du(self, name: str | None = None, all_projects: bool = False) -> dict:
        """Logical and stored bytes and the dedup ratio, of artifact ``name`` or of the store."""
        from . import upkeep
        if name:
            addr = parse_address(name)
            return upkeep.du(self.repo, addr.project or self.project, addr.name)
        return upkeep.du(self.repo, None if all_projects else self.project)

    def unlock(self, force: bool = False) -> list[dict]:
        """Clear the locks and leases of writers that are gone (``force``: every one)."""
        from . import upkeep
        return upkeep.unlock(self.repo, force=force)

    # ---- protected aliases, store events, webhooks, mvc.lock (mvc/api/hooks.py) ----
    def protect_alias(self, name: str, alias: str) -> bool:
        """Make moving ``alias`` of artifact ``name`` (or ``registry/<model>``) need force=True
        (`--force`) or a pre-alias hook's yes; one commit in its history.  False if it already was."""
        from . import hooks
        return hooks.protect(self, name, alias, True)

    def unprotect_alias(self, name: str, alias: str) -> bool:
        from . import hooks
        return hooks.protect(self, name, alias, False)

    def protected_aliases(self, name: str) -> list[str]:
        from . import hooks
        return hooks.protected_aliases(self, name)

    def add_webhook(self, url: str, events, secret_env: str | None = None) -> dict:
        """POST every matching store event to ``url`` (``events``: 'link,alias:REGEX'), signed with the
        secret in the environment variable ``secret_env`` (read at each delivery, never stored)."""
        from ..hooks import webhooks
        return webhooks.add(self.repo.path, url, events, secret_env)

    def webhooks(self) -> list[dict]:
        from ..hooks import webhooks
        return webhooks.load(self.repo.path)

    def remove_webhook(self, key: str) -> dict:
        from ..hooks import webhooks
        return webhooks.remove(self.repo.path, key)

    def webhook_log(self, limit: int | None = None) -> list[dict]:
        from ..hooks import webhooks
        return webhooks.read_log(self.repo.path, limit)

    def run_pending_events(self, retry_failed: bool = False) -> dict:
        """Deliver store events an ended process left undelivered (``retry_failed``: and every failed
        webhook delivery, now); counts, including what opening the store delivered."""
        from . import hooks
        return hooks.run_pending(self, retry_failed)

    def lock_check(self, lockfile: str | None = None) -> dict:
        """Are the pins of mvc.lock present and intact in this store, and their folders as pinned?"""
        from . import lock
        return lock.check(self, lockfile)

    def use_locked(self, lockfile: str | None = None, keys: list[str] | None = None, progress=None,
                   run=None) -> list[dict]:
        """Materialise every pin of mvc.lock (or those in ``keys``) into its folder, exactly (each
        recorded as an input of ``run`` when given)."""
        from . import lock
        return lock.use_locked(self, lockfile, keys, progress, run)


def _bare(name: str):
    addr = parse_address(name)
    if addr.version or addr.alias or addr.digest:
        raise InvalidNameError(f"{name!r} names a version; give the artifact name alone",
                               "write e.g. MNIST or registry/MNIST-prod")
    return addr
