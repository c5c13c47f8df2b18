"""The git pack writer: real `git verify-pack` and `git fsck --strict` accept what it
writes, libgit2 reads it, and it names trees exactly as libgit2 does."""
from __future__ import annotations

import glob
import os
import subprocess
import zlib

import pygit2
import pytest

from mvc.meta import MetaRepo
from mvc.meta import packwriter


def _files(n: int) -> dict[str, bytes]:
    out = {f"d{i % 7}/sub{i % 3}/f{i}.bin": b"pointer %d\n" % i for i in range(n)}
    out["top.txt"] = b"top\n"
    out["d1-x"] = b"sorts between d1 and d1/ in git's order\n"
    out["d1.a"] = b"and so does this\n"
    out["big.bin"] = bytes(range(256)) * 20  # over packwriter.STORED_BELOW: deflated, not stored
    return out


def _git(*args, cwd) -> str:
    p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout + p.stderr


def test_same_tree_ids_as_libgit2_loose_objects(tmp_path):
    files = _files(200)
    loose = MetaRepo.create(str(tmp_path / "loose"))
    expected = loose.build_tree({p: loose.write_blob(d) for p, d in files.items()})
    packed = MetaRepo.create(str(tmp_path / "packed"))
    root = pygit2.Oid(raw=packwriter.pack_files_tree(str(tmp_path / "packed" / "objects"), files))
    assert root == expected
    assert not glob.glob(str(tmp_path / "packed" / "objects" / "??" / "*"))   # nothing loose
    tree = packed.git[root]                                                     # libgit2 finds the new pack
    assert dict(packed.walk_blobs(tree)) == {p: packed.git.create_blob(d) for p, d in files.items()}


def test_git_verify_pack_and_fsck_strict_accept_it(tmp_path):
    repo = MetaRepo.create(str(tmp_path / "r"))
    files = _files(300)
    root = pygit2.Oid(raw=packwriter.pack_files_tree(str(tmp_path / "r" / "objects"), files))
    sig = pygit2.Signature("t", "t@example.com")
    commit = repo.git.create_commit(None, sig, sig, "m", root, [])
    repo.git.references.create("refs/mvc/p/artifacts/a", commit)
    [idx] = glob.glob(str(tmp_path / "r" / "objects" / "pack" / "*.idx"))
    out = _git("verify-pack", "-v", idx, cwd=tmp_path)
    kinds = [line.split()[1] for line in out.splitlines() if len(line.split()) >= 5]
    assert kinds.count("blob") == len(set(files.values()))
    assert kinds.count("tree") == 1 + 7 + 7 * 3          # root, d0..d6, their sub0..sub2
    _git("fsck", "--strict", "--no-dangling", cwd=tmp_path / "r")
    assert oct(os.stat(idx).st_mode & 0o777) == "0o444"


@pytest.mark.parametrize("n", [0, 1, 170, packwriter.STORED_BELOW - 1, packwriter.STORED_BELOW, 70_000])
def test_deflate_is_one_whole_zlib_stream(n):
    data = (bytes(range(256)) * (n // 256 + 1))[:n]
    out = packwriter.deflate(data)
    d = zlib.decompressobj()
    assert d.decompress(out) == data and d.eof and d.unused_data == b""
    assert (out[2] == 0x01) == (n < packwriter.STORED_BELOW)  # a final stored block: small objects are not compressed


def test_large_offsets_use_the_64_bit_table():
    rows = [(bytes([1]) * 20, 12, 7), (bytes([2]) * 20, 0x80000010, 9)]
    idx = packwriter.index_bytes(rows, b"\0" * 20)
    n = 2
    offsets_at = 8 + 256 * 4 + 20 * n + 4 * n
    small = idx[offsets_at:offsets_at + 8]
    assert small == (12).to_bytes(4, "big") + (0x80000000).to_bytes(4, "big")
    assert idx[offsets_at + 8:offsets_at + 16] == (0x80000010).to_bytes(8, "big")


def test_size_header_varint():
    assert packwriter._header(packwriter.OBJ_BLOB, 5) == bytes([0x35])
    assert packwriter._header(packwriter.OBJ_BLOB, 100) == bytes([0x80 | 0x30 | 4, 6])


@pytest.mark.parametrize("n", [3, 150])
def test_log_of_many_files_is_one_pack_and_reads_back(project, n, monkeypatch):
    import mvc
    src = project / "many"
    for i in range(n):
        (src / f"g{i % 5}").mkdir(parents=True, exist_ok=True)
        (src / f"g{i % 5}" / f"f{i}.txt").write_bytes(b"file %d\n" % i)
    packs_before = glob.glob(str(project / ".mvc" / "objects" / "pack" / "*.pack"))
    with mvc.init() as run:
        art = run.log_artifact(str(src), name="many", type="dataset")
    packs = glob.glob(str(project / ".mvc" / "objects" / "pack" / "*.pack"))
    assert len(packs) - len(packs_before) == (1 if n >= 16 else 0)
    out = mvc.Api().artifact("many:v0").download(str(project / "out"))
    assert sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs) == \
        sorted(f"g{i % 5}/f{i}.txt" for i in range(n))
    assert art.file_count == n
    _git("fsck", "--strict", "--no-dangling", cwd=project / ".mvc")
