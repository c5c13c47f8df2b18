"""W&B's run surface (issue 11, section 1): module-level mvc.log/config/summary/run/finish,
run.config.lr, init(mode=, reinit=, group=, id=, resume=, settings=, save_code=, ...), resuming a
run's history, run names with spaces, Api().runs("entity/project") and Api().run("e/p/id")."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import mvc
from mvc.errors import ConflictError, InvalidInputError, InvalidNameError, NotFoundError, UsageError


pytestmark = pytest.mark.usefixtures("no_live_runs")


def test_module_level_calls_act_on_the_active_run(project):
    assert mvc.run is None
    with pytest.raises(UsageError) as ei:
        mvc.log({"loss": 1.0})
    assert "mvc.init" in ei.value.hint
    with pytest.raises(UsageError):
        mvc.config.lr
    with pytest.raises(UsageError):
        mvc.summary["x"] = 1
    mvc.finish()  # nothing to finish: no error, as in W&B
    run = mvc.init(config={"lr": 0.1, "layers": [64, 32]})
    assert mvc.run is run and mvc.config is run.config and mvc.summary is run.summary
    assert run.config.lr == 0.1 and mvc.config.layers == [64, 32] and run.config["lr"] == 0.1
    mvc.config.epochs = 3
    mvc.config.update({"batch": 16})
    mvc.config.setdefaults({"batch": 99, "seed": 1})
    mvc.log({"loss": 0.5})
    mvc.log({"loss": 0.25, "acc": 0.9})
    mvc.summary["best_acc"] = 0.9
    assert run.summary.loss == 0.25
    with pytest.raises(AttributeError):
        run.config.missing
    mvc.finish()
    assert mvc.run is None
    rec = mvc.Api().run(run.id)
    assert rec.state == "finished"
    assert rec.config == {"lr": 0.1, "layers": [64, 32], "epochs": 3, "batch": 16, "seed": 1}
    assert rec.summary == {"loss": 0.25, "acc": 0.9, "best_acc": 0.9}
    assert [r["loss"] for r in rec.history()] == [0.5, 0.25]


def test_config_refuses_what_json_cannot_hold_where_it_is_set(project):
    run = mvc.init()
    with pytest.raises(InvalidInputError):
        run.config.bad = float("inf")
    with pytest.raises(InvalidInputError):
        run.config["obj"] = object()
    assert "bad" not in run.config and "obj" not in run.config


def test_log_commit_false_and_step(project):
    run = mvc.init()
    run.log({"a": 1}, commit=False)
    run.log({"b": 2})
    run.log({"c": 3}, step=5)
    run.log({"d": 4}, commit=False)
    assert run.step == 6
    run.finish()
    rows = [{k: v for k, v in r.items() if k != "_timestamp"} for r in mvc.Api().run(run.id).history()]
    assert rows == [{"a": 1, "b": 2, "_step": 0}, {"c": 3, "_step": 5}]  # an uncommitted row stays unwritten
    rec = mvc.Api().run(run.id)
    assert rec.summary["d"] == 4
    assert [r["c"] for r in rec.scan_history(keys=["c"])] == [3]
    assert [r["_step"] for r in rec.history(keys=["b"])] == [0] and len(rec.history(samples=1)) == 1
    assert rec.scan_history(min_step=1, max_step=10) == rec.history()[1:]
    try:
        import pandas  # noqa: F401
    except ImportError:  # W&B too returns the rows when pandas is not installed
        assert rec.history(pandas=True) == rec.history()
    else:
        assert list(rec.history(pandas=True)["_step"]) == [0, 5]


def test_init_accepts_wandb_options_that_mean_nothing_locally(project):
    run = mvc.init(project="p", mode="offline", settings=mvc.Settings(silent=True), save_code=True, group="cv",
                   allow_val_change=True, force=False, anonymous="never", tensorboard=False, sync_tensorboard=False,
                   monitor_gym=False, config_exclude_keys=["secret"], config={"lr": 1, "secret": "x"},
                   job_type="train", reinit="create_new")
    assert run.group == "cv" and dict(run.config) == {"lr": 1}
    run.finish()
    rec = mvc.Api().run(f"p/{run.id}")
    assert rec.group == "cv" and rec.config == {"lr": 1}
    with pytest.raises(TypeError):  # a real typo is still Python's TypeError, not swallowed
        mvc.init(projcet="p")
    with pytest.raises(InvalidInputError):
        mvc.init(mode="cloudy")
    with pytest.raises(UsageError) as ei:
        mvc.init(resume_from=f"{run.id}?_step=3")
    assert "resume='allow'" in ei.value.hint
    inc = mvc.init(config={"a": 1, "b": 2}, config_include_keys=["a"])
    assert dict(inc.config) == {"a": 1}


def test_wandb_noop_calls_are_accepted(project):
    run = mvc.init()
    mvc.watch(object(), log="all")
    run.watch(object())
    mvc.define_metric("acc", summary="max")
    run.define_metric("loss", step_metric="epoch")
    assert mvc.login() is True and mvc.save("*.pt") is False and run.save("*.pt") is False
    run.log_code(".")
    mvc.alert(title="t", text="x")
    mvc.unwatch()
    run.finish()
    assert mvc.Api().run(run.id).state == "finished"


def test_reinit_modes(project):
    a = mvc.init()
    b = mvc.init()  # mvc's default: another run beside the first
    assert a is not b and mvc.run is b
    assert mvc.init(reinit="return_previous") is b and mvc.init(reinit=False) is b
    c = mvc.init(reinit=True)  # finish_previous
    api = mvc.Api()
    assert api.run(a.id).state == "finished" and api.run(b.id).state == "finished"
    assert mvc.run is c
    d = mvc.init(reinit="finish_previous")
    assert api.run(c.id).state == "finished" and mvc.run is d
    with pytest.raises(InvalidInputError):
        mvc.init(reinit="sometimes")


def test_disabled_mode_does_nothing(project, model_file):
    run = mvc.init(mode="disabled", config={"lr": 1})
    assert mvc.run is run and run.config.lr == 1
    mvc.log({"loss": 1})
    run.log({"loss": 2})
    assert run.log_model(str(model_file), name="M") is None
    art = mvc.Artifact("x", "model")
    art.add_file(str(model_file))
    assert run.log_artifact(art) is None and art.is_draft()
    with pytest.raises(UsageError):
        run.use_model("M")
    run.finish()
    assert not (project / ".mvc").exists()  # no store was touched


def test_resume_allow_must_never_continue_history(project, model_file):
    run = mvc.init(id="train-42", name="long run", config={"lr": 0.1}, tags=["a"])
    run.log({"loss": 1.0})
    run.log({"loss": 0.8})
    run.log_model(str(model_file), name="M")
    run.finish()
    with pytest.raises(ConflictError) as ei:
        mvc.init(id="train-42")  # exists, resume not asked
    assert "resume='allow'" in ei.value.hint
    with pytest.raises(ConflictError):
        mvc.init(id="train-42", resume="never")
    with pytest.raises(NotFoundError):
        mvc.init(id="absent-1", resume="must")
    with pytest.raises(UsageError):
        mvc.init(resume="must")
    again = mvc.init(id="train-42", resume="must", config={"epochs": 2})
    assert again.resumed and again.id == "train-42" and again.name == "long run" and again.step == 2
    assert again.config.lr == 0.1 and again.config.epochs == 2 and again.tags == ["a"]
    assert again.summary.loss == 0.8
    again.log({"loss": 0.5})
    again.finish()
    rec = mvc.Api().run("proj/train-42")
    assert [(r["_step"], r["loss"]) for r in rec.history()] == [(0, 1.0), (1, 0.8), (2, 0.5)]
    assert [a.address for a in rec.logged()] == ["proj/M:v0"]  # the first session's output kept
    assert rec.state == "finished" and rec.name == "long run"
    fresh = mvc.init(id="new-id-7", resume="allow")
    assert not fresh.resumed and fresh.step == 0
    fresh.finish()
    with pytest.raises(InvalidNameError):
        mvc.init(id="bad/id")


def test_resume_after_a_crash_keeps_the_rows_the_crash_left(project):
    """A killed process left rows in its local history file that never reached the store."""
    code = textwrap.dedent("""
        import os, mvc
        run = mvc.init(id="crashy-1")
        for i in range(3):
            run.log({"i": i})
        os._exit(9)
    """)
    res = subprocess.run([sys.executable, "-c", code], cwd=str(project), env=dict(os.environ), timeout=60)
    assert res.returncode == 9
    assert mvc.Api().run("crashy-1").state == "crashed"
    run = mvc.init(id="crashy-1", resume="allow")
    assert run.step == 3
    run.log({"i": 3})
    run.finish()
    assert [r["i"] for r in mvc.Api().run("crashy-1").history()] == [0, 1, 2, 3]


def test_resume_refuses_a_run_live_in_another_process(project):
    code = textwrap.dedent("""
        import sys, time, mvc
        run = mvc.init(id="live-1")
        print("ready", flush=True)
        sys.stdin.readline()
        run.finish()
    """)
    p = subprocess.Popen([sys.executable, "-c", code], cwd=str(project), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        with pytest.raises(ConflictError) as ei:
            mvc.init(id="live-1", resume="allow")
        assert str(p.pid) in ei.value.message
    finally:
        p.stdin.write("\n")
        p.stdin.flush()
        p.wait(timeout=60)
    assert mvc.init(id="live-1", resume="must").resumed


def test_resume_history_file_gone_is_rebuilt_from_the_store(project):
    run = mvc.init(id="moved-1")
    run.log({"x": 1})
    run.finish()
    os.remove(project / ".mvc" / "runs" / "moved-1" / "history.jsonl")
    again = mvc.init(id="moved-1", resume="must")
    assert again.step == 1
    again.log({"x": 2})
    again.finish()
    assert [r["x"] for r in mvc.Api().run("moved-1").history()] == [1, 2]


def test_run_id_taken_in_another_project(project):
    mvc.init(project="a", id="shared-1").finish()
    with pytest.raises(ConflictError) as ei:
        mvc.init(project="b", id="shared-1", resume="allow")
    assert "project='a'" in ei.value.hint


def test_run_display_names_may_hold_spaces(project):
    run = mvc.init(name="baseline run #1 (lr 0.1)")
    run.finish()
    assert mvc.Api().run(run.id).name == "baseline run #1 (lr 0.1)"
    for bad in ("   ", "tab\there", "x" * 129):
        with pytest.raises(InvalidNameError):
            mvc.init(name=bad)


def test_api_runs_and_run_by_wandb_paths(project):
    a = mvc.init(project="exp", entity="team", name="first")
    a.finish()
    b = mvc.init(project="exp", entity="team", name="second")
    b.finish(1)
    api = mvc.Api()
    assert [r.id for r in api.runs("team/exp")] == [a.id, b.id]
    assert [r.id for r in api.runs("exp")] == [a.id, b.id]
    assert [r.id for r in api.runs("team/exp", filters={"state": "failed"})] == [b.id]
    assert [r.id for r in api.runs("exp", filters={"display_name": "first"})] == [a.id]
    assert api.runs("exp", filters={"summary_metrics.acc": {"$gt": 0.5}}) == []  # operators: test_run_api_gaps.py
    with pytest.raises(InvalidInputError):
        api.runs("exp", filters={"summary_metrics.acc": {"$greater": 0.5}})
    assert api.run(f"team/exp/{a.id}").name == "first"
    assert api.run(f"team/exp/runs/{a.id}").name == "first"  # the form of W&B's run URLs
    assert api.run(f"exp/{a.id}").path == ["team", "exp", a.id]
    with pytest.raises(NotFoundError) as ei:
        api.runs("team/nothing")
    assert "nothing" in ei.value.message and "exp" in ei.value.message
    with pytest.raises(NotFoundError):
        api.runs("nothing")
    with pytest.raises(NotFoundError):
        api.run(f"nothing/{a.id}")
    with pytest.raises(NotFoundError):
        api.run("exp/zzzzzzzz")
    with pytest.raises(NotFoundError) as ei:
        api.runs("other-team/exp")  # the project belongs to "team"
    assert "team" in ei.value.message
    rec = api.run(a.id)
    assert rec.logged_artifacts() == [] and rec.used_artifacts() == [] and rec.display_name == "first"


def test_run_properties(project):
    run = mvc.init(project="p", entity="me")
    assert run.path == f"me/p/{run.id}" and run.step == 0 and not run.resumed
    run.finish()
    json.dumps(mvc.Api().run(run.id).record)  # the record stays plain JSON (Config is a dict)


def test_a_finish_that_cannot_write_still_ends_the_run(project, monkeypatch):
    """A run whose finish fails (its store is gone) is no longer mvc.run: the next module-level
    call must not reach a finished run."""
    run = mvc.init()
    assert mvc.run is run

    def broken(*a, **k):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(run._repo.runs, "write", broken)
    with pytest.raises(OSError):
        run.finish()
    assert mvc.run is None
