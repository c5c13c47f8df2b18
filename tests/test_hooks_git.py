"""mvc's git hooks with real git: install never clobbers (marker, --chain, --force, uninstall,
twice is a no-op), honours core.hooksPath and worktrees; pre-commit refuses model weights;
pre-push pushes what mvc.lock pins through `mvc push` and stops the git push when that fails,
costs little when nothing is pinned, and fails loudly without mvc; post-checkout restores pins
only on a branch checkout, never on a file checkout or during a rebase."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

import pytest

import mvc
from mvc.hooks import gitinstall

HOOKS_FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hooks")


@pytest.fixture
def shim(tmp_path, monkeypatch):
    """`mvc` on PATH: this interpreter's mvc (as a user's installed command would be)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "mvc").write_text(f'#!/bin/sh\nexec {sys.executable} -m mvc "$@"\n')
    (folder / "mvc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MVC_SERVER", "0")
    return folder


def git(*args, cwd=None, check=True, env=None, input=None):
    return subprocess.run(["git", *args], capture_output=True, text=True, check=check, cwd=cwd, input=input,
                          env=dict(os.environ, **(env or {})))


def mvc_cmd(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mvc", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def repo(project, shim):
    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "T")
    (project / "train.py").write_text("print('train')\n")
    git("add", "train.py")
    git("commit", "-qm", "code")
    return project


def hooks_dir(where=None) -> str:
    return gitinstall.hooks_dir(str(where) if where else None)


def test_the_hooks_folder_holds_what_install_writes():
    for name in gitinstall.ALL:
        path = os.path.join(HOOKS_FOLDER, name)
        with open(path) as f:
            assert f.read() == gitinstall.script(name), f"hooks/{name} differs from gitinstall.script"
        assert os.access(path, os.X_OK)
        assert subprocess.run(["sh", "-n", path]).returncode == 0


def test_install_twice_is_a_no_op_and_uninstall_removes_only_mvcs(repo):
    r = mvc_cmd("hooks", "install")
    assert r.returncode == 0 and r.stdout.count("installed") == 2, r.stderr
    folder = hooks_dir()
    before = {n: os.stat(os.path.join(folder, n)).st_mtime_ns for n in ("pre-commit", "pre-push")}
    r = mvc_cmd("hooks", "install")
    assert r.returncode == 0 and r.stdout.count("unchanged") == 2
    assert before == {n: os.stat(os.path.join(folder, n)).st_mtime_ns for n in before}
    with open(os.path.join(folder, "post-commit"), "w") as f:   # someone else's hook
        f.write("#!/bin/sh\nexit 0\n")
    status = mvc_cmd("hooks", "status").stdout
    assert "pre-commit" in status and "post-checkout" in status and "absent" in status
    assert mvc_cmd("hooks", "uninstall").returncode == 0
    assert sorted(n for n in os.listdir(folder) if not n.endswith(".sample")) == ["post-commit"]


def test_a_foreign_hook_stops_install_unless_chained_or_forced(repo, tmp_path):
    folder = hooks_dir()
    mine = os.path.join(folder, "pre-commit")
    with open(mine, "w") as f:
        f.write(f"#!/bin/sh\necho ran >> {tmp_path}/foreign.log\nexit ${{FOREIGN_EXIT:-0}}\n")
    os.chmod(mine, 0o755)
    original = open(mine).read()
    r = mvc_cmd("hooks", "install")
    assert r.returncode == 4 and mine in r.stderr and "--chain" in r.stderr
    assert open(mine).read() == original and not os.path.exists(os.path.join(folder, "pre-push"))  # nothing
    r = mvc_cmd("hooks", "install", "--chain")
    assert r.returncode == 0 and "chained" in r.stdout
    assert gitinstall.is_mvc(mine) and open(mine + ".pre-mvc").read() == original
    (repo / "a.txt").write_text("a")
    git("add", "a.txt")
    git("commit", "-qm", "a")                               # the chained hook ran first, then mvc's
    assert (tmp_path / "foreign.log").read_text() == "ran\n"
    (repo / "b.txt").write_text("b")
    git("add", "b.txt")
    r = git("commit", "-qm", "b", check=False, env={"FOREIGN_EXIT": "3"})
    assert r.returncode != 0                                # its refusal still counts
    assert "unchanged" in mvc_cmd("hooks", "install", "--chain").stdout
    r = mvc_cmd("hooks", "uninstall")
    assert "chained hook put back" in r.stdout and open(mine).read() == original
    assert not os.path.exists(mine + ".pre-mvc")
    r = mvc_cmd("hooks", "install", "--force")
    assert r.returncode == 0 and "replaced" in r.stdout
    assert gitinstall.is_mvc(mine) and open(mine + ".mvc-backup").read() == original


