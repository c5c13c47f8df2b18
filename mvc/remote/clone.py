"""mvc clone URL [DIR]: a new store whose `origin` is URL, with everything the remote holds.

The store is built in a temporary folder beside its final place and renamed into place
only once the metadata (and, unless ``no_bytes``, the bytes) are all here and checked, so a
failed or interrupted clone leaves no half-written store.  The storage URL comes from the
remote's own metadata (remotes.CONFIG_REF) unless ``storage`` is given."""
from __future__ import annotations

import os
import shutil
from urllib.parse import urlparse

from ..errors import InvalidInputError
from ..repo import Repository
from ..repo.layout import STORE_DIR, create_store
from . import remotes
from .fetch import pull


def default_dir(url: str) -> str:
    tail = urlparse(url).path.rstrip("/").rsplit("/", 1)[-1] or "store"
    return tail[:-4] if tail.endswith(".git") and len(tail) > 4 else tail


def clone(url: str, dir: str | None = None, storage: str | None = None, no_bytes: bool = False, jobs: int = 4,
          progress=None) -> tuple[str, dict]:
    """Clone into ``dir`` (default: the URL's last component); returns (store path, summary)."""
    url = remotes.check_git_url(url)
    root = os.path.abspath(dir or default_dir(url))
    final = os.path.join(root, STORE_DIR)
    if os.path.exists(final):
        raise InvalidInputError(f"{final} exists already; a clone makes a new store",
                                f"clone into another folder, or use `mvc remote add origin {url}` and `mvc pull` "
                                "in this one")
    made_root = not os.path.exists(root)
    os.makedirs(root, exist_ok=True)
    staging = os.path.join(root, f".mvc-clone-{os.getpid()}")
    try:
        create_store(staging)
        repo = Repository(staging)
        remotes.add(repo.meta.git, "origin", url, storage)
        summary = pull(repo, "origin", no_bytes=no_bytes, jobs=jobs, progress=progress)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if made_root:
            shutil.rmtree(root, ignore_errors=True)
        raise
    return final, dict(summary, store=final, storage=remotes.get(Repository(final).meta.git, "origin").storage)
