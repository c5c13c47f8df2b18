"""A/B of the early flush (fsutil.start_writeback): cp -r, then mvc without it, then mvc
with it, in alternating rounds, `sync` ending each; prints medians and ratios to cp.

    python bench/writeback_ab.py --work /tmp/mvc-wb --rounds 5

Steps: a copy use of the 1 GiB model (a later use), a hardlink first use (the whole
file built in the store) and a log of the new model into a fresh store.  "returned"
is when the call returned, before the `sync`.  docs/performance.md, "Fourth round".
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from run import fresh  # noqa: E402

import mvc  # noqa: E402
from mvc import fsutil  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/mvc-wb")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    w = a.work
    fresh(w)
    model, store, out, logged = (os.path.join(w, n) for n in ("model", "store", "out", "logged"))
    data.model_dir(model, 0, 64, max(1 << 20, int(16 * data.MiB * a.scale)))
    with mvc.init(dir=store) as run:
        run.log_model(model, name="m")
    use = mvc.init(dir=store)

    def step_use(link: str):
        def go():
            if link == "hardlink":
                fresh(os.path.join(store, ".mvc", "files"))  # a first hardlink use builds the whole file
            use.use_model("m:v0", root=out, link=link)
        return go

    def step_log():
        fresh(logged)
        with mvc.init(dir=logged) as run:
            run.log_model(model, name="m")

    steps = {"use, copy": step_use("copy"), "use, hardlink (first)": step_use("hardlink"), "log new model": step_log}
    rows = []
    for name, fn in steps.items():
        took = {k: [] for k in ("cp", "before", "after")}
        returned = {k: [] for k in took}
        for _ in range(a.rounds):
            for k in took:
                fsutil._sync_file_range[:] = [None] if k == "before" else []  # None: no early flush
                fresh(out)
                os.sync()
                t = time.perf_counter()
                if k == "cp":
                    subprocess.run(["cp", "-r", model, out], check=True)
                else:
                    fn()
                r = time.perf_counter()
                os.sync()
                took[k].append(time.perf_counter() - t)
                returned[k].append(r - t)
        cp = statistics.median(took["cp"])
        for k in took:
            rows.append((name, k, statistics.median(took[k]), statistics.median(took[k]) / cp,
                         statistics.median(returned[k])))
    use.finish(quiet=True)
    fresh(w)
    print("| step | run | until on disk | ratio to cp | returned |")
    print("| --- | --- | --- | --- | --- |")
    for name, k, secs, ratio, ret in rows:
        print(f"| {name} | {k} | {secs:.3f} s | {ratio:.2f}x | {ret:.3f} s |")


if __name__ == "__main__":
    main()
