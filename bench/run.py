"""mvc storage benchmarks: every figure is a ratio to cp (or cp -r) measured in
the same run; every timed step ends with `sync`; medians of --runs runs.

    /tmp/venv/bin/python bench/run.py --work /tmp/mvc-bench [--scale 1.0] [--runs 3] [--only model,small,big,help]

Writes the table to stdout (markdown) and deletes its data at the end.
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

MVC = [os.path.join(os.path.dirname(sys.executable), "mvc")]  # the installed entry point, as a user runs it
RESULTS: list[tuple[str, str, str]] = []


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    os.sync()
    return time.perf_counter() - t


def sh(*cmd, cwd=None, env=None) -> None:
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def fresh(path: str) -> str:
    shutil.rmtree(path, ignore_errors=True)
    return path


def mvc_env(store: str) -> dict:
    return dict(os.environ, MVC_DIR=store, MVC_PROJECT="bench", MVC_SILENT="1")


def median(fn, runs: int, before=None) -> float:
    out = []
    for _ in range(runs):
        if before:
            before()
        os.sync()
        out.append(timed(fn))
    return statistics.median(out)


def record(name: str, secs: float, base: float, goal: str) -> None:
    RESULTS.append((name, f"{secs:.3f} s", f"{secs / base:.3f}x" if base else "-", goal))
    print(f"{name}: {secs:.3f}s ratio {secs / base if base else 0:.3f} (goal {goal})", file=sys.stderr, flush=True)


def stored_bytes(store: str) -> int:
    if os.path.isdir(os.path.join(store, ".mvc")):
        store = os.path.join(store, ".mvc")
    total = 0
    for sub in ("chunks", "packs"):
        for root, _, files in os.walk(os.path.join(store, sub)):
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def bench_model(w: str, runs: int, scale: float) -> None:
    n_tensors, tb = 64, max(1 << 20, int(16 * data.MiB * scale))
    models = {k: os.path.join(w, f"ft{k}") for k in range(5)}
    for k, path in models.items():
        data.model_dir(path, k, n_tensors, tb)
    logical = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(models[0]) for f in fs)
    store, dest = os.path.join(w, "store"), os.path.join(w, "dest")
    env = mvc_env(store)
    cp = median(lambda: sh("cp", "-r", models[0], dest), runs, lambda: fresh(dest))
    record(f"cp -r model ({logical / 2**30:.2f} GiB)", cp, cp, "1x")
    new = median(lambda: sh(*MVC, "-q", "log", models[0], "--name", "m", env=env), runs,
                 lambda: (fresh(store), sh(*MVC, "-q", "init", env=env, cwd=w)))
    record("log new model (CLI)", new, cp, "<= 1.3x")
    cli = median(lambda: sh(*MVC, "-q", "log", models[0], "--name", "m", env=env), runs)
    record("re-log unchanged (whole CLI process)", cli, cp, "<= 0.1x")
    api = relog_api(store, models[0], runs)
    record("re-log unchanged (API, in process)", api, cp, "<= 0.01x")
    ft = median(lambda: sh(*MVC, "-q", "log", models[1], "--name", "m", env=env), 1)
    fts = [ft] + [timed(lambda k=k: sh(*MVC, "-q", "log", models[k], "--name", "m", env=env)) for k in (2, 3, 4)]
    record("log a fine-tune (CLI, median of 4)", statistics.median(fts), cp, "<= 0.35x")
    size = stored_bytes(store)
    RESULTS.append(("store after base + 4 fine-tunes", f"{size / 2**20:.0f} MiB",
                    f"{size / (5 * logical):.3f}x of 5 copies", "<= 0.3x"))
    use(w, store, env, cp, runs)
    for path in list(models.values()) + [store, dest]:
        fresh(path)  # the disk is shared: free it before the next benchmark


def relog_api(store: str, path: str, runs: int) -> float:
    code = ("import os,sys,time,statistics,mvc\n"
            "run=mvc.init(dir=sys.argv[1]); run.log_model(sys.argv[2],name='m'); out=[]\n"
            "for _ in range(int(sys.argv[3])):\n"
            "    t=time.perf_counter(); run.log_model(sys.argv[2],name='m'); os.sync(); out.append(time.perf_counter()-t)\n"
            "print(statistics.median(out)); run.finish(quiet=True)\n")
    res = subprocess.run([sys.executable, "-c", code, store, path, str(runs)], env=mvc_env(store),
                         capture_output=True, text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def use(w: str, store: str, env: dict, cp: float, runs: int) -> None:
    out = os.path.join(w, "out")
    for mode, goal in (("copy", "<= 1.1x"), ("hardlink", "<= 0.1x")):
        first = timed(lambda: sh(*MVC, "-q", "use", "m:v0", "-o", fresh(out), "--link", mode, env=env))
        again = median(lambda: sh(*MVC, "-q", "use", "m:v0", "-o", out, "--link", mode, env=env), runs,
                       lambda: fresh(out))
        record(f"use a version, {mode} (first use)", first, cp, goal)
        record(f"use a version, {mode} (median of later uses)", again, cp, goal)
        record(f"use a version, {mode} (API, in process, later uses)", use_api(store, out, mode, runs), cp, goal)
    fresh(out)


def use_api(store: str, out: str, mode: str, runs: int) -> float:
    """The store's own cost of a use, without the CLI process (imports, run start and finish)."""
    code = ("import os,shutil,sys,time,statistics,mvc\n"
            "run=mvc.init(dir=sys.argv[1]); out=[]\n"
            "for _ in range(int(sys.argv[4])):\n"
            "    shutil.rmtree(sys.argv[2], ignore_errors=True); os.sync()\n"
            "    t=time.perf_counter(); run.use_model('m:v0', root=sys.argv[2], link=sys.argv[3]); os.sync()\n"
            "    out.append(time.perf_counter()-t)\n"
            "print(statistics.median(out)); run.finish(quiet=True)\n")
    res = subprocess.run([sys.executable, "-c", code, store, out, mode, str(runs)], env=mvc_env(store),
                         capture_output=True, text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def bench_small(w: str, runs: int, count: int) -> None:
    src, dest, store = os.path.join(w, "small"), os.path.join(w, "small-dest"), os.path.join(w, "store-small")
    data.small_files(src, count)
    env = mvc_env(store)
    cp = median(lambda: sh("cp", "-r", src, dest), runs, lambda: fresh(dest))
    record(f"cp -r {count} small files", cp, cp, "1x")
    new = median(lambda: sh(*MVC, "-q", "log", src, "--name", "s", env=env), runs,
                 lambda: (fresh(store), sh(*MVC, "-q", "init", env=env, cwd=w)))
    record(f"log {count} small files (CLI)", new, cp, "<= 2x")
    again = median(lambda: sh(*MVC, "-q", "log", src, "--name", "s", env=env), runs)
    record(f"re-log {count} unchanged small files (CLI)", again, cp, "<= 0.3x")
    for path in (src, dest, store):
        fresh(path)


def bench_big(w: str, size: int) -> None:
    path, store = os.path.join(w, "big.bin"), os.path.join(w, "store-big")
    data.big_file(path, size)
    env = mvc_env(store)
    sh(*MVC, "-q", "init", env=env, cwd=w)
    os.sync()
    wrapper = ("import resource,subprocess,sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = []
    secs = timed(lambda: out.append(subprocess.run([sys.executable, "-c", wrapper, *MVC, "-q", "log", path, "--name",
                                                    "big"], env=env, check=True, capture_output=True, text=True)))
    rss = int(out[0].stdout.split()[-1])
    RESULTS.append((f"peak RSS logging a {size / 2**30:.1f} GiB file", f"{rss / 1024:.0f} MB",
                    f"{secs:.1f} s", "<= 100 MB"))


def bench_help(runs: int) -> None:
    def once() -> float:  # start-up only: no sync in this figure
        t = time.perf_counter()
        sh(*MVC, "--help")
        return time.perf_counter() - t
    t = statistics.median(once() for _ in range(max(runs, 5)))
    RESULTS.append(("mvc --help", f"{t * 1000:.0f} ms", "-", "<= 150 ms"))


def as_installed() -> None:
    """Measure mvc as `pip install` leaves it: with compiled bytecode. An
    environment that sets PYTHONDONTWRITEBYTECODE (as some sandboxes do) would
    otherwise make every `mvc` process recompile the package (~60 ms)."""
    import compileall

    import mvc
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(os.path.dirname(mvc.__file__), quiet=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/mvc-bench")
    ap.add_argument("--scale", type=float, default=1.0, help="1.0: 1 GiB model, 20,000 files, 4 GiB file")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="help,model,small,big")
    a = ap.parse_args()
    as_installed()
    w = fresh(a.work)
    os.makedirs(w)
    try:
        only = a.only.split(",")
        if "help" in only:
            bench_help(a.runs)
        if "model" in only:
            bench_model(w, a.runs, a.scale)
        if "small" in only:
            bench_small(w, a.runs, int(20_000 * a.scale))
        if "big" in only:
            bench_big(w, int(4 * 2**30 * a.scale))
    finally:
        shutil.rmtree(w, ignore_errors=True)
    print("| step | time / value | ratio | goal |\n| --- | --- | --- | --- |")
    for row in RESULTS:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
