"""Logging what users have on disk (issue 11, section 2): a Hugging Face cache snapshot and
symlinks followed wherever they point, version-control folders skipped with a note,
.mvcignore / --exclude / the defaults, and clear errors for what cannot be logged."""
from __future__ import annotations

import json
import os
import shutil
import socket
import warnings

import pytest
from click.testing import CliRunner

import mvc
from mvc.cli import cli
from mvc.errors import InvalidInputError
from mvc.store import ingest
from mvc.store.walk import collect_files


def run_cli(*args, code=0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, (res.output, res.stderr, res.exception)
    return res


def hf_snapshot(root) -> tuple:
    """A folder shaped like ~/.cache/huggingface/hub/models--org--tiny: blobs named by their hash,
    refs/main naming the revision, snapshots/<rev>/ holding relative symlinks into ../../blobs/."""
    repo = root / "hub" / "models--org--tiny"
    blobs, rev = repo / "blobs", "0123456789abcdef0123456789abcdef01234567"
    snap = repo / "snapshots" / rev
    (snap / "tokenizer").mkdir(parents=True)
    blobs.mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    contents = {"model.safetensors": os.urandom(1_500_000), "config.json": b'{"hidden": 8}',
                "tokenizer/vocab.txt": b"a\nb\n", "generation_config.json": b'{"hidden": 8}'}  # same bytes twice
    for rel, data in contents.items():
        import hashlib
        blob = blobs / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        depth = rel.count("/")
        os.symlink("../" * (depth + 2) + "blobs/" + blob.name, snap / rel)
    return snap, contents


def plain_copy(contents: dict, where) -> str:
    for rel, data in contents.items():
        (where / rel).parent.mkdir(parents=True, exist_ok=True)
        (where / rel).write_bytes(data)
    return str(where)


def no_symlinks(folder) -> list:
    return [os.path.join(d, n) for d, dirs, files in os.walk(folder) for n in dirs + files
            if os.path.islink(os.path.join(d, n))]


# ---- Hugging Face cache snapshots and symlinks ---------------------------------------------

def test_a_hf_snapshot_logs_as_the_files_it_points_at_python(project):
    snap, contents = hf_snapshot(project / "cache")
    with mvc.init() as run:
        art = run.log_model(str(snap), name="tiny")
        copy = run.log_model(plain_copy(contents, project / "copy"), name="tiny-copy")
    assert art.digest == copy.digest  # the same version as the plain files would make
    assert sorted(f.path for f in art.files()) == sorted(contents)  # the links' names, not the blobs'
    with mvc.init() as run:
        out = run.use_model("tiny:v0", root=str(project / "out"))
    for rel, data in contents.items():
        p = os.path.join(out, rel)
        assert not os.path.islink(p) and open(p, "rb").read() == data
    assert no_symlinks(out) == []


def test_a_hf_snapshot_logs_as_the_files_it_points_at_cli(project):
    snap, contents = hf_snapshot(project / "cache")
    res = run_cli("log", snap, "--name", "tiny", "--json")
    made = json.loads(res.stdout)
    assert made["files"] == len(contents) and made["size"] == sum(map(len, contents.values()))
    hashed = run_cli("hash", plain_copy(contents, project / "copy")).stdout.splitlines()[-1]
    assert hashed.startswith(f"artifact {made['digest']}")
    out = run_cli("use", "tiny:v0", "-o", project / "out").stdout.strip()
    assert no_symlinks(out) == []
    assert open(os.path.join(out, "model.safetensors"), "rb").read() == contents["model.safetensors"]


def test_a_symlink_to_a_file_outside_the_folder_is_followed(project, tmp_path):
    outside = tmp_path / "elsewhere" / "weights.bin"
    outside.parent.mkdir()
    outside.write_bytes(b"w" * 5000)
    folder = project / "m"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    os.symlink(outside, folder / "weights.bin")  # absolute, outside the logged folder
    files = collect_files(str(folder))
    assert [(f.relpath, f.abspath) for f in files] == [("a.txt", os.path.realpath(folder / "a.txt")),
                                                       ("weights.bin", os.path.realpath(outside))]
    res = json.loads(run_cli("log", folder, "--name", "M", "--json").stdout)
    assert res["files"] == 2 and res["size"] == 5001


def test_a_symlinked_folder_is_walked_and_a_single_symlinked_file_keeps_its_name(project, tmp_path):
    real = tmp_path / "shards"
    real.mkdir()
    (real / "s1.bin").write_bytes(b"1" * 100)
    folder = project / "m"
    folder.mkdir()
    os.symlink(real, folder / "shards")
    assert [f.relpath for f in collect_files(str(folder))] == ["shards/s1.bin"]
    os.symlink(real / "s1.bin", project / "link.bin")
    with mvc.init() as run:
        art = run.log_model(str(project / "link.bin"), name="L")
    assert art.file_count == 1
    assert [f.relpath for f in collect_files(str(project / "link.bin"))] == ["link.bin"]


def test_dangling_links_loops_and_special_files_are_errors_naming_the_path(project):
    def refused(folder, *words):
        with pytest.raises(InvalidInputError) as e:
            with mvc.init() as run:
                run.log_model(str(folder), name="bad")
        for w in words:
            assert w in e.value.message, e.value.message
        assert e.value.hint
        res = run_cli("log", folder, "--name", "bad", code=2)
        assert all(w in res.stderr for w in words) and "Traceback" not in res.stderr
        return e.value

    def fresh(name):
        d = project / name
        d.mkdir()
        (d / "ok.bin").write_bytes(b"ok")
        return d

    d = fresh("dangling")
    os.symlink("nowhere.bin", d / "gone.bin")
    refused(d, "gone.bin", "dangling", "nowhere.bin")

    d = fresh("loop_up")
    os.symlink("../loop_up", d / "up")  # a folder link back to the folder it is in
    refused(d, "symlink loop", "up")

    d = fresh("loop_pair")
    os.symlink("b", d / "a")
    os.symlink("a", d / "b")
    refused(d, "symlink loop", os.path.join(str(d), "a"))

    d = fresh("fifo")
    os.mkfifo(d / "pipe")
    refused(d, "pipe", "fifo")

    d = fresh("device")
    os.symlink("/dev/null", d / "null")
    refused(d, "/dev/null", "character device", "null")

    d = fresh("sock")
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(d / "s.sock"))
        refused(d, "s.sock", "socket")
    finally:
        s.close()
    assert json.loads(run_cli("ls", "--json").stdout) == []  # nothing was logged by any of them


