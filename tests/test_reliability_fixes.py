"""Defects noted at the close of #12 and #13, each with the test that failed before its fix.

1. read-modify-write files without a lock (webhooks.json, config.toml, mvc.lock) lost updates;
2. fsck on a `--no-bytes` clone called never-fetched chunks missing;
3. a SIGKILLed clone left ``DIR/.mvc-clone-<pid>`` behind forever;
4. a test left a ``.mvc`` store in the repository root (guarded in conftest.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import mvc

ROUNDS = 3
WRITERS = 8


def mvc_cmd(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "mvc", *args], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ, MVC_SERVER="0", **(env or {})), timeout=300)


# ---- 1. no lost update in the user's small files --------------------------------------------------
def race(snippets: list[str], cwd, gate) -> None:
    """Run each snippet in its own process, all let go at the same instant: every process does
    its imports and setup, says it is ready, then waits for the gate file before its write."""
    gate = str(gate)
    procs = []
    for i, code in enumerate(snippets):
        prog = (f"import os, sys, time\n{code['setup']}\n"
                f"open({gate!r} + '.ready{i}', 'w').close()\n"
                f"while not os.path.exists({gate!r}):\n    time.sleep(0.0005)\n{code['write']}\n")
        procs.append(subprocess.Popen([sys.executable, "-c", prog], cwd=str(cwd), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 120
    while not all(os.path.exists(f"{gate}.ready{i}") for i in range(len(snippets))):
        assert time.monotonic() < deadline, "the racers never got ready"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
        time.sleep(0.01)
    open(gate, "w").close()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    for i in range(len(snippets)):
        os.unlink(f"{gate}.ready{i}")
    os.unlink(gate)


@pytest.fixture
def webhook_store(project):
    with mvc.init() as run:
        (project / "m.bin").write_bytes(b"weights")
        run.log_model(str(project / "m.bin"), name="M")
    return project


def _add_webhook(url: str) -> dict:
    return {"setup": "import mvc\napi = mvc.Api()", "write": f"api.add_webhook({url!r}, 'alias')"}


def test_concurrent_webhook_adds_and_removes_lose_nothing(webhook_store, tmp_path):
    expected: set[str] = set()
    for r in range(ROUNDS):
        urls = [f"http://127.0.0.1:9/r{r}/w{i}" for i in range(WRITERS)]
        race([_add_webhook(u) for u in urls], webhook_store, tmp_path / "gate")
        expected |= set(urls)
        listed = json.loads(mvc_cmd("webhook", "ls", "--json", cwd=webhook_store).stdout)
        assert sorted(h["url"] for h in listed) == sorted(expected), f"round {r}: lost an add"
    # removes racing adds: half the processes remove one each, the other half add one each
    gone = sorted(expected)[:WRITERS // 2]
    new = [f"http://127.0.0.1:9/late/w{i}" for i in range(WRITERS // 2)]
    removes = [{"setup": "import mvc\napi = mvc.Api()", "write": f"api.remove_webhook({u!r})"} for u in gone]
    race(removes + [_add_webhook(u) for u in new], webhook_store, tmp_path / "gate")
    urls = sorted(h["url"] for h in mvc.Api().webhooks())
    assert urls == sorted((expected - set(gone)) | set(new))
    assert not [n for n in os.listdir(webhook_store / ".mvc") if n.startswith(".tmp-")]


def test_two_cli_webhook_adds_at_once_both_land(webhook_store):
    """The same through `mvc webhook add` itself (start-up jitter makes the overlap rarer, so
    this is the smoke test; the race above is the proof)."""
    urls = [f"http://127.0.0.1:9/cli{i}" for i in range(WRITERS)]
    procs = [subprocess.Popen([sys.executable, "-m", "mvc", "webhook", "add", u, "--event", "link"],
                              cwd=webhook_store, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, MVC_SERVER="0")) for u in urls]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert sorted(h["url"] for h in mvc.Api().webhooks()) == sorted(urls)


SETTINGS = {"user.name": "Ann", "user.email": "ann@example.com", "core.project": "p1", "use.link": "hardlink",
            "remote.default": "team", "cache.max_size": "20G"}


@pytest.mark.parametrize("level", ["store", "user"])
def test_concurrent_config_sets_lose_nothing(project, tmp_path, monkeypatch, level):
    from mvc import settings
    mvc.init().finish()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    user = level == "user"
    setup = "from mvc.api.settings import set_setting, unset_setting"
    for r in range(ROUNDS):
        race([{"setup": setup, "write": f"set_setting({k!r}, {v!r}, user={user})"} for k, v in SETTINGS.items()],
             project, tmp_path / "gate")
        path = settings.user_file() if user else settings.store_file(str(project / ".mvc"))
        assert settings.read_file(path) == SETTINGS, f"round {r}: lost a set"
        keys = sorted(SETTINGS)
        race([{"setup": setup, "write": f"unset_setting({k!r}, user={user})"} for k in keys[:3]]
             + [{"setup": setup, "write": f"set_setting({k!r}, {SETTINGS[k]!r}, user={user})"} for k in keys[3:]],
             project, tmp_path / "gate")
        assert settings.read_file(path) == {k: SETTINGS[k] for k in keys[3:]}, f"round {r}: lost an unset"
    listed = mvc_cmd("config", "list", cwd=project, env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert listed.returncode == 0 and "hardlink" in listed.stdout, listed.stderr


def test_concurrent_lock_pins_lose_nothing(tmp_path):
    """mvc.lock is rewritten by each `mvc use --save`: eight of them at once keep eight pins."""
    from mvc.hooks import lockfile
    code = tmp_path / "code"
    code.mkdir()
    lock = code / lockfile.NAME
    for r in range(ROUNDS):
        snippets = []
        for i in range(WRITERS):
            pin = dict(key=f"m{r}-{i}", project="p", name=f"m{r}-{i}", version="v0", digest=f"{i:064x}",
                       path=f"models/m{r}-{i}")
            snippets.append({"setup": "from mvc.hooks.lockfile import Pin, save",
                             "write": f"save({str(lock)!r}, Pin(**{pin!r}))"})
        race(snippets, code, tmp_path / "gate")
        keys = {p.key for p in lockfile.load(str(lock))}
        assert keys == {f"m{q}-{i}" for q in range(r + 1) for i in range(WRITERS)}, f"round {r}: lost a pin"
    assert sorted(os.listdir(code)) == [lockfile.NAME]  # no lock or temp file left beside it


# ---- 2. fsck on a --no-bytes clone -------------------------------------------------------------
def _fsck_json(cwd) -> tuple[int, dict]:
    res = mvc_cmd("fsck", "--json", cwd=cwd)
    return res.returncode, json.loads(res.stdout)


def test_fsck_on_a_no_bytes_clone_reports_not_fetched_not_damage(tmp_path):
    from git_servers import make_bare
    from remote_kit import api, log, new_store
    bare = make_bare(str(tmp_path / "r.git"))
    a = new_store(tmp_path, "a")
    log(a, os.urandom(70_000))
    log(a, os.urandom(90_000), link="reg")  # v1, also registry/reg:v0
    api(a).add_remote("origin", bare, storage=str(tmp_path / "bytes"))
    api(a).push()
    everything = set(api(a).repo.chunks.ids())
    c = tmp_path / "c"
    res = mvc_cmd("clone", bare, str(c), "--no-bytes", cwd=tmp_path)
    assert res.returncode == 0, res.stderr

    code, rep = _fsck_json(c)
    assert code == 0 and rep["ok"], rep
    assert rep["chunks_not_fetched"] == len(everything) and rep["chunks_total"] == 0
    (p,) = rep["problems"]
    assert (p["kind"], p["severity"], p["object"]) == ("not-fetched", "info", "origin")
    assert p["versions"] == ["p/m:v0", "p/m:v1", "registry/reg:v0"] and "mvc use" in p["fix"]
    text = mvc_cmd("fsck", cwd=c)
    assert text.returncode == 0 and "not fetched" in text.stdout and "missing" not in text.stdout, text.stdout
    assert text.stdout.splitlines()[-1].startswith("ok:")

    # a use fetches one version's bytes: those are no longer reported
    res = mvc_cmd("--project", "p", "use", "m:v0", "-o", str(tmp_path / "out"), cwd=c)
    assert res.returncode == 0, res.stderr
    here = api(a).repo
    v0 = {cid for _, ptr in here.entries(here.resolve("p/m:v0")[0]) for cid, _ in ptr.chunks}
    code, rep = _fsck_json(c)
    assert code == 0 and rep["chunks_not_fetched"] == len(everything - v0) > 0
    assert rep["problems"][0]["versions"] == ["p/m:v1", "registry/reg:v0"]

    # a version made here, never pushed, whose bytes are gone: that is damage, and fsck fails
    log(str(c), os.urandom(60_000))  # p/m:v2
    store = api(str(c)).repo
    lost = set(store.chunks.ids()) - everything
    assert lost
    for cid in lost:
        os.unlink(store.chunks.path(cid))
    code, rep = _fsck_json(c)
    assert code == 5 and not rep["ok"]
    errors = [p for p in rep["problems"] if p["severity"] == "error"]
    assert {p["kind"] for p in errors} == {"missing-chunk"} and {v for p in errors for v in p["versions"]} == {"p/m:v2"}
    assert [p["kind"] for p in rep["problems"] if p["severity"] == "info"] == ["not-fetched"]

    # with no remote to fetch from, the bytes never fetched are missing too
    assert mvc_cmd("remote", "rm", "origin", cwd=c).returncode == 0
    code, rep = _fsck_json(c)
    assert code == 5 and rep["chunks_not_fetched"] == 0
    assert {p["kind"] for p in rep["problems"]} == {"missing-chunk"}
    assert {v for p in rep["problems"] for v in p["versions"]} == {"p/m:v1", "registry/reg:v0", "p/m:v2"}


# ---- 3. the folder of a killed clone ----------------------------------------------------------
def _pushed(tmp_path) -> str:
    """A path remote with folder bytes holding one 6 MB version: a clone takes long enough to be
    caught in the act."""
    from git_servers import make_bare
    from remote_kit import api, log, new_store
    bare = make_bare(str(tmp_path / "r.git"))
    a = new_store(tmp_path, "a")
    log(a, os.urandom(6_000_000))
    api(a).add_remote("origin", bare, storage=str(tmp_path / "bytes"))
    api(a).push()
    return bare


def _clone(bare: str, dest, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mvc", "clone", bare, str(dest)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=os.path.dirname(str(dest)),
                            env=dict(os.environ, MVC_SERVER="0", **(env or {})))


def _staging(dest) -> list[str]:
    return sorted(n for n in os.listdir(dest) if n.startswith(".mvc-clone-")) if os.path.isdir(dest) else []


def _wait_for(path, proc, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.001)


def test_a_killed_clone_leaves_nothing_the_next_clone_keeps(tmp_path):
    import signal
    bare = _pushed(tmp_path)
    dest = tmp_path / "dest"
    # SIGKILL at a crash point: every byte fetched, not yet renamed into place
    p = _clone(bare, dest, env={"MVC_TEST_CRASH_AT": "pull:after-chunks"})
    p.communicate(timeout=300)
    assert p.returncode == -signal.SIGKILL
    first = _staging(dest)
    assert first == [f".mvc-clone-{p.pid}"] and not (dest / ".mvc").exists()
    # SIGKILL from outside as soon as the next clone's folder appears: it had removed the first one
    p = _clone(bare, dest)
    _wait_for(dest / f".mvc-clone-{p.pid}", p)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    assert _staging(dest) == [f".mvc-clone-{p.pid}"]
    # the next clone removes that one too, and succeeds
    res = mvc_cmd("clone", bare, str(dest), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert _staging(dest) == [] and sorted(os.listdir(dest)) == [".mvc"]
    code, rep = _fsck_json(dest)
    assert code == 0 and rep["problems"] == [], rep


def test_a_live_clone_folder_is_never_removed(tmp_path):
    import signal
    bare = _pushed(tmp_path)
    dest = tmp_path / "dest"
    p = _clone(bare, dest)
    mine = dest / f".mvc-clone-{p.pid}"
    _wait_for(mine, p)
    os.kill(p.pid, signal.SIGSTOP)  # alive, mid-clone
    try:
        res = mvc_cmd("clone", bare, str(dest), cwd=tmp_path)  # another clone into the same folder
        assert res.returncode == 0, res.stderr
        assert mine.is_dir()
        gc = mvc_cmd("gc", "--json", cwd=dest)
        assert gc.returncode == 0 and json.loads(gc.stdout)["clones"] == [], gc.stderr
        code, rep = _fsck_json(dest)
        assert code == 0 and not [q for q in rep["problems"] if q["kind"] == "stale-clone"]
        assert mvc_cmd("fsck", "--repair", cwd=dest).returncode == 0
        assert mine.is_dir()
    finally:
        os.kill(p.pid, signal.SIGCONT)
    out, err = p.communicate(timeout=300)
    assert p.returncode != 0 and "appeared while cloning" in err, err  # the first store stays
    assert not mine.exists() and sorted(os.listdir(dest)) == [".mvc"]
    code, rep = _fsck_json(dest)
    assert code == 0 and rep["problems"] == [], rep


def test_gc_and_fsck_remove_only_dead_clones_folders(tmp_path):
    bare = _pushed(tmp_path)
    dest = tmp_path / "dest"
    assert mvc_cmd("clone", bare, str(dest), "--no-bytes", cwd=tmp_path).returncode == 0
    gone = subprocess.Popen(["true"])
    gone.wait()  # a PID that has ended
    dead = dest / f".mvc-clone-{gone.pid}"
    live = dest / f".mvc-clone-{os.getpid()}"  # this test's PID: alive
    for d in (dead, live):
        (d / "objects").mkdir(parents=True)
        (d / "objects" / "x").write_bytes(b"half a store")
    code, rep = _fsck_json(dest)
    stale = [q for q in rep["problems"] if q["kind"] == "stale-clone"]
    assert code == 0 and [(q["object"], q["severity"]) for q in stale] == [(str(dead), "warning")]
    assert dead.is_dir()  # fsck changes nothing without --repair
    dry = json.loads(mvc_cmd("gc", "--dry-run", "--json", cwd=dest).stdout)
    assert dry["clones"] == [str(dead)] and dead.is_dir()
    res = mvc_cmd("gc", cwd=dest)
    assert res.returncode == 0 and f"deleted clone {dead}" in res.stdout, res.stdout
    assert not dead.exists() and live.is_dir()
    # --repair removes one too
    dead.mkdir()
    res = mvc_cmd("fsck", "--repair", "--json", cwd=dest)
    assert res.returncode == 0 and not dead.exists() and live.is_dir()
    assert [q["severity"] for q in json.loads(res.stdout)["problems"] if q["kind"] == "stale-clone"] == ["info"]


# ---- 4. no store left in the repository root --------------------------------------------------
def test_conftest_fails_a_session_that_leaves_a_store_in_the_repository_root(tmp_path):
    """The guard, run on a copy of this conftest.py in a scratch repository (never /work/main:
    other sessions share it): a test that makes ROOT/.mvc fails the session, by name."""
    import shutil
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    shutil.copy(os.path.join(os.path.dirname(__file__), "conftest.py"), repo / "tests" / "conftest.py")
    (repo / "tests" / "test_leaky.py").write_text(
        "import os\n\n"
        "def test_clean():\n    pass\n\n"
        "def test_leaky():\n    os.makedirs(os.path.join(os.path.dirname(os.path.dirname(__file__)), '.mvc'), exist_ok=True)\n\n"
        "def test_after():\n    pass\n")
    # its own --basetemp: by default each session prunes the machine's older pytest-of-<user>
    # folders, which cost this test 45-60 s a session on a machine full of them
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'tmp'}",
            "tests/test_leaky.py"]
    res = subprocess.run(args, cwd=repo, capture_output=True, text=True, timeout=120)
    assert res.returncode != 0, res.stdout
    assert "created" in res.stdout and "test_leaky.py::test_leaky" in res.stdout, res.stdout
    assert not (repo / ".mvc").exists()  # removed, so the next run starts clean
    res = subprocess.run(args[:-1] + ["tests/test_leaky.py::test_clean"], cwd=repo, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout
    (repo / ".mvc").mkdir()  # one that was there before the session is not the session's to judge
    res = subprocess.run(args, cwd=repo, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and (repo / ".mvc").is_dir(), res.stdout


@pytest.mark.parametrize("kwargs, env", [({"project": "registry"}, None), ({"project": "a/b"}, None),
                                         ({}, "registry"), ({}, "a/b"), ({}, " ")])
def test_a_refused_project_name_makes_no_store(tmp_path, monkeypatch, kwargs, env):
    """mvc.init(project="registry") in /work/main made /work/main/.mvc before refusing the name
    (tests/test_names.py ran there): the name is checked before a store is found or made."""
    from mvc.errors import MvcError
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    if env is not None:
        monkeypatch.setenv("MVC_PROJECT", env)
    with pytest.raises(MvcError):
        mvc.init(**kwargs)
    assert os.listdir(cwd) == []
