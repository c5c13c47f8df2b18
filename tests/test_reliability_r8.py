"""R8: a failing chunker (MVC_TEST_CORRUPT_CHUNK=<n> flips one byte of the n-th chunk
after it is hashed, before it is written) makes `mvc log` fail with an integrity
error before any ref moves; nothing damaged is published; the next log succeeds."""
from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from reliability_kit import fsck_clean, make_store, repo

MVC = [os.path.join(os.path.dirname(sys.executable), "mvc")]


def _mvc(store: str, *args, corrupt: int | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, MVC_DIR=store, MVC_PROJECT="p")
    env.pop("MVC_TEST_CORRUPT_CHUNK", None)
    if corrupt is not None:
        env["MVC_TEST_CORRUPT_CHUNK"] = str(corrupt)
    return subprocess.run(MVC + ["-q", *args], capture_output=True, text=True, env=env, timeout=120)


def _refs(store: str) -> list[str]:
    """Every ref but the runs' (the CLI records the failed run, as it should)."""
    out = subprocess.run(["git", "--git-dir", store, "for-each-ref", "--format=%(refname) %(objectname)"],
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "/runs/" not in line]


def _big(tmp_path, tag: str):
    p = tmp_path / f"big-{tag}.bin"
    # 9 MiB: FastCDC cuts at most every 4 MiB, so always >= 3 chunks, written loose
    p.write_bytes(random.Random(tag).randbytes(9 << 20))
    return p


def _small(tmp_path, tag: str):
    d = tmp_path / f"small-{tag}"
    d.mkdir()
    for i in range(12):                          # 12 one-chunk files of 20 KB: written as one pack
        (d / f"f{i:02}.bin").write_bytes(os.urandom(20_000))
    return d


@pytest.mark.parametrize("make,nth", [(_big, 1), (_big, 2), (_small, 1), (_small, 7), (_small, 12)])
def test_r8_corrupted_chunk_fails_before_any_ref_moves(tmp_path, make, nth):
    store = make_store(tmp_path)
    assert _mvc(store, "log", str(_big(tmp_path, "seed")), "--name", "m").returncode == 0
    before = _refs(store)
    chunks_before = set(repo(store).chunks.ids())
    src = make(tmp_path, "x")
    r = _mvc(store, "log", str(src), "--name", "m", corrupt=nth)
    assert r.returncode == 5, r.stderr                              # IntegrityError's exit code
    assert "was written wrong" in r.stderr and "nothing was published" in r.stderr
    assert "hint:" in r.stderr
    assert _refs(store) == before                                   # no artifact, alias or registry ref moved
    assert set(repo(store).chunks.ids()) == chunks_before           # nothing published, damaged or not
    assert os.listdir(os.path.join(store, "tmp")) == []             # temps removed
    fsck_clean(store)
    ok = _mvc(store, "log", str(src), "--name", "m")                # the seam off: the same log succeeds
    assert ok.returncode == 0, ok.stderr
    r = repo(store)
    v, _ = r.resolve("p/m:latest")
    assert v.version == "v1" and r.verify(v) == []
    fsck_clean(store)


def test_r8_seam_is_inert_unless_set(tmp_path):
    store = make_store(tmp_path)
    assert _mvc(store, "log", str(_small(tmp_path, "a")), "--name", "m").returncode == 0
    assert _mvc(store, "log", str(_big(tmp_path, "b")), "--name", "m", corrupt=10_000).returncode == 0
    r = repo(store)
    assert [r.verify(r.resolve(f"p/m:v{i}")[0]) for i in (0, 1)] == [[], []]
