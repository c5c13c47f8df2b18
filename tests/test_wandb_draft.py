"""W&B's draft artifact (issue 11, section 1): mvc.Artifact(name, type, ...) filled with add_file,
add_dir, add_reference and new_file, logged with run.log_artifact as one version."""
from __future__ import annotations

import os

import pytest

import mvc
from mvc.errors import ConflictError, InvalidInputError, NotFoundError, UsageError
from s3_server import s3_bucket, s3_env, s3_server  # noqa: F401  (pytest fixtures: moto's server on 127.0.0.1)


pytestmark = pytest.mark.usefixtures("no_live_runs")


def _write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _refs(project) -> dict:
    """Every ref of the store and its target: a refused log must leave them as they were."""
    import pygit2
    repo = pygit2.Repository(str(project / ".mvc"))
    return {r: str(repo.references[r].target) for r in repo.references if r.startswith("refs/mvc/")}


def test_draft_logs_one_version_with_every_kind_of_entry(project):
    weights = _write(project / "w.bin", os.urandom(5000))
    _write(project / "data" / "a.txt", b"a")
    _write(project / "data" / "sub" / "b.txt", b"b")
    ref = _write(project / "outside" / "ref.bin", b"referenced bytes")
    run = mvc.init()
    art = mvc.Artifact("bundle", type="dataset", description="a bundle", metadata={"rows": 3})
    entry = art.add_file(str(weights), name="weights/w.bin")
    assert entry.path == "weights/w.bin" and entry.size == 5000 and entry.digest is None
    art.add_dir(str(project / "data"), name="data")
    art.add_reference(f"file://{ref}", name="ref.bin")
    with art.new_file("notes.txt", mode="w") as f:
        f.write("hello")
    assert art.is_draft() and art.state == "PENDING" and art.file_count == 5
    assert sorted(art.manifest.entries) == ["data/a.txt", "data/sub/b.txt", "notes.txt", "ref.bin", "weights/w.bin"]

    out = run.log_artifact(art, aliases=["best"])
    assert out is art  # W&B: the draft object becomes the logged version
    assert not art.is_draft() and art.state == "COMMITTED"
    assert (art.name, art.version, art.type) == ("bundle", "v0", "dataset")
    assert art.aliases == ["best", "latest"] and art.metadata == {"rows": 3} and art.description == "a bundle"
    files = {f.path: f for f in art.files()}
    assert sorted(files) == sorted(art.manifest.entries)
    assert files["ref.bin"].reference == f"file://{ref}"
    folder = mvc.Api().artifact("bundle:best").download(root=str(project / "out"))
    assert (project / "out" / "weights" / "w.bin").read_bytes() == weights.read_bytes()
    assert (project / "out" / "notes.txt").read_text() == "hello"
    assert (project / "out" / "data" / "sub" / "b.txt").read_bytes() == b"b"
    assert folder == str(project / "out")
    run.finish()
    assert [o["version"] for o in mvc.Api().run(run.id).outputs] == ["v0"]


def test_draft_same_content_dedups_and_moves_aliases(project):
    f = _write(project / "m.bin", os.urandom(3000))
    with mvc.init() as run:
        a = mvc.Artifact("m", "model")
        a.add_file(str(f))
        run.log_artifact(a)
        b = mvc.Artifact("m", "model")
        b.add_file(str(f))
        run.log_artifact(b, aliases=["prod"])
    assert a.version == b.version == "v0"
    assert mvc.Api().artifact("m:prod").version == "v0"
    # the same content logged by path dedups against the draft's version too
    with mvc.init() as run:
        assert run.log_model(str(f), name="m").version == "v0"


def test_draft_paths_match_a_path_log(project):
    """add_dir at the root logs the same digest as `log FOLDER` of that folder."""
    _write(project / "d" / "x.bin", os.urandom(100))
    _write(project / "d" / "y" / "z.bin", os.urandom(100))
    with mvc.init() as run:
        by_path = run.log_artifact(str(project / "d"), name="by-path", type="model")
        draft = mvc.Artifact("by-draft", "model")
        draft.add_dir(str(project / "d"))
        run.log_artifact(draft)
    assert draft.digest == by_path.digest


def test_draft_before_logging_says_what_needs_a_version(project):
    art = mvc.Artifact("m", "model")
    for what in (lambda: art.version, lambda: art.digest, lambda: art.size, art.files, art.download, art.wait,
                 art.logged_by, art.used_by, art.links, lambda: art.link("registry/M"), art.delete, art.verify):
        with pytest.raises(UsageError) as ei:
            what()
        assert "draft" in ei.value.message and "log_artifact" in ei.value.hint
    assert art.source_name == "m" and art.project is None and art.ttl is None
    assert "draft" in repr(art)


