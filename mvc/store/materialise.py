"""Materialise pointers into a folder: write into a temp folder beside the
target, verify every byte, then rename into place.  Nothing is ever written
outside the target, whatever the manifest says."""
from __future__ import annotations

import os
import re
import secrets
import shutil
from typing import Callable, Iterable
from urllib.parse import unquote, urlparse


from ..errors import IntegrityError, InvalidInputError, NotFoundError
from ..fsutil import fsync_dir
from .chunks import ChunkStore
from .ingest import THREADED_FROM, _Digest
from .linkmodes import WholeFiles, check_mode, place
from .pointer import Pointer
from .statcache import StatCache

_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def check_relpath(relpath: str) -> str:
    """Refuse any manifest path that could land outside the target."""
    bad = None
    if not isinstance(relpath, str) or not relpath:
        bad = "is empty"
    elif "\x00" in relpath:
        bad = "contains a NUL byte"
    elif "\\" in relpath:
        bad = "contains a backslash"
    elif relpath.startswith("/"):
        bad = "is absolute"
    elif _DRIVE_RE.match(relpath):
        bad = "starts with a drive letter"
    else:
        for part in relpath.split("/"):
            if part in ("", ".", ".."):
                bad = f"has a {part or 'empty'!r} component"
                break
    if bad:
        raise IntegrityError(
            f"manifest path {relpath!r} {bad}; refusing to write it",
            "the version's metadata is damaged or hostile; run `mvc fsck`",
        )
    return relpath


def check_manifest(paths: Iterable[str]) -> None:
    seen: dict[str, str] = {}
    prefixes: set[str] = set()
    files: set[str] = set()
    for p in paths:
        check_relpath(p)
        low = p.lower()
        if low in seen:
            raise IntegrityError(f"manifest paths {seen[low]!r} and {p!r} collide on a case-insensitive filesystem")
        seen[low] = p
        files.add(p)
        parts = p.split("/")
        for i in range(1, len(parts)):
            prefixes.add("/".join(parts[:i]))
    clash = files & prefixes
    if clash:
        raise IntegrityError(f"manifest path {sorted(clash)[0]!r} is both a file and a folder")


def _file_path(ref: str) -> str:
    u = urlparse(ref)
    if u.scheme != "file":
        raise InvalidInputError(f"reference {ref} uses {u.scheme}://, which this mvc cannot fetch yet",
                                "only file:// references are supported")
    return unquote(u.path)


def _write_one(store: ChunkStore, ptr: Pointer, dest: str, label: str, verify_refs: bool,
               whole: WholeFiles | None = None, mode: str = "copy") -> None:
    if (whole is not None and not ptr.is_reference and not ptr.executable and ptr.chunks
            and place(whole, ptr, dest, mode, label)):
        return
    hasher = _Digest(threaded=ptr.size >= THREADED_FROM)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    if not ptr.is_reference:
        try:
            _copy_chunks(store, ptr, fd, hasher, label)
        finally:
            os.close(fd)
    else:
        _copy_reference(ptr, fd, hasher, label, verify_refs)
    if ptr.executable:
        os.chmod(dest, 0o755)


def _copy_chunks(store: ChunkStore, ptr: Pointer, fd: int, hasher: _Digest, label: str) -> None:
    try:
        for cid, n in ptr.chunks:
            store.copy_out(cid, n, fd, hasher)
        digest = hasher.hexdigest()  # also waits for the chunk checks on the digest's thread
    except (IntegrityError, NotFoundError) as e:  # name the file and version, not only the chunk
        raise type(e)(f"{label}: {e.message}", e.hint) from None
    if digest != ptr.digest:
        raise IntegrityError(f"{label}: content does not match its recorded digest")


def _copy_reference(ptr: Pointer, fd: int, hasher: _Digest, label: str, verify_refs: bool) -> None:
    with os.fdopen(fd, "wb") as out:
        src = _file_path(ptr.ref)
        try:
            f = open(src, "rb")
        except FileNotFoundError:
            raise NotFoundError(f"{label}: referenced file {src} no longer exists",
                                "restore it, or log the version again") from None
        with f:
            while True:
                data = f.read(16 << 20)
                if not data:
                    break
                hasher.update(data)
                out.write(data)
        if verify_refs and hasher.hexdigest() != ptr.digest:
            raise IntegrityError(f"{label}: referenced file {src} changed since it was logged",
                                 "pass verify=False to take it as it is now, or log it again")


def materialise(store: ChunkStore, entries: list[tuple[str, Pointer]], target: str, label: str = "",
                verify_refs: bool = True, progress: Callable[[int], None] | None = None,
                link: str = "copy", cache: StatCache | None = None) -> str:
    """Write ``entries`` (relpath, pointer) as the folder ``target``; return it.

    ``link`` picks how each file gets its bytes (linkmodes.py): copy, hardlink,
    symlink, reflink or auto.

    An existing folder at ``target`` is replaced only after the new one is
    complete and verified; on any error nothing at ``target`` changes.
    """
    check_manifest(p for p, _ in entries)
    link = check_mode(link)
    whole = WholeFiles(store, cache)
    target = os.path.abspath(target)
    parent = os.path.dirname(target)
    if os.path.islink(target):
        raise InvalidInputError(f"{target} is a symlink; refusing to write through it",
                                "remove the symlink or choose another folder with root=/-o")
    if os.path.exists(target) and not os.path.isdir(target):
        raise InvalidInputError(f"{target} exists and is not a folder", "remove it or choose another folder")
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(target)}.tmp-{secrets.token_hex(4)}")
    os.mkdir(tmp)
    try:
        for relpath, ptr in entries:
            dest = os.path.join(tmp, *relpath.split("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            _write_one(store, ptr, dest, f"{label} file {relpath!r}" if label else relpath, verify_refs, whole, link)
            if progress:
                progress(ptr.size)
        old = None
        if os.path.isdir(target):
            old = os.path.join(parent, f".{os.path.basename(target)}.old-{secrets.token_hex(4)}")
            os.rename(target, old)
        os.rename(tmp, target)
        fsync_dir(parent)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
