"""An artifact's state is the tree at the tip of its ref:

    artifact.json              {"name","project","entity","type","next","created_at"}
    aliases.json               {"latest": "v3", "best": "v1"}
    digests/<2>/<2>/<60 hex>   "v3"  (dedup index: artifact digest -> version)
    versions/0/v3/version.json the version record (fan-out: layout.py)
    versions/0/v3/files/<path> one pointer blob per file, each path component codec.encode_entry'd
    trash/0/v2/...             soft-deleted versions, restorable until gc

Every change is one commit made by MetaRepo.update (compare-and-swap)."""
from __future__ import annotations

import time


from .. import canonical
from ..errors import ConflictError, IntegrityError, NotFoundError
from ..record import field, record
from ..text import escaped
from . import refs, upkeep
from .codec import decode_path, encode_path
from .gitdb import MetaRepo, NoChange, TreeEdit, alias_history
from .odb import OBJECT_BLOB, Commit, Tree
from .layout import digest_path, digests_below, is_version, numbered, version_path

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Any


def now() -> float:
    return round(time.time(), 6)


def vindex(version: str) -> int:
    return int(version[1:])


@record
class VersionInfo:
    project: str
    name: str
    version: str
    record: dict
    tree: str  # the versions/vN subtree
    aliases: list[str] = field(default_factory=list)
    deleted: bool = False

    @property
    def index(self) -> int:
        return vindex(self.version)


