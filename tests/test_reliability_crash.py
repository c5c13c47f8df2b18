"""R3: SIGKILL during log (random moments and every named crash point), and
crash points of link, alias, delete and gc: the store opens, fscks clean,
each version is whole or absent, and the operation succeeds when re-run."""
from __future__ import annotations

import random
import signal
import time

import pytest

from reliability_kit import finish, fsck_clean, make_store, repo, spawn

OP = r"""
import os, sys
from mvc.repo import Repository, gc
store, op = sys.argv[1], sys.argv[2]
r = Repository(store)
src = os.path.join(os.path.dirname(store), "src")
os.makedirs(src, exist_ok=True)
for i in range(3):
    with open(os.path.join(src, f"f{i}.bin"), "wb") as f:
        f.write(os.urandom(300_000))
if op == "log":
    r.log(src, "m", "model", "p")
elif op == "link":
    v, _ = r.resolve("p/m:v0")
    r.link(v, "Reg", ["prod"])
elif op == "alias":
    r.artifacts.set_alias("p", "m", "v0", "best")
elif op == "delete":
    st = r.artifacts.state("p", "m")
    if "v1" in r.artifacts.version_names(st):   # after-ref-move: the first run already did it
        r.delete(r.artifacts.version(st, "v1"))
elif op == "gc":
    gc.run(r, gc.GcOptions(grace_s=0, retention_s=0))
print("done")
"""

SETUP = r"""
import os, sys, time
from mvc.repo import Repository
store = sys.argv[1]
r = Repository(store)
for i in range(2):
    p = os.path.join(os.path.dirname(store), f"seed{i}.bin")
    open(p, "wb").write(os.urandom(200_000))
    r.log(p, "m", "model", "p")
v, _ = r.resolve("p/m:v1")
r.delete(v)
r.chunks.put(os.urandom(1000))       # an orphan for gc to sweep
"""


def _state(store: str) -> list[str]:
    r = repo(store)
    st = r.artifacts.state("p", "m")
    return r.artifacts.version_names(st) if st else []


def _check_whole(store: str) -> None:
    r = repo(store)
    st = r.artifacts.state("p", "m")
    for v in (r.artifacts.versions(st) if st else []):
        assert r.verify(v) == []
    fsck_clean(store)


CASES = [("log", p) for p in ("log:after-lease", "log:after-chunks", "log:after-objects", "before-ref-move",
                              "log:before-ref-move", "log:after-ref-move")] + [
    ("link", "link:before-ref-move"), ("link", "link:after-ref-move"),
    ("alias", "alias:before-ref-move"), ("alias", "alias:after-ref-move"),
    ("delete", "delete:before-ref-move"), ("delete", "delete:after-ref-move"),
    ("gc", "gc:after-plan"), ("gc", "purge:before-ref-move"), ("gc", "gc:after-purge"), ("gc", "gc:mid-sweep"),
    ("gc", "gc:after-sweep")]


@pytest.mark.parametrize("op,point", CASES)
def test_r3_kill_at_each_crash_point(tmp_path, op, point):
    store = make_store(tmp_path)
    finish([spawn(SETUP, store)])
    if op == "delete":
        from mvc.repo import Repository
        r = Repository(store)
        r.artifacts.restore_version("p", "m", "v1")
    p = spawn(OP, store, op, env={"MVC_TEST_CRASH_AT": point})
    p.communicate(timeout=120)
    assert p.returncode == -signal.SIGKILL, f"{point} was never reached"
    _check_whole(store)
    finish([spawn(OP, store, op)])                                  # re-running succeeds
    _check_whole(store)


def _random_kills(tmp_path, trials: int) -> None:
    store = make_store(tmp_path)
    rng = random.Random(7)
    killed = 0
    for i in range(trials):
        before = _state(store)
        p = spawn(OP, store, "log")
        time.sleep(rng.uniform(0.05, 0.6))
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        killed += p.returncode == -signal.SIGKILL
        after = _state(store)
        assert after == before or after == before + [f"v{len(before)}"]   # whole or absent
        _check_whole(store)
    finish([spawn(OP, store, "log")])
    assert killed > 0


def test_r3_random_sigkill_during_log(tmp_path):
    _random_kills(tmp_path, 6)


@pytest.mark.slow
def test_r3_random_sigkill_during_log_full(tmp_path):
    _random_kills(tmp_path, 200)
