"""Flip bits of a store's git pack (and its .idx) at every byte position and read every
version after each flip, in a worker subprocess watched with a timeout: which flips hang a
read, which deliver a wrong result, which raise an untyped error (docs/reliability.md, R6).

    /tmp/venv/bin/python bench/git_pack_flips.py                    # every byte, bits 0, 4 and 7
    /tmp/venv/bin/python bench/git_pack_flips.py --bits 0-7 --fsck  # every bit, and `git fsck` too
    /tmp/venv/bin/python bench/git_pack_flips.py --only pack:12:6   # one flip (file:offset:bit)

A read is `Repository.resolve` + `entries` of every version and a copy-mode download of the
packed one, in a fresh copy of the store per flip (libgit2 shares open packs per path within a
process).  Results: ok (same entries and bytes), typed (an mvc error), untyped (any other
exception: a bug), wrong (no error, different result: a bug), hang (no answer in --timeout
seconds: the worker is killed and restarted), git-fsck-clean (git fsck missed it).
Prints one line per bad flip and a summary; exit 1 if any flip hangs or is untyped/wrong.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = ("packed", "small")


def build_store(root: str) -> None:
    """A project at ``root`` whose store has one git pack (a 20-file folder) and loose objects."""
    os.environ.setdefault("MVC_SILENT", "1")
    os.environ.setdefault("MVC_USER", "bench")
    os.environ.setdefault("MVC_EMAIL", "bench@example.com")
    from mvc.repo import layout
    from mvc.repo.repository import Repository
    rng = random.Random(6)
    content = {"packed": {f"f{i:02d}.bin": rng.randbytes(rng.randrange(100, 600)) for i in range(20)},
               "small": {"a.txt": b"alpha\n", "sub/b.bin": rng.randbytes(300)}}
    layout.find_store(root, True)
    repo = Repository.find(root)
    for name, files in content.items():
        for rel, data in files.items():
            p = os.path.join(root, "src", name, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        repo.log(os.path.join(root, "src", name), name, "model", "proj")
    repo.stat_cache.close()


def git_pack_files(store: str) -> dict[str, str]:
    """The pack, its idx, and "loose": the smallest loose object (libgit2 first inflates 64 bytes of it)."""
    folder = os.path.join(store, "objects", "pack")
    out = {}
    for n in os.listdir(folder):
        out["pack" if n.endswith(".pack") else "idx"] = os.path.join(folder, n)
    loose = [os.path.join(store, "objects", d, n) for d in sorted(os.listdir(os.path.join(store, "objects")))
             if len(d) == 2 for n in sorted(os.listdir(os.path.join(store, "objects", d)))]
    out["loose"] = min(loose, key=lambda p: (os.path.getsize(p), p))
    return out


def read_all(root: str) -> str:
    """Every version's entries (and the packed one's files), as one comparable string."""
    from mvc.repo.repository import Repository
    repo = Repository(os.path.join(root, ".mvc"))
    try:
        out = []
        for name in NAMES:
            v, _ = repo.resolve(f"{name}:v0", "proj")
            out.append(repr(sorted((p, ptr.encode()) for p, ptr in repo.entries(v))))
        v, _ = repo.resolve("packed:v0", "proj")
        target = repo.download(v, os.path.join(root, "out"))
        for base, _, files in sorted(os.walk(target)):
            for n in sorted(files):
                with open(os.path.join(base, n), "rb") as f:
                    out.append(f"{n}:{hash(f.read())}")
        objects = os.path.join(root, ".mvc", "objects")
        for d in sorted(n for n in os.listdir(objects) if len(n) == 2):  # and every loose object
            for n in sorted(os.listdir(os.path.join(objects, d))):
                out.append(f"{d}{n}:{len(repo.meta.get(d + n).read_raw())}")
        return "\n".join(out)
    finally:
        repo.stat_cache.close()


def git_fsck_clean(store: str, timeout: float) -> str:
    try:
        p = subprocess.run(["git", "--git-dir", store, "fsck", "--strict", "--no-dangling", "--no-progress"],
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "hang"
    return "clean" if p.returncode == 0 else "found"


def worker(template: str, fsck: bool, timeout: float) -> None:
    """Read tasks ``file offset bit`` from stdin; answer one JSON line each."""
    from mvc.errors import MvcError
    good = read_all(template)
    print(json.dumps({"ready": True}), flush=True)
    scratch = tempfile.mkdtemp(prefix="flipw-")
    for n, line in enumerate(sys.stdin):
        which, off, bit = line.split()
        root = os.path.join(scratch, str(n))
        shutil.copytree(template, root, symlinks=True, copy_function=os.link)  # cheap: links
        path = git_pack_files(os.path.join(root, ".mvc"))[which]
        for own in (path, os.path.join(root, ".mvc", "state.db")):  # what this flip writes: a copy
            os.unlink(own)
            shutil.copy2(os.path.join(template, os.path.relpath(own, root)), own)
        os.chmod(path, 0o644)
        with open(path, "r+b") as f:
            f.seek(int(off))
            b = f.read(1)[0]
            f.seek(int(off))
            f.write(bytes([b ^ (1 << int(bit))]))
        try:
            got = read_all(root)
            result = "ok" if got == good else "wrong"
        except MvcError as e:
            result = "typed:" + e.message.splitlines()[0][:160]
        except Exception as e:  # noqa: BLE001 - the point is to see what escapes
            result = f"untyped:{type(e).__name__}: {str(e)[:160]}"
        row = {"task": line.strip(), "result": result}
        if fsck:
            row["fsck"] = git_fsck_clean(os.path.join(root, ".mvc"), timeout)
        shutil.rmtree(root, ignore_errors=True)
        print(json.dumps(row), flush=True)
    shutil.rmtree(scratch, ignore_errors=True)


class Worker:
    def __init__(self, template: str, fsck: bool, timeout: float):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", template, "--timeout", str(timeout)]
        self.proc = subprocess.Popen(cmd + (["--fsck"] if fsck else []), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        assert json.loads(self.readline(120) or "{}").get("ready"), "worker did not start"

    def readline(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline() if ready else None

    def ask(self, task: str, timeout: float) -> dict | None:
        self.proc.stdin.write(task + "\n")
        self.proc.stdin.flush()
        line = self.readline(timeout)
        return json.loads(line) if line else None

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def sweep(tasks: list[str], template: str, fsck: bool, timeout: float) -> list[dict]:
    rows, w = [], None
    for task in tasks:
        w = w or Worker(template, fsck, timeout)
        row = w.ask(task, timeout * (3 if fsck else 1))
        if row is None:
            w.kill()
            w, row = None, {"task": task, "result": "hang"}
        rows.append(row)
    if w:
        w.proc.stdin.close()
        w.proc.wait(timeout=60)
    return rows


def object_offsets(idx_path: str) -> list[int]:
    """The offsets of a pack's objects, from its (good) index v2."""
    import struct
    with open(idx_path, "rb") as f:
        idx = f.read()
    n = struct.unpack(">I", idx[8 + 255 * 4:8 + 256 * 4])[0]
    at = 8 + 256 * 4 + 24 * n
    return sorted(struct.unpack(f">{n}I", idx[at:at + 4 * n]))


