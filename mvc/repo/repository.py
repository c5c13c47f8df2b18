"""Repository: the operations (log, use, link, alias, delete), the only place
where the chunk store (bytes) and the metadata (git) meet."""
from __future__ import annotations

import fnmatch
import json
import os

import blake3

from .. import canonical
from ..errors import (AmbiguousAddressError, IntegrityError, InvalidInputError, MvcError, NotFoundError,
                      StorageFullError)
from ..fsutil import storage_full
from ..hooks.events import StoreEvents
from ..meta import MetaRepo
from ..meta.artifacts import Artifacts, VersionInfo
from ..meta.registry import LinkInfo, Registry
from ..meta.runs import Runs
from ..nogc import nogc
from ..names import Address, check_alias, check_name, check_project, check_registered_model_name, parse_address
from ..record import record
from ..store import DirChunkStore, Pointer
from ..store.digest import file_digest, hash_file
from ..store.statcache import StatCache
from . import layout, owners
from .crash import crash_at

MAX_METADATA_KEYS = 100
MAX_METADATA_BYTES = 1 << 20  # canonical JSON of one version's metadata (and of its description)


@record
class LogResult:
    version: VersionInfo
    created: bool
    new_bytes: int
    files: int
    size: int
    committed: bool = True  # False: a no-op re-log (no artifact change); only the run records it
    outcome: str = "new"    # "new", "nothing", or "aliases" and/or "metadata" joined by "+" (a re-log)
    skipped: tuple = ()     # what the walk left out (store/ignore.py Skipped): .git and the like, ignored files

    @property
    def notes(self) -> list[str]:
        """What the user is told about ``skipped`` (a note in the CLI, a warning in Python)."""
        from ..store.ignore import skipped_notes
        return skipped_notes(self.skipped)


def _log_needs(path) -> int | None:
    """About what a log of ``path`` writes at most: its bytes (as if no chunk were in the store yet)
    and ~1 KiB of metadata per file plus 8 KiB (trees, commit, lease)."""
    if isinstance(path, list) or (isinstance(path, str) and "://" in path):  # a list: a draft's sources
        return None
    total, files = 0, 0
    try:
        if os.path.isdir(path):
            for base, _, names in os.walk(path):
                for n in names:
                    total += os.lstat(os.path.join(base, n)).st_size
                    files += 1
        else:
            total, files = os.stat(path).st_size, 1
    except OSError:
        return None
    return total + 1024 * files + 8192


def matches_include(path: str, include) -> bool:
    """``path`` matches one of the ``include`` globs (a glob or a list of them; fnmatch rules)."""
    pats = [include] if isinstance(include, str) else include
    return any(fnmatch.fnmatch(path, g) for g in pats)


def artifact_digest(entries: list[tuple[str, Pointer]]) -> str:
    """blake3 of the canonical JSON list of [path, size, file digest], sorted by path."""
    return artifact_digest_rows([[p, ptr.size, ptr.digest] for p, ptr in entries])


def artifact_digest_rows(rows: list) -> str:
    """The artifact digest of [path, size, file digest] rows (any order)."""
    return blake3.blake3(canonical.dumps(sorted(rows))).hexdigest()


def hash_tree(path: str, exclude=()) -> list[tuple[str, str, int]]:
    """(path, file digest, size) of each file a log of ``path`` (a file or a folder) would
    record, sorted by path, without a store: the same walk and rules as a log (``exclude``:
    its --exclude patterns), each chunk hashed once (`mvc hash`)."""
    from ..store.ingest import collect_files
    return [(fe.relpath, *hash_file(fe.abspath)) for fe in collect_files(os.fspath(path), exclude)]


