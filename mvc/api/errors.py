"""An OSError as the typed error it is, for the CLI's last net (mvc/cli/main.py)."""
from __future__ import annotations

import errno
import os

from ..errors import MvcError


def typed_os_error(exc: OSError) -> MvcError | None:
    """A full or read-only filesystem as the typed error it is; None for any other OSError."""
    from ..fsutil import is_full, read_only_error, storage_full
    where = exc.filename or os.getcwd()
    if is_full(exc):
        return storage_full(f"writing {where}", os.path.dirname(str(where)) or ".")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return read_only_error(str(where), "write", exc)
    return None
