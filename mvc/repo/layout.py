"""Finding, creating and opening a store, and the format check (docs/format.md)."""
from __future__ import annotations

import os
import re

import pygit2

from .. import canonical
from ..errors import FormatError, NotFoundError
from ..fsutil import atomic_write, fsync_tree

STORE_DIR = ".mvc"
FORMAT_FILE = "mvc-format.json"
FORMAT_VERSION = 1
KNOWN_FEATURES: set[str] = set()


def is_store(path: str) -> bool:
    return os.path.isfile(os.path.join(path, FORMAT_FILE))


def check_format(path: str) -> dict:
    """Refuse a store whose format or mandatory features we do not know, before touching anything."""
    try:
        with open(os.path.join(path, FORMAT_FILE), "rb") as f:
            info = canonical.loads(f.read())
    except FileNotFoundError:
        raise NotFoundError(f"{path} is not an mvc store (no {FORMAT_FILE})", "create one with `mvc init`") from None
    except ValueError as e:
        raise FormatError(f"{path}/{FORMAT_FILE} is unreadable ({e})",
                          "restore it from a backup; the store was left untouched") from None
    version = info.get("format") if isinstance(info, dict) else None
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise FormatError(f"store {path} has format {version!r}; this mvc reads format {FORMAT_VERSION} and older")
    unknown = sorted(set(info.get("features", [])) - KNOWN_FEATURES)
    if unknown:
        raise FormatError(f"store {path} needs features this mvc does not know: {', '.join(unknown)}")
    return info


def create_store(path: str) -> None:
    if is_store(path):
        return
    os.makedirs(path, exist_ok=True)
    pygit2.init_repository(path, bare=True)
    for sub in ("chunks", "tmp", "runs", "hooks"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    # A store inside a git work tree ignores itself: `git status` never sees it.
    atomic_write(os.path.join(path, ".gitignore"), b"# created by mvc: this store ignores itself\n*\n")
    fsync_tree(path)  # libgit2 does not fsync HEAD/config at init: a power cut left HEAD empty (R4)
    atomic_write(os.path.join(path, FORMAT_FILE), canonical.dumps({"format": FORMAT_VERSION, "features": []}))


def project_root(start: str) -> str:
    """The top of the enclosing git work tree, or ``start``."""
    try:
        found = pygit2.discover_repository(start)
    except pygit2.GitError:
        found = None
    if found:
        try:
            wd = pygit2.Repository(found).workdir
        except pygit2.GitError:
            wd = None
        if wd:
            return os.path.abspath(wd)
    return os.path.abspath(start)


def _store_at(path: str) -> str | None:
    path = os.path.abspath(path)
    if is_store(path):
        return path
    if is_store(os.path.join(path, STORE_DIR)):
        return os.path.join(path, STORE_DIR)
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
    env = os.environ.get("MVC_PROJECT")
    if env:
        return env
    root = os.path.dirname(os.path.abspath(store)) if os.path.basename(store) == STORE_DIR else store
    name = re.sub(r"[^A-Za-z0-9_.\-]", "-", os.path.basename(root) or "default").lstrip(".") or "default"
    return (name if name != "registry" else "registry-project")[:128]
