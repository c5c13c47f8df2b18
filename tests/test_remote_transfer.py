"""Chunk transfer between a local store and remote storage, against both backends (a folder
and moto's standalone S3 server on 127.0.0.1): round trips, skips, requests per file,
interrupted pushes (a real process killed mid-push), and hostile remotes (R15)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from s3_server import s3_bucket, s3_env, s3_server  # noqa: F401  (pytest fixtures)
from test_remote_storage import raw_write

from mvc.errors import IntegrityError, NotFoundError, UsageError
from mvc.remote.storage import open_storage
from mvc.remote.transfer import PACKED_MAX, chunk_key, fetch_chunks, push_chunks
from mvc.store.chunks import DirChunkStore, MemoryChunkStore


@pytest.fixture(params=["folder", "s3"])
def storage_url(request, tmp_path):
    if request.param == "folder":
        return str(tmp_path / "remote-bytes")
    return f"s3://{request.getfixturevalue('s3_bucket')}/team"


@pytest.fixture
def storage(storage_url):
    return open_storage(storage_url)


def new_store(path) -> DirChunkStore:
    os.makedirs(path, exist_ok=True)
    return DirChunkStore(str(path))


def fill(store, blobs) -> list[str]:
    with store.batch():
        return [store.put(b)[0] for b in blobs]


def model_blobs(large=4, small=50, seed=b""):
    """Chunks like a model's: a few large (above PACKED_MAX), many small."""
    return ([os.urandom(PACKED_MAX + 4096 + i) for i in range(large)]
            + [seed + os.urandom(200 + i) for i in range(small)])


def store_files(store) -> set[str]:
    out = set()
    for sub in ("chunks", "packs"):
        for dirpath, _, names in os.walk(os.path.join(store.root, sub)):
            out |= {os.path.join(dirpath, n) for n in names}
    return out


class Progress:
    def __init__(self):
        self.total, self.done = None, 0

    def expect(self, total):
        self.total = total

    def __call__(self, n):
        self.done += n


def test_push_then_fetch_round_trip(tmp_path, storage):
    src = new_store(tmp_path / "a")
    blobs = model_blobs()
    ids = fill(src, blobs)
    progress = Progress()
    sent = push_chunks(src, storage, ids, jobs=3, progress=progress)
    assert sent["chunks"] == len(ids) and sent["skipped"] == 0
    assert sent["packs"] == 1  # 50 small chunks: one pack
    assert progress.total == progress.done == sum(map(len, blobs))
    assert sent["bytes"] >= progress.total
    assert {k for k in storage.list("chunks/")} == {chunk_key(c) for c in ids[:4]}

    dst = new_store(tmp_path / "b")
    progress = Progress()
    got = fetch_chunks(dst, storage, [(c, len(b)) for c, b in zip(ids, blobs)], jobs=3, progress=progress)
    assert got["chunks"] == len(ids) and got["skipped"] == 0
    assert progress.done == progress.total and progress.total >= sum(map(len, blobs))
    assert [dst.get(c) for c in ids] == blobs
    assert fetch_chunks(dst, storage, ids) == {"chunks": 0, "bytes": 0, "requests": 0, "skipped": len(ids), "packs": 0}


def test_memory_store_round_trip(tmp_path, storage):
    src, dst = MemoryChunkStore(), MemoryChunkStore()
    blobs = model_blobs(large=2, small=5)
    ids = [src.put(b)[0] for b in blobs]
    push_chunks(src, storage, ids)
    fetch_chunks(dst, storage, ids)
    assert [dst.get(c) for c in ids] == blobs


def test_second_push_sends_nothing_and_asks_nothing(tmp_path, storage):
    src = new_store(tmp_path / "a")
    ids = fill(src, model_blobs())
    push_chunks(src, storage, ids)
    again = push_chunks(src, storage, ids)
    assert again == {"chunks": 0, "bytes": 0, "requests": 0, "skipped": len(ids), "packs": 0}
    checked = push_chunks(src, storage, ids, verify=True)  # asks the remote, sends nothing
    assert checked["chunks"] == 0 and checked["bytes"] == 0 and checked["requests"] > 0
    assert checked["skipped"] == len(ids)


