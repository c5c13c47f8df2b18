"""The `mvc` command line through click's CliRunner: every command's happy path,
--json fields, exit codes, and the error boundary (no traceback for user errors)."""
from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from mvc.cli import cli


def mvc(*args, ok=True):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert res.exit_code == 0, (res.output, res.stderr, res.exception)
    return res


@pytest.fixture
def logged(project, model_file):
    """MNIST:v0 (alias best) and MNIST:v1 (tag exp)."""
    mvc("log", model_file, "--name", "MNIST", "--alias", "best")
    other = project / "model2.bin"
    other.write_bytes(os.urandom(3000))
    mvc("log", other, "--name", "MNIST", "--metadata", '{"acc": 0.9}', "--tag", "exp", "--description", "second")
    return project


def test_help_lists_every_command(project):
    out = mvc("--help").output
    for name in ("init", "status", "log", "use", "link", "ls", "show", "alias", "registry", "runs", "lineage",
                 "delete", "restore", "demo"):
        assert f"\n  {name} " in out, name
    assert "_demo" not in out


def test_init_creates_store_and_is_idempotent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = mvc("init").output
    assert out == f"Initialized empty mvc store in {tmp_path / '.mvc'}{os.sep}\n"
    assert (tmp_path / ".mvc" / "mvc-format.json").is_file()
    assert mvc("init").output.startswith("Reinitialized existing mvc store in")


def test_init_with_dir(tmp_path):
    target = tmp_path / "elsewhere"
    out = mvc("-C", target, "init").output
    assert str(target / ".mvc") in out
    assert (target / ".mvc" / "mvc-format.json").is_file()


def test_log_prints_address_and_dedups(project, model_file):
    out = mvc("log", model_file, "--name", "MNIST", "--alias", "best").output
    assert out.startswith("proj/MNIST:v0  (new version; 1 file,")
    assert "aliases: best, latest" in out
    again = mvc("log", model_file, "--name", "MNIST").output
    assert again.startswith("proj/MNIST:v0  (same content as v0: nothing changed; 1 file,")


def test_log_says_what_a_relog_changed(project, model_file):
    other = project / "other.bin"
    other.write_bytes(b"other weights")
    mvc("log", model_file, "--name", "M")
    mvc("log", other, "--name", "M")
    out = mvc("log", model_file, "--name", "M").output
    assert out.startswith("proj/M:v0  (same content as v0: aliases moved;")
    out = mvc("log", model_file, "--name", "M", "--metadata", '{"acc": 0.9}').output
    assert out.startswith("proj/M:v0  (same content as v0: metadata updated;")
    out = mvc("log", model_file, "--name", "M", "--metadata", '{"acc": 0.9}').output
    assert out.startswith("proj/M:v0  (same content as v0: nothing changed;")
    res = json.loads(mvc("log", other, "--name", "M", "--description", "d", "--json").output)
    assert res["outcome"] == "aliases+metadata" and res["created"] is False
    out = mvc("show", "M:v1", "--json").output
    assert json.loads(out)["description"] == "d"


def test_log_json_and_run_recorded(project, model_dir):
    d = json.loads(mvc("log", model_dir, "--name", "net", "--type", "dataset", "--json").output)
    assert {"address", "name", "project", "version", "type", "created", "digest", "size", "files", "aliases",
            "run"} <= set(d)
    assert (d["address"], d["type"], d["created"], d["files"]) == ("proj/net:v0", "dataset", True, 3)
    run = json.loads(mvc("runs", "show", d["run"], "--json").output)
    assert run["job_type"] == "cli" and run["state"] == "finished"
    assert run["outputs"][0]["address"] == "proj/net:v0"


def test_use_prints_path_and_records_input(logged):
    out = mvc("use", "MNIST:best", "-o", logged / "dl").output.strip()
    assert out == str(logged / "dl" / "model.bin")
    assert (logged / "dl" / "model.bin").read_bytes() == (logged / "model.bin").read_bytes()
    shown = json.loads(mvc("show", "MNIST:v0", "--json").output)
    assert len(shown["used_by"]) == 1 and shown["used_by"][0]["job_type"] == "cli"


def test_use_include_filters(project, model_dir):
    mvc("log", model_dir, "--name", "net")
    out = mvc("use", "net", "-o", project / "dl", "--include", "*.json").output.strip()
    assert out == str(project / "dl" / "config.json")
    assert sorted(os.listdir(project / "dl")) == ["config.json"]


