"""Start-up cost of the `mvc` command, as a user meets it after a plain `pip install`.

    python bench/startup.py [--runs 15] [--size-mib 1024] [--work /tmp/mvc-startup]

Installs the project (not editable: an editable install adds an import finder
that costs ~20 ms) into a fresh virtualenv, then times, as medians of --runs
processes each:

- `python -c pass` in that venv: the interpreter's own floor, measured in the
  same run so that a loaded machine shows as a high floor, not as slow mvc;
- `mvc --help`, and `mvc ls` on a store holding a few artifacts
  (these three in turns, one of each per round, so that load falls on all alike);
- an unchanged re-log of a --size-mib model folder (64 safetensors tensors),
  against `cp -r` + `sync` of the same folder, paired run by run.

Prints a markdown table: milliseconds, the ratio to the interpreter floor, and
the goal of issue 11 (`mvc --help` <= 50 ms, `mvc ls` <= 90 ms, unchanged
re-log <= 0.15x cp + sync).
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def install(work: str) -> str:
    """A fresh venv holding a plain install of this checkout; returns its bin folder."""
    venv = os.path.join(work, "venv")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, ROOT], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(venv, "bin")


def clock(cmd: list[str], env: dict, cwd: str, sync: bool = False) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    if sync:
        os.sync()
    return time.perf_counter() - t


def medians_ms(cmds: list[list[str]], env: dict, cwd: str, runs: int) -> list[float]:
    """Median milliseconds of each command, run in turns (one of each, ``runs`` times), so that
    the shared machine's load falls on every command alike, the interpreter's floor included."""
    for cmd in cmds:
        clock(cmd, env, cwd)  # warm the page cache and any bytecode
    times: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for cmd, out in zip(cmds, times):
            out.append(clock(cmd, env, cwd))
    return [1000 * statistics.median(t) for t in times]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/mvc-startup")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--size-mib", type=int, default=1024)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    try:
        bin_ = install(a.work)
        mvc = os.path.join(bin_, "mvc")
        store = os.path.join(a.work, "store")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MVC_")}
        env.update(MVC_DIR=store, MVC_PROJECT="bench", MVC_SILENT="1")
        model = os.path.join(a.work, "model")
        data.model_dir(model, tensor_bytes=max(1, a.size_mib * 2**20 // 64))
        subprocess.run([mvc, "init"], env=env, cwd=a.work, check=True, stdout=subprocess.DEVNULL)
        for i in range(5):
            small = os.path.join(a.work, f"small{i}.bin")
            with open(small, "wb") as f:
                f.write(os.urandom(4096))
            subprocess.run([mvc, "log", small, "--name", f"art{i}"], env=env, cwd=a.work, check=True,
                           stdout=subprocess.DEVNULL)
        subprocess.run([mvc, "log", model, "--name", "model"], env=env, cwd=a.work, check=True,
                       stdout=subprocess.DEVNULL)

        floor, helped, listed = medians_ms([[os.path.join(bin_, "python"), "-c", "pass"], [mvc, "--help"], [mvc, "ls"]],
                                           env, a.work, a.runs)
        rows = [("python -c pass (the interpreter's floor)", floor, "-"), ("mvc --help", helped, "<= 50 ms"),
                ("mvc ls (6 artifacts)", listed, "<= 90 ms")]
        relog = []
        for _ in range(max(3, a.runs // 3)):
            dest = os.path.join(a.work, "cp")
            shutil.rmtree(dest, ignore_errors=True)
            cp = clock(["cp", "-r", model, dest], env, a.work, sync=True)
            shutil.rmtree(dest)
            t = clock([mvc, "log", model, "--name", "model"], env, a.work, sync=True)
            relog.append((t, t / cp))
        secs = statistics.median(t for t, _ in relog)
        ratio = statistics.median(r for _, r in relog)
        print("| step | median | ratio | goal |\n| --- | --- | --- | --- |")
        for name, ms, goal in rows:
            print(f"| {name} | {ms:.0f} ms | {ms / floor:.2f}x python | {goal} |")
        print(f"| unchanged re-log of {a.size_mib} MiB | {secs * 1000:.0f} ms | "
              f"{ratio:.3f}x cp -r + sync | <= 0.15x |")
    finally:
        shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    main()
