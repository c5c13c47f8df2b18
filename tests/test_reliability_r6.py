"""R6: flip one byte in a random stored object of each kind; every use either
delivers the original bytes or raises a typed mvc error (nothing half-written),
and fsck reports every kind it covers.

Kinds (what fsck covers): loose chunk, packed chunk, pack index (re-hashed and
checked by fsck's chunk pass), git loose objects (pointer blob, version.json
blob, other blobs, tree, commit) and git packfiles and their .idx (`git fsck
--strict`), whole-file link cache entries under files/ (fsck re-hashes them:
their names are their BLAKE3).  Caches fsck does not judge: the stat cache
state.db (a damaged cache must degrade to re-hashing: uses and re-logs give the
same results as before).

A flip is a write that keeps the file's mtime ("rot") or one that does not
("write"), at random.  Copy-mode uses must be exact either way.  Linked uses
(hardlink) hand out the store's own file when the stat cache vouches for it
(size, mtime, inode unchanged since it was verified: docs/format.md,
"Materialisation"), so a rotted, vouched-for store file is found by fsck, not by
a linked use: the test counts those and requires fsck to name them.
"""
from __future__ import annotations

import gc
import os
import random
import shutil
import time
import zlib
from dataclasses import dataclass, field

import pygit2
import pytest

import mvc
from mvc.errors import FormatError, IntegrityError, NotFoundError
from mvc.repo.fsck import fsck

TYPED = (IntegrityError, NotFoundError, FormatError)
MODES = ("copy", "hardlink")
CACHES = {"stat-cache"}


@dataclass
class World:
    root: str                       # the project folder
    store: str                      # its .mvc
    sources: dict                   # artifact name -> source path
    digests: dict                   # artifact name -> artifact digest
    files: dict                     # artifact name -> {relpath: bytes}
    objects: dict = field(default_factory=dict)  # kind -> [path]


