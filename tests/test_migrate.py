"""`mvc migrate`: the committed format-1 store (tests/fixtures/format1, written by mvc d9e6738)
becomes format 2 and keeps every version, alias, alias history, registry link and run; a
SIGKILL at any point leaves a store that format-1 mvc reads whole (every file it reads is
unchanged) or that format-2 mvc finishes and reads whole (issue 10, part 4).

Expected values are read from the fixture with pygit2 and json directly, or written here:
never computed by the code under test."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import blake3
import pygit2
import pytest

from mvc.errors import FormatError

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "format1")
POINTS = ["migrate:after-prepare", "migrate:after-mark", "migrate:after-chunks", "migrate:after-packed-refs",
          "migrate:after-loose-refs", "migrate:after-format"]


def mvc(*args, cwd, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "mvc", *map(str, args)], cwd=str(cwd), capture_output=True,
                          text=True, timeout=timeout,
                          env=dict(os.environ, MVC_SERVER="0", MVC_PROJECT="fx", **(env or {})))


def js(*args, cwd):
    r = mvc(*args, "--json", cwd=cwd)
    assert r.returncode == 0, (args, r.stderr)
    return json.loads(r.stdout)


@pytest.fixture
def f1(tmp_path):
    """A copy of the format-1 fixture as the store of a project folder."""
    root = tmp_path / "proj"
    shutil.copytree(FIXTURE, root / ".mvc")
    for sub in ("tmp", "runs", "leases", "hooks"):
        (root / ".mvc" / sub).mkdir(exist_ok=True)
    return root


DERIVED = {"git-packs-checked"}  # a cache of which git pack indexes were found sound (docs/format.md)


def _files(store) -> dict[str, bytes]:
    out = {}
    for base, _, names in os.walk(store):
        for n in names:
            if n in DERIVED:
                continue
            p = os.path.join(base, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, store)] = f.read()
    return out


def _format1_versions() -> dict[str, dict[str, str]]:
    """'Model:v0' -> {path: whole-file BLAKE3}, read from the fixture's pointers with pygit2."""
    repo = pygit2.Repository(FIXTURE)
    out = {}
    for name in ("Model", "small-files", "data.v1"):
        tree = repo.revparse_single(f"refs/mvc/fx/artifacts/{name}").tree
        for folder in ("versions", "trash"):
            if folder not in tree:
                continue
            for v in repo[tree[folder].id]:
                files = {}
                stack = [("", repo[v.id]["files"].id)]
                while stack:
                    prefix, oid = stack.pop()
                    for e in repo[oid]:
                        if e.type_str == "tree":
                            stack.append((prefix + e.name + "/", e.id))
                        else:
                            files[prefix + e.name] = json.loads(repo[e.id].data)["digest"].split(":")[1]
                out[f"{name}:{v.name}"] = files
    return out


EXPECTED = {  # from `mvc ls`, `alias history`, `registry show` and `runs ls` of format-1 mvc on the fixture
    "artifacts": {"Model": ("model", 2, {"best": "v1", "latest": "v1", "production": "v0"}),
                  "data.v1": ("dataset", 1, {"latest": "v0"}),
                  "small-files": ("dataset", 1, {"latest": "v0"})},
    "history": [("best", None, "v0"), ("best", "v0", "v1"), ("latest", None, "v0"), ("latest", "v0", "v1"),
                ("production", None, "v0")],
    "links": [("v0", "fx/Model:v0", ["staging"]), ("v1", "fx/Model:v1", ["latest"])],
    "runs": {"train-1": (0, 3), "finetune-1": (1, 2), "eval-1": (1, 0)},
}


