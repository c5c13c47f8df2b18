"""W&B's manifest view of an artifact: `artifact.manifest.entries[path]`, `artifact.get_entry(path)`."""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from ..errors import NotFoundError, UsageError


class EntryNotFoundError(NotFoundError, KeyError):
    """No entry of that name (a KeyError too, as W&B's get_entry raises)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return NotFoundError.__str__(self)


class ItemNotFoundError(NotFoundError, FileNotFoundError):
    """Nothing of that name to remove from a draft (a FileNotFoundError too, as W&B's remove raises)."""

    def __str__(self) -> str:
        return NotFoundError.__str__(self)


@dataclass
class ManifestEntry:
    """One file of an artifact: its path in the artifact, digest and size (None in a draft until it
    is logged), the reference URI if it is one, and the local file a draft will read."""
    path: str
    digest: str | None = None
    size: int | None = None
    ref: str | None = None
    local_path: str | None = None
    extra: dict = field(default_factory=dict)
    birth_artifact_id: str | None = None
    _artifact: object = field(default=None, repr=False, compare=False)

    def download(self, root: str | None = None, skip_cache=None) -> str:  # noqa: ARG002 - W&B's signature
        """Fetch this one file (verified) and return its local path."""
        art = self._artifact
        if art is None or art.is_draft():
            raise UsageError(f"entry {self.path!r} belongs to a draft artifact; there is nothing to download yet",
                             "log the artifact first (run.log_artifact(artifact)), or read local_path")
        folder = art.download(root, include=[glob.escape(self.path)])
        return os.path.join(folder, *self.path.split("/"))

    def ref_target(self) -> str:
        if self.ref is None:
            raise UsageError(f"entry {self.path!r} is a stored file, not a reference", "use download() to fetch it")
        return self.ref

    def ref_url(self) -> str:
        return self.ref_target()


class Manifest:
    """``entries``: path -> ManifestEntry, sorted by path."""

    def __init__(self, entries: list[ManifestEntry]):
        self.entries: dict[str, ManifestEntry] = {e.path: e for e in sorted(entries, key=lambda e: e.path)}

    def get_entry_by_path(self, path: str) -> ManifestEntry | None:
        return self.entries.get(path)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"<Manifest {len(self.entries)} entries>"