def test_core_hooks_path_is_honoured(repo):
    git("config", "core.hooksPath", ".githooks")
    assert mvc_cmd("hooks", "install").returncode == 0
    assert gitinstall.is_mvc(str(repo / ".githooks" / "pre-commit"))
    assert not os.path.exists(os.path.join(repo, ".git", "hooks", "pre-commit"))
    (repo / "net.safetensors").write_bytes(b"\0" * 64)
    git("add", "net.safetensors")
    r = git("commit", "-qm", "weights", check=False)
    assert r.returncode != 0 and "net.safetensors" in r.stderr


def test_a_worktree_shares_the_hooks(repo, tmp_path):
    git("worktree", "add", "-q", str(tmp_path / "wt"), "-b", "side")
    r = mvc_cmd("hooks", "install", cwd=tmp_path / "wt")
    assert r.returncode == 0, r.stderr
    assert gitinstall.is_mvc(os.path.join(repo, ".git", "hooks", "pre-commit"))   # the common hooks folder
    (tmp_path / "wt" / "m.pt").write_bytes(b"\1" * 10)
    git("add", "m.pt", cwd=tmp_path / "wt")
    r = git("commit", "-qm", "w", cwd=tmp_path / "wt", check=False)
    assert r.returncode != 0 and "m.pt" in r.stderr


def test_pre_commit_refuses_weights_by_extension_and_size(repo):
    assert mvc_cmd("hooks", "install").returncode == 0
    (repo / "models").mkdir()
    (repo / "models" / "net.safetensors").write_bytes(b"\0" * 100)
    (repo / "blob.dat").write_bytes(os.urandom(600 * 1024))
    (repo / "notes.md").write_text("small")
    git("add", ".")
    r = git("commit", "-qm", "all", check=False)
    assert r.returncode != 0
    assert "models/net.safetensors" in r.stderr and "matches *.safetensors" in r.stderr
    assert "blob.dat" in r.stderr and "over the 500.0 KiB limit" in r.stderr
    assert "mvc log models/net.safetensors --name net.safetensors" in r.stderr and "notes.md" not in r.stderr
    assert "--no-verify" in r.stderr
    git("config", "mvc.maxFileSize", "1m")
    git("config", "mvc.allowPatterns", "models/*")
    assert git("commit", "-qm", "allowed now", check=False).returncode == 0
    (repo / "x.onnx").write_bytes(b"1")
    git("add", "x.onnx")
    assert git("commit", "-qm", "x", check=False).returncode != 0
    assert git("commit", "-qm", "x", "--no-verify", check=False).returncode == 0


def _pin_and_commit(repo, version: str, message: str):
    r = mvc_cmd("use", f"net:{version}", "-o", "models/net", "--save")
    assert r.returncode == 0, r.stderr
    git("add", "mvc.lock")
    git("commit", "-qm", message)


@pytest.fixture
def pinned(repo, model_dir):
    with open(repo / ".gitignore", "w") as f:
        f.write("models/\nmodel_dir/\nartifacts/\n")
    git("add", ".gitignore")
    git("commit", "-qm", "ignore")
    with mvc.init() as run:
        run.log_model(str(model_dir), name="net")
        (model_dir / "weights.bin").write_bytes(os.urandom(2000))
        run.log_model(str(model_dir), name="net")
    git("init", "-q", "--bare", str(repo.parent / "remote.git"))
    git("remote", "add", "origin", str(repo.parent / "remote.git"))
    git("push", "-q", "origin", "main")
    return repo


