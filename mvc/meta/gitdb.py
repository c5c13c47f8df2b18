"""The bare git repository that holds all metadata, and the one way to change
it: build a new tree, commit it on the ref's old tip, move the ref by
compare-and-swap, and on a lost race re-read and re-apply with jittered backoff."""
from __future__ import annotations

import errno
import getpass
import hashlib
import heapq
import os
import random
import socket
import time
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pygit2

from .. import canonical
from ..errors import ConflictError, IntegrityError, LockError, MvcError, UnsafeStoreError
from ..fsutil import free_bytes, is_full, read_only_error, storage_full
from . import refs, refstore

pygit2.settings.enable_fsync_gitdir(True)

MAX_WAIT_S = 60.0
STALE_LOCK_S = 30.0   # a ref lock this old is stale whoever holds it (network filesystems)
QUIET_LOCK_S = 2.0    # ... and one this old that no process on this host holds open is stale too
LOCK_RECHECK_S = 0.5  # ... when it still is, as the same file, this much later (clear_stale_lock)
PACK_MIN_FILES = 16  # docs/performance.md, "Git packs"; MVC_PACK_MIN_FILES overrides it (read at use)
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
FULL_BELOW = 1 << 20  # a filesystem with less free than this is taken as full when an object went missing
_KINDS = (b"blob", b"tree", b"commit", b"tag")


def pack_min_files() -> int:
    return int(os.environ.get("MVC_PACK_MIN_FILES") or PACK_MIN_FILES)


def loose_problem(data: bytes, hexid: str) -> str | None:
    """What is wrong with the bytes of the loose object file of ``hexid`` (None if sound): its
    deflate stream must end inside the file with nothing after it (git tolerates nothing), its
    header "<type> <size>\\0" must give the body's length, and the SHA-1 of both must be the id."""
    d = zlib.decompressobj()
    try:
        raw = d.decompress(data)
    except zlib.error as e:
        return f"its deflate stream is damaged ({e})"
    if not d.eof:
        return "its deflate stream does not end inside the file (truncated or damaged)"
    if d.unused_data:
        return f"{len(d.unused_data)} bytes of garbage follow its deflate stream"
    head, nul, body = raw.partition(b"\0")
    kind, _, size = head.partition(b" ")
    if not nul or kind not in _KINDS or size != b"%d" % len(body):
        return f"its header {head[:40]!r} does not give a git type and its {len(body)}-byte size"
    if hashlib.sha1(raw).hexdigest() != hexid:
        return "the SHA-1 of its content is not its name"
    return None


def _open_by(path: str) -> list[int] | None:
    """PIDs on this host holding ``path`` open (Linux /proc), or None if unknowable."""
    if not os.path.isdir("/proc/self/fd"):
        return None
    target = os.path.realpath(path)
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    pids.append(int(pid))
                    break
            except OSError:
                continue
    return pids


def lock_info(lock: str) -> dict | None:
    """Age and holders of a ref lock file, or None if there is none."""
    try:
        st = os.stat(lock)
    except FileNotFoundError:
        return None
    pids = _open_by(lock)
    holders = ("held open by PID " + ", ".join(map(str, pids)) if pids else
               "no process on this host holds it open" if pids is not None else "holder unknown")
    return {"path": lock, "age": time.time() - st.st_mtime, "pids": pids, "holders": holders,
            "inode": st.st_ino, "mtime": st.st_mtime}


NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "afs", "gpfs",
              "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone"}


def on_network_fs(path: str) -> bool:
    """Whether ``path`` lies on a filesystem other hosts may write (Linux
    /proc/mounts; unknown counts as network: the cautious answer)."""
    try:
        with open("/proc/mounts", encoding="utf-8", errors="replace") as f:
            mounts = [line.split()[1:3] for line in f if len(line.split()) >= 3]
    except OSError:
        return True
    real = os.path.realpath(path)
    best, fstype = "", None
    for point, kind in mounts:
        point = point.replace("\\040", " ")
        if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, fstype = point, kind
    return fstype is None or fstype in NETWORK_FS


