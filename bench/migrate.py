"""Migration speed: `mvc migrate` of a format-1 store holding ~1 GiB of chunks, against
`cp -r` + `sync` of its chunk folder in the same run (goal: migrate >= 0.5x cp's speed,
i.e. at most 2x its time).  The format-1 store is written by format-1 mvc itself, taken
from this repository's history (commit d9e6738) with `git archive`.

    python bench/migrate.py [--mib 1024] [--rounds 3] [--dir /var/tmp]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

FORMAT1_COMMIT = "d9e6738"
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def safetensors(path: str, mib: int) -> None:
    """A safetensors file of 16 MiB tensors of random bytes."""
    n = max(1, mib // 16)
    size = 16 << 20
    header = {f"t{i}": {"dtype": "F32", "shape": [size // 4], "data_offsets": [i * size, (i + 1) * size]}
              for i in range(n)}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for _ in range(n):
            f.write(os.urandom(size))


def run(cmd, **kw) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    subprocess.run(["sync"], check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where to build the stores (default: a temp folder on the disk)")
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="mvc-migrate-bench-", dir=args.dir)
    try:
        code = os.path.join(base, "f1code")
        os.makedirs(code)
        archive = subprocess.run(["git", "-C", REPO, "archive", FORMAT1_COMMIT, "mvc"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", code], input=archive, check=True)
        proj = os.path.join(base, "proj")
        os.makedirs(proj)
        safetensors(os.path.join(proj, "model.safetensors"), args.mib)
        env1 = dict(os.environ, PYTHONPATH=code, MVC_SERVER="0", MVC_SILENT="1", MVC_PROJECT="bench")
        subprocess.run([sys.executable, "-m", "mvc", "init"], cwd=proj, env=env1, check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "mvc", "log", "model.safetensors", "--name", "M"], cwd=proj, env=env1,
                       check=True, capture_output=True)
        os.unlink(os.path.join(proj, "model.safetensors"))
        pristine = os.path.join(base, "pristine")
        shutil.copytree(os.path.join(proj, ".mvc"), pristine, symlinks=True)
        env2 = dict(os.environ, MVC_SERVER="0", MVC_SILENT="1", MVC_PROJECT="bench")
        env2.pop("PYTHONPATH", None)
        cps, migs = [], []
        for _ in range(args.rounds):
            target = os.path.join(base, "cp-chunks")
            shutil.rmtree(target, ignore_errors=True)
            cps.append(run(["cp", "-r", os.path.join(pristine, "chunks"), target]))
            shutil.rmtree(target)
            shutil.rmtree(os.path.join(proj, ".mvc"))
            shutil.copytree(pristine, os.path.join(proj, ".mvc"), symlinks=True)
            subprocess.run(["sync"], check=True)
            migs.append(run([sys.executable, "-m", "mvc", "migrate"], cwd=proj, env=env2, capture_output=True))
        cp, mig = statistics.median(cps), statistics.median(migs)
        print(f"chunks: {args.mib} MiB; rounds: {args.rounds}")
        print(f"cp -r chunks + sync: median {cp:.2f} s  ({', '.join(f'{x:.2f}' for x in cps)})")
        print(f"mvc migrate + sync:  median {mig:.2f} s  ({', '.join(f'{x:.2f}' for x in migs)})")
        print(f"migrate speed / cp speed: {cp / mig:.2f}x  (goal >= 0.5x)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
