"""The stat cache: an unchanged file is not read again; any change or doubt re-hashes."""
from __future__ import annotations

import os
import time

import pytest

import mvc
from mvc.store import ingest
from mvc.store.chunks import DirChunkStore
from mvc.store.ingest import ingest_file
from mvc.store.statcache import StatCache


@pytest.fixture
def reads(monkeypatch):
    """Counts the files ingest actually reads."""
    seen = []
    real = ingest._store_file

    def counting(store, path, *args):
        seen.append(path)
        return real(store, path, *args)
    monkeypatch.setattr(ingest, "_store_file", counting)
    return seen


def aged(path, data: bytes, age: float = 10.0) -> str:
    """Write ``data`` with an mtime ``age`` seconds old (older than the racy window)."""
    with open(path, "wb") as f:
        f.write(data)
    t = time.time() - age
    os.utime(path, (t, t))
    return str(path)


@pytest.fixture
def env(tmp_path):
    return DirChunkStore(str(tmp_path / "store")), StatCache(str(tmp_path / "state.db")), tmp_path


def test_unchanged_file_is_not_read_again(env, reads):
    store, cache, tmp = env
    p = aged(tmp / "m.bin", os.urandom(3000))
    first, new = ingest_file(store, p, cache=cache)
    again, new2 = ingest_file(store, p, cache=cache)
    assert again == first and new == 3000 and new2 == 0
    assert reads == [p]


def test_same_size_new_mtime_is_rehashed(env, reads):
    store, cache, tmp = env
    p = aged(tmp / "m.bin", b"a" * 1000, age=20)
    first, _ = ingest_file(store, p, cache=cache)
    aged(p, b"b" * 1000, age=10)
    second, _ = ingest_file(store, p, cache=cache)
    assert second.digest != first.digest and len(reads) == 2


def test_replaced_file_same_size_and_mtime_is_rehashed(env, reads):
    store, cache, tmp = env
    p = aged(tmp / "m.bin", b"a" * 1000)
    first, _ = ingest_file(store, p, cache=cache)
    st = os.stat(p)
    other = aged(tmp / "other", b"b" * 1000)
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, p)  # a new inode with the old size and mtime
    second, _ = ingest_file(store, p, cache=cache)
    assert second.digest != first.digest and len(reads) == 2


def test_racily_clean_file_is_not_trusted(env, reads):
    store, cache, tmp = env
    p = tmp / "fresh.bin"
    p.write_bytes(b"x" * 100)  # mtime is now: a same-tick write could follow unseen
    ingest_file(store, str(p), cache=cache)
    ingest_file(store, str(p), cache=cache)
    assert len(reads) == 2


def test_missing_chunk_means_reading_again(env, reads):
    store, cache, tmp = env
    p = aged(tmp / "m.bin", os.urandom(500))
    ptr, _ = ingest_file(store, p, cache=cache)
    store.delete(ptr.chunks[0][0])
    again, new = ingest_file(store, p, cache=cache)
    assert again == ptr and new == 500 and store.has(ptr.chunks[0][0]) and len(reads) == 2


def test_corrupt_database_degrades_to_rehashing(env, reads):
    store, cache, tmp = env
    p = aged(tmp / "m.bin", os.urandom(500))
    (tmp / "state.db").write_bytes(b"this is not sqlite" * 100)
    ptr, _ = ingest_file(store, p, cache=cache)
    cache.commit()
    again, _ = ingest_file(store, p, cache=StatCache(str(tmp / "state.db")))
    assert again == ptr and len(reads) == 1  # rebuilt, then used


def test_garbage_entry_degrades_to_rehashing(env, reads):
    import sqlite3
    store, cache, tmp = env
    p = aged(tmp / "m.bin", os.urandom(500))
    ptr, _ = ingest_file(store, p, cache=cache)
    cache.close()
    db = sqlite3.connect(str(tmp / "state.db"))
    db.execute("UPDATE files SET pointer=?", (b"{not json",))
    db.commit()
    db.close()
    again, _ = ingest_file(store, p, cache=StatCache(str(tmp / "state.db")))
    assert again == ptr and len(reads) == 2


def test_relog_through_api_reads_nothing(project, reads):
    p = aged(project / "model.bin", os.urandom(40_000))
    with mvc.init() as run:
        a = run.log_model(p, name="M")
        b = run.log_model(p, name="M")
    assert (a.version, b.version) == ("v0", "v0") and reads == [os.path.realpath(p)]
    assert (project / ".mvc" / "state.db").exists()
