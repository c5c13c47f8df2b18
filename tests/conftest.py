"""Shared fixtures: every test gets its own project folder and store, silent runs."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest


REPO_STORE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".mvc")
_stray: list[str] = []  # the test after which REPO_STORE first appeared


@pytest.fixture(scope="session", autouse=True)
def _no_store_in_the_repository():
    """Fail the session if a store appears in the repository root during it: every later command
    run from a folder below it would find and use that store.  Removed again, so the next run
    starts clean; a store that was there before the session is left alone."""
    existed = os.path.lexists(REPO_STORE)
    yield
    if not existed and os.path.lexists(REPO_STORE):
        import shutil
        shutil.rmtree(REPO_STORE, ignore_errors=True)
        pytest.fail(f"a test created {REPO_STORE} (first seen after {_stray[0] if _stray else 'the last test'}); "
                    "it was removed: give the test a tmp_path store (the project fixture) or MVC_DIR", pytrace=False)


@pytest.fixture(autouse=True)
def _no_store_left_by_this_test(request):
    """Name the test after which the repository-root store appeared (one stat per test)."""
    yield
    if not _stray and os.path.lexists(REPO_STORE):
        _stray.append(request.node.nodeid)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    for var in ("MVC_DIR", "MVC_PROJECT", "MVC_ARTIFACT_DIR", "MVC_TEST_CRASH_AT", "MVC_TEST_CORRUPT_CHUNK",
                "MVC_LINK", "MVC_REMOTE", "MVC_CACHE_MAX", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MVC_SILENT", "1")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test User")
    monkeypatch.setenv("MVC_USER", "tester")
    monkeypatch.setenv("MVC_EMAIL", "tester@example.com")


@pytest.fixture
def no_live_runs():
    """Each test starts and ends with no live run: module-level mvc.log/mvc.run and draft.save() act on
    the active run, so one a test left live would change the next test's meaning."""
    from mvc.api.runs import _ACTIVE  # mode="disabled" runs are in it too

    def finish_all():
        for r in reversed(list(_ACTIVE)):
            r.finish(quiet=True)
    finish_all()
    yield
    finish_all()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A fresh project folder (cwd) with its own store at <project>/.mvc."""
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("MVC_PROJECT", "proj")
    return root


@pytest.fixture
def store(project):
    """A Repository at <project>/.mvc."""
    from mvc.repo import Repository
    return Repository.find(str(project))


@pytest.fixture
def model_file(project):
    p = project / "model.bin"
    p.write_bytes(os.urandom(50_000))
    return p


@pytest.fixture
def model_dir(project):
    d = project / "model_dir"
    (d / "tokenizer").mkdir(parents=True)
    (d / "weights.bin").write_bytes(os.urandom(70_000))
    (d / "config.json").write_text('{"hidden": 64}')
    (d / "tokenizer" / "vocab.txt").write_text("a\nb\nc\n")
    return d


def run_py(code: str, cwd, env=None, timeout=120) -> subprocess.CompletedProcess:
    """Run Python code in a real subprocess with the test environment."""
    return subprocess.run([sys.executable, "-c", code], cwd=str(cwd), env=env or os.environ.copy(),
                          capture_output=True, text=True, timeout=timeout)


def snapshot_tree(root, meta: bool = True) -> dict:
    """Every entry below ``root``: its content hash (files), link target
    (symlinks) or None (folders), plus mode, size and mtime when ``meta``.
    Two equal snapshots mean nothing below ``root`` was touched."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                content = "link:" + os.readlink(p)
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    content = hashlib.sha256(f.read()).hexdigest()
            else:
                content = None
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (content, st.st_mode, st.st_size, st.st_mtime_ns) if meta else content
    return out
