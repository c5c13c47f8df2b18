"""The files of a draft artifact (W&B's `wandb.Artifact(name, type)` before it is logged).

A draft only lists what it will hold: local files (read when it is logged), references (URIs
passed through to the log path, so every scheme the store's references know works), files
written through new_file() into a private staging folder, and files of a version already in the
store (new_draft).  Logging hands the list to Repository.log (repo/listed.py): one version, the
same write order and dedup as `log PATH`.

W&B copies a file on add_file(policy="mutable") so that later writes cannot change what gets
logged.  mvc reads at log time instead and keeps the promise by checking: a file whose size,
mtime or inode changed since it was added is refused at log time (add it again, or pass
policy="immutable" to take the bytes as they are when logged)."""
from __future__ import annotations

import os
import shutil
import tempfile
import weakref

from ..errors import InvalidInputError
from ..paths import path_problem
from ..repo.listed import Source
from .manifest import ItemNotFoundError, ManifestEntry

POLICIES = ("mutable", "immutable")


def entry_name(name, what: str = "name") -> str:
    """A path inside the artifact, '/'-separated, checked by the rules of mvc/paths.py."""
    if not isinstance(name, (str, os.PathLike)):
        raise InvalidInputError(f"{what} must be a path inside the artifact, not {type(name).__name__}",
                                "pass e.g. name='weights/model.bin'")
    text = os.fspath(name).replace(os.sep, "/")
    while text.startswith("./"):
        text = text[2:]
    why = path_problem(text)
    if why:
        raise InvalidInputError(f"artifact file name {text!r} {why}",
                                "pass a relative path of plain names, e.g. name='weights/model.bin'")
    return text


def check_policy(policy) -> str:
    if policy not in POLICIES:
        raise InvalidInputError(f"policy must be 'mutable' or 'immutable', not {policy!r}",
                                "leave policy out (mutable), or pass policy='immutable'")
    return policy


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class DraftFiles:
    def __init__(self):
        self.entries: dict[str, ManifestEntry] = {}
        self._stamps: dict[str, tuple[int, int, int]] = {}  # path -> stat when added (mutable policy)
        self._refs: dict[str, dict] = {}                    # path -> {"uri", "max_objects"}
        self._pointers: dict = {}                            # path -> Pointer (new_draft)
        self._staging: str | None = None
        self._cleanup = None

    # ---- adding --------------------------------------------------------
    def add_local(self, local_path: str, path: str, policy: str, overwrite: bool) -> ManifestEntry:
        local = os.path.abspath(os.fspath(local_path))
        from ..store.walk import stat_target
        try:
            st = stat_target(local, os.fspath(local_path))  # a dangling link or a loop says so, as log does
        except OSError as e:
            raise InvalidInputError(f"cannot add {local_path}: {e.strerror}", "check the path") from None
        if not os.path.isfile(local):
            raise InvalidInputError(f"cannot add {local_path}: it is not a regular file",
                                    "add a file with add_file(), a folder with add_dir()")
        self._claim(path, overwrite)
        entry = ManifestEntry(path, size=st.st_size, local_path=local)
        self.entries[path] = entry
        if policy == "mutable":
            self._stamps[path] = _stamp(st)
        return entry

    def add_reference(self, uri: str, path: str, max_objects: int | None, checksum: bool = True) -> ManifestEntry:
        if uri.startswith("file:"):
            from ..store.references import file_uri_path
            file_uri_path(uri)  # refused when added, not when logged
        key = path or f"\0{uri}"  # a reference with no name places itself when logged (repo/listed.py)
        self._claim(key, overwrite=False)
        entry = ManifestEntry(path or uri.rstrip("/").rsplit("/", 1)[-1], ref=uri)
        self.entries[key] = entry
        self._refs[key] = {"uri": uri, "max_objects": max_objects, "checksum": checksum}
        return entry

    def add_pointer(self, path: str, pointer) -> None:
        self.entries[path] = ManifestEntry(path, digest=pointer.digest, size=pointer.size, ref=pointer.ref)
        self._pointers[path] = pointer

    def _claim(self, path: str, overwrite: bool) -> None:
        if path in self.entries and not overwrite:
            raise InvalidInputError(f"the artifact already holds a file named {path!r}",
                                    "pass overwrite=True to replace it, or another name=")
        self._forget(path)

    def _forget(self, path: str) -> None:
        for d in (self.entries, self._stamps, self._refs, self._pointers):
            d.pop(path, None)

    def remove(self, item) -> None:
        path = item.path if isinstance(item, ManifestEntry) else entry_name(item, "item")
        keys = [k for k, e in self.entries.items()
                if e.path == path or e.path.startswith(path.rstrip("/") + "/")]
        if not keys:
            raise ItemNotFoundError(f"the artifact holds nothing named {path!r}",
                                    "see artifact.manifest.entries for what it holds")
        for k in keys:
            self._forget(k)

    def staging_dir(self) -> str:
        """A private folder for new_file(), removed when the draft is logged or collected."""
        if self._staging is None:
            self._staging = tempfile.mkdtemp(prefix="mvc-draft-")
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._staging, True)
        return self._staging

    def discard_staging(self) -> None:
        if self._cleanup is not None:
            self._cleanup()

    # ---- logging -------------------------------------------------------
    def sources(self) -> list[Source]:
        """What Repository.log reads; a mutable-policy file changed since it was added is refused."""
        out = []
        for key, e in self.entries.items():
            if key in self._refs:
                r = self._refs[key]
                out.append(Source("" if key.startswith("\0") else key, ref=r["uri"], max_objects=r["max_objects"],
                                  checksum=r["checksum"]))
            elif key in self._pointers:
                out.append(Source(key, pointer=self._pointers[key]))
            else:
                self._check_unchanged(key, e.local_path)
                out.append(Source(key, file=e.local_path))
        return out

    def _check_unchanged(self, path: str, local: str) -> None:
        want = self._stamps.get(path)
        if want is None:
            return
        try:
            now = _stamp(os.stat(local))
        except OSError as e:
            raise InvalidInputError(f"{local} (artifact file {path!r}) is gone since it was added ({e.strerror})",
                                    "add it again, then log the artifact") from None
        if now != want:
            raise InvalidInputError(f"{local} (artifact file {path!r}) changed after it was added; logging it now "
                                    "would store other bytes than those added",
                                    "add it again (add_file) to take the new bytes, or add it with "
                                    "policy='immutable' to take the bytes as they are when logged")
