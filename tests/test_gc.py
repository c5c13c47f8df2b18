"""gc: R11 (refuses over what it cannot read), R12 (retention), leases, temps, dry-run."""
from __future__ import annotations

import os
import time

import pygit2
import pytest
from click.testing import CliRunner

from mvc.errors import FormatError, IntegrityError
from mvc.meta import refs
from mvc.meta.layout import version_path
from mvc.repo import gc, lease
from mvc.repo.fsck import fsck
from reliability_kit import assert_gc_sweeps_only

NOW_OPTS = gc.GcOptions(grace_s=0, retention_s=0)


def _log(store, project, name, data=None, aliases=None):
    p = project / f"{name}-{time.time_ns()}.bin"
    p.write_bytes(data or os.urandom(3000))
    return store.log(str(p), name, "model", "proj", aliases=aliases).version


def _chunks(store):
    return set(store.chunks.ids())


def test_orphan_swept_reachable_kept(store, project):
    v = _log(store, project, "m")
    orphan, _ = store.chunks.put(b"nobody needs me")
    p = gc.run(store, NOW_OPTS)
    assert p.chunks == [orphan]
    assert not store.chunks.has(orphan)
    assert store.verify(v) == []


def test_grace_keeps_young_chunks(store, project):
    orphan, _ = store.chunks.put(b"young orphan")
    assert gc.run(store, gc.GcOptions(grace_s=3600)).chunks == []
    assert store.chunks.has(orphan)


def test_live_lease_keeps_chunks_written_after_its_start(store, project):
    with lease.Lease(store.path):
        time.sleep(1.2)
        orphan, _ = store.chunks.put(b"written by a slow log")
        assert gc.run(store, NOW_OPTS).chunks == []
        assert store.chunks.has(orphan)
    assert gc.run(store, NOW_OPTS).chunks == [orphan]


def test_dry_run_lists_exactly_what_the_run_deletes(store, project):
    for i in range(3):
        _log(store, project, "m")
    store.delete(store.resolve("m:v0")[0])
    orphans = {store.chunks.put(os.urandom(100))[0] for _ in range(5)}
    (store_tmp := os.path.join(store.path, "tmp")) and open(os.path.join(store_tmp, ".tmp-x"), "wb").close()
    dry = gc.run(store, NOW_OPTS, dry_run=True)
    assert _chunks(store) >= orphans                                   # the dry run deleted nothing
    real = gc.run(store, NOW_OPTS)
    assert dry.lines() == real.lines()
    assert set(real.chunks) >= orphans and "purge proj/m:v0" in real.lines()
    assert not os.listdir(store_tmp)
    assert fsck(store).ok


def test_r12_retention_keeps_alias_history_links_and_trash(store, project):
    v0 = _log(store, project, "m", aliases=["prod"])
    v1 = _log(store, project, "m")
    _log(store, project, "m")
    store.link(v1, "Reg")
    store.artifacts.set_alias("proj", "m", "v2", "prod")                # prod: v0 -> v2
    store.delete(store.resolve("m:v0")[0])                            # v0 soft-deleted, in alias history
    store.delete(store.resolve("m:v1")[0], delete_aliases=True)       # v1 deleted but linked
    keep = gc.GcOptions(grace_s=0, retention_s=3600)
    gc.run(store, keep)
    trash_v0 = store.artifacts.version(store.artifacts.state("proj", "m"), "v0", trash=True)
    assert store.verify(trash_v0) == []                               # restorable within the retention
    store.artifacts.restore_version("proj", "m", "v0")
    store.delete(store.resolve("m:v0")[0])
    time.sleep(1.1)
    p = gc.run(store, gc.GcOptions(grace_s=0, retention_s=1))
    assert "purge proj/m:v0" in p.lines() and "purge proj/m:v1" not in p.lines()   # v1 is linked
    link_v, _ = store.resolve("registry/Reg:v0")
    assert [f for f in store.entries(link_v)]                         # the link's version tree survives
    assert store.verify(link_v) == []                                 # ... and so do its bytes
    assert store.verify(store.resolve("m:v2")[0]) == []
    v0_chunks = {c for _, ptr in store.entries(v0) for c, _ in ptr.chunks}
    assert not any(store.chunks.has(c) for c in v0_chunks)            # purged past the retention
    assert fsck(store).ok


def test_history_within_retention_keeps_deleted_alias_target(store, project):
    v0 = _log(store, project, "m", aliases=["prod"])
    _log(store, project, "m")
    store.delete(v0, delete_aliases=True)
    store.artifacts.restore_version("proj", "m", "v0")  # make trash empty, then purge by hand
    store.delete(store.resolve("m:v0")[0])
    gc._purge_trash(store, "proj", "m", ["v0"], time.time() + 1)
    gc.run(store, gc.GcOptions(grace_s=0, retention_s=3600))
    assert all(store.chunks.has(c) for _, ptr in store.entries(v0) for c, _ in ptr.chunks)


