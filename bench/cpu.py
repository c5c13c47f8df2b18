"""CPU-seconds per GiB on tmpfs against the floor (bench/run.py --only cpu).

On tmpfs no disk hides the work: what a log or a use costs is CPU.  The floor of a log is
one BLAKE3 pass over every byte (the chunk ids: a single-threaded pass over the mapped file,
the least CPU one pass can take) plus one copy of the new bytes (`cp` of that share of the
data); of a copy use, one BLAKE3 pass plus one copy of every byte.  mvc is measured in
process (`mvc.init()` and `log_model`/`use_model` in a child that reports its own user +
system CPU, every thread included, around the call), so interpreter start-up is not counted.

    python bench/run.py --only cpu [--scale 0.25] [--runs 3]
"""
from __future__ import annotations

import mmap
import os
import resource
import shutil
import statistics
import subprocess
import sys

import blake3

import data

SHM = "/dev/shm"
CHILD = r"""
import os, resource, sys, mvc
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
store, op, path, name = sys.argv[1:5]
run = mvc.init(dir=store)
t = cpu()
if op == "log":
    run.log_model(path, name=name)
else:
    run.use_model(name, root=path)
print(cpu() - t)
run.finish(quiet=True)
"""


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def hash_cpu(path: str) -> float:
    """CPU of one single-threaded BLAKE3 pass over every file under ``path`` (mapped)."""
    t = _cpu_self()
    for root, _, files in os.walk(path):
        for n in files:
            with open(os.path.join(root, n), "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size:
                    with mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ) as m:
                        blake3.blake3(m).hexdigest()
    return _cpu_self() - t


def cp_cpu(src: str, dest: str, share: float = 1.0) -> float:
    """CPU of `cp -r` (``share`` < 1: of that share of each file's bytes, by `head -c`)."""
    shutil.rmtree(dest, ignore_errors=True)
    t = _cpu_children()
    if share >= 1:
        subprocess.run(["cp", "-r", src, dest], check=True)
    else:
        os.makedirs(dest)
        for root, _, files in os.walk(src):
            for n in files:
                size = os.path.getsize(os.path.join(root, n))
                with open(os.path.join(dest, n), "wb") as out:
                    subprocess.run(["head", "-c", str(int(size * share)), os.path.join(root, n)], stdout=out,
                                   check=True)
    used = _cpu_children() - t
    shutil.rmtree(dest, ignore_errors=True)
    return used


def mvc_cpu(store: str, op: str, path: str, name: str) -> float:
    env = dict(os.environ, MVC_SILENT="1", MVC_PROJECT="bench")
    out = subprocess.run([sys.executable, "-c", CHILD, store, op, path, name], env=env, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.split()[-1])


def bench_cpu(runs: int, scale: float, results: list) -> None:
    w = os.path.join(SHM, f"mvc-bench-cpu-{os.getpid()}")
    shutil.rmtree(w, ignore_errors=True)
    n_tensors, tb = 64, max(1 << 20, int(16 * data.MiB * scale))
    base, ft, store, out = (os.path.join(w, x) for x in ("base", "ft1", "store", "out"))
    try:
        data.model_dir(base, 0, n_tensors, tb)
        data.model_dir(ft, 1, n_tensors, tb)
        gib = sum(os.path.getsize(os.path.join(base, f)) for f in os.listdir(base)) / 2**30
        share = max(1, n_tensors // 10) / n_tensors  # the tensors a fine-tune changes
        rows = {k: [] for k in ("new", "ft", "use", "hash", "cp", "cp_ft")}
        for _ in range(runs):
            shutil.rmtree(store, ignore_errors=True)
            rows["hash"].append(hash_cpu(base))
            rows["cp"].append(cp_cpu(base, out))
            rows["cp_ft"].append(cp_cpu(ft, out, share))
            rows["new"].append(mvc_cpu(store, "log", base, "m"))
            rows["ft"].append(mvc_cpu(store, "log", ft, "m"))
            shutil.rmtree(out, ignore_errors=True)
            rows["use"].append(mvc_cpu(store, "use", out, "m:v0"))
            shutil.rmtree(out, ignore_errors=True)
        med = {k: statistics.median(v) / gib for k, v in rows.items()}
        for label, key, floor in (("log new model", "new", med["hash"] + med["cp"]),
                                  ("log a fine-tune", "ft", med["hash"] + med["cp_ft"]),
                                  ("use, copy", "use", med["hash"] + med["cp"])):
            results.append((f"tmpfs CPU per GiB: {label} ({gib:.2f} GiB; floor: BLAKE3 {med['hash']:.3f} s "
                            f"+ copy {floor - med['hash']:.3f} s)", f"{med[key]:.3f} s",
                            f"{med[key] / floor:.2f}x of the floor", "-", "<= 1.2x"))
    finally:
        shutil.rmtree(w, ignore_errors=True)
