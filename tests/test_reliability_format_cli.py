"""R18 across the CLI and the API: a store with a newer format or an unknown mandatory
feature makes EVERY `mvc` command (discovered from mvc/cli/commands, subcommands
included) exit with FormatError's code 7, and the store is byte-identical afterwards."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest

import mvc
from mvc.cli.main import cli, discover
from mvc.errors import FormatError
from conftest import snapshot_tree

MVC = os.path.join(os.path.dirname(sys.executable), "mvc")

# One invocation per command and subcommand; a new command must be added here
# (test_every_command_is_covered fails otherwise).
INVOCATIONS = {
    "alias history": ["alias", "history", "M"],
    "alias rm": ["alias", "rm", "M", "best"],
    "alias set": ["alias", "set", "M:v0", "best2"],
    "delete": ["delete", "M:v0"],
    "demo": ["demo"],
    "du": ["du"],
    "fsck": ["fsck"],
    "gc": ["gc"],
    "init": ["init"],
    "lineage": ["lineage", "M:v0"],
    "migrate": ["migrate"],
    "link": ["link", "M:v0", "--to", "Reg"],
    "log": ["log", "model.bin", "--name", "M"],
    "ls": ["ls"],
    "registry alias": ["registry", "alias", "Reg:v0", "staging"],
    "registry ls": ["registry", "ls"],
    "registry show": ["registry", "show", "Reg"],
    "registry unlink": ["registry", "unlink", "Reg:v0"],
    "restore": ["restore", "M:v0"],
    "runs ls": ["runs", "ls"],
    "runs show": ["runs", "show", "RUN"],
    "show": ["show", "M:v0"],
    "status": ["status"],
    "unlock": ["unlock", "--force"],
    "use": ["use", "M:v0", "-o", "out"],
    "verify": ["verify", "M:v0"],
    "alias protect": ["alias", "protect", "M", "best"],
    "alias unprotect": ["alias", "unprotect", "M", "best"],
    "config get": ["config", "get", "use.link"],
    "config list": ["config", "list"],
    "config set": ["config", "set", "use.link", "hardlink"],
    "config unset": ["config", "unset", "use.link"],
    "diff": ["diff", "M:v0", "M:best"],
    "fetch": ["fetch"],
    "pull": ["pull"],
    "push": ["push"],
    "remote add": ["remote", "add", "other", "/nonexistent/remote.git"],
    "remote ls": ["remote", "ls"],
    "remote rm": ["remote", "rm", "origin"],
    "hooks run-pending": ["hooks", "run-pending"],
    "lock check": ["lock", "check"],
    "ui": ["ui", "--no-open"],
    "webhook add": ["webhook", "add", "http://127.0.0.1:9/hook", "--event", "alias"],
    "webhook log": ["webhook", "log"],
    "webhook ls": ["webhook", "ls"],
    "webhook retry": ["webhook", "retry"],
    "webhook rm": ["webhook", "rm", "1"],
}

# Commands that open no store: they must work, and leave the store as it is.
STORELESS = {"hash": ["hash", "model.bin"], "completion": ["completion", "bash"]}

# Commands about the enclosing git repository, not the store (the project here is in none):
# a typed error (exit 3, not in a git repository), no traceback, the store as it was.
GIT_ONLY = {"hooks install": ["hooks", "install"], "hooks uninstall": ["hooks", "uninstall"],
            "hooks status": ["hooks", "status"], "hooks run": ["hooks", "run", "pre-commit"]}

# `mvc clone URL DIR` makes a new store from a remote; tests/test_remote_*.py cover what it refuses.
ELSEWHERE = {"clone"}

FORMATS = [{"format": 3, "features": []}, {"format": 2, "features": ["packfiles-v9"]}]


def _all_commands() -> set[str]:
    out = set()
    for name in discover():
        cmd = cli.get_command(click.Context(cli), name)
        if isinstance(cmd, click.Group):
            out |= {f"{name} {sub}" for sub in cmd.list_commands(click.Context(cmd))}
        else:
            out.add(name)
    return out




@pytest.fixture
def newer_store(project, model_file, request):
    with mvc.init() as run:
        run.log_model(str(model_file), name="M", aliases=["best"])
        run.link_model(str(model_file), "Reg", name="M", aliases=["prod"])
        run_id = run.id
    fmt = project / ".mvc" / "mvc-format.json"
    fmt.chmod(0o644)
    fmt.write_text(json.dumps(request.param))
    return project, run_id


def test_every_command_is_covered():
    assert _all_commands() == set(INVOCATIONS) | set(STORELESS) | set(GIT_ONLY) | ELSEWHERE


@pytest.mark.parametrize("newer_store", FORMATS, indirect=True, ids=["format-2", "unknown-feature"])
def test_every_command_refuses_newer_store_untouched(newer_store):
    project, run_id = newer_store
    env = dict(os.environ)
    env.pop("MVC_DIR", None)
    before = snapshot_tree(project)
    for key, argv in INVOCATIONS.items():
        argv = [run_id if a == "RUN" else a for a in argv]
        r = subprocess.run([MVC, *argv], cwd=project, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 7, f"mvc {' '.join(argv)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
        assert "upgrade mvc" in r.stderr, key
        assert "Traceback" not in r.stderr, key
        assert snapshot_tree(project) == before, f"mvc {' '.join(argv)} changed the project folder"
    for key, argv in STORELESS.items():
        r = subprocess.run([MVC, *argv], cwd=project, env=env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and "Traceback" not in r.stderr, key
        assert snapshot_tree(project) == before, key
    for key, argv in GIT_ONLY.items():
        r = subprocess.run([MVC, *argv], cwd=project, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 3 and "not in a git repository" in r.stderr, (key, r.stderr)
        assert "Traceback" not in r.stderr, key
        assert snapshot_tree(project) == before, key


@pytest.mark.parametrize("newer_store", FORMATS, indirect=True, ids=["format-2", "unknown-feature"])
def test_python_entry_points_refuse_newer_store_untouched(newer_store, monkeypatch):
    from mvc.repo import Repository
    project, _ = newer_store
    store = str(project / ".mvc")
    before = snapshot_tree(project)
    calls = [lambda: Repository(store), lambda: Repository.find(str(project)), lambda: mvc.Api(),
             lambda: mvc.Api(dir=str(project)), lambda: mvc.init(), lambda: mvc.init(dir=store),
             lambda: mvc.init(project="other", config={"a": 1})]
    for call in calls:
        with pytest.raises(FormatError) as ei:
            call()
        assert "upgrade mvc" in ei.value.hint
    monkeypatch.setenv("MVC_DIR", store)
    with pytest.raises(FormatError):
        mvc.Api().artifact("M:v0")
    assert snapshot_tree(project) == before