def check_digest(label: str, record: dict, entries: list[tuple[str, Pointer]], files: bool = True) -> None:
    """The files of a version must hash to the digest its ``version.json`` records (docs/format.md,
    "Artifact tree"), and (``files``) each file's chunk list must compose to its digest ("Pointer
    blobs"): pointers swapped or edited under a sound record are an IntegrityError naming the
    version (and the file).  use, verify and fsck check it before reading a byte (use leaves the
    chunk lists to materialise, which checks them too)."""
    try:
        got = artifact_digest(entries)
    except UnicodeEncodeError:  # a path that is not UTF-8: no version mvc wrote has one
        got = "nothing (a path is not UTF-8)"
    want = record.get("digest")
    if got != want:
        raise IntegrityError(f"{label}: its files do not match its digest: version.json records {want}, "
                             f"its files hash to {got}; refusing to use it",
                             "the version's metadata is damaged or was tampered with: run `mvc fsck`, restore the "
                             f"metadata from a remote or a backup, or remove the version (`mvc delete {label}`)")
    for path, ptr in entries if files else ():
        if not ptr.is_reference and file_digest(ptr.chunks) != ptr.digest:
            raise IntegrityError(f"{label}: file {path!r}: its chunk list does not compose to its recorded digest "
                                 f"{ptr.digest}; refusing to use it",
                                 "the version's metadata is damaged or was tampered with: run `mvc fsck`, restore "
                                 f"the metadata from a remote or a backup, or remove the version (`mvc delete {label}`)")