def test_logged_artifact_refuses_changes_to_its_files(project, model_file):
    with mvc.init() as run:
        art = run.log_model(str(model_file), name="m")
    with pytest.raises(UsageError) as ei:
        art.add_file(str(model_file))
    assert "new_draft" in ei.value.hint
    with pytest.raises(UsageError):
        with art.new_file("x.txt") as f:
            f.write("x")


def test_new_draft_keeps_files_and_logs_a_new_version(project):
    a = _write(project / "a.bin", os.urandom(2000))
    b = _write(project / "b.bin", os.urandom(2000))
    with mvc.init() as run:
        v0 = run.log_artifact(str(a), name="m", type="model")
    draft = mvc.Api().artifact("m:v0").new_draft()
    assert draft.is_draft() and list(draft.manifest.entries) == ["a.bin"]
    draft.add_file(str(b))
    with mvc.init() as run:
        run.log_artifact(draft)
    assert draft.version == "v1" and sorted(f.path for f in draft.files()) == ["a.bin", "b.bin"]
    assert v0.files()[0].digest == {f.path: f for f in draft.files()}["a.bin"].digest


def test_mutable_file_changed_after_add_is_refused_and_nothing_logged(project):
    f = _write(project / "m.bin", b"first version")
    run = mvc.init()
    art = mvc.Artifact("m", "model")
    art.add_file(str(f))
    before = _refs(project)
    f.write_bytes(b"second version, longer")
    with pytest.raises(InvalidInputError) as ei:
        run.log_artifact(art)
    assert "changed after it was added" in ei.value.message and "policy='immutable'" in ei.value.hint
    assert _refs(project) == before and art.is_draft()
    art.add_file(str(f), overwrite=True)  # adding again takes the new bytes
    run.log_artifact(art)
    assert mvc.Api().artifact("m:v0").file(root=str(project / "o")).endswith("m.bin")
    assert (project / "o" / "m.bin").read_bytes() == b"second version, longer"


def test_immutable_policy_reads_bytes_at_log_time(project):
    f = _write(project / "m.bin", b"one")
    with mvc.init() as run:
        art = mvc.Artifact("m", "model")
        art.add_file(str(f), policy="immutable")
        f.write_bytes(b"two!")
        run.log_artifact(art)
    assert art.size == 4
    with pytest.raises(InvalidInputError):
        mvc.Artifact("x", "model").add_file(str(f), policy="sometimes")


def test_bad_draft_input_is_refused_with_hints(project, model_file):
    art = mvc.Artifact("m", "model")
    with pytest.raises(InvalidInputError):
        art.add_file(str(project / "missing.bin"))
    with pytest.raises(InvalidInputError):
        art.add_file(str(model_file), name="../escape.bin")
    with pytest.raises(InvalidInputError):
        art.add_file(str(model_file), name=".git/config")
    art.add_file(str(model_file), name="m.bin")
    with pytest.raises(InvalidInputError) as ei:
        art.add_file(str(model_file), name="m.bin")
    assert "overwrite=True" in ei.value.hint
    with pytest.raises(InvalidInputError):
        art.add_reference(str(model_file))  # a path, not a URI
    with pytest.raises(InvalidInputError):
        art.add_dir(str(model_file))
    with pytest.raises(mvc.InvalidNameError):
        mvc.Artifact("bad name", "model")
    with pytest.raises(InvalidInputError):
        mvc.Artifact("m", "model", metadata={"x": float("inf")})
    with pytest.raises(UsageError):
        mvc.Artifact("m", "model", incremental=True)
    with pytest.raises(InvalidInputError) as ei:
        with mvc.init() as run:
            run.log_artifact(mvc.Artifact("empty", "model"))
    assert "holds no files" in ei.value.message
    assert mvc.Api().artifact_exists("empty") is False


def test_case_clash_between_entries_is_refused_before_any_write(project):
    a = _write(project / "a.bin", b"a")
    run = mvc.init()
    art = mvc.Artifact("m", "model")
    art.add_file(str(a), name="Model.bin")
    art.add_file(str(a), name="model.bin")
    before = _refs(project)
    with pytest.raises(InvalidInputError) as ei:
        run.log_artifact(art)
    assert "case" in ei.value.message or "case" in ei.value.hint
    assert _refs(project) == before


