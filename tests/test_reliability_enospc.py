"""R16: log into a real small filesystem (tmpfs, else a loop-mounted ext4 image) until it is full."""
from __future__ import annotations

import os
import subprocess

import pytest

from mvc.errors import StorageFullError


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        img = tmp_path / "fs.img"
        subprocess.run(["truncate", "-s", "8M", str(img)], check=True)
        subprocess.run(["mkfs.ext4", "-q", str(img)], check=True)
        subprocess.run(["mount", "-o", "loop", str(img), str(mnt)], check=True)   # fails loudly, never skips
    yield mnt
    import gc
    gc.collect()  # close the store's open files (stat cache) before unmounting
    if subprocess.run(["umount", str(mnt)]).returncode != 0:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def _passes(small_fs, tmp_path, passes):
    from mvc.repo import Repository, create_store, gc
    from mvc.repo.fsck import fsck
    store = str(small_fs / ".mvc")
    create_store(store)
    r = Repository(store)
    full = 0
    for i in range(passes):
        src = tmp_path / f"src{i}.bin"
        src.write_bytes(os.urandom(300_000))
        try:
            r.log(str(src), f"m{i}", "model", "p")
        except StorageFullError as e:
            full += 1
            assert "it needs about" in e.message and "are free" in e.message
            assert r.artifacts.state("p", f"m{i}") is None                  # nothing half-made
            gc.run(r, gc.GcOptions(grace_s=0, retention_s=0))
            assert os.listdir(os.path.join(store, "tmp")) == []            # no orphan temp files
            assert fsck(r, git=False).ok
    assert full >= 1


def test_r16_disk_full(small_fs, tmp_path):
    _passes(small_fs, tmp_path, 10)