def lock_is_stale(info: dict) -> bool:
    """libgit2 holds a ref lock open for microseconds and records no PID in it:
    older than QUIET_LOCK_S with no holder on this host (on a local filesystem:
    a writer on another host sharing a network one would be invisible), or
    older than STALE_LOCK_S at all, means its writer died."""
    quiet = info["age"] > QUIET_LOCK_S and info["pids"] == [] and not on_network_fs(info["path"])
    return info["age"] > STALE_LOCK_S or quiet


def clear_stale_lock(lock: str) -> bool:
    """Remove ``lock`` if it is provably stale; True if removed.

    A live writer closes its lock file after a (possibly slow) fsync and renames
    it a moment later: seen in that moment it looks old and unheld.  Removing it
    then would let that rename publish another writer's new lock: a lost update
    (R1 caught it once under load).  So a lock must look stale twice,
    LOCK_RECHECK_S apart, as the same file: a live writer's lock is renamed away
    long before the second look; a dead writer's stays."""
    info = lock_info(lock)
    if info is None or not lock_is_stale(info):
        return False
    time.sleep(LOCK_RECHECK_S)
    again = lock_info(lock)
    if again is None or not lock_is_stale(again) or (again["inode"], again["mtime"]) != (info["inode"], info["mtime"]):
        return False  # renamed by its writer, or a new writer took it meanwhile
    try:
        os.unlink(lock)
    except FileNotFoundError:
        return False
    return True


def _open_error(path: str, e: Exception) -> MvcError:
    """Why the metadata repository cannot be opened, as a typed error with the way out."""
    text = str(e)
    if "not owned by current user" in text:
        try:
            owner = f"uid {os.stat(path).st_uid}"
        except OSError:
            owner = "another user"
        return UnsafeStoreError(
            f"the store {path} is owned by {owner}, not by you (uid {os.geteuid()}): git and libgit2 refuse "
            "a repository of another owner ('dubious ownership'), so mvc reads nothing from it",
            f"if you trust it (a team's shared store), mark it safe as git asks: "
            f"`git config --global --add safe.directory {path}`; nothing was changed")
    if not os.path.isfile(os.path.join(path, "HEAD")):
        return IntegrityError(f"the store's metadata repository {path} is damaged: its HEAD file is missing",
                              f"run `mvc fsck`; recreate it with `printf 'ref: refs/heads/master\\n' > "
                              f"{os.path.join(path, 'HEAD')}` (mvc keeps nothing on HEAD)")
    return IntegrityError(f"the store's metadata repository {path} cannot be opened: {text}",
                          "run `mvc fsck`; restore the metadata from a remote or a backup")


class _FullGuard:
    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None or not isinstance(exc, (OSError, pygit2.GitError)):
            return
        if is_full(exc):
            raise storage_full("writing metadata", self.path) from exc
        text = str(exc)
        for code, words in ((errno.EROFS, "Read-only file system"), (errno.EACCES, "Permission denied")):
            if (isinstance(exc, OSError) and exc.errno == code) or words in text:
                raise read_only_error(self.path, "write metadata", OSError(code, words, self.path)) from exc


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


def _is_contention(e: Exception) -> bool:
    """Another writer won: the ref is locked, moved since it was read, created meanwhile, or
    deleted meanwhile.  Only these are retried (RELIABILITY.md, "Facts")."""
    if isinstance(e, (pygit2.AlreadyExistsError, KeyError)):
        return True
    text = str(e).lower()
    return "lock" in text or "old reference value does not match" in text


def trailer(message: str, key: str) -> str | None:
    """The value of the ``key`` trailer (e.g. Mvc-Op) of a commit message, or None."""
    for line in message.splitlines():
        if line.startswith(key + ": "):
            return line[len(key) + 2:].strip()
    return None


def alias_history(meta: "MetaRepo", refname: str) -> list[dict]:
    """Every alias change on ``refname`` (an artifact or a registered model), newest first:
    alias, from, to, who, email, when, op, run, commit."""
    out = []
    for c in meta.history(refname):
        new = meta.json(c.tree, "aliases.json", {})
        old = meta.json(c.parents[0].tree, "aliases.json", {}) if c.parents else {}
        for a in sorted(set(new) | set(old)):
            if new.get(a) != old.get(a):
                out.append({"alias": a, "from": old.get(a), "to": new.get(a), "who": c.author.name,
                            "email": c.author.email, "when": c.commit_time, "op": trailer(c.message, "Mvc-Op"),
                            "run": trailer(c.message, "Mvc-Run"), "commit": str(c.id)})
    return out


