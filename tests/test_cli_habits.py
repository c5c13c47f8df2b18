"""CLI habits (issue 11, section 3) and the CLI going through the API (section 5):
global options before or after the command name, hints in the CLI's words, gc and
fsck output streams, `runs ls` filters, no run for a refused call, shell completion,
`log --from`, and Api.gc/fsck/verify/du/unlock/create for Python users."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from mvc.cli import cli

cli_main = importlib.import_module("mvc.cli.main")  # mvc.cli.main is also the name of a function


def _mvc(*args, **kw):
    return CliRunner(**kw).invoke(cli, [str(a) for a in args])


def _sh(args, cwd, env=None):
    """The installed `mvc` as a real process (in process, no resident server)."""
    exe = os.path.join(os.path.dirname(sys.executable), "mvc")
    env = dict(env or os.environ, MVC_SERVER="0")
    return subprocess.run([exe, *map(str, args)], cwd=str(cwd), env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def logged(project, model_file):
    res = _mvc("log", model_file, "--name", "M")
    assert res.exit_code == 0, res.output
    return project


# ---- global options before or after the command name ------------------------------
def test_quiet_after_the_command_name(logged, model_file, monkeypatch):
    monkeypatch.delenv("MVC_SILENT")
    loud = _sh(["log", model_file, "--name", "M", "--alias", "a"], logged)
    quiet = _sh(["log", model_file, "--name", "M", "--alias", "b", "-q"], logged)
    before = _sh(["-q", "log", model_file, "--name", "M", "--alias", "c"], logged)
    assert loud.returncode == quiet.returncode == before.returncode == 0, (loud.stderr, quiet.stderr)
    # a run summary or meter is not printed to a pipe either way; -q must not break the result
    assert quiet.stdout.startswith("proj/M:v0  (same content as v0") and quiet.stderr == ""
    assert before.stdout.startswith("proj/M:v0") and before.stderr == ""


def test_dir_and_project_after_the_command_name(tmp_path, model_file):
    store = tmp_path / "elsewhere"
    res = _mvc("log", model_file, "--name", "X", "-C", store, "--project", "other")
    assert res.exit_code == 0, res.output
    assert res.output.startswith("other/X:v0")
    assert (store / ".mvc").is_dir()
    rows = json.loads(_mvc("ls", "--json", "--dir", store, "--project", "other").output)
    assert [r["name"] for r in rows] == ["X"]
    # and before the name, for a group's subcommand too
    runs = json.loads(_mvc("--project", "other", "runs", "ls", "--json", "-C", store).output)
    assert len(runs) == 1 and runs[0]["project"] == "other"
    assert not os.path.exists(os.path.join(os.getcwd(), ".mvc"))  # nothing went to the cwd's store


@pytest.mark.parametrize("args", [["--project", "a", "ls", "--project", "b"], ["-C", "x", "ls", "--dir", "y"],
                                  ["runs", "--project", "a", "ls", "--project", "b"]])
def test_a_global_option_twice_with_different_values_is_a_usage_error(logged, args):
    res = _mvc(*args)
    assert res.exit_code == 2
    assert "given twice with different values" in res.output and "give it once" in res.output


def test_a_global_option_twice_with_one_value_is_fine(logged):
    res = _mvc("--project", "proj", "ls", "--project", "proj", "-q", "-q", "--json")
    assert res.exit_code == 0, res.output
    assert [r["name"] for r in json.loads(res.output)] == ["M"]


def test_a_bad_project_after_the_command_is_refused(logged):
    res = _mvc("ls", "--project", "registry")
    assert res.exit_code == 2 and "registry" in res.output


def _all_commands():
    group = cli
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield name, cmd
        for sub, subcmd in getattr(cmd, "commands", {}).items():
            yield f"{name} {sub}", subcmd


def test_every_command_takes_the_global_options():
    """No command (new ones included) shadows -q, -C/--dir or --project with a meaning of its own."""
    seen = 0
    for name, cmd in _all_commands():
        ours = {o for p in cmd.params if getattr(p, "callback", None) is cli_main._given for o in p.opts}
        assert {"-q", "--quiet", "-C", "--dir", "--project"} <= ours, f"`mvc {name}` shadows a global option"
        seen += 1
    assert seen > 20


def test_global_options_are_in_each_commands_help():
    res = _mvc("gc", "--help")
    assert "-C, --dir DIR" in res.output and "--project P" in res.output and "-q, --quiet" in res.output
