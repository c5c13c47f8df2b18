"""Finding, creating and opening a store, and the format check (docs/format.md)."""
from __future__ import annotations

import os
import re

from .. import canonical
from ..errors import FormatError, IntegrityError, NotFoundError
from ..fsutil import atomic_write, fsync_tree

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    import pygit2

STORE_DIR = ".mvc"
FORMAT_FILE = "mvc-format.json"
FORMAT_VERSION = 2
MIGRATING = "migrating"  # a migration from format 1 was cut short: finished before anything is read
KNOWN_FEATURES: set[str] = {MIGRATING}


def is_store(path: str) -> bool:
    return os.path.isfile(os.path.join(path, FORMAT_FILE))


HEAD_CONTENT = "ref: refs/heads/master\n"  # libgit2's default; mvc reads no branch, any valid HEAD will do
_FORMAT_TEXT = canonical.dumps({"format": FORMAT_VERSION, "features": []}).decode().strip()  # as create_store


def check_damaged(path: str) -> None:
    """Refuse a folder that holds a store's data but no format file (IntegrityError): opening it
    would re-initialise it over that data.  A store skeleton with no data (an init cut short
    before its format file, the last thing it writes) is not a store yet, and is not refused."""
    if not os.path.isdir(path) or is_store(path) or not _store_shaped(path):
        return
    held = _store_data(path)
    if held:
        raise IntegrityError(
            f"{path} holds an mvc store ({', '.join(held)}) but its {FORMAT_FILE} is missing; mvc will neither "
            "read it nor write to it, since writing would initialise a new store over it",
            f"restore {path}/{FORMAT_FILE} from a backup; if you know the store is format {FORMAT_VERSION}, write it "
            f"back with exactly this content: {_FORMAT_TEXT} (e.g. echo '{_FORMAT_TEXT}' > {path}/{FORMAT_FILE})")


def _store_shaped(path: str) -> bool:
    """An mvc store folder, format file or not: a folder named .mvc with git files or chunks/, or
    any folder with chunks/, objects/ and refs/ (a bare git repository has no chunks/; a project
    folder with a chunks/ of its own has no objects/ and refs/ beside it)."""
    def has(name: str) -> bool:
        return os.path.exists(os.path.join(path, name))
    if os.path.basename(path) == STORE_DIR:
        return any(has(n) for n in ("HEAD", "objects", "refs", "chunks"))
    return has("chunks") and has("objects") and has("refs")


def _store_data(path: str) -> list[str]:
    """What of a store's data ``path`` holds: git refs, git objects, chunks, runs (stops at the first file of each)."""
    def has_file(sub: str) -> bool:
        return any(files for _, _, files in os.walk(os.path.join(path, sub)))
    held = []
    if has_file("refs") or os.path.isfile(os.path.join(path, "packed-refs")):
        held.append("git refs")
    if has_file("objects"):
        held.append("git objects")
    if has_file("chunks") or has_file("packs"):
        held.append("chunks")
    if os.path.isdir(os.path.join(path, "runs")) and os.listdir(os.path.join(path, "runs")):
        held.append("runs")
    return held


def check_git(path: str) -> None:
    """The git files libgit2 needs to open the store (HEAD, objects/, refs/): an IntegrityError
    saying how to repair each, instead of libgit2's untyped "repository not found"."""
    if not os.path.isfile(os.path.join(path, "HEAD")):
        raise IntegrityError(
            f"store {path} has no HEAD file (git metadata), so its metadata cannot be opened",
            f"write it back (mvc reads no branch, so this one will do): printf "
            f"'{HEAD_CONTENT.strip()}\\n' > {path}/HEAD; then run `mvc fsck`")
    for sub in ("objects", "refs"):
        if not os.path.isdir(os.path.join(path, sub)):
            raise IntegrityError(f"store {path} has no {sub}/ folder: its git metadata is gone",
                                 f"restore {path}/{sub} from a backup, or clone the store again from its remote")


def check_format(path: str) -> dict:
    """Refuse a store whose format or mandatory features we do not know, before touching anything."""
    try:
        with open(os.path.join(path, FORMAT_FILE), "rb") as f:
            info = canonical.loads(f.read())
    except FileNotFoundError:
        check_damaged(path)
        raise NotFoundError(f"{path} is not an mvc store (no {FORMAT_FILE})", "create one with `mvc init`") from None
    except ValueError as e:
        raise FormatError(f"{path}/{FORMAT_FILE} is unreadable ({e})",
                          "restore it from a backup; the store was left untouched") from None
    version = info.get("format") if isinstance(info, dict) else None
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise FormatError(f"store {path} has format {version!r}; this mvc reads format {FORMAT_VERSION}")
    unknown = sorted(set(info.get("features", [])) - KNOWN_FEATURES)
    if unknown:
        raise FormatError(f"store {path} needs features this mvc does not know: {', '.join(unknown)}")
    if version < FORMAT_VERSION:
        raise FormatError(f"store {path} is format {version}; this mvc reads and writes format {FORMAT_VERSION}",
                          "convert it in place with `mvc migrate` (`mvc migrate --dry-run` says what it would do); "
                          "the store was left untouched")
    check_git(path)
    if MIGRATING in info.get("features", []):
        from .migrate import resume  # a migration cut short: finish it before anything is read
        resume(path)
        return check_format(path)
    return info


