"""SPEC "Runs (Python)": ids, names, config, metrics, environment, exit states, summary."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

import mvc
from conftest import run_py
from mvc.api.names_gen import ADJECTIVES, NOUNS


def test_id_and_generated_name(project):
    runs = [mvc.init() for _ in range(3)]
    for i, r in enumerate(runs, 1):
        assert re.fullmatch(r"[a-z0-9]{8}", r.id)
        adj, noun, n = r.name.split("-")
        assert adj in ADJECTIVES and noun in NOUNS and n == str(i)
    assert len({r.id for r in runs}) == 3
    other = mvc.init(project="other")
    assert other.name.endswith("-1")  # N counts runs in the project
    assert mvc.init(name="my-run").name == "my-run"
    assert mvc.init(name="my run").name == "my run"  # W&B display names may hold spaces (issue 11)
    with pytest.raises(mvc.InvalidNameError):
        mvc.init(name="bad\nname")


def test_config_metrics_history_summary(project):
    run = mvc.init(config={"optimizer": "adam", "lr": 1e-3}, tags=["exp"], notes="n", job_type="train",
                   entity="charlie")
    assert run.config["optimizer"] == "adam"
    run.config["epochs"] = 3
    for i, loss in enumerate([0.5, 0.3, 0.12]):
        run.log({"loss": loss, "epoch": i})
    run.log({"acc": 0.9}, step=10)
    assert run.summary == {"loss": 0.12, "epoch": 2, "acc": 0.9}
    run.finish()
    rec = mvc.Api().run(run.id)
    assert rec.config == {"optimizer": "adam", "lr": 1e-3, "epochs": 3}
    assert rec.summary == {"loss": 0.12, "epoch": 2, "acc": 0.9}
    assert (rec.tags, rec.job_type, rec.entity, rec.record["notes"]) == (["exp"], "train", "charlie", "n")
    hist = rec.history()
    assert [h["loss"] for h in hist[:3]] == [0.5, 0.3, 0.12] and [h["_step"] for h in hist] == [0, 1, 2, 10]
    with pytest.raises(mvc.InvalidInputError):
        mvc.init().log([1, 2])


def test_environment_recorded(project):
    run = mvc.init()
    run.finish()
    env = mvc.Api().run(run.id).record["env"]
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["host"] and env["user"] and env["pid"] == os.getpid() and isinstance(env["argv"], list)
    rec = mvc.Api().run(run.id)
    assert rec.started_at and rec.ended_at and rec.record["ended_at"] >= rec.record["started_at"]
    assert "commit" not in env["code"]  # not inside a git work tree


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_git_commit_and_dirty_flag(project):
    _git(project, "init", "-q")
    (project / "train.py").write_text("print(1)\n")
    _git(project, "add", "train.py")
    _git(project, "-c", "user.email=t@e", "-c", "user.name=T", "commit", "-qm", "init")
    head = _git(project, "rev-parse", "HEAD")
    clean = mvc.init()
    clean.finish()
    (project / "train.py").write_text("print(2)\n")
    dirty = mvc.init()
    dirty.finish()
    code = mvc.Api().run(clean.id).record["env"]["code"]
    assert code["commit"] == head and code["dirty"] is False
    code = mvc.Api().run(dirty.id).record["env"]["code"]
    assert code["commit"] == head and code["dirty"] is True


def test_context_manager_states(project):
    with mvc.init() as ok:
        pass
    with pytest.raises(KeyError):
        with mvc.init() as bad:
            raise KeyError("x")
    api = mvc.Api()
    assert api.run(ok.id).state == "finished"
    assert api.run(bad.id).state == "failed" and api.run(bad.id).record["error"] == "KeyError"


def test_failed_subprocess_records_exception_type(project):
    code = "import mvc\nrun = mvc.init()\nprint(run.id, flush=True)\nraise ValueError('boom')\n"
    p = run_py(code, project)
    assert p.returncode == 1 and "ValueError" in p.stderr
    rec = mvc.Api().run(p.stdout.split()[0])
    assert rec.state == "failed" and rec.record["error"] == "ValueError" and rec.record["exit_code"] == 1


def test_interpreter_exit_finishes(project):
    p = run_py("import mvc\nrun = mvc.init()\nrun.log({'a': 1})\nprint(run.id)\n", project)
    assert p.returncode == 0, p.stderr
    rec = mvc.Api().run(p.stdout.split()[0])
    assert rec.state == "finished" and rec.summary == {"a": 1} and len(rec.history()) == 1


@pytest.mark.parametrize("sig,expect", [(signal.SIGKILL, {"crashed", "running"}), (signal.SIGTERM, {"killed"})])
def test_killed_process_run_not_lost(project, sig, expect):
    code = ("import mvc, time\nrun = mvc.init()\nopen('m.bin','wb').write(b'w')\n"
            "run.log_model('m.bin', name='M')\nprint(run.id, flush=True)\ntime.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=str(project), stdout=subprocess.PIPE, text=True)
    run_id = p.stdout.readline().split()[0]
    p.send_signal(sig)
    p.wait(timeout=30)
    p.stdout.close()
    rec = mvc.Api().run(run_id)
    assert rec.state in expect and rec.state != "finished"
    assert [o["version"] for o in rec.outputs] == ["v0"]
    assert mvc.Api().artifact("M:v0").logged_by().id == run_id


def test_summary_text(project, model_dir, capsys):
    with mvc.init() as producer:
        producer.log_model(str(model_dir), name="D")
    run = mvc.init()
    run.log_model(str(model_dir), name="D")  # same content: not new
    (project / "m.bin").write_bytes(b"x" * 3000)
    run.log_model(str(project / "m.bin"), name="M")
    run.use_model("D")
    run.link_model(str(project / "m.bin"), "M-prod", name="M")
    capsys.readouterr()
    run.finish(quiet=False)
    err = capsys.readouterr().err
    assert f"{run.name} ({run.id})" in err and "project proj" in err
    assert "logged D:v0 (same content as before)" in err and "logged M:v0" in err and "used   D:v0" in err
    assert "linked registry/M-prod:v0 -> proj/M:v0" in err
    assert "5 files stored, 2.9 KiB new" in err
    assert os.path.join(str(project), ".mvc", "runs", run.id) + "/" in err


def test_silent_by_default_in_tests(project, capsys, monkeypatch):
    mvc.init().finish()
    assert capsys.readouterr().err == ""
    monkeypatch.delenv("MVC_SILENT")
    mvc.init(quiet=True).finish()
    assert capsys.readouterr().err == ""
    mvc.init().finish()
    assert "mvc: run" in capsys.readouterr().err


def test_run_record_logged_and_used(project):
    (project / "m.bin").write_bytes(b"m")
    with mvc.init() as producer:
        producer.log_model(str(project / "m.bin"), name="M")
        producer.log_model(str(project / "m.bin"), name="M")  # relog: listed once
    with mvc.init() as consumer:
        consumer.use_model("M", root=str(project / "o"))
    api = mvc.Api()
    assert [a.address for a in api.run(producer.id).logged()] == ["proj/M:v0"]
    assert [a.address for a in api.run(consumer.id).used()] == ["proj/M:v0"]
    assert api.run(consumer.id).logged() == [] and api.run(producer.id).used() == []