def test_new_file_is_added_only_when_the_block_succeeds(project):
    art = mvc.Artifact("m", "model")
    with pytest.raises(RuntimeError):
        with art.new_file("broken.txt", mode="w") as f:
            f.write("half")
            raise RuntimeError("boom")
    assert "broken.txt" not in art.manifest.entries
    with art.new_file("cfg/params.json", mode="w", encoding="utf-8") as f:
        f.write('{"lr": 0.1}')
    with pytest.raises(InvalidInputError):
        with art.new_file("cfg/params.json", mode="w"):
            pass
    with pytest.raises(InvalidInputError):
        with art.new_file("r.txt", mode="r"):
            pass
    staging = os.path.dirname(os.path.dirname(art.manifest.entries["cfg/params.json"].local_path))
    with mvc.init() as run:
        run.log_artifact(art)
    assert not os.path.exists(staging)  # the staging folder goes once the draft is logged
    got = art.get_entry("cfg/params.json").download(root=str(project / "o"))
    assert open(got).read() == '{"lr": 0.1}'


def test_remove_takes_files_and_folders_back_out(project):
    _write(project / "d" / "a.txt", b"a")
    _write(project / "d" / "sub" / "b.txt", b"b")
    art = mvc.Artifact("m", "dataset")
    art.add_dir(str(project / "d"))
    art.remove("sub")
    assert list(art.manifest.entries) == ["a.txt"]
    with pytest.raises(FileNotFoundError):  # W&B's exception, and mvc's NotFoundError
        art.remove("nothing")
    with pytest.raises(NotFoundError):
        art.remove("nothing")
    assert art.get_added_local_path_name(str(project / "d" / "a.txt")) == "a.txt"


def test_add_dir_merge_rules(project):
    _write(project / "d" / "a.txt", b"a")
    art = mvc.Artifact("m", "dataset")
    art.add_dir(str(project / "d"))
    with pytest.raises(InvalidInputError) as ei:
        art.add_dir(str(project / "d"))
    assert "merge=True" in ei.value.hint
    art.add_dir(str(project / "d"), merge=True)
    assert list(art.manifest.entries) == ["a.txt"]


def test_reference_folder_and_name_placement(project):
    _write(project / "refs" / "x.bin", b"x")
    _write(project / "refs" / "y" / "z.bin", b"z")
    single = _write(project / "one.bin", b"one")
    art = mvc.Artifact("r", "dataset")
    art.add_reference(f"file://{project / 'refs'}", name="ext")
    art.add_reference(f"file://{single}")
    with mvc.init() as run:
        run.log_artifact(art)
    files = {f.path: f.reference for f in art.files()}
    assert files == {"ext/x.bin": f"file://{project / 'refs' / 'x.bin'}",
                     "ext/y/z.bin": f"file://{project / 'refs' / 'y' / 'z.bin'}",
                     "one.bin": f"file://{single}"}
    assert art.get_entry("one.bin").ref_target() == f"file://{single}"
    too_many = mvc.Artifact("r2", "dataset")
    too_many.add_reference(f"file://{project / 'refs'}", max_objects=1)
    with pytest.raises(InvalidInputError) as ei:
        with mvc.init() as run:
            run.log_artifact(too_many)
    assert "max_objects" in ei.value.message


def test_s3_references_in_a_draft(project, s3_bucket):  # noqa: F811
    """A draft's s3:// references go through the same reference code as `log s3://...`: against
    moto's standalone S3 server, an object and a prefix are recorded, fetched and checked at use."""
    import boto3
    s3 = boto3.client("s3")
    s3.put_object(Bucket=s3_bucket, Key="models/model.bin", Body=b"weights v1")
    for key, body in {"data/train/a.bin": b"A" * 10, "data/train/sub/b.bin": b"B" * 3}.items():
        s3.put_object(Bucket=s3_bucket, Key=key, Body=body)
    local = _write(project / "config.json", b'{"lr": 0.1}')
    art = mvc.Artifact("mixed", "model")
    art.add_reference(f"s3://{s3_bucket}/models/model.bin", name="weights/model.bin")
    art.add_reference(f"s3://{s3_bucket}/data/train/", name="train")
    art.add_file(str(local))
    with mvc.init() as run:
        run.log_artifact(art)
        refs = {f.path: f.reference for f in art.files()}
        assert refs == {"config.json": None, "weights/model.bin": f"s3://{s3_bucket}/models/model.bin",
                        "train/a.bin": f"s3://{s3_bucket}/data/train/a.bin",
                        "train/sub/b.bin": f"s3://{s3_bucket}/data/train/sub/b.bin"}
        folder = run.use_model("mixed", root=str(project / "out"))
    assert (project / "out" / "weights" / "model.bin").read_bytes() == b"weights v1"
    assert (project / "out" / "train" / "sub" / "b.bin").read_bytes() == b"BBB"
    assert folder == str(project / "out")
    s3.put_object(Bucket=s3_bucket, Key="models/model.bin", Body=b"weights v2")  # changed at the source
    with pytest.raises(mvc.IntegrityError):
        mvc.Api().artifact("mixed").verify()
    capped = mvc.Artifact("capped", "dataset")
    capped.add_reference(f"s3://{s3_bucket}/data/train/", max_objects=1)
    with pytest.raises(InvalidInputError):
        with mvc.init() as run:
            run.log_artifact(capped)
    assert not mvc.Api().artifact_exists("capped")