@record
class ArtifactState:
    project: str
    name: str
    info: dict
    aliases: dict[str, str]
    tree: Tree | None
    commit: Commit | None

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
    def state(self, project: str, name: str, commit: Commit | None = None) -> ArtifactState | None:
        tip = commit if commit is not None else self.meta.tip(refs.artifact(project, name))
        if tip is None:
            return None
        tree = tip.tree
        return ArtifactState(project, name, self.meta.json(tree, "artifact.json", {}),
                             self.meta.json(tree, "aliases.json", {}), tree, tip)

    def version_names(self, st: ArtifactState, trash: bool = False) -> list[str]:
        return [v for v, _ in numbered(self.meta, st.tree, "trash" if trash else "versions")]

    def version_tree(self, st: ArtifactState, version: str, trash: bool = False) -> Tree | None:
        """The tree of ``version`` (in the trash with ``trash``), or None when there is none."""
        if not is_version(version):
            return None
        return self.meta.subtree(st.tree, version_path(version, trash))

    def version(self, st: ArtifactState, version: str, trash: bool = False) -> VersionInfo | None:
        sub = self.version_tree(st, version, trash)
        if sub is None:
            return None
        return self._info(st, version, sub, trash)

    def _info(self, st: ArtifactState, version: str, sub: Tree, trash: bool,
              aliases: list[str] | None = None) -> VersionInfo:
        rec = self._record(sub, f"{st.project}/{st.name}:{version}")
        return VersionInfo(st.project, st.name, version, rec, sub.id,
                           st.aliases_of(version) if aliases is None else aliases, deleted=trash)

    def _record(self, sub: Tree, label: str) -> dict:
        """The version.json of a version tree ({} if it has none), read as one entry of a tree
        already read: a listing reads thousands (docs/performance.md, "Metadata growth")."""
        try:
            entry = sub["version.json"]
        except KeyError:
            return {}
        except ValueError as e:
            raise IntegrityError(f"version tree of {label} ({sub.id}) is unreadable ({e})") from None
        if entry.type != OBJECT_BLOB:
            raise IntegrityError(f"version.json of {label} (tree {sub.id}) is not a file")
        data = self.meta.get(entry.id, f"version.json of {label}").data
        try:
            rec = canonical.loads(data)
        except ValueError as e:
            raise IntegrityError(f"version.json of {label} (blob {entry.id}) is not valid JSON ({e})") from None
        if not isinstance(rec, dict):
            raise IntegrityError(f"version.json of {label} (blob {entry.id}) is not a JSON object")
        return rec

    def versions(self, st: ArtifactState, trash: bool = False) -> list[VersionInfo]:
        folder = "trash" if trash else "versions"
        held: dict[str, list[str]] = {}
        for alias, v in sorted(st.aliases.items()):
            held.setdefault(v, []).append(alias)
        return [self._info(st, v, self.meta.get(oid, f"{folder} {v} of {st.project}/{st.name}"), trash,
                           held.get(v, []))
                for v, oid in numbered(self.meta, st.tree, folder)]

    def by_digest(self, st: ArtifactState, digest: str) -> str | None:
        try:
            path = digest_path(digest)
        except ValueError:
            return None
        data = self.meta.blob(st.tree, path)
        return data.decode().strip() if data is not None else None

    def digest_prefix(self, st: ArtifactState, prefix: str) -> list[str]:
        return digests_below(self.meta, st.tree, prefix)

    def files(self, version_tree: str, label: str | None = None) -> list[tuple[str, bytes]]:
        """(path, pointer blob) of every file of a version tree (``label`` names it in errors),
        sorted by path; paths decoded (codec.decode_path)."""
        sub = self.meta.subtree(self.meta.get(version_tree, "version tree"), "files")
        if sub is None:
            return []
        try:
            out = [(decode_path(p), self.meta.get(oid, f"pointer {p}").data) for p, oid in self.meta.walk_blobs(sub)]
        except (KeyError, ValueError) as e:  # a damaged git object is an integrity error, never a crash
            raise IntegrityError(f"metadata object of version tree {version_tree} is unreadable ({e}); "
                                 f"file {self.meta.path}/objects", "run `mvc fsck`; pull the metadata again") from None
        except IntegrityError as e:
            raise IntegrityError(f"{label or f'version tree {version_tree}'}: {e.message}", e.hint) from None
        return sorted(out)  # by the paths as named (the tree's order is that of their encoding)

    def write_files(self, files: dict[str, bytes]) -> str:
        """The files/ tree of a new version: ``files`` maps each path (as the user named it) to its
        pointer blob; each path component is stored encoded (codec.encode_path)."""
        return self.meta.write_files_tree({encode_path(p): data for p, data in files.items()})

    def list(self, project: str | None = None) -> list[tuple[str, str]]:
        out = []
        for r in self.meta.refnames():
            parsed = refs.parse(r)
            if parsed and parsed[0] == "artifact" and (project is None or parsed[1] == project):
                out.append((parsed[1], parsed[2]))
        return out

    # ---- writing -------------------------------------------------------
    def _update(self, project, name, edit):
        result = self.meta.update(refs.artifact(project, name), edit, self.crash_hook)
        upkeep.after_commit(self.meta)  # packs the loose objects when they are many (one listing otherwise)
        return result

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
        vrec = dict(self.meta.json(st.tree, f"{version_path(version)}/version.json", {}))
        updated = any(vrec.get(k) != v for k, v in updates.items())
        if updated:
            vrec.update(updates, updated_at=now())
        if run_id:
            vrec["logged_by"] = list(vrec.get("logged_by", [])) + [{"run": run_id, "at": now()}]
        return {f"{version_path(version)}/version.json": self.meta.write_json(vrec)}, updated

    def _new_version_changes(self, info, version, files_tree, record, name, project, entity, type_,
                             run_id) -> dict[str, Any]:
        info["next"] += 1
        tree = files_tree() if callable(files_tree) else files_tree
        vrec = dict(record, version=version, name=name, project=project, entity=entity, type=type_,
                    created_at=now(), created_by=run_id,
                    logged_by=[{"run": run_id, "at": now()}] if run_id else [])
        meta = self.meta
        base = version_path(version)
        return {f"{base}/version.json": meta.write_json(vrec),
                f"{base}/files": ("tree", tree),
                digest_path(record["digest"]): meta.write_blob(version.encode() + b"\n"),
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
                for v in self.versions(st, trash):
                    yield p, n, v.version, v.record

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
                if self.version_tree(st, version) is None:
                    raise NotFoundError(f"{project}/{name} has no version {version}",
                                        f"list versions with `mvc ls {name}`")
                if old == version:
                    raise NoChange(old)
                al[alias] = version
            tree = meta.edit_tree(st.tree, {"aliases.json": meta.write_json(al)})
            what = f"rm alias {escaped(alias)} (was {old})" if remove else f"alias {escaped(alias)}: {old or '-'} -> {version}"
            msg = f"{what}\n\nMvc-Op: alias\n" + (f"Mvc-Run: {run_id}\n" if run_id else "")
            return TreeEdit(tree, msg, old)

        return self._update(project, name, edit)

    def _state_with(self, tip, project: str, name: str, version: str) -> ArtifactState:
        """The state at ``tip``, which must hold ``version`` (NotFoundError otherwise)."""
        st = self.state(project, name, tip) if tip is not None else None
        if st is None or self.version_tree(st, version) is None:
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
            rec = dict(meta.json(st.tree, f"{version_path(version)}/version.json", {}))
            new_rec = dict(rec, **updates)
            if new_rec != rec:
                new_rec["updated_at"] = now()
                changes[f"{version_path(version)}/version.json"] = meta.write_json(new_rec)
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
            sub = self.version_tree(st, version)
            rec = dict(meta.json(sub, "version.json", {}), deleted_at=now())
            live, dead = version_path(version), version_path(version, trash=True)
            changes: dict[str, Any] = {live: None, dead: ("tree", sub.id)}
            digest = rec.get("digest")
            if digest and self.by_digest(st, digest) == version:
                changes[digest_path(digest)] = None
            if al.get("latest") in (version, None):  # None: a store a restore once left without one
                self._place_latest(st, al, [v for v in self.version_names(st) if v != version])
            changes["aliases.json"] = meta.write_json(al)
            # the trash subtree must be inserted before its version.json is replaced
            tree = meta.edit_tree(st.tree, changes)
            tree = meta.edit_tree(meta.get(tree), {f"{dead}/version.json": meta.write_json(rec)})
            return TreeEdit(tree, f"delete {name}:{version}\n\nMvc-Op: delete\nMvc-Version: {version}\n")

        self._update(project, name, edit)

    def restore_version(self, project: str, name: str, version: str) -> None:
        meta = self.meta

        def edit(tip):
            st = self.state(project, name, tip) if tip is not None else None
            sub = self.version_tree(st, version, trash=True) if st else None
            if sub is None:
                raise NotFoundError(f"{project}/{name}:{version} is not in the trash",
                                    "it was never deleted, or gc has removed it")
            rec = dict(meta.json(sub, "version.json", {}))
            rec.pop("deleted_at", None)
            live = version_path(version)
            changes: dict[str, Any] = {version_path(version, trash=True): None, live: ("tree", sub.id)}
            digest = rec.get("digest")
            if digest and self.by_digest(st, digest) is None:
                changes[digest_path(digest)] = meta.write_blob(version.encode() + b"\n")
            al = dict(st.aliases)
            current = al.get("latest")
            if current is None or self._logged_at(st, version, rec) > self._logged_at(st, current):
                self._place_latest(st, al, [*self.version_names(st), version], {version: rec})
            if al != st.aliases:  # in this commit, so the alias history shows the move as the restore's
                changes["aliases.json"] = meta.write_json(al)
            tree = meta.edit_tree(st.tree, changes)
            tree = meta.edit_tree(meta.get(tree), {f"{live}/version.json": meta.write_json(rec)})
            return TreeEdit(tree, f"restore {name}:{version}\n\nMvc-Op: restore\nMvc-Version: {version}\n")

        self._update(project, name, edit)

    def _place_latest(self, st: ArtifactState, al: dict[str, str], live: list[str],
                      records: dict[str, dict] | None = None) -> None:
        """Point ``latest`` in ``al`` at the version of ``live`` whose content was logged most
        recently (SPEC: where a log leaves it), or drop it when none is live.  Delete and
        restore both call it inside their commit, so ``latest`` never names a trashed version
        and a restored newer version takes it back."""
        newest = max(live, key=lambda v: self._logged_at(st, v, (records or {}).get(v)), default=None)
        if newest is None:
            al.pop("latest", None)
        else:
            al["latest"] = newest

    def _logged_at(self, st: ArtifactState, version: str, rec: dict | None = None) -> tuple[float, int]:
        """When ``version``'s content was last logged (made or re-logged), then its number: the
        order ``latest`` follows.  Read from its version.json unless ``rec`` is given."""
        if rec is None:
            rec = self.meta.json(st.tree, f"{version_path(version)}/version.json", {})
        if not isinstance(rec, dict):
            rec = {}
        runs = rec.get("logged_by") if isinstance(rec.get("logged_by"), list) else []
        times = [rec.get("created_at"), *(e.get("at") for e in runs if isinstance(e, dict))]
        return max((t for t in times if isinstance(t, (int, float)) and not isinstance(t, bool)),
                   default=0.0), vindex(version)

    # ---- history -------------------------------------------------------
    def alias_history(self, project: str, name: str) -> list[dict]:
        """Every alias change, newest first: alias, from, to, who, when, op."""
        return alias_history(self.meta, refs.artifact(project, name))
