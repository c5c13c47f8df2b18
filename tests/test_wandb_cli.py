"""W&B's registry paths on the command line (issue 11, section 1): `mvc link --to` and `mvc use`
take wandb-registry-model/NAME and [entity/]model-registry/NAME as registry/NAME."""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

from click.testing import CliRunner

from mvc.cli import cli


def mvc(*args, ok=True):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert res.exit_code == 0, (res.output, res.stderr, res.exception)
    return res


def test_link_and_use_with_wandb_registry_paths(project, model_file):
    mvc("log", model_file, "--name", "M")
    res = mvc("link", "M:v0", "--to", "wandb-registry-model/M-prod", "--alias", "production", "--json")
    assert json.loads(res.output)["address"] == "registry/M-prod:v0"
    other = project / "m2.bin"
    other.write_bytes(os.urandom(2000))
    res = mvc("link", other, "--to", "alice/model-registry/M-prod", "--name", "M", "--json")
    assert json.loads(res.output)["address"] == "registry/M-prod:v1"
    res = mvc("link", "M:v1", "--to", "model-registry/M-prod", "--json")  # already linked: same link
    assert json.loads(res.output)["address"] == "registry/M-prod:v1"
    res = mvc("use", "wandb-registry-model/M-prod:production", "-o", project / "a")
    assert res.output.strip() == str(project / "a" / "model.bin")
    assert (project / "a" / "model.bin").read_bytes() == model_file.read_bytes()
    res = mvc("use", "alice/model-registry/M-prod:v1", "-o", project / "b")
    assert (project / "b" / "m2.bin").read_bytes() == other.read_bytes()
    res = mvc("show", "wandb-registry-model/M-prod:v0", "--json")
    assert json.loads(res.output)["version"] == "v0"


def test_bad_wandb_registry_targets_log_nothing(project, model_file):
    mvc("init")
    for target in ("wandb-registry-dataset/X", "wandb-registry-model/M:v0", "some-project/portfolio"):
        res = mvc("link", model_file, "--to", target, ok=False)
        assert res.exit_code == 2, (target, res.output)
        assert "hint:" in res.output + (res.stderr or "")
    res = mvc("ls", "--json")
    assert json.loads(res.output) == []  # refused before the path was logged


def _mvc_exe() -> str:
    beside = pathlib.Path(sys.executable).parent / "mvc"
    found = str(beside) if beside.exists() else shutil.which("mvc")
    assert found, "the console script `mvc` is not installed (pip install -e .)"
    return found


def test_installed_script_takes_wandb_registry_paths(project, model_file):
    env = dict(os.environ, MVC_SERVER="0")

    def sh(*argv):
        return subprocess.run([_mvc_exe(), *map(str, argv)], cwd=str(project), env=env, capture_output=True,
                              text=True, timeout=120)
    assert sh("log", "model.bin", "--name", "M").returncode == 0
    res = sh("link", "M:v0", "--to", "wandb-registry-model/Prod", "--alias", "live")
    assert res.returncode == 0 and res.stdout.startswith("registry/Prod:v0"), res.stderr
    res = sh("use", "team/model-registry/Prod:live", "-o", "out")
    assert res.returncode == 0 and res.stdout.strip() == str(project / "out" / "model.bin"), res.stderr
    res = sh("use", "wandb-registry-audio/Prod")
    assert res.returncode == 2 and "one registry" in res.stderr