def test_keep_last_expires_unaliased_unlinked(store, project):
    vs = [_log(store, project, "m") for _ in range(5)]
    store.artifacts.set_alias("proj", "m", "v0", "best")
    store.link(vs[1], "Reg")
    p = gc.run(store, gc.GcOptions(grace_s=0, retention_s=3600, keep_last=2))
    assert p.expire == [("proj", "m", "v2")]
    assert store.artifacts.version_names(store.artifacts.state("proj", "m")) == ["v0", "v1", "v3", "v4"]


def test_stale_lease_removed_live_kept(store):
    dead = os.path.join(lease.lease_dir(store.path), f"{lease.hostname()}-999999-aa.json")
    os.makedirs(os.path.dirname(dead), exist_ok=True)
    import mvc.canonical as c
    open(dead, "wb").write(c.dumps({"host": lease.hostname(), "pid": 999999, "start": 1.0, "refreshed": 1.0}))
    with lease.Lease(store.path) as mine:
        p = gc.run(store, NOW_OPTS)
        assert p.leases == [dead] and not os.path.exists(dead) and os.path.exists(mine.path)


# ---- R11: gc refuses over what it cannot read ----------------------------------
def _refuses(store, exc):
    before = _chunks(store)
    with pytest.raises(exc) as ei:
        gc.run(store, NOW_OPTS)
    assert _chunks(store) == before                                     # 0 chunks lost
    assert ei.value.hint
    return ei.value


def test_r11_unknown_namespace(store, project):
    _log(store, project, "m")
    store.chunks.put(b"orphan")
    store.meta.git.references.create("refs/mvc/proj/futurething/x", store.meta.tip(refs.artifact("proj", "m")).id)
    assert "futurething" in _refuses(store, FormatError).message


def test_r11_unreadable_commit(store, project):
    _log(store, project, "m")
    store.chunks.put(b"orphan")
    tip = store.meta.tip(refs.artifact("proj", "m"))
    obj = os.path.join(store.path, "objects", str(tip.id)[:2], str(tip.id)[2:])
    os.chmod(obj, 0o644)
    open(obj, "wb").write(b"garbage")
    _refuses(store, IntegrityError)


def test_r11_bad_pointer(store, project):
    _log(store, project, "m")
    store.chunks.put(b"orphan")
    bad = store.meta.write_blob(b"{not json")
    st = store.artifacts.state("proj", "m")
    tree = store.meta.edit_tree(st.tree, {version_path("v0") + "/files/evil.bin": bad})
    sig = pygit2.Signature("t", "t@t")
    c = store.meta.git.create_commit(None, sig, sig, "x", tree, [st.commit.id])
    store.meta.git.references[refs.artifact("proj", "m")].set_target(c)
    _refuses(store, IntegrityError)


def test_cli_gc_dry_run_and_json(store, project):
    from mvc.cli.commands.gc import command
    orphan, _ = store.chunks.put(b"cli orphan")
    env = {"MVC_DIR": store.path}
    dry = CliRunner().invoke(command, ["--dry-run", "--grace", "0s", "--retention", "0"], env=env)
    assert dry.exit_code == 0 and f"would delete chunk {orphan}" in dry.output
    assert store.chunks.has(orphan)
    real = CliRunner().invoke(command, ["--grace", "0", "--retention", "0", "--json"], env=env)
    assert real.exit_code == 0 and orphan in real.output and not store.chunks.has(orphan)


def _log_folder(store, project, name, n=40, big=False):
    folder = project / f"{name}-dir"
    folder.mkdir(exist_ok=True)
    for i in range(n):
        (folder / f"f{i:03d}.bin").write_bytes(os.urandom(3000 + i))
    if big:
        (folder / "big.bin").write_bytes(os.urandom(400_000))  # chunks over the pack limit: loose
    for f in folder.iterdir():
        os.utime(f, (time.time() - 60,) * 2)                           # not racy-clean: the stat cache trusts them
    return store.log(str(folder), name, "model", "proj").version


def _downloads(store, address, dest):
    v, _ = store.resolve(address)
    store.download(v, str(dest))
    return sorted(os.listdir(dest))


def test_r12_packed_chunks_dry_run_equals_real_run(store, project, tmp_path):
    """Deleting a packed chunk rewrites its pack; gc must not mistake that
    rewrite for a writer's freshen and spare the pack's other garbage."""
    _log_folder(store, project, "a")
    _log_folder(store, project, "b")
    assert os.listdir(store.chunks.packs.folder)                      # the folders went into packs
    store.delete(store.resolve("b:v0")[0])
    dry = gc.run(store, NOW_OPTS, dry_run=True)
    assert len(dry.chunks) >= 40
    real = gc.run(store, NOW_OPTS)
    assert real.chunks == dry.chunks and real.lines() == dry.lines()
    assert not set(real.chunks) & _chunks(store)                       # every listed chunk is gone
    assert gc.run(store, NOW_OPTS).chunks == []                        # nothing left for a next run
    assert fsck(store).ok
    assert len(_downloads(store, "a:v0", tmp_path / "out")) == 40