def positions(files: dict[str, str], which: str, headers: bool) -> list[int]:
    if headers and which == "pack":
        return [o + k for o in object_offsets(files["idx"]) for k in range(4)]
    return list(range(os.path.getsize(files[which])))


def bad(row: dict) -> bool:
    return not (row["result"] == "ok" or row["result"].startswith("typed:")) or row.get("fsck") in ("clean", "hang")


def parse_bits(spec: str) -> list[int]:
    if "-" in spec:
        lo, hi = spec.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(b) for b in spec.split(",")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker")
    ap.add_argument("--bits", default="0,4,7")
    ap.add_argument("--files", default="pack,idx", help="pack, idx and/or loose (the smallest loose object)")
    ap.add_argument("--only", nargs="*", help="file:offset:bit flips to run instead of the sweep")
    ap.add_argument("--headers", action="store_true", help="only the first 4 bytes of each packed object")
    ap.add_argument("--fsck", action="store_true", help="also run `git fsck --strict` after each flip")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--json", help="write every row here")
    a = ap.parse_args()
    if a.worker:
        worker(a.worker, a.fsck, a.timeout)
        return 0
    tmp = tempfile.mkdtemp(prefix="gitpackflips-")
    try:
        build_store(tmp)
        files = git_pack_files(os.path.join(tmp, ".mvc"))
        if a.only:
            tasks = [t.replace(":", " ") for t in a.only]
        else:
            tasks = [f"{which} {off} {bit}" for which in a.files.split(",")
                     for off in positions(files, which, a.headers) for bit in parse_bits(a.bits)]
        started = time.monotonic()
        rows = sweep(tasks, tmp, a.fsck, a.timeout)
        elapsed = time.monotonic() - started
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary: dict[str, int] = {}
    for row in rows:
        key = row["result"].split(":")[0] + (f"/fsck-{row['fsck']}" if "fsck" in row else "")
        summary[key] = summary.get(key, 0) + 1
        if bad(row):
            print(json.dumps(row), flush=True)
    print(f"{len(rows)} flips of {a.files} in {elapsed:.0f} s: {json.dumps(summary, sort_keys=True)}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f)
    return 1 if any(bad(r) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
