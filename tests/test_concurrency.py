"""Concurrent loggers and alias movers, in real processes and in threads: no lost
version, contiguous numbers, every alias move chained in the history."""
from __future__ import annotations

import json
import subprocess
import sys
import threading

import mvc

LOGGER = """
import json, os, sys
import mvc
run = mvc.init()
got = []
for i in range(10):
    p = f"w{sys.argv[1]}_{i}.bin"
    with open(p, "wb") as f:
        f.write(f"writer {sys.argv[1]} item {i}".encode() + os.urandom(16))
    got.append(run.log_model(p, name="M").version)
run.finish()
print(json.dumps(got))
"""

MOVER = """
import json, random, sys
import mvc
api = mvc.Api()
rnd = random.Random(int(sys.argv[1]))
effective = 0
for _ in range(20):
    target = f"v{rnd.randrange(3)}"
    old = api.repo.artifacts.set_alias("proj", "M", target, "prod")
    effective += old != target
print(effective)
"""


def _spawn(code: str, n: int, cwd) -> list[str]:
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i)], cwd=str(cwd), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(n)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(out)
    return outs


def test_processes_logging_one_name(project):
    mvc.init().finish()  # create the store before the race
    outs = _spawn(LOGGER, 4, project)
    returned = [v for o in outs for v in json.loads(o)]
    assert len(returned) == 40 and len(set(returned)) == 40
    api = mvc.Api()
    versions = api.artifacts("M")
    assert [v.version for v in versions] == [f"v{i}" for i in range(40)]
    assert len({v.digest for v in versions}) == 40
    assert set(returned) == {v.version for v in versions}
    assert api.artifact("M").version in returned
    for v in versions[::13]:
        v.verify()


def test_processes_moving_one_alias(project):
    run = mvc.init()
    for i in range(3):
        (project / "m.bin").write_bytes(b"%d" % i)
        run.log_model(str(project / "m.bin"), name="M")
    outs = _spawn(MOVER, 4, project)
    effective = sum(int(o) for o in outs)
    hist = [h for h in mvc.Api().alias_history("M") if h["alias"] == "prod"][::-1]  # oldest first
    assert len(hist) == effective
    assert hist[0]["from"] is None
    for prev, cur in zip(hist, hist[1:]):
        assert cur["from"] == prev["to"] and cur["from"] != cur["to"]
    assert mvc.Api().artifact("M:prod").version == hist[-1]["to"]


def test_threads_logging_one_name(project):
    run = mvc.init()
    got, errors = [], []

    def worker(t):
        try:
            for i in range(5):
                p = project / f"t{t}_{i}.bin"
                p.write_bytes(b"thread %d item %d" % (t, i))
                got.append(run.log_model(str(p), name="T").version)
        except Exception as e:  # noqa: BLE001 - surfaced by the assert below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(got, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(20)]
    assert [v.version for v in mvc.Api().artifacts("T")] == [f"v{i}" for i in range(20)]
    assert len(mvc.Api().run(run.id).outputs) == 20
