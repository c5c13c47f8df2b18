"""mvc/meta/writer.py: git objects and ref moves written in Python must be what git and libgit2
write (compared with the real `git` binary and read back with pygit2 and mvc/meta/odb.py),
keep the ref compare-and-swap's guarantees under real concurrent processes, and spare every
write command the import of pygit2."""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys

import pygit2
import pytest

from mvc.errors import ReadOnlyError, StorageFullError, UsageError
from mvc.meta import gitdb, refs, refstore, writer
from mvc.meta.gitdb import MetaRepo
from mvc.meta.odb import (FILEMODE_BLOB, FILEMODE_BLOB_EXECUTABLE, FILEMODE_TREE, OBJECT_BLOB, OBJECT_COMMIT,
                          OBJECT_TREE, object_id)

GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None, reason="needs the git binary")  # installed in CI (.ci/run)


def git(gitdir, *args, input: bytes | None = None, env: dict | None = None) -> str:
    r = subprocess.run([GIT, "--git-dir", str(gitdir), *args], input=input, capture_output=True,
                       env={**os.environ, **(env or {})}, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode().strip()


@pytest.fixture
def pair(tmp_path):
    """Two empty bare repositories: one written by mvc's writer, one by git."""
    ours, theirs = tmp_path / "ours.git", tmp_path / "theirs.git"
    for p in (ours, theirs):
        subprocess.run([GIT, "init", "-q", "--bare", str(p)], check=True)
    return MetaRepo(str(ours)), theirs


def loose_file(gitdir, oid: str) -> str:
    return os.path.join(str(gitdir), "objects", oid[:2], oid[2:])


# ---- objects ------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [b"", b"x", b'{"latest":"v0"}\n', bytes(range(256)) * 9, os.urandom(5000)])
def test_blob_is_the_object_git_writes(pair, data):
    meta, theirs = pair
    oid = meta.write_blob(data)
    assert isinstance(oid, str)
    assert oid == git(theirs, "hash-object", "-w", "--stdin", input=data)
    with open(loose_file(meta.path, oid), "rb") as f, open(loose_file(theirs, oid), "rb") as g:
        assert f.read() == g.read()  # byte for byte: zlib level 1, git's core.looseCompression
    assert os.stat(loose_file(meta.path, oid)).st_mode & 0o777 == 0o444
    assert pygit2.Repository(meta.path)[oid].data == data
    assert MetaRepo(meta.path).get(oid).data == data
    assert not [n for n in os.listdir(os.path.join(meta.path, "objects")) if n.startswith(writer.TEMP_PREFIX)]


def test_existing_object_is_freshened_not_rewritten(pair):
    meta, _ = pair
    oid = meta.write_blob(b"same")
    path = loose_file(meta.path, oid)
    os.utime(path, (1_000_000, 1_000_000))
    before = os.stat(path)
    assert MetaRepo(meta.path).write_blob(b"same") == oid
    after = os.stat(path)
    assert after.st_ino == before.st_ino and after.st_mtime > 1_000_000  # touched, same file


def test_packed_object_freshens_its_pack(project):
    from mvc.repo import Repository
    store = Repository.find(str(project))
    files = {f"f{i}": b"%d" % i for i in range(20)}  # >= PACK_MIN_FILES: written as one git pack
    tree = store.meta.write_files_tree(files)
    pack_dir = os.path.join(store.meta.path, "objects", "pack")
    pack = [os.path.join(pack_dir, n) for n in os.listdir(pack_dir) if n.endswith(".pack")][0]
    os.utime(pack, (1_000_000, 1_000_000))
    writer._freshened.clear()
    fresh = MetaRepo(store.meta.path)
    oid = fresh.write_blob(b"7")
    assert not os.path.exists(loose_file(fresh.path, oid))  # not written loose again
    assert os.stat(pack).st_mtime > 1_000_000
    assert fresh.get(tree)["f7"].id == oid
    from mvc.meta.packwriter import pack_files_tree
    pack_files_tree(os.path.join(fresh.path, "objects"), {f"g{i}": b"later %d" % i for i in range(20)})
    later = fresh.write_blob(b"later 3")  # packed since this MetaRepo last looked: found, not written loose
    assert not os.path.exists(loose_file(fresh.path, later))


def _mktree(gitdir, entries: dict[str, tuple[int, str]]) -> str:
    kinds = {FILEMODE_TREE: "tree", FILEMODE_BLOB: "blob", FILEMODE_BLOB_EXECUTABLE: "blob"}
    text = "".join(f"{mode:06o} {kinds[mode]} {oid}\t{name}\n" for name, (mode, oid) in entries.items())
    return git(gitdir, "mktree", input=text.encode())


def test_tree_order_and_modes_are_gits(pair):
    meta, theirs = pair
    blob = meta.write_blob(b"b")
    git(theirs, "hash-object", "-w", "--stdin", input=b"b")
    sub = meta.build_tree({"x": blob})
    assert sub == _mktree(theirs, {"x": (FILEMODE_BLOB, blob)})
    names = ["a", "a.b", "a-b", "a0", "ab", "b", "Z", "é", "a b", "~"]
    entries = {n: (FILEMODE_BLOB, blob) for n in names}
    entries["a"] = (FILEMODE_TREE, sub)      # a folder sorts as "a/": after "a.b" and "a-b", before "a0"
    entries["run"] = (FILEMODE_BLOB_EXECUTABLE, blob)
    oid, _ = writer.write_object(os.path.join(meta.path, "objects"), OBJECT_TREE, writer.tree_bytes(entries))
    assert oid == _mktree(theirs, entries)
    tree = MetaRepo(meta.path).get(oid)
    assert [(e.name, e.filemode) for e in tree] == [(e.name, e.filemode) for e in pygit2.Repository(meta.path)[oid]]


def test_edit_tree_matches_a_tree_git_makes(pair):
    meta, theirs = pair
    ids = {n: meta.write_blob(n.encode()) for n in ("one", "two", "three")}
    for n in ids:
        git(theirs, "hash-object", "-w", "--stdin", input=n.encode())
    base = meta.get(meta.build_tree({"a/one": ids["one"], "a/two": ids["two"], "top": ids["one"]}))
    edited = meta.edit_tree(base, {"a/two": None, "a/b/three": ids["three"], "top": ids["two"], "gone/x": None})
    inner = _mktree(theirs, {"three": (FILEMODE_BLOB, ids["three"])})
    a = _mktree(theirs, {"one": (FILEMODE_BLOB, ids["one"]), "b": (FILEMODE_TREE, inner)})
    assert edited == _mktree(theirs, {"a": (FILEMODE_TREE, a), "top": (FILEMODE_BLOB, ids["two"])})
    emptied = meta.edit_tree(meta.get(edited), {"a/one": None, "a/b/three": None})
    assert [e.name for e in meta.get(emptied)] == ["top"]  # empty folders vanish


def test_tree_entries_are_checked_as_libgit2_does(pair):
    from mvc.errors import IntegrityError
    meta, _ = pair
    blob = meta.write_blob(b"b")
    with pytest.raises(IntegrityError, match="not a tree"):
        meta.edit_tree(None, {"d": ("tree", blob)})
    with pytest.raises(IntegrityError, match="missing"):
        meta.edit_tree(None, {"f": "0" * 40})
    with pytest.raises(IntegrityError, match="valid name"):
        meta.edit_tree(None, {".git": blob})


@pytest.mark.parametrize("when,offset,tz", [(1_700_000_000, 330, "+0530"), (1_600_000_000, -420, "-0700"),
                                             (1_500_000_000, 0, "+0000"), (1_400_000_000, -90, "-0130")])
def test_commit_is_the_object_git_commit_tree_writes(pair, when, offset, tz):
    meta, theirs = pair
    git(theirs, "hash-object", "-w", "--stdin", input=b"b")
    tree = meta.build_tree({"f": meta.write_blob(b"b")})
    _mktree(theirs, {"f": (FILEMODE_BLOB, meta.write_blob(b"b"))})
    sig = writer.signature("Ada Lovelace", "ada@example.com", when, offset)
    message = "log model:v0 (aliases: latest)\n\nMvc-Op: log\nMvc-Version: v0\n"
    env = {"GIT_AUTHOR_NAME": "Ada Lovelace", "GIT_AUTHOR_EMAIL": "ada@example.com",
           "GIT_AUTHOR_DATE": f"{when} {tz}", "GIT_COMMITTER_NAME": "Ada Lovelace",
           "GIT_COMMITTER_EMAIL": "ada@example.com", "GIT_COMMITTER_DATE": f"{when} {tz}"}
    first = git(theirs, "commit-tree", tree, input=message.encode(), env=env)
    ours, _ = writer.write_object(os.path.join(meta.path, "objects"), OBJECT_COMMIT,
                                  writer.commit_bytes(tree, [], sig, sig, message))
    assert ours == first
    second = git(theirs, "commit-tree", tree, "-p", first, input=b"second\n", env=env)
    ours2, _ = writer.write_object(os.path.join(meta.path, "objects"), OBJECT_COMMIT,
                                   writer.commit_bytes(tree, [ours], sig, sig, "second\n"))
    assert ours2 == second
    c = pygit2.Repository(meta.path)[ours2]
    assert (c.author.name, c.author.email, c.author.time, c.author.offset) == ("Ada Lovelace", "ada@example.com",
                                                                             when, offset)
    assert [str(p) for p in c.parent_ids] == [ours] and c.message == "second\n"
    mine = MetaRepo(meta.path).commit(ours2)
    assert mine.parent_ids == [ours] and mine.author.offset == offset and mine.tree_id == tree


def test_signature_is_libgit2s(tmp_path):
    """Trimmed and refused as git_signature_new does, dated now in the local UTC offset as
    git_signature_now does (compared with pygit2 in a process with a zone east of UTC)."""
    probe = ("import json, pygit2\nfrom mvc.meta import writer\n"
             "a = writer.signature(' .Bob, ', ' \\t\"bob@x; ')\nb = pygit2.Signature(' .Bob, ', ' \\t\"bob@x; ')\n"
             "print(json.dumps([[a.name, a.email, a.offset, a.time], [b.name, b.email, b.offset, b.time]]))")
    for zone in ("Asia/Kolkata", "America/Los_Angeles"):
        out = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "TZ": zone}, capture_output=True,
                             text=True, timeout=60, check=True).stdout
        ours, libgit2 = json.loads(out)
        assert ours[:3] == libgit2[:3] and abs(ours[3] - libgit2[3]) <= 1
    assert writer.signature_line(writer.Signature("a", "b", 5, 330)) == b"a <b> 5 +0530"
    for bad in (("a<b", "x@y"), ("a", "x>y"), (" ; ", "x@y"), ("a", "")):
        with pytest.raises(writer.BadSignature):
            writer.signature(*bad)
        with pytest.raises(pygit2.InvalidError if hasattr(pygit2, "InvalidError") else ValueError):
            pygit2.Signature(*bad)