class MetaRepo:
    def __init__(self, path: str):
        self.path = path
        try:
            self._repo = pygit2.Repository(path)
        except pygit2.GitError as e:
            raise _open_error(path, e) from None
        self._packs_ok: set[str] = set()           # git pack indexes checked sound by this instance
        self._packs_bad: dict[str, str] = {}       # idx path -> what is wrong with it
        self._packs_unchecked = True               # look for new packs before the next read
        self._sound: set[str] = set()              # ids read safely by this instance (objects never change)

    @property
    def git(self) -> pygit2.Repository:
        """The repository, once every git pack's index has been checked (``pack_problems``):
        libgit2 can hang or crash on a damaged index, so it never sees one."""
        if self._packs_unchecked or self._packs_bad:
            if self.pack_problems():
                path, why = sorted(self._packs_bad.items())[0]
                raise IntegrityError(f"git pack index {path} is damaged: {why}; mvc reads no metadata while it "
                                     "is there", "run `mvc fsck`; restore the .idx and .pack from a remote or a "
                                     "backup (`git index-pack` on a sound .pack rebuilds its .idx)")
        return self._repo

    def pack_problems(self, trust_checked: bool = True) -> dict[str, str]:
        """idx path -> problem, for each damaged pack index under objects/pack.  New ones are
        checked; with ``trust_checked`` an index recorded sound with the same stat (size, mtime,
        inode, ctime of it and its pack) is not read again (fsck passes False)."""
        from . import packwriter
        self._packs_unchecked = False
        folder = os.path.join(self.path, "objects", "pack")
        try:
            names = [n for n in os.listdir(folder) if n.endswith(".idx") and not n.startswith(".")]
        except FileNotFoundError:
            names = []
        if trust_checked:
            names = [n for n in names if n not in self._packs_ok]  # this instance checked those already
        before = packwriter.checked_before(self.path) if trust_checked and names else {}
        self._packs_bad, sound = {}, {}  # a damaged one is looked at again: it may have been restored
        for n in names:
            path = os.path.join(folder, n)
            try:
                key = packwriter._stat_key(path)
            except OSError:
                key = None
            why = None if key is not None and before.get(n) == key else packwriter.index_problem(path)
            if why is None:
                self._packs_ok.add(n)
                if key is not None:
                    sound[n] = key
            else:
                self._packs_bad[path] = why
        if sound and any(before.get(n) != k for n, k in sound.items()):
            packwriter.remember_checked(self.path, {**before, **sound})
        return dict(self._packs_bad)

    @classmethod
    def create(cls, path: str) -> "MetaRepo":
        pygit2.init_repository(path, bare=True)
        return cls(path)

    # ---- reading -------------------------------------------------------
    # Every object id reaches libgit2 through ``check`` (docs/format.md, "Read order").
    def check(self, oid) -> None:
        """Before libgit2 reads ``oid``: if it is a loose object file, inflate it here and
        require it sound (``loose_problem``): libgit2 1.9.7 loops forever on a loose object whose
        deflate stream does not end inside the file (docs/design.md).  Packed objects are covered
        by the .idx check; a sound id is remembered, so a repeated read costs a set lookup."""
        hexid = str(oid)
        if hexid in self._sound:
            return
        if len(hexid) != 40:
            raise ValueError(f"{hexid!r} is not a full git object id")
        path = f"{self.path}/objects/{hexid[:2]}/{hexid[2:]}"
        try:
            with open(path, "rb", buffering=0) as f:
                data = f.readall()
        except (FileNotFoundError, NotADirectoryError):
            return  # packed (or missing): ``get`` remembers it once libgit2 has read it
        except OSError as e:
            data, why = None, f"it cannot be read ({e})"
        if data is not None:
            why = loose_problem(data, hexid)
        if why is not None:
            raise IntegrityError(f"metadata object file {path} is damaged: {why}",
                                 "run `mvc fsck`; restore the metadata from a remote or a backup")
        self._sound.add(hexid)

    def forget_checked(self) -> None:
        """Check every loose object again at its next read (gc and fsck, which must not trust
        what this instance read before: a file may have been damaged since)."""
        self._sound.clear()

    def tip(self, refname: str) -> pygit2.Commit | None:
        self._packs_unchecked = True  # each operation starts here: packs written since are checked too
        try:
            target = self.git.references[refname].target
        except KeyError:
            return None
        except (ValueError, pygit2.GitError) as e:  # "corrupted loose reference file", a damaged packed-refs
            raise self.damaged_ref(refname, self._why_damaged(refname, e)) from None
        try:
            commit = self.commit(target, f"tip of {refname}")
            commit.tree  # noqa: B018 - read the root tree now: a damaged one is named here, not deep in a caller
            return commit
        except (KeyError, ValueError, pygit2.GitError) as e:
            raise IntegrityError(f"ref {refname} points at an unreadable commit or tree ({e}); "
                                 f"objects under {self.path}/objects", "run `mvc fsck`; restore the metadata "
                                 "from a remote or a backup") from None

    def commit(self, oid, what: str = "commit") -> pygit2.Commit:
        """The commit ``oid`` (annotated tags peeled one checked step at a time), its tree checked
        so that ``.tree`` is a safe read."""
        obj = self.get(oid, what)
        while obj.type == pygit2.GIT_OBJECT_TAG:
            obj = self.get(obj.target, f"target of tag {obj.id} ({what})")
        if obj.type != pygit2.GIT_OBJECT_COMMIT:
            raise IntegrityError(f"{what} (object {obj.id}) is not a commit",
                                 "run `mvc fsck`; restore the metadata from a remote or a backup")
        self.check(obj.tree_id)
        return obj

    def refnames(self, prefix: str = "refs/mvc/") -> list[str]:
        """The sound refs under ``prefix`` (read from disk by ``refstore``; libgit2's listing
        leaves a damaged ref out without a word).  ``damaged_refs`` names the others."""
        return refstore.read_refs(self.path, prefix).names()

    def damaged_refs(self, prefix: str = "refs/mvc/") -> dict[str, str]:
        """refname -> what is wrong, for each ref under ``prefix`` that cannot be read."""
        return refstore.read_refs(self.path, prefix).bad

    def _why_damaged(self, refname: str, e: Exception) -> str:
        return refstore.read_one(self.path, refname)[1] or str(e)

    def damaged_ref(self, refname: str, why: str) -> IntegrityError:
        """The typed error for a ref that cannot be read: which ref, what it names, the file, the repair."""
        label = refs.describe(refname)
        return IntegrityError(
            f"ref {refname}{f' ({label})' if label else ''} is damaged: {why}; file "
            f"{os.path.join(self.path, *refname.split('/'))}",
            "run `mvc fsck` to see what it held, then `mvc fsck --repair` to point it back at its newest "
            "commit; nothing was changed")

    def _entry(self, tree: pygit2.Tree | None, path: str, kind: int, what: str):
        """The object at ``path`` below ``tree`` (None if absent); it must be of ``kind``.  The
        path is walked one folder at a time through ``get`` (libgit2's own path lookup would
        read the folders on the way unchecked)."""
        if tree is None:
            return None
        node, parts = tree, path.split("/")
        for i, name in enumerate(parts):
            try:
                obj = node[name]  # an entry of a tree already read: libgit2 reads no object here
            except KeyError:
                return None
            except (ValueError, pygit2.GitError) as e:
                raise self._unreadable(f"a folder on the path to {path} in tree {tree.id}", e) from None
            if i == len(parts) - 1:
                break
            if obj.type != pygit2.GIT_OBJECT_TREE:
                return None
            node = self.get(obj.id, f"folder {'/'.join(parts[:i + 1])} in tree {tree.id}")
        if obj.type != kind:
            raise IntegrityError(f"{path} in tree {tree.id} is not a {what}")
        return self.get(obj.id, f"{path} in tree {tree.id}")

    def get(self, oid, what: str = "git object"):
        """The object ``oid``; a missing or damaged one is an IntegrityError naming it (never a GitError)."""
        try:
            self.check(oid)
            obj = self.git[oid]
        except (KeyError, ValueError, pygit2.GitError) as e:
            raise self._unreadable(f"{what} (object {oid})", e) from None
        self._sound.add(str(obj.id))
        return obj

    def _unreadable(self, what: str, e: Exception) -> IntegrityError:
        return IntegrityError(f"metadata {what} is missing or damaged ({e}); objects under {self.path}/objects",
                              "run `mvc fsck`; restore the metadata from a remote or a backup")

    def blob(self, tree: pygit2.Tree | None, path: str) -> bytes | None:
        obj = self._entry(tree, path, pygit2.GIT_OBJECT_BLOB, "blob")
        return obj.data if obj is not None else None

    def json(self, tree: pygit2.Tree | None, path: str, default: Any = None) -> Any:
        data = self.blob(tree, path)
        if data is None:
            return default
        try:
            return canonical.loads(data)
        except ValueError as e:
            raise IntegrityError(f"{path} in tree {tree.id} is not valid JSON ({e})") from None

    def subtree(self, tree: pygit2.Tree | None, path: str) -> pygit2.Tree | None:
        return self._entry(tree, path, pygit2.GIT_OBJECT_TREE, "folder")

    def walk_blobs(self, tree: pygit2.Tree, prefix: str = ""):
        """Yield (path, blob oid) for every blob below ``tree``."""
        for e in tree:
            p = f"{prefix}{e.name}"
            if e.type == pygit2.GIT_OBJECT_TREE:
                yield from self.walk_blobs(self.get(e.id, f"folder {p}"), p + "/")
            elif e.filemode in (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE):
                yield p, e.id
            else:  # a symlink (120000) or submodule entry: mvc never writes one; never follow or write it
                raise IntegrityError(f"{p} in tree {tree.id} has git mode {e.filemode:o}, not a file",
                                     "the metadata is damaged or hostile; run `mvc fsck`")

    # ---- writing -------------------------------------------------------
    def full_guard(self):
        """Around a libgit2 write: a full filesystem is a StorageFullError (libgit2 says it only as
        the text of an OSError or GitError), measured once libgit2 has dropped its temp file."""
        return _FullGuard(self.path)

    def write_blob(self, data: bytes) -> pygit2.Oid:
        with self.full_guard():
            return self.git.create_blob(data)

    def write_json(self, obj: Any) -> pygit2.Oid:
        data = canonical.dumps(obj)
        with self.full_guard():
            return self.git.create_blob(data)

    def write_files_tree(self, files: dict[str, bytes]) -> pygit2.Oid:
        """Blobs at '/'-separated paths and the folders holding them: one git pack when there
        are at least PACK_MIN_FILES (one fsynced file instead of one per object), else loose."""
        if len(files) >= pack_min_files():
            from .packwriter import pack_files_tree
            return pygit2.Oid(raw=pack_files_tree(os.path.join(self.path, "objects"), files))
        return self.build_tree({p: self.write_blob(data) for p, data in files.items()})

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
                self._insert(tb, head, value[1], pygit2.GIT_FILEMODE_TREE)
            else:
                self._insert(tb, head, value, pygit2.GIT_FILEMODE_BLOB)
        for head, sub in nested.items():
            existing = base[head] if base is not None and head in base else None
            sub_base = (self.get(existing.id, f"folder {head} in tree {base.id}")
                        if existing is not None and existing.type == pygit2.GIT_OBJECT_TREE else None)
            oid = self.edit_tree(sub_base, sub)
            if str(oid) == EMPTY_TREE:
                if tb.get(head) is not None:
                    tb.remove(head)
            else:
                self._insert(tb, head, oid, pygit2.GIT_FILEMODE_TREE)
        with self.full_guard():
            return tb.write()

    def _insert(self, tb: pygit2.TreeBuilder, name: str, oid, mode: int) -> None:
        """libgit2 reads the header of an object inserted into a tree (strict object creation):
        check it first.  A blob just written may be an old damaged file that libgit2 only freshened."""
        try:
            self.check(oid)
        except ValueError as e:
            raise self._unreadable(f"object {oid} for {name}", e) from None
        tb.insert(name, oid, mode)

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
            self.check(change.tree)  # libgit2 reads the headers of the tree and the parents (checked by tip)
            with self.full_guard():
                commit = self.git.create_commit(None, sig, sig, change.message, change.tree, parents)
            self.check(commit)  # ... and of a ref's new target
            op = trailer(change.message, "Mvc-Op") or "update"
            if crash_hook:
                crash_hook("before-ref-move")
                crash_hook(f"{op}:before-ref-move")
            try:
                if tip is None:
                    self.git.references.create(refname, commit, force=False)
                else:
                    ref = self.git.references[refname]
                    if ref.target != tip.id:
                        raise pygit2.GitError("old reference value does not match")
                    ref.set_target(commit, change.message.splitlines()[0])
                if crash_hook:
                    crash_hook(f"{op}:after-ref-move")
                return change.result
            except (pygit2.GitError, pygit2.AlreadyExistsError, OSError, KeyError) as e:
                if not _is_contention(e):
                    raise self._move_error(refname, e) from e
                waited = time.monotonic() - start
                if "lock" in str(e).lower():
                    self._clear_stale_lock(refname)
                if waited > MAX_WAIT_S:
                    raise self._lock_error(refname, waited) from e
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.1)

    def _move_error(self, refname: str, e: Exception) -> MvcError:
        """A ref move that failed for a reason other than another writer: typed, at once."""
        if is_full(e) or ("doesn't exist" in str(e) and free_bytes(self.path) < FULL_BELOW):
            # libgit2 can report a commit written that a full disk never got: the move then finds no target
            return storage_full(f"moving ref {refname}", self.path)
        if isinstance(e, OSError) and e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return read_only_error(self.path, f"move ref {refname}", e)
        return ConflictError(f"could not move ref {refname} in {self.path}: {e}",
                             f"check that {self.path} is writable and not damaged (`mvc fsck`), then retry; "
                             "nothing was changed")

    def _lock_path(self, refname: str) -> str:
        return os.path.join(self.path, *refname.split("/")) + ".lock"

    def _clear_stale_lock(self, refname: str) -> None:
        clear_stale_lock(self._lock_path(refname))

    def _lock_error(self, refname: str, waited: float) -> LockError:
        lock = self._lock_path(refname)
        info = lock_info(lock)
        held = (f"lock {lock} (host {socket.gethostname()} or another sharing the store; PID unknown: "
                f"git ref locks record none; age {info['age']:.0f}s; {info['holders']})"
                if info else f"ref {refname}")
        return LockError(
            f"gave up after {waited:.0f}s waiting for {held}: other writers kept winning or a writer died holding it",
            f"if no mvc process is running, clear it with `mvc unlock` (or rm {lock}) and retry",
        )

    def history(self, refname: str, limit: int | None = None):
        """Commits on the ref, newest first."""
        tip = self.tip(refname)
        if tip is None:
            return
        for n, c in enumerate(self.walk(tip), 1):
            yield c
            if limit and n >= limit:
                return

    def walk(self, start: pygit2.Commit):
        """``start`` and every commit behind it, children before parents and newest first (git's
        topological+time order), read through ``commit`` rather than libgit2's revwalk, which reads
        commits unchecked.  Before a commit is yielded its parents and every tree are checked, so
        ``c.tree`` and ``c.parents[k].tree`` are safe reads.  Linear history (all mvc writes) is
        walked lazily; below a merge the rest is collected and sorted."""
        seen, todo = {start.id}, [start]
        while len(todo) == 1:
            c = todo.pop()
            todo = [p for p in self._parents(c) if p.id not in seen]
            seen.update(p.id for p in todo)
            yield c
        if todo:
            yield from self._topo(todo, seen)

    def _parents(self, c: pygit2.Commit) -> list[pygit2.Commit]:
        return [self.commit(p, f"commit {p}, parent of {c.id}") for p in c.parent_ids]

    def _topo(self, heads: list[pygit2.Commit], seen: set) -> Iterator[pygit2.Commit]:
        commits, children, stack = {c.id: c for c in heads}, {c.id: 0 for c in heads}, list(heads)
        while stack:
            for p in self._parents(stack.pop()):
                children[p.id] = children.get(p.id, 0) + 1
                if p.id not in commits and p.id not in seen:
                    commits[p.id] = p
                    stack.append(p)
        ready = [(-c.commit_time, str(c.id)) for c in heads if children[c.id] == 0]
        heapq.heapify(ready)
        while ready:
            c = commits[pygit2.Oid(hex=heapq.heappop(ready)[1])]
            yield c
            for pid in c.parent_ids:
                if pid in commits:
                    children[pid] -= 1
                    if children[pid] == 0:
                        heapq.heappush(ready, (-commits[pid].commit_time, str(pid)))
