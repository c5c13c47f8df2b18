"""The real git binary over what mvc writes: the metadata passes `git fsck
--strict`, and a store inside a git work tree ignores itself."""
from __future__ import annotations

import subprocess

import mvc


def _git(cwd, *args, check=True):
    return subprocess.run(["git", *args], cwd=str(cwd), check=check, capture_output=True, text=True)


def test_store_in_work_tree_ignores_itself(project):
    _git(project, "init", "-q")
    (project / "train.py").write_text("print(1)\n")
    with mvc.init() as run:
        (project / "model.bin").write_bytes(b"weights")
        run.log_model(str(project / "model.bin"), name="M")
        run.use_model("M", root=str(project / "out"))
    assert (project / ".mvc" / "mvc-format.json").exists()
    status = _git(project, "status", "--porcelain", "--untracked-files=all").stdout
    assert ".mvc" not in status and "train.py" in status
    _git(project, "add", ".")
    staged = _git(project, "diff", "--cached", "--name-only").stdout.split()
    assert not [p for p in staged if p.startswith(".mvc")]
    assert "train.py" in staged


def test_store_found_at_work_tree_top(project):
    _git(project, "init", "-q")
    sub = project / "src" / "deep"
    sub.mkdir(parents=True)
    import os
    os.chdir(sub)
    mvc.init().finish()
    assert (project / ".mvc").is_dir() and not (sub / ".mvc").exists()


def test_git_fsck_strict_after_full_scenario(project, model_dir):
    f = project / "m.bin"
    with mvc.init() as run:
        f.write_bytes(b"one")
        v0 = run.log_model(str(f), name="M", aliases=["best"], metadata={"acc": 0.5})
        f.write_bytes(b"two")
        run.log_model(str(f), name="M")
        f.write_bytes(b"one")
        run.log_model(str(f), name="M", aliases=["prod"])  # relog
        run.log_model(str(model_dir), name="D")
        link = run.link_model(str(model_dir), "D-prod", name="D", aliases=["staging"])
    with mvc.init() as user:
        user.use_model("M:best", root=str(project / "o1"))
        user.use_model("registry/D-prod:staging", root=str(project / "o2"))
    api = mvc.Api()
    v1 = api.artifact("M:v1")
    v1.aliases.append("candidate")
    v1.metadata = {"note": "café"}
    v1.save()
    api.registered_model("D-prod").set_alias("production", link.version)
    v1.delete(delete_aliases=True)
    api.artifacts("M", deleted=True)[0].restore()
    api.registered_model("D-prod").unlink("v0")
    assert v0.digest == api.artifact("M:best").digest
    p = _git(project / ".mvc", "fsck", "--strict", "--no-dangling", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    refs = _git(project / ".mvc", "for-each-ref", "--format=%(refname)").stdout.split()
    assert "refs/mvc/proj/artifacts/%4d" in refs and "refs/mvc/registry/%44-prod" in refs  # M, D-prod encoded
    assert any(r.startswith("refs/mvc/proj/runs/") for r in refs)
    log = _git(project / ".mvc", "log", "--format=%an %s", "refs/mvc/proj/artifacts/%4d").stdout
    assert "tester restore M:v1" in log and "tester delete M:v1" in log
