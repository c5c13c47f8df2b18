"""The bare git repository that holds all metadata, and the one way to change
it: build a new tree, commit it on the ref's old tip, move the ref by
compare-and-swap, and on a lost race re-read and re-apply with jittered backoff."""
from __future__ import annotations

import getpass
import os
import random
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable

import pygit2

from .. import canonical
from ..errors import IntegrityError, LockError

pygit2.settings.enable_fsync_gitdir(True)

MAX_WAIT_S = 60.0
STALE_LOCK_S = 30.0


class NoChange(Exception):
    """Raised by an edit function to finish without a commit; carries its result."""

    def __init__(self, result: Any = None):
        self.result = result


@dataclass
class TreeEdit:
    """A new tree for the ref, the commit message, and what to return."""

    tree: pygit2.Oid
    message: str
    result: Any = None


def identity() -> pygit2.Signature:
    name = os.environ.get("MVC_USER") or _git_config("user.name") or getpass.getuser()
    email = os.environ.get("MVC_EMAIL") or _git_config("user.email") or f"{getpass.getuser()}@{socket.gethostname()}"
    return pygit2.Signature(name, email)


def _git_config(key: str) -> str | None:
    try:
        return pygit2.Config.get_global_config()[key]
    except (KeyError, OSError, pygit2.GitError):
        return None