def test_type_clash_is_a_conflict(project, model_file):
    with mvc.init() as run:
        run.log_model(str(model_file), name="m")
        art = mvc.Artifact("m", "dataset")
        art.add_file(str(model_file))
        with pytest.raises(ConflictError):
            run.log_artifact(art)
        assert art.is_draft()


def test_draft_save_logs_with_the_active_run_or_an_auto_run(project, model_file):
    art = mvc.Artifact("saved", "model")
    art.add_file(str(model_file))
    art.save()  # no run: W&B makes one of job type "auto"
    assert art.version == "v0"
    (rec,) = mvc.Api().runs()
    assert rec.job_type == "auto" and rec.state == "finished"
    with mvc.init() as run:
        second = mvc.Artifact("saved", "model", metadata={"v": 2})
        second.add_file(str(model_file))
        second.save()
    assert [o["name"] for o in mvc.Api().run(run.id).outputs] == ["saved"]


def test_use_artifact_refuses_a_draft(project, model_file):
    art = mvc.Artifact("m", "model")
    art.add_file(str(model_file))
    with mvc.init() as run:
        with pytest.raises(UsageError):
            run.use_artifact(art)


def test_immutable_file_gone_before_logging_is_refused_and_nothing_logged(project):
    f = _write(project / "gone.bin", b"bytes")
    run = mvc.init()
    art = mvc.Artifact("m", "model")
    art.add_file(str(f), policy="immutable")
    before = _refs(project)
    f.unlink()
    with pytest.raises(InvalidInputError) as ei:
        run.log_artifact(art)
    assert "gone.bin" in ei.value.message and "add it again" in ei.value.hint
    assert _refs(project) == before and art.is_draft()


def test_concurrent_draft_logs_each_get_their_own_version(project):
    """Real processes logging drafts of one name at once: every log returns its own version,
    numbers contiguous, none lost (the draft goes through log's compare-and-swap)."""
    import subprocess
    import sys
    import textwrap
    code = textwrap.dedent("""
        import os, sys, mvc
        n = int(sys.argv[1])
        with mvc.init() as run:
            for i in range(4):
                art = mvc.Artifact("shared", "model")
                with art.new_file("weights.bin", mode="wb") as f:
                    f.write(os.urandom(2000))
                art.add_file(sys.argv[2], name="config.txt")
                run.log_artifact(art)
                print(art.version, flush=True)
    """)
    cfg = _write(project / "config.txt", b"shared config")
    from mvc.repo import Repository
    Repository.find(str(project))  # the store first: its creation is not what this test races
    env = dict(os.environ, MVC_SERVER="0")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n), str(cfg)], cwd=str(project), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(4)]
    got = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        got += out.split()
    assert sorted(got, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(16)]
    versions = mvc.Api().artifacts("model", "shared")
    assert [a.version for a in versions] == [f"v{i}" for i in range(16)]
    for a in versions[:3]:
        a.verify()


def test_latest_among_logged_aliases_is_accepted_as_wandb_code_passes_it(project, model_file):
    """run.log_artifact(artifact, aliases=["latest", "step-3"]) is common W&B code: the log moves
    latest to its version anyway, so it is taken; setting latest by hand elsewhere stays refused."""
    other = _write(project / "other.bin", os.urandom(100))
    with mvc.init() as run:
        first = run.log_model(str(model_file), name="m", aliases=["latest", "step-1"])
        art = mvc.Artifact("m", "model")
        art.add_file(str(other))
        run.log_artifact(art, aliases=["latest", "step-2"])
    assert first.aliases == ["latest", "step-1"] and art.aliases == ["latest", "step-2"]
    assert mvc.Api().artifact("m:latest").version == "v1"
    with pytest.raises(mvc.InvalidNameError):
        mvc.Api().set_alias("m:v0", "latest")
    with pytest.raises(mvc.InvalidNameError):
        mvc.Api().artifact("m:v0").link("registry/R", aliases=["latest"])
