"""Store upkeep from Python (issue 11, section 5): what `mvc init|gc|fsck|verify|du|unlock`
do, as Api methods, so a Python user needs no CLI and the CLI needs no mvc.repo."""
from __future__ import annotations

import os
import time
from datetime import datetime

import pytest

import mvc
from mvc.errors import IntegrityError, NotFoundError, UsageError


@pytest.fixture
def api(project, model_file):
    with mvc.init(project="proj") as run:
        run.log_model(str(model_file), name="M")
    return mvc.Api()


def _chunk_files(store):
    return [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(store, "chunks")) for f in fs]


def test_create_makes_a_store_once(tmp_path):
    api = mvc.Api.create(str(tmp_path / "s"))
    assert api.created and api.repo.path == str(tmp_path / "s" / ".mvc")
    again = mvc.Api.create(str(tmp_path / "s"))
    assert not again.created and again.repo.path == api.repo.path


def test_create_without_dir_uses_the_project_root(project):
    sub = project / "sub"
    sub.mkdir()
    os.chdir(sub)
    assert mvc.Api.create().repo.path == str(sub / ".mvc")  # no git work tree: the working folder
    with pytest.raises(NotFoundError):
        mvc.Api(str(project / "nowhere"))


def test_gc_dry_run_deletes_nothing_and_reports_iso_times(api):
    art = api.artifact("M:v0")
    art.delete()
    before = _chunk_files(api.repo.path)
    rep = api.gc(dry_run=True, grace=0, retention="0s")
    assert rep.dry_run and rep.purge == ["proj/M:v0"] and len(rep.chunks) == len(before) > 0
    assert datetime.fromisoformat(rep.cutoff).tzinfo is not None   # an ISO string, not epoch seconds
    assert rep.to_json()["cutoff"] == rep.cutoff
    assert any(line.startswith("purge proj/M:v0") for line in rep.lines())
    assert _chunk_files(api.repo.path) == before
    done = api.gc(grace="0s", retention=0)
    assert not done.dry_run and set(done.chunks) == set(rep.chunks)
    assert _chunk_files(api.repo.path) == []


@pytest.mark.parametrize("kw", [{"grace": "-1h"}, {"retention": "soon"}, {"keep_last": -1}, {"keep_last": True}])
def test_gc_refuses_bad_options_before_anything(api, kw):
    with pytest.raises(UsageError):
        api.gc(**kw)
    assert api.artifacts("M")  # nothing changed


def test_gc_takes_the_duration_grammar(api):
    assert api.gc(dry_run=True, grace="1.5h", retention="2w").dry_run


def test_fsck_verify_and_repair(api):
    rep = api.fsck(git=False)
    assert rep.ok and rep.versions == 1 and rep.repaired == []
    assert api.verify("M").address == "proj/M:v0"
    chunk = _chunk_files(api.repo.path)[0]
    os.chmod(chunk, 0o644)
    with open(chunk, "r+b") as f:
        f.write(b"\0" * 16)
    with pytest.raises(IntegrityError):
        api.verify("M:v0")
    bad = api.fsck(git=False)
    assert not bad.ok and any(p.kind == "corrupt-chunk" for p in bad.problems)
    api.fsck(git=False, repair=True)   # sets the corrupt chunk aside
    assert os.listdir(os.path.join(api.repo.path, "quarantine"))
    with pytest.raises(UsageError):
        api.fsck(sample=0)


def test_du_of_store_and_artifact(api, model_file):
    store = api.du()
    assert store["logical"] == model_file.stat().st_size and [a["name"] for a in store["artifacts"]] == ["M"]
    one = api.du("M")
    assert [v["version"] for v in one["versions"]] == ["v0"] and one["logical"] == store["logical"]
    with pytest.raises(NotFoundError):
        api.du("Nope")


def test_unlock_removes_a_dead_writers_lock(api):
    lock = os.path.join(api.repo.path, "refs", "heads", "x.lock")
    os.makedirs(os.path.dirname(lock), exist_ok=True)
    with open(lock, "w") as f:
        f.write("")
    old = time.time() - 3600
    os.utime(lock, (old, old))
    found = api.unlock()
    assert [(x["kind"], x["removed"]) for x in found] == [("lock", True)] and not os.path.exists(lock)
    assert api.unlock() == []


def test_artifacts_since_takes_the_duration_grammar(api):
    assert [a.version for a in api.artifacts("M", since="1d")] == ["v0"]
    assert api.artifacts("M", since="2999-01-01") == [] and len(api.artifacts("M", since=0)) == 1
    with pytest.raises(UsageError) as e:
        api.artifacts("M", since="soon")
    assert "since" in e.value.message and "2d" in e.value.hint
