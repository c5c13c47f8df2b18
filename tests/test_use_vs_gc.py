"""A use holds a lease naming the version it reads, so gc keeps its chunks until the read ends;
a use that loses the race anyway says the version was deleted, not "chunk missing" (issue 9,
item 7).  Real processes: a reader holding its lease in one, `mvc delete` and `mvc gc` in others."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mvc.errors import NotFoundError


def mvc(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mvc", *map(str, args)], cwd=str(cwd),
                          env=dict(os.environ, MVC_SERVER="0"), capture_output=True, text=True, timeout=120)


def _chunks(project) -> set:
    return {n for _, _, names in os.walk(project / ".mvc" / "chunks") for n in names}


@pytest.fixture
def logged(project):
    (project / "w.bin").write_bytes(os.urandom(3 << 20))
    assert mvc("log", "w.bin", "--name", "A", cwd=project).returncode == 0
    (project / "w2.bin").write_bytes(os.urandom(10_000))
    assert mvc("log", "w2.bin", "--name", "A", cwd=project).returncode == 0   # v1 takes `latest` off v0
    return project


def test_gc_keeps_what_a_live_reader_reads(logged):
    from mvc.api import Api
    tree = str(Api().artifact("A:v0")._info.tree)
    # A reader in another process, holding its lease as a download does (Repository.download).
    reader = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom mvc.repo.lease import Lease\n"
        f"with Lease({str(logged / '.mvc')!r}, 'use', reads=[{tree!r}]):\n"
        "    print('holding', flush=True)\n    time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "holding"
        before = _chunks(logged)
        assert mvc("delete", "A:v0", cwd=logged).returncode == 0
        r = mvc("gc", "--grace", "0s", "--retention", "0s", cwd=logged)
        assert r.returncode == 0, r.stderr
        assert _chunks(logged) == before                        # the reader's version kept every chunk
    finally:
        reader.kill()
        reader.wait()
    r = mvc("gc", "--grace", "0s", "--retention", "0s", cwd=logged)
    assert r.returncode == 0, r.stderr
    assert len(_chunks(logged)) < len(before)                   # once it is gone, gc takes them


def test_a_use_that_lost_the_race_says_the_version_was_deleted(logged, tmp_path):
    from mvc.api import Api
    art = Api().artifact("A:v0")                                # resolved: the use is under way
    assert mvc("delete", "A:v0", cwd=logged).returncode == 0
    assert mvc("gc", "--grace", "0s", "--retention", "0s", cwd=logged).returncode == 0
    with pytest.raises(NotFoundError) as ei:
        art.download(str(tmp_path / "out"))
    assert "A:v0 was deleted while it was being read" in ei.value.message
    assert "run `mvc fsck`" not in str(ei.value)
    assert not (tmp_path / "out").exists()


def test_a_download_leaves_no_lease_behind(logged, tmp_path):
    assert mvc("use", "A:v0", "-o", tmp_path / "o", cwd=logged).returncode == 0
    assert os.listdir(logged / ".mvc" / "leases") == []
