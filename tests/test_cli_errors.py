"""Exit codes and error output of the `mvc` command line (docs/cli.md)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from mvc.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_user_error(res, code: int, *words: str) -> None:
    assert res.exit_code == code, (res.output, res.stderr, res.exception)
    assert res.stderr.startswith("mvc: error: ")
    assert "Traceback" not in res.stderr
    for w in words:
        assert w in res.stderr


def test_not_found_exits_3(store):
    assert_user_error(run("show", "Nope:v0"), 3, "no artifact 'Nope'", "mvc: hint: list artifacts with `mvc ls`")
    assert_user_error(run("registry", "show", "nope"), 3, "no registered model")
    assert_user_error(run("runs", "show", "abcdefgh"), 3, "no run with id")
    assert_user_error(run("lineage", "Nope"), 3)


def test_no_store_is_not_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_user_error(run("ls"), 3, "no mvc store", "mvc init")


def test_invalid_name_exits_2(project, model_file):
    assert_user_error(run("log", model_file, "--name", "bad name"), 2, "contains ' '")
    assert_user_error(run("show", "a/b/c/d"), 2)
    assert_user_error(run("--project", "registry", "ls"), 2, "'registry' cannot be a project name")


def test_bad_input_exits_2(project, model_file):
    assert_user_error(run("log", model_file, "--name", "M", "--metadata", "[1, 2]"), 2, "JSON object")
    assert_user_error(run("log", project / "missing.bin", "--name", "M"), 2)


@pytest.mark.parametrize("args", [["show"], ["log"], ["nosuchcommand"], ["lineage", "X", "--format", "png"],
                                  ["link", "X"], ["alias", "set", "X"]])
def test_usage_errors_exit_2(project, args):
    res = run(*args)
    assert res.exit_code == 2 and "Usage:" in res.stderr and "Traceback" not in res.stderr


def test_type_conflict_exits_4(project, model_file):
    assert run("log", model_file, "--name", "M").exit_code == 0
    other = project / "x.txt"
    other.write_text("x")
    assert_user_error(run("log", other, "--name", "M", "--type", "dataset"), 4, "has type 'model'")


def test_quiet_silences_stderr(project, tmp_path):
    big = project / "big.bin"
    big.write_bytes(b"\0" * 2_000_000)
    res = run("-q", "log", big, "--name", "big")
    assert res.exit_code == 0 and res.stderr == ""
    res = run("-q", "use", "big", "-o", tmp_path / "out")
    assert res.exit_code == 0 and res.stderr == "" and res.output.strip().endswith("big.bin")


def test_unexpected_exceptions_are_not_swallowed(store, monkeypatch):
    import mvc.api

    def boom(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(mvc.api.Api, "artifact_names", boom)
    res = run("ls")
    assert isinstance(res.exception, RuntimeError) and res.exit_code == 1


def test_dropped_in_module_becomes_a_command(project, tmp_path, monkeypatch):
    """Other commands appear by adding mvc/cli/commands/<name>.py: no table to edit."""
    import sys

    from mvc.cli import commands
    extra = tmp_path / "extra_cmds"
    extra.mkdir()
    (extra / "say_hi.py").write_text(
        "import click\n\n@click.command(short_help='Say hi.')\ndef command():\n    click.echo('hi')\n")
    monkeypatch.setattr(commands, "__path__", [*commands.__path__, str(extra)])
    monkeypatch.delitem(sys.modules, "mvc.cli.commands.say_hi", raising=False)
    assert "say-hi" in run("--help").output
    res = run("say-hi")
    assert res.exit_code == 0 and res.output == "hi\n"


def test_use_of_unknown_address_records_no_run_and_creates_no_store(project):
    assert_user_error(run("use", "Nope"), 3, "no mvc store")
    assert not (project / ".mvc").exists()
