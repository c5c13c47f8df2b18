"""Artifact (one version), Link and RegisteredModel: the read/write objects of
the public API, thin over Repository."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import InvalidInputError, IntegrityError
from ..meta.artifacts import VersionInfo
from ..meta.registry import LinkInfo
from ..names import as_list, check_alias, check_name, parse_address
from ..repo import Repository, check_metadata
from ..repo.repository import check_description


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds") if ts else None


def default_root(name: str, version: str) -> str:
    base = os.environ.get("MVC_ARTIFACT_DIR") or "artifacts"
    return os.path.join(base, f"{name}:{version}")


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    digest: str
    reference: str | None = None


class Artifact:
    """One version of an artifact.  Content is immutable; aliases, metadata,
    description and tags change through save()."""

    def __init__(self, repo: Repository, info: VersionInfo, via_link: LinkInfo | None = None):
        self._repo = repo
        self._info = info
        self.via_link = via_link
        rec = info.record
        self.metadata: dict = dict(rec.get("metadata") or {})
        self.description: str = rec.get("description") or ""
        self.tags: list[str] = list(rec.get("tags") or [])
        self.aliases: list[str] = list(info.aliases)

    # ---- identity ------------------------------------------------------
    name = property(lambda self: self._info.name)
    version = property(lambda self: self._info.version)
    project = property(lambda self: self._info.project)
    entity = property(lambda self: self._info.record.get("entity"))
    type = property(lambda self: self._info.record.get("type"))
    digest = property(lambda self: self._info.record.get("digest"))
    size = property(lambda self: self._info.record.get("size", 0))
    file_count = property(lambda self: self._info.record.get("files", 0))
    created_at = property(lambda self: iso(self._info.record.get("created_at")))
    deleted = property(lambda self: self._info.deleted)
    created_by = property(lambda self: self._info.record.get("created_by"))  # id of the producing run

    @property
    def address(self) -> str:
        return f"{self.project}/{self.name}:{self.version}"

    @property
    def qualified_name(self) -> str:
        return "/".join(p for p in (self.entity, self.project, f"{self.name}:{self.version}") if p)

    def __repr__(self) -> str:
        return f"<Artifact {self.address} type={self.type} aliases={self.aliases}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Artifact) and other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address)

    # ---- files ---------------------------------------------------------
    def files(self) -> list[FileInfo]:
        return [FileInfo(p, ptr.size, ptr.digest, ptr.ref) for p, ptr in self._repo.entries(self._info)]

    def download(self, root: str | None = None, include: list[str] | str | None = None, verify: bool = True,
                 progress=None, link: str = "copy") -> str:
        """Materialise the version (verified) and return the folder.  ``link``: "copy" (default),
        "hardlink" or "symlink" (read-only files), "reflink", or "auto" (reflink, else copy)."""
        include = as_list(include, "include") or None
        root = root or default_root(self.name, self.version)
        return self._repo.download(self._info, root, include, verify, progress, link=link)

    def file(self, root: str | None = None) -> str:
        """Download and return the path of the version's single file."""
        files = self.files()
        if len(files) != 1:
            raise InvalidInputError(f"{self.address} holds {len(files)} files, not one",
                                    "use download() and pick the file you need")
        return os.path.join(self.download(root), *files[0].path.split("/"))

    def verify(self) -> None:
        """Re-read every byte of this version; raise IntegrityError naming each bad file."""
        problems = self._repo.verify(self._info)
        if problems:
            raise IntegrityError(f"{self.address} failed verification:\n  "  # one line per problem
                                 + "\n  ".join(p.replace("\n", "\\n") for p in problems))

    # ---- lineage -------------------------------------------------------
    def logged_by(self):
        """The run that produced this version (first logger), or None."""
        from .runs import RunRecord
        rid = self._info.record.get("created_by")
        return RunRecord.load(self._repo, rid) if rid else None

    def loggers(self):
        """Every run that logged this content, in order (it may have been re-logged; a re-log
        that changed nothing is recorded only in the run's outputs)."""
        from .lineage import producers
        from .runs import RunRecord
        out = []
        for rid in producers(self._repo, self._info):
            r = RunRecord.load(self._repo, rid)
            if r:
                out.append(r)
        return out

    def used_by(self):
        from .lineage import consumers
        from .runs import RunRecord
        return [RunRecord.load(self._repo, rid) for rid in consumers(self._repo, self._info)]

    def links(self) -> list["Link"]:
        return [Link(self._repo, li) for li in self._repo.links_of(self._info)]

    def link(self, target: str, aliases: list[str] | None = None) -> "Link":
        """Link this version into ``registry/<target>`` (or a bare name)."""
        model = target[len("registry/"):] if target.startswith("registry/") else target
        li, _ = self._repo.link(self._info, model, as_list(aliases, "aliases"))
        return Link(self._repo, li)

    # ---- changes -------------------------------------------------------
    def save(self) -> None:
        """Record changed aliases, metadata, description and tags (who and when go into history)."""
        aliases = [check_alias(a, allow_latest=True) for a in dict.fromkeys(self.aliases)]
        if "latest" in aliases and "latest" not in self._info.aliases:
            raise InvalidInputError("alias 'latest' is moved automatically and cannot be added by hand")
        rec = self._info.record
        wanted = {"metadata": check_metadata(self.metadata),
                  "description": check_description(self.description) or "",
                  "tags": [check_name(t, "tag") for t in as_list(self.tags, "tags")]}
        loaded = {"metadata": rec.get("metadata") or {}, "description": rec.get("description") or "",
                  "tags": rec.get("tags") or []}
        updates = {k: v for k, v in wanted.items() if v != loaded[k]}  # only what this object changed
        before = set(self._info.aliases)
        add = [a for a in aliases if a not in before]
        remove = sorted(before - set(aliases))
        self._repo.artifacts.save_record(self.project, self.name, self.version, updates, add, remove)
        self._refresh()

    def delete(self, delete_aliases: bool = False) -> None:
        """Soft-delete: the version moves to the trash (restorable until gc); its number is never reused."""
        self._repo.delete(self._info, delete_aliases)

    def restore(self) -> None:
        """Bring a soft-deleted version back (its aliases are not restored)."""
        self._repo.artifacts.restore_version(self.project, self.name, self.version)
        self._refresh()

    def _refresh(self) -> None:
        fresh, _ = self._repo.resolve(f"{self.project}/{self.name}:{self.version}")
        self.__init__(self._repo, fresh, self.via_link)


