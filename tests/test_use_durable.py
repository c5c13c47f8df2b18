"""A copy use is durable before it is visible: every file it wrote is fsynced, and the folders
made for them, before the rename that publishes them (docs/format.md, "Read order"), so a
power cut leaves either no target or a whole one."""
from __future__ import annotations

import importlib
import os

import pytest

from mvc.store import MemoryChunkStore, Pointer
from mvc.store.materialise import materialise
from mvc.store.digest import chunk_id, file_digest


def _entries(store) -> list[tuple[str, Pointer]]:
    out = []
    for path, data in (("a.bin", os.urandom(5000)), ("sub/deeper/b.bin", os.urandom(300_000)), ("c.txt", b"")):
        chunks = [(chunk_id(data), len(data))] if data else []
        if data:
            store.put(data)
        out.append((path, Pointer(size=len(data), digest=file_digest(chunks), chunks=tuple(chunks))))
    return out


@pytest.fixture
def events(monkeypatch):
    log: list[tuple[str, str]] = []
    real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace

    def fsync(fd):
        log.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", lambda a, b: (log.append(("rename", b)), real_rename(a, b))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (log.append(("rename", b)), real_replace(a, b))[1])
    return log


@pytest.mark.parametrize("existing", [False, True], ids=["new target", "existing target"])
def test_copy_use_fsyncs_every_file_before_publishing(tmp_path, events, existing):
    store = MemoryChunkStore()
    entries = _entries(store)
    target = tmp_path / "out"
    if existing:
        target.mkdir()
    materialise(store, entries, str(target))
    renames = [i for i, (what, _) in enumerate(events) if what == "rename"]
    assert renames
    synced = [p for what, p in events[:renames[0]] if what == "fsync"]  # before the first publishing rename
    names = {os.path.basename(p) for p in synced}
    assert {"a.bin", "b.bin", "c.txt"} <= names                        # every file
    assert {"deeper", "sub"} <= names                                   # and the folders made for them
    assert (target / "sub" / "deeper" / "b.bin").read_bytes() == store.get(entries[1][1].chunks[0][0])


def test_a_failed_fsync_publishes_nothing(tmp_path, monkeypatch):
    """An fsync that fails (EIO, a full disk) stops the use before anything is visible."""
    store = MemoryChunkStore()
    entries = _entries(store)

    def failing(path):
        raise OSError(5, "Input/output error", path)
    monkeypatch.setattr(importlib.import_module("mvc.store.materialise"), "_fsync_file", failing)
    with pytest.raises(OSError):
        materialise(store, entries, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists() and not [n for n in os.listdir(tmp_path) if n.startswith(".")]
