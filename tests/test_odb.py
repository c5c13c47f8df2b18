"""The pure-Python git object reader (mvc/meta/odb.py) against real git: every object git
writes, loose and packed (offset deltas, ref deltas, 64-bit offsets), reads back as pygit2
reads it; damaged and hostile objects are ObjectErrors, never a hang, a crash or a wrong answer;
and `mvc ls` reads a store without loading pygit2."""
from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import zlib

import pygit2
import pytest

from mvc.meta import odb
from mvc.meta.odb import ObjectDB, ObjectError
from mvc.meta.packwriter import _header, index_bytes

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "c",
           "GIT_COMMITTER_EMAIL": "c@x", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def git(cwd, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout


def reader(gitdir) -> ObjectDB:
    objects = os.path.join(str(gitdir), "objects")

    def packs():
        folder = os.path.join(objects, "pack")
        return [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.endswith(".idx")]
    return ObjectDB(objects, packs)


@pytest.fixture
def history(tmp_path):
    """A work tree with 12 commits of a growing text file (good delta material), a folder, an
    executable, a symlink, a merge and an annotated tag with a multi-line message."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    lines = [f"line {i}: {'x' * (i % 17)}\n" for i in range(4000)]
    for n in range(12):
        lines[n * 300] = f"changed in commit {n}\n"
        (work / "big.txt").write_text("".join(lines))
        (work / "sub").mkdir(exist_ok=True)
        (work / "sub" / f"f{n}.json").write_text(json.dumps({"n": n, "é": "ü"}))
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", f"commit {n}\n\nbody of {n}\nMvc-Op: log")
    (work / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(work / "run.sh", 0o755)
    os.symlink("big.txt", work / "link")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "exec and link")
    git(work, "checkout", "-q", "-b", "side", "HEAD~3")
    (work / "side.txt").write_text("side\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "side")
    git(work, "checkout", "-q", "main")
    git(work, "merge", "-q", "--no-edit", "side")
    git(work, "tag", "-a", "v1", "-m", "a tag\nwith two lines")
    return work


def all_ids(gitdir) -> list[str]:
    out = git(gitdir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    return out.split()


def same_as_pygit2(gitdir) -> int:
    repo = pygit2.Repository(str(gitdir))
    db = reader(gitdir)
    ids = all_ids(gitdir)
    for oid in ids:
        kind, data = repo.odb.read(oid)
        assert db.read(oid) == (int(kind), data), oid
        obj, mine = repo[oid], db.get(oid)
        assert mine.type == int(obj.type) and mine.id == obj.id
        if isinstance(obj, pygit2.Commit):
            assert (mine.tree_id, mine.parent_ids) == (str(obj.tree_id), [str(p) for p in obj.parent_ids])
            assert (mine.message, mine.commit_time, mine.commit_time_offset) == (
                obj.message, obj.commit_time, obj.commit_time_offset)
            assert (mine.author.name, mine.author.email, mine.author.time) == (
                obj.author.name, obj.author.email, obj.author.time)
            assert mine.tree.id == obj.tree.id and [p.id for p in mine.parents] == [p.id for p in obj.parents]
        elif isinstance(obj, pygit2.Tree):
            assert [(e.name, str(e.id), e.filemode, e.type) for e in mine] == [
                (e.name, str(e.id), int(e.filemode), int(e.type)) for e in obj]
            for e in obj:
                assert e.name in mine and mine[e.name].id == e.id
        elif isinstance(obj, pygit2.Tag):
            assert mine.target == obj.target and mine.name == obj.name and mine.message == obj.message
        else:
            assert mine.data == obj.data and mine.size == obj.size
    return len(ids)


def pack_entry_types(gitdir) -> set[str]:
    (idx,) = [p for p in (gitdir / "objects" / "pack").iterdir() if p.suffix == ".idx"]
    out = git(gitdir, "verify-pack", "-v", str(idx))
    return {line.split()[1] for line in out.splitlines() if len(line.split()) >= 5 and len(line.split()[0]) == 40}


def test_loose_objects_read_as_pygit2_reads_them(history):
    assert same_as_pygit2(history / ".git") > 40


def test_a_path_lookup_and_missing_names(history):
    db = reader(history / ".git")
    tree = db.get(pygit2.Repository(str(history)).head.peel(pygit2.Commit).tree_id)
    assert tree["sub/f3.json"].type == odb.OBJECT_BLOB and "sub/f3.json" in tree
    assert "sub/nope" not in tree and "big.txt/x" not in tree and "nope" not in tree
    with pytest.raises(KeyError):
        db.get("0" * 40)


@pytest.mark.parametrize("offset_deltas", [True, False], ids=["ofs-delta", "ref-delta"])
def test_packed_objects_with_deltas_read_as_pygit2_reads_them(history, offset_deltas):
    gitdir = history / ".git"
    git(gitdir, "-c", f"repack.useDeltaBaseOffset={str(offset_deltas).lower()}", "repack", "-a", "-d", "-F",
        "--depth=50", "-q")
    git(gitdir, "prune-packed")
    kinds = pack_entry_types(gitdir)
    assert "blob" in kinds and "commit" in kinds
    out = git(gitdir, "verify-pack", "-v",
              str(next(p for p in (gitdir / "objects" / "pack").iterdir() if p.suffix == ".idx")))
    assert "chain length = " in out  # git made deltas
    assert same_as_pygit2(gitdir) > 40


def test_64_bit_offsets(history):
    """An index may put any offset in its 64-bit table (git does above 2 GiB): move all but one there."""
    gitdir = history / ".git"
    git(gitdir, "repack", "-a", "-d", "-q")
    git(gitdir, "prune-packed")
    (idx_path,) = [p for p in (gitdir / "objects" / "pack").iterdir() if p.suffix == ".idx"]
    idx = idx_path.read_bytes()
    n = struct.unpack(">I", idx[8 + 255 * 4:8 + 256 * 4])[0]
    names = [idx[1032 + 20 * i:1052 + 20 * i] for i in range(n)]
    crcs = struct.unpack(f">{n}I", idx[1032 + 20 * n:1032 + 24 * n])
    offsets = struct.unpack(f">{n}I", idx[1032 + 24 * n:1032 + 28 * n])
    rows = list(zip(names, offsets, crcs))
    # git allows at most n - 1 large entries: the first object keeps its small one
    small = [offsets[0], *(0x80000000 | i for i in range(n - 1))]
    body = b"".join([idx[:1032 + 24 * n], struct.pack(f">{n}I", *small),
                     struct.pack(f">{n - 1}Q", *offsets[1:]), idx[-40:-20]])
    assert [r[0] for r in sorted(rows)] == names
    os.chmod(idx_path, 0o644)
    idx_path.write_bytes(body + hashlib.sha1(body).digest())
    git(gitdir, "verify-pack", str(idx_path))  # git agrees the index is sound
    assert same_as_pygit2(gitdir) > 40


# ---- hostile input ------------------------------------------------------------------------
def loose_file(gitdir, oid: str):
    return gitdir / "objects" / oid[:2] / oid[2:]


def plant_loose(gitdir, oid: str, data: bytes) -> None:
    path = loose_file(gitdir, oid)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        os.chmod(path, 0o644)
    path.write_bytes(data)


@pytest.fixture
def bare(tmp_path):
    pygit2.init_repository(str(tmp_path / "r.git"), bare=True)
    return tmp_path / "r.git"


@pytest.mark.parametrize("case", ["other content", "truncated", "garbage after", "size lies", "bad type",
                                  "bomb", "not zlib"])
def test_a_damaged_loose_object_is_an_object_error(bare, case):
    body = b"hello world\n"
    oid = odb.object_id(odb.OBJECT_BLOB, body)
    good = zlib.compress(b"blob %d\0" % len(body) + body)
    data = {"other content": zlib.compress(b"blob 12\0hello wurld\n"),
            "truncated": good[:-6],
            "garbage after": good + b"xx",
            "size lies": zlib.compress(b"blob 5\0" + body),
            "bad type": zlib.compress(b"blub 12\0" + body),
            "bomb": zlib.compress(b"blob 12\0" + b"\0" * (64 << 20)),
            "not zlib": b"not a zlib stream at all"}[case]
    plant_loose(bare, oid, data)
    with pytest.raises(ObjectError):
        reader(bare).read(oid)


@pytest.mark.parametrize("entry", [b"100644 ..\0", b"100644 a/b\0", b"100644 \0", b"100000 a\0", b"10x644 a\0",
                                   b"100644 a"])
def test_a_tree_entry_git_never_writes_is_refused(bare, entry):
    raw = entry + (b"\x11" * 20 if entry.endswith(b"\0") else b"")
    oid = odb.object_id(odb.OBJECT_TREE, raw)
    plant_loose(bare, oid, zlib.compress(b"tree %d\0" % len(raw) + raw))
    with pytest.raises(ObjectError):
        reader(bare).get(oid)


@pytest.mark.parametrize("raw", [b"tree 123\nauthor a <a@x> 1 +0000\ncommitter c <c@x> 1 +0000\n\nm",
                                 b"tree " + b"a" * 40 + b"\nauthor a <a@x> 1 +0000\n\nm",
                                 b"tree " + b"a" * 40 + b"\nauthor a a@x 1 +0000\ncommitter c <c@x> 1 +0000\n\nm",
                                 b"tree " + b"a" * 40 + b"\nauthor a <a@x> x +0000\ncommitter c <c@x> 1 +0000\n\nm"])
def test_a_commit_that_does_not_parse_is_refused(bare, raw):
    oid = odb.object_id(odb.OBJECT_COMMIT, raw)
    plant_loose(bare, oid, zlib.compress(b"commit %d\0" % len(raw) + raw))
    with pytest.raises(ObjectError):
        reader(bare).get(oid)


def write_pack(gitdir, entries: list[tuple[bytes, bytes]]) -> None:
    """A pack of raw entries (header + body already encoded) named by the ids given."""
    parts, rows, offset = [b"PACK" + struct.pack(">II", 2, len(entries))], [], 12
    for oid, packed in entries:
        rows.append((oid, offset, zlib.crc32(packed)))
        parts.append(packed)
        offset += len(packed)
    body = b"".join(parts)
    pack = body + hashlib.sha1(body).digest()
    folder = gitdir / "objects" / "pack"
    folder.mkdir(exist_ok=True)
    (folder / f"pack-{pack[-20:].hex()}.pack").write_bytes(pack)
    (folder / f"pack-{pack[-20:].hex()}.idx").write_bytes(index_bytes(rows, pack[-20:]))


def delta(src_size: int, dst_size: int, ops: bytes) -> bytes:
    def varint(n):
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)
    return varint(src_size) + varint(dst_size) + ops


def test_a_ref_delta_on_itself_is_refused_not_followed_forever(bare):
    oid = hashlib.sha1(b"anything").digest()
    d = delta(5, 5, b"\x05hello")
    write_pack(bare, [(oid, _header(7, len(d)) + oid + zlib.compress(d))])
    with pytest.raises(ObjectError, match="loops"):
        reader(bare).read(oid.hex())


@pytest.mark.parametrize("ops,why", [(b"\x91\x00\x10", "past the end"), (b"\x00", "reserved"),
                                     (b"\x09abc", "truncated"), (b"\x03abc", "builds")])
def test_a_delta_that_reaches_outside_its_base_is_refused(bare, ops, why):
    base = b"0123456789"
    base_id = hashlib.sha1(b"blob %d\0" % len(base) + base).digest()
    d = delta(len(base), 5, ops)
    target = hashlib.sha1(b"target").digest()
    write_pack(bare, [(base_id, _header(3, len(base)) + zlib.compress(base)),
                      (target, _header(7, len(d)) + base_id + zlib.compress(d))])
    with pytest.raises(ObjectError, match=why):
        reader(bare).read(target.hex())


def test_a_packed_entry_that_inflates_past_its_size_is_refused(bare):
    body = b"x" * 100
    oid = hashlib.sha1(b"blob 10\0" + body[:10]).digest()
    write_pack(bare, [(oid, _header(3, 10) + zlib.compress(body))])
    with pytest.raises(ObjectError, match="not the 10"):
        reader(bare).read(oid.hex())


def test_a_pack_written_after_the_first_read_is_found(bare):
    """A reader lists packs once; an object packed since (loose file gone) is found on a miss."""
    repo = pygit2.Repository(str(bare))
    first, second = repo.create_blob(b"first\n"), repo.create_blob(b"second\n")
    db = reader(bare)
    assert db.read(str(first)) == (odb.OBJECT_BLOB, b"first\n")
    subprocess.run(["git", "pack-objects", "-q", "objects/pack/pack"], cwd=bare, env=GIT_ENV, check=True,
                   input=f"{first}\n{second}\n", capture_output=True, text=True)
    git(bare, "prune-packed")
    assert not loose_file(bare, str(second)).exists()
    assert db.read(str(second)) == (odb.OBJECT_BLOB, b"second\n")


# ---- commands that only read do not load libgit2 --------------------------------------------
PROBE = """
import json, sys
from mvc.cli.main import main
sys.argv = ["mvc", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as e:
    assert not e.code, e.code
sys.stdout = sys.__stdout__
print("\\n@@" + json.dumps("pygit2" in sys.modules))
"""


@pytest.mark.parametrize("argv", [["ls"], ["ls", "M"], ["show", "M:latest"], ["alias", "history", "M"]])
def test_reading_commands_do_not_load_pygit2(tmp_path, argv):
    (tmp_path / "w.bin").write_bytes(b"weights" * 100)
    env = {**os.environ, "MVC_DIR": str(tmp_path / ".mvc"), "MVC_PROJECT": "p", "MVC_SILENT": "1"}
    for cmd in (["init"], ["log", str(tmp_path / "w.bin"), "--name", "M", "--alias", "best"]):
        subprocess.run([sys.executable, "-m", "mvc", *cmd], env=env, check=True, capture_output=True, timeout=60)
    r = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], env=env, capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out, loaded = r.stdout.rsplit("\n@@", 1)
    assert "v0" in out
    assert json.loads(loaded) is False, f"mvc {' '.join(argv)} loaded pygit2"


def test_one_reader_shared_by_threads_while_packs_come_and_go(history):
    """Threads share a MetaRepo's reader (the UI's thread pool, diff's workers): reads stay right
    while another thread refreshes the pack table, each refresh swapping which of two packs
    (each holding every object) is listed, so a pack a reader is inside is dropped meanwhile."""
    import threading
    gitdir = history / ".git"
    git(gitdir, "repack", "-a", "-d", "-q")
    ids = all_ids(gitdir)
    subprocess.run(["git", "pack-objects", "-q", "objects/pack/pack"], cwd=gitdir, env=GIT_ENV, check=True,
                   input="".join(f"{oid}\n" for oid in ids), capture_output=True, text=True)
    folder = gitdir / "objects" / "pack"
    idxs = sorted(str(p) for p in folder.iterdir() if p.suffix == ".idx")
    assert len(idxs) == 2
    repo = pygit2.Repository(str(gitdir))
    want = {oid: repo.odb.read(oid)[1] for oid in ids}
    turn = [0]

    def one_pack():
        turn[0] += 1
        return [idxs[turn[0] % 2]]
    db = ObjectDB(str(gitdir / "objects"), one_pack)
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_all():
        try:
            for _ in range(20):
                for oid in ids:
                    assert db.read(oid)[1] == want[oid]
        except BaseException as e:  # reported below
            errors.append(e)

    def churn():
        try:
            while not stop.is_set():
                db.refresh()
                db.forget()
        except BaseException as e:
            errors.append(e)

    readers = [threading.Thread(target=read_all) for _ in range(3)]
    churner = threading.Thread(target=churn)
    churner.start()
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    stop.set()
    churner.join()
    assert turn[0] > 10 and errors == []