def test_another_store_skips_what_the_remote_has(tmp_path, storage):
    """A second store (no cache of this remote) finds what is there by asking, sends the rest."""
    blobs = model_blobs()
    a, b = new_store(tmp_path / "a"), new_store(tmp_path / "b")
    push_chunks(a, storage, fill(a, blobs))
    extra = [os.urandom(300), os.urandom(PACKED_MAX + 10)]
    ids = fill(b, blobs + extra)
    sent = push_chunks(b, storage, ids)
    assert sent["chunks"] == 2 and sent["skipped"] == len(blobs)
    assert sent["bytes"] < 2 * (PACKED_MAX + 10) + 4096


def test_verify_resends_what_the_remote_lost(tmp_path, storage_url, storage):
    """The local cache says present; the remote lost an object (restored from an old
    backup): only ``verify`` notices, and sends it again."""
    if not storage_url.startswith("s3://"):
        src = new_store(tmp_path / "a")
        ids = fill(src, model_blobs(large=2, small=3))
        push_chunks(src, storage, ids)
        lost = storage.path(chunk_key(ids[0]))
        os.unlink(lost)
        assert push_chunks(src, storage, ids)["chunks"] == 0
        again = push_chunks(src, storage, ids, verify=True)
        assert again["chunks"] == 1 and os.path.exists(lost)
    else:
        src = new_store(tmp_path / "a")
        ids = fill(src, model_blobs(large=2, small=3))
        push_chunks(src, storage, ids)
        storage.client.delete_object(Bucket=storage.bucket, Key=storage.key(chunk_key(ids[0])))
        assert push_chunks(src, storage, ids)["chunks"] == 0
        assert push_chunks(src, storage, ids, verify=True)["chunks"] == 1
        assert storage.exists(chunk_key(ids[0]))


def test_many_small_files_make_few_requests(tmp_path, s3_bucket):  # noqa: F811
    """Requests scale with bytes, not files: 20,000 small chunks, counted on the wire."""
    storage = open_storage(f"s3://{s3_bucket}/many")
    sent = []
    storage.client.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.method))
    src = new_store(tmp_path / "a")
    ids = fill(src, (i.to_bytes(4, "little") * 64 for i in range(20_000)))
    stats = push_chunks(src, storage, ids, jobs=4)
    assert stats["chunks"] == 20_000
    assert len(sent) <= 50, sent
    assert stats["requests"] == len(sent)
    sent.clear()
    dst = new_store(tmp_path / "b")
    got = fetch_chunks(dst, storage, ids, jobs=4)
    assert got["chunks"] == 20_000 and len(sent) <= 50
    assert dst.get(ids[12345]) == (12345).to_bytes(4, "little") * 64


def test_parallel_transfers_are_bounded_by_jobs(tmp_path, s3_bucket):  # noqa: F811
    storage = open_storage(f"s3://{s3_bucket}/jobs")
    lock, active, peak = threading.Lock(), [0], [0]

    def before(**_):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])

    def after(**_):
        with lock:
            active[0] -= 1

    storage.client.meta.events.register("before-send.s3.PutObject", before)
    storage.client.meta.events.register("after-call.s3.PutObject", after)
    src = new_store(tmp_path / "a")
    ids = fill(src, [os.urandom(PACKED_MAX + 1 + i) for i in range(12)])
    push_chunks(src, storage, ids, jobs=3)
    assert 1 < peak[0] <= 3


def test_fine_tune_sends_only_changed_chunks(tmp_path, storage):
    src = new_store(tmp_path / "a")
    base = [os.urandom(PACKED_MAX + 1000) for _ in range(16)] + [os.urandom(4000) for _ in range(48)]
    push_chunks(src, storage, fill(src, base))
    tuned = list(base)
    for i in (1, 5, 9, 20, 30, 40):  # 6 of 64 tensors changed
        tuned[i] = os.urandom(len(base[i]))
    changed = sum(len(tuned[i]) for i in (1, 5, 9, 20, 30, 40))
    sent = push_chunks(src, storage, fill(src, tuned))
    assert sent["chunks"] == 6
    assert sent["bytes"] <= 1.1 * changed


