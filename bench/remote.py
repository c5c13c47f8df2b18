"""A team's remote at scale: every ref is advertised on each git:// connection, so the
cost of a fetch and of a one-version push grows with the number of refs.  This generates
remotes of several sizes (artifacts, runs) and measures, over a real `git daemon` on
127.0.0.1 started here:

  list      the ref advertisement alone (GitRemote.heads)
  fetch     a first `mvc fetch` of everything into a new store (checked, tracking refs)
  pull      `mvc pull --no-bytes` after that fetch (this store's refs created)
  push1     a one-version push from that store (a new version of one artifact)
  noop      a push with nothing new from that store
  push1-new a one-version push from a new store that never pulled

Generation writes valid mvc artifacts (their digests check) with `git fast-import` (one
pack, refs packed after), not one loose object at a time: 110,000 commits in seconds.

    python bench/remote.py                      # sizes 1000:10000,3000:30000
    python bench/remote.py --sizes 10000:100000 # the issue's full size
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
os.environ.setdefault("MVC_SILENT", "1")

import blake3  # noqa: E402

from mvc import canonical  # noqa: E402
from mvc.repo.repository import artifact_digest_rows  # noqa: E402
from mvc.store import Pointer  # noqa: E402
from mvc.store.digest import file_digest  # noqa: E402

PROJECT = "bench"
WHEN = 1_700_000_000


def _data(out, payload: bytes) -> None:
    out.write(b"data %d\n" % len(payload))
    out.write(payload)
    out.write(b"\n")


def _inline(out, path: str, payload: bytes) -> None:
    out.write(f"M 100644 inline {path}\n".encode())
    _data(out, payload)


def _commit(out, ref: str, message: str, files: dict[str, bytes]) -> None:
    out.write(f"commit {ref}\n".encode())
    out.write(f"committer bench <bench@example.com> {WHEN} +0000\n".encode())
    _data(out, message.encode())
    for path, payload in files.items():
        _inline(out, path, payload)
    out.write(b"\n")


def artifact_files(i: int) -> dict[str, bytes]:
    """The tree of artifact a<i> with one version v0 of one file (a chunk nobody stores)."""
    name = f"a{i:06d}"
    cid = blake3.blake3(name.encode()).hexdigest()
    size = 1000 + i
    ptr = Pointer(size=size, digest=file_digest([(cid, size)]), chunks=((cid, size),))
    digest = artifact_digest_rows([["w.bin", size, ptr.digest]])
    record = {"digest": digest, "size": size, "files": 1, "metadata": {}, "description": "", "tags": [],
              "version": "v0", "name": name, "project": PROJECT, "entity": None, "type": "model",
              "created_at": WHEN, "created_by": None, "logged_by": []}
    info = {"name": name, "project": PROJECT, "entity": None, "type": "model", "next": 1, "created_at": WHEN}
    return {"artifact.json": canonical.dumps(info), "aliases.json": canonical.dumps({"latest": "v0"}),
            f"digests/{digest[:2]}/{digest[2:4]}/{digest[4:]}": b"v0\n",
            "versions/0/v0/version.json": canonical.dumps(record), "versions/0/v0/files/w.bin": ptr.encode()}


def run_files(i: int) -> dict[str, bytes]:
    rec = {"id": f"r{i:07d}", "name": f"run-{i}", "project": PROJECT, "state": "finished", "config": {"i": i},
           "summary": {"loss": 1.0 / (i + 1)}, "started_at": WHEN, "finished_at": WHEN + 1}
    return {"run.json": canonical.dumps(rec), "inputs.json": b"[]\n", "outputs.json": b"[]\n"}


def generate(bare: str, artifacts: int, runs: int) -> float:
    start = time.perf_counter()
    subprocess.run(["git", "init", "-q", "--bare", bare], check=True)
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=bare, stdin=subprocess.PIPE)
    out = proc.stdin
    for i in range(artifacts):
        _commit(out, f"refs/mvc/{PROJECT}/artifacts/a{i:06d}", f"log a{i:06d}:v0\n\nMvc-Op: log\n",
                artifact_files(i))
    for i in range(runs):
        _commit(out, f"refs/mvc/{PROJECT}/runs/r{i:07d}", "run\n\nMvc-Op: run\n", run_files(i))
    out.close()
    assert proc.wait() == 0
    subprocess.run(["git", "pack-refs", "--all"], cwd=bare, check=True)
    return time.perf_counter() - start


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def measure(base: str, server, artifacts: int, runs: int) -> dict:
    import mvc
    from mvc.remote.gitsync import GitRemote
    from mvc.remote.remotes import RemoteConfig
    name = f"r{artifacts}-{runs}.git"
    gen = generate(os.path.join(base, name), artifacts, runs)
    url = server.url(name)
    store = os.path.join(base, f"s{artifacts}")
    api = mvc.Api(dir=store, project=PROJECT, create=True)
    api.add_remote("origin", url, storage=os.path.join(base, "bytes"))
    t_list, heads = timed(lambda: GitRemote(api.repo.meta.git, RemoteConfig("origin", url, None)).heads())
    t_fetch, _ = timed(api.fetch)
    t_pull, _ = timed(lambda: api.pull(no_bytes=True))
    f = os.path.join(base, "new.bin")
    with open(f, "wb") as fh:
        fh.write(os.urandom(4096))
    with mvc.init(project=PROJECT, dir=store) as run:
        run.log_model(f, name="a000000")
    t_push1, summary = timed(api.push)
    noop = sorted(timed(api.push)[0] for _ in range(3))[1]
    fresh = mvc.Api(dir=os.path.join(base, f"n{artifacts}"), project=PROJECT, create=True)
    fresh.add_remote("origin", url, storage=os.path.join(base, "bytes"))
    with mvc.init(project=PROJECT, dir=fresh.repo.path) as run:
        run.log_model(f, name=f"new{artifacts}")
    t_new, _ = timed(fresh.push)
    return {"artifacts": artifacts, "runs": runs, "refs": len(heads), "generate": gen, "list": t_list,
            "fetch": t_fetch, "pull": t_pull, "push1": t_push1, "noop": noop, "push1-new": t_new,
            "renumbered": summary["renumbered"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000:10000,3000:30000")
    args = ap.parse_args()
    from git_servers import GitDaemon
    base = tempfile.mkdtemp(prefix="mvc-bench-remote-")
    server = GitDaemon(base)
    try:
        print("artifacts  runs     refs    gen_s  list_s  fetch_s  pull_s  push1_s  noop_s  push1_new_s")
        for size in args.sizes.split(","):
            a, r = (int(x) for x in size.split(":"))
            m = measure(base, server, a, r)
            print(f"{m['artifacts']:>9}  {m['runs']:>6}  {m['refs']:>7}  {m['generate']:>6.1f}  {m['list']:>6.2f}  "
                  f"{m['fetch']:>7.1f}  {m['pull']:>6.1f}  {m['push1']:>7.2f}  {m['noop']:>6.2f}  "
                  f"{m['push1-new']:>11.2f}", flush=True)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
