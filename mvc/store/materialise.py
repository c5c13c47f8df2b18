"""Materialise pointers into a folder: write into a temp folder, verify every
byte, then rename into place (a new folder) or move the files in (an existing
one).  Nothing is ever written outside the target, whatever the manifest says,
and nothing mvc did not create is ever deleted."""
from __future__ import annotations

import os
import secrets
import shutil
from urllib.parse import unquote, urlparse


from ..errors import IntegrityError, InvalidInputError, NotFoundError
from ..fsutil import fsync_dir, is_full, raise_if_full, storage_full
from ..paths import collision, path_problem
from .chunks import ChunkStore
from .digest import file_digest, hash_file
from .linkmodes import WholeFiles, check_mode, copy_chunks, place
from .pointer import Pointer
from .statcache import StatCache
from .worker import Worker

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Callable, Iterable


def check_relpath(relpath: str) -> str:
    """Refuse any manifest path that could land outside the target, or that git or a
    filesystem could read as something else (mvc/paths.py; docs/format.md, "Paths")."""
    bad = path_problem(relpath)
    if bad:
        raise IntegrityError(
            f"manifest path {relpath!r} {bad}; refusing to write it",
            "the version's metadata is damaged or hostile; run `mvc fsck`",
        )
    return relpath


def check_manifest(paths: Iterable[str]) -> None:
    """Every path passes ``check_relpath``, and no two collide (mvc/paths.collision): refused
    before anything is written, so a case-insensitive target never has one file replace another."""
    paths = [check_relpath(p) for p in paths]
    clash = collision(paths)
    if clash:
        raise IntegrityError(f"manifest {clash}; refusing to write either", "fetch only one of them with --include "
                             "(include=[...]); the version's metadata may be damaged or hostile: run `mvc fsck`")


def _file_path(ref: str) -> str:
    u = urlparse(ref)
    if u.scheme != "file":
        raise InvalidInputError(f"reference {ref} uses {u.scheme}://, which this mvc cannot fetch yet",
                                "only file:// references are supported")
    return unquote(u.path)


def _write_one(store: ChunkStore, ptr: Pointer, dest: str, label: str, verify_refs: bool,
               whole: WholeFiles | None = None, mode: str = "copy") -> bool:
    """Write one file; whether it holds bytes of its own (a copy or a clone), which must be
    made durable before it is published, rather than a link to the store's durable file."""
    if (whole is not None and not ptr.is_reference and not ptr.executable and ptr.chunks
            and place(whole, ptr, dest, mode, label)):
        return mode not in ("hardlink", "symlink")
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    if not ptr.is_reference:
        try:
            copy_chunks(store, ptr, fd, label)
        finally:
            os.close(fd)
    else:
        _copy_reference(ptr, fd, dest, label, verify_refs)
    if ptr.executable:
        os.chmod(dest, 0o755)
    return True


FSYNC_FILES = True  # a copy use fsyncs its files before the rename that publishes them (docs/format.md)