def create_store(path: str) -> None:
    if is_store(path):
        return
    check_damaged(path)
    os.makedirs(path, exist_ok=True)
    from ..meta.pygit import pygit2
    pygit2.init_repository(path, bare=True)
    for sub in ("chunks", "tmp", "runs", "hooks"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    # A store inside a git work tree ignores itself: `git status` never sees it.
    atomic_write(os.path.join(path, ".gitignore"), b"# created by mvc: this store ignores itself\n*\n")
    fsync_tree(path)  # libgit2 does not fsync HEAD/config at init: a power cut left HEAD empty (R4)
    atomic_write(os.path.join(path, FORMAT_FILE), canonical.dumps({"format": FORMAT_VERSION, "features": []}))


def enclosing_git(start: str) -> "pygit2.Repository | None":
    """The git repository at or above ``start``, or None.

    Opening it searches upward as git does (git_repository_open_ext without flags: up to
    a filesystem boundary), the same search as pygit2.discover_repository, which mvc must
    not call: pygit2 1.21.0 (cp311 manylinux wheel, libgit2 1.9.7) returns None for "no
    repository" without a reference to it (its compiled code hands back &_Py_NoneStruct,
    no Py_INCREF), so each call outside git took one reference from None, and ~60
    mvc.init() runs in one process aborted at exit with "Fatal Python error:
    none_dealloc" (issue 9; tests/test_many_runs.py).  Opening reports "not found" as a
    GitError instead, with no None involved.  Where no folder from ``start`` up holds a
    ``.git`` or a ``HEAD`` (a bare repository), there is none to find: None without loading
    pygit2 (~100 ms; a run record asks this of every `mvc log`).
    """
    if not _may_hold_git(start):
        return None
    import pygit2  # here: reading a store never needs it (mvc/meta/odb.py)
    try:
        return pygit2.Repository(start)
    except (pygit2.GitError, OSError):
        return None


def _may_hold_git(start: str) -> bool:
    """Whether libgit2's upward search from ``start`` (its real path, as libgit2 resolves it)
    could find a repository: some folder on the way holds ``.git`` (a folder or a gitdir file)
    or ``HEAD``.  False only where it certainly finds none."""
    folder = os.path.realpath(start)
    while True:
        if os.path.lexists(os.path.join(folder, ".git")) or os.path.lexists(os.path.join(folder, "HEAD")):
            return True
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent


def project_root(start: str) -> str:
    """The top of the enclosing git work tree, or ``start``."""
    repo = enclosing_git(start)
    wd = repo.workdir if repo is not None else None
    if wd:
        return os.path.abspath(wd)
    return os.path.abspath(start)


def _store_at(path: str) -> str | None:
    """The store at ``path`` or ``path/.mvc``; IntegrityError if one of them lost its format file."""
    path = os.path.abspath(path)
    for candidate in (path, os.path.join(path, STORE_DIR)):
        if is_store(candidate):
            return candidate
        check_damaged(candidate)
    return None


def find_store(dir: str | None = None, create: bool = True) -> str:
    """dir, else $MVC_DIR, else the nearest .mvc/ above the working directory,
    else a new one at the project root."""
    explicit = dir or os.environ.get("MVC_DIR")
    if explicit:
        found = _store_at(explicit)
        if found:
            return found
        if not create:
            raise NotFoundError(f"no mvc store at {explicit}", "create one with `mvc init`")
        target = explicit if os.path.basename(os.path.normpath(explicit)) == STORE_DIR else os.path.join(explicit, STORE_DIR)
        create_store(os.path.abspath(target))
        return os.path.abspath(target)
    here = os.path.abspath(os.getcwd())
    probe = here
    while True:
        found = _store_at(probe)
        if found:
            return found
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not create:
        raise NotFoundError(f"no mvc store in {here} or any folder above it",
                            "create one with `mvc init`, or point MVC_DIR at one")
    target = os.path.join(project_root(here), STORE_DIR)
    create_store(target)
    return target


def default_project(store: str) -> str:
    """MVC_PROJECT, else the setting core.project (mvc/settings.py), else the project folder's name."""
    from .. import settings
    configured = settings.get("core.project", store)
    if configured:
        return configured
    root = os.path.dirname(os.path.abspath(store)) if os.path.basename(store) == STORE_DIR else store
    name = re.sub(r"[^A-Za-z0-9_.\-]", "-", os.path.basename(root) or "default").lstrip(".") or "default"
    return (name if name != "registry" else "registry-project")[:128]
