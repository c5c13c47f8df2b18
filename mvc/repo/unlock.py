"""Find and clear ref locks and leases left by killed writers (`mvc unlock`)."""
from __future__ import annotations

import os

from ..meta.locks import clear_stale_lock, lock_info, lock_is_stale
from . import lease


def ref_locks(store: str) -> list[str]:
    out = []
    for root, _, files in os.walk(os.path.join(store, "refs")):
        out += [os.path.join(root, f) for f in files if f.endswith(".lock")]
    for name in ("packed-refs.lock", "HEAD.lock", "config.lock", "index.lock"):
        if os.path.exists(os.path.join(store, name)):
            out.append(os.path.join(store, name))
    return sorted(out)


def _remove(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


def unlock(store: str, force: bool = False) -> list[dict]:
    """Every lock and lease: kind, path, host, pid, age, detail, and whether it was removed."""
    found = []
    for path in ref_locks(store):
        info = lock_info(path)
        if info is None:
            continue
        stale = lock_is_stale(info)
        removed = clear_stale_lock(path) if stale else (force and _remove(path))
        found.append({"kind": "lock", "path": path, "host": info["host"],
                      "pid": info["pid"] if info["pid"] is not None else info["pids"] or None,
                      "age": round(info["age"], 1), "stale": stale, "removed": bool(removed),
                      "detail": f"age {info['age']:.0f}s, {info['holders']}"})
    for le in lease.list_leases(store):
        stale = le.stale()
        removed = (stale or force) and _remove(le.path)
        found.append({"kind": "lease", "path": le.path, "host": le.host, "pid": le.pid, "age": round(le.age, 1),
                      "stale": stale, "removed": bool(removed),
                      "detail": f"host {le.host}, PID {le.pid}{' (dead)' if stale else ''}, age {le.age:.0f}s"})
    return found
