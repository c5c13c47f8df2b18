"""Input checks a caller can run before it starts a run: the CLI records no run for a call
that fails on its input (docs/cli.md, "Runs"), so `mvc log` and `mvc link PATH` check
what ``Repository.log`` would refuse before ``mvc.init``."""
from __future__ import annotations

import os

from ..errors import InvalidInputError
from ..names import check_alias, check_name
from ..repo.repository import check_description, check_metadata


def check_log_input(path: str, name: str | None, type: str, aliases=(), metadata=None, description=None,
                    tags=(), exclude=()) -> None:
    """Raise the error ``log_artifact`` would raise for these arguments (name unless None, type,
    aliases, metadata, description, tags, exclude patterns) and for what a local PATH holds: a
    missing path, a special file, an empty folder, a dangling or looping symlink, clashing
    names.  The folder is walked (names and stat, no bytes read) as the log will walk it again:
    on a tree of 10,000 files that is ~0.1 s, the price of recording no run for bad input."""
    if name is not None:
        check_name(name, "artifact name")
    check_name(type, "artifact type")
    for a in aliases:
        check_alias(a)
    check_metadata(metadata)
    check_description(description)
    for t in tags:
        check_name(t, "tag")
    if not str(path).strip():
        raise InvalidInputError(f"the path to log is empty ({path!r})", "name a file or a folder to log")
    if path.startswith("file://"):
        from ..store.references import file_uri_path
        local = file_uri_path(path)
    else:
        local = None if "://" in path else path
    if local is not None and not os.path.lexists(local):
        raise InvalidInputError(f"{path} does not exist", "check the path; log a file or a folder")
    if local is not None and "://" not in path:
        from ..store.walk import collect_files
        collect_files(local, exclude)
