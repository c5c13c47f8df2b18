"""A project belongs to the entity that created it (issue 11, section 1): `bob/p/model` no longer
returns alice's version; it is a NotFoundError with a hint, and writing as bob into alice's
project is refused before anything is written."""
from __future__ import annotations

import pygit2
import pytest

import mvc
from mvc.errors import ConflictError, NotFoundError


pytestmark = pytest.mark.usefixtures("no_live_runs")


def _refs(project) -> dict:
    repo = pygit2.Repository(str(project / ".mvc"))
    return {r: str(repo.references[r].target) for r in repo.references if r.startswith("refs/mvc/")}


@pytest.fixture
def alices(project, model_file):
    with mvc.init(project="p", entity="alice") as run:
        run.log_model(str(model_file), name="model")
    return project


def test_another_entity_is_not_found_with_a_hint(alices):
    api = mvc.Api()
    assert api.artifact("alice/p/model").entity == "alice"
    assert api.artifact("alice/p/model").qualified_name == "alice/p/model:v0"
    assert api.artifact("p/model").version == "v0"  # the entity is optional
    with pytest.raises(NotFoundError) as ei:
        api.artifact("bob/p/model")
    assert "belongs to entity 'alice'" in ei.value.message and "alice/p/" in ei.value.hint
    with pytest.raises(NotFoundError):
        api.artifact("bob/p/model:v0")
    with pytest.raises(NotFoundError):
        api.artifacts("model", "bob/p/model")
    assert api.artifact_exists("bob/p/model") is False
    with pytest.raises(NotFoundError):
        api.artifact_collection("model", "bob/p/model")
    with pytest.raises(NotFoundError):
        api.runs("bob/p")
    with pytest.raises(NotFoundError):
        api.alias_history("bob/p/model")
    with pytest.raises(NotFoundError):
        api.remove_alias("bob/p/model", "best")
    with pytest.raises(NotFoundError):
        api.set_alias("bob/p/model:v0", "best")
    assert api.alias_history("alice/p/model")
    with mvc.init(project="p", entity="alice") as run:
        with pytest.raises(NotFoundError):
            run.use_model("bob/p/model")
        assert run.use_artifact("alice/p/model").version == "v0"


def test_writing_as_another_entity_is_refused_before_anything_is_written(alices, model_file):
    before = _refs(alices)
    with pytest.raises(ConflictError) as ei:
        mvc.init(project="p", entity="bob")
    assert "belongs to entity 'alice'" in ei.value.message and "entity='alice'" in ei.value.hint
    assert _refs(alices) == before
    # a run without an entity may still work in the project; it takes no entity of its own
    with mvc.init(project="p") as run:
        run.log_model(str(model_file), name="model", aliases=["again"])
    assert mvc.Api().artifact("alice/p/model:again").version == "v0"


def test_the_first_entity_claims_an_unowned_project(project, model_file):
    with mvc.init(project="q") as run:  # no entity: the project has no owner yet
        run.log_model(str(model_file), name="m")
    assert mvc.Api().artifact("anyone/q/m").version == "v0"  # an unowned project answers to any entity
    with mvc.init(project="q", entity="carol"):
        pass
    assert mvc.Api().artifact("carol/q/m").version == "v0"
    with pytest.raises(NotFoundError):
        mvc.Api().artifact("dave/q/m")


def test_cli_show_and_use_apply_the_rule(alices):
    from click.testing import CliRunner

    from mvc.cli import cli
    res = CliRunner().invoke(cli, ["show", "bob/p/model"])
    assert res.exit_code == 3 and "belongs to entity 'alice'" in res.output + (res.stderr or "")
    res = CliRunner().invoke(cli, ["use", "alice/p/model", "-o", str(alices / "o")])
    assert res.exit_code == 0, res.output


def test_the_apis_entity_is_the_default_entity_of_every_address(alices):
    """Api({"entity": ...}) was kept but not used: bob's Api read alice's project (an audit)."""
    bob = mvc.Api({"entity": "bob", "project": "p"})
    with pytest.raises(NotFoundError, match="belongs to entity 'alice'"):
        bob.artifact("model:v0")
    for read in (lambda: bob.artifact("p/model"), lambda: bob.artifacts("model", "model"),
                 lambda: bob.artifact_collection("model", "model"), lambda: bob.alias_history("model"),
                 lambda: bob.lineage("model:v0"), lambda: bob.set_alias("model:v0", "best"), lambda: bob.runs("p")):
        with pytest.raises(NotFoundError):
            read()
    assert bob.artifact_exists("model") is False
    assert bob.artifact("alice/p/model").version == "v0"   # an address that names its entity
    for api in (mvc.Api({"entity": "alice", "project": "p"}), mvc.Api({"project": "p"})):
        assert api.artifact("model:v0").version == "v0" and [a.version for a in api.artifacts("model")] == ["v0"]