def test_pre_push_pushes_the_pinned_versions_through_mvc_push(pinned):
    meta, storage = pinned.parent / "models-meta.git", pinned.parent / "models-bytes"
    git("init", "-q", "--bare", str(meta))
    assert mvc_cmd("remote", "add", "origin", str(meta), "--storage", str(storage)).returncode == 0
    assert mvc_cmd("hooks", "install").returncode == 0
    _pin_and_commit(pinned, "v0", "pin v0")
    digest = mvc.Api().artifact("net:v0").digest
    assert 'remote = "origin"' in (pinned / "mvc.lock").read_text()
    r = git("push", "origin", "main", check=False)
    assert r.returncode == 0, r.stderr
    assert f"mvc push origin proj/net@{digest}" in r.stderr      # the pinned version, by content
    assert git("rev-parse", "main", cwd=pinned.parent / "remote.git").stdout == git("rev-parse", "main").stdout
    clone = pinned.parent / "elsewhere"                        # the models went before the code
    r = mvc_cmd("clone", str(meta), str(clone))
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "mvc", "-C", str(clone), "ls", "net", "--json"], capture_output=True,
                       text=True, env=dict(os.environ, MVC_PROJECT="proj"))
    assert digest in r.stdout, r.stdout + r.stderr


def test_a_failing_mvc_push_stops_the_git_push(pinned):
    assert mvc_cmd("hooks", "install").returncode == 0
    _pin_and_commit(pinned, "v1", "pin v1")
    lock = pinned / "mvc.lock"
    lock.write_text(lock.read_text().replace("[models.", 'remote = "no-such-remote"\n[models.', 0)
                    .replace('path = "models/net"', 'path = "models/net"\nremote = "no-such-remote"'))
    git("commit", "-qam", "pin to a remote mvc does not know")
    before = git("rev-parse", "main", cwd=pinned.parent / "remote.git").stdout
    r = git("push", "origin", "main", check=False)
    assert r.returncode != 0
    assert "mvc push no-such-remote proj/net@" in r.stderr and "the git push is stopped" in r.stderr
    assert git("rev-parse", "main", cwd=pinned.parent / "remote.git").stdout == before


def test_a_push_that_pins_nothing_new_is_fast_and_never_starts_mvc(pinned, tmp_path):
    assert mvc_cmd("hooks", "install").returncode == 0
    (pinned / "train.py").write_text("print('v2')\n")
    git("commit", "-qam", "code only")
    hook = os.path.join(hooks_dir(), "pre-push")
    local = git("rev-parse", "main").stdout.strip()
    remote = git("rev-parse", "origin/main").stdout.strip()
    line = f"refs/heads/main {local} refs/heads/main {remote}\n"
    (tmp_path / "bin" / "mvc").write_text(f"#!/bin/sh\necho started >> {tmp_path}/mvc-started\nexit 1\n")
    times = []
    for _ in range(7):
        start = time.perf_counter()
        r = subprocess.run([hook, "origin", "url"], input=line, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        assert r.returncode == 0, r.stderr
    assert not (tmp_path / "mvc-started").exists()
    assert statistics.median(times) <= 0.2, times
    assert git("push", "origin", "main", check=False).returncode == 0


def test_without_mvc_the_hooks_fail_loudly(pinned, tmp_path):
    assert mvc_cmd("hooks", "install").returncode == 0
    (pinned / "train.py").write_text("print('v3')\n")
    git("commit", "-qam", "code")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if not os.path.exists(os.path.join(p, "mvc")))
    r = git("push", "origin", "main", check=False, env={"PATH": path})
    assert r.returncode != 0 and "mvc command is not on PATH" in r.stderr