def test_full_and_read_only_disks_are_typed_and_leave_nothing(pair, monkeypatch):
    meta, _ = pair
    objects = os.path.join(meta.path, "objects")
    for code, error in ((errno.ENOSPC, StorageFullError), (errno.EROFS, ReadOnlyError)):
        def fail(fd, data, code=code):
            raise OSError(code, os.strerror(code))
        monkeypatch.setattr(writer, "write_all", fail)
        with pytest.raises(error):
            meta.write_blob(b"never %d" % code)
        monkeypatch.undo()
        oid = object_id(OBJECT_BLOB, b"never %d" % code)
        assert not os.path.exists(loose_file(meta.path, oid))
        assert not [n for n in os.listdir(objects) if n.startswith(writer.TEMP_PREFIX)]


# ---- refs ---------------------------------------------------------------------------------------
@pytest.fixture
def three(pair):
    """A repository with three commits a, b, c (unrelated roots) to point refs at."""
    meta, _ = pair
    tree = meta.build_tree({"f": meta.write_blob(b"f")})
    sig = writer.signature("t", "t@t", 1_700_000_000, 0)
    ids = [meta._write(OBJECT_COMMIT, writer.commit_bytes(tree, [], sig, sig, f"{n}\n")) for n in "abc"]
    return meta, ids


