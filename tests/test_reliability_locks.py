"""R5: a writer killed while holding a ref lock or a lease; the next writer proceeds on its own."""
from __future__ import annotations

import os
import signal
import time

import pytest
from reliability_kit import make_store, repo, spawn

HOLD_LOCK = r"""
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)   # what libgit2 does, and no more
print("held", flush=True)
time.sleep(600)
"""

# What an mvc writer does (docs/format.md, "Ref locks"), written out by hand so that it pins the
# format: flock the owner file, record host, PID and start in it, then make libgit2's .lock.
HOLD_OWNED_LOCK = r"""
import fcntl, json, os, socket, sys, time
store, ref = sys.argv[1], sys.argv[2]
owner = os.path.join(store, "ref-owners", *ref.split("/")) + ".owner"
os.makedirs(os.path.dirname(owner), exist_ok=True)
ofd = os.open(owner, os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(ofd, fcntl.LOCK_EX)
start = int(open("/proc/self/stat", "rb").read().rsplit(b")", 1)[1].split()[19])
rec = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time(), "start": start}
os.write(ofd, json.dumps(rec, sort_keys=True, separators=(",", ":")).encode() + b"\n")
fd = os.open(os.path.join(store, *ref.split("/")) + ".lock", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
print("held", flush=True)
time.sleep(600)
"""

REF = "refs/mvc/p/artifacts/m"