def test_link_existing_address_and_path(logged, model_dir):
    out = mvc("link", "MNIST:v1", "--to", "prod", "--alias", "staging").output
    assert out.startswith("registry/prod:v0 -> proj/MNIST:v1")
    d = json.loads(mvc("link", model_dir, "--to", "prod", "--name", "net", "--json").output)
    assert (d["address"], d["source"]) == ("registry/prod:v1", "proj/net:v0")
    assert d["run"]  # a path is logged (and linked) in a cli run


def test_ls_artifacts_and_versions(logged):
    out = mvc("ls").output
    assert out.splitlines()[0].split() == ["name", "type", "versions", "latest", "aliases", "size"]
    assert out.splitlines()[1].split()[:5] == ["MNIST", "model", "2", "v1", "best:v0"]
    rows = json.loads(mvc("ls", "--json").output)
    assert rows[0]["name"] == "MNIST" and rows[0]["versions"] == 2
    assert rows[0]["aliases"] == {"best": "v0", "latest": "v1"}
    assert {"name", "project", "type", "versions", "latest", "aliases", "size", "total_size"} <= set(rows[0])
    vs = json.loads(mvc("ls", "MNIST", "--json").output)
    assert [v["version"] for v in vs] == ["v0", "v1"]
    assert {"version", "aliases", "size", "files", "created_at", "digest", "logged_by", "tags"} <= set(vs[0])
    text = mvc("ls", "MNIST").output
    assert "v0" in text and vs[0]["digest"][:12] in text


def test_ls_filters(logged):
    assert [v["version"] for v in json.loads(mvc("ls", "MNIST", "--alias", "best", "--json").output)] == ["v0"]
    assert [v["version"] for v in json.loads(mvc("ls", "MNIST", "--tag", "exp", "--json").output)] == ["v1"]
    assert json.loads(mvc("ls", "MNIST", "--since", "2999-01-01", "--json").output) == []
    assert len(json.loads(mvc("ls", "MNIST", "--since", "1h", "--json").output)) == 2
    assert json.loads(mvc("ls", "--type", "dataset", "--json").output) == []
    assert mvc("ls", "MNIST", "--since", "yesterday", ok=False).exit_code == 2


def test_show_text_and_json(logged):
    mvc("link", "MNIST:v1", "--to", "prod")
    out = mvc("show", "MNIST:latest").output
    assert out.startswith("proj/MNIST:v1\n")
    assert "acc: 0.9" in out and "second" in out and "registry/prod:v0" in out and "model2.bin" in out
    d = json.loads(mvc("show", "registry/prod", "--json").output)
    for key in ("address", "version", "type", "digest", "size", "files", "metadata", "description", "aliases",
                "logged_by", "used_by", "links", "created_at", "via_link"):
        assert key in d, key
    assert d["address"] == "proj/MNIST:v1" and d["via_link"] == "registry/prod:v0"
    assert d["files"][0]["path"] == "model2.bin" and d["files"][0]["size"] == 3000
    assert d["logged_by"][0]["job_type"] == "cli"


def test_alias_set_rm_history(logged):
    assert mvc("alias", "set", "MNIST:v1", "production").output.strip() == "production: - -> proj/MNIST:v1"
    assert mvc("alias", "set", "MNIST:v0", "production").output.strip() == "production: v1 -> proj/MNIST:v0"
    hist = json.loads(mvc("alias", "history", "MNIST", "--json").output)
    moves = [(h["alias"], h["from"], h["to"]) for h in hist if h["alias"] == "production"]
    assert moves == [("production", "v1", "v0"), ("production", None, "v1")]
    assert {"alias", "from", "to", "who", "when", "op", "commit"} <= set(hist[0])
    assert hist[0]["who"] == "tester"
    assert "production" in mvc("alias", "history", "MNIST").output
    assert "removed production (was v0)" in mvc("alias", "rm", "MNIST", "production").output
    assert "production" not in json.loads(mvc("show", "MNIST:v0", "--json").output)["aliases"]


def test_alias_set_refuses_bare_name_and_latest(logged):
    res = mvc("alias", "set", "MNIST", "prod", ok=False)
    assert res.exit_code == 2 and "does not name a version" in res.stderr
    res = mvc("alias", "set", "MNIST:v0", "latest", ok=False)
    assert res.exit_code == 2 and "latest" in res.stderr