REF = "refs/mvc/proj/artifacts/m"


def test_cas_moves_a_new_and_an_existing_ref(three):
    meta, (a, b, _) = three
    assert writer.compare_and_swap(meta.path, REF, None, a)
    assert git(meta.path, "rev-parse", REF) == a
    assert writer.compare_and_swap(meta.path, REF, a, b)
    with open(os.path.join(meta.path, *REF.split("/")), "rb") as f:
        assert f.read() == b.encode() + b"\n"
    assert pygit2.Repository(meta.path).references[REF].target == pygit2.Oid(hex=b)
    assert not os.path.exists(writer.lock_path(meta.path, REF))
    assert not os.path.isdir(os.path.join(meta.path, "logs"))  # no reflog, as libgit2 in a bare repository


def test_cas_with_a_stale_old_value_loses(three):
    meta, (a, b, c) = three
    writer.compare_and_swap(meta.path, REF, None, a)
    assert writer.swap_ref(meta.path, REF, b, c) == writer.STALE
    assert not writer.compare_and_swap(meta.path, REF, b, c)
    assert refstore.read_target(meta.path, REF) == (a, None)
    assert not os.path.exists(writer.lock_path(meta.path, REF))


def test_cas_of_a_new_ref_that_appeared_meanwhile_loses(three):
    meta, (a, b, _) = three
    writer.compare_and_swap(meta.path, REF, None, a)
    assert writer.swap_ref(meta.path, REF, None, b) == writer.STALE
    assert refstore.read_target(meta.path, REF) == (a, None)


