"""The bare git repository that holds all metadata, and the one way to change
it: build a new tree, commit it on the ref's old tip, move the ref by
compare-and-swap, and on a lost race re-read and re-apply with jittered backoff.  Objects
and ref moves are written in Python (mvc/meta/writer.py): a write command never loads pygit2,
which stays for remotes, repacks, migrate, gc, fsck and recover."""
from __future__ import annotations

import errno
import os
import sys
import time

from .. import canonical
from ..errors import ConflictError, IntegrityError, LockError, MvcError, UnsafeStoreError, UsageError
from ..fsinfo import on_network_fs
from ..fsutil import free_bytes, is_full, read_only_error, storage_full
from ..record import record
from . import history, locks, refs, refstore, writer
from .history import alias_history, trailer  # noqa: F401 - alias_history: re-exported for artifacts.py, registry.py
from .loose import check_loose
from .odb import OBJECT_COMMIT, OBJECT_TAG, OBJECT_TREE, OBJECT_BLOB, FILEMODE_BLOB, FILEMODE_BLOB_EXECUTABLE
from .odb import FILEMODE_TREE, Commit, ObjectDB, ObjectError, Tree, kind_name

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator
    import pygit2


def _pygit2():
    """pygit2, loaded where libgit2 is still used (remotes, repack, gc, fsck, recover; never for
a read (mvc/meta/odb.py) nor for the writes of ``update`` (mvc/meta/writer.py))."""
    from .pygit import pygit2
    return pygit2


def git_error() -> type:
    """pygit2's GitError if pygit2 is loaded (only then can one be raised), else a class nothing raises."""
    module = sys.modules.get("pygit2")
    return module.GitError if module is not None else _NeverRaised


class _NeverRaised(Exception):
    pass

MAX_WAIT_S = 60.0
PACK_MIN_FILES = 16  # docs/format.md, "Git packs of a log"; MVC_PACK_MIN_FILES overrides it (read at use)
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
FULL_BELOW = 1 << 20  # a filesystem with less free than this is taken as full when an object went missing


def pack_min_files() -> int:
    return int(os.environ.get("MVC_PACK_MIN_FILES") or PACK_MIN_FILES)


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
        if exc is None or not isinstance(exc, (OSError, git_error())):
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


@record
class TreeEdit:
    """A new tree for the ref, the commit message, and what to return."""

    tree: str  # a hex id (a pygit2.Oid, which compares and hashes equal to its hex, is taken too)
    message: str
    result: Any = None


def identity(store: str | None = None) -> writer.Signature:
    """Who a commit is by, and now: MVC_USER/MVC_EMAIL, else the settings user.name/user.email
    (the store's file, then the user's: mvc/settings.py), else git's (``writer.git_user``),
    else the login and host.  A name or email git refuses is a UsageError."""
    import getpass  # here, not at the top: getpass, socket and random cost start-up that `mvc ls` never needs
    import socket

    from .. import settings
    name = settings.get("user.name", store) or _git_config("user.name") or getpass.getuser()
    email = (settings.get("user.email", store) or _git_config("user.email")
             or f"{getpass.getuser()}@{socket.gethostname()}")
    try:
        return writer.signature(name, email)
    except writer.BadSignature as e:
        raise UsageError(f"cannot sign a commit: {e}",
                         "set another with `mvc config set user.name ...` / `user.email` (or MVC_USER / "
                         "MVC_EMAIL); nothing was changed") from None


def git_signature(sig) -> "pygit2.Signature":
    """A signature read by mvc/meta/odb.py (a commit's author) or made by ``identity`` as
    pygit2's, for a commit libgit2 writes (mvc/remote)."""
    return _pygit2().Signature(sig.name, sig.email, sig.time, sig.offset)


def _git_config(key: str) -> str | None:
    """git's user.name or user.email from its global files (``writer.git_user``), or None."""
    return writer.git_user().get(key.partition(".")[2]) or None


