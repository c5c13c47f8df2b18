"""A process that forked after using mvc (a DataLoader worker, a multiprocessing
pool with the fork start method) can log and use models in the child: no
thread or pool of the parent is waited for there, and no SQLite connection of the
parent's is used there.  Real processes, real fork."""
from __future__ import annotations

import subprocess
import sys

FORKER = r"""
import os, sys
import mvc

def model(tag):
    os.makedirs("m", exist_ok=True)
    with open("m/w.bin", "wb") as f:  # >= 8 MiB: hashed on the worker thread, BLAKE3 on every core
        f.write(tag.encode() + os.urandom(10 << 20))

model("parent")
with mvc.init() as run:
    run.log_model("m", name="M")
    run.use_model("M:v0", root="used-parent")   # the whole-file check hashes on every core too

api = mvc.Api()
api.artifact("M:v0").download("used-api-parent")
parent_db = api.repo.stat_cache._conn()

pid = os.fork()
if pid == 0:
    import faulthandler
    faulthandler.dump_traceback_later(30, exit=True)  # a hang fails with the stacks, not a CI timeout
    api.artifact("M:v0").download("used-api-child")  # the parent's objects, used in the child
    if api.repo.stat_cache._conn() is parent_db:  # SQLite connections must not cross a fork
        os._exit(4)
    model("child")
    with mvc.init() as run:
        v = run.log_model("m", name="M").version
        run.use_model(f"M:{v}", root="used-child")
    os._exit(0 if open("used-child/w.bin", "rb").read(5) == b"child" else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_child_logs_and_uses_after_its_parent_did(project):
    out = subprocess.run([sys.executable, "-c", FORKER], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-1] == "0", out.stderr[-3000:]
    assert (project / "used-parent" / "w.bin").read_bytes()[:6] == b"parent"
