"""Api: query a store without starting a run."""
from __future__ import annotations

from ..errors import NotFoundError
from ..names import check_name, parse_address
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
        st = self.repo.artifacts.state(project, addr.name)
        if st is None:
            raise NotFoundError(f"no artifact {addr.name!r} in project {project!r}", "list artifacts with `mvc ls`")
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
            return self.registered_model(addr.name).alias_history()
        project = addr.project or self.project
        if self.repo.artifacts.state(project, addr.name) is None:
            raise NotFoundError(f"no artifact {addr.name!r} in project {project!r}")
        return self.repo.artifacts.alias_history(project, addr.name)

    def lineage(self, address: str, direction: str = "both", depth: int | None = None) -> lineage.Graph:
        """The lineage graph of a version (an address) or a run (``run:<id>``)."""
        if address.startswith("run:"):
            self.run(address[4:])
            return lineage.build(self.repo, address, direction, depth)
        v, _ = self.repo.resolve(address, self.project)
        return lineage.build(self.repo, f"artifact:{v.project}/{v.name}:{v.version}", direction, depth)
