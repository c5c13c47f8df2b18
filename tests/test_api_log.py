"""SPEC log_model / log_artifact."""
from __future__ import annotations

import os

import pytest

import mvc
from mvc.errors import ConflictError, IntegrityError, InvalidInputError, InvalidNameError


def _write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _refs(project) -> list[str]:
    import pygit2
    return sorted(r for r in pygit2.Repository(str(project / ".mvc")).references if "/artifacts/" in r)


def _chunks(project) -> int:
    return sum(len(f) for _, _, f in os.walk(project / ".mvc" / "chunks"))


def test_returns_versions_in_order(project):
    run = mvc.init()
    f = project / "m.bin"
    got = []
    for i in range(3):
        _write(f, b"weights %d" % i)
        got.append(run.log_model(str(f), name="M"))
    assert [a.version for a in got] == ["v0", "v1", "v2"]
    assert all(isinstance(a, mvc.Artifact) and a.type == "model" and a.name == "M" for a in got)
    assert got[-1].aliases == ["latest"]
    assert [a.version for a in mvc.Api().artifacts("M")] == ["v0", "v1", "v2"]
    assert mvc.Api().artifact("M:v0").aliases == []


def test_default_name_keeps_extension(project, model_file):
    run = mvc.init()
    a = run.log_model(str(model_file))
    assert a.name == f"run-{run.id}-model.bin"
    d = project / "ckpt.dir"
    _write(d / "w.bin", b"x")
    assert run.log_model(str(d)).name == f"run-{run.id}-ckpt.dir"


def test_default_name_breaking_rules_says_pass_name(project):
    run = mvc.init()
    f = _write(project / "my model (final).bin", b"x")
    with pytest.raises(InvalidInputError) as ei:
        run.log_model(str(f))
    assert "name=" in ei.value.hint and "' '" in ei.value.message
    assert _refs(project) == []
    assert run.log_model(str(f), name="final").version == "v0"


def test_latest_always_and_aliases_move(project):
    run = mvc.init()
    f = project / "m.bin"
    v0 = run.log_model(str(_write(f, b"a")), name="M", aliases=["best", "prod"])
    assert v0.aliases == ["best", "latest", "prod"]
    v1 = run.log_model(str(_write(f, b"b")), name="M", aliases=["best"])
    assert v1.version == "v1" and v1.aliases == ["best", "latest"]
    api = mvc.Api()
    assert api.artifact("M:v0").aliases == ["prod"]  # best moved off v0, prod stayed
    assert api.artifact("M:best").version == "v1"
    assert api.artifact("M").version == "v1"


def test_dedup_against_any_earlier_version(project):
    f = project / "m.bin"
    with mvc.init() as r1:
        a = r1.log_model(str(_write(f, b"content A")), name="M")
        b = r1.log_model(str(_write(f, b"content B")), name="M", aliases=["best"])
    assert (a.version, b.version) == ("v0", "v1")
    chunks = _chunks(project)
    with mvc.init() as r2:
        again = r2.log_model(str(_write(f, b"content A")), name="M", aliases=["best", "prod"])
    assert again.version == "v0" and again.digest == a.digest
    assert again.aliases == ["best", "latest", "prod"]
    api = mvc.Api()
    assert [v.version for v in api.artifacts("M")] == ["v0", "v1"]
    assert api.artifact("M:v1").aliases == []
    assert _chunks(project) == chunks
    assert [r.id for r in api.artifact("M:v0").loggers()] == [r1.id, r2.id]
    assert api.artifact("M:v0").logged_by().id == r1.id
    outs = api.run(r2.id).outputs
    assert outs[0]["version"] == "v0" and outs[0]["created"] is False
    # the next new content still takes the next number, not a reused one
    with mvc.init() as r3:
        assert r3.log_model(str(_write(f, b"content C")), name="M").version == "v2"


def test_type_rule(project, model_file):
    run = mvc.init()
    run.log_model(str(model_file), name="M")
    tip = _refs(project)
    d = _write(project / "data.csv", b"1,2\n")
    with pytest.raises(ConflictError) as ei:
        run.log_artifact(str(d), name="M", type="dataset")
    assert "'model'" in ei.value.message and "'dataset'" in ei.value.message and ei.value.hint
    assert [v.version for v in mvc.Api().artifacts("M")] == ["v0"] and _refs(project) == tip


