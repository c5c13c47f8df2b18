"""Api: query a store without starting a run."""
from __future__ import annotations

from ..errors import InvalidInputError, InvalidNameError, NotFoundError
from ..names import as_list, check_alias, check_name, check_project, parse_address
from ..repo import Repository, owners
from .artifact import Artifact, RegisteredModel

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from .lineage import Graph
    from .runs import RunRecord


class Api:
    def __init__(self, dir: str | None = None, project: str | None = None, create: bool = False, *,
                 overrides: dict | None = None, timeout=None, api_key=None):
        """``overrides`` (W&B's first argument, a dict) may set "project" and "entity": an address
        without an entity is read as that entity's (a project another entity owns is then not
        found, as ``entity/project/...`` is); ``timeout`` and ``api_key`` change nothing for a
        local store."""
        if isinstance(dir, dict):  # W&B's Api({"project": ...})
            overrides, dir = dir, None
        overrides = dict(overrides or {})
        self.repo = Repository.find(dir, create=create)
        self.project = project or overrides.get("project") or self.repo.default_project
        self.project_given = bool(project or overrides.get("project"))  # not the folder's name
        self.entity = overrides.get("entity")

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """The version an address names (W&B's ``Api().artifact(name, type=None)``: ``type``, if
        given, must be the version's type)."""
        v, link = self.repo.resolve(name, self.project, self.entity)
        art = Artifact(self.repo, v, link)
        if type is not None and art.type != type:
            raise InvalidInputError(f"{art.address} has type {art.type!r}, not {type!r}",
                                    f"pass type={art.type!r}, or leave type out to accept any type")
        return art

    def artifacts(self, type_name: str | None = None, name: str | None = None, per_page: int = 50,
                  tags=None, *, project: str | None = None, alias: str | None = None, tag: str | None = None,
                  type: str | None = None, since: float | None = None, deleted: bool = False) -> list[Artifact]:
        """Every version of an artifact (oldest first), filtered by alias, tag(s), type and creation
        time.  W&B's order ``artifacts(type_name, name)``; one positional argument is the name
        (``artifacts("M", type="model")``).  A registry name lists the linked versions."""
        if name is None:
            type_name, name = None, type_name  # artifacts(NAME, ...): the mvc form
        if name is None:
            raise InvalidInputError("artifacts() needs an artifact name",
                                    "write api.artifacts('model', 'MNIST') (W&B's order) or api.artifacts('MNIST')")
        addr = parse_address(name)
        if addr.registry:
            out = self.artifact_collection(type_name, f"registry/{addr.name}").artifacts()
        else:
            project = addr.project or project or self.project
            owners.check_read(self.repo, project, addr.entity or self.entity, f"artifact {addr.name!r}")
            st = self.repo.artifact_state(project, addr.name)
            out = [Artifact(self.repo, v) for v in self.repo.artifacts.versions(st, trash=deleted)]
        type = type or type_name
        for t in as_list(tags, "tags"):
            out = [a for a in out if t in a.tags]
        if alias:
            out = [a for a in out if alias in a.aliases]
        if tag:
            out = [a for a in out if tag in a.tags]
        if type:
            out = [a for a in out if a.type == type]
        if since is not None:  # epoch seconds, or text in the one grammar: "2d" (ago), "2024-05-01"
            since = _epoch(since, "since")
            out = [a for a in out if a._info.record.get("created_at", 0) >= since]
        return out

    def artifact_versions(self, type_name: str, name: str, per_page: int = 50) -> list[Artifact]:
        """W&B's older name of artifacts(type_name, name)."""
        return self.artifacts(type_name, name)

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        """Whether the address names a version (of ``type``, if given).  A malformed address is
        still an error: a typo should not read as "absent"."""
        try:
            self.artifact(name, type)
        except NotFoundError:
            return False
        except InvalidInputError:
            if type is None:
                raise
            return False  # another type
        return True

    def artifact_collection(self, type_name: str | None, name: str):
        """An artifact's versions as one object (W&B's ArtifactCollection); a registry name gives
        the registered model's linked versions."""
        from .collection import ArtifactCollection
        addr = parse_address(name)
        if addr.version or addr.alias or addr.digest:
            raise InvalidNameError(f"{name!r} names a version; a collection is named without one",
                                   "write e.g. api.artifact_collection('model', 'MNIST')")
        if addr.registry:
            self.registered_model(addr.name)  # NotFoundError with its hint
            return ArtifactCollection(self.repo, None, addr.name, registry=True)
        project = addr.project or self.project
        owners.check_read(self.repo, project, addr.entity or self.entity, f"artifact {addr.name!r}")
        st = self.repo.artifact_state(project, addr.name)
        if type_name is not None and st.type != type_name:
            raise NotFoundError(f"{project}/{addr.name} has type {st.type!r}, not {type_name!r}",
                                f"pass type_name={st.type!r}")
        return ArtifactCollection(self.repo, project, addr.name)

    def artifact_collection_exists(self, name: str, type: str | None = None) -> bool:
        try:
            self.artifact_collection(type, name)
        except NotFoundError:
            return False
        return True

    def artifact_collections(self, project_name: str | None = None, type_name: str | None = None) -> list:
        """Every artifact of a project (of ``type_name``, if given) as a collection."""
        from .collection import ArtifactCollection
        project = self._project_path(project_name)
        return [ArtifactCollection(self.repo, project, n) for n in self.artifact_names(project, type_name)]

    def artifact_type(self, type_name: str, project: str | None = None):
        """W&B's ArtifactType: ``collections()`` lists the project's artifacts of that type."""
        from .collection import ArtifactType
        project = self._project_path(project)
        if type_name not in self._type_names(project):
            raise NotFoundError(f"project {project!r} has no artifact of type {type_name!r}",
                                f"its types: {', '.join(self._type_names(project)) or 'none'}")
        return ArtifactType(self, type_name, project)

    def artifact_types(self, project: str | None = None) -> list:
        from .collection import ArtifactType
        project = self._project_path(project)
        return [ArtifactType(self, t, project) for t in self._type_names(project)]

    def _type_names(self, project: str) -> list[str]:
        return sorted({self.repo.artifacts.state(project, n).type for n in self.artifact_names(project)} - {None})

    def _project_path(self, path: str | None) -> str:
        """The project of W&B's ``[entity/]project`` (entity checked); NotFoundError if the store has none."""
        if not path:
            return self.project
        parts = path.split("/")
        if len(parts) > 2 or not all(parts):
            raise InvalidNameError(f"{path!r} is not [entity/]project", "write e.g. 'alice/mnist' or 'mnist'")
        entity, project = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
        check_project(project)
        if entity:
            check_name(entity, "entity")
        if not owners.project_exists(self.repo, project):
            raise NotFoundError(f"no project {path!r} in the store at {self.repo.path}"
                                + (f"; projects: {', '.join(self.projects())}" if self.projects() else ""),
                                "list projects with `mvc status`")
        owners.check_read(self.repo, project, entity or self.entity, "project")
        return project

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

    def check_project_listed(self) -> str | None:
        """Before a listing of this Api's project: when the store holds projects but not it, a
        NotFoundError naming them if the project was chosen (``project=``, `--project`,
        MVC_PROJECT), else (the folder's name) a note naming them; None when there is nothing
        to say (the project exists, or the store holds none yet)."""
        if owners.project_exists(self.repo, self.project):
            return None
        others = self.projects()
        if not others:
            return None
        if self.project_given:
            raise NotFoundError(f"no project {self.project!r} in the store at {self.repo.path}; "
                                f"projects: {', '.join(others)}",
                                "pass --project with one of them (Python: project=NAME)")
        return (f"project {self.project!r} (the folder's name) has nothing in the store at {self.repo.path}; "
                f"it holds {', '.join(others)}: pass --project P to list one")

    def registered_model(self, name: str) -> RegisteredModel:
        check_name(name, "registered model name")
        if self.repo.registry.info(name) is None:
            raise NotFoundError(f"no registered model {name!r}", "list them with `mvc registry ls`")
        return RegisteredModel(self.repo, name)

    def registered_models(self) -> list[RegisteredModel]:
        return [RegisteredModel(self.repo, n) for n in self.repo.registry.names()]

    def run(self, path: str) -> "RunRecord":
        """A run by id, or W&B's ``[entity/][project/]id``."""
        from .runs import RunRecord  # here: `mvc ls` never loads the run machinery
        if not isinstance(path, str) or not path:
            raise InvalidNameError("empty run path", "write a run id, or entity/project/id")
        *where, run_id = path.split("/")
        if len(where) >= 2 and where[-1] == "runs":  # W&B's entity/project/runs/id (its URL's form)
            where = where[:-1]
        if where:
            project = self._project_path("/".join(where))
            rec = self.repo.runs.read(project, run_id)
            r = RunRecord(self.repo, rec) if rec is not None else None
        else:
            r = RunRecord.load(self.repo, run_id)
        if r is None:
            raise NotFoundError(f"no run with id {run_id!r}" + (f" in {'/'.join(where)}" if where else ""),
                                "list runs with `mvc runs ls`")
        return r

    def runs(self, path: str | None = None, filters: dict | None = None, order: str | None = None,
             per_page: int = 50, include_sweeps: bool = True, lazy: bool = True) -> "list[RunRecord]":
        """The runs of a project (W&B's ``[entity/]project``; default: this Api's project), oldest
        first.  An unknown project is a NotFoundError (the default project may have none yet).
        ``filters``: W&B's MongoDB form, e.g. {"state": "finished", "summary_metrics.acc": {"$gt": 0.9}};
        ``order``: W&B's ``[+|-]FIELD`` (mvc/api/run_filters.py; an unknown key is an InvalidInputError)."""
        from .run_filters import compile_filters, sort_key
        from .runs import RunRecord
        wanted, (key, reverse) = compile_filters(filters), sort_key(order)  # refused before any run is read
        project = self._project_path(path) if path else self.project
        recs = [RunRecord(self.repo, self.repo.runs.read(p, rid)) for p, rid in self.repo.runs.ids(project)]
        recs = sorted((r for r in recs if wanted(r)), key=lambda r: r.record.get("started_at", 0))
        return sorted(recs, key=key, reverse=reverse)

    def alias_history(self, address: str) -> list[dict]:
        addr = parse_address(address)
        if addr.registry:
            if self.repo.registry.tip(addr.name) is None:   # a deleted model keeps its history
                self.registered_model(addr.name)             # raises NotFoundError with the hint
            return self.repo.registry.alias_history(addr.name)
        project = addr.project or self.project
        owners.check_read(self.repo, project, addr.entity or self.entity, f"artifact {addr.name!r}")
        self.repo.artifact_state(project, addr.name)
        return self.repo.artifacts.alias_history(project, addr.name)

    def lineage(self, address: str, direction: str = "both", depth: int | None = None) -> "Graph":
        """The lineage graph of a version (an address) or a run (``run:<id>``)."""
        from . import lineage  # here, as runs: `mvc ls` needs neither
        if address.startswith("run:"):
            self.run(address[4:])
            return lineage.build(self.repo, address, direction, depth)
        v, _ = self.repo.resolve(address, self.project, self.entity)
        return lineage.build(self.repo, f"artifact:{v.project}/{v.name}:{v.version}", direction, depth)

    def diff(self, a: str | Artifact, b: str | Artifact, progress=None) -> dict:
        """What changed from version ``a`` to version ``b`` (any two addresses, or Artifacts of this
        store as ``artifact()`` returns them): files, tensors and JSON keys, as the JSON object
        docs/cli.md documents under `mvc diff`.  ``progress(nbytes)``
        hears of the tensor bytes compared (both sides), as they are."""
        from .diff import diff
        return diff(self.repo, self.project, a, b, progress)

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
        v, _ = self.repo.resolve(addr, self.project, self.entity)
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
        owners.check_read(self.repo, project, addr.entity or self.entity, f"artifact {addr.name!r}")
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

    init = create  # `mvc init`'s name: Api.init(dir) is Api.create(dir)

    def use(self, address: str, root: str | None = None, include: list[str] | str | None = None,
            verify: bool = True, progress=None, link: str | None = None) -> str:
        """`mvc use` without a run record: materialise the version ``address`` names (verified
        unless ``verify`` is False) and return the file when exactly one is selected, else the
        folder.  For lineage (a run that used it), use ``run.use_model`` or ``run.use_artifact``."""
        from . import fetch
        art = self.artifact(address)
        include = as_list(include, "include") or None
        fetch.check_selection(art, include)
        return fetch.download(art, root, include, verify, progress, link)

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

    def file_cache(self) -> dict:
        """The whole-file cache hardlinked uses build (``files/``): ``files``, ``bytes``, ``shared``
        (held by hardlinked uses too), ``limit`` (gc trims to it), and ``built``: the bytes this
        process has added to it (`mvc use --link hardlink` reports a first use's cost from it)."""
        from ..store.linkmodes import built_bytes, cache_usage
        return dict(cache_usage(self.repo.path), built=built_bytes())

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

    def pin(self, address: str, root: str | None = None, lockfile: str | None = None) -> dict:
        """Pin the version ``address`` names in mvc.lock (as `mvc use ADDRESS -o ROOT --save`), with
        the folder it is used from (``root``, default ``artifacts/NAME:vN``); returns the entry."""
        from . import lock
        from .artifact import default_root
        art = self.artifact(address)
        return lock.save_pin(self, address, art, default_root(art.name, art.version, root), lockfile)

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

    # ---- remotes (mvc/api/remote.py, mvc/remote/) ----
    def add_remote(self, name: str, url: str, storage: str | None = None, check: bool = True) -> dict:
        """Add a remote: metadata at ``url`` (path, file://, git://, http(s)://, ssh://), bytes at
        ``storage`` (s3://bucket/prefix or a folder; probed for create-only writes)."""
        from . import remote
        return remote.add_remote(self.repo, name, url, storage, check)

    def remotes(self) -> list[dict]:
        from . import remote
        return remote.list_remotes(self.repo)

    def remove_remote(self, name: str) -> dict:
        from . import remote
        return remote.remove_remote(self.repo, name)

    def push(self, remote: str | None = None, addresses=None, jobs: int = 4, verify: bool = False,
             progress=None) -> dict:
        """Send what ``remote`` (default origin) lacks: chunks first, then refs by compare-and-swap;
        versions someone else numbered first are renumbered (``renumbered`` in the summary)."""
        from . import remote as r
        return r.push(self.repo, self.project, remote, addresses, jobs=jobs, verify=verify, progress=progress)

    def fetch(self, remote: str | None = None, progress=None) -> dict:
        from . import remote as r
        return r.fetch(self.repo, remote, progress)

    def pull(self, remote: str | None = None, no_bytes: bool = False, jobs: int = 4, progress=None) -> dict:
        from . import remote as r
        return r.pull(self.repo, remote, no_bytes=no_bytes, jobs=jobs, progress=progress)

    @staticmethod
    def clone(url: str, dir: str | None = None, storage: str | None = None, no_bytes: bool = False,
              jobs: int = 4, progress=None) -> dict:
        from . import remote as r
        return r.clone(url, dir, storage, no_bytes=no_bytes, jobs=jobs, progress=progress)


def _epoch(value, what: str) -> float:
    """Epoch seconds from a number, or from text mvc.durations reads (a duration ago, an ISO date)."""
    from .. import durations
    from ..errors import UsageError
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return durations.parse_since(str(value))
    except ValueError as e:
        raise UsageError(f"{what}: {e}", "pass epoch seconds, or text such as '2d' or '2024-05-01'") from None


def _bare(name: str):
    addr = parse_address(name)
    if addr.version or addr.alias or addr.digest:
        raise InvalidNameError(f"{name!r} names a version; give the artifact name alone",
                               "write e.g. MNIST or registry/MNIST-prod")
    return addr
