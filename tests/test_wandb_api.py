"""W&B's public Api and Artifact surface (issue 11, section 1): artifact(name, type=),
artifacts(type_name, name), artifact_versions, artifact_exists, artifact_collection, and on an
artifact source_name, get_entry, get_path, manifest, wait() and ttl; W&B's registry paths."""
from __future__ import annotations

import datetime
import os

import pytest

import mvc
from mvc.errors import InvalidInputError, InvalidNameError, NotFoundError, UsageError


pytestmark = pytest.mark.usefixtures("no_live_runs")


@pytest.fixture
def logged(project, model_dir):
    """proj/M:v0 (a folder, alias best), proj/M:v1 (one file), proj/D:v0 (type dataset),
    registry/M-prod:v0 -> M:v0 (alias production)."""
    one = project / "one.bin"
    one.write_bytes(os.urandom(4000))
    with mvc.init() as run:
        v0 = run.log_model(str(model_dir), name="M", aliases=["best"])
        run.log_model(str(one), name="M")
        run.log_artifact(str(one), name="D", type="dataset")
        v0.link("registry/M-prod", aliases=["production"])
    return project


def test_artifact_with_type(logged):
    api = mvc.Api()
    assert api.artifact("M:best", type="model").version == "v0"
    assert api.artifact(name="M").version == "v1"  # W&B's keyword
    with pytest.raises(InvalidInputError) as ei:
        api.artifact("M:v0", type="dataset")
    assert "type='model'" in ei.value.hint


def test_artifacts_in_wandb_order_and_the_mvc_form(logged):
    api = mvc.Api()
    assert [a.version for a in api.artifacts("model", "M")] == ["v0", "v1"]
    assert [a.version for a in api.artifacts(type_name="model", name="proj/M")] == ["v0", "v1"]
    assert [a.version for a in api.artifacts("M")] == ["v0", "v1"]  # one positional: the name
    assert [a.version for a in api.artifacts("M", alias="best")] == ["v0"]
    assert api.artifacts("dataset", "M") == []  # W&B's type_name filters
    assert [a.version for a in api.artifact_versions("model", "M")] == ["v0", "v1"]
    assert [a.source_name for a in api.artifacts("model", "registry/M-prod")] == ["M:v0"]
    with pytest.raises(NotFoundError):
        api.artifacts("model", "Nope")
    with pytest.raises(InvalidInputError):
        api.artifacts()


def test_artifacts_tags_filter(project, model_file):
    with mvc.init() as run:
        a = run.log_model(str(model_file), name="M")
    a.tags = ["candidate", "fast"]
    a.save()
    api = mvc.Api()
    assert [x.version for x in api.artifacts("model", "M", tags=["candidate"])] == ["v0"]
    assert api.artifacts("model", "M", tags=["candidate", "slow"]) == []


def test_artifact_exists(logged):
    api = mvc.Api()
    assert api.artifact_exists("M:v1") and api.artifact_exists("M", type="model")
    assert not api.artifact_exists("M:v7") and not api.artifact_exists("Nope")
    assert not api.artifact_exists("M", type="dataset")
    assert api.artifact_exists("wandb-registry-model/M-prod:production")
    assert not api.artifact_exists("registry/Nope")
    with pytest.raises(InvalidNameError):  # a malformed address is an error, not "absent"
        api.artifact_exists("a b c")


def test_artifact_collection(logged):
    api = mvc.Api()
    col = api.artifact_collection("model", "M")
    assert (col.name, col.type, col.project) == ("M", "model", "proj") and col.is_sequence()
    assert [a.version for a in col.artifacts()] == ["v0", "v1"] and col.aliases == ["best", "latest"]
    assert api.artifact("M:v0").collection.name == "M"
    reg = api.artifact_collection("model", "wandb-registry-model/M-prod")
    assert not reg.is_sequence() and [a.source_name for a in reg.versions()] == ["M:v0"]
    assert reg.aliases == ["latest", "production"]
    assert api.artifact("registry/M-prod").collection.name == "M-prod"
    with pytest.raises(NotFoundError):
        api.artifact_collection("dataset", "M")
    with pytest.raises(InvalidNameError):
        api.artifact_collection("model", "M:v0")
    assert api.artifact_collection_exists("M") and not api.artifact_collection_exists("Nope")
    assert sorted(c.name for c in api.artifact_collections("proj")) == ["D", "M"]
    assert [c.name for c in api.artifact_collections("proj", "dataset")] == ["D"]


def test_source_names_and_link_flags(logged):
    api = mvc.Api()
    via = api.artifact("registry/M-prod:production")
    assert via.source_name == "M:v0" and via.source_version == "v0" and via.source_project == "proj"
    assert via.is_link and via.source_artifact is via and via.source_qualified_name == "proj/M:v0"
    direct = api.artifact("M:v0")
    assert not direct.is_link and [a.source_name for a in direct.linked_artifacts] == ["M:v0"]
    assert direct.state == "COMMITTED" and direct.id == "proj/M:v0" and direct.updated_at


