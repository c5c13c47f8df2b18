"""Start-up stays lean (issue 11, part 4): `mvc --help` and every command's `--help` import
only click and mvc's CLI helpers, never the heavy libraries a command may need when it runs.
Timings live in bench/startup.py; this test pins the cause, which timing cannot on a shared
machine."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pygit2", "blake3", "numpy", "boto3", "botocore", "starlette", "uvicorn", "jinja2", "tqdm", "pathspec",
         "tabulate", "sqlite3", "pyfastcdc", "xxhash", "mvc.api", "mvc.repo", "mvc.meta", "mvc.store", "mvc.remote")

PROBE = """
import json, sys
sys.argv = ["mvc", *json.loads(sys.argv[1])]
from mvc.cli.main import main
try:
    main()
except SystemExit:
    pass
sys.stdout = sys.__stdout__
print("\\n@@" + json.dumps(sorted(sys.modules)))
"""


def imported(*argv: str) -> set[str]:
    r = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(argv))], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return set(json.loads(r.stdout.rsplit("\n@@", 1)[1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_root_help_imports_nothing_heavy():
    assert heavy(imported("--help")) == []


def commands() -> list[str]:
    from mvc.cli.main import discover
    return sorted(discover())


@pytest.mark.parametrize("name", commands())
def test_each_command_help_imports_nothing_heavy(name):
    assert heavy(imported(name, "--help")) == []


def test_the_help_summaries_are_each_commands_own():
    """`mvc --help` lists commands from mvc.cli.commands.SUMMARIES without importing them."""
    import click

    from mvc.cli.commands import SUMMARIES
    from mvc.cli.main import cli
    ctx = click.Context(cli)
    assert set(SUMMARIES) == set(commands())
    for name in commands():
        cmd = cli.get_command(ctx, name)
        assert cmd.short_help and SUMMARIES[name] == cmd.short_help, name


def test_root_help_imports_no_command_module():
    loaded = imported("--help")
    assert not [m for m in loaded if m.startswith("mvc.cli.commands.")]
