"""`mvc remote`, `push`, `fetch`, `pull` and `clone` on the command line: the team workflow
of docs/cli.md (remote add, push, clone, use), --json summaries, the renumbering map, -q."""
from __future__ import annotations

import json
import os

from click.testing import CliRunner

from mvc.cli import cli
from git_servers import make_bare


def mvc(*args, ok=True):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert res.exit_code == 0, (res.output, res.stderr, res.exception)
    return res


def test_team_workflow(tmp_path, monkeypatch):
    bare = make_bare(str(tmp_path / "models.git"))
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    alice.mkdir()
    (alice / "w.bin").write_bytes(os.urandom(80_000))
    monkeypatch.chdir(alice)
    mvc("--project", "team", "log", "w.bin", "--name", "m", "--type", "model")
    mvc("remote", "add", "origin", bare, "--storage", tmp_path / "bytes")
    listed = json.loads(mvc("remote", "ls", "--json").stdout)
    assert listed == [{"name": "origin", "url": bare, "storage": str(tmp_path / "bytes"), "kind": "path"}]
    pushed = json.loads(mvc("push", "--json").stdout)
    assert pushed["chunks"] == 1 and "refs/mvc/team/artifacts/m" in pushed["refs"]
    again = json.loads(mvc("push", "--json").stdout)
    assert again["refs"] == [] and again["chunks"] == 0
    monkeypatch.chdir(tmp_path)
    cloned = json.loads(mvc("clone", bare, bob, "--no-bytes", "--json").stdout)
    assert cloned["store"] == str(bob / ".mvc") and cloned["chunks"] == 0
    monkeypatch.chdir(bob)
    out = mvc("--project", "team", "use", "m:latest", "-o", tmp_path / "out").stdout.strip()
    assert open(out, "rb").read() == (alice / "w.bin").read_bytes()
    # both log offline, alice pushes first; bob's pull renumbers his version and says so
    (bob / "b.bin").write_bytes(b"bob")
    mvc("--project", "team", "log", "b.bin", "--name", "m", "--type", "model")
    monkeypatch.chdir(alice)
    (alice / "w.bin").write_bytes(b"alice")
    mvc("--project", "team", "log", "w.bin", "--name", "m", "--type", "model")
    mvc("-q", "push")
    monkeypatch.chdir(bob)
    res = mvc("pull")
    assert "renumbered team/m:v1 -> team/m:v2" in res.stdout
    assert json.loads(mvc("fetch", "--json").stdout)["refs"] == []
    res = mvc("-q", "push")
    assert res.stderr == "" and res.stdout == ""  # -q: nothing but errors
    mvc("remote", "rm", "origin")
    assert "no remotes" in mvc("remote", "ls").stdout


def test_push_to_unknown_remote_exits_3(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mvc("init")
    res = mvc("push", "nosuch", ok=False)
    assert res.exit_code == 3 and "no remote named 'nosuch'" in res.output
