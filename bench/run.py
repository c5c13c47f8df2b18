"""mvc storage benchmarks: every figure is a ratio to cp (or cp -r) measured in
the same run; every timed step ends with `sync`; medians of --runs runs.

The disk of a shared VM changes speed by 2-5x within minutes, so each timed mvc
run is paired with a `cp -r` of the same data run just before it, and each row
gets two ratios: to the median of all the cp runs of its section, and the
median of its per-pair ratios.  Before each timed mvc run its input is read
once, untimed (`warm`), as cp's source is by every cp run.  Each `mvc` command runs in
its own process, as a user's does (there is no resident server since issue 11).

    /tmp/venv/bin/python bench/run.py --work /tmp/mvc-bench [--scale 1.0] [--runs 3] [--only model,small,big,help,cpu]

`cpu` (bench/cpu.py) measures CPU-seconds per GiB on tmpfs (/dev/shm) against the floor
(one BLAKE3 pass, one copy of the new bytes).

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


SECTION: list[dict] = []  # rows of the section being measured, given ratios by end_section()
CPS: list[float] = []  # every cp run of the section


def record(name: str, secs: float, base: float, goal: str) -> None:
    """A figure measured once against one cp run (``base``) made just before it."""
    CPS.append(base)
    SECTION.append({"name": name, "secs": secs, "pairs": [secs / base], "cps": [base], "goal": goal})
    print(f"{name}: {secs:.3f}s ratio {secs / base:.3f} (goal {goal})", file=sys.stderr, flush=True)


def paired(name: str, fn, runs: int, baseline, goal: str, before=None, once: bool = False) -> float:
    """Time ``fn`` ``runs`` times (``before`` first, untimed), each right after a
    timed ``baseline`` (cp); the row gets the median time, and end_section()
    gives it both ratios.  ``once``: the first run alone (a first use)."""
    secs, bases = [], []
    for _ in range(1 if once else runs):
        b = baseline()
        if before:
            before()
        os.sync()
        secs.append(timed(fn))
        bases.append(b)
    CPS.extend(bases)
    sec = statistics.median(secs)
    SECTION.append({"name": name, "secs": sec, "pairs": [t / b for t, b in zip(secs, bases)], "cps": bases,
                    "goal": goal})
    print(f"{name}: {sec:.3f}s (cp {statistics.median(bases):.3f}s; goal {goal})", file=sys.stderr, flush=True)
    return sec


def end_section(title: str) -> None:
    """Rows get two ratios: to the median of every cp run of the section (one
    baseline for all, from runs spread over the section's minutes) and the
    median of the per-pair ratios (each run against the cp just before it)."""
    if not CPS:
        return
    base = statistics.median(CPS)
    RESULTS.append((f"{title}: cp -r, median of {len(CPS)} runs", f"{base:.3f} s", "1x",
                    f"{min(CPS):.2f}-{max(CPS):.2f} s", ""))
    for row in SECTION:
        RESULTS.append((row["name"], f"{row['secs']:.3f} s", f"{row['secs'] / base:.3f}x",
                        f"{statistics.median(row['pairs']):.3f}x", row["goal"]))
    SECTION.clear()
    CPS.clear()


def warm(*paths: str) -> None:
    """Read every file under ``paths`` once, untimed, so the timed step reads
    its input from the page cache as cp reads its source (read by every cp
    run).  The cp runs write a GiB each, which pushes files written once (the
    fine-tunes, the store's chunks) out of the cache: without this a first use
    compared a read from disk with cp's read from memory (2.1x, against 1.2x
    for the same use a moment later)."""
    for top in paths:
        for root, _, files in os.walk(top):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    while f.read(16 << 20):
                        pass


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

    def cp() -> float:
        fresh(dest)
        os.sync()
        return timed(lambda: sh("cp", "-r", models[0], dest))

    log = lambda path, e=env: sh(*MVC, "-q", "log", path, "--name", "m", env=e)  # noqa: E731
    paired(f"log new model ({logical / 2**30:.2f} GiB, CLI)", lambda: log(models[0]), runs, cp, "<= 1.3x",
           lambda: (fresh(store), sh(*MVC, "-q", "init", env=env, cwd=w), warm(models[0])))
    paired("re-log unchanged (whole CLI process)", lambda: log(models[0]), runs, cp, "<= 0.1x")
    base = cp()
    record("re-log unchanged (API, in process)", relog_api(store, models[0], runs), base, "<= 0.01x")
    fts = [paired(f"log fine-tune {k} (CLI)", lambda k=k: log(models[k]), 1, cp, "<= 0.35x",
                  lambda k=k: warm(models[k])) for k in (1, 2, 3, 4)]
    rows = SECTION[-4:]
    SECTION.append({"name": "log a fine-tune (CLI, median of the 4)", "secs": statistics.median(fts),
                    "pairs": [r["pairs"][0] for r in rows], "cps": [], "goal": "<= 0.35x"})
    size = stored_bytes(store)
    use(w, store, env, cp, runs, dest)
    end_section("model")
    RESULTS.append(("store after base + 4 fine-tunes", f"{size / 2**20:.0f} MiB",
                    f"{size / (5 * logical):.3f}x of 5 copies", "", "<= 0.3x"))
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


def use(w: str, store: str, env: dict, cp, runs: int, dest: str) -> None:
    """Every timed copy starts right after a GiB was deleted, as each cp does
    (its previous copy): on this VM writing into pages just freed costs 0.8 s
    per GiB and into pages the guest never touched 1.3 s, so a first use that
    deleted nothing paid ~0.5 s more than any cp for the same copy."""
    out = os.path.join(w, "out")
    for mode, goal in (("copy", "<= 1.1x"), ("hardlink", "<= 0.1x")):
        run = lambda e=env: sh(*MVC, "-q", "use", "m:v0", "-o", out, "--link", mode, env=e)  # noqa: E731
        ready = lambda: (fresh(out), warm(store))  # noqa: E731
        paired(f"use a version, {mode} (first use)", run, 1, cp, goal, lambda: (fresh(dest), ready()), once=True)
        paired(f"use a version, {mode} (later uses)", run, runs, cp, goal, ready)
        base = cp()
        warm(store)
        record(f"use a version, {mode} (API, in process, later uses)", use_api(store, out, mode, runs), base, goal)
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

    def cp() -> float:
        fresh(dest)
        os.sync()
        return timed(lambda: sh("cp", "-r", src, dest))

    log = lambda: sh(*MVC, "-q", "log", src, "--name", "s", env=env)  # noqa: E731
    paired(f"log {count} small files (CLI)", log, runs, cp, "<= 2x",
           lambda: (fresh(store), sh(*MVC, "-q", "init", env=env, cwd=w)))
    paired(f"re-log {count} unchanged small files (CLI)", log, runs, cp, "<= 0.3x")
    end_section("small files")
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
                                                    "big"], env=env, check=True,
                                                   capture_output=True, text=True)))
    rss = int(out[0].stdout.split()[-1])
    RESULTS.append((f"peak RSS logging a {size / 2**30:.1f} GiB file (the process's own peak)",
                    f"{rss / 1024:.0f} MB", f"{secs:.1f} s", "-", "<= 100 MB"))


def bench_help(runs: int) -> None:
    """Start-up only (no sync in this figure); bench/startup.py measures it from a plain install."""
    def once() -> float:
        t = time.perf_counter()
        sh(*MVC, "--help")
        return time.perf_counter() - t
    t = statistics.median(once() for _ in range(max(runs, 5)))
    RESULTS.append(("mvc --help", f"{t * 1000:.0f} ms", "-", "-", "<= 50 ms (bench/startup.py)"))


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
    ap.add_argument("--only", default="help,model,small,big,cpu")
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
        if "cpu" in only:
            import cpu
            cpu.bench_cpu(a.runs, a.scale, RESULTS)
    finally:
        shutil.rmtree(w, ignore_errors=True)
    print("| step | time / value | ratio to cp (all cp runs) | ratio to the cp before each run (median) | goal |\n"
          "| --- | --- | --- | --- | --- |")
    for row in RESULTS:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
