"""gc: R11 (refuses over what it cannot read), R12 (retention), leases, temps, dry-run."""
from __future__ import annotations

import os
import time

import pygit2
import pytest
from click.testing import CliRunner

from mvc.errors import FormatError, IntegrityError
from mvc.repo import gc, lease
from mvc.repo.fsck import fsck

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
    v2 = _log(store, project, "m")
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
    v = _log(store, project, "m")
    store.chunks.put(b"orphan")
    store.meta.git.references.create("refs/mvc/proj/futurething/x", store.meta.tip("refs/mvc/proj/artifacts/m").id)
    assert "futurething" in _refuses(store, FormatError).message


def test_r11_unreadable_commit(store, project):
    _log(store, project, "m")
    store.chunks.put(b"orphan")
    tip = store.meta.tip("refs/mvc/proj/artifacts/m")
    obj = os.path.join(store.path, "objects", str(tip.id)[:2], str(tip.id)[2:])
    os.chmod(obj, 0o644)
    open(obj, "wb").write(b"garbage")
    _refuses(store, IntegrityError)


def test_r11_bad_pointer(store, project):
    _log(store, project, "m")
    store.chunks.put(b"orphan")
    bad = store.meta.write_blob(b"{not json")
    st = store.artifacts.state("proj", "m")
    tree = store.meta.edit_tree(st.tree, {"versions/v0/files/evil.bin": bad})
    sig = pygit2.Signature("t", "t@t")
    c = store.meta.git.create_commit(None, sig, sig, "x", tree, [st.commit.id])
    store.meta.git.references["refs/mvc/proj/artifacts/m"].set_target(c)
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
