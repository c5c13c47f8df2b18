"""Remotes through the API: `remote add/ls/rm`, push, fetch, pull and clone (mvc/remote/).
The CLI commands are thin faces of these functions; ``Api`` has methods that call them."""
from __future__ import annotations

from ..errors import InvalidInputError
from ..meta import refs
from ..names import parse_address


def add_remote(repo, name: str, url: str, storage: str | None = None, check: bool = True) -> dict:
    """Add a remote; with ``check`` a storage URL is probed for create-only writes first (R13: a
    server that ignores If-None-Match would let two pushers overwrite each other)."""
    from ..remote import remotes
    if storage and check:
        from ..remote.storage import open_storage
        open_storage(remotes.check_storage_url(storage)).check_conditional_writes()
    return remotes.add(repo.meta.git, name, url, storage).to_json()


def list_remotes(repo) -> list[dict]:
    from ..remote import remotes
    return [cfg.to_json() for cfg in remotes.read_all(repo.meta.git).values()]


def remove_remote(repo, name: str) -> dict:
    from ..remote import remotes
    return remotes.remove(repo.meta.git, name).to_json()


def refnames(repo, project: str, addresses) -> list[str] | None:
    """The refs ``addresses`` name: NAME / PROJECT/NAME (an artifact, any version selector is
    ignored: a push sends the whole artifact), registry/MODEL, run:ID."""
    if not addresses:
        return None
    out = set()
    for a in ([addresses] if isinstance(addresses, str) else addresses):
        if isinstance(a, str) and a.startswith("run:"):
            run_id = a[4:]
            found = repo.runs.find(run_id)
            if found is None:
                raise InvalidInputError(f"no run with id {run_id!r} here", "list runs with `mvc runs ls`")
            out.add(refs.run(found, run_id))
            continue
        addr = parse_address(a)
        if addr.registry:
            out.add(refs.registry(addr.name))
        else:
            st = repo.artifact_state(addr.project or project, addr.name)  # NotFoundError names the nearest
            out.add(refs.artifact(st.project, st.name))
    return sorted(out)


def push(repo, project: str, remote: str | None = None, addresses=None, jobs: int = 4, verify: bool = False,
         progress=None) -> dict:
    from ..remote.push import push as run
    return run(repo, remote, refnames(repo, project, addresses), jobs=jobs, verify=verify, progress=progress)


def fetch(repo, remote: str | None = None, progress=None) -> dict:
    from ..remote.fetch import fetch as run
    return run(repo, remote, progress)


def pull(repo, remote: str | None = None, no_bytes: bool = False, jobs: int = 4, progress=None) -> dict:
    from ..remote.fetch import pull as run
    return run(repo, remote, no_bytes=no_bytes, jobs=jobs, progress=progress)


def clone(url: str, dir: str | None = None, storage: str | None = None, no_bytes: bool = False, jobs: int = 4,
          progress=None) -> dict:
    """Clone the remote at ``url`` into ``dir`` (its store is ``dir/.mvc``); returns a summary
    with ``store`` (the new store's path) and what arrived."""
    from ..remote.clone import clone as run
    return run(url, dir, storage, no_bytes=no_bytes, jobs=jobs, progress=progress)[1]


def ensure_local(repo, version, progress=None) -> int:
    """Lazy bytes for a use: fetch the chunks of ``version`` this store lacks from the remote
    that has it (none configured: nothing to do; the use reports what is missing)."""
    from ..remote.lazy import ensure_chunks
    return ensure_chunks(repo, version, progress)
