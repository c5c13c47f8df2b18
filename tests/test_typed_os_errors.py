"""Disk full, read-only and foreign-owned stores are typed errors, never tracebacks (issue 9, item 3).

Real small filesystems (tmpfs mounts, as root; skipped with the reason elsewhere),
real `mvc` processes, real `git config` for the ownership rule.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from mvc.errors import ReadOnlyError, StorageFullError, UnsafeStoreError

from conftest import snapshot_tree

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="mounting a small or read-only tmpfs and chown need root")


def mvc(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "mvc", *map(str, args)], cwd=str(cwd),
                          env=dict(os.environ, MVC_SERVER="0", **(env or {})),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def mount(tmp_path):
    mounted = []

    def make(size: str):
        mnt = tmp_path / f"mnt{len(mounted)}"
        mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
        mounted.append(mnt)
        return mnt
    yield make
    import gc
    gc.collect()  # close the stat cache's files before unmounting
    for mnt in mounted:
        if subprocess.run(["umount", str(mnt)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=True)


def _free_in(message: str) -> int:
    return int(re.search(r"(\d+) bytes(?: \([0-9.]+ MiB\))? are free", message).group(1))


@needs_root
def test_disk_full_while_writing_metadata_is_typed_with_the_whole_need(mount, tmp_path):
    """Sweep how much room is left after the chunks: every failure is a StorageFullError that gives
    the whole log's need and the free space measured once the failed temp files are gone; some of
    them happen in libgit2's metadata writes (the raw `OSError: failed to write out file` before)."""
    from mvc.repo import Repository, create_store
    mnt = mount("2m")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(20):
        (src / f"f{i}.txt").write_bytes(os.urandom(2000))
    in_metadata = failures = successes = 0
    for leave in range(0, 400_000, 4096):
        if successes >= 2:
            break
        for n in os.listdir(mnt):
            p = mnt / n
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        create_store(str(mnt / ".mvc"))
        repo = Repository(str(mnt / ".mvc"))
        (mnt / "filler").write_bytes(b"\0" * max(0, shutil.disk_usage(mnt).free - leave - 45_000))
        try:
            repo.log(str(src), "m", "model", "p")
            successes += 1
        except StorageFullError as e:
            failures += 1
            assert "it needs about" in e.message and str(src) in e.message
            assert os.listdir(mnt / ".mvc" / "tmp") == []                           # the temps went first
            assert _free_in(e.message) <= shutil.disk_usage(mnt).free
            assert not [n for n in os.listdir(mnt / ".mvc") if n.endswith(".corrupt")]  # full is not corrupt
            assert repo.artifacts.state("p", "m") is None                          # nothing half-made
            cause = e.__cause__
            in_metadata += isinstance(cause, StorageFullError) and "metadata" in cause.message
        finally:
            repo.stat_cache.close()
    assert failures >= 3 and in_metadata >= 1 and successes, (failures, in_metadata, successes)


@needs_root
def test_use_onto_a_full_filesystem(mount, project):
    (project / "big.bin").write_bytes(os.urandom(3 << 20))
    assert mvc("log", "big.bin", "--name", "Big", cwd=project).returncode == 0
    mnt = mount("1m")
    r = mvc("use", "Big", "-o", mnt / "out", cwd=project)
    assert r.returncode == StorageFullError.exit_code, r.stderr
    assert "Traceback" not in r.stderr
    assert f"it needs about {3 << 20} bytes" in r.stderr and "are free" in r.stderr
    assert os.listdir(mnt) == []                                  # no half-written folder, no temp


@pytest.fixture
def ro_store(mount):
    mnt = mount("20m")
    (mnt / "a.bin").write_bytes(os.urandom(100_000))
    for args in (("init",), ("log", "a.bin", "--name", "A")):
        assert mvc(*args, cwd=mnt).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
    yield mnt
    subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)


@needs_root
def test_read_only_store_readers_work(ro_store, tmp_path):
    before = snapshot_tree(ro_store)
    for args in (("ls",), ("ls", "A"), ("show", "A"), ("verify", "A"), ("lineage", "A"), ("runs", "ls"),
                 ("gc", "--dry-run"), ("fsck",)):
        r = mvc(*args, cwd=ro_store)
        assert r.returncode == 0, (args, r.stderr)
    r = mvc("use", "A", "-o", tmp_path / "out", cwd=ro_store)
    assert r.returncode == 0, r.stderr
    assert "not recorded as a run" in r.stderr and "read-only" in r.stderr
    assert (tmp_path / "out" / "a.bin").read_bytes() == (ro_store / "a.bin").read_bytes()
    assert snapshot_tree(ro_store) == before


@needs_root
@pytest.mark.parametrize("argv", [("log", "a.bin", "--name", "A2"), ("alias", "set", "A:v0", "best"),
                                  ("link", "A:v0", "--to", "RM"), ("delete", "A:v0", "--delete-aliases"), ("gc",)])
def test_read_only_store_writers_fail_typed(ro_store, argv):
    before = snapshot_tree(ro_store)
    r = mvc(*argv, cwd=ro_store)
    assert r.returncode == ReadOnlyError.exit_code, (argv, r.stderr)
    assert "Traceback" not in r.stderr and "read-only filesystem" in r.stderr
    assert str(ro_store) in r.stderr
    assert snapshot_tree(ro_store) == before


@needs_root
def test_read_only_store_through_python(ro_store, tmp_path, monkeypatch):
    import mvc as m
    monkeypatch.chdir(ro_store)
    with pytest.raises(ReadOnlyError, match="read-only"):
        m.init(project="p")
    path = m.Api().artifact("A").download(str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "a.bin").read_bytes() == (ro_store / "a.bin").read_bytes() and path


@needs_root
def test_store_of_another_owner_says_how_to_trust_it(project):
    (project / "a.bin").write_bytes(os.urandom(10_000))
    assert mvc("log", "a.bin", "--name", "A", cwd=project).returncode == 0
    store = project / ".mvc"
    subprocess.run(["chown", "-R", "65534:65534", str(store)], check=True)
    r = mvc("ls", cwd=project)
    assert r.returncode == UnsafeStoreError.exit_code and "Traceback" not in r.stderr
    assert "dubious ownership" in r.stderr and "uid 65534" in r.stderr
    assert f"git config --global --add safe.directory {store}" in r.stderr
    subprocess.run(["git", "config", "--global", "--add", "safe.directory", str(store)], check=True)  # as told
    r = mvc("ls", cwd=project)
    assert r.returncode == 0 and "A " in r.stdout, r.stderr
