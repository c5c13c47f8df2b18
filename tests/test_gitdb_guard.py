"""MetaRepo.check: every loose git object is inflated and verified in Python before libgit2
reads it (libgit2 1.9.7 loops forever on a loose object whose deflate stream does not end in
the file; docs/design.md).  Reads that could hang run in a subprocess with a timeout."""
from __future__ import annotations

import hashlib
import os
import textwrap
import zlib

import pygit2
import pytest

from mvc.errors import IntegrityError
from mvc.meta import MetaRepo, gitdb, loose

from conftest import run_py


def _raw(kind: bytes, body: bytes) -> tuple[bytes, str]:
    raw = kind + b" %d\0" % len(body) + body
    return raw, hashlib.sha1(raw).hexdigest()


def _plant(meta: MetaRepo, hexid: str, data: bytes) -> str:
    """Write ``data`` as the loose object file of ``hexid`` (replacing any)."""
    path = os.path.join(meta.path, "objects", hexid[:2], hexid[2:])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(data)
    return path


@pytest.fixture
def meta(tmp_path):
    return MetaRepo.create(str(tmp_path / "meta.git"))


# ---- loose_problem: the checks themselves -------------------------------------------
RAW, OID = _raw(b"blob", b'{"latest":"v0"}')


def test_sound_object_passes():
    assert loose.loose_problem(zlib.compress(RAW), OID) is None


@pytest.mark.parametrize("data, why", [
    (zlib.compress(RAW)[:-5], "does not end inside the file"),                      # truncated stream
    (zlib.compress(RAW)[:6], "does not end inside the file"),
    (zlib.compress(RAW) + b"\0junk", "5 bytes of garbage follow"),                   # trailing garbage
    (zlib.compress(b"blob 99\0" + RAW.split(b"\0", 1)[1]), "its body is 15 bytes, not the 99 its header gives"),
    (zlib.compress(b"blob 015\0" + RAW.split(b"\0", 1)[1]), "does not give a git type"),  # not git's spelling
    (zlib.compress(b"blub 15\0" + RAW.split(b"\0", 1)[1]), "does not give a git type"),
    (zlib.compress(RAW.replace(b"v0", b"v1")), "SHA-1 of its content is not its name"),   # wrong SHA-1
    (b"garbage", "deflate stream is damaged"),
])
def test_each_damage_is_named(data, why):
    assert why in loose.loose_problem(data, OID)


# ---- MetaRepo: reads go through the check ---------------------------------------------
def test_get_names_the_damaged_file_and_fsck(meta):
    oid = meta.write_blob(b'{"latest":"v0"}')
    path = _plant(meta, str(oid), zlib.compress(RAW)[:-5])
    with pytest.raises(IntegrityError) as ei:
        MetaRepo(meta.path).get(oid)
    assert path in ei.value.message and "does not end inside the file" in ei.value.message
    assert "mvc fsck" in ei.value.hint


def test_sound_ids_are_checked_once_per_instance(meta, monkeypatch):
    """An object is inflated and hashed once per MetaRepo (objects never change), again after forget_checked."""
    from mvc.meta import odb
    oid = meta.write_blob(b"x" * 100)
    calls = []
    real = odb.ObjectDB._loose
    monkeypatch.setattr(odb.ObjectDB, "_loose", lambda self, h: calls.append(h) or real(self, h))
    fresh = MetaRepo(meta.path)
    for _ in range(5):
        assert fresh.get(oid).data == b"x" * 100
    assert calls == [str(oid)]
    fresh.forget_checked()
    fresh.get(oid)
    assert calls == [str(oid)] * 2


def test_packed_objects_are_read_from_their_pack(meta, monkeypatch):
    from mvc.meta import odb
    tree = meta.write_files_tree({f"f{i}": b"%d" % i for i in range(gitdb.PACK_MIN_FILES)})
    assert not os.path.exists(os.path.join(meta.path, "objects", str(tree)[:2], str(tree)[2:]))
    monkeypatch.setattr(odb.ObjectDB, "_loose", lambda self, h: pytest.fail("a packed object was looked for loose"))
    assert len(MetaRepo(meta.path).get(tree)) == gitdb.PACK_MIN_FILES


def test_tree_path_is_walked_folder_by_folder(meta):
    """``tree["a/b/c"]`` would make libgit2 read a/ and a/b unchecked: the damaged folder is named."""
    root = meta.get(meta.build_tree({"a/b/c.json": meta.write_json({"k": 1}), "top": meta.write_blob(b"t")}))
    ab = meta.get(root["a"].id)["b"].id
    data = meta.get(ab).read_raw()
    _plant(meta, str(ab), zlib.compress(b"tree %d\0" % len(data) + data)[:-5])
    fresh = MetaRepo(meta.path)
    root = fresh.get(root.id)
    assert fresh.blob(root, "top") == b"t"
    with pytest.raises(IntegrityError, match=str(ab)[2:]):
        fresh.json(root, "a/b/c.json")
    assert fresh.blob(root, "a/x/y") is None and fresh.subtree(root, "top/x") is None


def test_edit_tree_refuses_a_damaged_blob_it_only_freshened(meta):
    """Writing content whose loose file is damaged leaves the file as it is (libgit2 freshens an
    existing object); inserting it in a tree makes libgit2 read its header: checked first."""
    oid = meta.write_blob(b'{"latest":"v0"}')
    _plant(meta, str(oid), zlib.compress(RAW)[:-5])
    fresh = MetaRepo(meta.path)
    assert fresh.write_blob(b'{"latest":"v0"}') == oid
    with pytest.raises(IntegrityError, match="does not end inside the file"):
        fresh.edit_tree(None, {"aliases.json": oid})


