"""Artifact (one version), Link and RegisteredModel: the read/write objects of
the public API, thin over Repository."""
from __future__ import annotations

import contextlib
import os
from datetime import datetime, timezone

from ..errors import InvalidInputError, IntegrityError, UsageError
from ..meta.artifacts import VersionInfo
from ..meta.registry import LinkInfo
from ..names import as_list, check_alias, check_name, parse_address, registered_model_target
from ..record import record
from ..repo import Repository, check_metadata
from ..repo.repository import check_description


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds") if ts else None


def default_root(name: str, version: str, root: str | None = None) -> str:
    """``root`` if given, else $MVC_ARTIFACT_DIR (or ./artifacts)/NAME:vN.  An empty ``root`` is
    refused: `-o ''` silently became ./artifacts/NAME:vN."""
    if root is not None and not str(root).strip():
        raise InvalidInputError(f"the folder to put {name}:{version} in is empty ({root!r})",
                                "name a folder with -o/root=, or leave it out for ./artifacts/NAME:vN")
    if root:
        return root
    base = os.environ.get("MVC_ARTIFACT_DIR") or "artifacts"
    return os.path.join(base, f"{name}:{version}")


@record(frozen=True)
class FileInfo:
    path: str
    size: int
    digest: str
    reference: str | None = None


