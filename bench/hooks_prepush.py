"""The pre-push hook when no commit being pushed changes mvc.lock (issue 13: <= 0.2 s): the
installed script decides with `git rev-list` and never starts mvc.  Baseline in the same run:
`mvc --help` (the least any hook that starts mvc would cost).

    python bench/hooks_prepush.py [--runs 21] [--commits 30]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def timed(cmd, cwd, runs, stdin=None) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        r = subprocess.run(cmd, cwd=cwd, input=stdin, capture_output=True, text=True)
        out.append(time.perf_counter() - start)
        assert r.returncode == 0, r.stderr
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--commits", type=int, default=30)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work, remote = os.path.join(tmp, "work"), os.path.join(tmp, "remote.git")
        os.mkdir(work)
        git("init", "-q", "--bare", remote, cwd=tmp)
        for args in (("init", "-q", "-b", "main"), ("config", "user.email", "b@example.com"),
                     ("config", "user.name", "bench"), ("remote", "add", "origin", remote)):
            git(*args, cwd=work)
        with open(os.path.join(work, "mvc.lock"), "w") as f:
            f.write("version = 1\n")
        git("add", "mvc.lock", cwd=work)
        git("commit", "-qm", "lock", cwd=work)
        git("push", "-q", "origin", "main", cwd=work)
        for i in range(a.commits):
            with open(os.path.join(work, "train.py"), "a") as f:
                f.write(f"# {i}\n")
            git("add", "train.py", cwd=work)
            git("commit", "-qm", f"code {i}", cwd=work)
        mvc = [sys.executable, "-m", "mvc"]
        subprocess.run(mvc + ["hooks", "install"], cwd=work, check=True, capture_output=True)
        head = subprocess.run(["git", "rev-parse", "main", "origin/main"], cwd=work, capture_output=True,
                              text=True).stdout.split()
        line = f"refs/heads/main {head[0]} refs/heads/main {head[1]}\n"
        hook = timed([os.path.join(work, ".git", "hooks", "pre-push"), "origin", remote], work, a.runs, line)
        base = timed(mvc + ["--help"], work, a.runs)
    h, b = statistics.median(hook), statistics.median(base)
    print(f"pre-push, {a.commits} commits pushed, none changes mvc.lock: median {h * 1000:.1f} ms "
          f"(min {min(hook) * 1000:.1f}, max {max(hook) * 1000:.1f}); `mvc --help` median {b * 1000:.1f} ms; "
          f"ratio {h / b:.3f}x; goal <= 200 ms: {'met' if h <= 0.2 else 'NOT met'}")


if __name__ == "__main__":
    main()