def _commit(meta, tree, parents, t, msg):
    sig = pygit2.Signature("t", "t@t", t, 0)
    return meta.git.create_commit(None, sig, sig, msg, tree, parents)


def test_walk_keeps_git_order_through_merges(meta):
    tree = meta.build_tree({"f": meta.write_blob(b"f")})
    a = _commit(meta, tree, [], 100, "a")
    b = _commit(meta, tree, [a], 200, "b")
    c = _commit(meta, tree, [a], 300, "c")
    d = _commit(meta, tree, [b, c], 400, "d")
    e = _commit(meta, tree, [d], 500, "e")
    meta.git.references.create("refs/mvc/p/artifacts/x", e)
    ours = [c.id for c in MetaRepo(meta.path).history("refs/mvc/p/artifacts/x")]
    theirs = [c.id for c in meta.git.walk(e, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)]
    assert ours == theirs == [e, d, c, b, a]
    assert [c.id for c in MetaRepo(meta.path).history("refs/mvc/p/artifacts/x", limit=2)] == [e, d]


def test_history_names_a_damaged_old_commit(meta):
    tree = meta.build_tree({"f": meta.write_blob(b"f")})
    a = _commit(meta, tree, [], 100, "a")
    b = _commit(meta, tree, [a], 200, "b")
    meta.git.references.create("refs/mvc/p/artifacts/x", b)
    raw = meta.get(a).read_raw()
    path = _plant(meta, str(a), zlib.compress(b"commit %d\0" % len(raw) + raw)[:-5])
    with pytest.raises(IntegrityError) as ei:
        list(MetaRepo(meta.path).history("refs/mvc/p/artifacts/x"))
    assert path in ei.value.message


def test_unterminated_stream_is_typed_in_time(project):
    """The damage that hung libgit2 1.9.7 (a stream that neither ends nor gives 64 bytes),
    planted in an alias file and a version folder and read by use, gc, log and fsck in a subprocess: each is a typed error."""
    code = textwrap.dedent("""
        import os, zlib, mvc
        from mvc.errors import IntegrityError
        from mvc.repo import Repository, gc
        from mvc.meta.layout import version_path
        from mvc.repo.fsck import fsck
        open("m.bin", "wb").write(b"weights")
        with mvc.init() as run:
            run.log_model("m.bin", name="m")
        repo = Repository.find(".")
        st = repo.artifacts.state(run.project, "m")
        paths = []
        for oid in (str(st.tree["aliases.json"].id), str(repo.meta.subtree(st.tree, version_path("v0")).id)):
            path = os.path.join(repo.path, "objects", oid[:2], oid[2:])
            raw = repo.meta.get(oid).read_raw()
            kind = repo.meta.get(oid).type_str.encode()
            os.chmod(path, 0o644)
            open(path, "wb").write(zlib.compress(kind + b" %d\\0" % len(raw) + raw)[:-5])
            paths.append(path)
        for what, call in [("use", lambda: mvc.Api().artifact("m:latest").download("out")),
                           ("gc", lambda: gc.run(Repository.find("."))),
                           ("log", lambda: mvc.init().log_model("m.bin", name="m"))]:
            try:
                call()
                print(what, "no error")
            except IntegrityError as e:
                print(what, "typed", any(p in e.message for p in paths))
        print("fsck", [p.kind for p in fsck(Repository.find(".")).problems][:3])
    """)
    p = run_py(code, project, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = p.stdout.splitlines()
    assert lines[:3] == ["use typed True", "gc typed True", "log typed True"], p.stdout
    assert lines[3].startswith("fsck [") and lines[3] != "fsck []", p.stdout


def test_threads_read_while_one_logs_without_deadlock(project):
    """The backed-out Python odb backend deadlocked here (libgit2 held the odb lock while calling
    back into Python); the check runs before libgit2 is called, so nothing waits on both."""
    code = textwrap.dedent("""
        import os, threading, mvc
        from mvc.repo import Repository
        os.makedirs("src", exist_ok=True)
        for i in range(3):
            open(f"src/f{i}.bin", "wb").write(os.urandom(500))
        with mvc.init(project="p") as run:
            run.log_model("src", name="m")
        repo = Repository.find(".")
        errors, reads = [], [0]
        def reader():
            try:
                for _ in range(60):
                    assert len(repo.entries(repo.resolve("m:v0", "p")[0])) == 3
                    repo.entries(repo.resolve("m:latest", "p")[0])
                    list(repo.meta.history("refs/mvc/p/artifacts/m", limit=5))
                    reads[0] += 1
            except Exception as e:
                errors.append(repr(e))
        def logger():
            try:
                for i in range(15):
                    open(f"w{i}.bin", "wb").write(os.urandom(200))
                    repo.log(f"w{i}.bin", "m", "model", "p")
            except Exception as e:
                errors.append(repr(e))
        ts = [threading.Thread(target=reader) for _ in range(4)] + [threading.Thread(target=logger)]
        for t in ts: t.start()
        for t in ts: t.join()
        print(errors, reads[0], repo.resolve("m:latest", "p")[0].version)
    """)
    p = run_py(code, project, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["[]", "240", "v15"], p.stdout