def test_a_special_file_left_out_by_a_pattern_is_not_an_error(project):
    d = project / "m"
    d.mkdir()
    (d / "ok.bin").write_bytes(b"ok")
    os.mkfifo(d / "pipe")
    os.symlink("nowhere", d / "gone")
    res = json.loads(run_cli("log", d, "--name", "M", "--exclude", "pipe", "-x", "gone", "--json").stdout)
    assert res["files"] == 1 and sorted(res["skipped"]) == ["gone", "pipe"]


# ---- version-control folders, .mvcignore, --exclude, the defaults -------------------------

def tree(root, files: dict) -> str:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(root)


MODEL = {"weights.bin": b"w" * 3000, "config.json": "{}", "sub/tok.txt": "t"}
NOISE = {".git/HEAD": "ref: refs/heads/main\n", ".git/objects/ab/cd": "x", ".hg/store/data": "x",
         ".svn/entries": "x", ".dvc/config": "x", ".mvc/format": "x", "sub/.git": "gitdir: ../x\n",
         "__pycache__/m.cpython-311.pyc": "x", "sub/__pycache__/t.pyc": "x", ".DS_Store": "x",
         "sub/.DS_Store": "x"}


def test_vcs_folders_and_defaults_are_skipped_with_a_note_cli(project, monkeypatch):
    monkeypatch.delenv("MVC_SILENT")
    folder = tree(project / "m", {**MODEL, **NOISE})
    res = run_cli("log", folder, "--name", "M", "--json")
    made = json.loads(res.stdout)
    assert made["files"] == 3
    assert made["skipped"] == [".DS_Store", ".dvc/", ".git/", ".hg/", ".mvc/", ".svn/", "__pycache__/",
                               "sub/.DS_Store", "sub/.git", "sub/__pycache__/"]  # in the walk's (sorted) order
    for vcs in (".git/", ".hg/", ".svn/", ".dvc/", ".mvc/", "sub/.git"):
        assert f"mvc: note: skipped {vcs} (a version-control folder" in res.stderr
    assert "__pycache__" not in res.stderr and ".DS_Store" not in res.stderr  # ignored in silence, as git does
    assert made["digest"] == json.loads(run_cli("log", tree(project / "clean", MODEL), "--name", "C",
                                                "--json").stdout)["digest"]
    quiet = run_cli("-q", "log", folder, "--name", "M")
    assert "note" not in quiet.stderr


