"""A diff holds a lease naming both versions it reads, as a use does: `mvc delete` and `mvc gc`
run in other processes while it reads cannot take their chunks from under it."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from diff_kit import safetensors, tensor_bytes


def mvc(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mvc", *map(str, args)], cwd=str(cwd), env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


def _chunks(project) -> set:
    return {n for _, _, names in os.walk(project / ".mvc" / "chunks") for n in names}


def _model(path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tensors = {f"t{i}": ("F32", (256, 1024), tensor_bytes("F32", rng.standard_normal(256 * 1024)))
               for i in range(4)}
    path.write_bytes(safetensors(tensors))


def test_gc_during_a_diff_keeps_what_it_reads(project):
    from mvc.api import Api
    _model(project / "model.safetensors", 1)
    assert mvc("log", "model.safetensors", "--name", "M", cwd=project).returncode == 0
    _model(project / "model.safetensors", 2)
    assert mvc("log", "model.safetensors", "--name", "M", cwd=project).returncode == 0
    before = _chunks(project)
    raced = []

    def midway(nbytes):  # called as tensor bytes are compared: the diff is reading
        if raced:
            return
        raced.append(mvc("delete", "M:v0", cwd=project))
        raced.append(mvc("gc", "--grace", "0s", "--retention", "0s", cwd=project))

    out = Api().diff("M:v0", "M:v1", progress=midway)
    assert [r.returncode for r in raced] == [0, 0], [r.stderr for r in raced]
    changed = [t for f in out["files"] if f["tensors"] for t in f["tensors"]["changed"]]
    assert len(changed) == 4 and all(t["cosine"] < 0.5 for t in changed), changed
    assert _chunks(project) == before                   # gc ran and kept every chunk the diff held
    assert mvc("gc", "--grace", "0s", "--retention", "0s", cwd=project).returncode == 0
    assert len(_chunks(project)) < len(before)          # once the diff is over, v0's are taken


def test_a_diff_that_lost_the_race_says_the_version_was_deleted(project):
    import pytest

    from mvc.api import Api
    from mvc.errors import NotFoundError
    from mvc.repo.diff import diff_versions
    _model(project / "model.safetensors", 1)
    assert mvc("log", "model.safetensors", "--name", "M", cwd=project).returncode == 0
    _model(project / "model.safetensors", 2)
    assert mvc("log", "model.safetensors", "--name", "M", cwd=project).returncode == 0
    repo = Api().repo
    va, _ = repo.resolve("M:v0", "proj")
    vb, _ = repo.resolve("M:v1", "proj")
    repo.entries(va)                                     # listed: the diff is under way, no lease yet
    assert mvc("delete", "M:v0", cwd=project).returncode == 0
    assert mvc("gc", "--grace", "0s", "--retention", "0s", cwd=project).returncode == 0
    with pytest.raises(NotFoundError, match="was deleted while it was being read"):
        diff_versions(repo, va, vb)
