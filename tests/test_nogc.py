"""mvc.nogc: the cyclic collector is off inside, back to its previous state after."""
from __future__ import annotations

import gc

import pytest

from mvc.nogc import nogc


@nogc
def _state(fail: bool = False) -> bool:
    if fail:
        raise ValueError("boom")
    return gc.isenabled()


def test_off_inside_and_restored_after():
    assert gc.isenabled()
    assert _state() is False
    assert gc.isenabled()


def test_restored_after_an_error():
    with pytest.raises(ValueError):
        _state(fail=True)
    assert gc.isenabled()


def test_left_off_when_it_was_off():
    gc.disable()
    try:
        assert _state() is False
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_log_and_a_use_run_without_collections(project):
    (project / "m").mkdir()
    for i in range(50):
        (project / "m" / f"f{i}.txt").write_text(f"file {i}\n" * 10)
    from mvc.repo import Repository
    from mvc.store import materialise as where  # Repository.download imports materialise from here at each use
    repo = Repository.find(str(project))
    inside, hits = [False], []

    def watched(fn):  # marks the bulk of a log (ingest) and of a use (materialise)
        def run(*args, **kwargs):
            inside[0] = True
            try:
                return fn(*args, **kwargs)
            finally:
                inside[0] = False
        return run

    repo.ingest = watched(repo.ingest)
    real_materialise = where.materialise
    gc.callbacks.append(lambda phase, info: hits.append(inside[0]) if phase == "start" else None)
    old = gc.get_threshold()
    gc.set_threshold(100)  # a collection every 100 net allocations, where the collector is on
    try:
        where.materialise = watched(real_materialise)
        watched(lambda: [[] for _ in range(1000)])()  # not paused: the callback sees these
        assert any(hits)
        hits.clear()
        repo.log(str(project / "m"), "M", "model", "proj")
        repo.download(repo.resolve("proj/M:v0")[0], str(project / "out"))
    finally:
        where.materialise = real_materialise
        gc.set_threshold(*old)
        gc.callbacks.pop()
    assert not any(hits) and gc.isenabled()
