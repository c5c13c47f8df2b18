"""SPEC link_model / Artifact.link / the registry."""
from __future__ import annotations

import os

import pytest

import mvc
from mvc.errors import ConflictError, InvalidNameError, NotFoundError
from mvc.meta import refs


def _log(run, project, data: bytes, name="M", **kw):
    f = project / "m.bin"
    f.write_bytes(data)
    return run.log_model(str(f), name=name, **kw)


def _chunks(project) -> int:
    return sum(len(f) for _, _, f in os.walk(project / ".mvc" / "chunks"))


def test_link_model_creates_and_numbers_independently(project):
    run = mvc.init()
    for i in range(4):
        _log(run, project, b"w%d" % i)
    f = project / "m.bin"
    f.write_bytes(b"final")
    link = run.link_model(str(f), "MNIST-prod", name="M", aliases=["staging"])
    assert isinstance(link, mvc.Link)
    assert (link.model, link.version, link.source) == ("MNIST-prod", "v0", "proj/M:v4")
    assert link.aliases == ["latest", "staging"] and link.address == "registry/MNIST-prod:v0"
    l2 = mvc.Api().artifact("M:v1").link("registry/MNIST-prod", aliases=["production"])
    assert (l2.version, l2.source) == ("v1", "proj/M:v1")
    rm = mvc.Api().registered_model("MNIST-prod")
    assert rm.aliases == {"latest": "v1", "staging": "v0", "production": "v1"}
    assert [(li.version, li.source) for li in rm.links()] == [("v0", "proj/M:v4"), ("v1", "proj/M:v1")]
    assert [m.name for m in mvc.Api().registered_models()] == ["MNIST-prod"]


def test_registry_address_resolves_to_source(project):
    run = mvc.init()
    a0 = _log(run, project, b"a")
    a1 = _log(run, project, b"b")
    a1.link("Prod", aliases=["production"])
    a0.link("Prod")
    api = mvc.Api()
    assert api.artifact("registry/Prod:v0").digest == a1.digest
    assert api.artifact("registry/Prod:production").version == "v1"
    assert api.artifact("registry/Prod").version == "v0"  # latest link is a0
    assert api.artifact("registry/Prod:v1").version == "v0"
    with pytest.raises(NotFoundError, match="no link v7"):
        api.artifact("registry/Prod:v7")
    with pytest.raises(NotFoundError, match="no alias 'canary'"):
        api.artifact("registry/Prod:canary")


def test_relink_is_noop_returning_same_link(project):
    run = mvc.init()
    a = _log(run, project, b"a")
    first = a.link("registry/R")
    commits = len(list(mvc.Api().repo.meta.history(refs.registry("R"))))
    again = a.link("registry/R")
    assert again.version == first.version == "v0"
    assert len(list(mvc.Api().repo.meta.history(refs.registry("R")))) == commits
    with_alias = a.link("registry/R", aliases=["production"])
    assert with_alias.version == "v0" and with_alias.aliases == ["latest", "production"]
    assert len(mvc.Api().registered_model("R").links()) == 1
    # link_model of identical content: dedups to the same version, then the same link
    f = project / "m.bin"
    assert run.link_model(str(f), "R", name="M").version == "v0"


@pytest.mark.parametrize("bad", ["a/b", "registry/x/y", "x:v1", "team:prod"])
def test_registered_model_name_must_be_bare(project, bad):
    run = mvc.init()
    f = project / "m.bin"
    f.write_bytes(b"x")
    with pytest.raises(InvalidNameError, match="bare name"):
        run.link_model(str(f), bad, name="M")
    with pytest.raises(mvc.NotFoundError):
        mvc.Api().artifact("M")  # refused before anything was logged
    a = _log(run, project, b"x")
    with pytest.raises(InvalidNameError):
        a.link(bad if bad.startswith("registry/") else "registry/" + bad)
    assert mvc.Api().registered_models() == []


def test_link_traced_to_producing_run(project):
    with mvc.init() as producer:
        a = _log(producer, project, b"a")
    with mvc.init() as linker:
        link = linker.link_artifact(mvc.Api().artifact("M:v0"), "registry/R")
    assert link.run_id == linker.id
    assert link.logged_by().id == producer.id
    assert link.artifact().digest == a.digest
    assert [li.address for li in mvc.Api().artifact("M:v0").links()] == ["registry/R:v0"]


