"""MetaRepo.update retries only contention (a ref lock, a lost compare, a ref created or deleted
meanwhile); any other failure of the ref move is a typed error at once, disk full with its figures."""
from __future__ import annotations

import errno
import os
import time

import pytest
from pygit2.references import References

from mvc.errors import ConflictError, LockError, StorageFullError
from mvc.meta import gitdb, refs


class _FailingRef:
    """A ref whose set_target fails with ``err`` (the errno injected; everything else is real)."""

    def __init__(self, ref, err):
        self._ref, self._err = ref, err

    target = property(lambda self: self._ref.target)

    def set_target(self, *a, **k):
        raise self._err


def _inject(monkeypatch, err):
    real = References.__getitem__
    calls = []

    def getitem(self, name):
        calls.append(name)
        return _FailingRef(real(self, name), err)

    monkeypatch.setattr(References, "__getitem__", getitem)
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
    real = References.__getitem__
    fails = {"n": 3}

    def getitem(self, name):
        ref = real(self, name)
        if fails["n"] > 0:
            fails["n"] -= 1
            return _FailingRef(ref, OSError(f"failed to lock file '{name}.lock' for writing"))
        return ref

    monkeypatch.setattr(References, "__getitem__", getitem)
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


def test_contention_classifier():
    assert gitdb._is_contention(OSError("failed to lock file 'x.lock' for writing"))
    assert gitdb._is_contention(Exception("old reference value does not match"))
    assert gitdb._is_contention(KeyError("refs/mvc/x"))
    assert not gitdb._is_contention(OSError(errno.ENOSPC, "No space left on device"))
    assert not gitdb._is_contention(OSError(errno.EACCES, "Permission denied"))