class _Syncer:
    """fsyncs the files a use wrote on background threads while the next files are copied
    (``THREADS`` of them: concurrent fsyncs share the journal's commits, measured 0.23-0.29 s
    for 2,000 files of 4 KiB against 0.51-0.61 s one by one); ``wait`` (before the
    publishing rename) waits for them and fsyncs the folders made."""

    THREADS = 4

    def __init__(self):
        self.workers = [Worker("mvc-fsync") for _ in range(self.THREADS)]
        self.tasks = []

    def add(self, path: str) -> None:
        if FSYNC_FILES:
            self.tasks.append(self.workers[len(self.tasks) % self.THREADS].submit(_fsync_file, path))

    def wait(self, tmp: str, relpaths) -> None:
        self.close()
        for task in self.tasks:
            task.result()
        if FSYNC_FILES:
            folders = {tmp} | {os.path.join(tmp, *p.split("/")[:i]) for p in relpaths
                               for i in range(1, p.count("/") + 1)}
            for folder in sorted(folders, key=len, reverse=True):  # deepest first
                fsync_dir(folder)

    def close(self) -> None:
        for worker in self.workers:
            worker.shutdown(wait=True)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_reference(ptr: Pointer, fd: int, dest: str, label: str, verify_refs: bool) -> None:
    """Copy a referenced file, then hash what was delivered (once per byte) against its digest.
    s3:// and http(s):// references are downloaded and checked by store/references.py."""
    if urlparse(ptr.ref).scheme in ("s3", "http", "https"):
        from . import references
        with os.fdopen(fd, "wb") as out:
            references.download(ptr, out, label, verify_refs)
        if verify_refs and references.needs_hash(ptr) and hash_file(dest)[0] != ptr.digest:
            raise IntegrityError(f"{label}: referenced object {ptr.ref} changed since it was logged",
                                 "pass verify=False to take it as it is now, or log it again")
        return
    src = _file_path(ptr.ref)
    with os.fdopen(fd, "wb") as out:
        try:
            f = open(src, "rb")
        except FileNotFoundError:
            raise NotFoundError(f"{label}: referenced file {src} no longer exists",
                                "restore it, or log the version again") from None
        with f:
            shutil.copyfileobj(f, out, 16 << 20)
    if verify_refs and hash_file(dest)[0] != ptr.digest:
        raise IntegrityError(f"{label}: referenced file {src} changed since it was logged",
                             "pass verify=False to take it as it is now, or log it again")


def check_composed(entries: list[tuple[str, Pointer]], label: str = "") -> None:
    """Every chunked pointer's digest MUST be the one its chunk list composes to
    (digest.file_digest): checked before any byte is written, so a chunk list edited or
    swapped under a sound digest is refused whole (a use then checks each chunk's bytes
    against its id, which proves the file)."""
    for relpath, ptr in entries:
        if not ptr.is_reference and file_digest(ptr.chunks) != ptr.digest:
            where = f"{label} file {relpath!r}" if label else f"file {relpath!r}"
            raise IntegrityError(f"{where}: its chunk list does not compose to its recorded digest {ptr.digest}; "
                                 "refusing to write it", "the version's metadata is damaged or hostile; run `mvc fsck`")


def materialise(store: ChunkStore, entries: list[tuple[str, Pointer]], target: str, label: str = "",
                verify_refs: bool = True, progress: Callable[[int], None] | None = None,
                link: str = "copy", cache: StatCache | None = None) -> str:
    """Write ``entries`` (relpath, pointer) into the folder ``target``; return it.

    ``link`` picks how each file gets its bytes (linkmodes.py): copy, hardlink,
    symlink, reflink or auto.

    Every file is written and verified in a temp folder first.  A new target is
    that folder renamed into place; an existing one receives the files one
    atomic rename each, after every destination was checked, and keeps every
    other file it holds (as W&B's download does).  On any error before the
    renames nothing at ``target`` changes, and mvc never deletes what it did
    not create.
    """
    check_manifest(p for p, _ in entries)
    check_composed(entries, label)
    link = check_mode(link)
    whole = WholeFiles(store, cache)
    target = os.path.abspath(target)
    if os.path.islink(target):
        raise InvalidInputError(f"{target} is a symlink; refusing to write through it",
                                "remove the symlink or choose another folder with root=/-o")
    if os.path.exists(target) and not os.path.isdir(target):
        raise InvalidInputError(f"{target} exists and is not a folder", "remove it or choose another folder")
    existing = os.path.isdir(target)
    _refuse_store_paths(store, target, entries)
    parent = target if existing else os.path.dirname(target)
    _folder_op(os.makedirs, parent, exist_ok=True)
    tmp = os.path.join(parent, f".mvc-download-{secrets.token_hex(4)}" if existing
                       else f".{os.path.basename(target)}.tmp-{secrets.token_hex(4)}")
    _folder_op(os.mkdir, tmp, shown=target)  # the folder the user named, not our temporary one
    syncer = _Syncer()
    try:
        made = {tmp}  # folders made so far: one mkdir per folder, not per file
        for relpath, ptr in entries:
            dest = os.path.join(tmp, *relpath.split("/"))
            folder = os.path.dirname(dest)
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            if _write_one(store, ptr, dest, f"{label} file {relpath!r}" if label else relpath, verify_refs, whole,
                          link):
                syncer.add(dest)
            if progress:
                progress(ptr.size)
        syncer.wait(tmp, [p for p, _ in entries])  # every byte on disk before any rename publishes it
        if existing:
            _merge_into(tmp, target, [p for p, _ in entries])
        else:
            _folder_op(os.rename, tmp, target, shown=target)
            fsync_dir(parent)
    except OSError as e:
        if not is_full(e):
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # first: free space is measured without our half-written files
        raise storage_full(f"writing {label or 'the files'} into {target}", parent,
                           sum(ptr.size for _, ptr in entries),
                           "free some space there, or choose another folder with -o/root=; nothing was "
                           "written") from None
    finally:
        syncer.close()
        shutil.rmtree(tmp, ignore_errors=True)  # ours: empty after a merge, gone after a rename
    return target