def test_cas_against_a_held_lock_loses(three):
    meta, (a, b, _) = three
    writer.compare_and_swap(meta.path, REF, None, a)
    lock = writer.lock_path(meta.path, REF)
    assert lock == gitdb.locks.lock_path(meta.path, REF)  # the file mvc/meta/locks.py and `mvc unlock` clear
    with open(lock, "wb") as f:
        f.write(b"held")
    assert writer.swap_ref(meta.path, REF, a, b) == writer.LOCKED
    with open(lock, "rb") as f:
        assert f.read() == b"held"  # another writer's lock is left alone
    os.unlink(lock)
    assert refstore.read_target(meta.path, REF) == (a, None)


def test_cas_of_a_packed_ref(three):
    meta, (a, b, c) = three
    writer.compare_and_swap(meta.path, REF, None, a)
    git(meta.path, "pack-refs", "--all", "--prune")
    assert not os.path.exists(os.path.join(meta.path, *REF.split("/")))
    assert not writer.compare_and_swap(meta.path, REF, b, c)  # compared with the packed value
    assert writer.compare_and_swap(meta.path, REF, a, b)
    assert git(meta.path, "rev-parse", REF) == b
    assert refstore.read_target(meta.path, REF) == (b, None)
    assert writer.compare_and_swap(meta.path, REF, b, c)
    assert git(meta.path, "rev-parse", REF) == c


def test_cas_under_a_damaged_ref_is_typed(three):
    meta, (a, b, _) = three
    writer.compare_and_swap(meta.path, REF, None, a)
    with open(os.path.join(meta.path, *REF.split("/")), "wb") as f:
        f.write(a[:20].encode())
    with pytest.raises(writer.DamagedRef, match="truncated"):
        writer.swap_ref(meta.path, REF, a, b)
    assert not os.path.exists(writer.lock_path(meta.path, REF))


# ---- identity -----------------------------------------------------------------------------------
GLOBAL = """# a comment
[core]
\tname = not-this
[User]  # the section is case-insensitive
\tNAME = "Ada  \\"The Countess\\" Lovelace"   ; trailing comment
[user "work"]
\temail = not-this@example.com
"""
XDG = """[user]
    email = ada@example.com # from the XDG file
    name = Overridden By Home
[user] name = Continued \\
 Line
"""


@pytest.mark.parametrize("files", [{"home": GLOBAL, "xdg": XDG}, {"xdg": XDG}, {"home": GLOBAL}, {}])
def test_identity_from_gits_files_as_git_reads_them(tmp_path, monkeypatch, files):
    home, xdg = tmp_path / "h", tmp_path / "x"
    (xdg / "git").mkdir(parents=True)
    home.mkdir()
    if "home" in files:
        (home / ".gitconfig").write_text(files["home"])
    if "xdg" in files:
        (xdg / "git" / "config").write_text(files["xdg"])
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(xdg), "GIT_CONFIG_NOSYSTEM": "1"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    found = writer.git_user()
    for key in ("name", "email"):
        r = subprocess.run([GIT, "config", "--get", f"user.{key}"], capture_output=True, text=True, cwd=str(tmp_path),
                           env={**os.environ, **env})
        assert found.get(key) == (r.stdout[:-1] if r.returncode == 0 else None), key
    monkeypatch.delenv("MVC_USER")
    monkeypatch.delenv("MVC_EMAIL")
    sig = gitdb.identity()
    if "home" in files:
        assert sig.name == 'Ada  "The Countess" Lovelace'
    if "xdg" in files:
        assert sig.email == "ada@example.com"
    if not files:
        assert sig.name and "@" in sig.email  # the login and host


def test_identity_refuses_what_git_refuses(tmp_path, monkeypatch):
    monkeypatch.delenv("MVC_USER")
    (tmp_path / "home" / ".gitconfig").write_text("[user]\n\tname = Eve <evil>\n")
    with pytest.raises(UsageError, match="'<' or '>'") as ei:
        gitdb.identity()
    assert ei.value.hint


