"""A damaged git pack index is a typed IntegrityError naming it, never a hang or a crash.

libgit2 1.9.7 trusts an .idx's object offsets: one flipped past the end of its pack made a
read spin at full CPU forever (the R6 full-count hang), segfault, or raise OSError/MemoryError
(bench/git_pack_flips.py found 101 hanging and 49 untyped flips of 13,280 in one .idx).  Every
read here that could reach libgit2 with a damaged pack runs in a subprocess with a timeout."""
from __future__ import annotations

import glob
import json
import os
import struct
import subprocess
import sys

import pytest

import mvc
from mvc.errors import IntegrityError
from mvc.meta import MetaRepo, packwriter
from mvc.repo.fsck import fsck

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "git_pack_flips.py")


def _log_packed(project, name="many", n=20) -> str:
    src = project / name
    src.mkdir()
    for i in range(n):
        (src / f"f{i:02d}.bin").write_bytes(b"file %d\n" % i)
    with mvc.init() as run:
        run.log_artifact(str(src), name=name, type="dataset")
    [idx] = glob.glob(str(project / ".mvc" / "objects" / "pack" / "*.idx"))
    return idx


def _offsets_at(idx: bytes) -> int:
    n = struct.unpack(">I", idx[8 + 255 * 4:8 + 256 * 4])[0]
    return 8 + 1024 + 24 * n


def _rewrite(path: str, data: bytes) -> None:
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(data)
        f.truncate()


def _resealed(idx: bytes) -> bytes:
    """``idx`` with a correct SHA-1 checksum again (a damage the checksum alone cannot see)."""
    import hashlib
    return idx[:-20] + hashlib.sha1(idx[:-20]).digest()


def test_flips_that_hung_libgit2_are_typed_errors_in_time():
    """The offset-table flips of the sweep that hung or crashed a read (bits 0-4 of an offset's
    high byte push it past the pack; 7 makes it a large-table index), read in the bench's
    worker with a 10 s timeout each; `git fsck --strict` must report each too."""
    flips = [f"idx:{1536 + 4 * k}:{bit}" for k in (0, 5, 13) for bit in (0, 2, 4)] + ["idx:1601:7", "idx:1537:0"]
    proc = subprocess.run([sys.executable, BENCH, "--fsck", "--timeout", "10", "--json", "/dev/stdout",
                           "--only", *flips], capture_output=True, text=True, timeout=300)
    rows = json.loads([line for line in proc.stdout.splitlines() if line.startswith("[")][-1])
    assert len(rows) == len(flips)
    for row in rows:
        assert row["result"].startswith("typed:git pack index "), row
        assert ".idx is damaged" in row["result"] and row["fsck"] == "found", row
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_loose_flips_that_hung_libgit2_are_typed_errors_in_time():
    """The flips of the smallest loose object (`{"latest":"v0"}`) that left its deflate stream
    unterminated and sent libgit2 1.9.7's read_loose into an endless loop: mvc reads objects in
    Python (mvc/meta/odb.py, bounded by the header's size), so each is an IntegrityError naming the file within the
    timeout (the bench worker reads every version and every loose object), and git fsck reports it."""
    flips = [f"loose:12:{bit}" for bit in (3, 4, 6, 7)] + ["loose:13:0", "loose:13:1"]
    proc = subprocess.run([sys.executable, BENCH, "--fsck", "--timeout", "10", "--json", "/dev/stdout",
                           "--only", *flips], capture_output=True, text=True, timeout=300)
    rows = json.loads([line for line in proc.stdout.splitlines() if line.startswith("[")][-1])
    assert [r["task"] for r in rows] == [f.replace(":", " ") for f in flips]
    for row in rows:
        assert row["result"].startswith("typed:metadata object file "), row
        assert "is damaged: its " in row["result"] and row["fsck"] == "found", row
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_sound_index_passes(project):
    idx = _log_packed(project)
    assert packwriter.index_problem(idx) is None
    assert fsck(mvc.Api().repo).ok