@pytest.mark.parametrize("meta,err", [
    ([1, 2], "must be a JSON object"),
    ({f"k{i}": i for i in range(101)}, "101 top-level keys"),
    ({"loss": float("inf")}, "infinite"),
    ({"nested": {"x": float("-inf")}}, "infinite"),
    ('{"bad json', "not valid JSON"),
    ({"obj": object()}, "not JSON"),
])
def test_metadata_refused_leaves_nothing(project, model_file, meta, err):
    run = mvc.init()
    chunks = _chunks(project)
    with pytest.raises(InvalidInputError, match=err) as ei:
        run.log_model(str(model_file), name="M", metadata=meta)
    assert ei.value.hint
    assert _refs(project) == [] and _chunks(project) == chunks
    with pytest.raises(mvc.NotFoundError):
        mvc.Api().artifact("M")


def test_metadata_accepted_and_nan_becomes_null(project, model_file):
    run = mvc.init()
    meta = {f"k{i}": i for i in range(99)}
    meta["acc"] = float("nan")
    a = run.log_model(str(model_file), name="M", metadata=meta, description="first")
    got = mvc.Api().artifact("M:v0")
    assert got.metadata["acc"] is None and got.metadata["k5"] == 5 and len(got.metadata) == 100
    assert got.description == "first" and a.metadata == got.metadata
    a2 = run.log_model(str(model_file), name="M2", metadata='{"lr": 0.001}')
    assert a2.metadata == {"lr": 0.001}


def test_bad_alias_leaves_nothing(project, model_file):
    run = mvc.init()
    for bad in (["v3"], ["ok", "bad alias"]):  # ["latest"] is accepted: a log moves latest anyway (W&B's habit)
        with pytest.raises(InvalidNameError):
            run.log_model(str(model_file), name="M", aliases=bad)
    assert _refs(project) == []


def test_directory_recursive(project, model_dir):
    run = mvc.init()
    a = run.log_model(str(model_dir), name="D")
    files = {f.path: f for f in a.files()}
    assert sorted(files) == ["config.json", "tokenizer/vocab.txt", "weights.bin"]
    assert files["weights.bin"].size == 70_000 and files["weights.bin"].digest.startswith("blake3:")
    assert a.size == sum(f.size for f in files.values()) and a.file_count == 3


def test_symlinks_inside_and_outside_are_followed(project, model_dir):
    os.symlink("weights.bin", model_dir / "alias.bin")
    os.symlink("tokenizer", model_dir / "tok2")
    run = mvc.init()
    a = run.log_model(str(model_dir), name="D")
    files = {f.path: f for f in a.files()}
    assert files["alias.bin"].digest == files["weights.bin"].digest
    assert "tok2/vocab.txt" in files
    outside = _write(project / "secret.txt", b"secret")
    os.symlink(outside, model_dir / "escape.txt")  # the user's own file: followed (issue 11; a HF cache is all links)
    b = run.log_model(str(model_dir), name="D")
    assert b.version == "v1" and {f.path: f.size for f in b.files()}["escape.txt"] == len(b"secret")


def test_missing_path(project):
    run = mvc.init()
    with pytest.raises(InvalidInputError, match="does not exist"):
        run.log_model(str(project / "nope.bin"), name="M")


def test_file_reference(project, tmp_path):
    src = _write(tmp_path / "bucket" / "big.bin", b"referenced bytes")
    run = mvc.init()
    chunks = _chunks(project)
    a = run.log_model("file://" + str(src), name="R")
    (fi,) = a.files()
    assert fi.reference == "file://" + str(src) and fi.size == 16 and fi.digest.startswith("blake3:")
    assert _chunks(project) == chunks  # a reference stores no bytes
    path = run.use_model("R", root=str(project / "out1"))
    assert open(path, "rb").read() == b"referenced bytes"
    src.write_bytes(b"changed bytes!!!")
    with pytest.raises(IntegrityError) as ei:
        run.use_model("R", root=str(project / "out2"))
    assert "changed" in ei.value.message and "verify=False" in ei.value.hint
    assert not (project / "out2").exists()
    with pytest.raises(IntegrityError):
        mvc.Api().artifact("R").verify()
    path = run.use_model("R", root=str(project / "out3"), verify=False)
    assert open(path, "rb").read() == b"changed bytes!!!"