class Artifact:
    """One version of an artifact, read from a store: content immutable; aliases, metadata,
    description and tags change through save().

    Made as W&B makes it, ``mvc.Artifact(name, type, description=None, metadata=None)`` is a
    *draft*: add_file, add_dir, add_reference and new_file fill it, and run.log_artifact(draft)
    logs it as one version and turns this very object into that version (as W&B's does).  What
    needs a version (version, digest, files(), download(), ...) says so on a draft."""

    def __init__(self, *args, **kwargs):
        if args and isinstance(args[0], Repository):
            self._load(*args, **kwargs)
        else:
            self._start_draft(*args, **kwargs)

    def _load(self, repo: Repository, info: VersionInfo, via_link: LinkInfo | None = None) -> None:
        self._repo = repo
        self._info = info
        self._draft = None
        self.via_link = via_link
        rec = info.record
        self.metadata: dict = dict(rec.get("metadata") or {})
        self.description: str = rec.get("description") or ""
        self.tags: list[str] = list(rec.get("tags") or [])
        self.aliases: list[str] = list(info.aliases)

    def _start_draft(self, name: str, type: str, description: str | None = None, metadata: dict | None = None,
                     incremental: bool = False, use_as: str | None = None) -> None:
        from .draft import DraftFiles
        check_name(name, "artifact name")
        check_name(type, "artifact type")
        if incremental:
            raise UsageError("incremental=True is not supported (W&B deprecates it too)",
                             "start from a logged version instead: mvc.Api().artifact(NAME).new_draft()")
        self._repo = None
        self._info = None
        self.via_link = None
        self._draft = DraftFiles()
        self._draft_name, self._draft_type = name, type
        self.use_as = use_as
        self.metadata = dict(check_metadata(metadata))
        self.description = check_description(description) or ""
        self.tags = []
        self.aliases = []

    def _bind(self, repo: Repository, info: VersionInfo) -> None:
        """The draft was logged as ``info``: from now on this object is that version."""
        draft = self._draft
        self._load(repo, info)
        if draft is not None:
            draft.discard_staging()

    def is_draft(self) -> bool:
        return self._draft is not None

    def _logged(self, what: str) -> VersionInfo:
        if self._info is None:
            raise UsageError(f"artifact {self._draft_name!r} is a draft: {what} needs a logged version",
                             "log it first with run.log_artifact(artifact); then this object is that version")
        return self._info

    def _drafting(self, what: str):
        if self._draft is None:
            raise UsageError(f"{self.address} is logged; its files cannot change ({what})",
                             "make a new version: draft = artifact.new_draft(), change it, run.log_artifact(draft)")
        return self._draft

    # ---- identity ------------------------------------------------------
    @property
    def name(self) -> str:
        return self._info.name if self._info else self._draft_name

    @property
    def type(self) -> str | None:
        return self._info.record.get("type") if self._info else self._draft_type

    version = property(lambda self: self._logged("version").version)
    project = property(lambda self: self._info.project if self._info else None)
    entity = property(lambda self: self._info.record.get("entity") if self._info else None)
    digest = property(lambda self: self._logged("digest").record.get("digest"))
    size = property(lambda self: self._logged("size").record.get("size", 0))
    created_at = property(lambda self: iso(self._info.record.get("created_at")) if self._info else None)
    updated_at = property(lambda self: iso(self._info.record.get("updated_at") or self._info.record.get(
        "created_at")) if self._info else None)
    deleted = property(lambda self: bool(self._info and self._info.deleted))
    created_by = property(lambda self: self._info.record.get("created_by") if self._info else None)

    @property
    def file_count(self) -> int:
        return self._info.record.get("files", 0) if self._info else len(self._draft.entries)

    @property
    def address(self) -> str:
        return f"{self.project}/{self.name}:{self.version}"

    @property
    def qualified_name(self) -> str:
        return "/".join(p for p in (self.entity, self.project, f"{self.name}:{self.version}") if p)

    # W&B's names of the same things (a version read through a registry link is its source version)
    id = property(lambda self: self.address)
    source_name = property(lambda self: f"{self.name}:{self.version}" if self._info else self.name)
    source_version = property(lambda self: self.version)
    source_project = property(lambda self: self.project)
    source_entity = property(lambda self: self.entity)
    source_qualified_name = property(lambda self: self.qualified_name)
    source_artifact = property(lambda self: self)
    is_link = property(lambda self: self.via_link is not None)
    url = None        # W&B's web page of the version; a local store has none
    use_as = None     # deprecated in W&B; kept for code that reads it
    history_step = None  # W&B's step of the logging run's history; mvc runs keep no step with a version

    @property
    def commit_hash(self) -> str | None:
        """W&B's hash of the committed version: here the hex of its content digest (None for a draft)."""
        return self.digest.split(":", 1)[-1] if self._info is not None and self.digest else None

    @property
    def state(self) -> str:
        """W&B's: PENDING (a draft), COMMITTED, or DELETED (in the trash)."""
        return "PENDING" if self._info is None else ("DELETED" if self._info.deleted else "COMMITTED")

    @property
    def ttl(self):
        """Versions never expire by time in mvc: None (no TTL policy)."""
        return None

    @ttl.setter
    def ttl(self, value) -> None:
        if value is not None:
            raise UsageError("artifact TTL is not supported: mvc versions never expire by time",
                             "delete versions with artifact.delete(), or keep the last N with `mvc gc` retention")

    def wait(self, timeout=None) -> "Artifact":  # noqa: ARG002 - W&B's signature; a log here is synchronous
        """W&B waits for the upload; an mvc log is done when log_artifact returns."""
        self._logged("wait()")
        return self

    @property
    def collection(self):
        from .collection import ArtifactCollection
        if self.via_link is not None:
            return ArtifactCollection(self._repo, None, self.via_link.model, registry=True)
        v = self._logged("collection")
        return ArtifactCollection(self._repo, v.project, v.name)

    @property
    def source_collection(self):
        from .collection import ArtifactCollection
        v = self._logged("source_collection")
        return ArtifactCollection(self._repo, v.project, v.name)

    @property
    def linked_artifacts(self) -> list["Artifact"]:
        return [link.artifact() for link in self.links()]

    def __repr__(self) -> str:
        if self._info is None:
            return f"<Artifact draft {self.name} type={self.type} files={len(self._draft.entries)}>"
        return f"<Artifact {self.address} type={self.type} aliases={self.aliases}>"

    def __eq__(self, other) -> bool:
        if self._info is None or not isinstance(other, Artifact) or other._info is None:
            return self is other
        return other.address == self.address

    def __hash__(self) -> int:
        return hash(self.address) if self._info is not None else id(self)

    # ---- building a draft (W&B's add_* methods) --------------------------
    def add_file(self, local_path: str, name: str | None = None, is_tmp: bool | None = False,
                 skip_cache: bool | None = False, policy: str = "mutable", overwrite: bool = False):
        """Add a local file as ``name`` (default: its basename); read when the draft is logged.
        ``is_tmp`` and ``skip_cache`` are accepted and change nothing locally."""
        from .draft import check_policy, entry_name
        draft = self._drafting("add_file")
        path = entry_name(name if name is not None else os.path.basename(os.fspath(local_path)))
        return draft.add_local(local_path, path, check_policy(policy), overwrite)

    def add_dir(self, local_path: str, name: str | None = None, skip_cache: bool | None = False,
                policy: str = "mutable", merge: bool = False) -> None:
        """Add every file under a folder (the rules of `mvc log`), under ``name`` (default: the root)."""
        from ..store.ingest import collect_files
        from .draft import check_policy, entry_name
        draft = self._drafting("add_dir")
        policy = check_policy(policy)
        if not os.path.isdir(local_path):
            raise InvalidInputError(f"cannot add {local_path}: it is not a folder",
                                    "add a folder with add_dir(), a file with add_file()")
        prefix = entry_name(name) + "/" if name else ""
        skipped: list = []
        files = collect_files(os.fspath(local_path), skipped=skipped)
        from ..store.ignore import skipped_notes, warn_notes
        warn_notes(skipped_notes(skipped))  # .git and the like left out: said, as log_model says it
        if not merge:
            held = [prefix + fe.relpath for fe in files if prefix + fe.relpath in draft.entries]
            if held:
                raise InvalidInputError(f"the artifact already holds {held[0]!r}, which add_dir would replace",
                                        "pass merge=True to replace files already added")
        for fe in files:
            draft.add_local(fe.abspath, prefix + fe.relpath, policy, overwrite=True)

    def add_reference(self, uri, name: str | None = None, checksum: bool = True, max_objects: int | None = None):
        """Add a reference (file://, s3://, http(s)://: the schemes of `mvc log URI`): its bytes stay
        where they are; what identifies them when logged is recorded (a file's checksum, an
        object's ETag/version).  ``checksum`` and ``max_objects`` go to the reference code as
        `log` passes them."""
        from .draft import entry_name
        from .manifest import ManifestEntry
        draft = self._drafting("add_reference")
        if isinstance(uri, ManifestEntry):
            uri = uri.ref or uri.local_path
        if not isinstance(uri, str) or "://" not in uri:
            raise InvalidInputError(f"add_reference takes a URI such as file:///data/x or s3://bucket/key, "
                                    f"not {uri!r}", "for a local file use add_file(), for a folder add_dir()")
        if max_objects is not None and (not isinstance(max_objects, int) or max_objects < 1):
            raise InvalidInputError(f"max_objects must be a positive integer, not {max_objects!r}",
                                    "leave it out, or pass e.g. max_objects=10000")
        return [draft.add_reference(uri, entry_name(name) if name else "", max_objects, bool(checksum))]

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None):
        """Open a new file of the artifact for writing; it is added when the ``with`` block ends
        (and not at all if the block raises).  The file lives in a private staging folder."""
        from .draft import entry_name
        draft = self._drafting("new_file")
        path = entry_name(name)
        if path in draft.entries:
            raise InvalidInputError(f"the artifact already holds a file named {path!r}",
                                    "choose another name, or remove() the first one")
        if not isinstance(mode, str) or not set(mode) & set("wxa"):
            raise InvalidInputError(f"new_file opens a file for writing; mode {mode!r} does not write",
                                    "leave mode out ('x'), or pass 'w', 'wb' or 'xb'")
        staged = os.path.join(draft.staging_dir(), *path.split("/"))
        os.makedirs(os.path.dirname(staged), exist_ok=True)
        ok = False
        try:
            with open(staged, mode, encoding=encoding) as f:
                yield f
            ok = True
        finally:
            if not ok and os.path.exists(staged):
                os.remove(staged)
        draft.add_local(staged, path, "immutable", overwrite=False)

    def add(self, obj, name: str, overwrite: bool = False):
        raise UsageError("artifact.add() stores W&B media objects (tables, images), which mvc does not store",
                         "write the object to a file and add_file() it, or write it with new_file()")

    def remove(self, item) -> None:
        """Take a file (or a folder of files) back out of a draft."""
        self._drafting("remove").remove(item)

    def get_added_local_path_name(self, local_path: str) -> str | None:
        want = os.path.abspath(os.fspath(local_path))
        for e in (self._draft.entries.values() if self._draft else ()):
            if e.local_path == want:
                return e.path
        return None

    def new_draft(self) -> "Artifact":
        """A draft holding this version's files (and type, metadata, description), to change and log
        as a new version; its files are already in the store, so only what changes is read."""
        v = self._logged("new_draft()")
        draft = Artifact(v.name, v.record.get("type"), description=self.description or None,
                         metadata=self.metadata or None)
        for path, ptr in self._repo.entries(v):
            draft._draft.add_pointer(path, ptr)
        return draft

    def _sources(self) -> list:
        """What Repository.log reads to log this object: a draft's listed files, or (a version
        logged again) its own files, already in the store."""
        if self._draft is not None:
            return self._draft.sources()
        from ..repo.listed import Source
        return [Source(p, pointer=ptr) for p, ptr in self._repo.entries(self._info)]

    # ---- manifest --------------------------------------------------------
    @property
    def manifest(self):
        from .manifest import Manifest, ManifestEntry
        if self._draft is not None:
            return Manifest(list(self._draft.entries.values()))
        return Manifest([ManifestEntry(p, ptr.digest, ptr.size, ptr.ref, _artifact=self)
                         for p, ptr in self._repo.entries(self._info)])

    def get_entry(self, name: str):
        """The manifest entry of the file ``name`` (NotFoundError, also a KeyError, if none)."""
        from .manifest import EntryNotFoundError
        entry = self.manifest.entries.get(str(name).replace(os.sep, "/"))
        if entry is None:
            label = self.address if self._info else f"draft {self.name!r}"
            raise EntryNotFoundError(f"{label} has no file {str(name)!r}", "see artifact.manifest.entries")
        return entry

    get_path = get_entry  # W&B's older name

    def get(self, name: str):
        raise UsageError("artifact.get() returns W&B media objects (tables, images), which mvc does not store",
                         f"fetch the file with artifact.get_entry({name!r}).download()")

    # ---- files ---------------------------------------------------------
    def files(self) -> list[FileInfo]:
        v = self._logged("files()")
        return [FileInfo(p, ptr.size, ptr.digest, ptr.ref) for p, ptr in self._repo.entries(v)]

    def download(self, root: str | None = None, include: list[str] | str | None = None, verify: bool = True,
                 progress=None, link: str | None = None, allow_missing_references: bool = False,
                 skip_cache=None, path_prefix: str | None = None, multipart=None) -> str:
        """Materialise the version (verified) and return the folder.  ``link``: "copy" (default),
        "hardlink" or "symlink" (read-only files), "reflink", or "auto" (reflink, else copy).
        W&B's ``path_prefix`` picks files under a prefix; its other options change nothing here."""
        v = self._logged("download()")
        include = as_list(include, "include") or None
        if path_prefix:
            import glob
            include = (include or []) + [glob.escape(path_prefix.rstrip("/")) + "*"]
        root = default_root(self.name, self.version, root)
        from .remote import ensure_local
        ensure_local(self._repo, v)  # lazy bytes: chunks not here come from the remote that has the version
        return self._repo.download(v, root, include, verify, progress, link=link)

    def file(self, root: str | None = None) -> str:
        """Download and return the path of the version's single file."""
        files = self.files()
        if len(files) != 1:
            raise InvalidInputError(f"{self.address} holds {len(files)} files, not one",
                                    "use download() and pick the file you need")
        return os.path.join(self.download(root), *files[0].path.split("/"))

    def verify(self, root: str | None = None) -> None:
        """Re-read every byte of this version; raise IntegrityError naming each bad file.  With
        ``root`` (W&B's form), check a downloaded folder against the version's files instead."""
        v = self._logged("verify()")
        problems = self._verify_folder(root) if root is not None else self._repo.verify(v)
        if problems:
            raise IntegrityError(f"{self.address} failed verification:\n  "  # one line per problem
                                 + "\n  ".join(p.replace("\n", "\\n") for p in problems))

    def _verify_folder(self, root: str) -> list[str]:
        from ..store.digest import hash_file
        problems = []
        for f in self.files():
            local = os.path.join(root, *f.path.split("/"))
            try:
                digest, _ = hash_file(local)
            except OSError as e:
                problems.append(f"{f.path}: {e.strerror} in {root}")
                continue
            if digest != f.digest:
                problems.append(f"{f.path}: differs from the version's file")
        return problems

    # ---- lineage -------------------------------------------------------
    def logged_by(self):
        """The run that produced this version (first logger), or None."""
        from .runs import RunRecord
        rid = self._logged("logged_by()").record.get("created_by")
        return RunRecord.load(self._repo, rid) if rid else None

    def loggers(self):
        """Every run that logged this content, in order (it may have been re-logged; a re-log
        that changed nothing is recorded only in the run's outputs)."""
        from .lineage import producers
        from .runs import RunRecord
        out = []
        for rid in producers(self._repo, self._logged("loggers()")):
            r = RunRecord.load(self._repo, rid)
            if r:
                out.append(r)
        return out

    def used_by(self):
        from .lineage import consumers
        from .runs import RunRecord
        return [RunRecord.load(self._repo, rid) for rid in consumers(self._repo, self._logged("used_by()"))]

    def links(self) -> list["Link"]:
        v = self._logged("links()")
        return [Link(self._repo, li) for li in self._repo.links_of(v)]

    def link(self, target_path: str, aliases: list[str] | None = None) -> "Link":
        """Link this version into a registered model: ``NAME``, ``registry/NAME``, or W&B's
        ``wandb-registry-model/NAME`` and ``[entity/]model-registry/NAME``."""
        v = self._logged("link()")
        model = registered_model_target(target_path)
        li, _ = self._repo.link(v, model, as_list(aliases, "aliases"))
        return Link(self._repo, li)

    def unlink(self) -> None:
        """Remove the registry link this version was read through (W&B's unlink of a linked artifact)."""
        if self.via_link is None:
            raise UsageError(f"{self.address if self._info else self.name} was not read through a registry link",
                             "read it as registry/NAME:vN (or unlink with `mvc registry unlink NAME:vN`)")
        self._repo.registry.unlink(self.via_link.model, self.via_link.link)

    # ---- changes -------------------------------------------------------
    def save(self, project: str | None = None, settings=None) -> None:  # noqa: ARG002 - W&B's signature
        """Record changed aliases, metadata, description and tags (who and when go into history).
        On a draft (W&B's form), log it: with the active run, else with a run of job type "auto"."""
        if self._draft is not None:
            return self._save_draft(project)
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

    def _save_draft(self, project: str | None) -> None:
        from .runs import active_run, init
        run = active_run()
        if run is not None:
            run.log_artifact(self)
            return
        with init(project=project, job_type="auto") as run:
            run.log_artifact(self)

    def delete(self, delete_aliases: bool = False) -> None:
        """Soft-delete: the version moves to the trash (restorable until gc); its number is never reused."""
        v = self._logged("delete()")
        self._repo.delete(v, delete_aliases)

    def restore(self) -> None:
        """Bring a soft-deleted version back.  Its own aliases are not restored; ``latest`` moves to
        it when its content was logged after that of the version ``latest`` names."""
        self._logged("restore()")
        self._repo.artifacts.restore_version(self.project, self.name, self.version)
        self._refresh()

    def _refresh(self) -> None:
        fresh, _ = self._repo.resolve(f"{self.project}/{self.name}:{self.version}")
        self._load(self._repo, fresh, self.via_link)


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