KILLED_PUSH = textwrap.dedent("""
    import os, sys
    from mvc.remote.storage import open_storage
    from mvc.remote.transfer import push_chunks
    from mvc.store.chunks import DirChunkStore
    store = DirChunkStore(sys.argv[1])
    ids = sys.argv[3].split(",")
    after = int(sys.argv[4])
    class Killer:
        n = 0
        def expect(self, total): pass
        def __call__(self, nbytes):
            Killer.n += 1
            if Killer.n == after:
                os._exit(9)
    push_chunks(store, open_storage(sys.argv[2]), ids, jobs=1, progress=Killer())
""")


def test_push_killed_midway_then_rerun_sends_only_the_rest(tmp_path, storage_url, storage):
    src = new_store(tmp_path / "a")
    ids = fill(src, model_blobs(large=6, small=20))
    proc = subprocess.run([sys.executable, "-c", KILLED_PUSH, src.root, storage_url, ",".join(ids), "3"],
                          env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=120)
    assert proc.returncode == 9
    on_remote = {k for k in storage.list("chunks/")}
    assert 3 <= len(on_remote) < 6  # at least what was confirmed, never everything
    rest = push_chunks(src, storage, ids)
    assert rest["chunks"] == 6 + 20 - len(on_remote)
    assert rest["skipped"] == len(on_remote)
    dst = new_store(tmp_path / "b")
    fetch_chunks(dst, storage, ids)
    assert all(dst.get(c) == src.get(c) for c in ids)


@pytest.mark.parametrize("trials", [pytest.param(3, id="ci"), pytest.param(200, id="full", marks=pytest.mark.slow)])
def test_pushes_killed_at_random_points(tmp_path, storage_url, trials):
    """R14 for the bytes: a push killed after a random number of confirmed objects leaves only
    whole objects on the remote, and a re-run sends exactly what is missing."""
    import random
    rng = random.Random(trials)
    src = new_store(tmp_path / "a")
    ids = fill(src, model_blobs(large=5, small=12))  # 5 chunk objects and one pack
    for trial in range(trials):
        url = f"{storage_url}/t{trial}"
        after = rng.randint(1, 6)
        proc = subprocess.run([sys.executable, "-c", KILLED_PUSH, src.root, url, ",".join(ids), str(after)],
                              env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=120)
        assert proc.returncode in (9, 0)
        storage = open_storage(url)
        loose = len(list(storage.list("chunks/")))
        packed = 12 if any(k.endswith(".idx") for k in storage.list("packs/")) else 0
        assert loose >= min(after, 5) and (after < 6 or packed == 12)  # the `after` objects confirmed are there
        rest = push_chunks(src, storage, ids)
        assert rest["chunks"] == len(ids) - loose - packed and rest["skipped"] == loose + packed
        dst = new_store(tmp_path / f"b{trial}")
        fetch_chunks(dst, storage, ids)  # every object on the remote is whole: each chunk hashes to its id
        assert dst.missing(ids) == []


def flip_one_byte(data: bytes, at: int = 7) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]


@pytest.mark.parametrize("damage", ["flip", "short"])
def test_a_damaged_loose_chunk_is_refused_and_nothing_enters(tmp_path, storage, damage):
    src = new_store(tmp_path / "a")
    blobs = model_blobs(large=3, small=10)
    ids = fill(src, blobs)
    push_chunks(src, storage, ids)
    bad = ids[1]
    good = storage.get(chunk_key(bad))
    raw_write(storage, chunk_key(bad), flip_one_byte(good) if damage == "flip" else good[:-100])
    dst = new_store(tmp_path / "b")
    with pytest.raises(IntegrityError, match=bad) as info:
        fetch_chunks(dst, storage, ids, jobs=2)
    assert info.value.chunk == bad
    assert store_files(dst) == set() and dst.missing(ids) == ids
    assert os.listdir(os.path.join(dst.root, "tmp")) == []


