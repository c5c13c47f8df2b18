"""Pack files: many small chunks in few files; delete rewrites the pack."""
from __future__ import annotations

import os

import pytest

from mvc.errors import IntegrityError, NotFoundError
from mvc.store.chunks import DirChunkStore
from mvc.store.packs import PACK_MIN_CHUNKS


def loose_files(root) -> int:
    return sum(len(f) for _, _, f in os.walk(os.path.join(root, "chunks")))


@pytest.fixture
def store(tmp_path):
    return DirChunkStore(str(tmp_path / "s"))


def put_many(store, n=40):
    blobs = [os.urandom(100 + i) for i in range(n)]
    with store.batch():
        cids = [store.put(b)[0] for b in blobs]
    return blobs, cids


def test_small_chunks_of_a_batch_go_into_one_pack(store):
    blobs, cids = put_many(store)
    assert loose_files(store.root) == 0
    assert sorted(os.path.splitext(n)[1] for n in os.listdir(store.packs.folder)) == [".idx", ".pack"]
    fresh = DirChunkStore(store.root)  # another process's view
    assert [fresh.get(c) for c in cids] == blobs
    assert set(fresh.ids()) == set(cids) and fresh.stored_size(cids[3]) == len(blobs[3])
    assert not os.listdir(os.path.join(store.root, "tmp"))


def test_few_small_chunks_stay_loose(store):
    with store.batch():
        cids = [store.put(os.urandom(50))[0] for _ in range(PACK_MIN_CHUNKS - 1)]
    assert loose_files(store.root) == len(cids) and all(store.is_loose(c) for c in cids)


def test_delete_rewrites_the_pack(store):
    blobs, cids = put_many(store)
    store.delete(cids[5])
    fresh = DirChunkStore(store.root)
    assert not fresh.has(cids[5]) and cids[5] not in set(fresh.ids())
    with pytest.raises(NotFoundError):
        fresh.get(cids[5])
    assert [fresh.get(c) for i, c in enumerate(cids) if i != 5] == [b for i, b in enumerate(blobs) if i != 5]
    for c in cids:
        store.delete(c)
    assert list(DirChunkStore(store.root).ids()) == [] and os.listdir(store.packs.folder) == []


def test_stale_reader_finds_chunks_after_a_rewrite(store):
    blobs, cids = put_many(store)
    reader = DirChunkStore(store.root)
    assert reader.get(cids[0]) == blobs[0]  # index loaded
    DirChunkStore(store.root).delete(cids[1])  # another process rewrites the pack
    assert reader.get(cids[2]) == blobs[2]


def test_corrupt_packed_chunk_is_detected(store):
    blobs, cids = put_many(store)
    pack = next(n for n in os.listdir(store.packs.folder) if n.endswith(".pack"))
    path = os.path.join(store.packs.folder, pack)
    os.chmod(path, 0o644)
    data = bytearray(open(path, "rb").read())
    data[0] ^= 1
    open(path, "wb").write(bytes(data))
    with pytest.raises(IntegrityError):
        DirChunkStore(store.root).get(cids[0])
    assert DirChunkStore(store.root).get(cids[1]) == blobs[1]


def test_failed_batch_leaves_nothing(store):
    with pytest.raises(RuntimeError):
        with store.batch():
            for _ in range(20):
                store.put(os.urandom(64))
            store.put(os.urandom(300_000))
            raise RuntimeError("boom")
    assert list(store.ids()) == [] and not os.listdir(os.path.join(store.root, "tmp"))


def test_batch_reads_its_own_pending_chunks(store):
    with store.batch():
        small, _ = store.put(b"tiny")
        big_data = os.urandom(200_000)
        big, _ = store.put(big_data)
        assert store.has(small) and store.get(small) == b"tiny" and store.get(big) == big_data
        assert store.put(b"tiny") == (small, False)


def test_delete_many_rewrites_each_pack_once_and_keeps_its_age(store):
    blobs, cids = put_many(store)
    (old,) = [n for n in os.listdir(store.packs.folder) if n.endswith(".pack")]
    aged = os.stat(os.path.join(store.packs.folder, old)).st_mtime_ns - 7200 * 10**9
    os.utime(os.path.join(store.packs.folder, old), ns=(aged, aged))
    store.delete_many(cids[:30])
    packs = [n for n in os.listdir(store.packs.folder) if n.endswith(".pack")]
    assert len(packs) == 1 and packs != [old]                          # one rewrite, not thirty
    assert os.stat(os.path.join(store.packs.folder, packs[0])).st_mtime_ns == aged
    fresh = DirChunkStore(store.root)
    assert set(fresh.ids()) == set(cids[30:]) and [fresh.get(c) for c in cids[30:]] == blobs[30:]
    assert all(store.mtime(c) == os.stat(os.path.join(store.packs.folder, packs[0])).st_mtime for c in cids[30:])


def test_freshen_touches_a_pack_once_per_batch_and_a_loose_chunk_itself(store, monkeypatch):
    _, cids = put_many(store)
    loose, _ = store.put(os.urandom(200_000))
    for path in [os.path.join(store.packs.folder, n) for n in os.listdir(store.packs.folder)] + [store.path(loose)]:
        os.utime(path, (1, 1))
    calls = []
    real = os.utime
    with store.batch():
        monkeypatch.setattr(os, "utime", lambda p, *a, **k: (calls.append(p), real(p, *a, **k)))
        store.freshen(cids[:20])
        store.freshen(cids[20:] + [loose])
        monkeypatch.undo()
    assert len(calls) == 2                                             # the pack once, the loose chunk once
    assert all(store.mtime(c) > 1000 for c in cids + [loose])


class _Checks:
    """Runs the checks copy_out hands over at once (digest.Checks without a thread)."""

    def __init__(self):
        self.ran = 0

    def submit(self, fn, *args):
        self.ran += 1
        fn(*args)


def _copy_out(store, cid, n, tmp_path) -> bytes:
    out = tmp_path / "out.bin"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        store.copy_out(cid, n, fd, _Checks())
    finally:
        os.close(fd)
    return out.read_bytes()


def _flip_in_pack(store, off: int) -> None:
    pack = next(n for n in os.listdir(store.packs.folder) if n.endswith(".pack"))
    path = os.path.join(store.packs.folder, pack)
    os.chmod(path, 0o644)
    data = bytearray(open(path, "rb").read())
    data[off] ^= 1
    open(path, "wb").write(bytes(data))


def test_copy_out_reads_a_packed_chunk_from_its_pack_and_checks_it(store, tmp_path):
    blobs, cids = put_many(store)
    reader = DirChunkStore(store.root)
    assert _copy_out(reader, cids[3], len(blobs[3]), tmp_path) == blobs[3]
    _, off, _ = reader.packs.locate(cids[0])
    _flip_in_pack(store, off)
    with pytest.raises(IntegrityError):  # the only copy is damaged: named, not written out
        _copy_out(DirChunkStore(store.root), cids[0], len(blobs[0]), tmp_path)


def test_copy_out_falls_back_to_a_good_loose_copy_of_a_damaged_packed_chunk(store, tmp_path):
    blobs, cids = put_many(store)
    _, off, _ = DirChunkStore(store.root).packs.locate(cids[0])
    _flip_in_pack(store, off)
    loose = store.path(cids[0])  # the same chunk also loose (as a log of few small chunks leaves it)
    os.makedirs(os.path.dirname(loose), exist_ok=True)
    with open(loose, "wb") as f:
        f.write(blobs[0])
    assert _copy_out(DirChunkStore(store.root), cids[0], len(blobs[0]), tmp_path) == blobs[0]
