"""mvc.lock: `mvc use --save` pins name -> version, digest, folder; `mvc use --locked` restores
exactly those (refusing a store whose version has another digest); `mvc lock check` says whether
the pins are present and intact; a lock from elsewhere is checked like any hostile input."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import mvc
from mvc.hooks import lockfile


def mvc_cmd(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mvc", *args], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ, MVC_SERVER="0"))


def git(*args, cwd=None):
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=cwd).stdout


@pytest.fixture
def repo(project, model_dir):
    """A git work tree (the project) with a store holding net:v0 (a folder) and net:v1."""
    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "T")
    with mvc.init() as run:
        run.log_model(str(model_dir), name="net", aliases=["production"])
        (model_dir / "weights.bin").write_bytes(os.urandom(1000))
        run.log_model(str(model_dir), name="net")
    return project


def test_use_save_writes_a_sorted_diff_friendly_lock(repo):
    (repo / "sub").mkdir()
    r = mvc_cmd("use", "net:production", "-o", "models/net", "--save", cwd=repo / "sub")
    assert r.returncode == 0, r.stderr
    lock = repo / "mvc.lock"                               # at the top of the work tree, not in sub/
    (pin,) = lockfile.load(str(lock))
    art = mvc.Api().artifact("net:v0")
    assert (pin.key, pin.name, pin.version, pin.digest, pin.path) == ("net", "net", "v0", art.digest, "sub/models/net")
    assert mvc_cmd("use", "net:v1", "--save").returncode == 0
    r = mvc_cmd("use", "proj/net:v1", "-o", "other", "--save")
    assert r.returncode == 0
    text = lock.read_text()
    assert text.index('[models."net"]') < text.index('[models."proj/net"]')   # sorted by key
    assert 'version = "v1"' in text and 'path = "artifacts/net:v1"' in text
    assert [p.key for p in lockfile.load(str(lock))] == ["net", "proj/net"]    # one entry per model
    git("add", "mvc.lock")
    git("commit", "-qm", "pin net")
    lock.write_text(lock.read_text().replace('path = "other"', 'path = "other2"'))
    git("commit", "-qam", "move proj/net")
    log = git("log", "-p", "mvc.lock")                     # which model did each commit ship with
    assert '-path = "other"' in log and '+path = "other2"' in log and f'+digest = "{mvc.Api().artifact("net:v1").digest}"' in log


def test_use_locked_restores_each_pin_exactly(repo):
    assert mvc_cmd("use", "net:v0", "-o", "models/net", "--save").returncode == 0
    git("add", "mvc.lock")
    git("commit", "-qm", "pin")
    import shutil
    shutil.rmtree(repo / "models")
    r = mvc_cmd("use", "--locked")
    assert r.returncode == 0, r.stderr
    assert "restored" in r.stdout and (repo / "models/net/weights.bin").exists()
    assert mvc.Api().artifact("net:v0").verify(str(repo / "models/net")) is None
    r = mvc_cmd("use", "--locked")
    assert r.returncode == 0 and "unchanged" in r.stdout
    (repo / "models/net/config.json").write_text("edited")
    assert "restored" in mvc_cmd("use", "--locked").stdout
    assert (repo / "models/net/config.json").read_text() == '{"hidden": 64}'
    rows = mvc.Api().use_locked()
    assert [(r["key"], r["action"]) for r in rows] == [("net", "unchanged")]


def test_use_locked_refuses_another_digest_and_writes_nothing(repo):
    assert mvc_cmd("use", "net:v0", "-o", "a", "--save").returncode == 0
    assert mvc_cmd("use", "net:v1", "-o", "b", "--save").returncode == 0
    lock = repo / "mvc.lock"
    v1 = mvc.Api().artifact("net:v1").digest
    lock.write_text(lock.read_text().replace('version = "v1"', 'version = "v0"').replace(v1, "0" * 64))
    import shutil
    shutil.rmtree(repo / "a")
    shutil.rmtree(repo / "b")
    r = mvc_cmd("use", "--locked")
    assert r.returncode == 5 and "has digest" in r.stderr and "nothing was written" in r.stderr
    assert not (repo / "a").exists() and not (repo / "b").exists()   # checked before any pin is written


def test_lock_check_for_ci(repo):
    assert mvc_cmd("use", "net:v0", "-o", "models/net", "--save").returncode == 0
    r = mvc_cmd("lock", "check")
    assert r.returncode == 0 and "ok" in r.stdout
    (repo / "models/net/weights.bin").write_bytes(b"tampered")
    r = mvc_cmd("lock", "check", "--json")
    assert r.returncode == 5 and '"differs' in r.stdout
    import shutil
    shutil.rmtree(repo / "models")
    assert mvc_cmd("lock", "check").returncode == 0                 # not restored yet is fine for CI
    lock = repo / "mvc.lock"
    lock.write_text(lock.read_text().replace('version = "v0"', 'version = "v7"'))
    r = mvc_cmd("lock", "check")
    assert r.returncode == 5 and "missing" in r.stdout
    report = mvc.Api().lock_check()
    assert report["ok"] is False and report["pins"][0]["store"] == "missing"


def test_a_pin_through_the_registry_records_the_link(repo):
    mvc.Api().artifact("net:v1").link("registry/prod", aliases=["production"])
    assert mvc_cmd("use", "registry/prod:production", "-o", "m", "--save").returncode == 0
    (pin,) = lockfile.load(str(repo / "mvc.lock"))
    assert (pin.key, pin.version, pin.via) == ("registry/prod", "v1", "registry/prod:v0")
    assert mvc_cmd("use", "--locked", "registry/prod").returncode == 0


@pytest.mark.parametrize("change, words", [
    (lambda t: t.replace('path = "m"', 'path = "../outside"'), "inside the work tree"),
    (lambda t: t.replace('path = "m"', 'path = "/etc"'), "absolute"),
    (lambda t: t.replace('name = "net"', 'name = "../x"'), "artifact name"),
    (lambda t: t.replace("version = 1", "version = 9"), "version 9"),
    (lambda t: t + "\n[[[", "not valid TOML"),
])
def test_a_hostile_lock_is_refused_before_anything_is_written(repo, change, words):
    assert mvc_cmd("use", "net:v0", "-o", "m", "--save").returncode == 0
    import shutil
    shutil.rmtree(repo / "m")
    lock = repo / "mvc.lock"
    lock.write_text(change(lock.read_text()))
    r = mvc_cmd("use", "--locked")
    assert r.returncode == 2 and words in r.stderr, r.stderr
    assert not (repo / "m").exists() and not (repo.parent / "outside").exists()


def test_option_clashes_are_usage_errors(repo):
    for args in (["use", "--locked", "--save"], ["use", "--locked", "-o", "x"], ["use", "net", "--save", "-i", "*.json"],
                 ["use"]):
        r = mvc_cmd(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)


def test_a_folder_outside_the_work_tree_is_not_pinned(repo, tmp_path):
    r = mvc_cmd("use", "net", "-o", str(tmp_path / "elsewhere"), "--save")
    assert r.returncode == 2 and "inside the work tree" in r.stderr
    assert not (repo / "mvc.lock").exists() and not (tmp_path / "elsewhere").exists()


def test_the_lock_round_trips_odd_keys():
    pin = lockfile.Pin('we"ird\\key\n', "p", "n", "v3", "a" * 64, "models/x", "origin", None)
    assert lockfile.parse(lockfile.dumps([pin])) == [pin]


def test_pin_from_python_then_restore(repo):
    api = mvc.Api()
    row = api.pin("net:production", root="models/net")
    assert (row["key"], row["version"], row["path"]) == ("net", "v0", "models/net")
    assert [r["action"] for r in api.use_locked()] == ["restored"]
    assert api.lock_check()["ok"] is True
