"""Metadata growth: many versions of one artifact, each a small file logged through the API.

Measures what issue 10 (part 7) asks of the metadata: the per-log time of the first and of
the last 100 logs (goal: last <= 1.3x first, medians), metadata bytes on disk per version
(goal <= 4 KiB: .mvc/objects, refs and packed-refs), and the wall time of `mvc ls NAME`
at the end, as a subprocess (goal <= 0.3 s).

    /tmp/venv/bin/python bench/metadata.py --work /tmp/mvc-meta-bench [--versions 10000]

Prints a markdown table; deletes its store at the end unless --keep.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

MVC = [os.path.join(os.path.dirname(sys.executable), "mvc")]  # the installed entry point, as a user runs it
NAME = "M"


def disk_usage(store: str) -> dict:
    """Bytes (apparent and allocated) and files of the metadata: objects/, refs/, packed-refs."""
    out = {"bytes": 0, "allocated": 0, "files": 0, "loose": 0, "packs": 0}
    paths = [os.path.join(store, "packed-refs")]
    for top in ("objects", "refs"):
        for base, _, names in os.walk(os.path.join(store, top)):
            paths += [os.path.join(base, n) for n in names]
            if top == "objects" and len(os.path.basename(base)) == 2:
                out["loose"] += len(names)
            out["packs"] += sum(n.endswith(".pack") for n in names) if base.endswith("pack") else 0
    for p in paths:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        out["bytes"] += st.st_size
        out["allocated"] += st.st_blocks * 512
        out["files"] += 1
    return out


def log_versions(store: str, n: int, progress: int) -> list[float]:
    """Log ``n`` versions of NAME (a 12-byte file each) in one run; the seconds of each log."""
    import mvc
    src = os.path.join(os.path.dirname(store), "weights.bin")
    times = []
    with mvc.init(project="bench", dir=os.path.dirname(store)) as run:
        for i in range(n):
            with open(src, "wb") as f:
                f.write(b"%012d" % i)
            t = time.perf_counter()
            run.log_model(src, name=NAME)
            times.append(time.perf_counter() - t)
            if progress and (i + 1) % progress == 0:
                print(f"  {i + 1} logs, last {progress}: median {statistics.median(times[-progress:]) * 1e3:.1f} ms",
                      file=sys.stderr, flush=True)
    return times


def interleaved(work: str, n: int, block: int = 10) -> tuple[list[float], list[float]]:
    """Per-log seconds of ``n`` more logs into the store of ``work`` and of ``n`` into a fresh store
    that already has ``n`` versions, in blocks of ``block`` in the order ABBA...: both see the same
    minutes of a shared machine's load, which first-vs-last (far apart at full size) cannot."""
    import mvc
    fresh = os.path.join(work, "fresh")
    os.makedirs(fresh)
    folders = [work, fresh]
    runs = {f: mvc.init(project="bench", dir=f) for f in folders}
    for i in range(n):  # the fresh store's first versions, untimed
        _log_one(runs[fresh], fresh, b"f%011d" % i)
    times: dict[str, list[float]] = {f: [] for f in folders}
    for i in range(2 * max(n // block, 1)):
        f = folders[(i + i // 2) % 2]
        for j in range(block):
            times[f].append(_log_one(runs[f], f, b"i%06d%05d" % (i, j)))
    for r in runs.values():
        r.finish()
    return times[work], times[fresh]


def _log_one(run, folder: str, content: bytes) -> float:
    src = os.path.join(folder, "weights.bin")
    with open(src, "wb") as f:
        f.write(content)
    t = time.perf_counter()
    run.log_model(src, name=NAME)
    return time.perf_counter() - t


def ls_time(store: str, runs: int) -> float:
    """Median wall time of `mvc ls NAME` as a subprocess (after one untimed run)."""
    env = dict(os.environ, MVC_DIR=store, MVC_PROJECT="bench", MVC_SILENT="1")
    subprocess.run(MVC + ["ls", NAME], env=env, check=True, stdout=subprocess.DEVNULL)
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(MVC + ["ls", NAME], env=env, check=True, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/mvc-meta-bench")
    ap.add_argument("--versions", type=int, default=10_000)
    ap.add_argument("--window", type=int, default=100, help="logs in the first and last window")
    ap.add_argument("--ls-runs", type=int, default=5)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    store = os.path.join(args.work, ".mvc")
    os.environ.update(MVC_SILENT="1", MVC_PROJECT="bench")
    t0 = time.perf_counter()
    times = log_versions(store, args.versions, max(args.versions // 10, 1))
    total = time.perf_counter() - t0
    w = min(args.window, len(times) // 2 or 1)
    first, last = times[:w], times[-w:]
    du = disk_usage(store)
    ls_plain = ls_time(store, args.ls_runs)
    big, small = interleaved(args.work, w)
    med_first, med_last = statistics.median(first), statistics.median(last)
    rows = [
        ("versions logged", f"{args.versions:,} in {total:.1f} s", "", ""),
        (f"per log, first {w} (median / mean)", f"{med_first * 1e3:.2f} / {statistics.mean(first) * 1e3:.2f} ms",
         "", ""),
        (f"per log, last {w} (median / mean)", f"{med_last * 1e3:.2f} / {statistics.mean(last) * 1e3:.2f} ms",
         f"{med_last / med_first:.2f}x first", "yes" if med_last <= 1.3 * med_first else "no"),
        (f"per log, {w} more into this store / into a fresh one of {w}, interleaved (median)",
         f"{statistics.median(big) * 1e3:.2f} / {statistics.median(small) * 1e3:.2f} ms",
         f"{statistics.median(big) / statistics.median(small):.2f}x",
         "yes" if statistics.median(big) <= 1.3 * statistics.median(small) else "no"),
        ("slowest log (a pack of the loose objects)", f"{max(times) * 1e3:.0f} ms", "", ""),
        ("metadata on disk (objects, refs)", f"{du['bytes'] / 2**20:.1f} MiB apparent, "
         f"{du['allocated'] / 2**20:.1f} MiB allocated, {du['files']:,} files "
         f"({du['loose']:,} loose objects, {du['packs']} packs)", "", ""),
        ("metadata per version", f"{du['bytes'] / args.versions:,.0f} B apparent, "
         f"{du['allocated'] / args.versions:,.0f} B allocated", "goal <= 4096 B",
         "yes" if du["allocated"] / args.versions <= 4096 else "no"),
        (f"`mvc ls {NAME}` (median of {args.ls_runs})",
         f"{ls_plain:.3f} s", "goal <= 0.3 s", "yes" if ls_plain <= 0.3 else "no"),
    ]
    print("| measure | value | ratio / goal | met |\n| --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