def _write_tree(base, files: dict[str, bytes]) -> None:
    old = time.time() - 30          # older than the stat cache's racy window: it remembers them
    for rel, data in files.items():
        p = os.path.join(base, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        os.utime(p, (old, old))


def build_world(project) -> World:
    rng = random.Random(6)
    content = {
        "packed": {f"f{i:02d}.bin": rng.randbytes(rng.randrange(1000, 6000)) for i in range(20)},  # chunk pack, git pack
        "big": {"weights.bin": rng.randbytes(2_500_000)},                                           # loose chunks, files/
        "small": {"a.txt": b"alpha\n" * 50, "sub/b.bin": rng.randbytes(3000), "one.bin": rng.randbytes(200_000)},
    }
    world = World(str(project), str(project / ".mvc"), {}, {}, content)
    api = mvc.Api(str(project), create=True)
    for name, files in content.items():
        src = project / "src" / name
        _write_tree(src, files)
        res = api.repo.log(str(src), name, "model", "proj")
        world.sources[name], world.digests[name] = str(src), res.version.record["digest"]
    api.artifact("big:v0").download(str(project / "warm"), link="hardlink")  # builds files/, stat-cache rows
    shutil.rmtree(project / "warm")
    api.repo.stat_cache.close()
    world.objects = classify(world.store)
    return world


def classify(store: str) -> dict[str, list[str]]:
    """Every stored object file, by kind."""
    kinds: dict[str, list[str]] = {}

    def add(kind, path):
        kinds.setdefault(kind, []).append(path)

    for base, _, names in os.walk(store):
        rel = os.path.relpath(base, store).split(os.sep)
        for n in names:
            p = os.path.join(base, n)
            if rel[0] == "chunks":
                add("loose-chunk", p)
            elif rel[0] == "packs":
                add("packed-chunk" if n.endswith(".pack") else "pack-index", p)
            elif rel[0] == "files":
                add("whole-file", p)
            elif rel == ["objects", "pack"]:
                add("git-pack" if n.endswith(".pack") else "git-pack-idx", p)
            elif rel[0] == "objects" and len(rel) == 2 and len(rel[1]) == 2:
                add(_git_kind(store, rel[1] + n), p)
            elif n == "state.db":
                add("stat-cache", p)
    return kinds


def _git_kind(store: str, oid: str) -> str:
    git = pygit2.Repository(store)
    obj = git[oid]
    if obj.type == pygit2.GIT_OBJECT_COMMIT:
        return "git-commit"
    if obj.type == pygit2.GIT_OBJECT_TREE:
        return "git-tree"
    data = obj.data
    if data.startswith(b'{"chunks"'):
        return "git-pointer"
    return "git-version-json" if b'"digest"' in data and b'"files"' in data else "git-other-blob"


@dataclass
class Flip:
    kind: str
    path: str
    offset: int
    good: bytes = field(repr=False)
    stat: os.stat_result = field(repr=False)
    rot: bool
    inert: bool = False


def flip(world: World, kind: str, rng: random.Random) -> Flip:
    path = rng.choice(sorted(world.objects[kind]))
    st = os.stat(path)
    with open(path, "rb") as f:
        good = f.read()
    bad = bytearray(good)
    off = rng.randrange(len(bad))
    bad[off] ^= 1 << rng.randrange(8)
    rot = rng.random() < 0.5
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:   # in place: same inode, as disk rot would leave it
        f.write(bad)
    os.chmod(path, st.st_mode & 0o777)
    if rot:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return Flip(kind, path, off, good, st, rot, _inert(kind, good, bytes(bad)))


def _inert(kind: str, good: bytes, bad: bytes) -> bool:
    """A git loose object whose flipped bit is padding after the last deflate code: the
    object (named by the SHA-1 of what it inflates to) is unchanged, and git agrees."""
    if not kind.startswith("git-") or kind.startswith("git-pack"):
        return False
    try:
        return zlib.decompress(bad) == zlib.decompress(good)
    except zlib.error:
        return False


def repair(world: World, fl: Flip) -> None:
    if fl.kind == "stat-cache":
        for suffix in ("-wal", "-shm", ".corrupt", "-wal.corrupt", "-shm.corrupt"):
            if os.path.exists(fl.path + suffix):
                os.unlink(fl.path + suffix)
    same = os.path.exists(fl.path) and os.stat(fl.path).st_ino == fl.stat.st_ino
    if os.path.exists(fl.path):
        os.chmod(fl.path, 0o644)
    if not same and os.path.exists(fl.path):
        os.unlink(fl.path)
    with open(fl.path, "r+b" if same else "wb") as f:  # in place: libgit2 keeps packs mapped per process
        f.write(fl.good)
        f.truncate()
    for path in set(classify(world.store).get("whole-file", [])) - set(world.objects["whole-file"]):
        os.unlink(path)  # built by this trial's linked uses: the next trial streams those files again
    gc.collect()  # drop this trial's repositories (and libgit2's mapped packs with them)
    os.chmod(fl.path, fl.stat.st_mode & 0o777)
    os.utime(fl.path, ns=(fl.stat.st_atime_ns, fl.stat.st_mtime_ns))


def _read_tree(root: str) -> dict[str, bytes]:
    out = {}
    for base, _, names in os.walk(root):
        for n in names:
            p = os.path.join(base, n)
            out[os.path.relpath(p, root).replace(os.sep, "/")] = open(p, "rb").read()
    return out


@dataclass
class Tally:
    trials: int = 0
    by_kind: dict = field(default_factory=dict)      # kind -> [trials, uses refused, fsck reported]
    wrong_bytes: int = 0                             # copy-mode uses that delivered wrong bytes: must stay 0
    linked_rot_served: int = 0                       # linked uses of a rotted, vouched-for store file
    inert: int = 0                                   # flips that left a git object's content as it was

    def add(self, kind: str, refused: int, reported: bool) -> None:
        row = self.by_kind.setdefault(kind, [0, 0, 0])
        row[0] += 1
        row[1] += refused
        row[2] += int(reported)
        self.trials += 1


def use_all(world: World, fl: Flip, trial: int, tally: Tally) -> int:
    """Use every version in every mode; return how many uses were refused (typed)."""
    refused = 0
    api = mvc.Api(world.root)
    try:
        for name, files in world.files.items():
            for mode in MODES:
                target = os.path.join(world.root, "out", f"{trial}-{name}-{mode}")
                try:
                    api.artifact(f"{name}:v0").download(target, link=mode)
                except TYPED as e:
                    refused += 1
                    assert fl.kind not in CACHES, f"a damaged {fl.kind} refused a use: {e}"
                    assert not os.path.exists(target), f"{fl}: a refused use left {target}"
                    continue
                got = _read_tree(target)
                if got != files:
                    if mode != "copy" and fl.rot and fl.kind in ("loose-chunk", "whole-file"):
                        tally.linked_rot_served += 1
                    else:
                        tally.wrong_bytes += 1
                        raise AssertionError(f"{fl.kind} flip at {fl.offset} of {fl.path}: {mode} use of {name} "
                                             "delivered wrong bytes")
    finally:
        api.repo.stat_cache.close()
        shutil.rmtree(os.path.join(world.root, "out"), ignore_errors=True)
    return refused


def relog_same(world: World) -> None:
    """After a stat-cache flip: re-logging each source finds the same content (no new version)."""
    api = mvc.Api(world.root)
    try:
        for name, src in world.sources.items():
            res = api.repo.log(src, name, "model", "proj")
            assert res.version.record["digest"] == world.digests[name] and not res.created, name
    finally:
        api.repo.stat_cache.close()


def fsck_errors(world: World) -> list[str]:
    repo = mvc.Api(world.root).repo
    try:
        rep = fsck(repo, quarantine=False)  # detection only: each trial restores the flipped file in place
    finally:
        repo.stat_cache.close()
    return [p.text() for p in rep.problems if p.severity == "error"]


def fsck_reports(world: World) -> bool:
    return bool(fsck_errors(world))


def run_r6(project, trials: int, seed: int = 6) -> Tally:
    world = build_world(project)
    kinds = sorted(world.objects)
    rng, tally = random.Random(seed), Tally()
    assert fsck_reports(world) is False
    for t in range(trials):
        kind = kinds[t % len(kinds)]
        fl = flip(world, kind, rng)
        try:
            reported = fsck_reports(world)  # first: a linked use rebuilds a damaged whole file
            assert reported or kind in CACHES or fl.inert, f"fsck missed a {kind} flip at {fl.offset} of {fl.path}"
            refused = use_all(world, fl, t, tally)
            assert not (fl.inert and refused), f"an inert flip refused a use: {fl}"
            tally.inert += fl.inert
            if kind in CACHES:
                relog_same(world)
        finally:
            repair(world, fl)
        if os.environ.get("R6_DEBUG"):
            assert not fsck_errors(world), f"after repairing {fl}: {fsck_errors(world)}"
        tally.add(kind, refused, reported)
    assert not fsck_reports(world)
    return tally


def _print(tally: Tally, elapsed: float) -> None:
    print(f"\nR6: {tally.trials} flips in {elapsed:.1f} s; wrong bytes in copy-mode uses: {tally.wrong_bytes}; "
          f"linked uses of a rotted vouched-for file: {tally.linked_rot_served}; inert flips (deflate padding "
          f"bits of a git loose object: the object is unchanged): {tally.inert}")
    for kind, (n, refused, reported) in sorted(tally.by_kind.items()):
        cover = "cache (not judged by fsck)" if kind in CACHES else f"fsck reported {reported}/{n}"
        print(f"  {kind:17} {n:4} flips, {refused:4} uses refused (typed), {cover}")


def test_r6_world_has_every_kind(project):
    world = build_world(project)
    assert set(world.objects) >= {"loose-chunk", "packed-chunk", "pack-index", "git-pointer", "git-version-json",
                                  "git-tree", "git-commit", "git-pack", "git-pack-idx", "stat-cache", "whole-file"}


@pytest.mark.parametrize("trials", [pytest.param(36, id="ci"), pytest.param(1000, id="full", marks=pytest.mark.slow)])
def test_r6_flipped_byte_in_every_kind(project, trials):
    started = time.monotonic()
    tally = run_r6(project, trials)
    _print(tally, time.monotonic() - started)
    assert tally.trials == trials and tally.wrong_bytes == 0


def test_stat_cache_row_with_a_flipped_digest_is_a_miss(tmp_path):
    """A flipped hex digit of a cached pointer's digest still parses: the row's check catches it."""
    from mvc.store.pointer import Pointer
    from mvc.store.statcache import StatCache
    f = tmp_path / "w.bin"
    f.write_bytes(b"x" * 10)
    os.utime(f, (time.time() - 30,) * 2)
    cache = StatCache(str(tmp_path / "state.db"))
    ptr = Pointer(10, "blake3:" + "a" * 64, (("b" * 64, 10),))
    cache.remember(str(f), os.stat(f), ptr, time.time_ns())
    cache.commit()
    assert cache.lookup(str(f), os.stat(f)) == ptr
    cache._db.execute("UPDATE files SET pointer = replace(pointer, 'aaaa', 'aaab')")
    assert cache.lookup(str(f), os.stat(f)) is None


def test_chunk_pack_index_length_flipped_past_the_pack_end(project):
    """The last chunk's length flipped up in a chunk pack index still re-encodes canonically and
    the short read of the pack hashed right: found by the R6 full count.  Now a short read is damage."""
    world = build_world(project)
    [path] = world.objects["pack-index"]
    good = open(path, "rb").read()
    at = good.rindex(b"]],") - 1                       # the last digit of the last chunk's length
    assert good[at:at + 1] != b"9"                       # the world is built from a fixed seed
    bad = good[:at] + str(int(good[at:at + 1]) + 1).encode() + good[at + 1:]
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(bad)
    assert any("runs past the end of its pack" in e for e in fsck_errors(world))
    with pytest.raises(IntegrityError):
        mvc.Api(world.root).artifact("packed:v0").download(os.path.join(world.root, "out"))
    assert not os.path.exists(os.path.join(world.root, "out"))
