"""R9: nothing from a manifest can write outside the target folder."""
from __future__ import annotations

import hashlib
import os

import format2_ref
import pytest

from mvc.errors import IntegrityError, InvalidInputError, MvcError
from mvc.meta import refs
from mvc.meta.layout import version_path
from mvc.store import MemoryChunkStore, Pointer
from mvc.store.materialise import materialise

PAYLOAD = b"evil bytes that must never land outside the target\n"


def _ptr(store, data=PAYLOAD) -> Pointer:
    cid, _ = store.put(data)
    return Pointer(size=len(data), digest=format2_ref.whole(data), chunks=((cid, len(data)),))


def _tree(root) -> dict:
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = "dir" if os.path.isdir(p) and not os.path.islink(p) else \
                hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.isfile(p) else "link"
    return out


@pytest.fixture
def world(tmp_path):
    """A sentinel folder next to (and above) the target; a store with one chunk."""
    sentinel = tmp_path / "sentinel"
    (sentinel / "sub").mkdir(parents=True)
    (sentinel / "keep.txt").write_text("keep")
    work = tmp_path / "work" / "a" / "b"
    work.mkdir(parents=True)
    return tmp_path, work / "target", MemoryChunkStore()


BAD_PATHS = [
    "..", "../x", "../../x", "a/../../x", "a/..", "a/../b", "./x", "a/./b", ".", "a//b", "a/", "/x", "/etc/passwd",
    "..\\x", "a\\..\\..\\x", "C:x", "C:\\Windows\\x", "c:/x", "\\\\server\\share\\x", "//server/share/x",
    "x\x00y", "", "../sentinel/keep.txt", "../../../sentinel/new.txt",
]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_hostile_paths_refused_before_any_write(world, bad):
    base, target, store = world
    before = _tree(base)
    entries = [("ok.txt", _ptr(store)), (bad, _ptr(store))]
    with pytest.raises((IntegrityError, InvalidInputError)) as ei:
        materialise(store, entries, str(target), "M:v0")
    assert "hint" in str(ei.value)
    assert _tree(base) == before  # not even the target or a temp folder appeared


@pytest.mark.parametrize("paths,what", [
    (["Model.bin", "model.bin"], "collide"),
    (["dir/A.txt", "DIR/a.txt"], "collide"),
    (["a", "a/b"], "both a file and a folder"),
    (["x/y", "x/y/z"], "both a file and a folder"),
])
def test_colliding_manifests_refused(world, paths, what):
    base, target, store = world
    before = _tree(base)
    with pytest.raises(IntegrityError, match=what):
        materialise(store, [(p, _ptr(store)) for p in paths], str(target))
    assert _tree(base) == before


def test_planted_symlink_at_target(world):
    base, target, store = world
    os.symlink(base / "sentinel", target)
    before = _tree(base)
    with pytest.raises(InvalidInputError, match="symlink"):
        materialise(store, [("keep.txt", _ptr(store))], str(target))
    assert (base / "sentinel" / "keep.txt").read_text() == "keep"
    assert _tree(base) == before


def test_planted_symlink_inside_existing_target_is_not_followed(world):
    base, target, store = world
    target.mkdir()
    os.symlink(base / "sentinel", target / "sub")
    before = _tree(base / "sentinel")
    with pytest.raises(InvalidInputError, match="in the way") as e:
        materialise(store, [("sub/keep.txt", _ptr(store)), ("top.txt", _ptr(store, b"t"))], str(target))
    assert e.value.hint
    assert _tree(base / "sentinel") == before              # nothing written through the link
    assert os.path.islink(target / "sub") and not (target / "top.txt").exists()   # refused before any move


def test_existing_folder_keeps_what_mvc_did_not_write(world):
    base, target, store = world
    (target / "sub").mkdir(parents=True)
    (target / "notes.txt").write_text("mine")
    (target / "sub" / "other.bin").write_bytes(b"mine too")
    (target / "f.bin").write_bytes(b"old version of f")
    materialise(store, [("f.bin", _ptr(store)), ("sub/g.bin", _ptr(store, b"g"))], str(target))
    assert (target / "notes.txt").read_text() == "mine"
    assert (target / "sub" / "other.bin").read_bytes() == b"mine too"
    assert (target / "f.bin").read_bytes() == PAYLOAD and (target / "sub" / "g.bin").read_bytes() == b"g"
    assert sorted(os.listdir(target)) == ["f.bin", "notes.txt", "sub"]   # no temp folder left


