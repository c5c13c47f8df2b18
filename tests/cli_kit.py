"""The CLI in process, for tests: click's runner on mvc's group, arguments as text."""
from __future__ import annotations

from click.testing import CliRunner

from mvc.cli import cli


def mvc_cli(*args):
    """`mvc ARGS...`: click's Result (exit_code, output)."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def mvc_ok(*args):
    """`mvc ARGS...`, which must exit 0 (the output is shown when it does not)."""
    res = mvc_cli(*args)
    assert res.exit_code == 0, res.output
    return res
