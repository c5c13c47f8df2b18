"""STYLE 3: one conformance suite every chunk store passes."""
from __future__ import annotations

import os

import blake3
import pytest

from mvc.errors import IntegrityError, NotFoundError
from mvc.store import DirChunkStore, MemoryChunkStore, chunk_id


@pytest.fixture(params=["memory", "dir"])
def cs(request, tmp_path):
    if request.param == "memory":
        return MemoryChunkStore()
    return DirChunkStore(str(tmp_path / "store"), durable=False)


def _corrupt(cs, cid):
    if isinstance(cs, MemoryChunkStore):
        cs._chunks[cid] = b"X" + cs._chunks[cid][1:]
    else:
        p = cs.path(cid)
        os.chmod(p, 0o644)
        data = open(p, "rb").read()
        open(p, "wb").write(bytes([data[0] ^ 1]) + data[1:])


def test_put_get_has(cs):
    data = os.urandom(1000)
    cid, new = cs.put(data)
    assert new and cid == chunk_id(data) == blake3.blake3(data).hexdigest() and len(cid) == 64
    assert cs.has(cid)
    assert cs.get(cid) == data
    assert cs.stored_size(cid) == 1000


def test_dedup(cs):
    cid1, new1 = cs.put(b"same bytes")
    cid2, new2 = cs.put(b"same bytes")
    assert cid1 == cid2 and new1 and not new2
    assert list(cs.ids()) == [cid1]


def test_ids_and_delete(cs):
    cids = {cs.put(os.urandom(10))[0] for _ in range(5)}
    assert set(cs.ids()) == cids
    victim = sorted(cids)[0]
    cs.delete(victim)
    cs.delete(victim)  # idempotent
    assert not cs.has(victim)
    assert set(cs.ids()) == cids - {victim}
    with pytest.raises(NotFoundError, match=victim):
        cs.get(victim)


def test_empty_chunk(cs):
    cid, _ = cs.put(b"")
    assert cs.get(cid) == b""


def test_corruption_detected(cs):
    cid, _ = cs.put(b"precious model weights")
    _corrupt(cs, cid)
    with pytest.raises(IntegrityError, match=cid):
        cs.get(cid)


def test_quarantine_sets_a_corrupt_chunk_aside_and_put_writes_it_back(cs):
    sound, _ = cs.put(b"other weights")
    cid, _ = cs.put(b"precious model weights")
    assert cs.quarantine(cid) == [] and cs.quarantine(sound) == []   # sound chunks stay
    _corrupt(cs, cid)
    assert len(cs.quarantine(cid)) == 1
    assert not cs.has(cid) and cs.get(sound) == b"other weights"
    assert cs.put(b"precious model weights") == (cid, True)          # written afresh, not trusted
    assert cs.get(cid) == b"precious model weights"


def test_missing_chunk(cs):
    with pytest.raises(NotFoundError):
        cs.get(chunk_id(b"never stored"))


def test_dir_store_layout_and_readonly(tmp_path):
    cs = DirChunkStore(str(tmp_path / "s"))
    cid, _ = cs.put(b"abc")
    p = tmp_path / "s" / "chunks" / cid[:2] / cid[2:]
    assert p.read_bytes() == b"abc"
    assert (p.stat().st_mode & 0o777) == 0o444
    assert os.listdir(tmp_path / "s" / "tmp") == []


def test_dir_store_rejects_malformed_id(tmp_path):
    cs = DirChunkStore(str(tmp_path / "s"))
    with pytest.raises(IntegrityError):
        cs.get("../../etc/passwd")