def test_vcs_folders_are_skipped_with_a_warning_python(project):
    folder = tree(project / "m", {**MODEL, **NOISE})
    with mvc.init() as run:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            art = run.log_model(folder, name="M")
        clean = run.log_model(tree(project / "clean", MODEL), name="C")
    said = sorted(str(w.message).split(" (")[0] for w in caught if w.category is UserWarning)
    assert said == ["skipped .dvc/", "skipped .git/", "skipped .hg/", "skipped .mvc/", "skipped .svn/",
                    "skipped sub/.git"]
    assert all(w.filename == __file__ for w in caught)  # pointed at the caller's line
    assert art.file_count == 3 and art.digest == clean.digest
    assert [s.path for s in run.last_log.skipped] == []  # the clean folder, logged last, left out nothing
    with mvc.init() as run:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a clean folder warns nothing
            run.log_model(str(project / "clean"), name="C")


def test_mvcignore_and_exclude_python_and_cli(project):
    files = {**MODEL, "logs/run1.txt": "l", "sub/logs/deep.txt": "l", "ckpt/step-1.bin": "1",
             "ckpt/step-2.bin": "2", "ckpt/final.bin": "f", "notes.tmp": "n", "keep.tmp": "k",
             "__pycache__/x.pyc": "x"}
    folder = tree(project / "m", files)
    (project / "m" / ".mvcignore").write_text("# scratch\nlogs/\n*.tmp\n!keep.tmp\n!__pycache__/\n")
    logged = {f.relpath for f in collect_files(folder, exclude=["ckpt/step-*"])}
    assert logged == {".mvcignore", "weights.bin", "config.json", "sub/tok.txt", "ckpt/final.bin", "keep.tmp",
                      "__pycache__/x.pyc"}  # a ! line brings a default back
    with mvc.init() as run:
        art = run.log_model(folder, name="M", exclude=["ckpt/step-*"])
    assert art.file_count == len(logged)
    res = json.loads(run_cli("log", folder, "--name", "M2", "--exclude", "ckpt/step-*", "--json").stdout)
    assert res["digest"] == art.digest and res["files"] == len(logged)
    assert sorted(res["skipped"]) == ["ckpt/step-1.bin", "ckpt/step-2.bin", "logs/", "notes.tmp", "sub/logs/"]
    # the digest covers exactly the files logged: a plain copy of just those files gives the same one
    copy = tree(project / "copy", {rel: (project / "m" / rel).read_bytes() for rel in logged})
    with mvc.init() as run:
        assert run.log_model(copy, name="Copy").digest == art.digest
    one = json.loads(run_cli("log", folder, "--name", "M3", "-x", "ckpt/", "-x", "keep.tmp", "--json").stdout)
    assert one["files"] == len(logged) - 2


