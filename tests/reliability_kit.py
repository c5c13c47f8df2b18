"""Helpers for the reliability tests: real subprocesses that log, move aliases,
read and run gc against one store, and a fresh-store factory."""
from __future__ import annotations

import os
import subprocess
import sys

PY = sys.executable

WRITER = r"""
import os, sys
from mvc.repo import Repository
store, name, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
r = Repository(store)
for i in range(n):
    path = os.path.join(os.path.dirname(store), f"src-{tag}-{i}.bin")
    with open(path, "wb") as f:
        f.write(f"{tag}-{i}-".encode() + os.urandom(2000))
    res = r.log(path, name, "model", "p")
    print(res.version.version, flush=True)
"""

READER = r"""
import sys, tempfile, shutil
from mvc.repo import Repository
store, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = Repository(store)
ok = 0
for i in range(n):
    v, _ = r.resolve(f"p/{name}:latest")
    d = tempfile.mkdtemp()
    out = r.download(v, d + "/o")
    ok += 1
    shutil.rmtree(d)
print(ok)
"""

GC_LOOP = r"""
import sys, time, os
from mvc.repo import Repository, gc
store, grace, stop = sys.argv[1], float(sys.argv[2]), sys.argv[3]
r = Repository(store)
runs = 0
while not os.path.exists(stop):
    gc.run(r, gc.GcOptions(grace_s=grace, retention_s=0))
    runs += 1
    time.sleep(0.1)
print(runs)
"""


def make_store(tmp_path) -> str:
    from mvc.repo import create_store
    path = str(tmp_path / "s" / ".mvc")
    create_store(path)
    return path


def spawn(code: str, *args, env: dict | None = None) -> subprocess.Popen:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.Popen([PY, "-c", code, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=e)


def finish(procs, timeout: float = 300) -> list[str]:
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err[-3000:]
        outs.append(out)
    return outs


def repo(store: str):
    from mvc.repo import Repository
    return Repository(store)


def fsck_clean(store: str):
    from mvc.repo.fsck import fsck
    rep = fsck(repo(store))
    assert rep.ok, "\n".join(p.text() for p in rep.problems)
    return rep


def assert_gc_sweeps_only(store, folder: str, old: str, young: str, before: list[str]) -> None:
    """gc with a 1 h grace plans ``old`` (an orphan pack past the grace) and nothing else in its dry
    run, which deletes nothing; the real run does exactly that; ``young`` and ``before`` stay."""
    from mvc.repo import gc
    from mvc.repo.fsck import fsck
    opts = gc.GcOptions(grace_s=3600)
    dry = gc.run(store, opts, dry_run=True)
    assert dry.orphan_packs == [old] and f"pack {old}" in dry.lines()
    assert os.path.exists(old)                                         # the dry run deleted nothing
    real = gc.run(store, opts)
    assert real.lines() == dry.lines()
    assert sorted(os.listdir(folder)) == sorted(before + [os.path.basename(young)])
    assert fsck(store).ok


def flip_byte(path: str, at: int, mask: int = 0x40) -> None:
    """XOR the byte at ``at`` of ``path`` with ``mask`` in place (stored files are read-only)."""
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ mask]))