def test_registry_commands(logged):
    mvc("link", "MNIST:v0", "--to", "prod")
    mvc("link", "MNIST:v1", "--to", "prod")
    assert mvc("registry", "alias", "prod:v0", "production").output.strip() == "production: - -> registry/prod:v0"
    rows = json.loads(mvc("registry", "ls", "--json").output)
    assert rows == [{"name": "prod", "links": 2, "aliases": {"latest": "v1", "production": "v0"},
                     "latest": "proj/MNIST:v1", "description": "", "created_at": rows[0]["created_at"]}]
    d = json.loads(mvc("registry", "show", "prod", "--json").output)
    assert [(li["version"], li["source"]) for li in d["links"]] == [("v0", "proj/MNIST:v0"), ("v1", "proj/MNIST:v1")]
    assert "proj/MNIST:v0" in mvc("registry", "show", "registry/prod").output
    hist = json.loads(mvc("alias", "history", "registry/prod", "--json").output)
    assert ("production", None, "v0") in [(h["alias"], h["from"], h["to"]) for h in hist]
    mvc("registry", "alias", "--rm", "prod", "production")
    assert mvc("registry", "unlink", "prod:v0").output.strip() == "unlinked registry/prod:v0"
    d = json.loads(mvc("registry", "show", "prod", "--json").output)
    assert [li["version"] for li in d["links"]] == ["v1"] and "production" not in d["aliases"]
    assert mvc("show", "MNIST:v0", "--json").exit_code == 0  # unlinking never deletes the version


def test_runs_ls_and_show(logged):
    rows = json.loads(mvc("runs", "ls", "--all", "--json").output)
    assert len(rows) == 2 and all(r["job_type"] == "cli" and r["state"] == "finished" for r in rows)
    assert {"id", "name", "project", "job_type", "state", "started_at", "ended_at", "inputs", "outputs"} <= set(rows[0])
    assert rows[0]["outputs"] == ["proj/MNIST:v0"]
    out = mvc("runs", "show", rows[0]["id"]).output
    assert f"({rows[0]['id']})" in out and "logged  proj/MNIST:v0" in out
    assert rows[0]["id"] in mvc("runs", "ls", "--all").output


def test_lineage_formats(logged):
    mvc("use", "MNIST:v0", "-o", logged / "dl")
    text = mvc("lineage", "MNIST:v0").output
    assert "upstream" in text and "downstream" in text
    g = json.loads(mvc("lineage", "MNIST:v0", "--format", "json").output)
    assert g["root"] == "artifact:proj/MNIST:v0" and {e["kind"] for e in g["edges"]} == {"input", "output"}
    up = json.loads(mvc("lineage", "MNIST:v0", "-f", "json", "--direction", "up").output)
    assert {e["kind"] for e in up["edges"]} == {"output"}
    assert mvc("lineage", "MNIST:v0", "--format", "dot").output.startswith("digraph lineage {")
    assert mvc("lineage", "MNIST:v0", "--format", "mermaid").output.startswith("graph LR")
    producer = [n["id"] for n in g["nodes"] if n["kind"] == "run"][0]
    assert "proj/MNIST:v0" in mvc("lineage", producer, "--depth", "1").output


def test_delete_and_restore(logged):
    res = mvc("delete", "MNIST:v0", ok=False)
    assert res.exit_code == 4 and "best" in res.stderr and "Traceback" not in res.stderr
    assert "deleted proj/MNIST:v0" in mvc("delete", "MNIST:v0", "--delete-aliases").output
    assert [v["version"] for v in json.loads(mvc("ls", "MNIST", "--json").output)] == ["v1"]
    assert [v["version"] for v in json.loads(mvc("ls", "MNIST", "--deleted", "--json").output)] == ["v0"]
    assert mvc("restore", "MNIST:v0").output.strip() == "restored proj/MNIST:v0"
    assert [v["version"] for v in json.loads(mvc("ls", "MNIST", "--json").output)] == ["v0", "v1"]


def test_status(logged):
    mvc("link", "MNIST:v0", "--to", "prod")
    out = mvc("status").output
    assert f"store:             {logged / '.mvc'}" in out
    d = json.loads(mvc("status", "--json").output)
    assert (d["artifacts"], d["versions"], d["registered_models"], d["runs"], d["project"]) == (1, 2, 1, 2, "proj")
    assert d["format"] == 2 and d["chunks"] >= 2 and d["chunk_bytes"] >= 53_000


