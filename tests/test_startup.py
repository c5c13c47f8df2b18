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


# ---- the console script answers `--help` and `--version` without click (mvc/cli/launch.py) ----
LAUNCH_PROBE = """
import json, sys
sys.argv = ["mvc", *json.loads(sys.argv[1])]
from mvc.cli.launch import main
try:
    main()
except SystemExit as e:
    code = e.code
else:
    code = 0
sys.stdout.flush()
sys.stdout = sys.__stdout__
print("\\n@@" + json.dumps([code, sorted(sys.modules)]))
"""


def launched(argv: list[str], columns: int) -> tuple[str, int, set[str]]:
    import os
    env = {**os.environ, "COLUMNS": str(columns)}
    r = subprocess.run([sys.executable, "-c", LAUNCH_PROBE, json.dumps(argv)], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    out, tail = r.stdout.rsplit("\n@@", 1)
    code, modules = json.loads(tail)
    return out, code, set(modules)


def clicks_own(argv: list[str], columns: int) -> str:
    import os
    r = subprocess.run([sys.executable, "-c", "from mvc.cli.main import main; main()", *argv], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "COLUMNS": str(columns)})
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_root_help_is_clicks_text_without_click(flag):
    out, code, modules = launched([flag], 120)
    expected = clicks_own([flag], 120)
    assert out == expected, ("mvc/cli/launch.py ROOT_HELP is stale; replace it with the output of "
                             "`COLUMNS=80 python -c 'from mvc.cli.main import main; main()' --help`")
    assert code == 0
    assert "click" not in modules and not [m for m in modules if m.startswith("mvc.cli.main")]


def test_a_narrow_terminal_gets_clicks_own_wrapping():
    out, code, modules = launched(["--help"], 60)
    assert out == clicks_own(["--help"], 60) and out != launched(["--help"], 80)[0]
    assert "click" in modules and code == 0


def test_version_is_clicks_text_without_click():
    out, code, modules = launched(["--version"], 80)
    assert out == clicks_own(["--version"], 80) and code == 0
    assert "click" not in modules


def test_anything_else_goes_through_click():
    out, code, modules = launched(["ls", "--help"], 80)
    assert "Usage: mvc ls [OPTIONS] [NAME]" in out and code == 0 and "click" in modules


def test_the_console_script_and_python_m_use_the_launcher():
    import tomllib
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    assert tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]["mvc"] == "mvc.cli.launch:main"
    r = subprocess.run([sys.executable, "-m", "mvc", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == clicks_own(["--version"], 80)
