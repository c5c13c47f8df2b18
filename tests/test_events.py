"""Store events: the user's executables in .mvc/hooks get one JSON document per event; pre-alias and
pre-link veto with their message (nothing moves); post-events are spooled before the ref moves and
delivered at least once, even when the process is SIGKILLed right after the commit."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import mvc
from mvc.errors import HookVetoError, ProtectedAliasError
from mvc.meta import refs
from mvc.repo import Repository


def hook(store_dir, event: str, body: str) -> str:
    """Install a Python hook ``event`` in the store; ``body`` sees ``doc`` (the event) and ``out``
    (a file beside the store that collects one JSON line per run)."""
    path = os.path.join(store_dir, "hooks", event)
    out = os.path.join(os.path.dirname(store_dir), f"{event}.jsonl")
    with open(path, "w") as f:
        f.write(f"#!{sys.executable}\nimport json, sys\ndoc = json.load(sys.stdin)\n"
                f"out = {out!r}\nwith open(out, 'a') as f: f.write(json.dumps(doc) + '\\n')\n{body}\n")
    os.chmod(path, 0o755)
    return out


def runs_of(out: str) -> list[dict]:
    try:
        with open(out) as f:
            return [json.loads(line) for line in f]
    except FileNotFoundError:
        return []


@pytest.fixture
def two_versions(project):
    with mvc.init() as run:
        for i in range(2):
            (project / "m.bin").write_bytes(b"weights %d" % i)
            run.log_model(str(project / "m.bin"), name="M")
    return Repository.find(str(project))


def mvc_cmd(*args, env=None, cwd=None):
    e = dict(os.environ, MVC_SERVER="0", **(env or {}))
    return subprocess.run([sys.executable, "-m", "mvc", *args], capture_output=True, text=True, env=e, cwd=cwd)


def test_post_alias_hook_gets_one_document_after_the_commit(two_versions):
    out = hook(two_versions.path, "post-alias", "")
    api = mvc.Api()
    api.set_alias("M:v0", "production")
    (doc,) = runs_of(out)
    tip = Repository.find().meta.tip(refs.artifact("proj", "M"))
    assert doc["event"] == "post-alias" and doc["alias"] == "production"
    assert (doc["old"], doc["new"], doc["address"]) == (None, "v0", "proj/M:v0")
    assert doc["digest"] == api.artifact("M:v0").digest
    assert doc["commit"] == str(tip.id)            # the change was committed before the hook ran
    assert doc["user"] == "tester" and doc["time"].endswith("+00:00") and doc["schema"] == 1
    api.set_alias("M:v1", "production")
    assert [(d["old"], d["new"]) for d in runs_of(out)] == [(None, "v0"), ("v0", "v1")]
    assert not os.listdir(os.path.join(two_versions.path, "events", "spool"))  # delivered, then gone


def test_post_log_and_post_link_and_alias_of_a_log(project):
    store = Repository.find(str(project)).path
    logs, links, aliases = (hook(store, e, "") for e in ("post-log", "post-link", "post-alias"))
    (project / "m.bin").write_bytes(b"v0 bytes")
    with mvc.init() as run:
        art = run.log_model(str(project / "m.bin"), name="M", aliases=["best"])
        run.log_model(str(project / "m.bin"), name="M")   # same content: no new version, no log event
        art.link("registry/prod", aliases=["staging"])
    assert [(d["address"], d["digest"]) for d in runs_of(logs)] == [("proj/M:v0", art.digest)]
    (link,) = runs_of(links)
    assert (link["address"], link["source"], link["model"]) == ("registry/prod:v0", "proj/M:v0", "prod")
    assert [(d["subject"], d["alias"], d["new"]) for d in runs_of(aliases)] == [
        ("proj/M", "best", "v0"), ("registry/prod", "staging", "v0")]   # `latest` makes no alias event


def test_pre_alias_veto_moves_nothing_and_quotes_the_hook(two_versions):
    hook(two_versions.path, "pre-alias", "print('production moves need a ticket'); sys.exit(doc['alias'] == 'production')")
    posted = hook(two_versions.path, "post-alias", "")
    api = mvc.Api()
    before = api.alias_history("M")
    with pytest.raises(HookVetoError) as e:
        api.set_alias("M:v0", "production")
    assert "production moves need a ticket" in e.value.message and "nothing was changed" in e.value.hint
    assert "production" not in api.artifact("M:v0").aliases and api.alias_history("M") == before
    assert runs_of(posted) == []
    api.set_alias("M:v0", "staging")                     # the hook says yes to others
    assert [d["alias"] for d in runs_of(posted)] == ["staging"]
    r = mvc_cmd("alias", "set", "M:v1", "production")
    assert r.returncode == 4 and "production moves need a ticket" in r.stderr and "Traceback" not in r.stderr


def test_pre_link_veto(two_versions):
    hook(two_versions.path, "pre-link", "print('no links on fridays', file=sys.stderr); sys.exit(3)")
    with pytest.raises(HookVetoError, match="no links on fridays"):
        mvc.Api().artifact("M:v1").link("registry/prod")
    assert mvc.Api().registered_models() == []


def test_protected_alias_needs_force_and_is_in_history(two_versions):
    api = mvc.Api()
    api.set_alias("M:v0", "production")
    assert api.protect_alias("M", "production") is True and api.protect_alias("M", "production") is False
    assert api.protected_aliases("M") == ["production"]
    with pytest.raises(ProtectedAliasError) as e:
        api.set_alias("M:v1", "production")
    assert "--force" in e.value.message and "unprotect" in e.value.hint
    with pytest.raises(ProtectedAliasError):
        api.remove_alias("M", "production")
    with pytest.raises(ProtectedAliasError):          # a log that would move it is refused whole
        with mvc.init() as run:
            with open("n.bin", "wb") as f:
                f.write(b"new weights")
            run.log_model("n.bin", name="M", aliases=["production"])
    assert [a.version for a in api.artifacts("M")] == ["v0", "v1"]
    assert api.artifact("M:production").version == "v0"
    assert api.set_alias("M:v1", "production", force=True) == "v0"
    ops = [(h["op"], h["alias"]) for h in api.alias_history("M")][:2]
    assert ops == [("alias", "production"), ("protect", "production")]
    r = mvc_cmd("alias", "set", "M:v0", "production")
    assert r.returncode == 4 and "protected" in r.stderr
    assert mvc_cmd("alias", "set", "--force", "M:v0", "production").returncode == 0
    assert mvc_cmd("alias", "unprotect", "M", "production").returncode == 0
    api = mvc.Api()
    api.set_alias("M:v1", "production")
    assert api.protected_aliases("M") == []


def test_a_pre_alias_hook_decides_for_protected_aliases(two_versions):
    seen = hook(two_versions.path, "pre-alias", "sys.exit(0 if doc['new'] == 'v1' else 1)")
    api = mvc.Api()
    api.protect_alias("M", "production")
    api.set_alias("M:v1", "production")                     # the hook said yes
    with pytest.raises(HookVetoError):
        api.set_alias("M:v0", "production")
    assert [(d["protected"], d["force"], d["event"]) for d in runs_of(seen)] == [
        (True, False, "pre-alias"), (True, False, "pre-alias")]


def test_registry_alias_protection(two_versions):
    api = mvc.Api()
    api.artifact("M:v0").link("registry/prod", aliases=["production"])
    api.artifact("M:v1").link("registry/prod")
    api.protect_alias("registry/prod", "production")
    with pytest.raises(ProtectedAliasError):
        api.set_alias("registry/prod:v1", "production")
    assert api.set_alias("registry/prod:v1", "production", force=True) == "v0"
    r = mvc_cmd("registry", "alias", "prod:v0", "production")          # the CLI, as `mvc alias set`
    assert r.returncode == 4 and "protected" in r.stderr
    assert mvc.Api().repo.registry.aliases("prod")["production"] == "v1"   # refused: nothing moved
    assert mvc_cmd("registry", "alias", "--force", "prod:v0", "production").returncode == 0
    assert mvc.Api().repo.registry.aliases("prod")["production"] == "v0"
    assert mvc_cmd("registry", "alias", "--rm", "prod", "production").returncode == 4
    assert mvc_cmd("registry", "alias", "--rm", "--force", "prod", "production").returncode == 0
    assert "production" not in mvc.Api().repo.registry.aliases("prod")


def test_latest_cannot_be_protected(two_versions):
    with pytest.raises(mvc.MvcError, match="latest"):
        mvc.Api().protect_alias("M", "latest")


def test_crash_right_after_the_commit_still_delivers_once(two_versions, project):
    out = hook(two_versions.path, "post-alias", "")
    r = mvc_cmd("alias", "set", "M:v1", "production", env={"MVC_TEST_CRASH_AT": "alias:after-ref-move"})
    assert r.returncode == -9                                   # SIGKILLed after the ref moved
    assert runs_of(out) == []                                   # its hook has not run
    assert len(os.listdir(os.path.join(two_versions.path, "events", "spool"))) == 1
    assert mvc_cmd("ls").returncode == 0                        # the next command delivers it
    (doc,) = runs_of(out)
    assert mvc.Api().artifact("M:production").version == "v1"  # the change was committed
    assert (doc["alias"], doc["new"]) == ("production", "v1")
    assert mvc_cmd("ls").returncode == 0 and mvc_cmd("hooks", "run-pending").returncode == 0
    assert len(runs_of(out)) == 1                               # once
    assert os.listdir(os.path.join(two_versions.path, "events", "spool")) == []


def test_run_pending_delivers_a_crashed_log(project):
    store = Repository.find(str(project)).path
    out = hook(store, "post-log", "")
    (project / "m.bin").write_bytes(b"crashing log")
    r = mvc_cmd("log", "m.bin", "--name", "M", env={"MVC_TEST_CRASH_AT": "log:after-ref-move"})
    assert r.returncode == -9 and runs_of(out) == []
    r = subprocess.run([sys.executable, "-c", "import mvc; print(mvc.Api().run_pending_events())"],
                       capture_output=True, text=True)
    assert "'delivered': 1" in r.stdout, r.stderr
    assert [d["address"] for d in runs_of(out)] == ["proj/M:v0"]


def test_a_crash_before_the_ref_moved_delivers_nothing(two_versions):
    out = hook(two_versions.path, "post-alias", "")
    r = mvc_cmd("alias", "set", "M:v1", "production", env={"MVC_TEST_CRASH_AT": "alias:before-ref-move"})
    assert r.returncode == -9
    assert len(os.listdir(os.path.join(two_versions.path, "events", "spool"))) == 1
    r = mvc_cmd("hooks", "run-pending")
    assert r.returncode == 0 and "dropped 1" in r.stdout, r.stdout + r.stderr
    assert runs_of(out) == [] and "production" not in mvc.Api().artifact("M:v1").aliases


def test_a_failing_post_hook_is_reported_and_the_change_stands(two_versions):
    hook(two_versions.path, "post-alias", "print('boom'); sys.exit(2)")
    r = mvc_cmd("alias", "set", "M:v0", "production")
    assert r.returncode == 0 and "boom" in r.stderr and "post-alias hook" in r.stderr
    assert mvc.Api().artifact("M:production").version == "v0"


def test_nothing_is_spooled_without_a_listener(two_versions):
    mvc.Api().set_alias("M:v0", "production")
    assert not os.path.exists(os.path.join(two_versions.path, "events"))


def test_hooks_are_never_part_of_the_metadata(two_versions):
    """.mvc/hooks is the user's own: nothing under it is in the git metadata a pull or clone
    transfers (refs and the objects they reach)."""
    hook(two_versions.path, "post-alias", "# secret-marker-4711")
    mvc.Api().set_alias("M:v0", "production")
    objs = subprocess.run(["git", "--git-dir", two_versions.path, "rev-list", "--all", "--objects"],
                          capture_output=True, text=True, check=True).stdout
    assert "hooks" not in objs and "post-alias" not in objs
    blobs = subprocess.run(["git", "--git-dir", two_versions.path, "cat-file", "--batch-all-objects",
                            "--batch"], capture_output=True, check=True).stdout
    assert b"secret-marker-4711" not in blobs


def test_a_hook_others_can_write_is_not_run(two_versions):
    out = hook(two_versions.path, "post-alias", "")
    os.chmod(os.path.join(two_versions.path, "hooks", "post-alias"), 0o777)
    r = mvc_cmd("alias", "set", "M:v0", "production")
    assert r.returncode == 0 and "writable by others" in r.stderr and runs_of(out) == []


def test_a_clone_of_a_store_with_hooks_never_runs_them(project, tmp_path):
    """The origin's .mvc/hooks (a veto and post-hooks that leave a mark) never reach a clone:
    clone and pull transfer refs and objects, not that folder."""
    origin = Repository.find(str(project)).path
    mark = tmp_path / "hook-ran"
    for event in ("pre-alias", "pre-link", "post-log", "post-alias", "post-link"):
        path = os.path.join(origin, "hooks", event)
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\necho {event} >> {mark}\nexit 1\n")
        os.chmod(path, 0o755)
    (project / "m.bin").write_bytes(b"weights")
    r = mvc_cmd("log", "m.bin", "--name", "M")
    assert r.returncode == 0 and mark.read_text() == "post-log\n"     # they are live in the origin
    mark.unlink()
    dest = tmp_path / "dest"
    r = mvc_cmd("clone", origin, str(dest), "--storage", origin, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not set(os.listdir(dest / ".mvc" / "hooks")) & {"pre-alias", "post-log", "post-alias"}
    assert mvc_cmd("alias", "set", "M:v0", "production", env={"MVC_PROJECT": "proj"}, cwd=dest).returncode == 0
    (dest / "n.bin").write_bytes(b"more weights")
    assert mvc_cmd("log", "n.bin", "--name", "M", env={"MVC_PROJECT": "proj"}, cwd=dest).returncode == 0
    assert mvc_cmd("link", "M:v1", "--to", "prod", env={"MVC_PROJECT": "proj"}, cwd=dest).returncode == 0
    (project / "m.bin").write_bytes(b"weights 2")
    assert mvc_cmd("log", "m.bin", "--name", "M").returncode == 0         # the origin moves on ...
    mark.unlink()
    pulled = mvc_cmd("pull", cwd=dest)                                     # ... a pull brings refs only
    assert pulled.returncode == 0, pulled.stderr
    assert not mark.exists()


def test_concurrent_commands_deliver_a_left_event_once(two_versions):
    out = hook(two_versions.path, "post-alias", "import time; time.sleep(0.3)")
    r = mvc_cmd("alias", "set", "M:v1", "production", env={"MVC_TEST_CRASH_AT": "alias:after-ref-move"})
    assert r.returncode == -9 and runs_of(out) == []
    env = dict(os.environ, MVC_SERVER="0")
    procs = [subprocess.Popen([sys.executable, "-m", "mvc", "hooks", "run-pending"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert [(d["alias"], d["new"]) for d in runs_of(out)] == [("production", "v1")]   # one take-over won


def test_a_pre_hook_that_hangs_is_a_veto(two_versions, monkeypatch):
    hook(two_versions.path, "pre-alias", "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(30)")
    monkeypatch.setenv("MVC_HOOK_TIMEOUT", "1")
    import time
    start = time.monotonic()
    with pytest.raises(HookVetoError, match="timed out"):
        mvc.Api().set_alias("M:v0", "production")
    assert time.monotonic() - start < 20          # its grandchild holding the pipe did not keep us waiting
    assert "production" not in mvc.Api().artifact("M:v0").aliases


def test_protection_travels_with_push_and_clone(two_versions, tmp_path, project):
    api = mvc.Api()
    api.set_alias("M:v0", "production")
    api.protect_alias("M", "production")
    meta, storage = tmp_path / "meta.git", tmp_path / "bytes"
    subprocess.run(["git", "init", "-q", "--bare", str(meta)], check=True)
    assert mvc_cmd("remote", "add", "origin", str(meta), "--storage", str(storage)).returncode == 0
    r = mvc_cmd("push")
    assert r.returncode == 0, r.stderr
    dest = tmp_path / "dest"
    assert mvc_cmd("clone", str(meta), str(dest), cwd=tmp_path).returncode == 0
    r = mvc_cmd("alias", "set", "M:v1", "production", env={"MVC_PROJECT": "proj"}, cwd=dest)
    assert r.returncode == 4 and "protected" in r.stderr
    assert mvc_cmd("alias", "set", "--force", "M:v1", "production", env={"MVC_PROJECT": "proj"}, cwd=dest).returncode == 0