def test_linking_copies_no_bytes_and_unlink_keeps_versions(project, model_dir):
    run = mvc.init()
    a = run.log_model(str(model_dir), name="D")
    n = _chunks(project)
    for rm in ("R1", "R2", "R3"):
        a.link(rm)
    assert _chunks(project) == n
    api = mvc.Api()
    api.registered_model("R1").unlink("v0")
    api.repo.registry.delete("R2")
    assert [m.name for m in api.registered_models()] == ["R1", "R3"]
    assert api.registered_model("R1").links() == []
    with pytest.raises(NotFoundError):
        api.artifact("registry/R1")
    assert api.artifact("D:v0").digest == a.digest
    assert _chunks(project) == n
    api.artifact("D:v0").verify()


def test_delete_refuses_while_aliased_or_linked(project):
    run = mvc.init()
    a0 = _log(run, project, b"a", aliases=["best"])
    _log(run, project, b"b")
    with pytest.raises(ConflictError) as ei:
        a0.delete()
    assert "best" in ei.value.message and "delete_aliases" in ei.value.hint
    a0.aliases = []
    a0.save()
    a0.link("R")
    with pytest.raises(ConflictError) as ei:
        mvc.Api().artifact("M:v0").delete()
    assert "registry/R:v0" in ei.value.message
    assert [v.version for v in mvc.Api().artifacts("M")] == ["v0", "v1"]
    mvc.Api().artifact("M:v0").delete(delete_aliases=True)
    assert [v.version for v in mvc.Api().artifacts("M")] == ["v1"]


def test_registry_alias_history_and_moves(project):
    run = mvc.init()
    a = _log(run, project, b"a")
    b = _log(run, project, b"b")
    a.link("R")
    b.link("R")
    rm = mvc.Api().registered_model("R")
    rm.set_alias("production", "v0")
    rm.set_alias("production", "v1")
    rm.remove_alias("production")
    hist = [h for h in rm.alias_history() if h["alias"] == "production"]
    assert [(h["from"], h["to"]) for h in reversed(hist)] == [(None, "v0"), ("v0", "v1"), ("v1", None)]
    assert all(h["who"] == "tester" and h["when"] > 0 for h in hist)
    with pytest.raises(InvalidNameError):
        rm.set_alias("latest", "v0")
    with pytest.raises(NotFoundError):
        rm.set_alias("x", "v9")


def test_registry_numbers_never_reused_and_deleted_versions_not_linkable(project):
    run = mvc.init()
    a = _log(run, project, b"a")
    _log(run, project, b"b")
    a.link("R")
    mvc.Api().registered_model("R").unlink("v0")
    assert a.link("R").version == "v1"  # v0 is never handed out again
    api = mvc.Api()
    api.artifact("M:v1").delete()
    (trashed,) = api.artifacts("M", deleted=True)
    with pytest.raises(ConflictError) as ei:
        trashed.link("R")
    assert "deleted" in ei.value.message and "restore" in ei.value.hint
    assert [li.version for li in api.registered_model("R").links()] == ["v1"]


def test_registry_alias_history_through_api(project):
    run = mvc.init()
    _log(run, project, b"a").link("R", aliases=["staging"])
    _log(run, project, b"b").link("R", aliases=["staging"])
    hist = mvc.Api().alias_history("registry/R")
    staging = [(h["from"], h["to"]) for h in hist if h["alias"] == "staging"]
    assert staging == [("v0", "v1"), (None, "v0")]  # newest first
    assert all(h["who"] == "tester" for h in hist)


def test_deleting_a_registered_model_keeps_its_history_and_numbering(project, model_file):
    run = mvc.init()
    a = run.log_model(str(model_file), name="D")
    a.link("R", aliases=["production"])
    api = mvc.Api()
    api.repo.registry.delete("R")
    assert [m.name for m in api.registered_models()] == []
    with pytest.raises(NotFoundError):
        api.artifact("registry/R:production")
    with pytest.raises(NotFoundError):
        api.repo.registry.delete("R")                      # already gone
    history = api.alias_history("registry/R")               # the ref keeps who removed what, when
    removed = [h for h in history if h["to"] is None]
    assert {h["alias"] for h in removed} == {"latest", "production"} and all(h["who"] for h in removed)
    again = a.link("R")                                     # the name comes back, numbers go on
    assert again.version == "v1" and [m.name for m in api.registered_models()] == ["R"]
    assert api.artifact("D:v0").digest == a.digest
