"""A damaged ref never costs data (issue 9, item 1; RELIABILITY.md R11).

A ref file truncated or emptied (a power cut on a filesystem without data
ordering, a bad copy) used to make libgit2 leave the artifact out of every
listing: `mvc ls` did not show it, `mvc gc` did not mark it and deleted its
chunks, and every command that named it died with a raw GitError.  Now gc
refuses, listings name what they could not read, every command gives a typed
error naming the ref, and `mvc fsck --repair` puts the ref back.  Real `mvc`
processes against a real store.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mvc.errors import IntegrityError
from mvc.meta import refs
from mvc.meta.layout import version_path

PROJECT = "proj"
REF_A, REF_RM = refs.artifact(PROJECT, "A"), refs.registry("RM")


def mvc(*args, cwd):
    env = dict(os.environ, MVC_SERVER="0")
    return subprocess.run([sys.executable, "-m", "mvc", *map(str, args)], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=120)


def _chunk_files(project) -> dict:
    out = {}
    for base, _, names in os.walk(project / ".mvc" / "chunks"):
        for n in names:
            out[os.path.join(base, n)] = os.path.getsize(os.path.join(base, n))
    return out


@pytest.fixture
def world(project):
    """Two artifacts (A with two versions, one of many chunks; B) and a registered model linking A:v0."""
    (project / "a0").write_bytes(os.urandom(3 << 20))   # several chunks
    (project / "a1").write_bytes(os.urandom(40_000))
    (project / "b").write_bytes(os.urandom(30_000))
    for args in (("log", "a0", "--name", "A"), ("log", "a1", "--name", "A"), ("log", "b", "--name", "B"),
                 ("link", "A:v0", "--to", "RM")):
        r = mvc(*args, cwd=project)
        assert r.returncode == 0, r.stderr
    return project


def _ref(project, refname):
    return project / ".mvc" / refname


@pytest.mark.parametrize("damage", [b"2ca0e8f8", b"", b"not a ref at all\n"])
def test_gc_refuses_and_keeps_every_chunk(world, damage):
    _ref(world, REF_A).write_bytes(damage)
    before = _chunk_files(world)
    for grace in ("0s", "1h"):
        r = mvc("gc", "--grace", grace, cwd=world)
        assert r.returncode == IntegrityError.exit_code, r.stdout + r.stderr
        assert REF_A in r.stderr and "artifact proj/A" in r.stderr
        assert "Traceback" not in r.stderr
    assert _chunk_files(world) == before                     # 0 chunks lost, none even rewritten


def test_gc_refuses_over_a_damaged_registry_ref(world):
    _ref(world, REF_RM).write_bytes(b"")
    before = _chunk_files(world)
    r = mvc("gc", "--grace", "0s", cwd=world)
    assert r.returncode == IntegrityError.exit_code
    assert REF_RM in r.stderr and "is empty" in r.stderr
    assert _chunk_files(world) == before


def test_gc_refuses_over_a_damaged_packed_refs_line(world):
    subprocess.run(["git", "--git-dir", str(world / ".mvc"), "pack-refs", "--all"], check=True)
    packed = world / ".mvc" / "packed-refs"
    text = packed.read_text()
    line = next(li for li in text.splitlines() if li.endswith(" " + REF_A))
    packed.write_text(text.replace(line, line[:10] + " " + line.split(" ", 1)[1]))
    before = _chunk_files(world)
    r = mvc("gc", "--grace", "0s", cwd=world)
    assert r.returncode == IntegrityError.exit_code and "packed-refs" in r.stderr
    assert _chunk_files(world) == before


def test_listings_say_what_they_could_not_read(world):
    _ref(world, REF_A).write_bytes(b"2ca0e8f8")
    _ref(world, REF_RM).write_bytes(b"")
    r = mvc("ls", cwd=world)
    assert r.returncode == IntegrityError.exit_code
    assert "B " in r.stdout                                   # what can be read is still listed
    assert "could not read artifact proj/A" in r.stderr and "mvc fsck --repair" in r.stderr
    r = mvc("ls", "--json", cwd=world)
    assert [row["name"] for row in json.loads(r.stdout)] == ["B"] and "proj/A" in r.stderr
    assert r.returncode == IntegrityError.exit_code
    r = mvc("registry", "ls", cwd=world)
    assert r.returncode == IntegrityError.exit_code and "registered model registry/RM" in r.stderr
    assert "(no registered models)" in r.stdout


@pytest.mark.parametrize("argv", [("ls", "A"), ("show", "A:v0"), ("use", "A:v0", "-o", "out"), ("verify", "A"),
                                  ("log", "b", "--name", "A"), ("alias", "set", "A:v0", "best"),
                                  ("lineage", "A:v0"), ("alias", "history", "A")])
def test_every_command_names_the_ref(world, argv):
    _ref(world, REF_A).write_bytes(b"2ca0e8f8")
    r = mvc(*argv, cwd=world)
    assert r.returncode == IntegrityError.exit_code, r.stderr
    assert "Traceback" not in r.stderr
    assert f"ref {REF_A} (artifact proj/A) is damaged" in r.stderr
    assert "truncated" in r.stderr and "mvc fsck --repair" in r.stderr
    assert not (world / "out").exists()


def test_api_raises_a_typed_error(world, monkeypatch):
    import mvc as m
    _ref(world, REF_A).write_bytes(b"")
    with pytest.raises(IntegrityError, match="artifacts/%41 .*is damaged: its file is empty"):
        m.Api().artifact("A:v0")
    assert [d["name"] for d in m.Api().damaged_refs()] == ["A"]


def test_fsck_names_the_artifact_and_its_versions_and_repairs(world):
    good = _ref(world, REF_A).read_text().strip()
    _ref(world, REF_A).write_bytes(b"2ca0e8f8")
    r = mvc("fsck", "--json", cwd=world)
    assert r.returncode == IntegrityError.exit_code
    bad = [p for p in json.loads(r.stdout)["problems"] if p["kind"] == "damaged-ref"]
    assert len(bad) == 1 and bad[0]["object"] == REF_A
    assert bad[0]["versions"] == ["proj/A:v0", "proj/A:v1"]
    assert good[:12] in bad[0]["fix"] and "mvc fsck --repair" in bad[0]["fix"]
    r = mvc("fsck", "--repair", cwd=world)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _ref(world, REF_A).read_text().strip() == good
    r = mvc("use", "A:v0", "-o", "out", cwd=world)
    assert r.returncode == 0, r.stderr
    assert (world / "out" / "a0").read_bytes() == (world / "a0").read_bytes()


def test_repair_finds_the_newest_commit_not_an_older_one(world):
    """After an alias move the ref's newest commit is not the log's: repair must pick it."""
    assert mvc("alias", "set", "A:v0", "best", cwd=world).returncode == 0
    good = _ref(world, REF_A).read_text().strip()
    _ref(world, REF_A).write_bytes(b"")
    assert mvc("fsck", "--repair", cwd=world).returncode == 0
    assert _ref(world, REF_A).read_text().strip() == good
    assert "best" in mvc("ls", "A", cwd=world).stdout


def test_a_ref_with_no_commit_left_is_reported_not_repaired(world):
    _ref(world, refs.artifact(PROJECT, "Ghost")).write_bytes(b"abc")
    r = mvc("fsck", "--repair", "--json", cwd=world)
    assert r.returncode == IntegrityError.exit_code
    ghost = [p for p in json.loads(r.stdout)["problems"] if p["object"] == refs.artifact(PROJECT, "Ghost")]
    assert ghost and "no commit of it is left" in ghost[0]["fix"]
    assert _ref(world, refs.artifact(PROJECT, "Ghost")).read_bytes() == b"abc"


def _damage_object(project, spec: str) -> None:
    oid = subprocess.run(["git", "--git-dir", str(project / ".mvc"), "rev-parse", spec], capture_output=True,
                         text=True, check=True).stdout.strip()
    path = project / ".mvc" / "objects" / oid[:2] / oid[2:]
    os.chmod(path, 0o644)
    path.write_bytes(b"garbage")


def test_fsck_names_the_versions_of_a_damaged_tip_commit(world):
    _damage_object(world, REF_A)
    r = mvc("fsck", "--json", "--no-git", cwd=world)
    assert r.returncode == IntegrityError.exit_code
    (bad,) = [p for p in json.loads(r.stdout)["problems"] if p["object"] == REF_A]
    assert bad["versions"] == ["proj/A:v0"] and "held v0 at its newest readable commit" in bad["message"]


def test_fsck_advice_for_a_damaged_pointer_is_about_metadata(world):
    _damage_object(world, f"{REF_A}:{version_path('v1')}/files/a1")
    r = mvc("fsck", "--json", "--no-git", cwd=world)
    (bad,) = [p for p in json.loads(r.stdout)["problems"] if p["kind"] == "bad-pointer"]
    assert bad["versions"] == ["proj/A:v1"]
    assert "restore the metadata" in bad["fix"] and "re-log" not in bad["fix"]