def test_post_checkout_restores_on_branch_checkout_only(pinned):
    assert mvc_cmd("hooks", "install", "--restore").returncode == 0
    _pin_and_commit(pinned, "v0", "pin v0")
    git("checkout", "-q", "-b", "newer")
    _pin_and_commit(pinned, "v1", "pin v1")
    v0, v1 = (mvc.Api().artifact(f"net:{v}") for v in ("v0", "v1"))
    shutil.rmtree(pinned / "models")
    r = git("checkout", "main")                              # a branch checkout that changes mvc.lock
    assert "restored" in r.stdout + r.stderr
    assert v0.verify(str(pinned / "models" / "net")) is None
    r = git("checkout", "newer")
    assert v1.verify(str(pinned / "models" / "net")) is None
    shutil.rmtree(pinned / "models")
    (pinned / "train.py").write_text("changed")
    git("checkout", "--", "train.py")                        # a file checkout: flag 0
    assert not (pinned / "models").exists()
    git("checkout", "-q", "-b", "same")                      # a branch checkout that keeps mvc.lock
    assert not (pinned / "models").exists()


def test_no_restore_during_a_rebase(pinned):
    assert mvc_cmd("hooks", "install", "--restore").returncode == 0
    _pin_and_commit(pinned, "v0", "pin v0")
    git("checkout", "-q", "-b", "topic", "HEAD~1")           # before the pin
    (pinned / "feature.py").write_text("x")
    git("add", "feature.py")
    git("commit", "-qm", "feature")
    shutil.rmtree(pinned / "models", ignore_errors=True)
    r = git("rebase", "main", check=False)
    assert r.returncode == 0, r.stderr
    assert (pinned / "mvc.lock").exists() and not (pinned / "models").exists()
    r = git("checkout", "main")
    assert not (pinned / "models").exists() or "restored" not in r.stderr   # main has the same lock


def test_post_merge_restores_when_the_merge_changed_the_lock(pinned):
    assert mvc_cmd("hooks", "install", "--restore").returncode == 0
    git("checkout", "-q", "-b", "pins")
    _pin_and_commit(pinned, "v1", "pin v1")
    git("checkout", "-q", "main")
    shutil.rmtree(pinned / "models", ignore_errors=True)
    git("merge", "-q", "--ff-only", "pins")
    assert mvc.Api().artifact("net:v1").verify(str(pinned / "models" / "net")) is None


def test_the_pre_commit_framework_entries(repo):
    """.pre-commit-hooks.yaml runs `mvc hooks run pre-commit --files FILE...` (the framework passes
    the staged files) and `mvc hooks run pre-push` (refs in PRE_COMMIT_* variables)."""
    with open(os.path.join(os.path.dirname(HOOKS_FOLDER), ".pre-commit-hooks.yaml")) as f:
        text = f.read()
    assert "entry: mvc hooks run pre-commit --files" in text and "entry: mvc hooks run pre-push" in text
    (repo / "a.pt").write_bytes(b"w")
    (repo / "b.txt").write_text("ok")
    git("add", "a.pt", "b.txt")
    r = mvc_cmd("hooks", "run", "pre-commit", "--files", "a.pt", "b.txt")
    assert r.returncode == 1 and "a.pt" in r.stderr and "b.txt" not in r.stderr
    assert mvc_cmd("hooks", "run", "pre-commit", "--files", "b.txt").returncode == 0
    head = git("rev-parse", "HEAD").stdout.strip()
    r = subprocess.run([sys.executable, "-m", "mvc", "hooks", "run", "pre-push"], capture_output=True, text=True,
                       input="", env=dict(os.environ, PRE_COMMIT_FROM_REF=head, PRE_COMMIT_TO_REF=head,
                                          PRE_COMMIT_REMOTE_NAME="origin"))
    assert r.returncode == 0 and "mvc push" not in r.stderr                # nothing between the refs


def test_hooks_status_json(repo):
    assert mvc_cmd("hooks", "install").returncode == 0
    import json
    report = json.loads(mvc_cmd("hooks", "status", "--json").stdout)
    states = {row["hook"]: row["state"] for row in report["hooks"]}
    assert states == {"pre-commit": "mvc", "pre-push": "mvc", "post-checkout": "absent", "post-merge": "absent"}
    assert report["hooks_dir"] == os.path.join(str(repo), ".git", "hooks")
