"""Store upkeep that works before a store can be opened: `migrate` (format 1 -> 2)."""
from __future__ import annotations

from ..repo import layout
from ..repo import migrate as _migrate


def migrate(dir: str | None = None, dry_run: bool = False) -> "_migrate.Report":
    """Convert the store at ``dir`` (else MVC_DIR, else the nearest .mvc above the working
    directory) to the current format in place, or with ``dry_run`` say what that would do.
    Returns the report (chunks re-hashed, refs renamed, commits rewritten, ...)."""
    return _migrate.migrate(layout.find_store(dir, create=False), dry_run=dry_run)
