"""An artifact's state is the tree at the tip of its ref:

    artifact.json              {"name","project","entity","type","next","created_at"}
    aliases.json               {"latest": "v3", "best": "v1"}
    digests/<digest>           "v3"  (dedup index: artifact digest -> version)
    versions/v3/version.json   the version record
    versions/v3/files/<path>   one pointer blob per file
    trash/v2/...               soft-deleted versions, restorable until gc

Every change is one commit made by MetaRepo.update (compare-and-swap)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pygit2

from ..errors import ConflictError, IntegrityError, NotFoundError
from . import refs
from .gitdb import MetaRepo, NoChange, TreeEdit, alias_history


def now() -> float:
    return round(time.time(), 6)


def vindex(version: str) -> int:
    return int(version[1:])


@dataclass
class VersionInfo:
    project: str
    name: str
    version: str
    record: dict
    tree: pygit2.Oid  # the versions/vN subtree
    aliases: list[str] = field(default_factory=list)
    deleted: bool = False

    @property
    def index(self) -> int:
        return vindex(self.version)


@dataclass
class ArtifactState:
    project: str
    name: str
    info: dict
    aliases: dict[str, str]
    tree: pygit2.Tree | None
    commit: pygit2.Commit | None

    @property
    def type(self) -> str | None:
        return self.info.get("type")

    def aliases_of(self, version: str) -> list[str]:
        return sorted(a for a, v in self.aliases.items() if v == version)


class Artifacts:
    """Reads and writes artifact refs."""

    def __init__(self, meta: MetaRepo, crash_hook=None):
        self.meta = meta
        self.crash_hook = crash_hook

    # ---- reading -------------------------------------------------------
    def state(self, project: str, name: str, commit: pygit2.Commit | None = None) -> ArtifactState | None:
        tip = commit if commit is not None else self.meta.tip(refs.artifact(project, name))
        if tip is None:
            return None
        tree = tip.tree
        return ArtifactState(project, name, self.meta.json(tree, "artifact.json", {}),
                             self.meta.json(tree, "aliases.json", {}), tree, tip)

    def version_names(self, st: ArtifactState, trash: bool = False) -> list[str]:
        sub = self.meta.subtree(st.tree, "trash" if trash else "versions")
        if sub is None:
            return []
        return sorted((e.name for e in sub), key=vindex)

    def version(self, st: ArtifactState, version: str, trash: bool = False) -> VersionInfo | None:
        base = f"{'trash' if trash else 'versions'}/{version}"
        sub = self.meta.subtree(st.tree, base)
        if sub is None:
            return None
        rec = self.meta.json(sub, "version.json", {})
        return VersionInfo(st.project, st.name, version, rec, sub.id, st.aliases_of(version), deleted=trash)

    def versions(self, st: ArtifactState, trash: bool = False) -> list[VersionInfo]:
        return [self.version(st, v, trash) for v in self.version_names(st, trash)]

    def by_digest(self, st: ArtifactState, digest: str) -> str | None:
        data = self.meta.blob(st.tree, f"digests/{digest}")
        return data.decode().strip() if data is not None else None

    def digest_prefix(self, st: ArtifactState, prefix: str) -> list[str]:
        sub = self.meta.subtree(st.tree, "digests")
        if sub is None:
            return []
        return sorted(e.name for e in sub if e.name.startswith(prefix))

    def files(self, version_tree: pygit2.Oid) -> list[tuple[str, bytes]]:
        sub = self.meta.subtree(self.meta.get(version_tree, "version tree"), "files")
        if sub is None:
            return []
        try:
            return [(p, self.meta.get(oid, f"pointer {p}").data) for p, oid in self.meta.walk_blobs(sub)]
        except (KeyError, ValueError, pygit2.GitError) as e:  # a damaged git object is an integrity error, never a crash
            raise IntegrityError(f"metadata object of version tree {version_tree} is unreadable ({e}); "
                                 f"file {self.meta.path}/objects", "run `mvc fsck`; pull the metadata again") from None

    def list(self, project: str | None = None) -> list[tuple[str, str]]:
        out = []
        for r in self.meta.refnames():
            parsed = refs.parse(r)
            if parsed and parsed[0] == "artifact" and (project is None or parsed[1] == project):
                out.append((parsed[1], parsed[2]))
        return out

    # ---- writing -------------------------------------------------------
    def _update(self, project, name, edit):
        return self.meta.update(refs.artifact(project, name), edit, self.crash_hook)

    def log_version(self, project: str, name: str, entity: str | None, type_: str, files_tree,
                    record: dict, aliases: list[str], run_id: str | None,
                    updates: dict | None = None) -> tuple[VersionInfo, str]:
        """Add a version with ``files_tree`` (an Oid, or a callable that builds it: called only
        when a new version is made) unless one with the same digest exists; either way move
        ``latest`` and ``aliases`` to it.  On a re-log, ``updates`` (metadata, description,
        tags the caller passed) replace those fields of the existing version in the same commit.
        A re-log that moves no alias and changes no field makes no commit (the run records it;
        docs/design.md).  Returns (version, outcome): outcome is "new", "nothing", or "aliases"
        and/or "metadata" joined by "+"."""
        digest = record["digest"]

        def edit(tip):
            st = self.state(project, name, tip) if tip is not None else None
            info = self._checked_info(st, project, name, entity, type_)
            al = dict(st.aliases) if st else {}
            existing = self.by_digest(st, digest) if st else None
            wanted = ["latest", *aliases]
            if existing is not None:
                version, op = existing, "relog"
                changes, updated = self._relog_changes(st, existing, run_id, updates or {})
                moved = any(al.get(a) != existing for a in wanted)
                outcome = "+".join(w for w, on in (("aliases", moved), ("metadata", updated)) if on)
                if not outcome:
                    raise NoChange((existing, "nothing"))
            else:
                version, op, outcome = f"v{info['next']}", "log", "new"
                changes = self._new_version_changes(info, version, files_tree, record, name, project, entity,
                                                    type_, run_id)
            for a in wanted:
                al[a] = version
            changes["aliases.json"] = self.meta.write_json(al)
            tree = self.meta.edit_tree(st.tree if st else None, changes)
            msg = (f"{op} {name}:{version} (aliases: {', '.join(sorted(set(wanted)))})\n\n"
                   f"Mvc-Op: {op}\nMvc-Version: {version}\nMvc-Digest: {digest}\n"
                   + (f"Mvc-Run: {run_id}\n" if run_id else ""))
            return TreeEdit(tree, msg, (version, outcome))

        version, outcome = self._update(project, name, edit)
        st = self.state(project, name)
        return self.version(st, version), outcome

    @staticmethod
    def _checked_info(st, project, name, entity, type_) -> dict:
        info = dict(st.info) if st else {"name": name, "project": project, "entity": entity,
                                         "type": type_, "next": 0, "created_at": now()}
        if info.get("type") != type_:
            raise ConflictError(
                f"artifact {project}/{name} has type {info.get('type')!r}; cannot log type {type_!r} under it",
                "use another name, or log with the artifact's type",
            )
        return info

    def _relog_changes(self, st, version: str, run_id: str | None,
                       updates: dict) -> tuple[dict[str, Any], bool]:
        """The version.json of a re-logged version (run added to ``logged_by``, ``updates``
        applied) and whether ``updates`` changed any field."""
        vrec = dict(self.meta.json(st.tree, f"versions/{version}/version.json", {}))
        updated = any(vrec.get(k) != v for k, v in updates.items())
        if updated:
            vrec.update(updates, updated_at=now())
        if run_id:
            vrec["logged_by"] = list(vrec.get("logged_by", [])) + [{"run": run_id, "at": now()}]
        return {f"versions/{version}/version.json": self.meta.write_json(vrec)}, updated

    def _new_version_changes(self, info, version, files_tree, record, name, project, entity, type_,
                             run_id) -> dict[str, Any]:
        info["next"] += 1
        tree = files_tree() if callable(files_tree) else files_tree
        vrec = dict(record, version=version, name=name, project=project, entity=entity, type=type_,
                    created_at=now(), created_by=run_id,
                    logged_by=[{"run": run_id, "at": now()}] if run_id else [])
        meta = self.meta
        return {f"versions/{version}/version.json": meta.write_json(vrec),
                f"versions/{version}/files": ("tree", tree),
                f"digests/{record['digest']}": meta.write_blob(version.encode() + b"\n"),
                "artifact.json": meta.write_json(info)}

    def has_digest(self, project: str, name: str, digest: str) -> bool:
        st = self.state(project, name)
        return st is not None and self.by_digest(st, digest) is not None

    def logged_versions(self, project: str | None = None):
        """(project, name, version, record) of every version and trashed version (for lineage
        derived from the version records' ``logged_by``)."""
        for p, n in self.list(project):
            st = self.state(p, n)
            if st is None:
                continue
            for trash in (False, True):
                for v in self.version_names(st, trash):
                    rec = self.meta.json(st.tree, f"{'trash' if trash else 'versions'}/{v}/version.json", {})
                    yield p, n, v, rec

    def set_alias(self, project: str, name: str, version: str, alias: str, run_id: str | None = None,
                  remove: bool = False) -> str | None:
        """Point ``alias`` at ``version`` (or remove it). Returns the previous target."""
        meta = self.meta

        def edit(tip):
            st = self.state(project, name, tip) if tip is not None else None
            if st is None:
                raise NotFoundError(f"artifact {project}/{name} does not exist", "list artifacts with `mvc ls`")
            al = dict(st.aliases)
            old = al.get(alias)
            if remove:
                if old is None:
                    raise NotFoundError(f"{project}/{name} has no alias {alias!r}",
                                        f"list aliases with `mvc ls {name}`")
                del al[alias]
            else:
                if self.meta.subtree(st.tree, f"versions/{version}") is None:
                    raise NotFoundError(f"{project}/{name} has no version {version}",
                                        f"list versions with `mvc ls {name}`")
                if old == version:
                    raise NoChange(old)
                al[alias] = version
            tree = meta.edit_tree(st.tree, {"aliases.json": meta.write_json(al)})
            what = f"rm alias {alias} (was {old})" if remove else f"alias {alias}: {old or '-'} -> {version}"
            msg = f"{what}\n\nMvc-Op: alias\n" + (f"Mvc-Run: {run_id}\n" if run_id else "")
            return TreeEdit(tree, msg, old)

        return self._update(project, name, edit)

    def _state_with(self, tip, project: str, name: str, version: str) -> ArtifactState:
        """The state at ``tip``, which must hold ``version`` (NotFoundError otherwise)."""
        st = self.state(project, name, tip) if tip is not None else None
        if st is None or self.meta.subtree(st.tree, f"versions/{version}") is None:
            raise NotFoundError(f"{project}/{name}:{version} does not exist", f"list versions with `mvc ls {name}`")
        return st

    def save_record(self, project: str, name: str, version: str, updates: dict, add: list[str] = (),
                    remove: list[str] = ()) -> None:
        """Change a version's mutable fields (only those in ``updates``), point the aliases in
        ``add`` at it and take those in ``remove`` off it (if still on it).  Applying the
        changes rather than a whole stale state keeps concurrent edits by others."""
        meta = self.meta

        def edit(tip):
            st = self._state_with(tip, project, name, version)
            changes: dict[str, Any] = {}
            rec = dict(meta.json(st.tree, f"versions/{version}/version.json", {}))
            new_rec = dict(rec, **updates)
            if new_rec != rec:
                new_rec["updated_at"] = now()
                changes[f"versions/{version}/version.json"] = meta.write_json(new_rec)
            al = dict(st.aliases)
            for a in remove:
                if al.get(a) == version and a != "latest":
                    del al[a]
            for a in add:
                if a != "latest":
                    al[a] = version
            if al != st.aliases:
                changes["aliases.json"] = meta.write_json(al)
            if not changes:
                raise NoChange()
            tree = meta.edit_tree(st.tree, changes)
            return TreeEdit(tree, f"edit {name}:{version}\n\nMvc-Op: edit\nMvc-Version: {version}\n")

        self._update(project, name, edit)

    def delete_version(self, project: str, name: str, version: str, delete_aliases: bool) -> None:
        meta = self.meta

        def edit(tip):
            st = self._state_with(tip, project, name, version)
            al = dict(st.aliases)
            held = [a for a, v in al.items() if v == version and a != "latest"]
            if held and not delete_aliases:
                raise ConflictError(
                    f"{name}:{version} still has aliases {', '.join(sorted(held))}",
                    "move or remove them first, or pass delete_aliases=True (--delete-aliases)",
                )
            for a in held:
                del al[a]
            sub = meta.subtree(st.tree, f"versions/{version}")
            rec = dict(meta.json(sub, "version.json", {}), deleted_at=now())
            changes: dict[str, Any] = {f"versions/{version}": None, f"trash/{version}": ("tree", sub.id)}
            changes[f"trash/{version}/version.json"] = meta.write_json(rec)
            digest = rec.get("digest")
            if digest and self.by_digest(st, digest) == version:
                changes[f"digests/{digest}"] = None
            if al.get("latest") == version:
                rest = [v for v in self.version_names(st) if v != version]
                if rest:
                    al["latest"] = rest[-1]
                else:
                    del al["latest"]
            changes["aliases.json"] = meta.write_json(al)
            # the trash subtree must be inserted before its version.json is replaced
            tree = meta.edit_tree(st.tree, {k: v for k, v in changes.items() if k != f"trash/{version}/version.json"})
            tree = meta.edit_tree(meta.get(tree), {f"trash/{version}/version.json": changes[f"trash/{version}/version.json"]})
            return TreeEdit(tree, f"delete {name}:{version}\n\nMvc-Op: delete\nMvc-Version: {version}\n")

        self._update(project, name, edit)

    def restore_version(self, project: str, name: str, version: str) -> None:
        meta = self.meta

        def edit(tip):
            st = self.state(project, name, tip) if tip is not None else None
            sub = meta.subtree(st.tree, f"trash/{version}") if st else None
            if sub is None:
                raise NotFoundError(f"{project}/{name}:{version} is not in the trash",
                                    "it was never deleted, or gc has removed it")
            rec = dict(meta.json(sub, "version.json", {}))
            rec.pop("deleted_at", None)
            changes: dict[str, Any] = {f"trash/{version}": None, f"versions/{version}": ("tree", sub.id)}
            digest = rec.get("digest")
            if digest and self.by_digest(st, digest) is None:
                changes[f"digests/{digest}"] = meta.write_blob(version.encode() + b"\n")
            tree = meta.edit_tree(st.tree, changes)
            tree = meta.edit_tree(meta.get(tree), {f"versions/{version}/version.json": meta.write_json(rec)})
            return TreeEdit(tree, f"restore {name}:{version}\n\nMvc-Op: restore\nMvc-Version: {version}\n")

        self._update(project, name, edit)

    # ---- history -------------------------------------------------------
    def alias_history(self, project: str, name: str) -> list[dict]:
        """Every alias change, newest first: alias, from, to, who, when, op."""
        return alias_history(self.meta, refs.artifact(project, name))
