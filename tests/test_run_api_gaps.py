"""Gaps in W&B's run API found by an audit (issue 11, section 1): a finished run (disabled or not)
leaves the active set, so later logging goes to a real run or fails loudly; Api().runs filters
take W&B's keys and MongoDB operators and refuse what they do not know; W&B's run attributes
(url, dir, path, get_url(), start_time, sweep_id) exist on every kind of run."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import mvc
from conftest import run_py
from mvc.errors import InvalidInputError, UsageError


pytestmark = pytest.mark.usefixtures("no_live_runs")


# ---- 1. a finished run leaves the active set --------------------------------------------------

def _stored(project_name: str, name: str) -> list[str]:
    return [a.version for a in mvc.Api().artifacts("model", f"{project_name}/{name}")]


def test_log_after_a_finished_disabled_run_reaches_the_store(project, model_file):
    with mvc.init(project="p", mode="disabled") as off:
        off.log({"x": 1})
    assert mvc.run is None  # leaving the block finished it
    run = mvc.init(project="p", reinit="return_previous")  # the audit's snippet
    assert run is not off and not getattr(run, "disabled", False)
    art = run.log_model(path=str(model_file), name="lost-model")
    assert art is not None and art.version == "v0"
    run.finish()
    assert _stored("p", "lost-model") == ["v0"]
    env = dict(os.environ, MVC_PROJECT="p")
    ls = subprocess.run([sys.executable, "-m", "mvc", "ls", "lost-model"], cwd=str(project), env=env,
                        capture_output=True, text=True, timeout=60)
    assert ls.returncode == 0 and "v0" in ls.stdout, ls.stderr  # the audit saw exit code 3 (not found)


@pytest.mark.parametrize("reinit", [False, "return_previous"])
def test_finish_call_and_reinit_false_return_only_an_unfinished_run(project, model_file, reinit):
    off = mvc.init(project="p", mode="disabled")
    assert mvc.run is off and mvc.init(project="p", reinit=reinit) is off  # unfinished: returned
    off.finish()
    assert mvc.run is None
    run = mvc.init(project="p", reinit=reinit)
    assert run is not off and run.project == "p"
    run.log_model(str(model_file), name="kept")
    run.finish()
    assert _stored("p", "kept") == ["v0"]


def test_module_level_calls_after_finish_raise_instead_of_dropping(project):
    with mvc.init(mode="disabled"):
        pass
    with mvc.init() as real:
        mvc.log({"loss": 1.0})
    assert mvc.run is None
    with pytest.raises(UsageError) as ei:
        mvc.log({"loss": 0.5})
    assert "mvc.init" in ei.value.hint and "finished" in ei.value.message
    with pytest.raises(UsageError) as ei:
        mvc.config.lr = 0.1
    assert "mvc.init" in ei.value.hint and "no active run" in ei.value.message
    with pytest.raises(UsageError):
        mvc.summary["best"] = 1
    with pytest.raises(UsageError):
        mvc.log_model("model.bin", name="m")
    rec = mvc.Api().run(real.id)
    assert [r["loss"] for r in rec.history()] == [1.0]  # the late log did not land anywhere


def test_an_unfinished_disabled_run_is_active_again_after_a_later_run_ends(project):
    off = mvc.init(mode="disabled")
    real = mvc.init()
    assert mvc.run is real
    real.finish()
    assert mvc.run is off  # still live: W&B's "the still-active run"
    mvc.log({"a": 1})
    assert off.summary["a"] == 1
    mvc.finish()
    assert mvc.run is None


def test_calls_on_a_finished_run_object_raise(project, model_file):
    off = mvc.init(mode="disabled")
    off.finish()
    for call in (lambda: off.log({"a": 1}), lambda: off.log_model(str(model_file), name="m"),
                 lambda: off.log_artifact(str(model_file), name="m"), lambda: off.link_model(str(model_file), "R")):
        with pytest.raises(UsageError) as ei:
            call()
        assert "finished" in ei.value.message and "mvc.init" in ei.value.hint
    off.finish()  # a second finish is harmless, as in W&B
    real = mvc.init()
    real.finish()
    with pytest.raises(UsageError) as ei:
        real.log({"a": 1})
    assert "finished" in ei.value.message
    assert mvc.Api().run(real.id).history() == []


def test_finish_previous_finishes_a_disabled_run_too(project):
    off = mvc.init(mode="disabled")
    real = mvc.init(reinit="finish_previous")
    assert mvc.run is real
    real.finish()
    assert mvc.run is None
    with pytest.raises(UsageError):
        off.log({"a": 1})


def test_exit_with_a_disabled_and_a_real_run_live_finishes_both(project):
    code = ("import mvc\noff = mvc.init(mode='disabled')\nrun = mvc.init()\nrun.log({'a': 1})\n"
            "print(run.id)\n")
    p = run_py(code, project)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    rec = mvc.Api().run(p.stdout.strip())
    assert rec.state == "finished" and [r["a"] for r in rec.history()] == [1]


# ---- 2. Api().runs filters ---------------------------------------------------------------------

@pytest.fixture
def three_runs(project):
    """a: finished, train, lr 0.1, acc 0.5; b: failed, cli, lr 0.01, acc 0.9; c: finished, eval, no acc."""
    a = mvc.init(project="exp", name="alpha one", job_type="train", group="g1", tags=["base"],
                 config={"lr": 0.1, "opt": {"name": "adam"}})
    a.log({"acc": 0.5})
    a.finish()
    time.sleep(0.05)
    b = mvc.init(project="exp", name="beta", job_type="cli", tags=["base", "big"], config={"lr": 0.01})
    b.log({"acc": 0.9})
    b.finish(1)
    time.sleep(0.05)
    c = mvc.init(project="exp", name="gamma", job_type="eval", config={"lr": 0.1})
    c.finish()
    return a.id, b.id, c.id


def _ids(filters, order=None):
    return [r.id for r in mvc.Api().runs("exp", filters=filters, order=order)]


def test_filters_take_wandb_spellings(three_runs):
    a, b, c = three_runs
    assert _ids({"displayName": "beta"}) == [b]
    assert _ids({"display_name": "alpha one"}) == [a]
    assert _ids({"jobType": "cli"}) == [b] and _ids({"job_type": "eval"}) == [c]
    assert _ids({"name": b}) == [b] and _ids({"id": c}) == [c]  # W&B's "name" is the run id
    assert _ids({"group": "g1"}) == [a]
    assert _ids({"tags": "big"}) == [b] and _ids({"tags": "base"}) == [a, b]
    assert _ids({"config.lr": 0.1}) == [a, c]
    assert _ids({"config.lr.value": 0.01}) == [b]  # W&B's stored form of a config value
    assert _ids({"config.opt.name": "adam"}) == [a]
    assert _ids({"summary_metrics.acc": 0.9}) == [b] and _ids({"summary.acc": 0.5}) == [a]
    assert _ids({"username": "__nobody__"}) == [] and len(_ids({"host": {"$exists": True}})) == 3


def test_filters_take_mongodb_operators(three_runs):
    a, b, c = three_runs
    assert _ids({"summary_metrics.acc": {"$gt": 0.5}}) == [b]
    assert _ids({"summary_metrics.acc": {"$gte": 0.5}}) == [a, b]
    assert _ids({"summary_metrics.acc": {"$lt": 0.9}}) == [a]  # c has no acc: no match, as in MongoDB
    assert _ids({"summary_metrics.acc": {"$lte": 0.9, "$gt": 0.5}}) == [b]
    assert _ids({"summary_metrics.acc": {"$exists": False}}) == [c]
    assert _ids({"state": {"$ne": "finished"}}) == [b]
    assert _ids({"state": {"$eq": "finished"}}) == [a, c]
    assert _ids({"jobType": {"$in": ["train", "eval"]}}) == [a, c]
    assert _ids({"jobType": {"$nin": ["train", "eval"]}}) == [b]
    assert _ids({"tags": {"$in": ["big", "none"]}}) == [b] and _ids({"tags": {"$nin": ["base"]}}) == [c]
    assert _ids({"display_name": {"$regex": "^(alpha|gam)"}}) == [a, c]
    assert _ids({"display_name": {"$regex": "BETA", "$options": "i"}}) == [b]
    assert _ids({"$or": [{"jobType": "cli"}, {"display_name": "gamma"}]}) == [b, c]
    assert _ids({"$and": [{"config.lr": 0.1}, {"state": "finished"}, {"tags": "base"}]}) == [a]
    assert _ids({"$nor": [{"jobType": "cli"}]}) == [a, c]
    assert _ids({"config.lr": {"$gt": "0.05"}}) == []  # a string against numbers matches nothing


def test_filters_on_times(three_runs):
    a, b, c = three_runs
    runs = mvc.Api().runs("exp")
    t_b = runs[1].record["started_at"]
    from datetime import datetime, timezone
    iso_b = datetime.fromtimestamp(t_b - 0.02, timezone.utc).isoformat()
    assert _ids({"createdAt": {"$gt": iso_b}}) == [b, c]
    assert _ids({"created_at": {"$lt": t_b}}) == [a]  # epoch seconds work too
    assert _ids({"$and": [{"created_at": {"$lt": "2999-01-01T00", "$gt": "2000-01-01T00"}}]}) == [a, b, c]
    assert _ids({"createdAt": {"$gt": "1d"}}) == [a, b, c]  # mvc's "a duration ago"
    assert _ids({"duration": {"$gte": 0}}) == [a, b, c]
    with pytest.raises(InvalidInputError) as ei:
        _ids({"createdAt": {"$gt": "yesterday-ish"}})
    assert "createdAt" in ei.value.message


def test_filters_refuse_unknown_keys_and_operators(three_runs):
    with pytest.raises(InvalidInputError) as ei:
        _ids({"stat": "finished"})
    assert "'stat'" in ei.value.message and "state" in ei.value.hint and "displayName" in ei.value.hint
    with pytest.raises(InvalidInputError) as ei:
        _ids({"state": {"$gtx": 1}})
    assert "$gtx" in ei.value.message and "$gte" in ei.value.hint
    with pytest.raises(InvalidInputError) as ei:
        _ids({"$xor": [{"state": "finished"}]})
    assert "$xor" in ei.value.message and "$or" in ei.value.hint
    for bad in ({"$or": {"state": "x"}}, {"state": {"$in": "finished"}}, {"display_name": {"$regex": "("}},
                {"config.": 1}, {"state": {"$exists": True, "x": 1}}, ["state"]):
        with pytest.raises(InvalidInputError):
            _ids(bad)


def test_unknown_filter_key_is_refused_even_in_an_empty_project(project):
    mvc.init(project="empty").finish()
    with pytest.raises(InvalidInputError):
        mvc.Api().runs("empty", filters={"createdat": 1})


def test_runs_order(three_runs):
    a, b, c = three_runs
    assert _ids(None, order="-created_at") == [c, b, a]
    assert _ids(None, order="+created_at") == [a, b, c]
    assert _ids(None, order="-summary_metrics.acc") == [b, a, c]  # missing values last
    assert _ids(None, order="config.lr") == [b, a, c]
    with pytest.raises(InvalidInputError):
        _ids(None, order="-colour")


# ---- 3. W&B's run attributes ----------------------------------------------------------------

def test_disabled_run_has_url_dir_path(project):
    off = mvc.init(project="p", mode="disabled")
    assert off.url is None and off.get_url() is None
    assert off.path == "p/disabled"
    assert os.path.isdir(off.dir)  # W&B code writes files into run.dir
    with open(os.path.join(off.dir, "notes.txt"), "w") as f:
        f.write("x")
    assert not (project / ".mvc").exists()
    assert off.sweep_id is None and isinstance(off.start_time, float)
    assert abs(off.start_time - time.time()) < 60
    off.finish()


def test_live_and_stored_runs_have_get_url_start_time_sweep_id(project):
    before = time.time()
    run = mvc.init(project="p")
    assert run.get_url() is None and run.sweep_id is None
    assert isinstance(run.start_time, float) and before - 1 <= run.start_time <= time.time()
    assert run.url == run.dir and os.path.isdir(run.dir) and run.path == f"p/{run.id}"
    run.finish()
    rec = mvc.Api().run(f"p/{run.id}")
    assert rec.get_url() is None and rec.sweep_id is None and rec.sweep is None
    assert rec.start_time == run.start_time