def test_relogging_a_folder_with_ignores_reads_nothing_and_dedups(project, monkeypatch):
    folder = tree(project / "m", {**MODEL, **NOISE, "big.bin": os.urandom(2_000_000)})
    old = os.path.getmtime(folder) - 60
    for d, _, names in os.walk(folder):
        for n in names:
            os.utime(os.path.join(d, n), (old, old))  # older than the stat cache's racy window
    with mvc.init() as run, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = run.log_model(folder, name="M", exclude="sub/")
    reads = []
    real = ingest._store_file
    monkeypatch.setattr(ingest, "_store_file", lambda store, path, *a: reads.append(path) or real(store, path, *a))
    with mvc.init() as run, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = run.log_model(folder, name="M", exclude="sub/")
        res = run.last_log
    assert reads == [] and again.version == first.version == "v0" and res.outcome == "nothing"


def test_bad_patterns_and_nothing_left_are_clear_errors(project):
    folder = tree(project / "m", {"a.tmp": "a"})
    with pytest.raises(InvalidInputError, match="is left to log: the ignore rules left out all 1 entry .a.tmp.") as ei:
        collect_files(folder, exclude=["*.tmp"])
    assert "loosen --exclude" in ei.value.hint and "contains at least one file" not in ei.value.hint
    res = run_cli("log", folder, "--name", "M", "-x", "*.tmp", code=2)
    assert "nothing of" in res.stderr and "left out all 1 entry" in res.stderr
    for bad in ([""], ["a\nb"], [3], 7):
        with pytest.raises(InvalidInputError, match="exclude"):
            collect_files(folder, exclude=bad)
    (project / "m" / ".mvcignore").write_bytes(b"\xff\xfe")
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        collect_files(folder)


def test_a_named_file_is_logged_whatever_the_patterns_say(project):
    p = project / "x.tmp"
    p.write_text("x")
    assert [f.relpath for f in collect_files(str(p), exclude=["*.tmp"])] == ["x.tmp"]


def test_use_writes_no_symlink_for_a_version_logged_through_links(project, tmp_path):
    target = tmp_path / "t.bin"
    target.write_bytes(b"t" * 10)
    folder = project / "m"
    folder.mkdir()
    os.symlink(target, folder / "t.bin")
    with mvc.init() as run:
        run.log_model(str(folder), name="M")
    shutil.rmtree(folder)
    target.unlink()  # the version holds the bytes, not the link
    with mvc.init() as run:
        out = run.use_model("M:v0", root=str(project / "out"))  # one file: its path
    assert out == str(project / "out" / "t.bin") and not os.path.islink(out)
    assert no_symlinks(project / "out") == [] and open(out, "rb").read() == b"t" * 10


def test_relogging_a_hf_snapshot_reads_nothing(project, monkeypatch):
    """The stat cache vouches for files read through links out of the folder (the blobs)."""
    snap, contents = hf_snapshot(project / "cache")
    old = __import__("time").time() - 60
    for blob in (project / "cache" / "hub" / "models--org--tiny" / "blobs").iterdir():
        os.utime(blob, (old, old))  # older than the stat cache's racy window
    with mvc.init() as run:
        first = run.log_model(str(snap), name="tiny")
    reads = []
    real = ingest._store_file
    monkeypatch.setattr(ingest, "_store_file", lambda store, path, *a: reads.append(path) or real(store, path, *a))
    preloaded = []
    from mvc.store.statcache import StatCache
    real_preload = StatCache.preload
    monkeypatch.setattr(StatCache, "preload", lambda self, folder: preloaded.append(folder) or real_preload(self, folder))
    with mvc.init() as run:
        again = run.log_model(str(snap), name="tiny")
    assert reads == [] and again.version == first.version == "v0"
    assert preloaded == [os.path.realpath(project / "cache" / "hub" / "models--org--tiny")]  # blobs and snapshot


def test_link_of_a_folder_notes_what_it_skipped_as_log_does(project, monkeypatch):
    monkeypatch.delenv("MVC_SILENT")
    folder = tree(project / "m", {**MODEL, ".git/HEAD": "x"})
    res = run_cli("link", folder, "--to", "prod", "--name", "M")
    assert "mvc: note: skipped .git/ (a version-control folder" in res.stderr
    assert "UserWarning" not in res.stderr and "registry/prod:v0" in res.stdout