# ---- whole commands ---------------------------------------------------------------------------------
def _mvc(cwd, *args) -> str:
    code = "import sys\nfrom mvc.cli.launch import main\nsys.argv = ['mvc'] + sys.argv[1:]\nmain()"
    r = subprocess.run([sys.executable, "-c", code, *args], cwd=str(cwd), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_a_series_of_commands_leaves_a_store_git_finds_sound(project):
    (project / "a.bin").write_bytes(os.urandom(3000))
    _mvc(project, "init")
    for i in range(3):
        (project / "a.bin").write_bytes(os.urandom(3000))
        _mvc(project, "log", "a.bin", "--name", "model")
    _mvc(project, "log", "a.bin", "--name", "model")  # unchanged: no new version
    _mvc(project, "alias", "set", "model:v0", "best")
    _mvc(project, "alias", "set", "model:v2", "best")
    _mvc(project, "link", "model:v1", "--to", "reg")
    _mvc(project, "alias", "rm", "model", "best")
    _mvc(project, "delete", "model:v0")
    store = str(project / ".mvc")
    r = subprocess.run([GIT, "--git-dir", store, "fsck", "--strict", "--full", "--no-dangling"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "error" not in r.stderr and "warning" not in r.stderr, r.stderr
    repo, meta = pygit2.Repository(store), MetaRepo(store)
    names = meta.refnames()
    assert refs.artifact("proj", "model") in names and refs.registry("reg") in names
    for name in names:
        ours = [c.id for c in meta.history(name)]
        theirs = [str(c.id) for c in repo.walk(repo.references[name].target)]
        assert ours == theirs and len(ours) >= 1
    assert len(list(meta.history(refs.artifact("proj", "model")))) >= 7  # 3 logs, 2 alias sets, 1 rm, 1 delete


WRITER = """
import json, os, sys
import mvc
from mvc.repo import Repository
i = int(sys.argv[1])
repo = Repository.find(os.getcwd())
run = mvc.init()
got = []
for k in range(5):
    p = f"w{i}_{k}.bin"
    with open(p, "wb") as f:
        f.write(os.urandom(64))
    v = run.log_model(p, name="M").version
    repo.artifacts.set_alias("proj", "M", v, f"p{i}")
    got.append(v)
run.finish()
print(json.dumps(got))
"""


def test_concurrent_writers_lose_nothing(project):
    from mvc.repo import Repository
    (project / "seed.bin").write_bytes(b"seed")
    _mvc(project, "log", "seed.bin", "--name", "M")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(i)], cwd=str(project), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(6)]
    got = {}
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        got[i] = json.loads(out)
    logged = [v for vs in got.values() for v in vs]
    assert sorted(logged, key=lambda v: int(v[1:])) == [f"v{n}" for n in range(1, 31)]  # none lost, none twice
    store = Repository.find(str(project))
    state = store.artifacts.state("proj", "M")
    assert sorted(store.artifacts.version_names(state)) == sorted(["v0", *logged])
    for i, vs in got.items():
        assert state.aliases[f"p{i}"] == vs[-1]
    history = list(store.meta.history(refs.artifact("proj", "M")))
    assert len(history) == 1 + 30 + 30  # every log and every alias move is one commit, in one chain
    assert all(len(c.parent_ids) == 1 for c in history[:-1]) and not history[-1].parent_ids
    r = subprocess.run([GIT, "--git-dir", store.meta.path, "fsck", "--strict", "--full", "--no-dangling"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not [n for n in os.listdir(os.path.join(store.meta.path, *refs.artifact("proj", "M").split("/")[:-1]))
                if n.endswith(".lock")]


NO_PYGIT2 = """
import sys
from mvc.cli.launch import main
sys.argv = ["mvc"] + sys.argv[1:]
try:
    main()
except SystemExit as e:
    assert not e.code, e.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "pygit2")
sys.stderr.write(repr(loaded))
"""


def test_write_commands_do_not_import_pygit2(project):
    """What the unchanged re-log's goal rests on (bench/startup.py): `mvc log` (a run record
    with start and finish commits), `mvc alias set` and `mvc link` write without libgit2."""
    assert not any(os.path.lexists(os.path.join(d, ".git")) for d in _ancestors(str(project)))
    (project / "a.bin").write_bytes(os.urandom(3000))
    _mvc(project, "log", "a.bin", "--name", "model")
    for args in (["log", "a.bin", "--name", "model"], ["log", "a.bin", "--name", "other"],
                 ["alias", "set", "model:v0", "best"], ["link", "model:v0", "--to", "reg"]):
        r = subprocess.run([sys.executable, "-c", NO_PYGIT2, *args], cwd=str(project), capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stderr.endswith("[]"), (args, r.stderr)
    from mvc.repo import Repository
    store = Repository.find(str(project))
    assert store.artifacts.state("proj", "other").aliases["latest"] == "v0"
    assert store.artifacts.state("proj", "model").aliases["best"] == "v0"
    assert refs.registry("reg") in store.meta.refnames()


def _ancestors(path: str) -> list[str]:
    out = [os.path.realpath(path)]
    while os.path.dirname(out[-1]) != out[-1]:
        out.append(os.path.dirname(out[-1]))
    return out