HOLD_LEASE = r"""
import sys, time
from mvc.repo.lease import Lease
with Lease(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


def _seed(tmp_path):
    store = make_store(tmp_path)
    r = repo(store)
    src = tmp_path / "a.bin"
    src.write_bytes(os.urandom(1000))
    r.log(str(src), "m", "model", "p")
    return store, r


def _kill_holder(code: str, *args: str) -> int:
    p = spawn(code, *args)
    assert p.stdout.readline().strip() == "held", p.stderr.read()
    p.send_signal(signal.SIGKILL)
    p.wait()
    return p.pid


def _lock(store: str) -> str:
    return os.path.join(store, *REF.split("/")) + ".lock"


# R5 is 20 kills in all: the full count runs 10 ref-lock and 10 lease holders; CI runs 3 + 5.
@pytest.mark.parametrize("trials", [pytest.param(3, id="ci"), pytest.param(10, id="full", marks=pytest.mark.slow)])
def test_r5_killed_ref_lock_holder(tmp_path, trials):
    """A writer killed holding the owner lock and libgit2's .lock: the next writer proceeds at
    once (the owner record names a dead PID of this host), not after a guessed quiet time."""
    store, r = _seed(tmp_path)
    lock = _lock(store)
    waits = []
    for i in range(trials):
        _kill_holder(HOLD_OWNED_LOCK, store, REF)
        assert os.path.exists(lock)
        t = time.monotonic()
        r.artifacts.set_alias("p", "m", "v0", f"a{i}")      # proceeds on its own
        waits.append(time.monotonic() - t)
        assert not os.path.exists(lock)
        assert r.artifacts.state("p", "m").aliases[f"a{i}"] == "v0"
    print(f"\nR5 ref lock: {trials} killed holders, next writer proceeded after "
          f"{min(waits):.2f}-{max(waits):.2f} s (median {sorted(waits)[len(waits) // 2]:.2f} s)")
    assert max(waits) < 0.5


def test_r5_blocked_message_names_lock_holder_age_and_command(tmp_path, monkeypatch):
    from mvc.errors import LockError
    from mvc.meta import gitdb
    store, r = _seed(tmp_path)
    lock = _lock(store)
    p = spawn(HOLD_OWNED_LOCK, store, REF)
    assert p.stdout.readline().strip() == "held"
    monkeypatch.setattr(gitdb, "MAX_WAIT_S", 1.0)
    try:
        r.artifacts.set_alias("p", "m", "v0", "x")
        raise AssertionError("a live holder must block")
    except LockError as e:
        text = str(e)
        assert lock in text and "age" in text and f"PID {p.pid}" in text and "mvc unlock" in text
        assert os.uname().nodename in text
    finally:
        p.kill()
        p.wait()
    assert os.path.exists(lock)                              # a live holder's lock was never touched


def test_lock_without_owner_record_is_cleared_by_age_only(tmp_path, monkeypatch):
    """A .lock no mvc writer recorded (another program; no PID to check) proves nothing at once:
    it is stale only after STALE_LOCK_S, and still the same file LOCK_RECHECK_S later."""
    from mvc.meta import locks
    store, r = _seed(tmp_path)
    _kill_holder(HOLD_LOCK, _lock(store))
    monkeypatch.setattr(locks, "STALE_LOCK_S", 1.0)
    assert not locks.lock_is_stale(locks.lock_info(_lock(store)))
    t = time.monotonic()
    r.artifacts.set_alias("p", "m", "v0", "b")
    assert time.monotonic() - t >= 1.0 and not os.path.exists(_lock(store))


def test_network_filesystem_keeps_the_age_rule(tmp_path, monkeypatch):
    """Advisory locks lie on network filesystems: there mvc takes no owner lock and a recorded
    dead owner proves nothing; only age clears a lock."""
    from mvc import fsinfo
    from mvc.errors import LockError
    from mvc.meta import gitdb, locks
    store, r = _seed(tmp_path)
    _kill_holder(HOLD_OWNED_LOCK, store, REF)
    with open("/proc/mounts") as f:                          # pretend tmp_path's filesystem is shared
        monkeypatch.setattr(fsinfo, "NETWORK_FS", fsinfo.NETWORK_FS | {line.split()[2] for line in f})
    monkeypatch.setattr(gitdb, "MAX_WAIT_S", 0.5)
    assert not locks.lock_is_stale(locks.lock_info(_lock(store)))
    with pytest.raises(LockError):
        repo(store).artifacts.set_alias("p", "m", "v0", "c")
    monkeypatch.setattr(locks, "STALE_LOCK_S", 0.0)
    monkeypatch.setattr(gitdb, "MAX_WAIT_S", 60.0)
    repo(store).artifacts.set_alias("p", "m", "v0", "c")
    assert not os.path.exists(_lock(store))


def test_a_forked_child_does_not_keep_the_owner_lock(tmp_path):
    """A process forked while a writer thread holds an owner lock (a DataLoader worker) must not
    keep the ref locked for its whole life once the parent lets go."""
    from mvc.meta import locks
    store, _ = _seed(tmp_path)
    owner = locks.RefOwner(store, REF)
    assert owner.acquire()
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(w, b"up")                                   # the fork hooks have run
        time.sleep(5)
        os._exit(0)
    try:
        assert os.read(r, 2) == b"up"
        owner.release()
        again = locks.RefOwner(store, REF)
        assert again.acquire()
        again.release()
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_a_filesystem_without_flock_still_moves_refs(tmp_path, monkeypatch):
    """Where flock is not supported (ENOLCK, some FUSE mounts) writers go on unowned, and only
    age clears a lock, as on a network filesystem."""
    import errno
    import fcntl
    from mvc.meta import locks
    store, r = _seed(tmp_path)

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")
    monkeypatch.setattr(fcntl, "flock", no_flock)
    r.artifacts.set_alias("p", "m", "v0", "d")
    assert r.artifacts.state("p", "m").aliases["d"] == "v0"
    assert locks.RefOwner(store, REF).acquire() and not locks.RefOwner(store, REF).clear_left_lock()


def test_owner_record_of_a_reused_pid_or_another_host(tmp_path, monkeypatch):
    """A record names one process: a live PID that started at another time is a reused PID (the
    owner is gone); a record of another host proves nothing here."""
    from mvc import procs
    from mvc.meta import locks
    me = {"host": procs.hostname(), "pid": os.getpid(), "since": 1.0, "start": procs.start_ticks(os.getpid())}
    assert not locks._gone(me)
    assert locks._gone(dict(me, start=me["start"] + 1))
    assert not locks._gone(dict(me, host=me["host"] + "-other", pid=2 ** 22 + 1))


@pytest.mark.parametrize("trials", [pytest.param(5, id="ci"), pytest.param(10, id="full", marks=pytest.mark.slow)])
def test_r5_killed_lease_holder(tmp_path, trials):
    from mvc.repo import gc, lease
    store, r = _seed(tmp_path)
    waits = []
    for _ in range(trials):
        _kill_holder(HOLD_LEASE, store)
        orphan, _ = r.chunks.put(os.urandom(100))
        t = time.monotonic()
        plan = gc.run(r, gc.GcOptions(grace_s=0, retention_s=0))    # at once: the PID is dead
        waits.append(time.monotonic() - t)
        assert orphan in plan.chunks and len(plan.leases) == 1 and lease.list_leases(store) == []
    print(f"\nR5 lease: {trials} killed holders, each cleared by the next gc at once "
          f"(gc took {min(waits) * 1000:.0f}-{max(waits) * 1000:.0f} ms)")


def test_unlock_command_lists_and_clears(tmp_path):
    from click.testing import CliRunner
    from mvc.cli.commands.unlock import command
    store, r = _seed(tmp_path)
    pid = _kill_holder(HOLD_LEASE, store)
    owner = _kill_holder(HOLD_OWNED_LOCK, store, REF)
    res = CliRunner().invoke(command, [], env={"MVC_DIR": store})
    assert res.exit_code == 0 and f"PID {pid} (dead)" in res.output and "removed" in res.output
    assert f"PID {owner} on host {os.uname().nodename}, which has ended: removed" in res.output, res.output
    assert not os.path.exists(_lock(store))
