"""Processes on this host: its name, and whether a PID recorded earlier still names the
process that recorded it (leases and ref-lock owners record host, PID and start)."""
from __future__ import annotations

import os


def hostname() -> str:
    import socket  # here: a lock or lease needs it, a read never does
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True unless the PID provably names no process on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux /proc), or None if unknown:
    with the PID it names one process even after the PID is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def process_gone(pid: int, start: int | None) -> bool:
    """True if the process that recorded (``pid``, ``start``) on this host has provably ended:
    the PID names no live process, or names one that started at another time (a reused PID)."""
    if not pid_alive(pid):
        return True
    now = start_ticks(pid)
    return start is not None and now is not None and now != start
