"""R4: crash states with un-fsynced writes lost (a "forgetful filesystem").

A real `Repository.log` loop runs in a subprocess on a store inside a loop-mounted
ext4 image.  At random moments the writer is SIGSTOPped (every thread stopped, so no
syscall is in flight) and the image FILE is copied: the copy holds exactly what ext4
has sent to its block device; the mounted filesystem's dirty page cache is lost, as in
a power cut.  The journal commit interval is long (commit=60), so only fsync and
the kernel's own writeback put bytes on the device.  Each copy is then e2fsck'ed,
mounted elsewhere, and must: open; fsck clean (gc may remove unreferenced leftovers);
every log that returned before the stop resolves and verifies byte for byte.
"""
from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest


def why_not_runnable(euid: int | None = None) -> str | None:
    """Why R4 cannot run here (None: it can): it makes, loop-mounts and checks ext4 images."""
    if (os.geteuid() if euid is None else euid) != 0:
        return "R4 needs root to loop-mount ext4 images (mount, mkfs.ext4, e2fsck); run it as root, as CI does"
    missing = [t for t in ("mount", "umount", "mkfs.ext4", "e2fsck") if shutil.which(t) is None]
    return f"R4 needs {', '.join(missing)} on PATH to loop-mount ext4 images" if missing else None


needs_root = pytest.mark.skipif(why_not_runnable() is not None, reason=why_not_runnable() or "")

WRITER = r"""
import os, random, sys, time
from mvc.repo import Repository, create_store
store, work = sys.argv[1], sys.argv[2]
create_store(store)
r = Repository(store)
i = 0
while True:
    src = os.path.join(work, f"src{i % 2}")
    os.makedirs(src, exist_ok=True)
    for name in os.listdir(src):
        os.unlink(os.path.join(src, name))
    if i % 2:
        open(os.path.join(src, "big.bin"), "wb").write(os.urandom(400_000))     # one loose chunk
    else:
        for k in range(10):                                                     # one pack
            open(os.path.join(src, f"f{k}.bin"), "wb").write(os.urandom(8_000))
    res = r.log(src, "m", "model", "p")
    print(res.version.version, res.version.record["digest"], flush=True)
    i += 1
    time.sleep(random.uniform(0, 0.1))   # paced, so 100 crash states fit in the image
"""