class Repository:
    def __init__(self, path: str):
        self.format = layout.check_format(path)
        self.path = path
        self.meta = MetaRepo(path)
        self.stat_cache = StatCache(os.path.join(path, "state.db"))
        self.chunks = DirChunkStore(path, cache=self.stat_cache)  # vouches for loose chunks it checked
        self.artifacts = Artifacts(self.meta, crash_at)
        self.registry = Registry(self.meta, crash_at)
        self.runs = Runs(self.meta, crash_at)
        self._last_entries = None  # (version tree, its entries): see entries()
        self.events = StoreEvents(path)  # store events around every ref move (docs/design.md, "Store events")
        self.meta.observer = self.events
        self.pending = self.events.run_pending(self.meta)  # what an ended process spooled and did not deliver

    @classmethod
    def find(cls, dir: str | None = None, create: bool = True) -> "Repository":
        return cls(layout.find_store(dir, create))

    @property
    def default_project(self) -> str:
        return layout.default_project(self.path)

    # ---- log -------------------------------------------------------------
    def ingest(self, path: str, progress=None, exclude=(), skipped: list | None = None
               ) -> tuple[list[tuple[str, Pointer]], int]:
        if isinstance(path, list):  # listed sources (a W&B-style draft artifact): repo/listed.py
            from .listed import ingest_sources
            return ingest_sources(self, path, progress)
        if isinstance(path, str) and "://" in path:
            return self._references(path, exclude, skipped), 0
        from ..store.ingest import ingest_tree  # here, as collect_files, materialise: `mvc ls` never walks a folder
        self._refuse_own_store(os.fspath(path))
        return ingest_tree(self.chunks, os.fspath(path), progress, cache=self.stat_cache, exclude=exclude,
                           skipped=skipped)

    def _refuse_own_store(self, path: str) -> None:
        """A store (or a folder in it) is not logged into itself.  A store inside ``path`` is a
        `.mvc` folder, which the walk leaves out."""
        real, store = os.path.realpath(path), os.path.realpath(self.path)
        if real == store or real.startswith(store + os.sep):
            raise InvalidInputError(f"{path} is the mvc store at {self.path}, or inside it; a store is not "
                                    "logged into itself", "log your model's own files or folder")

    def _references(self, uri: str, exclude=(), skipped: list | None = None, checksum: bool = True,
                    max_objects: int | None = None) -> list[tuple[str, Pointer]]:
        from urllib.parse import quote, urlparse  # here: only references need it
        u = urlparse(uri)
        if u.scheme in ("s3", "http", "https"):  # recorded by identity (ETag, version), not read: store/references.py
            from ..store.references import expand
            return expand(uri, checksum=checksum, max_objects=max_objects)
        if u.scheme != "file":
            raise InvalidInputError(
                f"{u.scheme}:// references are not supported yet: {uri}",
                "use a file:// reference or log a local copy of the files",
            )
        from ..store.references import file_uri_path
        local = file_uri_path(uri)
        entries = []
        from ..store.ingest import collect_files
        for fe in collect_files(local, exclude, skipped):
            digest, size = hash_file(fe.abspath)
            entries.append((fe.relpath, Pointer(size=size, digest=digest, ref="file://" + quote(fe.abspath))))
        return entries

    @nogc
    def log(self, path, name: str, type_: str, project: str, entity: str | None = None,
            aliases: list[str] | None = None, metadata: dict | None = None, description: str | None = None,
            tags: list[str] | None = None, run_id: str | None = None, progress=None, exclude=()) -> LogResult:
        check_project(project)
        check_name(name, "artifact name")
        check_name(type_, "artifact type")
        aliases = [check_alias(a) for a in dict.fromkeys(aliases or [])]
        metadata = check_metadata(metadata)
        description = check_description(description)
        tags = [check_name(t, "tag") for t in (tags or [])]
        owners.check_write(self, project, entity)  # a project belongs to the entity that created it
        try:
            return self._log(path, name, type_, project, entity, aliases, metadata, description, tags, run_id,
                             progress, exclude)
        except StorageFullError as e:  # measured again now that the failed write's temp files are gone
            raise storage_full(f"logging {path}", self.path, _log_needs(path),
                               "free some space (`mvc gc` removes what the failed log wrote once its grace has "
                               "passed) and retry; nothing was changed") from e

    def _log(self, path, name, type_, project, entity, aliases, metadata, description, tags, run_id, progress,
             exclude=()):
        from .lease import Lease  # here: a read takes no lease
        with Lease(self.path, "log"):  # gc keeps every chunk younger than this lease
            crash_at("log:after-lease")
            entries, new_bytes, skipped = self._ingest_present(path, progress, exclude)
            crash_at("log:after-chunks")
            record = {"digest": artifact_digest(entries), "size": sum(p.size for _, p in entries),
                      "files": len(entries), "metadata": metadata, "description": description or "", "tags": tags}
            files_tree = _Once(lambda: self._files_tree(entries))
            if not self.artifacts.has_digest(project, name, record["digest"]):
                files_tree()  # a new version: its objects are written before the commit
            crash_at("log:after-objects")
            updates = {k: record[k] for k, given in (("metadata", metadata), ("description", description),
                                                     ("tags", tags)) if given}  # applied on a re-log
            v, outcome = self.artifacts.log_version(project, name, entity, type_, files_tree, record, aliases,
                                                    run_id, updates)
        crash_at("log:after-ref-move")
        created = outcome == "new"
        return LogResult(v, created, new_bytes if created else 0, len(entries), record["size"],
                         outcome != "nothing", outcome, tuple(skipped))

    def _files_tree(self, entries: list[tuple[str, Pointer]]):
        """The files/ tree of a new version: one pointer blob per file."""
        return self.artifacts.write_files({p: ptr.encode() for p, ptr in entries})

    def _ingest_present(self, path, progress=None, exclude=()):
        """Ingest, then check every chunk is still there before any ref moves
        (a gc that raced a dedup hit removes it; ingesting again writes it back)."""
        for _ in range(3):
            skipped: list = []  # what the walk left out (a fresh list each try)
            entries, new_bytes = self.ingest(path, progress, exclude, skipped)
            if not self.chunks.missing(cid for _, ptr in entries for cid, _ in ptr.chunks):  # one index reload
                return entries, new_bytes, skipped
        from ..errors import IntegrityError
        raise IntegrityError(f"chunks of {path} vanished from the store while it was logged, three times",
                             "a gc with a grace period shorter than the log ran meanwhile; retry the log")

    # ---- resolve ---------------------------------------------------------
    def resolve(self, address: str | Address, project: str | None = None, entity: str | None = None
                ) -> tuple[VersionInfo, LinkInfo | None]:
        """The version ``address`` names (in ``project`` unless it says; read as ``entity``'s
        unless it names one) and, for a registry address, the link it went through."""
        addr = address if isinstance(address, Address) else parse_address(address)
        if addr.registry:
            li = self.resolve_link(addr)
            p, n, ver = li.source
            st = self.artifacts.state(p, n)
            v = (self.artifacts.version(st, ver) or self.artifacts.version(st, ver, trash=True)) if st else None
            if v is None:
                raise NotFoundError(f"registry/{addr.name}:{li.link} points at {p}/{n}:{ver}, which no longer exists",
                                    f"unlink it with `mvc registry unlink {addr.name}:{li.link}`")
            return v, li
        project = addr.project or project or self.default_project
        owners.check_read(self, project, addr.entity or entity, f"artifact {addr.name!r}")
        st = self.artifact_state(project, addr.name)
        if addr.digest:
            found = self.artifacts.digest_prefix(st, addr.digest)
            if not found:
                raise NotFoundError(f"no version of {addr.name} has a digest starting with {addr.digest}",
                                    f"list digests with `mvc ls {addr.name} --json`")
            if len(found) > 1:
                opts = ", ".join(f"{self.artifacts.by_digest(st, d)} ({d[:12]})" for d in found[:10])
                raise AmbiguousAddressError(f"digest prefix {addr.digest} of {addr.name} matches {opts}",
                                            "give more digits of the digest")
            version = self.artifacts.by_digest(st, found[0])
        elif addr.version:
            version = addr.version
        else:
            alias = addr.alias or "latest"
            version = st.aliases.get(alias)
            if version is None:
                import difflib
                near = difflib.get_close_matches(alias, list(st.aliases), n=3, cutoff=0.4)
                raise NotFoundError(f"{project}/{addr.name} has no alias {alias!r}"
                                    + (f"; nearest: {', '.join(near)}" if near else
                                       f"; it has: {', '.join(sorted(st.aliases)) or 'none'}"),
                                    f"list versions and aliases with `mvc ls {addr.name}`")
        v = self.artifacts.version(st, version)
        if v is None:
            names = self.artifacts.version_names(st)
            trashed = self.artifacts.version(st, version, trash=True)
            extra = " (it was deleted; `mvc restore` brings it back)" if trashed else ""
            raise NotFoundError(f"{project}/{addr.name} has no version {version}{extra}; "
                                f"versions: {_span(names)}", f"list versions with `mvc ls {addr.name}`")
        return v, None

    def resolve_link(self, addr: Address) -> LinkInfo:
        info = self.registry.info(addr.name)
        if info is None:
            import difflib
            near = difflib.get_close_matches(addr.name, self.registry.names(), n=3, cutoff=0.4)
            raise NotFoundError(f"no registered model {addr.name!r}"
                                + (f"; nearest: {', '.join(near)}" if near else ""),
                                "list registered models with `mvc registry ls`")
        if addr.version:
            link = addr.version
        else:
            al = self.registry.aliases(addr.name)
            link = al.get(addr.alias or "latest")
            if link is None:
                raise NotFoundError(f"registry/{addr.name} has no alias {addr.alias or 'latest'!r}; "
                                    f"it has: {', '.join(sorted(al)) or 'none'}",
                                    f"see `mvc registry show {addr.name}`")
        li = self.registry.link_info(addr.name, link)
        if li is None:
            raise NotFoundError(f"registry/{addr.name} has no link {link}", f"see `mvc registry show {addr.name}`")
        return li

    def artifact_state(self, project: str, name: str):
        """The artifact's state; NotFoundError naming the nearest matches if it does not exist."""
        st = self.artifacts.state(project, name)
        if st is None:
            raise NotFoundError(f"no artifact {name!r} in project {project!r}{self._near_names(project, name)}",
                                "list artifacts with `mvc ls`")
        return st

    def _near_names(self, project: str, name: str) -> str:
        mine = [n for p, n in self.artifacts.list(project)]
        import difflib
        near = difflib.get_close_matches(name, mine, n=3, cutoff=0.5)
        elsewhere = [f"{p}/{n}" for p, n in self.artifacts.list() if n == name and p != project]
        parts = []
        if near:
            parts.append("nearest: " + ", ".join(near))
        if elsewhere:
            parts.append("found in other projects: " + ", ".join(elsewhere))
        return ("; " + "; ".join(parts)) if parts else ""

    # ---- files and download --------------------------------------------
    @nogc
    def entries(self, v: VersionInfo) -> list[tuple[str, Pointer]]:
        """(path, pointer) of every file of ``v``.  A version tree is content-addressed and
        never changes, so the last one read is kept: a use lists the files and downloads
        them, and reading 20,000 pointers costs ~0.7-0.9 s each time."""
        if self._last_entries is not None and self._last_entries[0] == v.tree:
            return list(self._last_entries[1])
        out = [(p, Pointer.decode(data, f"{v.project}/{v.name}:{v.version} pointer {p!r}"))
               for p, data in self.artifacts.files(v.tree, _label(v))]
        self._last_entries = (v.tree, out)
        return list(out)

    @nogc
    def download(self, v: VersionInfo, root: str, include: list[str] | None = None, verify: bool = True,
                 progress=None, link: str | None = None) -> str:
        """Materialise a version; ``link``: copy, hardlink, reflink or auto (store/linkmodes.py);
        None: the setting use.link (MVC_LINK, mvc/settings.py), else copy."""
        if link is None:
            from .. import settings
            link = settings.get("use.link", self.path) or "copy"
        entries = self.entries(v)
        check_digest(_label(v), v.record, entries, files=False)  # materialise checks each file's chunk list
        if include:
            entries = [(p, ptr) for p, ptr in entries if matches_include(p, include)]
            if not entries:
                raise NotFoundError(f"no file of {v.name}:{v.version} matches {', '.join(include)}",
                                    f"list its files with `mvc show {v.name}:{v.version}`")
        if progress is not None and hasattr(progress, "expect"):  # as ingest_tree tells a log's meter
            progress.expect(sum(ptr.size for _, ptr in entries))
        from ..store.materialise import materialise
        from .lease import Lease
        with Lease(self.path, "use", reads=[str(v.tree)]):  # gc keeps this version's chunks meanwhile
            try:
                out = materialise(self.chunks, entries, root, f"{v.project}/{v.name}:{v.version}", verify,
                                  progress, link=link, cache=self.stat_cache)
            except (NotFoundError, IntegrityError) as e:
                raise self._deleted_meanwhile(v, e) or e
        crash_at("use:after-files")
        return out

    def _deleted_meanwhile(self, v: VersionInfo, e: MvcError) -> MvcError | None:
        """A chunk gone while a version was read, because the version itself was deleted (and
        gc ran) meanwhile: say that, not "chunk missing, run fsck"."""
        try:
            st = self.artifacts.state(v.project, v.name)
            gone = st is None or self.artifacts.version(st, v.version) is None
        except MvcError:
            return None
        if not gone or v.deleted:
            return None
        return NotFoundError(f"{v.project}/{v.name}:{v.version} was deleted while it was being read ({e.message}); "
                             "nothing was written", f"`mvc ls {v.name}` shows what is left; "
                             f"`mvc restore {v.name}:{v.version}` brings it back if it is still in the trash")

    def verify(self, v: VersionInfo) -> list[str]:
        """Re-read every byte of a version; return the problems found (empty if sound).
        Files that do not match the version's digest are an IntegrityError at once."""
        entries = self.entries(v)
        check_digest(_label(v), v.record, entries)
        problems = []
        from ..store.materialise import check_manifest
        try:
            check_manifest(p for p, _ in entries)
        except IntegrityError as e:
            problems.append(e.message)
        from urllib.parse import unquote, urlparse  # here: `mvc ls` and its like never need it
        for p, ptr in entries:
            if ptr.is_reference and urlparse(ptr.ref).scheme != "file":
                from ..store.references import check
                problem = check(ptr)
                if problem:
                    problems.append(f"{p}: {problem}")
                continue
            if ptr.is_reference:
                local = unquote(urlparse(ptr.ref).path)
                try:
                    digest, _ = hash_file(local)
                except OSError as e:
                    problems.append(f"{p}: reference {ptr.ref} unreadable ({e.strerror})")
                    continue
                if digest != ptr.digest:
                    problems.append(f"{p}: reference {ptr.ref} changed since it was logged")
                continue
            try:
                for cid, _ in ptr.chunks:
                    self.chunks.get(cid)  # hashed against its id: each byte once
            except Exception as e:  # noqa: BLE001 - every failure is a finding here
                problems.append(f"{p}: {getattr(e, 'message', e)}")
        return problems

    # ---- links and aliases -------------------------------------------------
    def link(self, v: VersionInfo, model: str, aliases: list[str] | None = None, run_id: str | None = None):
        check_registered_model_name(model)
        aliases = [check_alias(a) for a in dict.fromkeys(aliases or [])]
        if v.deleted:
            from ..errors import ConflictError
            raise ConflictError(f"{v.project}/{v.name}:{v.version} is deleted; a registry cannot link it",
                                f"restore it first (`mvc restore {v.name}:{v.version}`), then link it")
        return self.registry.link(model, v, aliases, run_id)

    def links_of(self, v: VersionInfo) -> list[LinkInfo]:
        out = []
        for model in self.registry.names():
            out += [li for li in self.registry.links(model) if li.source == (v.project, v.name, v.version)]
        return out

    def delete(self, v: VersionInfo, delete_aliases: bool = False) -> None:
        from ..errors import ConflictError
        links = self.links_of(v)
        if links and not delete_aliases:
            names = ", ".join(f"registry/{li.model}:{li.link}" for li in links)
            raise ConflictError(f"{v.name}:{v.version} is linked as {names}",
                                "unlink it first (`mvc registry unlink`), or pass delete_aliases=True (`mvc delete --delete-aliases`)")
        self.artifacts.delete_version(v.project, v.name, v.version, delete_aliases)