def test_manifest_get_entry_get_path(logged, project):
    art = mvc.Api().artifact("M:v0")
    entries = art.manifest.entries
    assert sorted(entries) == ["config.json", "tokenizer/vocab.txt", "weights.bin"]
    e = art.get_entry("tokenizer/vocab.txt")
    assert e.size == 6 and e.digest == {f.path: f.digest for f in art.files()}["tokenizer/vocab.txt"]
    assert art.get_path("weights.bin").path == "weights.bin"
    got = e.download(root=str(project / "one"))
    assert open(got).read() == "a\nb\nc\n"
    assert sorted(os.listdir(project / "one")) == ["tokenizer"]  # only that file was fetched
    with pytest.raises(KeyError):  # W&B raises KeyError; mvc's is also a NotFoundError with a hint
        art.get_entry("missing.bin")
    with pytest.raises(NotFoundError) as ei:
        art.get_entry("missing.bin")
    assert "manifest" in ei.value.hint
    with pytest.raises(UsageError):
        e.ref_target()  # a stored file, not a reference
    with pytest.raises(UsageError):
        art.get("table")


def test_wait_and_ttl(logged):
    art = mvc.Api().artifact("M:v0")
    assert art.wait() is art and art.wait(timeout=5) is art
    assert art.ttl is None
    art.ttl = None
    with pytest.raises(UsageError) as ei:
        art.ttl = datetime.timedelta(days=30)
    assert "not supported" in ei.value.message
    assert art.url is None and art.use_as is None
    with pytest.raises(UsageError) as ei:
        mvc.Artifact("t", "dataset").add(object(), "table")  # W&B media objects
    assert "new_file" in ei.value.hint


def test_download_path_prefix_and_verify_root(logged, project):
    art = mvc.Api().artifact("M:v0")
    folder = art.download(root=str(project / "pre"), path_prefix="tokenizer")
    assert sorted(os.listdir(folder)) == ["tokenizer"]
    full = art.download(root=str(project / "full"))
    art.verify(root=full)
    (project / "full" / "config.json").write_text("changed")
    with pytest.raises(mvc.IntegrityError) as ei:
        art.verify(root=full)
    assert "config.json" in ei.value.message


def test_registry_paths_resolve_like_registry(logged):
    api = mvc.Api()
    want = api.artifact("registry/M-prod:production")
    for spelled in ("wandb-registry-model/M-prod:production", "model-registry/M-prod:production",
                    "alice/model-registry/M-prod:production", "my-org/wandb-registry-model/M-prod:production"):
        got = api.artifact(spelled)
        assert (got.source_name, got.via_link.link) == (want.source_name, want.via_link.link), spelled
    assert api.artifact("wandb-registry-model/M-prod:v0").source_name == "M:v0"
    with pytest.raises(InvalidNameError) as ei:
        api.artifact("wandb-registry-dataset/M-prod")
    assert "one registry" in ei.value.message


def test_link_and_use_with_wandb_registry_paths(logged, project):
    with mvc.init() as run:
        link = run.link_artifact(mvc.Api().artifact("M:v1"), "wandb-registry-model/M-prod", aliases=["staging"])
        assert link.address == "registry/M-prod:v1"
        again = mvc.Api().artifact("M:v1").link("alice/model-registry/M-prod")
        assert again.address == "registry/M-prod:v1"  # linking a linked version returns its link
        path = run.use_model("wandb-registry-model/M-prod:staging", root=str(project / "u"))
        assert path.endswith("one.bin")
        with pytest.raises(InvalidNameError):
            run.link_artifact(mvc.Api().artifact("M:v1"), "wandb-registry-model/M-prod:v0")
        with pytest.raises(InvalidNameError) as ei:
            run.link_artifact(mvc.Api().artifact("M:v1"), "some-project/portfolio")
        assert "registry" in ei.value.hint
    (inp,) = mvc.Api().run(run.id).inputs
    assert inp["via"] == "registry/M-prod:v1"


def test_link_artifact_logs_a_draft_first(project, model_file):
    """The registry guide's snippet: link_artifact(artifact=draft, target_path=...) with no log first."""
    run = mvc.init()
    artifact = mvc.Artifact(name="clf", type="model")
    artifact.add_file(local_path=str(model_file))
    link = run.link_artifact(artifact=artifact, target_path="wandb-registry-model/classifiers")
    run.finish()
    assert artifact.version == "v0" and link.address == "registry/classifiers:v0"
    assert mvc.Api().artifact("wandb-registry-model/classifiers").source_name == "clf:v0"


def test_unlink_through_the_link(logged):
    via = mvc.Api().artifact("registry/M-prod:v0")
    via.unlink()
    assert mvc.Api().registered_model("M-prod").links() == []
    with pytest.raises(UsageError):
        mvc.Api().artifact("M:v0").unlink()


def test_api_takes_wandb_overrides(logged):
    assert mvc.Api({"project": "proj", "entity": "me"}).artifact("M:v0").version == "v0"
    api = mvc.Api(overrides={"project": "other"}, timeout=30, api_key="unused")
    assert api.project == "other" and api.entity is None
    with pytest.raises(NotFoundError):
        api.artifact("M")  # the override's project has no M


def test_artifact_types(logged):
    api = mvc.Api()
    assert [t.name for t in api.artifact_types("proj")] == ["dataset", "model"]
    model = api.artifact_type("model", "proj")
    assert [c.name for c in model.collections()] == ["M"] and model.collection("M").type == "model"
    with pytest.raises(NotFoundError) as ei:
        api.artifact_type("code", "proj")
    assert "dataset, model" in ei.value.hint
    with pytest.raises(NotFoundError):
        api.artifact_types("nothing")
