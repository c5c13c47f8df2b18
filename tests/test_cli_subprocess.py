"""Real processes: the installed `mvc` script and `python -m mvc`, end to end."""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

HEAVY = ("pygit2", "blake3", "tabulate", "mvc.api", "mvc.repo", "xxhash")


def mvc_exe() -> str:
    beside = pathlib.Path(sys.executable).parent / "mvc"
    found = str(beside) if beside.exists() else shutil.which("mvc")
    assert found, "the console script `mvc` is not installed (pip install -e .)"
    return found


def sh(argv, cwd, env=None):
    return subprocess.run(argv, cwd=str(cwd), env=env or os.environ.copy(), capture_output=True, text=True,
                          timeout=120)


def test_round_trip_with_python_m(project, model_file):
    py = [sys.executable, "-m", "mvc"]
    assert sh(py + ["init"], project).stdout.startswith("Initialized empty mvc store in")
    res = sh(py + ["log", "model.bin", "--name", "MNIST", "--alias", "best"], project)
    assert res.returncode == 0 and res.stdout.startswith("proj/MNIST:v0  (new version"), res.stderr
    rows = json.loads(sh(py + ["ls", "MNIST", "--json"], project).stdout)
    assert [(r["version"], r["aliases"]) for r in rows] == [("v0", ["best", "latest"])]
    res = sh(py + ["use", "MNIST:best", "-o", "out"], project)
    assert res.stdout.strip() == str(project / "out" / "model.bin")
    assert (project / "out" / "model.bin").read_bytes() == model_file.read_bytes()


def test_installed_script_errors_and_exit_codes(project, model_file):
    exe = mvc_exe()
    res = sh([exe, "show", "Nope:v1"], project)
    assert res.returncode == 3
    assert res.stderr.startswith("mvc: error: ") and "Traceback" not in res.stderr and res.stdout == ""
    res = sh([exe, "log", "model.bin", "--name", "no/slash:"], project)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = sh([exe, "frobnicate"], project)
    assert res.returncode == 2 and "No such command" in res.stderr
    res = sh([exe, "log", "model.bin", "--name", "M"], project)
    assert res.returncode == 0 and "proj/M:v0" in res.stdout


def test_log_without_quiet_is_silent_on_stderr_for_small_files(project, model_file):
    env = dict(os.environ)
    env.pop("MVC_SILENT", None)
    res = sh([mvc_exe(), "log", "model.bin", "--name", "M"], project, env)
    assert res.returncode == 0 and res.stderr == ""  # no run summary, no progress for sub-second work


def test_help_lists_commands_without_heavy_imports(project):
    code = ("import sys\nfrom mvc.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    res = sh([sys.executable, "-c", code], project)
    assert res.returncode == 0, res.stderr
    assert "HEAVY []" in res.stdout
    for name in ("log", "use", "link", "ls", "show", "lineage", "demo"):
        assert f"\n  {name} " in res.stdout


def test_demo_in_fresh_folder_creates_store_there(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("MVC_DIR", "MVC_PROJECT")}
    res = sh([sys.executable, "-m", "mvc", "demo"], tmp_path, env)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / ".mvc" / "mvc-format.json").is_file()
    assert "[4/4]" in res.stdout and "Traceback" not in res.stderr
