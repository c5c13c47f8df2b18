"""A/B of the costs format 2 chose to pay, on disk, interleaved run by run: each timed step
is one `log_model` or `use_model` in a fresh process, ended by `sync`, right after a
`cp -r` of the model (also ended by `sync`); rows give the median time and the median of
the per-pair ratios.  Variants of the installed mvc, patched in the child:

    new          as installed
    nocheck      no write check (new chunks are not re-read and re-hashed before publish)
    st           chunk ids hashed on one core (no hasher with its own thread pool)
    nofsync      a copy use does not fsync its files before publishing them
    old          another installation: --old-python (e.g. a venv holding the previous commit)

    python bench/digest_ab.py --variants new,nofsync --ops use --runs 6 [--scale 1.0]
    python bench/digest_ab.py --variants old,new,nocheck --ops log,ft --old-python /tmp/old/bin/python
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402

CHILD = r"""
import importlib, os, sys, time
variant, op, store, path, name = sys.argv[1:6]
import mvc
if variant == "st":
    importlib.import_module("mvc.store.digest").PARALLEL_FROM = 1 << 62
if variant == "nocheck":
    importlib.import_module("mvc.store.chunks").check_written = lambda path, entries: None
if variant == "nofsync":
    importlib.import_module("mvc.store.materialise").FSYNC_FILES = False
run = mvc.init(dir=store, project="ab")
t = time.perf_counter()
if op == "log":
    run.log_model(path, name=name)
else:
    run.use_model(name, root=path)
os.sync()
print(time.perf_counter() - t)
run.finish(quiet=True)
"""


def child(python: str, variant: str, op: str, store: str, path: str, name: str) -> float:
    out = subprocess.run([python, "-c", CHILD, variant, op, store, path, name], capture_output=True, text=True,
                         env=dict(os.environ, MVC_SILENT="1"), cwd="/")
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return float(out.stdout.split()[-1])


def warm(top: str) -> None:
    for root, _, files in os.walk(top):
        for n in files:
            with open(os.path.join(root, n), "rb") as f:
                while f.read(16 << 20):
                    pass


def cp(src: str, dest: str) -> float:
    shutil.rmtree(dest, ignore_errors=True)
    os.sync()
    t = time.perf_counter()
    subprocess.run(["cp", "-r", src, dest], check=True)
    os.sync()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/mvc-digest-ab")
    ap.add_argument("--variants", default="new,nocheck,nofsync")
    ap.add_argument("--ops", default="log,ft,use")
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--old-python", default=None)
    a = ap.parse_args()
    w = a.work
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    tb = max(1 << 20, int(16 * data.MiB * a.scale))
    base, ft = os.path.join(w, "base"), os.path.join(w, "ft1")
    data.model_dir(base, 0, 64, tb)
    data.model_dir(ft, 1, 64, tb)
    res: dict = {}
    try:
        for _ in range(a.runs):
            for v in a.variants.split(","):
                py = a.old_python if v == "old" else sys.executable
                store, out = os.path.join(w, f"store-{v}"), os.path.join(w, "out")
                for op in a.ops.split(","):
                    base_secs = cp(base, os.path.join(w, "cp"))
                    if op in ("log", "ft") or not os.path.exists(store):  # a fine-tune's tensors new each time
                        shutil.rmtree(store, ignore_errors=True)
                        if op != "log":
                            child(py, v, "log", store, base, "m")
                    if op == "log":
                        warm(base)
                        os.sync()
                        secs = child(py, v, "log", store, base, "m")
                    elif op == "ft":
                        warm(ft)
                        os.sync()
                        secs = child(py, v, "log", store, ft, "m")
                    else:
                        shutil.rmtree(out, ignore_errors=True)
                        warm(store)
                        os.sync()
                        secs = child(py, v, "use", store, out, "m:v0")
                    res.setdefault((v, op), []).append((secs, secs / base_secs))
                    print(f"{v} {op}: {secs:.3f} s ({secs / base_secs:.2f}x the cp before it)", file=sys.stderr,
                          flush=True)
    finally:
        shutil.rmtree(w, ignore_errors=True)
    print("| step | variant | median | paired ratio (median) | ratios |\n| --- | --- | --- | --- | --- |")
    for (v, op), xs in sorted(res.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"| {op} | {v} | {statistics.median(x[0] for x in xs):.3f} s | "
              f"{statistics.median(x[1] for x in xs):.2f}x | {', '.join(f'{x[1]:.2f}' for x in xs)} |")


if __name__ == "__main__":
    main()
