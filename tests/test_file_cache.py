"""The whole-file cache that `use --link hardlink` builds (store/linkmodes.py): shown by `mvc du`,
bounded by cache.max_size / MVC_CACHE_MAX, trimmed least recently used first by `gc` (never an
entry used since a live lease began), and its cost told on a first use."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

import mvc
from mvc.cli import cli
from mvc.store.linkmodes import DEFAULT_CACHE_MAX, cached_files

BIG = 9 << 20  # spans several chunks (FastCDC cuts random bytes at most every 4 MiB): built whole on use


def run_cli(*args, code=0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, (res.output, res.stderr, res.exception)
    return res


@pytest.fixture
def versions(project):
    """Three one-file versions M:v0..v2, each a different multi-chunk file."""
    rnd = random.Random(11)
    d = project / "model"
    d.mkdir()
    for _ in range(3):
        (d / "big.bin").write_bytes(rnd.randbytes(BIG))
        with mvc.init() as run:
            run.log_model(str(d), name="M")
    return project


def cache_paths(project) -> list[str]:
    return sorted(e.path for e in cached_files(str(project / ".mvc")))


def age(path: str, seconds: float) -> None:
    """Make a cache entry built and last used ``seconds`` ago (atime and mtime)."""
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_du_shows_the_cache_python_and_cli(versions):
    api = mvc.Api()
    assert api.du()["file_cache"] == {"files": 0, "bytes": 0, "shared": 0, "limit": DEFAULT_CACHE_MAX}
    api.artifact("M:v0").download(str(versions / "out"), link="hardlink")
    cache = api.du()["file_cache"]
    assert cache["files"] == 1 and cache["bytes"] == BIG and cache["shared"] == BIG  # the use holds it too
    assert api.file_cache()["files"] == 1
    text = run_cli("du").stdout
    assert "file cache: 1 whole file, 9.0 MiB (9.0 MiB shared with hardlinked uses), limit 20.0 GiB" in text
    assert json.loads(run_cli("du", "--json").stdout)["file_cache"]["bytes"] == BIG
    os.remove(versions / "out" / "big.bin")  # the use's file gone: the cache entry alone holds the bytes
    assert api.du()["file_cache"]["shared"] == 0


def test_gc_trims_least_recently_used_down_to_the_limit(versions, monkeypatch):
    api = mvc.Api()
    outs = {}
    for v in ("v0", "v1", "v2"):
        outs[v] = api.artifact(f"M:{v}").download(str(versions / f"out-{v}"), link="hardlink")
    paths = cache_paths(versions)
    assert len(paths) == 3
    by_version = {v: os.path.realpath(_cache_entry_of(outs[v], paths)) for v in outs}
    age(by_version["v1"], 3000)  # oldest
    age(by_version["v0"], 2000)
    age(by_version["v2"], 1000)  # newest
    monkeypatch.setenv("MVC_CACHE_MAX", str(2 * BIG))  # room for two
    dry = api.gc(dry_run=True, grace="10m")
    assert dry.cache == [by_version["v1"]] and dry.cache_bytes == BIG and cache_paths(versions) == paths
    assert f"cache {by_version['v1']}" in dry.lines()
    monkeypatch.setenv("MVC_CACHE_MAX", "10M")  # room for one: the two oldest go, via the CLI
    res = json.loads(run_cli("gc", "--grace", "10m", "--json").stdout)
    assert sorted(res["cache"]) == sorted([by_version["v1"], by_version["v0"]]) and res["cache_bytes"] == 2 * BIG
    assert cache_paths(versions) == [by_version["v2"]]
    # the hardlinked uses keep their bytes (the inode lives on); the next hardlinked use rebuilds the entry
    for v in ("v0", "v1"):
        mvc.Api().artifact(f"M:{v}").verify()
        assert os.path.getsize(os.path.join(outs[v], "big.bin")) == BIG
    again = api.artifact("M:v1").download(str(versions / "again"), link="hardlink")
    assert os.path.getsize(os.path.join(again, "big.bin")) == BIG and len(cache_paths(versions)) == 2


def _cache_entry_of(folder: str, paths: list[str]) -> str:
    ino = os.stat(os.path.join(folder, "big.bin")).st_ino
    return next(p for p in paths if os.stat(p).st_ino == ino)


def test_gc_keeps_what_the_grace_period_and_a_live_lease_cover(versions, monkeypatch):
    api = mvc.Api()
    for v in ("v0", "v1"):
        api.artifact(f"M:{v}").download(str(versions / f"out-{v}"), link="hardlink")
    monkeypatch.setenv("MVC_CACHE_MAX", "0")
    assert api.gc(dry_run=True).cache == []  # both used within the default grace (1h)
    old, held = cache_paths(versions)
    age(old, 7200)
    age(held, 7200)
    # A real process holds a use's lease and uses `held` meanwhile (as a use hands out an entry).
    code = ("import os, sys, time\nfrom mvc.repo.lease import Lease\n"
            f"with Lease({str(versions / '.mvc')!r}, 'use'):\n"
            f"    st = os.stat({held!r}); os.utime({held!r}, ns=(time.time_ns(), st.st_mtime_ns))\n"
            "    print('ready', flush=True); sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        report = api.gc(grace="0s")
        assert report.cache == [old] and cache_paths(versions) == [held]
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert api.gc(grace="0s").cache == [held] and cache_paths(versions) == []  # the lease gone, so is the cover


def test_a_bad_limit_is_a_clear_error(versions, monkeypatch):
    monkeypatch.setenv("MVC_CACHE_MAX", "lots")
    res = run_cli("gc", "--dry-run", code=2)
    assert "MVC_CACHE_MAX" in res.stderr and "Traceback" not in res.stderr


def test_first_hardlinked_use_says_what_the_cache_costs(versions, monkeypatch):
    monkeypatch.delenv("MVC_SILENT")
    first = run_cli("use", "M:v0", "-o", versions / "a", "--link", "hardlink")
    assert "mvc: note: --link hardlink added 9.0 MiB of whole files to the store's file cache" in first.stderr
    assert "limit 20.0 GiB" in first.stderr and "mvc gc" in first.stderr
    assert first.stdout.strip() == str(versions / "a" / "big.bin")
    second = run_cli("use", "M:v0", "-o", versions / "b", "--link", "hardlink")
    assert "file cache" not in second.stderr  # nothing added: no cost to tell
    copy = run_cli("use", "M:v1", "-o", versions / "c")
    assert "file cache" not in copy.stderr
    quiet = run_cli("-q", "use", "M:v2", "-o", versions / "d", "--link", "hardlink")
    assert quiet.stderr == "" and len(cache_paths(versions)) == 2
