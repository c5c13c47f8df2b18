"""The spool of post-events: ``<store>/events/spool/<commit>~<host>~<pid>~<start>.json``.

An entry is written (fsynced) after the commit object exists and before the ref moves, so an
event whose change landed is never lost: if the process dies before it delivered, a later
command finds the entry, sees its writer is gone and its commit is on the ref, and delivers it
(at least once).  An entry whose commit never reached the ref (a lost race, a crash before the
move) is dropped.  The owner is in the name, so taking over an entry is one rename that only one
process wins.  Entries whose only undelivered targets are failed webhooks move to
``events/failed/`` where `mvc webhook retry` finds them."""
from __future__ import annotations

import json
import os
import time

from .. import procs
from ..fsutil import AtomicFile

SPOOL = os.path.join("events", "spool")
FAILED = os.path.join("events", "failed")
OTHER_HOST_AFTER_S = 3600.0  # an entry written on another host (a shared store) is taken over after this


def me() -> tuple[str, int, int]:
    pid = os.getpid()
    return procs.hostname(), pid, procs.start_ticks(pid) or 0


def entry_name(commit: str, owner: tuple[str, int, int]) -> str:
    host, pid, start = owner
    return f"{commit}~{host}~{pid}~{start}.json"


def parse_name(name: str) -> tuple[str, tuple[str, int, int]] | None:
    if not name.endswith(".json"):
        return None
    parts = name[:-5].split("~")
    if len(parts) != 4:
        return None
    try:
        return parts[0], (parts[1], int(parts[2]), int(parts[3]))
    except ValueError:
        return None


def write(path: str, entry: dict, durable: bool) -> None:
    with AtomicFile(path, durable=durable) as f:
        f.write(json.dumps(entry, sort_keys=True).encode())


def create(store: str, entry: dict) -> str:
    folder = os.path.join(store, SPOOL)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, entry_name(entry["commit"], me()))
    write(path, entry, durable=True)
    return path


def read(path: str) -> dict | None:
    try:
        with open(path, "rb") as f:
            entry = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("targets"), list) else None


def listing(store: str, failed: bool = False) -> list[str]:
    folder = os.path.join(store, FAILED if failed else SPOOL)
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [os.path.join(folder, n) for n in sorted(names) if parse_name(n)]


def orphaned(path: str) -> bool:
    """Has the process that owns the entry at ``path`` ended (so another may take it over)?"""
    parsed = parse_name(os.path.basename(path))
    if parsed is None:
        return False
    _, (host, pid, start) = parsed
    if (host, pid, start) == me():
        return False
    if host != procs.hostname():
        try:
            return time.time() - os.stat(path).st_mtime > OTHER_HOST_AFTER_S
        except OSError:
            return False
    return procs.process_gone(pid, start or None)


def claim(path: str, folder: str | None = None) -> str | None:
    """Take the entry over (rename it to this process's name, in ``folder`` if given); None if
    another process took it first."""
    parsed = parse_name(os.path.basename(path))
    new = os.path.join(folder or os.path.dirname(path), entry_name(parsed[0], me()))
    try:
        os.makedirs(os.path.dirname(new), exist_ok=True)
        os.rename(path, new)
    except FileNotFoundError:
        return None
    return new


def move_to_failed(store: str, path: str) -> str:
    folder = os.path.join(store, FAILED)
    os.makedirs(folder, exist_ok=True)
    new = os.path.join(folder, os.path.basename(path))
    os.replace(path, new)
    return new


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