class _Once:
    """A memoised zero-argument call (the files tree is built at most once per log)."""

    def __init__(self, fn):
        self.fn, self.done, self.value = fn, False, None

    def __call__(self):
        if not self.done:
            self.value, self.done = self.fn(), True
        return self.value


def check_metadata(metadata) -> dict:
    if metadata is None:
        return {}
    if isinstance(metadata, (str, bytes)):
        try:
            metadata = json.loads(metadata, parse_int=canonical.parse_int)  # a huge int: refused by key below
        except RecursionError:
            raise InvalidInputError(f"metadata is nested more than {canonical.MAX_DEPTH} levels deep",
                                    "flatten it (join nested keys into one, e.g. 'a.b.c')") from None
        except ValueError as e:
            raise InvalidInputError(f"metadata is not valid JSON: {e}", "pass a JSON object, e.g. '{\"acc\": 0.9}'") from None
    if not isinstance(metadata, dict):
        raise InvalidInputError(f"metadata must be a JSON object, not {type(metadata).__name__}",
                                "pass a dict such as {\"accuracy\": 0.93}")
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidInputError(f"metadata has {len(metadata)} top-level keys; the limit is {MAX_METADATA_KEYS}",
                                "nest related values under fewer keys")
    metadata = canonical.clean_json(metadata, "metadata")
    size = len(canonical.dumps(metadata)) - 1  # without the trailing LF
    if size > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata is {size:,} bytes of canonical JSON; the limit is "
                                f"{MAX_METADATA_BYTES:,} (1 MiB)",
                                "keep summary numbers in metadata and log large data (tables, arrays, "
                                "long text) as a file of the artifact")
    return metadata


def check_description(description):
    """A version's description: None (not given) or text UTF-8 can encode, at most 1 MiB of it."""
    canonical.clean_text(description, "description")
    size = len(description.encode("utf-8")) if description else 0
    if size > MAX_METADATA_BYTES:
        raise InvalidInputError(f"description is {size:,} bytes; the limit is {MAX_METADATA_BYTES:,} (1 MiB)",
                                "keep the description short and log long text as a file of the artifact")
    return description


def _label(v: VersionInfo) -> str:
    return f"{v.project}/{v.name}:{v.version}"


def _span(names: list[str]) -> str:
    if not names:
        return "none"
    if len(names) <= 6:
        return ", ".join(names)
    return f"{', '.join(names[:3])}, …, {', '.join(names[-2:])}"