class MetaRepo:
    def __init__(self, path: str):
        self.path = path
        self._repo: "pygit2.Repository | None" = None
        self._db: ObjectDB | None = None
        if not _plain_repository(path):  # let libgit2 say what is wrong, as it would at the first write
            self._open()
        self._packs_ok: set[str] = set()           # git pack indexes checked sound by this instance
        self._packs_bad: dict[str, str] = {}       # idx path -> what is wrong with it
        self._packs_unchecked = True               # look for new packs before the next read
        self._sound: set[str] = set()              # ids read safely by this instance (objects never change)
        self._written: dict[str, int] = {}         # id -> type of each object file this instance wrote
        self._pack_stamp: tuple | None = ()        # objects/pack as last looked at by ``_packed_in``
        self._network: bool | None = None          # on a network filesystem (asked once, at the first ref move)
        self.observer = None                       # around each ref move: store events (mvc/hooks/events.py)

    def _open(self) -> None:
        pygit2 = _pygit2()
        try:
            self._repo = pygit2.Repository(self.path)
        except pygit2.GitError as e:
            raise _open_error(self.path, e) from None

    @property
    def git(self) -> "pygit2.Repository":
        """The libgit2 repository (for writes), once every git pack's index has been checked
        (``pack_problems``): libgit2 can hang or crash on a damaged index, so it never sees one."""
        if self._repo is None:
            self._open()
        if self._packs_unchecked or self._packs_bad:
            self._refuse_damaged_packs()
        return self._repo

    @property
    def objects(self) -> ObjectDB:
        """The object reader (mvc/meta/odb.py), on the packs ``pack_problems`` found sound."""
        if self._db is None:
            self._db = ObjectDB(os.path.join(self.path, "objects"), self._sound_packs)
        if self._packs_unchecked or self._packs_bad:
            self._db.refresh()
        return self._db

    def _sound_packs(self) -> list[str]:
        self._refuse_damaged_packs()
        folder = os.path.join(self.path, "objects", "pack")
        return [os.path.join(folder, n) for n in sorted(self._packs_ok)]

    def _refuse_damaged_packs(self) -> None:
        if self.pack_problems():
            path, why = sorted(self._packs_bad.items())[0]
            raise IntegrityError(f"git pack index {path} is damaged: {why}; mvc reads no metadata while it "
                                 "is there", "run `mvc fsck`; restore the .idx and .pack from a remote or a "
                                 "backup (`git index-pack` on a sound .pack rebuilds its .idx)")

    def close(self) -> None:
        """Close the pack files the reader holds open (a MetaRepo dropped closes them too)."""
        if self._db is not None:
            self._db.close()

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
        _pygit2().init_repository(path, bare=True)
        return cls(path)

    # ---- reading -------------------------------------------------------
    # Reads go through ``objects`` (mvc/meta/odb.py, every object checked against its id); an
    # id handed to libgit2 for a write goes through ``check`` first (docs/format.md, "Read order").
    def check(self, oid) -> None:
        """Before libgit2 reads ``oid``: if it is a loose object file, inflate it here and
        require it sound (``loose.check_loose``): libgit2 1.9.7 loops forever on a loose object whose
        deflate stream does not end inside the file (docs/design.md).  Packed objects are covered
        by the .idx check; a sound id (or one ``get`` read) is remembered, so a repeat costs a set lookup."""
        hexid = str(oid)
        if hexid not in self._sound and check_loose(self.path, hexid):
            self._sound.add(hexid)  # packed (or missing): ``get`` remembers it once libgit2 has read it

    def forget_checked(self) -> None:
        """Read and check every object again at its next read (gc and fsck, which must not trust
        what this instance read before: a file may have been damaged since)."""
        self._sound.clear()
        if self._db is not None:
            self._db.forget()

    def tip(self, refname: str) -> Commit | None:
        self._packs_unchecked = True  # each operation starts here: packs written since are checked too
        self.objects  # noqa: B018 - a damaged pack index stops every read, named as such
        target, why = refstore.read_target(self.path, refname)
        if why is not None:  # a damaged loose ref file or packed-refs
            raise self.damaged_ref(refname, why)
        if target is None:
            return None
        try:
            return self.commit(target, f"tip of {refname}")
        except IntegrityError as e:
            raise IntegrityError(f"ref {refname} points at an unreadable commit or tree ({e.message})",
                                 "run `mvc fsck`; restore the metadata from a remote or a backup") from None

    def commit(self, oid, what: str = "commit") -> Commit:
        """The commit ``oid`` (annotated tags peeled one checked step at a time), its tree read
        so that ``.tree`` is a safe read: a damaged one is named here, not deep in a caller."""
        obj = self.get(oid, what)
        seen = set()
        while obj.type == OBJECT_TAG and obj.id not in seen:
            seen.add(obj.id)
            obj = self.get(obj.target, f"target of tag {obj.id} ({what})")
        if obj.type != OBJECT_COMMIT:
            raise IntegrityError(f"{what} (object {obj.id}) is not a commit",
                                 "run `mvc fsck`; restore the metadata from a remote or a backup")
        tree = self.get(obj.tree_id, f"tree of {what}")
        if tree.type != OBJECT_TREE:
            raise IntegrityError(f"the tree of {what} (object {obj.tree_id}) is not a tree",
                                 "run `mvc fsck`; restore the metadata from a remote or a backup")
        return obj

    def refnames(self, prefix: str = "refs/mvc/") -> list[str]:
        """The sound refs under ``prefix`` (read from disk by ``refstore``; libgit2's listing
        leaves a damaged ref out without a word).  ``damaged_refs`` names the others."""
        return refstore.read_refs(self.path, prefix).names()

    def damaged_refs(self, prefix: str = "refs/mvc/") -> dict[str, str]:
        """refname -> what is wrong, for each ref under ``prefix`` that cannot be read."""
        return refstore.read_refs(self.path, prefix).bad

    def damaged_ref(self, refname: str, why: str) -> IntegrityError:
        """The typed error for a ref that cannot be read: which ref, what it names, the file, the repair."""
        label = refs.describe(refname)
        return IntegrityError(
            f"ref {refname}{f' ({label})' if label else ''} is damaged: {why}; file "
            f"{os.path.join(self.path, *refname.split('/'))}",
            "run `mvc fsck` to see what it held, then `mvc fsck --repair` to point it back at its newest "
            "commit; nothing was changed")

    def _entry(self, tree: Tree | None, path: str, kind: int, what: str):
        """The object at ``path`` below ``tree`` (None if absent); it must be of ``kind``.  The
        path is walked one folder at a time through ``get``, each folder named if it is damaged."""
        if tree is None:
            return None
        node, parts = tree, path.split("/")
        for i, name in enumerate(parts):
            try:
                obj = node[name]  # an entry of a tree already read: no object is read here
            except KeyError:
                return None
            if i == len(parts) - 1:
                break
            if obj.type != OBJECT_TREE:
                return None
            node = self.get(obj.id, f"folder {'/'.join(parts[:i + 1])} in tree {tree.id}")
        if obj.type != kind:
            raise IntegrityError(f"{path} in tree {tree.id} is not a {what}")
        return self.get(obj.id, f"{path} in tree {tree.id}")

    def get(self, oid, what: str = "git object"):
        """The object ``oid``, checked against its id; a missing or damaged one is an
        IntegrityError naming it."""
        try:
            obj = self.objects.get(str(oid))
        except ObjectError as e:
            if e.path is not None:  # a damaged loose file: named as the file it is
                raise IntegrityError(f"metadata {e}", "run `mvc fsck`; restore the metadata from a remote or "
                                     "a backup") from None
            raise self._unreadable(f"{what} (object {oid})", e) from None
        except (KeyError, ValueError) as e:
            raise self._unreadable(f"{what} (object {oid})", e) from None
        self._sound.add(obj.id)  # read whole and hashed: libgit2 may be given it (``check``)
        return obj

    def _unreadable(self, what: str, e: Exception) -> IntegrityError:
        return IntegrityError(f"metadata {what} is missing or damaged ({e}); objects under {self.path}/objects",
                              "run `mvc fsck`; restore the metadata from a remote or a backup")

    def blob(self, tree: Tree | None, path: str) -> bytes | None:
        obj = self._entry(tree, path, OBJECT_BLOB, "blob")
        return obj.data if obj is not None else None

    def json(self, tree: Tree | None, path: str, default: Any = None) -> Any:
        data = self.blob(tree, path)
        if data is None:
            return default
        try:
            return canonical.loads(data)
        except ValueError as e:
            raise IntegrityError(f"{path} in tree {tree.id} is not valid JSON ({e})") from None

    def subtree(self, tree: Tree | None, path: str) -> Tree | None:
        return self._entry(tree, path, OBJECT_TREE, "folder")

    def walk_blobs(self, tree: Tree, prefix: str = ""):
        """Yield (path, blob oid) for every blob below ``tree``."""
        for e in tree:
            p = f"{prefix}{e.name}"
            if e.type == OBJECT_TREE:
                yield from self.walk_blobs(self.get(e.id, f"folder {p}"), p + "/")
            elif e.filemode in (FILEMODE_BLOB, FILEMODE_BLOB_EXECUTABLE):
                yield p, e.id
            else:  # a symlink (120000) or submodule entry: mvc never writes one; never follow or write it
                raise IntegrityError(f"{p} in tree {tree.id} has git mode {e.filemode:o}, not a file",
                                     "the metadata is damaged or hostile; run `mvc fsck`")

    # ---- writing -------------------------------------------------------
    # Objects are written in Python (mvc/meta/writer.py) with libgit2's rules: an object that
    # exists is freshened, not rewritten, and every id put in a tree or commit must be an object
    # of the right type (libgit2's strict object creation), read and checked here.
    def full_guard(self):
        """Around a write: a full filesystem is a StorageFullError, a read-only one a ReadOnlyError
        (also for libgit2's writes, which say so only as the text of an OSError or GitError),
        measured once the write's temp file is gone."""
        return _FullGuard(self.path)

    def write_blob(self, data: bytes) -> str:
        return self._write(OBJECT_BLOB, data)

    def write_json(self, obj: Any) -> str:
        return self._write(OBJECT_BLOB, canonical.dumps(obj))

    def _write(self, kind: int, data: bytes) -> str:
        """Store one object; its hex id."""
        with self.full_guard():
            oid, wrote = writer.write_object(os.path.join(self.path, "objects"), kind, data, self._packed_in)
        if wrote:
            self._written[oid] = kind
        return oid

    def _packed_in(self, oid: str, look_again: bool = False) -> str | None:
        """The pack file holding ``oid``, or None (with ``look_again``, after looking for new packs,
        as libgit2 does before it writes an object it found nowhere)."""
        db = self.objects
        if look_again and self._pack_folder_changed():
            db.refresh()
        return db.pack_path(oid)

    def _pack_folder_changed(self) -> bool:
        """objects/pack changed since the last look (its mtime and size; libgit2 asks the same
        before it re-reads the folder): one stat instead of listing it at each object written."""
        try:
            st = os.stat(os.path.join(self.path, "objects", "pack"))
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        changed, self._pack_stamp = stamp != self._pack_stamp, stamp
        return changed

    def write_files_tree(self, files: dict[str, bytes]) -> str:
        """Blobs at '/'-separated paths and the folders holding them: one git pack when there
        are at least PACK_MIN_FILES (one fsynced file instead of one per object), else loose."""
        if len(files) >= pack_min_files():
            from .packwriter import pack_files_tree
            return pack_files_tree(os.path.join(self.path, "objects"), files).hex()
        return self.build_tree({p: self.write_blob(data) for p, data in files.items()})

    def build_tree(self, files: dict[str, Any]) -> str:
        """A tree from '/'-separated paths to blob ids."""
        return self.edit_tree(None, files)

    def edit_tree(self, base: Tree | None, changes: dict[str, Any]) -> str:
        """A copy of ``base`` with ``changes`` applied: path -> blob oid,
        ('tree', oid) for a subtree, or None to remove.  Empty folders vanish."""
        entries = {e.name: (e.filemode, str(e.id)) for e in base} if base is not None else {}
        nested: dict[str, dict[str, Any]] = {}
        for path, value in changes.items():
            head, _, rest = path.partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = value
            elif value is None:
                entries.pop(head, None)
            elif isinstance(value, tuple):
                self._insert(entries, head, value[1], FILEMODE_TREE)
            else:
                self._insert(entries, head, value, FILEMODE_BLOB)
        for head, sub in nested.items():
            existing = base[head] if base is not None and head in base else None
            sub_base = (self.get(existing.id, f"folder {head} in tree {base.id}")
                        if existing is not None and existing.type == OBJECT_TREE else None)
            oid = self.edit_tree(sub_base, sub)
            if oid == EMPTY_TREE:
                entries.pop(head, None)
            else:
                self._insert(entries, head, oid, FILEMODE_TREE)
        return self._write(OBJECT_TREE, writer.tree_bytes(entries))

    def _insert(self, entries: dict[str, tuple[int, str]], name: str, oid, mode: int) -> None:
        """Put ``oid`` in a tree being built, once it is known to be an object of the type ``mode``
        says.  One this instance did not write itself is read and checked: an object that was
        only freshened may be an old damaged file."""
        why = writer.entry_name_problem(name)
        if why is not None:
            raise IntegrityError(f"cannot write a tree entry: {why}", "the metadata is damaged or hostile; "
                                 "run `mvc fsck`; nothing was changed")
        oid = str(oid)
        self._require(oid, OBJECT_TREE if mode == FILEMODE_TREE else OBJECT_BLOB, f"object {oid} for {name}")
        entries[name] = (mode, oid)

    def _require(self, oid: str, kind: int, what: str) -> None:
        """``oid`` is a sound object of type ``kind`` (IntegrityError naming ``what`` if not)."""
        have = self._written.get(oid)
        if have is None:
            try:
                have = self.get(oid, what).type
            except ValueError as e:  # not a full hex id
                raise self._unreadable(what, e) from None
        if have != kind:
            raise IntegrityError(f"metadata {what} is a {kind_name(have)}, not a {kind_name(kind)}",
                                 "run `mvc fsck`; restore the metadata from a remote or a backup")

    def update(self, refname: str, edit: Callable[[Commit | None], TreeEdit],
               crash_hook: Callable[[str], None] | None = None) -> Any:
        """Apply ``edit`` to the ref's tip and move the ref by compare-and-swap.

        ``edit`` gets the current tip commit (or None) and returns a TreeEdit,
        or raises NoChange.  It may run several times: it must be pure apart
        from writing git objects.
        """
        start = time.monotonic()
        delay = 0.002
        sig = identity(self.path)
        while True:
            tip = self.tip(refname)
            try:
                change = edit(tip)
            except NoChange as nc:
                return nc.result
            commit = self._commit(tip, change, sig)
            # store events (mvc/hooks/events.py, set by Repository): may veto, spools post-events
            ticket = self.observer.before_move(self, refname, tip, change, commit) if self.observer else None
            op = trailer(change.message, "Mvc-Op") or "update"
            if crash_hook:
                crash_hook("before-ref-move")
                crash_hook(f"{op}:before-ref-move")
            try:
                moved = self._move(refname, tip, commit)
            except BaseException:
                if ticket is not None:
                    self.observer.abandon(ticket)
                raise
            if moved:
                if crash_hook:
                    crash_hook(f"{op}:after-ref-move")
                if ticket is not None:
                    self.observer.after_move(ticket)
                return change.result
            if ticket is not None:
                self.observer.abandon(ticket)
            waited = time.monotonic() - start
            if waited > MAX_WAIT_S:
                raise self._lock_error(refname, waited)
            import random
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)

    def _commit(self, tip: Commit | None, change: TreeEdit, sig: writer.Signature) -> str:
        parents = [str(tip.id)] if tip is not None else []  # the tip was read and checked by ``tip``
        tree = str(change.tree)
        self._require(tree, OBJECT_TREE, "the tree of a new commit")
        return self._write(OBJECT_COMMIT, writer.commit_bytes(tree, parents, sig, sig, change.message))

    def _move(self, refname: str, tip: Commit | None, commit: str) -> bool:
        """One compare-and-swap of ``refname`` from ``tip`` to ``commit``, under mvc's owner lock
        of the ref (``locks.RefOwner``; none on a network filesystem, where advisory locks lie):
        True if it moved, False if another writer won or a lock it left was cleared (retry)."""
        owner = None if self._on_network_fs() else locks.RefOwner(self.path, refname)
        try:
            if owner is not None and not owner.acquire():
                return False
        except OSError as e:  # the owner file cannot be made: a full or read-only store
            raise self._move_error(refname, e) from e
        try:
            outcome = writer.swap_ref(self.path, refname, str(tip.id) if tip is not None else None, str(commit))
            if outcome == writer.LOCKED and not (owner is not None and owner.clear_left_lock()):
                locks.clear_aged_lock(locks.lock_path(self.path, refname))
            return outcome == writer.MOVED
        except writer.DamagedRef as e:
            raise self.damaged_ref(refname, str(e)) from None
        except OSError as e:
            raise self._move_error(refname, e) from e
        finally:
            if owner is not None:
                owner.release()

    def _on_network_fs(self) -> bool:
        if self._network is None:
            self._network = on_network_fs(self.path)
        return self._network

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
        return locks.lock_path(self.path, refname)

    def _lock_error(self, refname: str, waited: float) -> LockError:
        lock = self._lock_path(refname)
        return LockError(
            f"gave up after {waited:.0f}s waiting for {locks.describe(self.path, refname)}: other writers kept "
            "winning or a writer died holding it",
            f"if no mvc process is running, clear it with `mvc unlock` (or rm {lock}) and retry",
        )

    def history(self, refname: str, limit: int | None = None) -> Iterator[Commit]:
        """Commits on the ref, newest first (``history.history``)."""
        return history.history(self, refname, limit)

    def walk(self, start: Commit) -> Iterator[Commit]:
        """``start`` and every commit behind it, checked, in git's topological+time order (``history.walk``)."""
        return history.walk(self, start)


def _plain_repository(path: str) -> bool:
    """True if libgit2 would open ``path`` without a word, so the reader can go ahead without it:
    a bare repository (HEAD, objects/, refs/) owned by the caller (libgit2 refuses another
    owner's unless git's safe.directory allows it, and only libgit2 knows that setting)."""
    try:
        owner = os.stat(path).st_uid
    except OSError:
        return False
    return (owner == os.geteuid() and os.path.isfile(os.path.join(path, "HEAD"))
            and os.path.isdir(os.path.join(path, "objects")) and os.path.isdir(os.path.join(path, "refs")))