def test_sweep_keeps_a_chunk_a_writer_freshens_after_the_plan(store, project):
    """A packed chunk a live writer reuses after gc planned survives the sweep
    (its pack is freshened, so the pack's chunks stay); the loose garbage goes."""
    _log_folder(store, project, "b", big=True)
    store.delete(store.resolve("b:v0")[0])
    _age_store(store, 7200)
    opts = gc.GcOptions(grace_s=3600, retention_s=0)
    p = gc.plan(store, opts)
    packed = [c for c in p.chunks if store.chunks.packs.locate(c)]
    loose = [c for c in p.chunks if c not in packed]
    assert len(packed) >= 40 and loose
    store.chunks.freshen([packed[0]])                                  # a writer's dedup or stat-cache hit
    gc.execute(store, p, opts, time.time())
    assert sorted(p.chunks) == sorted(loose) and _chunks(store).isdisjoint(loose)
    assert all(store.chunks.get(c) for c in packed)


def _age_store(store, seconds):
    """Make every chunk file and pack look ``seconds`` old."""
    t = time.time() - seconds
    for folder in (os.path.join(store.path, "chunks"), store.chunks.packs.folder):
        for root, _, files in os.walk(folder):
            for f in files:
                os.utime(os.path.join(root, f), (t, t))


def test_stat_cache_hit_freshens_chunks_gc_planned_to_delete(store, project, tmp_path, monkeypatch):
    """Promise 2 / R10: a re-log served by the stat cache (no chunk written)
    commits between gc's second mark and its sweep; the chunks it needs were
    old and unmarked when gc planned, and must survive the sweep."""
    _log_folder(store, project, "m", big=True)
    store.delete(store.resolve("m:v0")[0])                            # its chunks become garbage...
    _age_store(store, 7200)                                            # ...older than the grace
    opts = gc.GcOptions(grace_s=3600, retention_s=0)
    real_mark, calls = gc.mark, []

    def mark_then_relog(*a, **kw):
        out = real_mark(*a, **kw)
        calls.append(1)
        if len(calls) == 2:                                            # the second mark, before the sweep
            store.log(str(project / "m-dir"), "n", "model", "proj")
        return out
    monkeypatch.setattr(gc, "mark", mark_then_relog)
    p = gc.run(store, opts)
    assert len(calls) == 2
    new = store.resolve("n:v0")[0]
    assert store.verify(new) == []
    assert len(_downloads(store, "n:v0", tmp_path / "out")) == 41
    assert p.chunks == [] and fsck(store).ok


def test_a_pack_left_without_its_index_is_swept_after_the_grace(store, project, tmp_path):
    """A crash between renaming a .pack into place and its .idx leaves bytes no
    reader sees: gc removes such a pack once it is older than the grace (and
    any live writer's lease), lists it in the dry run, and keeps indexed packs."""
    _log_folder(store, project, "a")
    folder = store.chunks.packs.folder
    indexed = sorted(os.listdir(folder))
    assert any(n.endswith(".idx") for n in indexed)
    old, young = os.path.join(folder, "0" * 32 + ".pack"), os.path.join(folder, "1" * 32 + ".pack")
    for path in (old, young):
        with open(path, "wb") as f:
            f.write(b"bytes of a pack whose index never landed")
    os.utime(old, (time.time() - 7200,) * 2)
    assert_gc_sweeps_only(store, folder, old, young, indexed)
    assert len(_downloads(store, "a:v0", tmp_path / "out")) == 40


def test_an_orphan_pack_given_its_index_after_the_plan_is_kept(store, project):
    _log_folder(store, project, "a")
    folder = store.chunks.packs.folder
    idx = next(n for n in os.listdir(folder) if n.endswith(".idx"))
    pack = os.path.join(folder, idx[:-4] + ".pack")
    os.rename(os.path.join(folder, idx), os.path.join(store.path, "tmp", "held.idx"))
    _age_store(store, 7200)
    opts = gc.GcOptions(grace_s=3600)
    p = gc.plan(store, opts)
    assert p.orphan_packs == [pack]
    os.rename(os.path.join(store.path, "tmp", "held.idx"), os.path.join(folder, idx))  # the writer's .idx lands
    gc.execute(store, p, opts, time.time())
    assert p.orphan_packs == [] and os.path.exists(pack)
    assert fsck(store).ok


def test_temps_of_dead_writers_go_at_once_live_ones_wait_for_the_grace(store, project):
    """A failed or killed write's temp files (issue 9, item 6): the default gc (grace 1 h) removes
    those whose writer PID is dead on this host, in every folder mvc or libgit2 writes temps to."""
    dead, live = 999999, os.getppid()
    paths = {f"tmp/.tmp-abc.pack-{dead}-deadbeef": True, f"leases/.tmp-h-1-x.json-{dead}-0badf00d": True,
             f"objects/pack/.tmp-pack-1.idx-{dead}-12345678": True, f"tmp/.tmp-abc.pack-{live}-deadbeef": False,
             f"leases/.tmp-h-2-y.json-{live}-0badf00d": False}
    for rel in paths:
        full = os.path.join(store.path, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        open(full, "wb").close()
    p = gc.run(store, gc.GcOptions())
    for rel, gone in paths.items():
        assert os.path.exists(os.path.join(store.path, rel)) != gone, rel
        assert (os.path.join(store.path, rel) in p.temps) == gone
