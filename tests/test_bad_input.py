"""Bad input gets a typed mvc error whose message says what was wrong and whose
hint says what to do; nothing is left half-done."""
from __future__ import annotations

import argparse
import os

import pygit2
import pytest

import mvc
from mvc.errors import InvalidInputError, MvcError


@pytest.fixture
def ready(project):
    (project / "m.bin").write_bytes(b"x")
    run = mvc.init()
    run.log_model(str(project / "m.bin"), name="M")
    return run, project


def _state(project) -> tuple:
    repo = pygit2.Repository(str(project / ".mvc"))
    refs = {r: str(repo.references[r].target) for r in repo.references if "/runs/" not in r}
    chunks = sum(len(f) for _, _, f in os.walk(project / ".mvc" / "chunks"))
    return refs, chunks


CASES = {
    "path int": lambda run, p: run.log_model(123, name="M2"),
    "path None": lambda run, p: run.log_model(None, name="M2"),
    "path int, default name": lambda run, p: run.log_model(123),
    "aliases int": lambda run, p: run.log_model(str(p / "m.bin"), name="M2", aliases=5),
    "alias not str": lambda run, p: run.log_model(str(p / "m.bin"), name="M2", aliases=[5]),
    "tags dict": lambda run, p: run.log_artifact(str(p / "m.bin"), name="M2", tags={"a": 1}),
    "description int": lambda run, p: run.log_model(str(p / "m.bin"), name="M2", description=5),
    "name int": lambda run, p: run.log_model(str(p / "m.bin"), name=5),
    "use None": lambda run, p: run.use_model(None),
    "use int": lambda run, p: run.use_model(5),
    "use bad grammar": lambda run, p: run.use_model("M::v0"),
    "include int": lambda run, p: run.use_model("M", include=5),
    "link bad alias": lambda run, p: run.link_model(str(p / "m.bin"), "R", name="M2", aliases=["v1"]),
    "link latest by hand": lambda run, p: mvc.Api().artifact("M").link("R", aliases=["latest"]),
    "link aliases int": lambda run, p: mvc.Api().artifact("M").link("R", aliases=3),
    "log step str": lambda run, p: run.log({"a": 1}, step="x"),
    "log list": lambda run, p: run.log([1]),
    "log inf": lambda run, p: run.log({"a": float("inf")}),
    "log int key": lambda run, p: run.log({1: 2}),
    "lineage direction": lambda run, p: mvc.Api().lineage("M", direction="sideways"),
    "lineage depth": lambda run, p: mvc.Api().lineage("M", depth=-1),
    "empty folder": lambda run, p: (os.makedirs(p / "empty", exist_ok=True), run.log_model(str(p / "empty"), name="E")),
    "artifacts bad name": lambda run, p: mvc.Api().artifacts("a b"),
    "alias history unknown": lambda run, p: mvc.Api().alias_history("nothing"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_typed_error_nothing_changed(ready, case):
    run, project = ready
    before = _state(project)
    with pytest.raises(MvcError) as ei:
        CASES[case](run, project)
    err = ei.value
    assert err.message and isinstance(err.exit_code, int) and err.exit_code >= 1
    assert err.hint, f"{case}: no hint in {err!r}"
    assert _state(project) == before
    assert [a.version for a in mvc.Api().artifacts("M")] == ["v0"]


def test_tags_and_aliases_as_one_string(ready):
    run, project = ready
    (project / "n.bin").write_bytes(b"n")
    a = run.log_artifact(str(project / "n.bin"), name="N", aliases="best", tags="golden")
    assert a.aliases == ["best", "latest"] and a.tags == ["golden"]  # never split into characters
    link = mvc.Api().artifact("N").link("R", aliases="prod")
    assert link.aliases == ["latest", "prod"]
    assert mvc.init(tags="exp").tags == ["exp"]


@pytest.mark.parametrize("config,err", [("abc", "must be a dict"), ([1], "must be a dict"),
                                        ({"lr": float("inf")}, "infinite"), ({"x": object()}, "not JSON")])
def test_bad_config_refused_before_anything_is_written(project, config, err):
    mvc.init().finish()
    runs_before = sorted(os.listdir(project / ".mvc" / "runs"))
    with pytest.raises(InvalidInputError, match=err):
        mvc.init(config=config)
    assert sorted(os.listdir(project / ".mvc" / "runs")) == runs_before
    assert len(mvc.Api().runs()) == 1


def test_config_from_argparse(project):
    ns = argparse.Namespace(lr=0.1, epochs=3)
    run = mvc.init(config=ns)
    assert run.config == {"lr": 0.1, "epochs": 3}


def test_use_model_resolves_once(ready, monkeypatch):
    run, project = ready
    (project / "m.bin").write_bytes(b"y")
    run.log_model(str(project / "m.bin"), name="M")
    calls = []
    orig = run._repo.resolve

    def counting(*a, **k):
        calls.append(a[0])
        return orig(*a, **k)

    monkeypatch.setattr(run._repo, "resolve", counting)
    run.use_model("M:latest", root=str(project / "o"))
    assert calls == ["M:latest"]