@pytest.mark.parametrize("damage, why", [
    ("offset past the pack", "outside its pack"),
    ("large offset out of table", "out of its table"),
    ("other pack's name", "names a different pack"),
    ("checksum", "checksum does not match"),
    ("truncated pack", "outside its pack"),
])
def test_each_check_refuses_its_damage(project, damage, why):
    idx_path = _log_packed(project)
    idx = open(idx_path, "rb").read()
    at = _offsets_at(idx)
    if damage == "offset past the pack":
        bad = _resealed(idx[:at] + struct.pack(">I", 1 << 24) + idx[at + 4:])
    elif damage == "large offset out of table":
        bad = _resealed(idx[:at] + struct.pack(">I", 0x80000003) + idx[at + 4:])
    elif damage == "other pack's name":
        bad = _resealed(idx[:-40] + b"\x01" * 20 + idx[-20:])
    elif damage == "checksum":
        bad = idx[:at] + bytes([idx[at] ^ 0x10]) + idx[at + 1:]
    else:
        pack = idx_path[:-4] + ".pack"
        data = open(pack, "rb").read()
        _rewrite(pack, data[:len(data) // 2] + data[-20:])  # keeps its trailer: only the offsets can tell
        bad = idx
    _rewrite(idx_path, bad)
    assert why in packwriter.index_problem(idx_path)
    with pytest.raises(IntegrityError) as e:
        mvc.Api().artifact("many:v0").download(str(project / "out"))
    assert idx_path in e.value.message and why in e.value.message and "mvc fsck" in e.value.hint
    assert not (project / "out").exists()
    rep = fsck(mvc.Api().repo)
    [p] = [p for p in rep.problems if p.kind == "corrupt-git-pack"]
    assert p.file == idx_path and why in p.message and not rep.ok


def test_restored_index_reads_again_in_the_same_instance(project):
    idx_path = _log_packed(project)
    good = open(idx_path, "rb").read()
    meta = MetaRepo(str(project / ".mvc"))
    _rewrite(idx_path, good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(IntegrityError, match="is damaged"):
        meta.tip(meta.refnames()[0])
    _rewrite(idx_path, good)
    assert meta.tip(meta.refnames()[0]) is not None


def test_pack_written_after_open_is_checked_at_the_next_operation(project):
    _log_packed(project)
    meta = MetaRepo(str(project / ".mvc"))
    ref = meta.refnames()[0]
    assert meta.tip(ref) is not None
    files = {f"x{i}": b"pointer %d\n" % i for i in range(20)}
    packwriter.pack_files_tree(os.path.join(meta.path, "objects"), files)
    new = glob.glob(os.path.join(meta.path, "objects", "pack", "*.idx"))
    assert len(new) == 2
    for p in new:  # damage both: whichever is new, the next operation must see it
        data = open(p, "rb").read()
        _rewrite(p, data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(IntegrityError, match="is damaged"):
        meta.tip(ref)


def test_checked_record_skips_unchanged_indexes_but_not_fsck(project):
    """Sound indexes are recorded by stat so later commands skip reading them; a write to one
    (new ctime) is checked again; fsck reads every index whatever the record says."""
    idx_path = _log_packed(project)
    store = str(project / ".mvc")
    MetaRepo(store).pack_problems()
    name = os.path.basename(idx_path)
    assert packwriter.checked_before(store) == {name: packwriter._stat_key(idx_path)}
    good = open(idx_path, "rb").read()
    _rewrite(idx_path, good[:-1] + bytes([good[-1] ^ 1]))         # a write: its ctime moves
    assert "checksum" in MetaRepo(store).pack_problems()[idx_path]
    # rot under an unchanged stat: forge the record to vouch for the damaged file as it is now
    packwriter.remember_checked(store, {name: packwriter._stat_key(idx_path)})
    assert MetaRepo(store).pack_problems() == {}                  # the documented limit of the record
    rep = fsck(mvc.Api().repo)
    assert [p.kind for p in rep.problems if p.severity == "error"][0] == "corrupt-git-pack"

