"""`mvc diff` speed and memory (issue 14), against baselines measured in the same run.

1. Two identical versions (one content logged under two names): `Api().diff` in process
   (goal <= 0.3 s) and the `mvc diff` command in its own process (start-up included).
2. Two versions of a model folder (64 F16 tensors, or --dtype BF16 or F32, of normal values; the second adds small
   noise to 6 of them, as a fine-tune does; 1 GiB at --mib 1024): `Api().diff` against reading the changed tensors' bytes
   once, both versions, in the same run:
     verified  the same chunks through the store's verified read (BLAKE3-checked, as `use` reads):
               the baseline, since bytes from a store are always checked before use;
     raw       plain reads of exactly those bytes from the chunk files (no hashing): a ceiling
               no reader of a store may reach, printed for scale.
   Each cold (the store's chunk files evicted from the page cache with posix_fadvise, before
   every timed run, baseline and diff alike) and warm.  Goal: diff <= 2x the verified read.
   The diff's figures depend on free cores (it compares tensors on WORKERS threads): the
   one-thread row shows what it costs on one.  The numpy-only row is the diff without its
   compiled kernel (mvc/repo/_diffkernel.c), as an install without a C compiler runs it.
3. With --rss-gib G: two G GiB versions whose every tensor differs, diffed by `Api().diff` in a
   fresh process; its peak RSS (VmHWM, the process's own high-water mark; goal <= 150 MB at
   4 GiB) and time.

    python bench/diff.py [--mib 1024] [--runs 5] [--dir /var/tmp] [--rss-gib 0] [--dtype F16|BF16|F32]

Prints a markdown table (medians; a ratio is the median of the runs' ratios, each run's diff
over the baseline timed next to it); deletes its data at the end.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1 << 20
ROWS: list[tuple[str, str, str]] = []


def write_model(folder: str, changed: int, n: int, tensor_bytes: int, dtype: str = "F16") -> None:
    """A model folder as a fine-tune looks: model.safetensors of ``n`` tensors of ``dtype`` (F16,
    BF16 or F32) of normal values (each distinct), config.json; the first ``changed`` tensors get
    small noise added."""
    import numpy as np
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
    from diff_kit import write_safetensors_stream
    os.makedirs(folder, exist_ok=True)
    size = 4 if dtype == "F32" else 2
    elems = tensor_bytes // size
    base = np.random.default_rng(0).standard_normal(elems).astype(np.float32) * np.float32(0.02)
    noise = np.random.default_rng(1).standard_normal(elems).astype(np.float32) * np.float32(1e-3)

    def stored(values):
        if dtype == "BF16":  # the top 16 bits of each float32
            return (values.view(np.uint32) >> 16).astype("<u2").tobytes()
        return values.astype(np.float16 if dtype == "F16" else np.float32).tobytes()

    def fill(name, nbytes):
        i = int(name.split(".")[1])
        t = np.roll(base, i * 7919)
        if i < changed:
            t = t + noise
        yield stored(t)
    write_safetensors_stream(os.path.join(folder, "model.safetensors"),
                             [(f"layers.{i}.weight", dtype, (elems,), elems * size) for i in range(n)], fill)
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write(f'{{"hidden_size": 4096, "layers": {n}, "changed": {changed}}}')


def evict(store: str) -> None:
    """Drop the store's chunk files from the page cache (only these files: the machine is shared)."""
    os.sync()
    for base, _, names in os.walk(os.path.join(store, "chunks")):
        for name in names:
            fd = os.open(os.path.join(base, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def env_for(store: str) -> dict:
    return dict(os.environ, MVC_DIR=store, MVC_PROJECT="bench", MVC_SILENT="1", MVC_SERVER="0")


def mvc_cli(store: str, *args, capture=False) -> str:
    res = subprocess.run([sys.executable, "-m", "mvc", *args], env=env_for(store), check=True,
                         stdout=subprocess.PIPE if capture else subprocess.DEVNULL, text=True)
    return res.stdout or ""


def median_time(fn, runs: int, before=None) -> float:
    """Median of ``runs`` timed calls after one untimed one (imports, page cache); ``before`` runs
    untimed ahead of each timed call (evict: a cold read)."""
    fn()
    times = []
    for _ in range(runs):
        if before:
            before()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def timed_in_turn(fns: dict, runs: int, before=None) -> dict:
    """``runs`` timed calls of each of ``fns`` (name -> call) after one untimed one, taken in turn
    (diff, baselines, diff, ...) so that a change in the machine's load falls on all of them alike;
    name -> list of times."""
    for fn in fns.values():
        fn()
    times: dict = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            if before:
                before()
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def ratio(times: dict, name: str, base: str) -> float:
    """The median of the runs' ratios (each run's diff over the baseline timed next to it): steadier
    than a ratio of medians on a shared machine whose load moves within a run."""
    return statistics.median(a / b for a, b in zip(times[name], times[base]))


def changed_ranges(api, d: dict) -> list[tuple[str, int, int]]:
    """(chunk path or id, offset, length) of every chunk slice holding a changed tensor, both sides."""
    from mvc.repo.diff_read import StoredFile
    from mvc.repo.diff_tensors import read_index
    out = []
    for f in d["files"]:
        if not f["tensors"]:
            continue
        names = {t["name"] for t in f["tensors"]["changed"]}
        for side in ("a", "b"):
            v, _ = api.repo.resolve(d[side]["address"])
            ptr = dict(api.repo.entries(v))[f["path"] if side == "b" else f["old_path"]]
            sf = StoredFile(api.repo.chunks, ptr.chunks, side)
            for t in read_index(sf, f["format"]).tensors.values():
                if t.name in names:
                    for cid, lo, hi in sf.covering(t.start, t.end):
                        out.append((cid, max(lo, 0), min(hi, t.end - t.start) - max(lo, 0)))
            sf.close()
    return out


def read_raw(store_chunks, ranges) -> int:
    total = 0
    for cid, off, n in ranges:
        with open(store_chunks.path(cid), "rb", buffering=0) as fh:
            fh.seek(off)
            total += len(fh.read(n))
    return total


def read_verified(store_chunks, ranges) -> int:
    total = 0
    for cid in dict.fromkeys(c for c, _, _ in ranges):
        total += len(store_chunks.get(cid))
    return total


def bench_identical(w: str, runs: int, mib: int) -> None:
    import mvc
    store, src = os.path.join(w, "same"), os.path.join(w, "src-same")
    write_model(src, 0, 64, mib * MiB // 64)
    mvc_cli(store, "init")
    mvc_cli(store, "log", src, "--name", "A")
    mvc_cli(store, "log", src, "--name", "B")
    shutil.rmtree(src)
    api = mvc.Api(store, "bench")
    t_api = median_time(lambda: api.diff("A:v0", "B:v0"), runs)
    t_cli = median_time(lambda: mvc_cli(store, "diff", "A:v0", "B:v0"), runs)
    t_help = median_time(lambda: subprocess.run([sys.executable, "-m", "mvc", "--help"], env=env_for(store),
                                                check=True, stdout=subprocess.DEVNULL), runs)
    ROWS.append((f"identical, {mib} MiB: Api().diff", f"{t_api * 1000:.1f} ms", "<= 0.3 s"))
    ROWS.append((f"identical, {mib} MiB: `mvc diff` in its own process",
                 f"{t_cli:.3f} s (`mvc --help`: {t_help:.3f} s)", ""))


def bench_changed(w: str, runs: int, mib: int, dtype: str = "F16") -> None:
    import mvc
    store = os.path.join(w, "ft")
    mvc_cli(store, "init")
    for k in (0, 1):
        src = os.path.join(w, f"src-{k}")
        write_model(src, 6 * k, 64, mib * MiB // 64, dtype)
        mvc_cli(store, "log", src, "--name", "M")
        shutil.rmtree(src)
    api = mvc.Api(store, "bench")
    d = api.diff("M:v0", "M:v1")
    s = d["summary"]
    ranges = changed_ranges(api, d)
    nbytes = sum(n for _, _, n in ranges)
    what = f"{s['tensors_changed']} of {s['tensors_changed'] + s['tensors_unchanged']} {dtype} tensors changed"
    ROWS.append((f"{mib} MiB, {what}: bytes the diff read / bytes of the changed tensors (both sides)",
                 f"{s['bytes_read'] / MiB:.1f} MiB / {nbytes / MiB:.1f} MiB", "only those"))
    cold = lambda: evict(store)  # noqa: E731
    import mvc.repo.diff as repo_diff

    def one_thread():
        threads, repo_diff.WORKERS = repo_diff.WORKERS, 1
        try:
            api.diff("M:v0", "M:v1")
        finally:
            repo_diff.WORKERS = threads
    import mvc.repo.diff_values as values

    def numpy_only():
        kernel, values._KERNEL = values._kernel(), None
        try:
            api.diff("M:v0", "M:v1")
        finally:
            values._KERNEL = kernel
    for label, before in (("cold (chunk files evicted from the page cache)", cold), ("warm (page cache)", None)):
        fns = {"diff": lambda: api.diff("M:v0", "M:v1"), "raw": lambda: read_raw(api.repo.chunks, ranges),
               "verified": lambda: read_verified(api.repo.chunks, ranges)}
        if before is None:
            fns["one thread"] = one_thread
            fns["numpy"] = numpy_only
        t = timed_in_turn(fns, runs, before)
        t_diff, t_raw, t_ver = (statistics.median(t[k]) for k in ("diff", "raw", "verified"))
        ROWS.append((f"  {label}: Api().diff", f"{t_diff:.3f} s", ""))
        ROWS.append(("    the changed tensors' chunks through the store's verified read (baseline)",
                     f"{t_ver:.3f} s: diff at {ratio(t, 'diff', 'verified'):.2f}x", "<= 2x"))
        ROWS.append(("    read the changed tensors' bytes once, plain reads, unhashed (ceiling)",
                     f"{t_raw:.3f} s: diff at {ratio(t, 'diff', 'raw'):.2f}x", ""))
    ROWS.append(("  warm, one thread (`mvc.repo.diff.WORKERS = 1`)",
                 f"{statistics.median(t['one thread']):.3f} s: {ratio(t, 'one thread', 'verified'):.2f}x the "
                 f"verified read, {ratio(t, 'one thread', 'raw'):.2f}x the plain", ""))
    ROWS.append(("  warm, numpy only (as installed without a C compiler)",
                 f"{statistics.median(t['numpy']):.3f} s: {ratio(t, 'numpy', 'verified'):.2f}x the verified read", ""))
    bench_fresh(store, ranges, runs)


FRESH = """import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import numpy, mvc, diff as bd
api = mvc.Api()
api.diff('M:v0', 'M:v0')  # metadata loaded, modules imported: what is left is the diff's own work
ranges = [tuple(r) for r in json.loads(sys.argv[2])]
t = time.perf_counter(); api.diff('M:v0', 'M:v1'); t_diff = time.perf_counter() - t
t = time.perf_counter(); bd.read_verified(api.repo.chunks, ranges); t_ver = time.perf_counter() - t
print(json.dumps([t_diff, t_ver]))
"""


def bench_fresh(store: str, ranges: list, runs: int) -> None:
    """The diff as `mvc diff` runs it: the first in a new interpreter (a process that has done
    nothing else allocates differently: before issue 14's rework a diff allocating per block was
    2-3x slower there than in this benchmark's long-lived process), then the verified read."""
    import json
    pairs = [json.loads(subprocess.run([sys.executable, "-c", FRESH, HERE, json.dumps(ranges)], env=env_for(store),
                                       check=True, capture_output=True, text=True).stdout) for _ in range(runs)]
    t_diff = statistics.median(d for d, _ in pairs)
    ROWS.append(("  warm, in a fresh process (as `mvc diff`; imports and metadata loaded first)",
                 f"{t_diff:.3f} s: {statistics.median(d / v for d, v in pairs):.2f}x the verified read "
                 f"({statistics.median(v for _, v in pairs):.3f} s)", ""))


def bench_rss(w: str, gib: int) -> None:
    store = os.path.join(w, "rss")
    mvc_cli(store, "init")
    n = 64
    for k in (0, 1):
        src = os.path.join(w, f"rss-{k}")
        write_model(src, n * k, n, gib * 1024 * MiB // n)
        mvc_cli(store, "log", src, "--name", "R")
        shutil.rmtree(src)
    code = ("import json, mvc, time\n"
            "t = time.perf_counter(); d = mvc.Api().diff('R:v0', 'R:v1'); t = time.perf_counter() - t\n"
            "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM:')][0].split()[1]\n"
            "print(json.dumps({'hwm_kib': int(hwm), 'secs': t, 's': d['summary']}))")
    import json
    out = json.loads(subprocess.run([sys.executable, "-c", code], env=env_for(store), check=True,
                                    capture_output=True, text=True).stdout)
    base = json.loads(subprocess.run([sys.executable, "-c", code.replace("'R:v1'", "'R:v0'")], env=env_for(store),
                                     check=True, capture_output=True, text=True).stdout)
    ROWS.append((f"two {gib} GiB versions, all {out['s']['tensors_changed']} tensors changed: peak RSS",
                 f"{out['hwm_kib'] / 1024:.0f} MiB (same process diffing identical versions: "
                 f"{base['hwm_kib'] / 1024:.0f} MiB)", "<= 150 MB"))
    ROWS.append(("  time, and bytes read", f"{out['secs']:.1f} s, {out['s']['bytes_read'] / MiB / 1024:.2f} GiB", ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=1024, help="size of each version of sections 1 and 2")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=None, help="folder for the stores (default: the temp folder)")
    ap.add_argument("--rss-gib", type=int, default=0, help="section 3 at this size (0: skip)")
    ap.add_argument("--dtype", default="F16", choices=["F16", "BF16", "F32"], help="the tensors' type in section 2")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    w = tempfile.mkdtemp(prefix="mvc-bench-diff-", dir=args.dir)
    try:
        bench_identical(w, args.runs, args.mib)
        bench_changed(w, args.runs, args.mib, args.dtype)
        if args.rss_gib:
            bench_rss(w, args.rss_gib)
    finally:
        shutil.rmtree(w, ignore_errors=True)
    print(f"`python bench/diff.py --mib {args.mib} --runs {args.runs} --rss-gib {args.rss_gib} --dtype {args.dtype}`, "
          "medians "
          f"({os.cpu_count()} cores; 1-minute load average {load:.2f} before, {os.getloadavg()[0]:.2f} after)\n")
    kernel = __import__("mvc.repo.diff_values", fromlist=["_kernel"])._kernel()
    print(f"Diff kernel: {kernel.vector_path() if kernel else 'not built (numpy only)'}\n")
    print("| measure | figure | goal |\n| --- | --- | --- |")
    for row in ROWS:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
