"""`latest` after delete and restore (issue 11 audit): it names the live version whose content
was logged most recently, moved in the same commit as the delete or restore, with the move in
the alias history; through the CLI, the Python API and concurrent processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import mvc
from cli_kit import mvc_ok as _ok
from mvc.meta import refs


def _log(project, name: str, n: int) -> None:
    """``n`` versions of ``name``, each of different bytes."""
    for i in range(n):
        p = project / f"{name}-{i}.bin"
        p.write_bytes(os.urandom(3000))
        _ok("log", p, "--name", name)


def _latest(name: str):
    rows = json.loads(_ok("ls", name, "--json").output)
    return [r["version"] for r in rows if "latest" in r["aliases"]]


def test_restoring_the_only_version_brings_latest_back(project):
    _log(project, "tiny", 1)
    _ok("delete", "tiny:v0")
    assert _latest("tiny") == []
    _ok("restore", "tiny:v0")
    assert _latest("tiny") == ["v0"]
    out = _ok("use", "tiny", "-o", "out").output.strip()
    assert out == str(project / "out" / "tiny-0.bin")
    assert "latest" in _ok("show", "tiny").output
    rows = json.loads(_ok("ls", "--json").output)
    assert [(r["name"], r["latest"]) for r in rows] == [("tiny", "v0")]
    assert rows[0]["size"] == 3000


def test_restoring_the_newest_version_moves_latest_back_to_it(project):
    _log(project, "m", 2)
    _ok("delete", "m:v1")
    assert _latest("m") == ["v0"]
    _ok("restore", "m:v1")
    assert _latest("m") == ["v1"]
    assert _ok("use", "m", "-o", "o").output.strip().endswith("m-1.bin")


def test_restoring_an_older_version_leaves_latest_alone(project):
    _log(project, "m", 3)
    _ok("delete", "m:v0")
    _ok("restore", "m:v0")
    assert _latest("m") == ["v2"]


def test_deleting_a_middle_version_keeps_latest_and_deleting_all_drops_it(project):
    _log(project, "m", 3)
    _ok("delete", "m:v1")
    assert _latest("m") == ["v2"]
    _ok("delete", "m:v2")
    assert _latest("m") == ["v0"]
    _ok("delete", "m:v0")
    assert _latest("m") == []
    _ok("restore", "m:v1")
    assert _latest("m") == ["v1"]
    _ok("restore", "m:v0")
    assert _latest("m") == ["v1"]
    _ok("restore", "m:v2")
    assert _latest("m") == ["v2"]


def test_latest_follows_the_most_recent_log_not_the_highest_number(project):
    """A re-log of v0's content moves latest to v0 (SPEC); deleting and restoring v1 keeps it there."""
    (project / "a.bin").write_bytes(b"a" * 100)
    (project / "b.bin").write_bytes(b"b" * 100)
    _ok("log", "a.bin", "--name", "m")
    _ok("log", "b.bin", "--name", "m")
    _ok("log", "a.bin", "--name", "m")
    assert _latest("m") == ["v0"]
    _ok("delete", "m:v1")
    _ok("restore", "m:v1")
    assert _latest("m") == ["v0"]
    _ok("delete", "m:v0")
    assert _latest("m") == ["v1"]
    _ok("restore", "m:v0")
    assert _latest("m") == ["v0"]


def test_the_move_is_in_the_same_commit_and_in_the_alias_history(project):
    from mvc.meta.history import history
    from mvc.repo import Repository
    _log(project, "m", 2)
    meta = Repository.find(str(project)).meta
    before = len(list(history(meta, refs.artifact("proj", "m"))))
    _ok("delete", "m:v1")
    _ok("restore", "m:v1")
    meta = Repository.find(str(project)).meta
    assert len(list(history(meta, refs.artifact("proj", "m")))) == before + 2  # one commit each, no extra
    moves = [(h["alias"], h["from"], h["to"], h["op"]) for h in mvc.Api().alias_history("m")]
    assert moves[:2] == [("latest", "v0", "v1", "restore"), ("latest", "v1", "v0", "delete")]
    rows = json.loads(_ok("alias", "history", "m", "--json").output)
    assert (rows[0]["alias"], rows[0]["from"], rows[0]["to"], rows[0]["op"]) == ("latest", "v0", "v1", "restore")


def test_python_delete_and_restore(project, no_live_runs):
    _log(project, "m", 2)
    api = mvc.Api()
    v1 = api.artifact("m:v1")
    v1.delete()
    assert api.artifact("m").version == "v0"
    v1.restore()
    assert "latest" in v1.aliases
    assert api.artifact("m").version == "v1"
    api.artifact("m:v1").delete()
    back = api.restore("m:v1")
    assert back.version == "v1" and "latest" in back.aliases
    with mvc.init(project="proj") as run:
        path = run.use_model("m", root=str(project / "u"))
    assert path.endswith("m-1.bin")


def test_a_store_left_without_latest_heals_on_the_next_delete(project):
    """A store a restore once left without `latest` (the bug): the next delete puts it back."""
    from mvc.repo import Repository
    _log(project, "m", 3)
    arts = Repository.find(str(project)).artifacts
    arts.meta.update(refs.artifact("proj", "m"), lambda tip: _drop_latest(arts, tip))
    assert _latest("m") == []
    _ok("delete", "m:v0")
    assert _latest("m") == ["v2"]


def _drop_latest(arts, tip):
    from mvc.meta.gitdb import TreeEdit
    st = arts.state("proj", "m", tip)
    al = {a: v for a, v in st.aliases.items() if a != "latest"}
    return TreeEdit(arts.meta.edit_tree(st.tree, {"aliases.json": arts.meta.write_json(al)}), "drop latest\n")


_WORKER = """
import sys, mvc
api = mvc.Api()
version, rounds, end = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for _ in range(rounds):
    api.artifact("m:" + version).delete()
    api.restore("m:" + version)
if end == "deleted":
    api.artifact("m:" + version).delete()
"""


@pytest.mark.parametrize("ends_deleted", [set(), {"v4", "v5"}])
def test_concurrent_processes_leave_latest_on_the_newest_live_version(project, ends_deleted):
    _log(project, "m", 6)
    env = dict(os.environ, MVC_SERVER="0")
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, f"v{i}", "3",
                               "deleted" if f"v{i}" in ends_deleted else "live"],
                              cwd=str(project), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(6)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    live = [f"v{i}" for i in range(6) if f"v{i}" not in ends_deleted]
    rows = json.loads(_ok("ls", "m", "--json").output)
    assert [r["version"] for r in rows] == live
    assert _latest("m") == [live[-1]]
    assert mvc.Api().artifact("m").version == live[-1]
