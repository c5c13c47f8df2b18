"""Listing a project the store does not hold says so (an audit of issue 11): `mvc ls --project
nope` and `mvc runs ls --project nope` printed an empty table and exited 0 where
`Api().runs("nope")` is a NotFoundError, and a plain `mvc ls` in a folder whose name is not a
project of the store said "(no artifacts)" without naming the projects it holds."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import mvc
from mvc.errors import NotFoundError


def mvc_cmd(*args, cwd, env=None):
    e = dict(os.environ, **(env or {}))
    e.pop("MVC_PROJECT", None)
    return subprocess.run([sys.executable, "-m", "mvc", *args], cwd=str(cwd), env=e, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def shared(tmp_path):
    """A folder `here` whose store holds projects `hist` and `vision`, not `here`."""
    here = tmp_path / "here"
    here.mkdir()
    (here / "a.bin").write_bytes(os.urandom(1000))
    assert mvc_cmd("init", cwd=here).returncode == 0
    for project in ("hist", "vision"):
        r = mvc_cmd("--project", project, "log", "a.bin", "--name", "A", cwd=here)
        assert r.returncode == 0, r.stderr
    return here


@pytest.mark.parametrize("argv", [["ls", "--project", "nope"], ["--project", "nope", "ls", "--json"],
                                  ["runs", "ls", "--project", "nope"], ["--project", "nope", "runs", "ls", "--all"]])
def test_a_chosen_project_the_store_lacks_is_not_found(shared, argv):
    r = mvc_cmd(*argv, cwd=shared)
    assert r.returncode == 3 and r.stdout == ""
    assert "no project 'nope'" in r.stderr and "projects: hist, vision" in r.stderr and "--project" in r.stderr
    assert "Python" not in r.stderr


def test_the_environment_chooses_too(shared):
    e = dict(os.environ, MVC_PROJECT="nope")
    r = subprocess.run([sys.executable, "-m", "mvc", "ls"], cwd=str(shared), env=e, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 3 and "no project 'nope'" in r.stderr


@pytest.mark.parametrize("argv", [["ls"], ["runs", "ls"]])
def test_the_folders_name_gets_a_note_naming_the_projects(shared, argv):
    r = mvc_cmd(*argv, cwd=shared)
    assert r.returncode == 0, r.stderr
    assert "(no " in r.stdout
    assert "mvc: note: project 'here' (the folder's name) has nothing" in r.stderr and "hist, vision" in r.stderr


def test_a_fresh_store_or_a_known_project_gets_no_note(shared, tmp_path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert mvc_cmd("init", cwd=fresh).returncode == 0
    r = mvc_cmd("ls", cwd=fresh)
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "(no artifacts)", "")
    r = mvc_cmd("--project", "hist", "ls", cwd=shared)
    assert r.returncode == 0 and r.stderr == "" and r.stdout.splitlines()[1].split()[0] == "A"


def test_python_says_the_same(shared, monkeypatch):
    monkeypatch.chdir(shared)
    monkeypatch.delenv("MVC_PROJECT", raising=False)
    with pytest.raises(NotFoundError, match="projects: hist, vision"):
        mvc.Api(project="nope").check_project_listed()
    assert "hist, vision" in mvc.Api().check_project_listed()
    assert mvc.Api(project="hist").check_project_listed() is None