def test_folder_in_the_way_of_a_file_is_refused_before_any_move(world):
    base, target, store = world
    (target / "f.bin").mkdir(parents=True)
    with pytest.raises(InvalidInputError, match="is a folder where"):
        materialise(store, [("a.bin", _ptr(store)), ("f.bin", _ptr(store))], str(target))
    assert sorted(os.listdir(target)) == ["f.bin"]


def test_unwritable_target_is_a_typed_error(world):
    base, target, store = world
    (base / "afile").write_text("x")
    with pytest.raises(InvalidInputError, match="cannot write the folder") as e:
        materialise(store, [("a.bin", _ptr(store))], str(base / "afile" / "x"))
    assert e.value.hint


def test_corrupt_chunk_leaves_nothing_and_keeps_old_target(world):
    base, target, store = world
    materialise(store, [("f.bin", _ptr(store, b"old"))], str(target))
    good, bad = _ptr(store, b"good"), _ptr(store, b"bad!")
    store._chunks[bad.chunks[0][0]] = b"BAD!"
    before = _tree(base)
    with pytest.raises(IntegrityError, match="z.bin"):
        materialise(store, [("a.bin", good), ("z.bin", bad)], str(target), "M:v1")
    assert _tree(base) == before
    assert (target / "f.bin").read_bytes() == b"old"


def test_good_manifest_materialises(world):
    base, target, store = world
    out = materialise(store, [("a/b/c.bin", _ptr(store)), ("top.txt", _ptr(store, b"t"))], str(target))
    assert out == str(target)
    assert (target / "a" / "b" / "c.bin").read_bytes() == PAYLOAD
    assert sorted(os.listdir(target.parent)) == ["target"]


def test_all_refusals_are_mvc_errors():
    assert issubclass(IntegrityError, MvcError) and issubclass(InvalidInputError, MvcError)


# ---- symlink entries in the metadata (git mode 120000) --------------------------------------

def _plant_symlink_entry(r, target_bytes: bytes, mode: int) -> None:
    """Rewrite p/M's versions/v0/files so it also holds 'link' as a git entry of ``mode``."""
    import pygit2
    refname = refs.artifact("p", "M")
    tip = r.meta.tip(refname)
    files = r.meta.subtree(tip.tree, version_path("v0") + "/files")
    tb = r.meta.git.TreeBuilder(str(files.id))
    tb.insert("link", r.meta.git.create_blob(target_bytes), mode)
    new_tree = r.meta.edit_tree(tip.tree, {version_path("v0") + "/files": ("tree", tb.write())})
    sig = pygit2.Signature("t", "t@example.com")
    r.meta.git.create_commit(refname, sig, sig, "plant a symlink entry", new_tree, [tip.id])


@pytest.mark.parametrize("payload", [b"../../../../etc/passwd", None])   # a link target, or a valid pointer
def test_symlink_entry_in_version_refused_before_any_write(tmp_path, payload):
    import pygit2
    from mvc.repo import Repository, create_store
    from mvc.repo.fsck import fsck
    store = str(tmp_path / "s" / ".mvc")
    create_store(store)
    r = Repository(store)
    src = tmp_path / "w.bin"
    src.write_bytes(PAYLOAD)
    r.log(str(src), "M", "model", "p")
    ptr_blob = r.meta.blob(r.meta.subtree(r.meta.tip(refs.artifact("p", "M")).tree, version_path("v0") + "/files"),
                           "w.bin")
    _plant_symlink_entry(r, payload if payload is not None else ptr_blob, pygit2.GIT_FILEMODE_LINK)
    v, _ = r.resolve("p/M:v0")
    dest = tmp_path / "dl"
    with pytest.raises(IntegrityError, match="120000") as ei:
        r.download(v, str(dest / "out"))
    assert "fsck" in ei.value.hint
    assert not dest.exists()                                 # checked before any write: not even the parent
    rep = fsck(r, git=False)
    assert not rep.ok and any("120000" in p.text() for p in rep.problems)
