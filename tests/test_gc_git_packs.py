"""gc sweeps a git pack of the metadata (objects/pack/pack-*.pack) that a crash left without its
.idx, by the same age rule as mvc's chunk packs (docs/format.md, "gc, leases and locks")."""
from __future__ import annotations

import os
import time

from click.testing import CliRunner

from mvc.cli.commands.gc import command as gc_command
from mvc.meta import gitdb
from mvc.repo import gc
from mvc.repo.fsck import fsck
from reliability_kit import assert_gc_sweeps_only


def _log_git_pack(store, project) -> str:
    """Log a folder of enough files that its version tree goes into one git pack; its folder."""
    folder = project / "many"
    folder.mkdir()
    for i in range(gitdb.PACK_MIN_FILES + 4):
        (folder / f"f{i:03d}.bin").write_bytes(os.urandom(100 + i))
    store.log(str(folder), "many", "dataset", "proj")
    packs = os.path.join(store.path, "objects", "pack")
    assert any(n.startswith("pack-") and n.endswith(".idx") for n in os.listdir(packs))
    return packs


def _plant(folder: str, hexid: str, age: float) -> str:
    path = os.path.join(folder, f"pack-{hexid * 40}.pack")
    with open(path, "wb") as f:
        f.write(b"PACK\0\0\0\2 the bytes of a pack whose index never landed")
    os.utime(path, (time.time() - age,) * 2)
    return path


def test_git_pack_left_without_its_index_is_swept_after_the_grace(store, project, tmp_path):
    packs = _log_git_pack(store, project)
    before = sorted(os.listdir(packs))
    old, young = _plant(packs, "a", 7200), _plant(packs, "b", 0)
    assert_gc_sweeps_only(store, packs, old, young, before)
    assert len(os.listdir(store.download(store.resolve("proj/many:v0")[0], str(tmp_path / "out")))) > 0


def test_cli_gc_dry_run_names_the_git_pack(store, project):
    packs = _log_git_pack(store, project)
    old = _plant(packs, "c", 7200)
    env = {"MVC_DIR": store.path}
    dry = CliRunner().invoke(gc_command, ["--dry-run", "--grace", "1h"], env=env)
    assert dry.exit_code == 0 and f"would delete pack {old}" in dry.output, dry.output
    assert os.path.exists(old)


def test_git_pack_given_its_index_after_the_plan_is_kept(store, project):
    packs = _log_git_pack(store, project)
    idx = next(n for n in os.listdir(packs) if n.startswith("pack-") and n.endswith(".idx"))
    pack = os.path.join(packs, idx[:-4] + ".pack")
    held = os.path.join(store.path, "tmp", "held.idx")
    os.rename(os.path.join(packs, idx), held)
    os.utime(pack, (time.time() - 7200,) * 2)
    opts = gc.GcOptions(grace_s=3600)
    p = gc.plan(store, opts)
    assert p.orphan_packs == [pack]
    os.rename(held, os.path.join(packs, idx))                          # the writer's .idx lands
    gc.execute(store, p, opts, time.time())
    assert p.orphan_packs == [] and os.path.exists(pack)
    assert fsck(store).ok


def test_rewritten_orphan_is_put_back(store, project, tmp_path):
    """A writer that renames the same pack (same content, same name) into place after gc's
    last look gets its fresh copy back: gc judges the file it moved aside, not the name."""
    packs = _log_git_pack(store, project)
    old = _plant(packs, "d", 7200)
    tmp = os.path.join(store.path, "tmp")
    os.utime(old, None)                                                # a writer's fresh copy
    assert not gc._remove_orphan_pack(old, time.time() - 3600, tmp)
    assert os.path.exists(old) and not [n for n in os.listdir(tmp) if "pack-" in n]
    os.utime(old, (time.time() - 7200,) * 2)
    assert gc._remove_orphan_pack(old, time.time() - 3600, tmp) and not os.path.exists(old)