class Link:
    """One link of a registered model: a pointer to an artifact version."""

    def __init__(self, repo: Repository, info: LinkInfo):
        self._repo = repo
        self._info = info

    model = property(lambda self: self._info.model)
    version = property(lambda self: self._info.link)
    aliases = property(lambda self: list(self._info.aliases))
    linked_at = property(lambda self: iso(self._info.record.get("linked_at")))
    run_id = property(lambda self: self._info.record.get("run"))

    @property
    def address(self) -> str:
        return f"registry/{self.model}:{self.version}"

    @property
    def source(self) -> str:
        p, n, v = self._info.source
        return f"{p}/{n}:{v}"

    def artifact(self) -> Artifact:
        v, _ = self._repo.resolve(self.address)
        return Artifact(self._repo, v, self._info)

    def logged_by(self):
        return self.artifact().logged_by()

    def __repr__(self) -> str:
        return f"<Link {self.address} -> {self.source} aliases={self.aliases}>"


class RegisteredModel:
    def __init__(self, repo: Repository, name: str):
        self._repo = repo
        self.name = name
        info = repo.registry.info(name) or {}
        self.description = info.get("description", "")
        self.created_at = iso(info.get("created_at"))

    def links(self) -> list[Link]:
        return [Link(self._repo, li) for li in self._repo.registry.links(self.name)]

    @property
    def aliases(self) -> dict[str, str]:
        return self._repo.registry.aliases(self.name)

    def link(self, selector: str = "latest") -> Link:
        addr = parse_address(f"registry/{self.name}:{selector}")
        return Link(self._repo, self._repo.resolve_link(addr))

    def alias_history(self) -> list[dict]:
        return self._repo.registry.alias_history(self.name)

    def set_alias(self, alias: str, link: str) -> None:
        self._repo.registry.set_alias(self.name, link, check_alias(alias))

    def remove_alias(self, alias: str) -> None:
        self._repo.registry.set_alias(self.name, "", check_alias(alias), remove=True)

    def unlink(self, link: str) -> None:
        self._repo.registry.unlink(self.name, link)

    def __repr__(self) -> str:
        return f"<RegisteredModel {self.name} links={len(self.links())}>"