@pytest.mark.parametrize("damage", ["flip", "short"])
def test_a_damaged_pack_is_refused_and_nothing_enters(tmp_path, storage, damage):
    src = new_store(tmp_path / "a")
    ids = fill(src, model_blobs(large=1, small=10))
    push_chunks(src, storage, ids)
    [pack] = [k for k in storage.list("packs/") if k.endswith(".pack")]
    data = storage.get(pack)
    raw_write(storage, pack, flip_one_byte(data, len(data) // 2) if damage == "flip" else data[:-50])
    dst = new_store(tmp_path / "b")
    with pytest.raises(IntegrityError, match="corrupt") as info:
        fetch_chunks(dst, storage, ids)
    assert info.value.chunk in ids[1:]
    assert ("short body" in str(info.value)) == (damage == "short")
    assert store_files(dst) == set()


@pytest.mark.parametrize("index", [b"not json", b'{"chunks":[["' + b"a" * 64 + b'",0,99999999999]],"pack":"PACK","v":1}\n'])
def test_a_hostile_pack_index_is_not_trusted(tmp_path, storage, index):
    src = new_store(tmp_path / "a")
    blobs = [os.urandom(100) for _ in range(10)]
    ids = fill(src, blobs)
    push_chunks(src, storage, ids)
    [idx] = [k for k in storage.list("packs/") if k.endswith(".idx")]
    pack = idx[len("packs/"):-len(".idx")]
    raw_write(storage, idx, index.replace(b"PACK", pack.encode()))
    dst = new_store(tmp_path / "b")
    with pytest.raises(NotFoundError, match="refused") as info:
        fetch_chunks(dst, storage, ids)
    assert info.value.chunk in ids
    assert store_files(dst) == set()
    # a store that never saw the sound index sends the chunks again, in a pack of another name
    other = new_store(tmp_path / "c")
    fill(other, blobs)
    again = push_chunks(other, storage, ids)
    assert again["chunks"] == 10 and again["packs"] == 1
    assert len([k for k in storage.list("packs/") if k.endswith(".idx")]) == 2
    fetch_chunks(dst, storage, ids)
    assert dst.missing(ids) == []


def test_a_chunk_the_remote_lacks_is_not_found(tmp_path, storage):
    dst = new_store(tmp_path / "b")
    cid = "ab" * 32
    with pytest.raises(NotFoundError, match=cid):
        fetch_chunks(dst, storage, [cid])
    with pytest.raises(NotFoundError, match=cid):
        push_chunks(dst, storage, [cid])  # the local store lacks it: nothing to send


@pytest.mark.parametrize("bad", ["../" + "a" * 61, "A" * 64, "ab", 5])
def test_malformed_ids_are_refused(tmp_path, storage, bad):
    with pytest.raises(UsageError):
        push_chunks(new_store(tmp_path / "a"), storage, [bad])
    with pytest.raises(UsageError):
        fetch_chunks(new_store(tmp_path / "a"), storage, [bad])


def test_pushes_never_delete(tmp_path, s3_bucket):  # noqa: F811
    storage = open_storage(f"s3://{s3_bucket}/nodelete")
    methods = []
    storage.client.meta.events.register("before-send.s3", lambda request, **_: methods.append(request.method))
    src = new_store(tmp_path / "a")
    ids = fill(src, model_blobs())
    push_chunks(src, storage, ids)
    push_chunks(src, storage, ids, verify=True)
    fetch_chunks(new_store(tmp_path / "b"), storage, ids)
    assert "DELETE" not in methods and {"PUT", "GET", "HEAD"} <= set(methods)


KILLED_FETCH = textwrap.dedent("""
    import os, sys
    from mvc.remote.storage import open_storage
    from mvc.remote.transfer import fetch_chunks
    from mvc.store.chunks import DirChunkStore
    class Killer:
        n = 0
        def expect(self, total): pass
        def __call__(self, nbytes):
            Killer.n += 1
            if Killer.n == int(sys.argv[4]):
                os._exit(9)
    fetch_chunks(DirChunkStore(sys.argv[1]), open_storage(sys.argv[2]), sys.argv[3].split(","), jobs=1,
                 progress=Killer())
""")


def test_fetch_killed_midway_stores_nothing_then_completes(tmp_path, storage_url, storage):
    src = new_store(tmp_path / "a")
    ids = fill(src, model_blobs(large=5, small=10))
    push_chunks(src, storage, ids)
    dst = new_store(tmp_path / "b")
    proc = subprocess.run([sys.executable, "-c", KILLED_FETCH, dst.root, storage_url, ",".join(ids), "3"],
                          env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=120)
    assert proc.returncode == 9
    assert store_files(dst) == set() and dst.missing(ids) == ids  # nothing published by the killed fetch
    got = fetch_chunks(dst, storage, ids)
    assert got["chunks"] == len(ids) and all(dst.get(c) == src.get(c) for c in ids)