def _run(*cmd, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(list(map(str, cmd)), capture_output=True, text=True, check=check)


@contextlib.contextmanager
def mounted(image, mnt, opts="commit=60"):
    """Loop-mount ``image`` at ``mnt``; always unmount and detach."""
    mnt.mkdir(exist_ok=True)
    _run("mount", "-o", f"loop,{opts}", image, mnt)
    try:
        yield mnt
    finally:
        if _run("umount", mnt, check=False).returncode != 0:
            time.sleep(0.5)
            _run("umount", "-l", mnt, check=False)


def _all_threads_stopped(pid: int) -> bool:
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            state = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            continue
        if state not in ("T", "t"):
            return False
    return True


def _freeze(proc, timeout=10.0) -> None:
    os.kill(proc.pid, signal.SIGSTOP)
    end = time.time() + timeout
    while not _all_threads_stopped(proc.pid):   # a thread inside fsync stops only when it returns
        assert time.time() < end, "writer did not stop"
        time.sleep(0.005)


def _returned(out_path) -> list[tuple[str, str]]:
    with open(out_path) as f:
        return [tuple(line.split()) for line in f.read().splitlines() if line.count(" ") == 1]


def capture_crash_states(tmp_path, trials: int, rng: random.Random) -> list[tuple[str, list]]:
    """Run the writer inside a fresh ext4 image; return (image copy, logs returned before it)."""
    image = tmp_path / "fs.img"
    _run("truncate", "-s", "160M", image)
    _run("mkfs.ext4", "-q", "-F", image)
    states = []
    with mounted(image, tmp_path / "mnt") as mnt:
        out = tmp_path / "writer.out"
        with open(out, "w") as so:
            proc = subprocess.Popen([sys.executable, "-c", WRITER, mnt / ".mvc", mnt], stdout=so,
                                    stderr=subprocess.PIPE, text=True)
        try:
            end = time.time() + 60
            while not _returned(out) and time.time() < end:   # crash states worth having start after v0
                assert proc.poll() is None, proc.stderr.read()[-3000:]
                time.sleep(0.05)
            for k in range(trials):
                time.sleep(rng.uniform(0.02, 0.3))
                assert proc.poll() is None, proc.stderr.read()[-3000:]
                _freeze(proc)
                done = _returned(out)
                copy = tmp_path / f"crash{k}.img"
                _run("cp", "--sparse=always", image, copy)
                states.append((copy, done))
                os.kill(proc.pid, signal.SIGCONT)
        finally:
            proc.kill()
            proc.wait()
            proc.stderr.close()
    return states


def check_crash_state(copy, done, mnt) -> dict:
    """e2fsck, mount, and check one crash state; return its figures."""
    rc = _run("e2fsck", "-fy", copy, check=False).returncode
    assert rc < 4, f"e2fsck could not repair {copy} (exit {rc})"
    from mvc.repo import Repository, gc
    from mvc.repo.fsck import fsck
    with mounted(copy, mnt, "rw"):
        store = str(mnt / ".mvc")
        if not os.path.exists(os.path.join(store, "mvc-format.json")):
            assert not done, "a log returned but the store itself was lost"
            return {"returned": 0, "store": False}
        r = Repository(store)
        first = fsck(r)
        gc.run(r, gc.GcOptions(grace_s=0, retention_s=0))
        second = fsck(r)
        assert second.ok, "\n".join(p.text() for p in second.problems)
        for version, digest in done:
            v, _ = r.resolve(f"p/m:{version}")
            assert v.record["digest"] == digest and r.verify(v) == [], f"{version} returned before the crash but is damaged"
        r.stat_cache.close()
        del r
        import gc as pygc
        pygc.collect()
        return {"returned": len(done), "store": True, "first_fsck_ok": first.ok,
                "first_problems": sorted({p.kind + ":" + p.severity for p in first.problems}),
                "first_text": [p.text() for p in first.problems if p.severity == "error"]}


def run_r4(tmp_path, trials: int, seed: int) -> dict:
    rng = random.Random(seed)
    states = capture_crash_states(tmp_path, trials, rng)
    figures = {"states": 0, "returned_logs_checked": 0, "first_fsck_ok": 0}
    for copy, done in states:
        f = check_crash_state(copy, done, tmp_path / "mnt2")
        figures["states"] += 1
        figures["returned_logs_checked"] += f["returned"]
        figures["first_fsck_ok"] += bool(f.get("first_fsck_ok"))
        for kind in f.get("first_problems", []):
            figures.setdefault("first_fsck_" + kind, 0)
            figures["first_fsck_" + kind] += 1
        if f.get("first_text"):
            print(f["first_text"][:3])
        os.unlink(copy)
    return figures


@needs_root
def test_r4_forgetful_filesystem(tmp_path):
    figures = run_r4(tmp_path, trials=6, seed=4)
    print("R4", figures)
    assert figures["states"] == 6 and figures["returned_logs_checked"] > 0


@pytest.mark.slow
@needs_root
def test_r4_forgetful_filesystem_full(tmp_path):
    figures = run_r4(tmp_path, trials=100, seed=44)
    print("R4 full", figures)
    assert figures["states"] == 100


def test_r4_skips_with_its_reason_when_not_root():
    """As an ordinary user R4 is skipped, saying why, rather than failing in `mount`."""
    assert "needs root" in why_not_runnable(euid=1000)
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("checking it as another user needs root and setpriv")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*nobody, sys.executable, "-c", "import pytest, mvc"], capture_output=True, text=True,
                           cwd="/")
    if probe.returncode != 0:  # this interpreter or its packages live where that user cannot read
        pytest.skip(f"user 65534 cannot run this interpreter's pytest and mvc: {probe.stderr.strip()[-200:]}")
    tmp = tempfile.mkdtemp(prefix="mvc-r4-nobody-")
    os.chmod(tmp, 0o777)
    try:
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                            "pytest", "-q", "-rs", "-p", "no:cacheprovider", f"--basetemp={tmp}/t", __file__,
                            "-k", "test_r4_forgetful_filesystem and not full"],
                           capture_output=True, text=True, timeout=300, cwd=os.path.dirname(__file__),
                           env=dict(os.environ, HOME=tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert p.returncode == 0 and "1 skipped" in p.stdout and "R4 needs root" in p.stdout, p.stdout + p.stderr
