"""A folder as a remote's byte storage (a shared disk, an NFS mount).

Each key is a file under the root.  A write goes to ``<root>/tmp/`` first, is fsynced,
then hard-linked to its key: ``link`` fails when the name exists, so a write never
replaces an object, even when two writers race (a rename would).  Filesystems without
hard links fall back to check-then-rename, which a race can make a replace of identical
content (keys name content).
"""
from __future__ import annotations

import errno
import os
import shutil

from ...errors import NotFoundError, RemoteError
from ...fsutil import fsync_dir, temp_path
from .base import Storage, check_key, is_path, valid_key

TYPE_CHECKING = False  # not typing's own: importing typing costs ~5 ms of every start
if TYPE_CHECKING:
    from typing import Iterator

COPY_PIECE = 8 << 20
TMP = "tmp"


class FolderStorage(Storage):
    def __init__(self, root: str):
        super().__init__()
        self.root = os.path.abspath(root)
        self.url = self.root

    def path(self, key: str) -> str:
        check_key(key)
        if key == TMP or key.startswith(TMP + "/"):
            raise RemoteError(f"storage key {key!r} is reserved for writes in flight")
        return os.path.join(self.root, *key.split("/"))

    def put(self, key, data):
        path = self.path(key)
        self._count()
        if os.path.lexists(path):
            return False
        tmp_dir = os.path.join(self.root, TMP)
        try:
            os.makedirs(tmp_dir, exist_ok=True)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = temp_path(tmp_dir, os.path.basename(path))
            try:
                self._write_temp(tmp, data)
                return self._publish(tmp, path)
            finally:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
        except OSError as e:
            raise RemoteError(f"cannot write {key} to storage {self.root}: {e.strerror or e}",
                              "check that the folder exists, is writable and has space") from None

    @staticmethod
    def _write_temp(tmp: str, data) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            if is_path(data):
                with open(data, "rb") as src, os.fdopen(os.dup(fd), "wb") as dst:
                    shutil.copyfileobj(src, dst, COPY_PIECE)
            else:
                view = memoryview(data).cast("B")
                while view:
                    view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _publish(tmp: str, path: str) -> bool:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            if os.path.lexists(path):
                return False
            os.rename(tmp, path)
        fsync_dir(os.path.dirname(path))
        return True

    def _open(self, key: str):
        path = self.path(key)
        self._count()
        try:
            return open(path, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFoundError(f"{key} is not in storage {self.root}",
                                "the remote lacks it: push it again from a store that has it") from None
        except OSError as e:
            raise RemoteError(f"cannot read {key} from storage {self.root}: {e.strerror or e}") from None

    def get(self, key):
        with self._open(key) as f:
            return f.read()

    def get_range(self, key, start, length):
        with self._open(key) as f:
            return os.pread(f.fileno(), length, start)

    def get_to(self, key, path):
        with self._open(key) as src, open(path, "wb") as dst:
            shutil.copyfileobj(src, dst, COPY_PIECE)

    def exists(self, key):
        self._count()
        return os.path.isfile(self.path(key))

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix``; ``tmp/`` and dot-files (writes in flight) are not keys."""
        base = prefix.rstrip("/")
        if base:
            check_key(base)
        top = os.path.join(self.root, *base.split("/")) if base else self.root
        self._count()
        found = []
        for dirpath, dirnames, filenames in os.walk(top):
            rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            rel = "" if rel == "." else rel + "/"
            dirnames[:] = [d for d in dirnames if not (rel == "" and d == TMP) and not d.startswith(".")]
            found += [rel + n for n in filenames if not n.startswith(".")]
        return iter(sorted(k for k in found if k.startswith(prefix) and valid_key(k)))
