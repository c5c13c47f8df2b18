"""Everything that arrives from a remote is hostile until checked (docs/design.md, "Remotes"):
before a fetched ref is trusted, each of its new commits' trees is read here with the rules
local input meets.  Ref names decode (codec) and pass the name rules (names.py); trees hold
plain files and folders only (an executable, a symlink or a submodule never travels); each
version's paths pass the path rules (paths.py) and its files hash to its recorded digest,
each file's chunk list to its file digest (a swapped or renamed manifest entry fails);
aliases, links and run records name versions in mvc's form.  A version tree is checked once
per id, however many commits hold it."""
from __future__ import annotations

from ..meta.pygit import pygit2

from .. import canonical
from ..errors import IntegrityError, MvcError
from ..meta import refs
from ..meta.artifacts import Artifacts
from ..meta.gitdb import MetaRepo
from ..meta.layout import is_version, numbered
from ..names import check_alias, check_name, check_project, check_registered_model_name
from ..paths import collision, path_problem
from ..repo.repository import check_digest
from ..store import Pointer
from .remotes import CONFIG_REF

PLAIN_MODES = (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_TREE)


class Checker:
    """Checks the refs fetched from one remote; remembers the trees it has passed."""

    def __init__(self, meta: MetaRepo, remote: str):
        self.meta = meta
        self.remote = remote
        self.artifacts = Artifacts(meta)
        self.trees_ok: set[str] = set()
        self.versions_ok: set[str] = set()

    def fail(self, what: str, why: str) -> IntegrityError:
        return IntegrityError(f"remote {self.remote}: {what}: {why}; nothing from it entered the store",
                              "the remote's metadata is damaged or hostile: tell whoever runs it; "
                              "`mvc fsck` there names the damage")

    def check_ref(self, refname: str, tip: str, known: list[str]) -> None:
        """Check every commit of ``refname`` at ``tip`` that ``known`` (ids already trusted) do not reach."""
        kind, label = self._kind(refname)
        walker = self.meta.git.walk(pygit2.Oid(hex=tip), pygit2.enums.SortMode.TOPOLOGICAL)
        for k in known:
            if k and self.meta.git.odb.exists(pygit2.Oid(hex=k)):
                walker.hide(pygit2.Oid(hex=k))
        try:
            for c in walker:
                commit = self.meta.commit(c.id, f"commit of {label}")
                self._check_tree(commit.tree, f"{label} (commit {str(c.id)[:12]})")
                getattr(self, f"_check_{kind}")(commit.tree, label)
        except IntegrityError as e:
            if e.message.startswith(f"remote {self.remote}:"):
                raise
            raise self.fail(label, e.message) from None
        except (KeyError, ValueError, pygit2.GitError) as e:
            raise self.fail(label, f"an object is missing or unreadable ({e})") from None

    def _kind(self, refname: str) -> tuple[str, str]:
        if refname == CONFIG_REF:
            return "config", "the remote's configuration"
        parsed = refs.parse(refname)
        if parsed is None:
            raise self.fail(f"ref {refname!r}", refs.problem(refname) or "it is in no namespace mvc knows")
        kind, project, name = parsed
        try:
            if kind == "registry":
                check_registered_model_name(name)
                return kind, f"registered model registry/{name}"
            check_project(project)
            check_name(name, "run id" if kind == "run" else "artifact name")
        except MvcError as e:
            raise self.fail(f"ref {refname!r}", e.message) from None
        return kind, f"{kind} {project}/{name}"

    def _check_tree(self, tree: pygit2.Tree, label: str, path: str = "") -> None:
        """Plain files and folders only, all the way down (each tree id once)."""
        if str(tree.id) in self.trees_ok:
            return
        for e in tree:
            if e.filemode not in PLAIN_MODES:
                raise self.fail(label, f"{path}{e.name} has git mode {e.filemode:o}: executables, symlinks and "
                                       "submodules never travel")
            if e.type == pygit2.GIT_OBJECT_TREE:
                self._check_tree(self.meta.get(e.id, f"folder {path}{e.name}"), label, f"{path}{e.name}/")
        self.trees_ok.add(str(tree.id))

    def _json(self, tree, path: str, label: str, kind: type):
        value = self.meta.json(tree, path)
        if value is not None and not isinstance(value, kind):
            raise self.fail(label, f"{path} is not a JSON {kind.__name__}")
        return value

    def _aliases(self, tree, label: str) -> None:
        for alias, target in (self._json(tree, "aliases.json", label, dict) or {}).items():
            try:
                check_alias(alias, allow_latest=True)
            except MvcError as e:
                raise self.fail(label, f"aliases.json: {e.message}") from None
            if not is_version(target):
                raise self.fail(label, f"aliases.json points {alias!r} at {target!r}, which is no version name")

    # ---- per kind ------------------------------------------------------------
    def _check_artifact(self, tree, label: str) -> None:
        self._json(tree, "artifact.json", label, dict)
        self._aliases(tree, label)
        for folder in ("versions", "trash"):
            for version, oid in numbered(self.meta, tree, folder):
                self.check_version(oid, f"{label.split(' ', 1)[1]}:{version}", version)

    def check_version(self, oid, label: str, version: str | None = None) -> None:
        if str(oid) in self.versions_ok:
            return
        sub = self.meta.get(oid, f"version tree of {label}")
        record = self._json(sub, "version.json", label, dict) or {}
        if version is not None and record.get("version") not in (None, version):
            raise self.fail(label, f"its version.json says it is {record.get('version')!r}")
        entries = [(p, Pointer.decode(data, f"{label} pointer {p!r}")) for p, data in self.artifacts.files(oid, label)]
        for p, _ in entries:
            why = path_problem(p)
            if why:
                raise self.fail(label, f"path {p!r} {why}")
        clash = collision(p for p, _ in entries)
        if clash:
            raise self.fail(label, f"its {clash}")
        check_digest(label, record, entries)
        self.versions_ok.add(str(oid))

    def _check_registry(self, tree, label: str) -> None:
        self._json(tree, "model.json", label, dict)
        self._aliases(tree, label)
        for link, oid in numbered(self.meta, tree, "links"):
            folder = self.meta.get(oid, f"link {link} of {label}")
            rec = self._json(folder, "link.json", f"{label}:{link}", dict) or {}
            try:
                check_project(rec.get("project"))
                check_name(rec.get("name"), "artifact name")
            except MvcError as e:
                raise self.fail(f"{label}:{link}", f"link.json: {e.message}") from None
            if not is_version(rec.get("version")):
                raise self.fail(f"{label}:{link}", f"link.json names version {rec.get('version')!r}")
            version = self.meta.subtree(folder, "version")
            if version is not None:
                self.check_version(version.id, f"{rec['project']}/{rec['name']}:{rec['version']} (linked as "
                                               f"{label}:{link})")

    def _check_run(self, tree, label: str) -> None:
        self._json(tree, "run.json", label, dict)
        for path in ("inputs.json", "outputs.json"):
            for item in self._json(tree, path, label, list) or []:
                if not isinstance(item, dict) or not is_version(item.get("version")):
                    raise self.fail(label, f"{path} holds {str(item)[:80]!r}, not a version record")

    def _check_config(self, tree, label: str) -> None:
        info = self._json(tree, "remote.json", label, dict) or {}
        if not isinstance(info.get("storage"), (str, type(None))):
            raise self.fail(label, "remote.json's storage is not a URL")


def read_config(meta: MetaRepo, oid: str) -> dict:
    """The remote's remote.json (at commit ``oid``, already checked)."""
    commit = meta.commit(pygit2.Oid(hex=oid), "the remote's configuration")
    data = meta.blob(commit.tree, "remote.json")
    return canonical.loads(data) if data else {}
