"""R1, R2, R10, R17: concurrent writers, alias movers, gc and readers, all real subprocesses."""
from __future__ import annotations


import pytest

from reliability_kit import GC_LOOP, READER, WRITER, finish, fsck_clean, make_store, repo, spawn


def _versions(store: str, name: str) -> list[str]:
    r = repo(store)
    return r.artifacts.version_names(r.artifacts.state("p", name))


def _r1(tmp_path, procs: int, logs: int) -> None:
    store = make_store(tmp_path)
    outs = finish([spawn(WRITER, store, "m", logs, f"w{i}") for i in range(procs)])
    returned = [line for out in outs for line in out.split()]
    names = _versions(store, "m")
    assert names == [f"v{i}" for i in range(procs * logs)]           # no gap, no duplicate
    assert sorted(returned, key=lambda v: int(v[1:])) == names       # every returned version exists, once
    fsck_clean(store)


def test_r1_concurrent_logs(tmp_path):
    _r1(tmp_path, 4, 6)


@pytest.mark.slow
def test_r1_concurrent_logs_full(tmp_path):
    _r1(tmp_path, 16, 50)


MOVER = r"""
import sys, random
from mvc.repo import Repository
store, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = Repository(store)
for i in range(n):
    old = r.artifacts.set_alias("p", "m", f"v{random.randrange(3)}", "prod", run_id=f"{tag}-{i}")
    print(f"{tag}-{i} {old}", flush=True)
"""


def _r2(tmp_path, procs: int, moves: int) -> None:
    store = make_store(tmp_path)
    finish([spawn(WRITER, store, "m", 3, "seed")])
    finish([spawn(MOVER, store, moves, f"m{i}") for i in range(procs)])
    hist = [h for h in repo(store).artifacts.alias_history("p", "m") if h["alias"] == "prod"]
    hist.reverse()  # oldest first
    for prev, cur in zip(hist, hist[1:]):
        assert cur["from"] == prev["to"]                            # each move chains on the previous
    # moves that were no-ops (same target) make no commit; every other move is in the history
    assert len(hist) >= 1 and all(h["to"] in ("v0", "v1", "v2") for h in hist)
    runs = {h["run"] for h in hist}
    assert len(runs) == len(hist)                                   # no move recorded twice


def test_r2_concurrent_alias_moves(tmp_path):
    _r2(tmp_path, 4, 15)


@pytest.mark.slow
def test_r2_concurrent_alias_moves_full(tmp_path):
    _r2(tmp_path, 16, 100)


SLOW_WRITER = WRITER.replace("r = Repository(store)", """r = Repository(store)
import time
_orig = r.ingest
def slow_ingest(*a, **k):
    out = _orig(*a, **k)
    time.sleep(float(os.environ["SLOW_S"]))   # the log outlives gc's grace period
    return out
r.ingest = slow_ingest""")


def _r10(tmp_path, writers: int, logs: int, grace: float) -> None:
    store = make_store(tmp_path)
    stop = tmp_path / "stop"
    gcp = spawn(GC_LOOP, store, grace, stop)
    procs = [spawn(WRITER, store, f"m{i}", logs, f"w{i}") for i in range(writers - 1)]
    procs.append(spawn(SLOW_WRITER, store, f"m{writers - 1}", max(2, logs // 5), "slow",
                       env={"SLOW_S": str(grace * 3)}))
    finish(procs)
    stop.write_text("")
    gc_runs = int(finish([gcp])[0])
    assert gc_runs >= 2
    r = repo(store)
    total = 0
    for i in range(writers):
        st = r.artifacts.state("p", f"m{i}")
        for v in r.artifacts.versions(st):
            assert r.verify(v) == [], v.version
            total += 1
    assert total == (writers - 1) * logs + max(2, logs // 5)
    fsck_clean(store)


def test_r10_gc_while_logging(tmp_path):
    _r10(tmp_path, 3, 6, grace=0.2)


@pytest.mark.slow
def test_r10_gc_while_logging_full(tmp_path):
    _r10(tmp_path, 8, 50, grace=0.5)


def _r17(tmp_path, readers: int, reads: int) -> None:
    store = make_store(tmp_path)
    finish([spawn(WRITER, store, "m", 2, "seed")])
    stop = tmp_path / "stop"
    gcp = spawn(GC_LOOP, store, 0.05, stop)
    rs = [spawn(READER, store, "m", reads) for _ in range(readers)]
    ws = [spawn(WRITER, store, "m", 5, f"w{i}") for i in range(2)]
    outs = finish(rs)
    finish(ws)
    stop.write_text("")
    finish([gcp])
    assert sum(int(o) for o in outs) == readers * reads            # 0 read errors
    fsck_clean(store)


def test_r17_readers_during_writes_and_gc(tmp_path):
    _r17(tmp_path, 4, 25)


@pytest.mark.slow
def test_r17_readers_during_writes_and_gc_full(tmp_path):
    _r17(tmp_path, 4, 2500)
