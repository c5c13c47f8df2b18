"""MetaRepo.update retries only contention (a ref lock, a lost compare, a ref created or deleted
meanwhile); any other failure of the ref move is a typed error at once, disk full with its figures."""
from __future__ import annotations

import errno
import os
import time

import pytest

from mvc.errors import ConflictError, LockError, StorageFullError
from mvc.meta import gitdb, refs, writer


def _inject(monkeypatch, err):
    """The ref move fails with ``err`` as it writes the new value into its lock file (the errno
    injected; the lock, the compare and everything else are real)."""
    calls = []

    def fill(fd, data):
        calls.append(data)
        raise err

    monkeypatch.setattr(writer, "_fill_lock", fill)
    return calls


def _logged(store, model_file):
    store.log(str(model_file), "m", "model", "proj")
    return store.meta.tip(refs.artifact("proj", "m")).id


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_disk_full_at_ref_move_is_storage_full_at_once(store, model_file, monkeypatch, code):
    tip = _logged(store, model_file)
    _inject(monkeypatch, OSError(code, os.strerror(code)))
    t0 = time.monotonic()
    with pytest.raises(StorageFullError) as ei:
        store.artifacts.set_alias("proj", "m", "v0", "best")
    assert time.monotonic() - t0 < 5                      # not retried for MAX_WAIT_S
    assert "are free" in ei.value.message and ei.value.hint
    monkeypatch.undo()
    assert store.meta.tip(refs.artifact("proj", "m")).id == tip   # the ref did not move


def test_permission_denied_at_ref_move_is_typed_at_once(store, model_file, monkeypatch):
    _logged(store, model_file)
    _inject(monkeypatch, PermissionError(errno.EACCES, "Permission denied"))
    t0 = time.monotonic()
    with pytest.raises(ConflictError) as ei:
        store.artifacts.set_alias("proj", "m", "v0", "best")
    assert time.monotonic() - t0 < 5
    assert "kept winning" not in ei.value.message
    assert "Permission denied" in ei.value.message and "writable" in ei.value.hint
    assert not isinstance(ei.value, LockError)


def test_lock_failure_is_still_retried(store, model_file, monkeypatch):
    """A ref lock held by another writer is contention: retried, then it succeeds."""
    _logged(store, model_file)
    real = writer._take_lock
    fails = {"n": 3}

    def take(lock):
        if fails["n"] > 0:
            fails["n"] -= 1
            return None  # as when another writer's <ref>.lock exists
        return real(lock)

    monkeypatch.setattr(writer, "_take_lock", take)
    store.artifacts.set_alias("proj", "m", "v0", "best")
    assert fails["n"] == 0
    assert store.artifacts.state("proj", "m").aliases["best"] == "v0"


def test_real_held_lock_is_retried_then_named(store, model_file, monkeypatch):
    """A real, fresh .lock file (no fault injection): retried until MAX_WAIT_S, then a LockError."""
    _logged(store, model_file)
    monkeypatch.setattr(gitdb, "MAX_WAIT_S", 0.3)
    lock = store.meta._lock_path(refs.artifact("proj", "m"))
    with open(lock, "w") as f:  # held open by this process: not stale
        with pytest.raises(LockError) as ei:
            store.artifacts.set_alias("proj", "m", "v0", "best")
        assert f.fileno() >= 0
    os.unlink(lock)
    assert "kept winning" in ei.value.message


def test_contention_is_told_from_failure(store, model_file):
    """Only another writer's lock or a moved ref is contention (LOCKED, STALE: retried); the ref
    and its lock are left as they were."""
    tip = str(_logged(store, model_file))
    ref = refs.artifact("proj", "m")
    other = store.meta.tip(ref).parent_ids[0] if store.meta.tip(ref).parent_ids else "0" * 40
    assert writer.swap_ref(store.meta.path, ref, other, tip) == writer.STALE
    lock = store.meta._lock_path(ref)
    open(lock, "w").close()
    assert writer.swap_ref(store.meta.path, ref, tip, other) == writer.LOCKED
    os.unlink(lock)
    assert str(store.meta.tip(ref).id) == tip and not os.path.exists(lock)
