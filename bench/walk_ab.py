"""The cost of log's walk (store/walk.py) and of its ignore rules, per file, against the floor
measured in the same run: a bare recursive os.scandir that stats every entry (what any walk
that sizes its files must do).  Also an unchanged re-log of the same folder in process.

    python bench/walk_ab.py [--files 20000] [--runs 5] [--work /tmp/mvc-walk-ab]

Rows: median seconds of --runs runs, the ratio to the floor, and microseconds per file.
Run it against an older tree (PYTHONPATH=/path/to/old/tree) to compare before/after: a row
whose feature the old tree lacks (.mvcignore) is skipped there.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time


def make_tree(root: str, files: int) -> None:
    """``files`` small files, 100 a folder, plus the noise a project folder has."""
    for i in range(files):
        d = os.path.join(root, f"d{i // 100:04d}")
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:06d}.bin"), "wb") as f:
            f.write(i.to_bytes(4, "little") * 8)


def floor_walk(root: str) -> int:
    n = 0
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in sorted(it, key=lambda e: e.name):
                st = e.stat()
                if e.is_dir():
                    stack.append(e.path)
                else:
                    n += st.st_size >= 0
    return n


def median_of(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work", default="/tmp/mvc-walk-ab")
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    root = os.path.join(a.work, "model")
    make_tree(root, a.files)
    from mvc.store.ingest import collect_files
    import mvc
    os.environ.update(MVC_DIR=os.path.join(a.work, "store"), MVC_PROJECT="bench", MVC_SILENT="1")
    with mvc.init() as run:
        run.log_model(root, name="walk")
    time.sleep(2.5)  # past the stat cache's racy window, so the re-log trusts every file

    def relog():
        with mvc.init() as run:
            run.log_model(root, name="walk")

    rows = [("floor: scandir + stat", lambda: floor_walk(root)), ("collect_files", lambda: collect_files(root)),
            ("re-log unchanged (API, in process)", relog)]
    has_ignore = os.path.exists(os.path.join(os.path.dirname(mvc.__file__), "store", "ignore.py"))
    if has_ignore:
        def with_ignore():
            return collect_files(root, exclude=["*.tmp", "logs/", "/build", "checkpoints/step-*", "!keep.tmp"])
        rows.insert(2, ("collect_files + 5 exclude patterns", with_ignore))
    results = [(name, median_of(fn, a.runs)) for name, fn in rows]
    floor = results[0][1]
    print(f"{a.files} files, median of {a.runs}, mvc from {os.path.dirname(mvc.__file__)}")
    print("| step | median s | x floor | us/file |\n| --- | --- | --- | --- |")
    for name, secs in results:
        print(f"| {name} | {secs:.3f} | {secs / floor:.2f} | {secs / a.files * 1e6:.1f} |")
    shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
