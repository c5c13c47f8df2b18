"""Metadata grows linearly (issue 10, part 7): fan-out trees, and loose git objects packed
by mvc's own upkeep (mvc/meta/upkeep.py; docs/format.md, "Artifact tree" and "Git packs of
upkeep"), safely under concurrent writers and readers."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pygit2
import pytest

import mvc
from mvc.meta import refs, upkeep
from mvc.meta.layout import FANOUT, bucket, digest_path, link_path, numbered, version_path
from mvc.meta.packwriter import index_problem


def _loose(store: str) -> list[str]:
    return upkeep._loose(store)


def _packs(store: str) -> list[str]:
    folder = os.path.join(store, "objects", "pack")
    return sorted(n for n in os.listdir(folder) if n.endswith(".idx")) if os.path.isdir(folder) else []


def _git_fsck(store: str) -> None:
    if shutil.which("git") is None:
        return
    p = subprocess.run(["git", "--git-dir", store, "fsck", "--strict", "--no-dangling"], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def _log_many(store, project, n: int, name: str = "M", start: int = 0):
    src = project / f"{name}.bin"
    out = []
    for i in range(start, start + n):
        src.write_bytes(b"%012d" % i)
        out.append(store.log(str(src), name, "model", "proj").version)
    return out


# ---- layout ------------------------------------------------------------------------------------
def test_layout_paths():
    assert version_path("v0") == "versions/0/v0" and version_path("v255") == "versions/0/v255"
    assert version_path("v256") == "versions/1/v256" and version_path("v3000", trash=True) == "trash/11/v3000"
    assert link_path("v513") == "links/2/v513" and bucket("v65536") == str(65536 // FANOUT)
    d = "1a91b2733a6d17ff31120daa2230988fb53813d66836f712b2083d6d34e2601d"
    assert digest_path(d) == f"digests/1a/91/{d[4:]}"
    for bad in ("v01", "3", "v", "v-1", "../v1", "v1/x"):
        with pytest.raises(ValueError):
            version_path(bad)
    for bad in ("", "ab", "abcd", "XYZ12", "1A2B3"):
        with pytest.raises(ValueError):
            digest_path(bad)


def test_versions_cross_a_bucket_and_are_read_in_order(store, project, monkeypatch):
    monkeypatch.setattr("mvc.meta.layout.FANOUT", 4)  # small buckets: v0..v3 in 0/, v4..v7 in 1/, ...
    _log_many(store, project, 10)
    st = store.artifacts.state("proj", "M")
    assert [e.name for e in store.meta.subtree(st.tree, "versions")] == ["0", "1", "2"]
    assert store.artifacts.version_names(st) == [f"v{i}" for i in range(10)]
    store.delete(store.resolve("M:v5")[0], delete_aliases=True)
    st = store.artifacts.state("proj", "M")
    assert store.meta.subtree(st.tree, "trash/1/v5") is not None
    assert [v.version for v in store.artifacts.versions(st, trash=True)] == ["v5"]
    store.artifacts.restore_version("proj", "M", "v5")
    st = store.artifacts.state("proj", "M")
    assert store.meta.subtree(st.tree, "trash") is None and "v5" in store.artifacts.version_names(st)
    digest = store.resolve("M:v7")[0].record["digest"]
    assert store.resolve(f"M@{digest[:10]}")[0].version == "v7"
    assert store.artifacts.by_digest(st, digest) == "v7"
    _git_fsck(store.path)


def test_a_misplaced_version_is_refused_not_skipped(store, project):
    _log_many(store, project, 2)
    st = store.artifacts.state("proj", "M")
    moved = store.meta.edit_tree(st.tree, {"versions/1/v0": ("tree", store.meta.subtree(st.tree, "versions/0/v0").id)})
    from mvc.errors import IntegrityError
    with pytest.raises(IntegrityError, match="versions/1/v0"):
        numbered(store.meta, store.meta.get(moved), "versions")


# ---- upkeep ----------------------------------------------------------------------------------------
def test_nothing_to_do_costs_one_listing(store, project, monkeypatch):
    _log_many(store, project, 3)
    monkeypatch.setattr(upkeep, "pack_loose", lambda meta: pytest.fail("packed below the threshold"))
    assert upkeep.after_commit(store.meta) == 0


def test_loose_objects_are_packed_and_everything_reads_the_same(store, project, monkeypatch):
    monkeypatch.setenv("MVC_GIT_AUTO_PACK", "0")
    _log_many(store, project, 40)
    before = {v.version: v.record["digest"] for v in store.artifacts.versions(store.artifacts.state("proj", "M"))}
    loose = _loose(store.path)
    assert len(loose) > 300
    deleted = upkeep.pack_loose(store.meta)
    assert deleted == len(loose) and _loose(store.path) == []
    (idx,) = _packs(store.path)
    assert index_problem(os.path.join(store.path, "objects", "pack", idx)) is None
    fresh = mvc.Api().repo
    st = fresh.artifacts.state("proj", "M")
    assert {v.version: v.record["digest"] for v in fresh.artifacts.versions(st)} == before
    out = project / "out"
    fresh.download(fresh.resolve("M:v17")[0], str(out))
    assert (out / "M.bin").read_bytes() == b"%012d" % 17
    _git_fsck(store.path)


def test_the_estimate_counts_one_fanout_folder(tmp_path):
    assert upkeep.loose_estimate(str(tmp_path)) == 0
    folder = tmp_path / "objects" / upkeep.SAMPLE
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / ("%038x" % i)).write_bytes(b"")
    (folder / "tmp_object_git2_x").write_bytes(b"")  # libgit2's temp files are not objects
    assert upkeep.loose_estimate(str(tmp_path)) == 3 * 256


def test_commits_pack_on_their_own_past_the_threshold(store, project, monkeypatch):
    monkeypatch.setenv("MVC_GIT_AUTO_PACK", "100")
    monkeypatch.setattr(upkeep, "loose_estimate", lambda path: len(_loose(path)))  # exact, not sampled
    _log_many(store, project, 30)
    assert _packs(store.path)
    assert len(_loose(store.path)) <= 100
    assert [v.version for v in store.artifacts.versions(store.artifacts.state("proj", "M"))][-1] == "v29"
    _git_fsck(store.path)


def test_a_loose_object_written_while_packing_is_kept(store, project, monkeypatch):
    """The writer who makes an object after the list was taken: it is in no pack, so it stays."""
    monkeypatch.setenv("MVC_GIT_AUTO_PACK", "0")
    _log_many(store, project, 5)
    real = upkeep._write_pack
    late = {}

    def write_pack(meta, oids):
        late["oid"] = str(meta.write_blob(b"written while the pack was being made"))
        return real(meta, oids)

    monkeypatch.setattr(upkeep, "_write_pack", write_pack)
    upkeep.pack_loose(store.meta)
    oid = late["oid"]
    assert os.path.exists(os.path.join(store.path, "objects", oid[:2], oid[2:]))
    assert _loose(store.path) == [oid]


def test_a_damaged_loose_object_is_left_loose_and_nothing_hangs(store, project, monkeypatch):
    monkeypatch.setenv("MVC_GIT_AUTO_PACK", "0")
    _log_many(store, project, 3)
    victim = _loose(store.path)[0]
    path = os.path.join(store.path, "objects", victim[:2], victim[2:])
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        data = f.read()
        f.seek(0)
        f.write(data[:-5])  # a deflate stream that does not end: libgit2 1.9.7 would spin on it
        f.truncate()
    store.meta.forget_checked()
    upkeep.pack_loose(store.meta)
    assert _loose(store.path) == [victim]


def test_a_crash_before_the_index_is_renamed_loses_nothing(store, project, monkeypatch):
    """Killed between the two renames: a .pack without .idx (gc's to remove), every object still loose."""
    monkeypatch.setenv("MVC_GIT_AUTO_PACK", "0")
    _log_many(store, project, 5)
    loose = _loose(store.path)
    real = os.replace

    def replace(src, dst):
        if dst.endswith(".idx"):
            raise KeyboardInterrupt("killed")
        return real(src, dst)

    monkeypatch.setattr(upkeep.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        upkeep.pack_loose(store.meta)
    assert sorted(_loose(store.path)) == sorted(loose) and _packs(store.path) == []
    monkeypatch.setattr(upkeep.os, "replace", real)
    assert upkeep.pack_loose(store.meta) == len(loose)
    _git_fsck(store.path)


def test_a_second_packer_waits_its_turn(store, project, monkeypatch):
    monkeypatch.setenv("MVC_GIT_AUTO_PACK", "0")
    _log_many(store, project, 3)
    with upkeep._lock(store.path) as held:
        assert held
        assert upkeep.pack_loose(store.meta) == 0  # another holder: nothing done, nothing lost
    assert upkeep.pack_loose(store.meta) > 0


def test_packing_under_concurrent_writers_and_readers(store, project, monkeypatch):
    """Threads log and read while others pack again and again: every read finds every object,
    no version is lost, and git fsck is clean."""
    monkeypatch.setenv("MVC_GIT_AUTO_PACK", "0")
    _log_many(store, project, 5)
    errors, done = [], threading.Event()
    store_path = store.path

    def writer(name):
        try:
            from mvc.repo import Repository
            r = Repository(store_path)
            _log_many(r, project, 25, name=name)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def reader():
        from mvc.repo import Repository
        try:
            while not done.is_set():
                r = Repository(store_path)
                for p, n in r.artifacts.list("proj"):
                    st = r.artifacts.state(p, n)
                    for v in r.artifacts.versions(st):
                        r.entries(v)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def packer():
        from mvc.repo import Repository
        try:
            while not done.is_set():
                upkeep.pack_loose(Repository(store_path).meta)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    writers = [threading.Thread(target=writer, args=(n,)) for n in ("A", "B")]
    others = [threading.Thread(target=reader), threading.Thread(target=packer)]
    for t in writers + others:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in others:
        t.join()
    assert not errors, errors
    from mvc.repo import Repository
    r = Repository(store_path)
    for name in ("A", "B"):
        assert r.artifacts.version_names(r.artifacts.state("proj", name)) == [f"v{i}" for i in range(25)]
    _git_fsck(store_path)
    assert refs.artifact("proj", "A") in r.meta.refnames()
    assert pygit2.Repository(store_path).odb  # still opens


def test_trees_have_the_layout_docs_format_md_describes(store, project):
    """docs/format.md, "Artifact tree" and "Registered model tree": every path of the tip trees."""
    import re
    (project / "d").mkdir()
    (project / "d" / ".hidden").write_bytes(b"h")
    (project / "d" / "w.bin").write_bytes(b"w")
    store.log(str(project / "d"), "M", "model", "proj")
    _log_many(store, project, 2)
    store.delete(store.resolve("M:v1")[0], delete_aliases=True)
    store.link(store.resolve("M:v0")[0], "Reg")
    patterns = {
        refs.artifact("proj", "M"): [r"artifact\.json", r"aliases\.json", r"digests/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}",
                                     r"(versions|trash)/0/v[0-9]+/version\.json",
                                     r"(versions|trash)/0/v[0-9]+/files/(%2ehidden|w\.bin|M\.bin)"],
        refs.registry("Reg"): [r"model\.json", r"aliases\.json", r"links/0/v0/link\.json",
                               r"links/0/v0/version/(version\.json|files/(%2ehidden|w\.bin))", r"sources/proj/M/v0"],
    }
    for ref, pats in patterns.items():
        paths = [p for p, _ in store.meta.walk_blobs(store.meta.tip(ref).tree)]
        for p in paths:
            assert any(re.fullmatch(pat, p) for pat in pats), (ref, p)
        for pat in pats:
            assert any(re.fullmatch(pat, p) for p in paths), (ref, pat)
    assert store.meta.subtree(store.meta.tip(refs.artifact("proj", "M")).tree, "trash/0/v1") is not None
