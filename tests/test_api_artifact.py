"""SPEC "Artifacts and the read API": Artifact properties and changes, Api queries."""
from __future__ import annotations

import os
import time

import pytest

import mvc
from mvc.errors import InvalidInputError, InvalidNameError, NotFoundError


def _log(run, project, data: bytes, name="M", **kw):
    f = project / "m.bin"
    f.write_bytes(data)
    return run.log_model(str(f), name=name, **kw)


def test_properties(project, model_dir):
    t0 = time.time()
    run = mvc.init(entity="team")
    a = run.log_model(str(model_dir), name="D", metadata={"acc": 0.9}, description="desc", aliases=["best"])
    api = mvc.Api()
    got = api.artifact("D:best")
    assert (got.name, got.version, got.type, got.project, got.entity) == ("D", "v0", "model", "proj", "team")
    assert len(got.digest) == 64 and got.digest == a.digest
    assert got.size == sum(f.size for f in got.files()) == 70_000 + 14 + 6
    assert got.aliases == ["best", "latest"] and got.tags == []
    assert got.metadata == {"acc": 0.9} and got.description == "desc"
    assert got.created_at.startswith(time.strftime("%Y", time.gmtime(t0)))
    assert got.qualified_name == "team/proj/D:v0"
    assert got.logged_by().id == run.id and got.used_by() == [] and got.links() == []
    f = {x.path: x for x in got.files()}["config.json"]
    assert (f.size, f.reference) == (14, None) and f.digest.startswith("blake3:")


def test_save_aliases_metadata_description_records_who_and_when(project, monkeypatch):
    run = mvc.init()
    _log(run, project, b"a")
    _log(run, project, b"b")
    api = mvc.Api()
    v0 = api.artifact("M:v0")
    v0.aliases.append("production")
    v0.metadata["reviewed"] = True
    v0.description = "the good one"
    v0.tags = ["golden"]
    t = time.time()
    v0.save()
    again = api.artifact("M:production")
    assert again.version == "v0" and again.metadata == {"reviewed": True}
    assert again.description == "the good one" and again.tags == ["golden"]
    assert again._info.record["updated_at"] >= t - 1
    monkeypatch.setenv("MVC_USER", "alice")
    v1 = api.artifact("M:v1")
    v1.aliases.append("production")
    v1.save()
    assert api.artifact("M:v0").aliases == []
    hist = [h for h in api.alias_history("M") if h["alias"] == "production"]
    assert [(h["from"], h["to"], h["who"]) for h in hist] == [("v0", "v1", "alice"), (None, "v0", "tester")]
    assert all(abs(h["when"] - t) < 60 for h in hist)
    v1.aliases.remove("production")
    v1.save()
    assert api.alias_history("M")[0]["from"] == "v1" and api.alias_history("M")[0]["to"] is None


def test_save_refusals_change_nothing(project):
    run = mvc.init()
    _log(run, project, b"a")
    _log(run, project, b"b")
    api = mvc.Api()
    v0 = api.artifact("M:v0")
    before = len(api.alias_history("M"))
    for bad in (["latest"], ["v3"], ["x y"]):
        v0.aliases = bad
        with pytest.raises((InvalidInputError, InvalidNameError)):
            v0.save()
    v0.aliases = []
    v0.metadata = {"x": float("inf")}
    with pytest.raises(InvalidInputError):
        v0.save()
    assert len(api.alias_history("M")) == before and api.artifact("M:v0").metadata == {}


def test_delete_soft_and_restore(project):
    run = mvc.init()
    a0 = _log(run, project, b"a")
    _log(run, project, b"b")
    api = mvc.Api()
    api.artifact("M:v1").delete()
    assert api.artifact("M").version == "v0"  # latest falls back
    with pytest.raises(NotFoundError) as ei:
        api.artifact("M:v1")
    assert "deleted" in ei.value.message and "restore" in ei.value.message
    (trashed,) = api.artifacts("M", deleted=True)
    assert trashed.deleted and trashed.version == "v1"
    assert _log(run, project, b"c").version == "v2"  # numbers are never reused
    trashed.restore()
    assert [v.version for v in api.artifacts("M")] == ["v0", "v1", "v2"]
    assert api.artifacts("M", deleted=True) == []
    api.artifact("M:v1").verify()
    assert _log(run, project, b"b").version == "v1"  # dedup index restored too
    with pytest.raises(NotFoundError, match="not in the trash"):
        api.artifact("M:v0").restore()
    assert a0.digest == api.artifact("M:v0").digest


def test_api_listings_and_filters(project, model_dir):
    run = mvc.init()
    _log(run, project, b"a", aliases=["best"])
    _log(run, project, b"b")
    t = time.time()
    time.sleep(0.01)
    _log(run, project, b"c")
    run.log_artifact(str(model_dir), name="data", type="dataset", tags=["raw"])
    api = mvc.Api()
    v2 = api.artifact("M:v2")
    v2.tags = ["candidate"]
    v2.save()
    assert [a.version for a in api.artifacts("M")] == ["v0", "v1", "v2"]
    assert [a.version for a in api.artifacts("M", alias="best")] == ["v0"]
    assert [a.version for a in api.artifacts("M", tag="candidate")] == ["v2"]
    assert [a.version for a in api.artifacts("M", since=t)] == ["v2"]
    assert api.artifacts("M", type="dataset") == []
    assert [a.name for a in api.artifacts("data", type="dataset", tag="raw")] == ["data"]
    assert sorted(api.artifact_names()) == ["M", "data"]
    assert api.artifact_names(type="model") == ["M"]
    assert api.artifact_names(project="elsewhere") == []
    with pytest.raises(NotFoundError):
        api.artifacts("nothing")
    assert api.projects() == ["proj"]


def test_api_runs_and_registered_models(project):
    r1 = mvc.init(name="first")
    r1.finish()
    r2 = mvc.init(project="other")
    r2.finish()
    api = mvc.Api()
    assert [r.id for r in api.runs()] == [r1.id]
    assert [r.id for r in api.runs("other")] == [r2.id]
    assert api.run(r1.id).name == "first" and api.run(r2.id).project == "other"
    with pytest.raises(NotFoundError):
        api.run("zzzzzzzz")
    with pytest.raises(NotFoundError):
        api.registered_model("nope")
    assert api.registered_models() == []


def test_api_on_missing_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFoundError, match="no mvc store"):
        mvc.Api(dir=str(tmp_path / "none"))
    assert not (tmp_path / "none").exists()
    assert not os.path.exists(tmp_path / ".mvc")


def test_stale_save_keeps_concurrent_changes(project):
    run = mvc.init()
    _log(run, project, b"a")
    _log(run, project, b"b")
    api = mvc.Api()
    mine = api.artifact("M:v0")  # loaded before someone else's edits
    theirs = api.artifact("M:v0")
    theirs.aliases.append("production")
    theirs.metadata = {"reviewed": True}
    theirs.save()
    mine.description = "only the description changed here"
    mine.save()
    now = api.artifact("M:v0")
    assert now.aliases == ["production"] and now.metadata == {"reviewed": True}
    assert now.description == "only the description changed here"
    mine = api.artifact("M:v0")
    api.repo.artifacts.set_alias("proj", "M", "v1", "production")  # moved away meanwhile
    mine.aliases.remove("production")
    mine.save()  # removing an alias that is no longer here must not touch v1's
    assert api.artifact("M:production").version == "v1"
