"""Ingest: walk a path, hash while reading, write only chunks the store lacks,
and return one Pointer per file.  Memory stays bounded by the chunk size."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass

import blake3

from ..errors import InvalidInputError
from .chunkers import Chunker, select_chunker
from .chunks import ChunkStore
from .pointer import Pointer


@dataclass(frozen=True)
class FileEntry:
    relpath: str  # '/'-separated, relative to the logged root
    abspath: str


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def collect_files(path: str) -> list[FileEntry]:
    """The files under ``path`` (or ``path`` itself), sorted by relpath.

    A symlink is followed only when its target stays inside the logged folder;
    otherwise it is refused with its name.
    """
    if not os.path.lexists(path):
        raise InvalidInputError(f"{path} does not exist", "check the path; log a file or a folder")
    if os.path.isfile(path):
        return [FileEntry(os.path.basename(os.path.abspath(path)), os.path.abspath(path))]
    if not os.path.isdir(path):
        raise InvalidInputError(f"{path} is neither a file nor a folder", "log a regular file or a folder")
    root = os.path.realpath(path)
    out: list[FileEntry] = []
    seen_dirs: set[str] = set()

    def walk(real_dir: str, rel: str) -> None:
        if real_dir in seen_dirs:
            raise InvalidInputError(f"symlink loop at {os.path.join(path, rel)}", "remove the looping symlink")
        seen_dirs.add(real_dir)
        with os.scandir(real_dir) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            full = e.path
            if e.is_symlink():
                target = os.path.realpath(full)
                if not _inside(target, root):
                    raise InvalidInputError(
                        f"symlink {os.path.join(path, r)} points outside the folder being logged (to {target})",
                        "copy the target into the folder, or log it separately",
                    )
                full = target
            st = os.stat(full)
            if stat.S_ISDIR(st.st_mode):
                walk(full, r)
            elif stat.S_ISREG(st.st_mode):
                out.append(FileEntry(r, full))
            else:
                raise InvalidInputError(f"{os.path.join(path, r)} is not a regular file", "remove it or log a copy")
        seen_dirs.discard(real_dir)

    walk(root, "")
    if not out:
        raise InvalidInputError(f"{path} holds no files", "log a folder that contains at least one file")
    return out


def ingest_file(store: ChunkStore, abspath: str, chunker: Chunker | None = None) -> tuple[Pointer, int]:
    """Store one file; return its pointer and the number of bytes that were new."""
    st = os.stat(abspath)
    hasher = blake3.blake3()
    chunks = []
    new_bytes = 0
    size = 0
    with open(abspath, "rb") as f:
        if chunker is None:
            head = f.read(64 * 1024)
            f.seek(0)
            chunker = select_chunker(abspath, st.st_size, head)
        for piece in chunker.chunks(f, st.st_size):
            hasher.update(piece)
            cid, new = store.put(piece)
            chunks.append((cid, len(piece)))
            size += len(piece)
            if new:
                new_bytes += len(piece)
    ptr = Pointer(size=size, digest="blake3:" + hasher.hexdigest(), chunks=tuple(chunks),
                  executable=bool(st.st_mode & stat.S_IXUSR))
    return ptr, new_bytes


def ingest_tree(store: ChunkStore, path: str, progress=None) -> tuple[list[tuple[str, Pointer]], int]:
    files = collect_files(path)
    out = []
    new_total = 0
    for fe in files:
        ptr, new = ingest_file(store, fe.abspath)
        out.append((fe.relpath, ptr))
        new_total += new
        if progress:
            progress(ptr.size)
    return out, new_total


def hash_file(abspath: str) -> tuple[str, int]:
    """The file digest and size of a file, without storing it (for references)."""
    hasher = blake3.blake3()
    size = 0
    with open(abspath, "rb") as f:
        while True:
            data = f.read(16 << 20)
            if not data:
                break
            hasher.update(data)
            size += len(data)
    return "blake3:" + hasher.hexdigest(), size
