"""Which entity a project belongs to (W&B's `entity/project`): the entity that created it.

A store holds one namespace of projects, so `alice/p` and `bob/p` cannot both exist: the first
run or artifact that names an entity in a project makes that entity its owner, and every later
record that names an entity must name the same one (checked before it is written).  A project
that no record names an entity for answers to any entity (docs/cli.md, "Python API").

No new ref holds the owner: it is read from the records (artifact.json, run.json) that carry
it anyway, stopping at the first that names one."""
from __future__ import annotations

from ..errors import ConflictError, NotFoundError
from ..meta import refs


def project_entity(repo, project: str) -> str | None:
    """The entity that owns ``project``, or None when no record in it names one."""
    cached = repo.__dict__.setdefault("_owners", {})
    if project in cached:
        return cached[project]
    owner = _first_entity(repo, project)
    if owner is not None:  # an owner never changes once set; "none yet" may
        cached[project] = owner
    return owner


def _first_entity(repo, project: str) -> str | None:
    """Artifacts first (a project has few), then runs; one listing of the refs for both."""
    arts, runs = [], []
    for ref in repo.meta.refnames():
        parsed = refs.parse(ref)
        if parsed and parsed[1] == project:
            (arts if parsed[0] == "artifact" else runs).append((ref, "artifact.json" if parsed[0] == "artifact"
                                                                else "run.json"))
    for ref, record in arts + runs:
        tip = repo.meta.tip(ref)
        entity = repo.meta.json(tip.tree, record, {}).get("entity") if tip is not None else None
        if entity:
            return entity
    return None


def project_exists(repo, project: str) -> bool:
    return bool(repo.artifacts.list(project) or repo.runs.ids(project))


def check_write(repo, project: str, entity: str | None) -> None:
    """Refuse to record ``entity`` in a project another entity owns."""
    if not entity:
        return
    owner = project_entity(repo, project)
    if owner is not None and owner != entity:
        raise ConflictError(f"project {project!r} belongs to entity {owner!r}, not {entity!r}",
                            f"pass entity={owner!r} (or leave entity out), or use another project name: "
                            "one store holds one project of each name")


def check_read(repo, project: str, entity: str | None, what: str) -> None:
    """An address that names ``entity/project/...`` finds nothing in a project another entity owns."""
    if not entity:
        return
    owner = project_entity(repo, project)
    if owner is not None and owner != entity:
        raise NotFoundError(f"no {what} in {entity}/{project}: project {project!r} belongs to entity {owner!r}",
                            f"write {owner}/{project}/… or {project}/… (the entity is optional)")