def check_migrated(root, tmp_path) -> None:
    """Everything format-1 mvc showed, shown again by format-2 mvc, and every byte verified."""
    info = json.loads((root / ".mvc" / "mvc-format.json").read_text())
    assert info == {"features": [], "format": 2}
    arts = {a["name"]: (a["type"], a["versions"], a["aliases"]) for a in js("ls", cwd=root)}
    assert arts == EXPECTED["artifacts"]
    hist = sorted((h["alias"], h["from"] or "", h["to"]) for h in js("alias", "history", "Model", cwd=root))
    assert hist == sorted((a, f or "", t) for a, f, t in EXPECTED["history"])
    links = [(li["version"], li["source"], li["aliases"]) for li in js("registry", "show", "Model-prod", cwd=root)["links"]]
    assert links == EXPECTED["links"]
    runs = {r["name"]: (len(r["inputs"]), len(r["outputs"])) for r in js("runs", "ls", cwd=root)}
    assert runs == EXPECTED["runs"]
    assert [v["version"] for v in js("ls", "small-files", "--deleted", cwd=root)] == ["v1"]
    for address, files in _format1_versions().items():
        if address == "small-files:v1":
            assert mvc("restore", address, cwd=root).returncode == 0
        out = tmp_path / "out" / address.replace(":", "_")
        r = mvc("use", address, "-o", out, cwd=root)
        assert r.returncode == 0, (address, r.stderr)
        got = {os.path.relpath(os.path.join(b, n), out).replace(os.sep, "/"):
               blake3.blake3(open(os.path.join(b, n), "rb").read()).hexdigest()
               for b, _, ns in os.walk(out) for n in ns}
        assert got == files, address                          # the very bytes format 1 held
    r = mvc("fsck", cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    git = subprocess.run(["git", "--git-dir", str(root / ".mvc"), "fsck", "--strict", "--no-dangling"],
                         capture_output=True, text=True)
    assert git.returncode == 0, git.stdout + git.stderr


def test_normal_commands_refuse_format1_and_name_migrate(f1):
    before = _files(f1 / ".mvc")
    (f1 / "x").write_bytes(b"a file to log: the input is checked before the store is opened")
    for args in (("ls",), ("log", "x", "--name", "y"), ("gc",)):
        r = mvc(*args, cwd=f1)
        assert r.returncode == FormatError.exit_code, r.stderr
        assert "is format 1" in r.stderr and "mvc migrate" in r.stderr
    assert _files(f1 / ".mvc") == before


def test_dry_run_says_what_it_would_do_and_changes_nothing(f1):
    before = _files(f1 / ".mvc")
    d = js("migrate", "--dry-run", cwd=f1)
    assert d["dry_run"] and not d["done"]
    assert d["chunks"] == 30 and d["runs"] == 3
    assert d["renamed"]["refs/mvc/fx/artifacts/Model"] == "refs/mvc/fx/artifacts/%4dodel"
    assert d["renamed"]["refs/mvc/fx/artifacts/data.v1"] == "refs/mvc/fx/artifacts/data%2ev1"
    assert d["renamed"]["refs/mvc/registry/Model-prod"] == "refs/mvc/registry/%4dodel-prod"
    assert "refs/mvc/fx/artifacts/small-files" not in d["renamed"]
    assert _files(f1 / ".mvc") == before


def test_migrate_keeps_everything(f1, tmp_path):
    r = mvc("migrate", cwd=f1)
    assert r.returncode == 0, r.stderr
    assert "ref refs/mvc/fx/artifacts/Model -> refs/mvc/fx/artifacts/%4dodel" in r.stdout
    check_migrated(f1, tmp_path)
    assert not (f1 / ".mvc" / "migrate-2").exists()
    r = mvc("migrate", cwd=f1)                                 # again: nothing to do
    assert r.returncode == 0 and "nothing to do" in r.stdout


@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_each_point_leaves_a_store_one_format_reads_whole(f1, tmp_path, point):
    before = _files(f1 / ".mvc")
    r = mvc("migrate", cwd=f1, env={"MVC_TEST_CRASH_AT": point})
    assert r.returncode == -signal.SIGKILL, r.stderr
    _readable_by_one_format(f1, before)
    check_migrated_after_resume(f1, tmp_path)


def test_random_kills_during_migrate(f1, tmp_path):
    rng = random.Random()
    t0 = time.monotonic()
    assert mvc("migrate", "--dry-run", cwd=f1).returncode == 0
    span = max(0.3, (time.monotonic() - t0) * 1.5)
    for trial in range(4):
        root = tmp_path / f"t{trial}"
        shutil.copytree(f1, root)
        before = _files(root / ".mvc")
        p = subprocess.Popen([sys.executable, "-m", "mvc", "migrate"], cwd=str(root), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=dict(os.environ, MVC_SERVER="0", MVC_PROJECT="fx"))
        time.sleep(rng.uniform(0.1, span))
        p.send_signal(signal.SIGKILL)
        p.wait()
        _readable_by_one_format(root, before)
        check_migrated_after_resume(root, tmp_path / f"o{trial}")


def _readable_by_one_format(root, before: dict) -> None:
    info = json.loads((root / ".mvc" / "mvc-format.json").read_text())
    if info["format"] == 1:   # format-1 mvc reads exactly these files: each must be as it was
        now = _files(root / ".mvc")
        changed = [p for p, data in before.items() if now.get(p) != data]
        assert changed == [], changed
    else:
        assert info["format"] == 2 and set(info["features"]) <= {"migrating"}


def check_migrated_after_resume(root, tmp_path) -> None:
    info = json.loads((root / ".mvc" / "mvc-format.json").read_text())
    if info["format"] == 1:
        assert mvc("migrate", cwd=root).returncode == 0
    else:
        r = mvc("ls", cwd=root)            # any command finishes a migration cut short
        assert r.returncode == 0, r.stderr
    check_migrated(root, tmp_path)
