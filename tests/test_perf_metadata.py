"""The metadata side of logging does only the commits it must (docs/design.md,
"Commits per log"), and lineage loses nothing by it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pygit2

import mvc
from mvc.meta import refs
from mvc.repo import lease

REF_M = refs.artifact("proj", "M")


def _git(project) -> pygit2.Repository:
    return pygit2.Repository(str(project / ".mvc"))


def _commits(project, ref: str) -> int:
    g = _git(project)
    if ref not in g.references:
        return 0
    return sum(1 for _ in g.walk(g.references[ref].target))


def test_noop_relog_makes_no_artifact_commit_but_lineage_shows_the_run(project, model_file):
    with mvc.init() as r1:
        r1.log_model(str(model_file), name="M", aliases=["best"])
    ref = REF_M
    before = _commits(project, ref)
    with mvc.init() as r2:
        again = r2.log_model(str(model_file), name="M")      # latest is already there: nothing changes
        assert again.version == "v0"
        assert _commits(project, ref) == before
    assert _commits(project, ref) == before
    api = mvc.Api()
    assert [r.id for r in api.artifact("M:v0").loggers()] == [r1.id, r2.id]
    outs = api.run(r2.id).outputs
    assert [(o["version"], o["created"]) for o in outs] == [("v0", False)]
    g = api.lineage("M:v0", "up")
    assert ("run:" + r2.id, "artifact:proj/M:v0", "output") in g.edges


def test_relog_that_moves_an_alias_still_commits(project, model_file):
    with mvc.init() as r1:
        r1.log_model(str(model_file), name="M")
    ref = REF_M
    before = _commits(project, ref)
    with mvc.init() as r2:
        v = r2.log_model(str(model_file), name="M", aliases=["prod"])  # moves prod: durable at return
        assert _commits(project, ref) == before + 1
        assert v.aliases == ["latest", "prod"]


def test_a_log_costs_one_artifact_commit_and_no_run_commit(project, model_file):
    run = mvc.init()
    run_ref = f"refs/mvc/proj/runs/{run.id}"
    started = _commits(project, run_ref)
    run.log_model(str(model_file), name="M")
    assert _commits(project, run_ref) == started           # outputs are committed at finish
    assert _commits(project, REF_M) == 1
    assert [o["version"] for o in mvc.Api().run(run.id).outputs] == ["v0"]   # derived meanwhile
    run.finish()
    assert _commits(project, run_ref) == started + 1
    rec = mvc.Api().repo.runs.read("proj", run.id)
    assert rec["outputs_final"] and [o["version"] for o in rec["outputs"]] == ["v0"]


KILLED = r"""
import os, signal, sys
import mvc
run = mvc.init()
run.log_model(sys.argv[1], name="K")
print(run.id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_outputs_derive_from_version_records_after_sigkill(project, model_file):
    p = subprocess.run([sys.executable, "-c", KILLED, str(model_file)], cwd=project, capture_output=True,
                       text=True, timeout=120, env=dict(os.environ))
    assert p.returncode == -signal.SIGKILL, p.stderr
    rid = p.stdout.strip()
    api = mvc.Api()
    rec = api.run(rid)
    assert rec.state == "crashed"
    assert [(o["name"], o["version"], o["created"]) for o in rec.outputs] == [("K", "v0", True)]
    assert [a.version for a in rec.logged()] == ["v0"]
    assert [r.id for r in api.artifact("K:v0").loggers()] == [rid]
    g = api.lineage("run:" + rid, "down")
    assert ("run:" + rid, "artifact:proj/K:v0", "output") in g.edges


def test_lease_files_are_not_fsynced(project, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    store = str(project / ".mvc")
    os.makedirs(store, exist_ok=True)
    with lease.Lease(store, "log") as le:
        assert os.path.exists(le.path)
        assert [x.pid for x in lease.live_leases(store)] == [os.getpid()]
    assert synced == []
    assert not os.path.exists(le.path)
