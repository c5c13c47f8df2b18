"""Gaps an audit of issue 11 found in the Python API and in messages: Api.init and Api.use (the
operations `mvc init` and `mvc use` have), W&B attributes that raised AttributeError, empty
paths taken for defaults, and errors naming mvc's temporary folder instead of the user's."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import mvc
from mvc.errors import InvalidInputError, NotFoundError


def mvc_cmd(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mvc", *args], cwd=str(cwd), capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def logged(project):
    (project / "one.bin").write_bytes(os.urandom(3000))
    (project / "two").mkdir()
    (project / "two" / "a.txt").write_text("a")
    (project / "two" / "b.txt").write_text("b")
    for args in (["log", "one.bin", "--name", "one"], ["log", "two", "--name", "two"]):
        r = mvc_cmd(*args, cwd=project)
        assert r.returncode == 0, r.stderr
    return project


def test_api_init_is_create(tmp_path):
    api = mvc.Api.init(str(tmp_path / "s"))
    assert api.created and os.path.isfile(os.path.join(api.repo.path, "mvc-format.json"))
    assert mvc.Api.init(str(tmp_path / "s")).created is False


def test_api_use_returns_the_file_or_the_folder_and_records_no_run(logged):
    api = mvc.Api()
    runs_before = len(api.runs())
    path = api.use("one:v0", root=str(logged / "out1"))
    assert path == str(logged / "out1" / "one.bin") and open(path, "rb").read() == (logged / "one.bin").read_bytes()
    folder = api.use("two", root=str(logged / "out2"))
    assert sorted(os.listdir(folder)) == ["a.txt", "b.txt"]
    picked = api.use("two", root=str(logged / "out3"), include="a*")
    assert picked.endswith("a.txt") and open(picked).read() == "a"
    with pytest.raises(NotFoundError, match="matches z\\*"):
        api.use("two", root=str(logged / "out4"), include=["z*"])
    assert not (logged / "out4").exists() and len(mvc.Api().runs()) == runs_before


def test_wandb_attributes_that_raised(logged):
    art = mvc.Api().artifact("one:v0")
    assert art.commit_hash == art.digest and len(art.commit_hash) == 64
    assert art.history_step is None
    assert art.collection.tags == []
    assert mvc.Artifact("draft", "model").commit_hash is None


def test_an_empty_path_is_refused_not_taken_for_a_default(logged):
    r = mvc_cmd("log", "", "--name", "ok", cwd=logged)
    assert r.returncode == 2 and "the path to log is empty" in r.stderr
    runs = len(mvc.Api().runs())
    r = mvc_cmd("use", "one", "-o", "", cwd=logged)
    assert r.returncode == 2 and "is empty ('')" in r.stderr and "-o" in r.stderr
    assert not (logged / "artifacts").exists() and len(mvc.Api().runs()) == runs  # and no run recorded
    with pytest.raises(InvalidInputError, match="is empty"):
        mvc.Api().artifact("one:v0").download(root="")


def test_a_folder_in_a_filesystem_that_refuses_it_is_named_as_given(logged):
    """/proc takes no new folder, even from root (the audit's case)."""
    r = mvc_cmd("use", "one", "-o", "/proc/mvc-nope", cwd=logged)
    assert r.returncode == 2, r.stderr
    assert "cannot write the folder /proc/mvc-nope:" in r.stderr and ".tmp-" not in r.stderr


def test_a_store_is_not_logged_into_itself(logged):
    for path in (".mvc", os.path.join(".mvc", "refs")):
        r = mvc_cmd("log", path, "--name", "store", cwd=logged)
        assert r.returncode == 2 and "a store is not logged into itself" in r.stderr, r.stderr
    with pytest.raises(InvalidInputError, match="not logged into itself"):
        with mvc.init() as run:
            run.log_artifact(str(logged / ".mvc" / "refs"), name="store2")
    assert not mvc.Api().artifact_exists("store") and not mvc.Api().artifact_exists("store2")


@pytest.mark.parametrize("uri", ["file://relative/path", "file://host/abs/path"])
def test_a_file_uri_with_a_host_is_refused(logged, uri):
    draft = mvc.Artifact("refs", "dataset")
    with pytest.raises(InvalidInputError, match="file:///"):
        draft.add_reference(uri)
    r = mvc_cmd("log", uri, "--name", "x", cwd=logged)
    assert r.returncode == 2 and "a file:// reference is a path on this machine" in r.stderr
    with pytest.raises(InvalidInputError, match="names the host"):
        with mvc.init() as run:
            run.log_artifact(uri, name="x")
    ok = mvc.Artifact("refs", "dataset")
    ok.add_reference(f"file://{logged / 'one.bin'}")
    ok.add_reference(f"file://localhost{logged / 'two'}", name="two")


def test_a_run_name_with_a_bidi_override_is_refused():
    from mvc.errors import InvalidNameError
    from mvc.names import check_run_name
    assert check_run_name("my run 1") == "my run 1" and check_run_name("é ü") == "é ü"
    for bad in ("x\u202ey", "a\tb", "a\u2028b", "zero\u200bwidth"):
        with pytest.raises(InvalidNameError, match="unprintable character"):
            check_run_name(bad)


def test_a_link_target_that_is_no_name_says_what_a_target_is(logged):
    r = mvc_cmd("link", "one:v0", "--to", "../x", cwd=logged)
    assert r.returncode == 2 and "link target '../x' is not a registered model" in r.stderr
    assert "registry/NAME" in r.stderr


def test_the_default_remote_setting_is_checked_when_set(logged):
    r = mvc_cmd("config", "set", "remote.default", "bad name", cwd=logged)
    assert r.returncode == 2 and "is not a usable remote name" in r.stderr
    assert mvc_cmd("config", "set", "remote.default", "upstream", cwd=logged).returncode == 0
    assert mvc_cmd("config", "get", "remote.default", cwd=logged).stdout.strip() == "upstream"


def test_hash_leaves_out_what_log_leaves_out(logged):
    """`mvc hash -x` predicts the digest of `mvc log -x`; without it the digests could not match."""
    import json
    r = mvc_cmd("log", "two", "--name", "two-a", "-x", "b.txt", "--json", cwd=logged)
    assert r.returncode == 0, r.stderr
    logged_digest = json.loads(r.stdout)["digest"]
    r = mvc_cmd("hash", "two", "-x", "b.txt", "--json", cwd=logged)
    hashed = json.loads(r.stdout)
    assert [f["path"] for f in hashed["files"]] == ["a.txt"]
    assert hashed["digest"].split(":")[-1] == logged_digest.split(":")[-1]
    assert mvc.hash_folder(str(logged / "two"), exclude=["b.txt"]).digest == hashed["digest"]
    assert mvc.hash_folder(str(logged / "two")).digest != hashed["digest"]


def test_draft_add_dir_says_what_it_skipped_and_add_file_names_a_dangling_link(project):
    import warnings
    folder = project / "withgit"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "w.bin").write_bytes(b"w")
    draft = mvc.Artifact("d", "model")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draft.add_dir(str(folder))
    assert any("skipped .git/" in str(w.message) for w in caught)
    assert [e for e in draft.manifest.entries] == ["w.bin"]
    os.symlink(str(project / "gone"), str(project / "link.bin"))
    with pytest.raises(InvalidInputError, match="is dangling"):
        mvc.Artifact("e", "model").add_file(str(project / "link.bin"))