class MetaRepo:
    def __init__(self, path: str):
        self.path = path
        self.git = pygit2.Repository(path)

    @classmethod
    def create(cls, path: str) -> "MetaRepo":
        pygit2.init_repository(path, bare=True)
        return cls(path)

    # ---- reading -------------------------------------------------------
    def tip(self, refname: str) -> pygit2.Commit | None:
        try:
            ref = self.git.references[refname]
        except KeyError:
            return None
        try:
            return self.git[ref.target].peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError) as e:
            raise IntegrityError(f"ref {refname} points at an unreadable commit ({e})") from None

    def refnames(self, prefix: str = "refs/mvc/") -> list[str]:
        return sorted(r for r in self.git.references if r.startswith(prefix))

    def blob(self, tree: pygit2.Tree | None, path: str) -> bytes | None:
        if tree is None:
            return None
        try:
            obj = tree[path]
        except KeyError:
            return None
        if obj.type != pygit2.GIT_OBJECT_BLOB:
            raise IntegrityError(f"{path} in tree {tree.id} is not a blob")
        return self.git[obj.id].data

    def json(self, tree: pygit2.Tree | None, path: str, default: Any = None) -> Any:
        data = self.blob(tree, path)
        if data is None:
            return default
        try:
            return canonical.loads(data)
        except ValueError as e:
            raise IntegrityError(f"{path} in tree {tree.id} is not valid JSON ({e})") from None

    def subtree(self, tree: pygit2.Tree | None, path: str) -> pygit2.Tree | None:
        if tree is None:
            return None
        try:
            obj = tree[path]
        except KeyError:
            return None
        if obj.type != pygit2.GIT_OBJECT_TREE:
            raise IntegrityError(f"{path} in tree {tree.id} is not a folder")
        return self.git[obj.id]

    def walk_blobs(self, tree: pygit2.Tree, prefix: str = ""):
        """Yield (path, blob oid) for every blob below ``tree``."""
        for e in tree:
            p = f"{prefix}{e.name}"
            if e.type == pygit2.GIT_OBJECT_TREE:
                yield from self.walk_blobs(self.git[e.id], p + "/")
            else:
                yield p, e.id

    # ---- writing -------------------------------------------------------
    def write_blob(self, data: bytes) -> pygit2.Oid:
        return self.git.create_blob(data)

    def write_json(self, obj: Any) -> pygit2.Oid:
        return self.git.create_blob(canonical.dumps(obj))

    def build_tree(self, files: dict[str, pygit2.Oid]) -> pygit2.Oid:
        """A tree from '/'-separated paths to blob ids."""
        return self.edit_tree(None, files)

    def edit_tree(self, base: pygit2.Tree | None, changes: dict[str, Any]) -> pygit2.Oid:
        """A copy of ``base`` with ``changes`` applied: path -> blob oid,
        ('tree', oid) for a subtree, or None to remove.  Empty folders vanish."""
        tb = self.git.TreeBuilder(base) if base is not None else self.git.TreeBuilder()
        nested: dict[str, dict[str, Any]] = {}
        for path, value in changes.items():
            head, _, rest = path.partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = value
            elif value is None:
                if tb.get(head) is not None:
                    tb.remove(head)
            elif isinstance(value, tuple):
                tb.insert(head, value[1], pygit2.GIT_FILEMODE_TREE)
            else:
                tb.insert(head, value, pygit2.GIT_FILEMODE_BLOB)
        for head, sub in nested.items():
            existing = base[head] if base is not None and head in base else None
            sub_base = self.git[existing.id] if existing is not None and existing.type == pygit2.GIT_OBJECT_TREE else None
            oid = self.edit_tree(sub_base, sub)
            if len(self.git[oid]) == 0:
                if tb.get(head) is not None:
                    tb.remove(head)
            else:
                tb.insert(head, oid, pygit2.GIT_FILEMODE_TREE)
        return tb.write()

    def update(self, refname: str, edit: Callable[[pygit2.Commit | None], TreeEdit],
               crash_hook: Callable[[str], None] | None = None) -> Any:
        """Apply ``edit`` to the ref's tip and move the ref by compare-and-swap.

        ``edit`` gets the current tip commit (or None) and returns a TreeEdit,
        or raises NoChange.  It may run several times: it must be pure apart
        from writing git objects.
        """
        start = time.monotonic()
        delay = 0.002
        sig = identity()
        while True:
            tip = self.tip(refname)
            try:
                change = edit(tip)
            except NoChange as nc:
                return nc.result
            parents = [tip.id] if tip is not None else []
            commit = self.git.create_commit(None, sig, sig, change.message, change.tree, parents)
            if crash_hook:
                crash_hook("before-ref-move")
            try:
                if tip is None:
                    self.git.references.create(refname, commit, force=False)
                else:
                    ref = self.git.references[refname]
                    if ref.target != tip.id:
                        raise pygit2.GitError("old reference value does not match")
                    ref.set_target(commit, change.message.splitlines()[0])
                return change.result
            except (pygit2.GitError, pygit2.AlreadyExistsError, OSError, KeyError) as e:
                waited = time.monotonic() - start
                if "lock" in str(e).lower():
                    self._clear_stale_lock(refname)
                if waited > MAX_WAIT_S:
                    raise self._lock_error(refname, waited) from e
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.1)

    def _lock_path(self, refname: str) -> str:
        return os.path.join(self.path, *refname.split("/")) + ".lock"

    def _clear_stale_lock(self, refname: str) -> None:
        """A ref lock is held for microseconds; one older than STALE_LOCK_S was
        left by a killed writer, and libgit2 would fail on it forever."""
        lock = self._lock_path(refname)
        try:
            age = time.time() - os.stat(lock).st_mtime
        except FileNotFoundError:
            return
        if age > STALE_LOCK_S:
            try:
                os.unlink(lock)
            except FileNotFoundError:
                pass

    def _lock_error(self, refname: str, waited: float) -> LockError:
        lock = self._lock_path(refname)
        age = None
        try:
            age = time.time() - os.stat(lock).st_mtime
        except FileNotFoundError:
            pass
        held = f"lock {lock} (age {age:.0f}s)" if age is not None else f"ref {refname}"
        return LockError(
            f"gave up after {waited:.0f}s waiting for {held}: other writers kept winning or a writer died holding it",
            f"if no mvc process is running, remove the lock with `mvc unlock` (or rm {lock}) and retry",
        )

    def history(self, refname: str, limit: int | None = None):
        """Commits on the ref, newest first."""
        tip = self.tip(refname)
        if tip is None:
            return
        n = 0
        for c in self.git.walk(tip.id, pygit2.enums.SortMode.TOPOLOGICAL):
            yield c
            n += 1
            if limit and n >= limit:
                return
