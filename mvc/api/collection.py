"""W&B's ArtifactCollection: an artifact's versions as one object (or a registered model's links)."""
from __future__ import annotations

from ..repo import Repository
from ..repo.owners import project_entity


class ArtifactCollection:
    def __init__(self, repo: Repository, project: str | None, name: str, registry: bool = False):
        self._repo = repo
        self.project = project
        self.name = name
        self._registry = registry

    @property
    def entity(self) -> str | None:
        return None if self._registry else project_entity(self._repo, self.project)

    @property
    def type(self) -> str | None:
        if self._registry:
            versions = self.artifacts()
            return versions[0].type if versions else None
        st = self._repo.artifacts.state(self.project, self.name)
        return st.type if st else None

    @property
    def aliases(self) -> list[str]:
        """Every alias in the collection (W&B lists them across versions)."""
        if self._registry:
            return sorted(self._repo.registry.aliases(self.name))
        st = self._repo.artifact_state(self.project, self.name)
        return sorted(st.aliases)

    @property
    def tags(self) -> list[str]:
        """W&B's tags of a collection; mvc tags versions, not collections: always []."""
        return []

    @property
    def description(self) -> str:
        if self._registry:
            return (self._repo.registry.info(self.name) or {}).get("description", "")
        return ""

    def is_sequence(self) -> bool:
        """True for an artifact's own versions; False for a registered model (W&B's portfolio)."""
        return not self._registry

    def artifacts(self) -> list:
        """The versions, oldest first (for a registered model: the linked versions, in link order)."""
        from .artifact import Artifact, Link
        if self._registry:
            return [Link(self._repo, li).artifact() for li in self._repo.registry.links(self.name)]
        st = self._repo.artifact_state(self.project, self.name)
        return [Artifact(self._repo, v) for v in self._repo.artifacts.versions(st)]

    versions = artifacts

    def __repr__(self) -> str:
        where = "registry" if self._registry else self.project
        return f"<ArtifactCollection {where}/{self.name}>"


class ArtifactType:
    """W&B's ArtifactType: the artifacts of one type in a project."""

    def __init__(self, api, type_name: str, project: str):
        self._api = api
        self.name = type_name
        self.project = project

    def collections(self) -> list[ArtifactCollection]:
        return self._api.artifact_collections(self.project, self.name)

    def collection(self, name: str) -> ArtifactCollection:
        return self._api.artifact_collection(self.name, f"{self.project}/{name}")

    def __repr__(self) -> str:
        return f"<ArtifactType {self.project}/{self.name}>"