def test_unsupported_reference_scheme(project):
    run = mvc.init()
    with pytest.raises(InvalidInputError, match="gs://"):  # s3:// and https:// are supported (test_references.py)
        run.log_model("gs://bucket/model.bin", name="S")


def test_log_artifact_other_types(project, model_dir):
    run = mvc.init()
    ds = run.log_artifact(str(model_dir), name="train-data", type="dataset", tags=["raw"], aliases=["v-one"])
    pr = run.log_artifact(str(model_dir / "config.json"), name="prompt", type="prompt")
    assert (ds.type, pr.type) == ("dataset", "prompt")
    assert ds.tags == ["raw"] and ds.aliases == ["latest", "v-one"]
    api = mvc.Api()
    assert api.artifact_names(type="dataset") == ["train-data"]
    assert sorted(api.artifact_names()) == ["prompt", "train-data"]
    with pytest.raises(InvalidNameError):
        run.log_artifact(str(model_dir), name="x", type="bad type")


def _commits(project) -> int:
    import pygit2
    repo = pygit2.Repository(str(project / ".mvc"))
    ref = next(r for r in repo.references if "/artifacts/" in r and r.endswith("/%4d"))  # M, encoded
    return sum(1 for _ in repo.walk(repo.references[ref].target))


def test_relog_with_metadata_updates_that_version(project):
    """W&B: logging the same content again with metadata updates that version's metadata,
    description and tags, in one artifact commit; aliases unchanged."""
    f = _write(project / "m.bin", b"same")
    run = mvc.init()
    run.log_model(str(f), name="M", metadata={"acc": 0.5}, description="first")
    n = _commits(project)
    again = run.log_artifact(str(f), name="M", type="model", metadata={"acc": 0.9}, description="tuned",
                             tags=["prod-ready"])
    assert again.version == "v0" and run.last_log.outcome == "metadata" and run.last_log.committed
    assert _commits(project) == n + 1
    a = mvc.Api().artifact("M:v0")
    assert a.metadata == {"acc": 0.9} and a.description == "tuned"
    assert a._info.record["tags"] == ["prod-ready"]
    assert [x.version for x in mvc.Api().artifacts("M")] == ["v0"]


def test_relog_without_metadata_keeps_it_and_is_a_no_op(project):
    f = _write(project / "m.bin", b"same")
    run = mvc.init()
    run.log_model(str(f), name="M", metadata={"acc": 0.5}, description="first")
    n = _commits(project)
    run.log_model(str(f), name="M")  # no metadata given: nothing to change
    assert run.last_log.outcome == "nothing" and not run.last_log.committed
    run.log_model(str(f), name="M", metadata={"acc": 0.5})  # the same metadata: nothing changes either
    assert run.last_log.outcome == "nothing"
    assert _commits(project) == n
    a = mvc.Api().artifact("M:v0")
    assert a.metadata == {"acc": 0.5} and a.description == "first"


def test_relog_moving_aliases_and_metadata_reports_both(project):
    f, g = project / "m.bin", project / "n.bin"
    run = mvc.init()
    run.log_model(str(_write(f, b"a")), name="M")
    run.log_model(str(_write(g, b"b")), name="M")
    run.log_model(str(f), name="M", aliases=["best"])
    assert run.last_log.outcome == "aliases"
    run.log_model(str(f), name="M", metadata={"acc": 1})
    assert run.last_log.outcome == "metadata"
    run.log_model(str(g), name="M", aliases=["best"], metadata={"acc": 2})
    assert run.last_log.outcome == "aliases+metadata" and not run.last_log.created
    api = mvc.Api()
    assert api.artifact("M:best").version == "v1" and api.artifact("M:v1").metadata == {"acc": 2}
    assert api.artifact("M:v0").metadata == {"acc": 1}