def _folder_op(fn, path: str, *args, shown: str | None = None, **kw) -> None:
    """A folder operation whose failure is the user's to fix: a typed error naming the folder
    (``shown``: the one the user named, when ``path`` is a temporary folder beside it)."""
    try:
        fn(path, *args, **kw)
    except OSError as e:
        raise_if_full(e, path)
        raise InvalidInputError(f"cannot write the folder {shown or path}: {e.strerror}",
                                "choose another folder with root=/-o, or fix its permissions") from None


def _refuse_store_paths(store: ChunkStore, target: str, entries) -> None:
    """A download into a folder that holds the store must not write into the store."""
    root = getattr(store, "root", None)
    if not root:
        return
    root = os.path.realpath(root)
    real: dict[str, str] = {}  # folder -> its real path: resolved once per folder, not per file
    for relpath, _ in entries:
        parts = relpath.split("/")
        folder = os.path.join(target, *parts[:-1])
        if folder not in real:
            real[folder] = os.path.realpath(folder)
        name = os.path.join(real[folder], parts[-1])
        dest = os.path.realpath(name) if os.path.islink(name) else name
        if dest == root or dest.startswith(root + os.sep):
            raise IntegrityError(f"file {relpath!r} would be written inside the store {root}",
                                 "download into another folder (root=/-o)")


def _merge_into(tmp: str, target: str, relpaths: list[str]) -> None:
    """Move each verified file from ``tmp`` into ``target``: check every
    destination first (no folder in the way, no symlinked folder to write
    through), then one atomic rename per file."""
    for relpath in relpaths:
        parts = relpath.split("/")
        here = target
        for part in parts[:-1]:
            here = os.path.join(here, part)
            if os.path.islink(here) or (os.path.exists(here) and not os.path.isdir(here)):
                raise InvalidInputError(f"{here} is in the way of {relpath!r} (a symlink or a file where a folder "
                                        "goes)", "remove it or choose another folder with root=/-o")
        dest = os.path.join(target, *parts)
        if os.path.isdir(dest) and not os.path.islink(dest):
            raise InvalidInputError(f"{dest} is a folder where the version has the file {relpath!r}",
                                    "remove it or choose another folder with root=/-o")
    touched = set()
    for relpath in relpaths:
        dest = os.path.join(target, *relpath.split("/"))
        _folder_op(os.makedirs, os.path.dirname(dest), exist_ok=True)
        _folder_op(os.replace, os.path.join(tmp, *relpath.split("/")), dest)
        touched.add(os.path.dirname(dest))
    for folder in touched:
        fsync_dir(folder)
