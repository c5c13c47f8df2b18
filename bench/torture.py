"""The reliability torture run: the full counts of RELIABILITY.md's tests (the
`slow`-marked ones, R5 and R6 included, plus R8 and R16, which run at full size in
CI) and the cost of the write check (R8), printed as figures for docs/reliability.md.

    flock /tmp/mvc-bench.lock /tmp/venv/bin/python bench/torture.py            # everything (tens of minutes)
    flock /tmp/mvc-bench.lock /tmp/venv/bin/python bench/torture.py --only-cost

It waits while another benchmark (`bench/` in a process's command line) runs: two
heavy runs at once distort each other's figures.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FULL = [
    "tests/test_reliability_concurrency.py",   # R1, R2, R10, R17 full counts (slow)
    "tests/test_reliability_crash.py",         # R3 full count (slow)
    "tests/test_reliability_r4.py",            # R4 100 crash states (slow)
    "tests/test_fsck.py",                      # R7 full count (slow)
    "tests/test_reliability_r6.py",            # R6 1000 flips over every kind of stored object (slow)
    "tests/test_reliability_locks.py",         # R5 10 ref-lock + 10 lease holders killed (slow)
    "tests/test_reliability_r8.py",            # R8
    "tests/test_reliability_enospc.py",        # R16 (10 passes, the full count)
]


def other_benchmarks() -> list[str]:
    out = subprocess.run(["pgrep", "-af", "bench/"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in out if str(os.getpid()) != line.split()[0] and "torture.py" not in line]


def wait_for_quiet(poll: float = 60) -> None:
    while True:
        busy = other_benchmarks()
        if not busy:
            return
        print(f"waiting: another benchmark is running ({busy[0][:80]})", flush=True)
        time.sleep(poll)


def run_full() -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-m", "slow or not slow",
           "--durations=0", *FULL]
    print("$", " ".join(cmd), flush=True)
    started = time.time()
    rc = subprocess.call(cmd, cwd=ROOT)
    print(f"torture: exit {rc} in {time.time() - started:.0f} s", flush=True)
    return rc


def write_check_cost(mib: int = 200, rounds: int = 3) -> dict:
    """Log a ``mib`` MiB random file with the R8 write check on and off (alternating)."""
    import mvc.store.chunks as chunks
    from mvc.repo import Repository, create_store
    real, spent = chunks.check_written, [0.0]

    def timed(path, entries):
        t = time.perf_counter()
        real(path, entries)
        spent[0] += time.perf_counter() - t

    work = tempfile.mkdtemp(prefix="mvc-torture-")
    try:
        src = os.path.join(work, "src.bin")
        with open(src, "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(1 << 20))
        times = {"on": [], "off": []}
        for i in range(rounds):
            for mode in ("off", "on"):
                chunks.check_written = timed if mode == "on" else (lambda p, e: None)
                store = os.path.join(work, f"s-{mode}-{i}")
                create_store(store)
                t = time.perf_counter()
                Repository(store).log(src, "m", "model", "p")
                times[mode].append(time.perf_counter() - t)
                shutil.rmtree(store)
        chunks.check_written = real
        med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
        return {"MiB": mib, "log_s_median_check_on": round(med["on"], 3), "log_s_median_check_off": round(med["off"], 3),
                "check_s_per_log": round(spent[0] / rounds, 3),
                "check_GB_per_s": round(mib * (1 << 20) * rounds / max(spent[0], 1e-9) / 1e9, 2)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only-cost", action="store_true", help="only measure the R8 write check's cost")
    args = ap.parse_args()
    wait_for_quiet()
    print("R8 write check cost:", write_check_cost(), flush=True)
    return 0 if args.only_cost else run_full()


if __name__ == "__main__":
    sys.exit(main())