def test_global_project_and_dir(tmp_path, model_file):
    other = tmp_path / "other-store"
    mvc("-C", other, "--project", "exp", "log", model_file, "--name", "M")
    assert (other / ".mvc").is_dir()
    rows = json.loads(mvc("-C", other, "--project", "exp", "ls", "--json").output)
    assert [r["name"] for r in rows] == ["M"]
    assert os.environ.get("MVC_DIR") is None  # the option is not left behind in the environment
    res = mvc("ls", ok=False)  # the project's own store holds nothing (it may not exist yet)
    assert res.exit_code in (0, 3)


def test_demo_runs_to_completion(project):
    out = mvc("demo").output
    for n in range(1, 5):
        assert f"[{n}/4]" in out
    assert "$ mvc log" in out and "$ mvc use demo-model:best" in out and "$ mvc link" in out
    assert "registry/demo-model-prod:v0 points at proj/demo-model:v0" in out
    assert json.loads(mvc("show", "demo-model:best", "--json").output)["file_count"] == 3
    assert "downstream" in out


def test_use_works_for_any_type(project, model_dir):
    mvc("log", model_dir / "config.json", "--name", "cfg", "--type", "dataset")
    out = mvc("use", "cfg", "-o", project / "dl").output.strip()
    assert out == str(project / "dl" / "config.json")
    mvc("log", model_dir, "--name", "ds", "--type", "dataset")
    assert mvc("use", "ds", "-o", project / "dl2").output.strip() == str(project / "dl2")


def test_link_path_with_bad_target_logs_nothing(store, model_file):
    res = mvc("link", model_file, "--to", "bad:name", "--name", "M", ok=False)
    assert res.exit_code == 2 and "bare name" in res.stderr
    res = mvc("link", model_file, "--to", "prod", "--alias", "v3", "--name", "M", ok=False)
    assert res.exit_code == 2 and "reserved" in res.stderr
    assert json.loads(mvc("ls", "--json").output) == []


def test_use_resolves_once_latest_moving_meanwhile(project):
    """mvc use resolves ADDRESS once and hands the Artifact on: a `latest` that moves after the
    resolve does not switch the version fetched, recorded, or counted in the progress total."""
    import mvc as api
    f = project / "m.bin"
    f.write_bytes(b"version zero")
    with api.init() as r0:
        r0.log_model(str(f), name="M")
    art = api.Api().artifact("M")  # what `mvc use M` resolves
    f.write_bytes(b"version one, longer")
    with api.init() as r1:
        r1.log_model(str(f), name="M")  # latest moves to v1
    with api.init() as run:
        path = run.use_model(art, root=str(project / "out"))
        typed = run.use_artifact(art, type="model")
    assert open(path, "rb").read() == b"version zero"
    assert typed.version == "v0"
    assert [i["version"] for i in api.Api().run(run.id).inputs] == ["v0", "v0"]


def test_use_artifact_type_mismatch_has_hint(project, model_file):
    import mvc as api
    from mvc.errors import InvalidInputError
    with api.init() as run:
        run.log_artifact(str(model_file), name="D", type="dataset")
        with pytest.raises(InvalidInputError) as ei:
            run.use_artifact("D", type="model")
    assert "'dataset'" in ei.value.message and "type='dataset'" in ei.value.hint


def test_not_found_and_manifest_errors_have_hints(store, model_file):
    """Each of these errors says what to do next (a non-empty hint)."""
    from mvc.errors import IntegrityError, NotFoundError
    from mvc.repo.reach import tip_commit
    from mvc.store.materialise import check_manifest
    store.log(str(model_file), "m", "model", "proj")
    v, _ = store.resolve("m")
    store.link(v, "R")
    calls = [
        lambda: store.artifacts.set_alias("proj", "nope", "v0", "best"),
        lambda: store.artifacts.save_record("proj", "m", "v9", {"description": "x"}),
        lambda: store.artifacts.delete_version("proj", "m", "v9", False),
        lambda: store.registry.set_alias("R", "v0", "gone", remove=True),
        lambda: store.registry.set_alias("R", "v7", "best"),
        lambda: store.registry.unlink("R", "v7"),
        lambda: store.registry.delete("nope"),
        lambda: tip_commit(store.meta, "refs/mvc/artifacts/proj/nope"),
        lambda: check_manifest(["a/B.bin", "a/b.bin"]),
        lambda: check_manifest(["a", "a/b.bin"]),
    ]
    for call in calls:
        with pytest.raises((NotFoundError, IntegrityError)) as ei:
            call()
        assert ei.value.hint and "mvc" in ei.value.hint, ei.value.message
